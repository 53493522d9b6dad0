/* SPDX-License-Identifier: MIT */
/*
 * Return sites (issue 18): which functions' returns can be caught at their
 * exits, and why not, on the hand-written functions of sites.S, through
 * uprobe_analyze(UPROBE_F_ANALYZE_RET) and uprobe_get_info() of attached
 * return probes (which still take the hijack path: return sites are not
 * patched yet).
 *
 * Usage: test_retsite [substring]  runs only the cases whose name contains it.
 */
#include <errno.h>
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
	{ "rs_tiny", 0, 0, "the ret at +0x2: its window overlaps the entry's jump" },
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
	struct uprobe *r = uprobe_attach(NULL, "rs_ret_pad", &e);

	CHECK(p && q && r);
	if (!p || !q || !r)
		goto out;
	rets = 0;
	CHECK_EQ_U64(rs_multi(10), 11);
	CHECK_EQ_U64(last_ret, 11);
	CHECK_EQ_U64(rs_multi(20), 21);
	CHECK_EQ_U64(rs_multi(5), 6); /* through the tail jump to rs_leaf */
	CHECK_EQ_U64(last_ret, 6);
	CHECK_EQ_U64(rs_short(0), 0);
	CHECK_EQ_U64(rets, 4);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_SITE);
	CHECK_EQ_INT(info.ret_site_ok, 1);
	CHECK_EQ_INT(info.ret_sites, 3);
	CHECK_STR(info.ret_reason, "3 return sites: 2 ret, 1 tail jump");
	CHECK_EQ_U64(info.ret_hits, 3);
	CHECK_EQ_INT(uprobe_get_info(q, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_HIJACK);
	CHECK_EQ_INT(info.ret_site_ok, 0);
	CHECK_CONTAINS(info.ret_reason, "the ret at +0xa has 1 of the 5 bytes");
	CHECK_EQ_INT(uprobe_get_info(r, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_NONE); /* no return handler */
out:
	uprobe_free(p);
	uprobe_free(q);
	uprobe_free(r);
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
	if (!only || strstr("libc", only)) {
		tl_begin();
		case_libc();
		tl_end("libc");
	}
	return tl_total_failed ? 1 : 0;
}
