/* SPDX-License-Identifier: MIT */
/*
 * Return sites (issue 18): which functions' returns can be caught at their
 * exits, and why not, on the hand-written functions of sites.S, through
 * uprobe_analyze(UPROBE_F_ANALYZE_RET) and uprobe_get_info() of attached
 * return probes; then the patched path itself (src/core/retpatch.c): exact
 * counts, return values, cookies, registers at the return, recursion, the
 * windows kept from other probes, UPROBE_RET_PATH=hijack and site-strict.
 *
 * Usage: test_retsite [substring]  runs only the cases whose name contains it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("retsite");

/* sites.S */
uint64_t rs_ret_pad(uint64_t x);
uint64_t rs_ret_back(uint64_t x);
uint64_t rs_multi(uint64_t x);
uint64_t rs_tail_jcc(uint64_t x);
uint64_t rs_tail_got(uint64_t x);
uint64_t rs_noreturn(uint64_t x);
uint64_t rs_short(uint64_t x);
uint64_t rs_rec(uint64_t x);
uint64_t rs_leaf(uint64_t x);
uint64_t rs_in_entry(uint64_t x);
uint64_t rs_tiny(uint64_t x);
uint64_t rs_tiny_nop(uint64_t x);
uint64_t rs_in_entry2(uint64_t a, uint64_t b, uint64_t c, uint64_t d);

struct site_case {
	const char *fn;
	int ok;
	unsigned sites;
	const char *reason; /* exact when ok, else a substring */
};

static const struct site_case cases[] = {
	{ "rs_ret_pad", 1, 1, "1 return site: 1 ret" },
	{ "rs_ret_back", 1, 1, "1 return site: 1 ret" },
	{ "rs_multi", 1, 3, "3 return sites: 2 ret, 1 tail jump" },
	{ "rs_tail_jcc", 1, 2, "2 return sites: 1 ret, 1 conditional tail jump" },
	{ "rs_tail_got", 1, 1, "1 return site: 1 tail jump through the GOT" },
	{ "rs_noreturn", 1, 1, "1 return site: 1 ret; 1 no-return call" },
	{ "rs_tail_fde", 1, 1, "1 return site: 1 tail jump" },
	{ "rs_tail_cold", 0, 0, " (no symbol; entered mid-frame or branching back into this one: "
				"a cold part), a part of a function elsewhere" },
	{ "rs_jump_table", 0, 0, "jump table: 'jmp rax' at +0xe, its table's address taken at +0x0" },
	{ "rs_indirect", 0, 0, "indirect jump 'jmp rsi' at +0x5 may stay inside the function" },
	{ "rs_indexed", 0, 0, "jump table: 'jmp [rsi+rdi*8]' at +0x5 (indexed)" },
	{ "rs_short", 0, 0, "the ret at +0xa has 1 of the 5 bytes a jump needs (no padding, "
			    "no plain code before it)" },
	{ "rs_falls", 0, 0, "at +0x5, its last instruction, falls through" },
	{ "rs_jump_mid", 0, 0, "where no function starts: inside rs_leaf+0x4" },
	{ "rs_hot", 0, 0, "jumps to rs_hot.cold, a part of a function elsewhere" },
	{ "rs_to_entry", 0, 0, "the branch at +0x6 goes back to the entry" },
	{ "rs_tiny", 0, 0, "the ret at +0x2 lies under the entry's jump, and the entry is not "
			   "jump-optimized (the function ends 3 bytes after the probe" },
	{ "rs_tiny_nop", 1, 1, "1 return site: 1 ret (1 under the entry's jump)" },
	{ "rs_in_entry", 1, 1, "1 return site: 1 ret (1 under the entry's jump)" },
	{ "rs_in_entry2", 1, 2, "2 return sites: 2 ret (1 under the entry's jump)" },
	{ "rs_mid_insn", 0, 0, "a branch lands at +0x9, inside an instruction" },
	{ "rs_foreign", 0, 0, "outside the function, lands at +0x9, inside the window of the "
			      "ret at +0x9" },
	{ "rs_lret", 0, 0, "'ret far' at +0xa: a control transfer this analysis does not follow" },
	{ "rs_past_end", 0, 0, "the instruction at +0x5 runs past the extent's end (+0xb)" },
};

static void check_case(const struct site_case *c)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	int err = uprobe_analyze(NULL, c->fn, UPROBE_F_ANALYZE_RET, &info);

	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(info.ret_path, c->ok ? UPROBE_RET_SITE : UPROBE_RET_HIJACK);
	CHECK_EQ_INT(info.ret_site_ok, c->ok);
	CHECK_EQ_INT(info.ret_sites, c->sites);
	if (c->ok)
		CHECK_STR(info.ret_reason, c->reason);
	else
		CHECK_CONTAINS(info.ret_reason, c->reason);
}

/* Without UPROBE_F_ANALYZE_RET, or off an entry, nothing is said of returns. */
static void case_not_asked(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	CHECK_EQ_INT(uprobe_analyze(NULL, "rs_multi", 0, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_NONE);
	CHECK_STR(info.ret_reason, "");
	CHECK_EQ_INT(uprobe_analyze(NULL, "rs_multi+3", UPROBE_F_ANALYZE_RET, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_NONE);
	CHECK_STR(uprobe_ret_path_name(UPROBE_RET_NONE), "none");
	CHECK_STR(uprobe_ret_path_name(UPROBE_RET_HIJACK), "hijack");
	CHECK_STR(uprobe_ret_path_name(UPROBE_RET_SITE), "site");
}

static unsigned long rets;
static uint64_t last_ret;

static void on_return(struct uprobe *probe, struct uprobe_regs *regs,
		      const struct uprobe_ret *ret, void *ctx)
{
	(void)probe;
	(void)ret;
	(void)ctx;
	rets++;
	last_ret = regs->rax;
}

/* make check-forced: a return probe that needs the hijack is refused, naming why. */
static void short_refused(struct uprobe *p, const char *why)
{
	CHECK(!p);
	if (p)
		return;
	CHECK_EQ_INT(errno, ENOTSUP);
	CHECK_CONTAINS(uprobe_last_error(), "its exits cannot be patched "
			"(UPROBE_RET_PATH=site-strict): ");
	CHECK_CONTAINS(uprobe_last_error(), why);
}

/*
 * Attached return probes say their path and its reason; every return of
 * the function (each exit of rs_multi) is reported, with its value.
 */
static void case_attached(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .ret_handler = on_return };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach(NULL, "rs_multi", &o);
	struct uprobe *q = uprobe_attach(NULL, "rs_short", &o);
	struct uprobe_opts e = { .sz = sizeof(e) };
	int forced = forced_ret_path();
	struct uprobe *r;

	/* rs_short needs the hijack: with it forced off, refused saying why. */
	if (forced)
		short_refused(q, "the ret at +0xa has 1 of the 5 bytes");
	r = uprobe_attach(NULL, "rs_ret_pad", &e);
	CHECK(p && (q || forced) && r);
	if (!p || (!q && !forced) || !r)
		goto out;
	rets = 0;
	CHECK_EQ_U64(rs_multi(10), 11);
	CHECK_EQ_U64(last_ret, 11);
	CHECK_EQ_U64(rs_multi(20), 21);
	CHECK_EQ_U64(rs_multi(5), 6); /* through the tail jump to rs_leaf */
	CHECK_EQ_U64(last_ret, 6);
	CHECK_EQ_U64(rs_short(0), 0);
	CHECK_EQ_U64(rets, forced ? 3 : 4);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_SITE);
	CHECK_EQ_INT(info.ret_site_ok, 1);
	CHECK_EQ_INT(info.ret_sites, 3);
	CHECK_STR(info.ret_reason, "3 return sites: 2 ret, 1 tail jump");
	CHECK_EQ_U64(info.ret_hits, 3);
	if (q) {
		CHECK_EQ_INT(uprobe_get_info(q, &info), 0);
		CHECK_EQ_INT(info.ret_path, UPROBE_RET_HIJACK);
		CHECK_EQ_INT(info.ret_site_ok, 0);
		CHECK_CONTAINS(info.ret_reason, "the ret at +0xa has 1 of the 5 bytes");
	}
	CHECK_EQ_INT(uprobe_get_info(r, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_NONE); /* no return handler */
out:
	uprobe_free(p);
	uprobe_free(q);
	uprobe_free(r);
}

/* ---- the patched path ------------------------------------------------------------ */

struct pair_state {
	uint64_t fn;		/* the function's address */
	unsigned long entries, returns, bad;
	uint64_t add_rax;	/* added to rax by the return handler */
	char first_bad[160];
};

static struct pair_state ps;

static void pair_bad(const char *what, uint64_t got, uint64_t want)
{
	if (!ps.bad++)
		snprintf(ps.first_bad, sizeof(ps.first_bad), "%s: 0x%lx, want 0x%lx", what,
			 (unsigned long)got, (unsigned long)want);
}

/* Entry: the cookie is the argument; the return handler finds it again. */
static void pair_entry(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	uint64_t *cookie = uprobe_cookie();

	(void)probe;
	(void)ctx;
	ps.entries++;
	if (!cookie)
		pair_bad("no cookie at entry", 0, 1);
	else
		*cookie = regs->rdi ^ 0x5a5a0000;
}

/*
 * At the return: rip the call site (the return address at entry), rsp just
 * above it, the cookie of this call, rax its value (every function here
 * returns its argument + 1, rs_rec too).
 */
static void pair_ret(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		     void *ctx)
{
	uint64_t arg = ret->cookie ^ 0x5a5a0000;

	(void)probe;
	(void)ctx;
	ps.returns++;
	if (ret->flags)
		pair_bad("flags", ret->flags, 0);
	if (ret->func != ps.fn)
		pair_bad("func", ret->func, ps.fn);
	if (regs->rip != ret->ret_addr)
		pair_bad("rip", regs->rip, ret->ret_addr);
	if (regs->rsp != ret->entry_sp + 8)
		pair_bad("rsp", regs->rsp, ret->entry_sp + 8);
	if (regs->rax != arg + 1)
		pair_bad("rax", regs->rax, arg + 1);
	regs->rax += ps.add_rax;
}

static struct uprobe *pair_attach(const char *fn, void *addr, enum uprobe_ret_path want)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = pair_entry, .ret_handler = pair_ret };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach(NULL, fn, &o);

	memset(&ps, 0, sizeof(ps));
	ps.fn = (uint64_t)addr;
	if (!p) {
		TL_FAIL("attach %s: %s", fn, uprobe_last_error());
		return NULL;
	}
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	if (info.ret_path != want)
		TL_FAIL("%s: ret_path %s, want %s (%s)", fn, uprobe_ret_path_name(info.ret_path),
			uprobe_ret_path_name(want), info.ret_reason);
	return p;
}

static void pair_check(struct uprobe *p, unsigned long calls)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	CHECK_EQ_U64(ps.entries, calls);
	CHECK_EQ_U64(ps.returns, calls);
	if (ps.bad)
		TL_FAIL("%lu bad returns, the first: %s", ps.bad, ps.first_bad);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_U64(info.hits, calls);
	CHECK_EQ_U64(info.ret_hits, calls);
	CHECK_EQ_U64(info.ret_unwound, 0);
	CHECK_EQ_U64(info.ret_missed, 0);
}

/* Each eligible function of sites.S, each of its exits, on the patched path. */
static void run_fn(const char *name, uint64_t (*fn)(uint64_t), const uint64_t *args, size_t n,
		   enum uprobe_ret_path want)
{
	struct uprobe *p = pair_attach(name, (void *)fn, want);
	unsigned long calls = 0;

	if (!p)
		return;
	for (unsigned round = 0; round < 100; round++) {
		for (size_t i = 0; i < n; i++, calls++) {
			ps.add_rax = round == 99 ? 1000 : 0;
			/* rax changed by the return handler reaches the caller. */
			CHECK_EQ_U64(fn(args[i]), args[i] + 1 + ps.add_rax);
		}
	}
	pair_check(p, calls);
	uprobe_free(p);
	for (size_t i = 0; i < n; i++) /* unprobed again: the original code */
		CHECK_EQ_U64(fn(args[i]), args[i] + 1);
}

static const uint64_t args_one[] = { 7 };
static const uint64_t args_multi[] = { 10, 20, 5 };	/* ret, ret, tail jump */
static const uint64_t args_jcc[] = { 0, 3 };		/* ret, conditional tail jump */

static void case_patched_exits(void)
{
	struct uprobe_stats s0 = { .sz = sizeof(s0) }, s1 = { .sz = sizeof(s1) };

	CHECK_EQ_INT(uprobe_get_stats(&s0), 0);
	run_fn("rs_ret_pad", rs_ret_pad, args_one, 1, UPROBE_RET_SITE);
	run_fn("rs_ret_back", rs_ret_back, args_one, 1, UPROBE_RET_SITE);
	run_fn("rs_multi", rs_multi, args_multi, 3, UPROBE_RET_SITE);
	run_fn("rs_tail_jcc", rs_tail_jcc, args_jcc, 2, UPROBE_RET_SITE);
	run_fn("rs_tail_got", rs_tail_got, args_one, 1, UPROBE_RET_SITE);
	run_fn("rs_noreturn", rs_noreturn, args_one, 1, UPROBE_RET_SITE);
	if (forced_ret_path()) {
		struct uprobe_opts o = { .sz = sizeof(o), .handler = pair_entry,
					 .ret_handler = pair_ret };

		short_refused(uprobe_attach(NULL, "rs_short", &o),
			      "the ret at +0xa has 1 of the 5 bytes");
		CHECK_EQ_U64(rs_short(7), 8);
	} else {
		run_fn("rs_short", rs_short, args_one, 1, UPROBE_RET_HIJACK);
	}
	CHECK_EQ_INT(uprobe_get_stats(&s1), 0);
	CHECK_EQ_U64(s1.ret_site_probes, s0.ret_site_probes); /* all detached again */
	CHECK_EQ_U64(s1.ret_hijack_fallbacks, s0.ret_hijack_fallbacks);
}

/*
 * Rets under the entry's jump, patched in the entry trampoline's copy of its
 * window: the site path in every mode, each return paired with its call;
 * rs_tiny's entry takes no jump, so its ret is the hijack's (refused forced).
 */
static void case_patched_in_entry(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = pair_entry, .ret_handler = pair_ret };
	struct uprobe_info info = { .sz = sizeof(info) };
	unsigned long calls = 0;
	struct uprobe *p;

	run_fn("rs_in_entry", rs_in_entry, args_one, 1, UPROBE_RET_SITE);
	/* 4 bytes: the entry's jump takes the padding's first nop too */
	CHECK_EQ_INT(uprobe_analyze(NULL, "rs_tiny_nop", 0, &info), 0);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK(info.window_len > 5);
	run_fn("rs_tiny_nop", rs_tiny_nop, args_one, 1, UPROBE_RET_SITE);
	/* Its padding's second nop is the next function's first instruction. */
	CHECK_EQ_INT(uprobe_analyze(NULL, "rs_pad_shared", 0, &info), 0);
	CHECK(info.mode != UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(info.opt_reason, "the window would take the padding after the function up "
		       "to 0x");
	CHECK_CONTAINS(info.opt_reason, ", where rs_nop_start starts");
	p = pair_attach("rs_in_entry2", (void *)rs_in_entry2, UPROBE_RET_SITE);
	if (!p)
		return;
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_STR(info.ret_reason, "2 return sites: 2 ret (1 under the entry's jump)");
	for (uint64_t a = 0; a < 100; a++, calls++) {
		/* a odd: by the ret under the jump, which returns b = a + 1 as pair_ret wants */
		ps.add_rax = a >= 98 ? 1000 : 0;
		CHECK_EQ_U64(rs_in_entry2(a, a + 1, 0, a & 1), a + 1 + ps.add_rax);
	}
	pair_check(p, calls);
	uprobe_free(p);
	CHECK_EQ_U64(rs_in_entry2(5, 9, 0, 1), 9);
	CHECK_EQ_U64(rs_in_entry2(5, 9, 0, 0), 6);
	if (forced_ret_path()) {
		p = uprobe_attach(NULL, "rs_tiny", &o);
		CHECK(!p);
		CHECK_EQ_INT(errno, ENOTSUP);
		uprobe_free(p);
	} else {
		o.handler = NULL;
		o.ret_handler = on_return;
		p = uprobe_attach(NULL, "rs_tiny", &o);
		CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
		CHECK_EQ_INT(info.ret_path, UPROBE_RET_HIJACK);
		CHECK_CONTAINS(info.ret_reason, "; hijack: the ret at +0x2 lies under the entry's "
			       "jump, and the entry is not jump-optimized (the function ends 3 "
			       "bytes");
		CHECK_EQ_INT(uprobe_analyze(NULL, "rs_tiny", 0, &info), 0);
		CHECK_STR(info.opt_reason, "the function ends 3 bytes after the probe, before the "
			  "5-byte jump would, and its padding is not nops");
		rets = 0;
		last_ret = 1;
		CHECK_EQ_U64(rs_tiny(4), 0);
		CHECK_EQ_U64(rets, 1);
		CHECK_EQ_U64(last_ret, 0);
		uprobe_free(p);
	}
}

/*
 * The ret under the entry's jump patched in and out of the trampoline while 4
 * threads call rs_in_entry2 by both rets: every call returns its value, and
 * every followed entry is a return reported or orphaned by a detach.
 */
#define CHURN_THREADS 4
static atomic_int churn_stop;
static atomic_ulong churn_entries, churn_returns, churn_bad;

static void churn_entry(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	(void)probe;
	(void)regs;
	(void)ctx;
	atomic_fetch_add(&churn_entries, 1);
}

static void churn_ret(struct uprobe *probe, struct uprobe_regs *regs,
		      const struct uprobe_ret *ret, void *ctx)
{
	(void)probe;
	(void)ctx;
	if (ret->func != (uint64_t)rs_in_entry2 || regs->rip != ret->ret_addr)
		atomic_fetch_add(&churn_bad, 1);
	atomic_fetch_add(&churn_returns, 1);
}

static void *churn_caller(void *arg)
{
	unsigned long bad = 0;

	(void)arg;
	for (uint64_t i = 0; !atomic_load_explicit(&churn_stop, memory_order_relaxed); i++)
		bad += rs_in_entry2(i, i + 1, 0, i & 1) != i + 1;
	return (void *)bad;
}

static void case_patched_in_entry_churn(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = churn_entry,
				 .ret_handler = churn_ret };
	struct uprobe_stats s0 = { .sz = sizeof(s0) }, s1 = { .sz = sizeof(s1) };
	pthread_t th[CHURN_THREADS];
	unsigned long bad = 0, attached = 0;

	CHECK_EQ_INT(uprobe_get_stats(&s0), 0);
	atomic_store(&churn_stop, 0);
	for (int i = 0; i < CHURN_THREADS; i++)
		CHECK_EQ_INT(pthread_create(&th[i], NULL, churn_caller, NULL), 0);
	for (int round = 0; round < 200; round++) {
		struct uprobe *p = uprobe_attach(NULL, "rs_in_entry2", &o);
		struct uprobe_info info = { .sz = sizeof(info) };

		if (!p) {
			TL_FAIL("attach, round %d: %s", round, uprobe_last_error());
			break;
		}
		attached += !uprobe_get_info(p, &info) && info.ret_path == UPROBE_RET_SITE;
		for (volatile int spin = 0; spin < 20000; spin++)
			;
		uprobe_free(p);
	}
	atomic_store(&churn_stop, 1);
	for (int i = 0; i < CHURN_THREADS; i++) {
		void *r;

		pthread_join(th[i], &r);
		bad += (unsigned long)r;
	}
	CHECK_EQ_INT(uprobe_get_stats(&s1), 0);
	printf("# %lu entries, %lu returns, %lu orphaned\n", atomic_load(&churn_entries),
	       atomic_load(&churn_returns), (unsigned long)(s1.ret_orphaned - s0.ret_orphaned));
	CHECK_EQ_U64(attached, 200);
	CHECK_EQ_U64(bad, 0);
	CHECK_EQ_U64(atomic_load(&churn_bad), 0);
	CHECK(atomic_load(&churn_entries) > 0);
	CHECK_EQ_U64(atomic_load(&churn_entries),
		     atomic_load(&churn_returns) + (s1.ret_orphaned - s0.ret_orphaned));
	CHECK_EQ_U64(s1.ret_missed - s0.ret_missed, 0);
	CHECK_EQ_U64(s1.ret_unwound - s0.ret_unwound, 0);
}

/* The tail callee probed too (rs_leaf, on the site path): callee first, then the caller. */
static unsigned long leaf_returns;

static void leaf_ret(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		     void *ctx)
{
	(void)probe;
	(void)regs;
	(void)ret;
	(void)ctx;
	if (ps.returns)
		pair_bad("the caller's return before its tail callee's", ps.returns, 0);
	leaf_returns++;
}

static void case_patched_tail_probed(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .ret_handler = leaf_ret };
	struct uprobe *leaf = uprobe_attach(NULL, "rs_leaf", &o);
	struct uprobe_info info = { .sz = sizeof(info) };
	int forced = forced_entry_path();
	struct uprobe *p;

	/*
	 * rs_jump_mid jumps to rs_leaf+4, inside the entry's jump: only a
	 * breakpoint takes that entry. make check-forced: refused, saying so; the
	 * caller alone is followed through its tail jump.
	 */
	if (forced) {
		CHECK(!leaf);
		CHECK_EQ_INT(errno, ENOTSUP);
		CHECK_CONTAINS(uprobe_last_error(), "rs_leaf: 0x");
		CHECK_CONTAINS(uprobe_last_error(), ": function entry not jump-optimized (the jump "
			       "at 0x");
		CHECK_CONTAINS(uprobe_last_error(), " targets byte 4 of the window) and "
			       "UPROBE_ENTRY_PATH=lean-strict");
	}
	p = pair_attach("rs_multi", (void *)rs_multi, UPROBE_RET_SITE);
	CHECK((leaf || forced) && p);
	if ((!leaf && !forced) || !p)
		goto out;
	if (leaf) {
		CHECK_EQ_INT(uprobe_get_info(leaf, &info), 0);
		CHECK_EQ_INT(info.ret_path, UPROBE_RET_SITE);
	}
	leaf_returns = 0;
	CHECK_EQ_U64(rs_multi(5), 6);
	CHECK_EQ_U64(leaf_returns, leaf ? 1 : 0);
	pair_check(p, 1);
out:
	uprobe_free(p);
	uprobe_free(leaf);
}

/* Recursion: each return pairs with its own entry (cookie, entry sp). */
static void case_patched_recursion(void)
{
	struct uprobe *p = pair_attach("rs_rec", (void *)rs_rec, UPROBE_RET_SITE);
	unsigned long calls = 0;

	if (!p)
		return;
	for (uint64_t n = 0; n < 200; n += 7) {
		CHECK_EQ_U64(rs_rec(n), n + 1);
		calls += n + 1;
	}
	pair_check(p, calls);
	uprobe_free(p);
}

/* No other probe inside a patched exit's window while it is there; it may go in after. */
static void case_patched_window_kept(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .ret_handler = on_return };
	struct uprobe_opts e = { .sz = sizeof(e) };
	struct uprobe *p = uprobe_attach(NULL, "rs_ret_back", &o), *q;

	CHECK(p);
	if (!p)
		return;
	/* Its window: add $1,%rax at +5 and the ret at +9 (no padding after it). */
	q = uprobe_attach(NULL, "rs_ret_back+5", &e);
	CHECK(!q);
	CHECK_EQ_INT(errno, EBUSY);
	CHECK_CONTAINS(uprobe_last_error(), "patched return site");
	uprobe_free(q);
	q = uprobe_attach(NULL, "rs_ret_back+9", &e);
	CHECK(!q);
	CHECK_EQ_INT(errno, EBUSY);
	uprobe_free(q);
	uprobe_free(p);
	q = uprobe_attach(NULL, "rs_ret_back+9", &e);
	CHECK(q);
	CHECK_EQ_U64(rs_ret_back(4), 5);
	uprobe_free(q);
}

/* UPROBE_RET_PATH: hijack takes the fallback everywhere; site-strict refuses it. */
static void case_patched_env(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .ret_handler = on_return };
	struct uprobe_stats s0 = { .sz = sizeof(s0) }, s1 = { .sz = sizeof(s1) };
	struct uprobe *p, *q;

	setenv("UPROBE_RET_PATH", "hijack", 1);
	run_fn("rs_multi", rs_multi, args_multi, 3, UPROBE_RET_HIJACK);
	run_fn("rs_tail_jcc", rs_tail_jcc, args_jcc, 2, UPROBE_RET_HIJACK);
	setenv("UPROBE_RET_PATH", "site-strict", 1);
	run_fn("rs_ret_pad", rs_ret_pad, args_one, 1, UPROBE_RET_SITE);
	p = uprobe_attach(NULL, "rs_short", &o);
	CHECK(!p);
	CHECK_EQ_INT(errno, ENOTSUP);
	CHECK_CONTAINS(uprobe_last_error(), "UPROBE_RET_PATH=site-strict");
	CHECK_CONTAINS(uprobe_last_error(), "the ret at +0xa has 1 of the 5 bytes");
	uprobe_free(p);
	unsetenv("UPROBE_RET_PATH");
	CHECK_EQ_INT(uprobe_get_stats(&s0), 0);
	p = uprobe_attach(NULL, "rs_short", &o);
	q = uprobe_attach(NULL, "rs_multi", &o);
	CHECK(p && q);
	CHECK_EQ_INT(uprobe_get_stats(&s1), 0);
	CHECK_EQ_U64(s1.ret_site_probes - s0.ret_site_probes, 1);
	CHECK_EQ_U64(s1.ret_hijack_fallbacks - s0.ret_hijack_fallbacks, 1);
	uprobe_free(p);
	uprobe_free(q);
}

/*
 * The state at a return site, for both exit templates (EXIT reads rflags for
 * the handler, EXIT_NOFLAGS does not: every return handler of the function
 * has UPROBE_F_HANDLER_NO_FLAGS). rs_state_fn loads every general register
 * and rflags from a table and returns: the handler must see exactly those
 * (rflags as pushfq shows them unprobed, or 0x202 without reading them), and
 * the caller must find every general register and rsp after the return as
 * unprobed, with the handler's writes to r12 and rcx when it makes them.
 * rflags after the ret are not compared: dead by the ABI, neither template
 * restores them (tramp_templates.S).
 */
void rs_state_call(const struct uprobe_regs *in, struct uprobe_regs *out);

static const char *const gpr_names[15] = { "r15", "r14", "r13", "r12", "rbp", "rbx", "r11", "r10",
					   "r9",  "r8",  "rax", "rcx", "rdx", "rsi", "rdi" };

struct state_want {
	uint64_t rflags;	/* what the handler sees; 0: not compared */
	int write;		/* the handler flips bits of r12 and rcx */
	unsigned long returns, bad;
	char first_bad[160];
};

static struct uprobe_regs state_in;

static void state_bad(struct state_want *w, const char *what, uint64_t got, uint64_t want)
{
	if (!w->bad++)
		snprintf(w->first_bad, sizeof(w->first_bad), "%s: 0x%lx, want 0x%lx", what,
			 (unsigned long)got, (unsigned long)want);
}

static void state_ret(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		      void *ctx)
{
	struct state_want *w = ctx;
	const uint64_t *got = (const uint64_t *)regs, *want = (const uint64_t *)&state_in;

	(void)probe;
	w->returns++;
	for (int i = 0; i < 15; i++)
		if (got[i] != want[i])
			state_bad(w, gpr_names[i], got[i], want[i]);
	if (w->rflags && regs->rflags != w->rflags)
		state_bad(w, "rflags", regs->rflags, w->rflags);
	if (regs->rip != ret->ret_addr)
		state_bad(w, "rip", regs->rip, ret->ret_addr);
	if (regs->rsp != ret->entry_sp + 8)
		state_bad(w, "rsp", regs->rsp, ret->entry_sp + 8);
	if (w->write) {
		regs->r12 ^= 0x1000;
		regs->rcx ^= 0x2000;
	}
}

static struct uprobe *state_attach(struct state_want *w, unsigned flags, enum uprobe_ret_path want,
				   const char *reason)
{
	struct uprobe_opts o = { .sz = sizeof(o), .ret_handler = state_ret, .ctx = w,
				 .flags = flags };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach(NULL, "rs_state_fn", &o);

	if (!p) {
		TL_FAIL("attach rs_state_fn (flags %#x): %s", flags, uprobe_last_error());
		return NULL;
	}
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	if (info.ret_path != want)
		TL_FAIL("rs_state_fn (flags %#x): ret_path %s, want %s (%s)", flags,
			uprobe_ret_path_name(info.ret_path), uprobe_ret_path_name(want),
			info.ret_reason);
	if (reason)
		CHECK_CONTAINS(info.ret_reason, reason);
	return p;
}

/*
 * calls calls of rs_state_fn, the last 10 with the handlers of ws writing: all
 * exact, rsp after each return as before the call.
 */
static void state_run(struct state_want **ws, int nw, unsigned calls)
{
	struct uprobe_regs out;
	const uint64_t *got = (const uint64_t *)&out, *want = (const uint64_t *)&state_in;

	for (unsigned n = 0; n < calls; n++) {
		int write = n >= calls - 10;

		for (int k = 0; k < nw; k++)
			ws[k]->write = write;
		rs_state_call(&state_in, &out);
		for (int i = 0; i < 15; i++) {
			uint64_t w = want[i];

			for (int k = 0; write && k < nw; k++)
				w ^= i == 3 ? 0x1000 : i == 11 ? 0x2000 : 0; /* r12, rcx */
			if (got[i] != w) {
				TL_FAIL("call %u: %s after the return 0x%lx, want 0x%lx", n,
					gpr_names[i], (unsigned long)got[i], (unsigned long)w);
				break;
			}
		}
		CHECK_EQ_U64(out.rsp, out.rip);
	}
	for (int k = 0; k < nw; k++) {
		CHECK_EQ_U64(ws[k]->returns, calls);
		if (ws[k]->bad)
			TL_FAIL("%lu bad returns, the first: %s", ws[k]->bad, ws[k]->first_bad);
		ws[k]->returns = ws[k]->bad = 0;
		ws[k]->first_bad[0] = 0;
	}
}

static void case_patched_state(void)
{
	const char *env = getenv("UPROBE_RET_PATH");
	int hijack = env && !strcmp(env, "hijack");
	enum uprobe_ret_path site = hijack ? UPROBE_RET_HIJACK : UPROBE_RET_SITE;
	struct state_want nofl = { 0 }, fl = { 0 }, *ws[2];
	struct uprobe_opts o = { .sz = sizeof(o), .ret_handler = state_ret };
	struct uprobe_regs out;
	struct uprobe *p, *q;
	uint64_t flags_unprobed;

	for (int i = 0; i < 15; i++) /* distinct, the top and low bytes set */
		((uint64_t *)&state_in)[i] =
			0x0101010101010101ull * (uint64_t)(i + 1) ^ 0x8000000000000080ull;
	state_in.rflags = 0xad7; /* CF PF AF ZF SF OF, IF and bit 1 */
	rs_state_call(&state_in, &out);
	flags_unprobed = out.rflags;
	if (memcmp(&out, &state_in, 15 * 8) || (flags_unprobed & 0xfff) != 0xad7 ||
	    out.rsp != out.rip)
		TL_FAIL("unprobed: the state at the return is not the table's (test premise)");
	/* First, the exits built for handlers that do not read rflags: they see 0x202. */
	nofl.rflags = hijack ? 0 : 0x202;
	p = state_attach(&nofl, UPROBE_F_HANDLER_NO_FLAGS, site, NULL);
	ws[0] = &nofl;
	state_run(ws, 1, 50);
	/* One that reads them cannot join while it is there (the entry's flags differ). */
	o.ctx = &fl;
	q = uprobe_attach(NULL, "rs_state_fn", &o);
	CHECK(!q);
	CHECK_EQ_INT(errno, EEXIST);
	CHECK_CONTAINS(uprobe_last_error(), "already probed with other execution flags");
	uprobe_free(p);
	/* Out of the text, the exits are rebuilt for it: the site path, the flags as unprobed. */
	fl.rflags = flags_unprobed;
	p = state_attach(&fl, 0, site, NULL);
	ws[0] = &fl;
	state_run(ws, 1, 50);
	uprobe_free(p);
	/* A later handler that does not read them takes those exits as they are. */
	nofl.rflags = 0;
	q = state_attach(&nofl, UPROBE_F_HANDLER_NO_FLAGS, site, NULL);
	ws[0] = &nofl;
	state_run(ws, 1, 50);
	uprobe_free(q);
	rs_state_call(&state_in, &out); /* unprobed again */
	CHECK(!memcmp(&out, &state_in, 15 * 8));
}

/* Every function of the C library is analysed without a crash; most are eligible. */
static int libc_fn(const struct uprobe_sym *sym, void *ctx)
{
	unsigned *n = ctx;
	struct uprobe_info info = { .sz = sizeof(info) };

	if (sym->flags & (UPROBE_SYM_PLT | UPROBE_SYM_IFUNC))
		return 0;
	if (uprobe_analyze("/lib/x86_64-linux-gnu/libc.so.6", sym->location,
			   UPROBE_F_ANALYZE_RET, &info))
		return 0;
	n[0]++;
	n[1] += info.ret_site_ok;
	if (!info.ret_reason[0])
		n[2]++;
	return 0;
}

static void case_libc(void)
{
	unsigned n[3] = { 0 };

	uprobe_batch_begin();
	CHECK(uprobe_symbols("/lib/x86_64-linux-gnu/libc.so.6", "str*", libc_fn, n) > 0);
	uprobe_batch_end();
	CHECK(n[0] > 20);
	CHECK(n[1] * 2 > n[0]);
	CHECK_EQ_INT(n[2], 0); /* each verdict says why */
}

int main(int argc, char **argv)
{
	const char *only = argc > 1 ? argv[1] : NULL;
	char name[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		snprintf(name, sizeof(name), "analyze_%s", cases[i].fn + 3);
		if (only && !strstr(name, only))
			continue;
		tl_begin();
		check_case(&cases[i]);
		tl_end(name);
	}
	if (!only || strstr("not_asked", only)) {
		tl_begin();
		case_not_asked();
		tl_end("not_asked");
	}
	if (!only || strstr("attached", only)) {
		tl_begin();
		case_attached();
		tl_end("attached");
	}
	static const struct {
		const char *name;
		void (*fn)(void);
	} patched[] = {
		{ "patched_exits", case_patched_exits },
		{ "patched_in_entry", case_patched_in_entry },
		{ "patched_in_entry_churn", case_patched_in_entry_churn },
		{ "patched_tail_probed", case_patched_tail_probed },
		{ "patched_recursion", case_patched_recursion },
		{ "patched_window_kept", case_patched_window_kept },
		{ "patched_env", case_patched_env },
		{ "patched_state", case_patched_state },
	};
	for (size_t i = 0; i < sizeof(patched) / sizeof(patched[0]); i++) {
		if (only && !strstr(patched[i].name, only))
			continue;
		tl_begin();
		patched[i].fn();
		tl_end(patched[i].name);
	}
	if (!only || strstr("libc", only)) {
		tl_begin();
		case_libc();
		tl_end("libc");
	}
	return tl_total_failed ? 1 : 0;
}
