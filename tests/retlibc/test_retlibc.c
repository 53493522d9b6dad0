/* SPDX-License-Identifier: MIT */
/*
 * Return probes on real libc code.
 *
 * The realcode workload (tests/realcode/workload.c: stdio, POSIX I/O, the
 * allocator, strings, qsort/bsearch, strtol, snprintf, threads) plus a few
 * more calls of our own (extra_run: strtod, div/ldiv, time formatting,
 * rand_r...) run once unprobed in this process; their output is the reference.
 * Then, for each mode (default = jump-optimized where possible, and
 * UPROBE_F_NO_OPTIMIZE = int3), two child processes forked from that same
 * state:
 *   R: every libc function the workload calls gets an entry handler and a
 *      return handler, attached in one uprobe_attach_many(); the workload runs
 *      again and must print the same bytes; every probe must report exactly as
 *      many returns as entries (info.hits == info.ret_hits, nothing unwound,
 *      nothing missed), every cookie must come back to the return of its own
 *      call, and a few return values (rax, rdx, xmm0) must be what the
 *      workload got;
 *   E: the same probes with entry handlers only; every probe must see the
 *      same number of hits as in R.
 * Children, because glibc's realloc() grows a block in place or copies it
 * (calling memcpy) depending on the heap's layout, which every earlier run
 * changes: two children of one parent start from the same heap; and the
 * workload in a thread of its own (run_all), so that what the library
 * allocates at attach does not change that layout either.
 */
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "../testlib.h"
#include "workload.h"

TL_DEFINE("retlibc");

#define MIN_ACTIVE 50
/*
 * make check-forced (docs/testing.md): with the fallbacks off, a probe the new
 * paths cannot take is refused (ENOTSUP, naming why) and the others are checked
 * exactly as ever; at least this many still attach (entry+return: as many have
 * returns during the workload). Seen with Debian 12's glibc 2.36 (2026-12-06),
 * of 84: entry+return 45 (46 with int3), site-strict refusing 38 (12 jump to a
 * .cold part, 13 rets without room for a jump, 5 rets a branch lands in, 5 jumps
 * into the middle of a function, 2 fall into the next function, 1 tail jump in
 * the entry's window) and lean-strict memcpy (a branch lands in its entry's
 * window); entry only 83 (memcpy).
 */
#define FORCED_MIN_RET	 45
#define FORCED_MIN_ENTRY 83
#define NLOOP	   2000
#define NINTS	   256

/*
 * libc functions extra_run() calls besides those of the workload. All of them
 * return to their caller (no exit, abort or longjmp).
 */
/* clang-format off */
#define EXTRA_FUNCS(X)                                                              \
	X(strtod) X(atoi) X(strtoull) X(strpbrk) X(stpcpy) X(strncat)               \
	X(strncasecmp) X(memrchr) X(strverscmp) X(toupper) X(div) X(ldiv)           \
	X(rand_r) X(gmtime_r) X(timegm) X(strftime)
/* clang-format on */

#define EX_COUNT(name) +1
#define NEXTRA	       (0 EXTRA_FUNCS(EX_COUNT))
#define NT	       (WL_NFUNCS + NEXTRA)

enum run_mode { OPT, INT3, NMODES };
static const char *const mode_name[NMODES] = {"optimized", "int3"};
static const unsigned int mode_flags[NMODES] = {0, UPROBE_F_NO_OPTIMIZE};

/* ---- the calls whose return values the return handlers check ---- */

static const char marker[] = "retlibc marker: a string of a known length";
static const char pi_text[] = "3.14159265358979323846 and more";
static const char num_text[] = "-1234567890123:tail";
static const char cmp_a[] = "retlibc-compare-alpha", cmp_b[] = "retlibc-compare-bravo";
static char snbuf[64], tbuf[96], cpbuf[96];
static struct tm tm_key =
	{.tm_year = 124, .tm_mon = 1, .tm_mday = 29, .tm_hour = 23, .tm_min = 59, .tm_sec = 58};
static int ints[NINTS], bkey;

#define MALLOC_KEY 77777
#define DIV_KEY	   1000003
#define LDIV_KEY   (-7000000001L)

/* What extra_run() got from those calls, to compare with the handlers' view. */
static struct {
	size_t strlen;
	double strtod;
	long strtol;
	int snprintf;
	void *malloc;
	div_t div;
	ldiv_t ldiv;
	int strcmp;
	time_t timegm;
	size_t strftime;
	void *memrchr;
	char *stpcpy;
	int *bsearch;
} got;

/*
 * One watched call per run: the entry handler recognises it by its first
 * argument (rdi, or edi for an int), the return handler records the result.
 */
struct watch {
	const char *fn;
	uint64_t key, mask;
	_Atomic uint64_t hits;
	uint64_t rax, rdx, xmm0;
};

static struct watch watches[] = {
	{.fn = "strlen", .key = (uintptr_t)marker, .mask = ~0ull},
	{.fn = "strtod", .key = (uintptr_t)pi_text, .mask = ~0ull},
	{.fn = "strtol", .key = (uintptr_t)num_text, .mask = ~0ull},
	{.fn = "snprintf", .key = (uintptr_t)snbuf, .mask = ~0ull},
	{.fn = "malloc", .key = MALLOC_KEY, .mask = ~0ull},
	{.fn = "div", .key = DIV_KEY, .mask = 0xffffffffull},
	{.fn = "ldiv", .key = (uint64_t)LDIV_KEY, .mask = ~0ull},
	{.fn = "strcmp", .key = (uintptr_t)cmp_a, .mask = ~0ull},
	{.fn = "timegm", .key = (uintptr_t)&tm_key, .mask = ~0ull},
	{.fn = "strftime", .key = (uintptr_t)tbuf, .mask = ~0ull},
	{.fn = "memrchr", .key = (uintptr_t)marker, .mask = ~0ull},
	{.fn = "stpcpy", .key = (uintptr_t)cpbuf, .mask = ~0ull},
	{.fn = "bsearch", .key = (uintptr_t)&bkey, .mask = ~0ull},
};

#define NWATCH (sizeof(watches) / sizeof(watches[0]))

static uint64_t mix(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

static uint64_t mix_str(uint64_t h, const char *s)
{
	while (*s)
		h = mix(h, (unsigned char)*s++);
	return h;
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

/*
 * Deterministic use of more libc functions. Names in parentheses: a call of
 * the function itself, never a macro of the same name (toupper). Prints
 * results only, no addresses.
 */
static void extra_watched(FILE *out)
{
	char *end;
	struct tm tm_out;

	got.strlen = (strlen)(marker);
	got.strtod = (strtod)(pi_text, &end);
	got.strtol = (strtol)(num_text, &end, 10);
	got.snprintf = (snprintf)(snbuf, sizeof(snbuf), "%ld/%d", got.strtol, 77);
	got.malloc = (malloc)(MALLOC_KEY);
	if (got.malloc)
		(memset)(got.malloc, 0x5a, MALLOC_KEY);
	(free)(got.malloc);
	got.div = (div)(DIV_KEY, 97);
	got.ldiv = (ldiv)(LDIV_KEY, 1000);
	got.strcmp = (strcmp)(cmp_a, cmp_b);
	got.timegm = (timegm)(&tm_key);
	(gmtime_r)(&got.timegm, &tm_out);
	got.strftime = (strftime)(tbuf, sizeof(tbuf), "%Y-%m-%d %H:%M:%S %a %b %j", &tm_out);
	got.memrchr = (memrchr)(marker, ' ', got.strlen);
	got.stpcpy = (stpcpy)(cpbuf, marker);
	(fprintf)(out, "extra strlen %zu strtod %.17g strtol %ld snprintf %d:%s\n", got.strlen,
		  got.strtod, got.strtol, got.snprintf, snbuf);
	(fprintf)(out, "extra div %d,%d ldiv %ld,%ld strcmp %d timegm %ld strftime %zu:%s\n",
		  got.div.quot, got.div.rem, got.ldiv.quot, got.ldiv.rem, got.strcmp,
		  (long)got.timegm, got.strftime, tbuf);
	(fprintf)(out, "extra memrchr %td stpcpy %td:%s\n", (char *)got.memrchr - marker,
		  got.stpcpy - cpbuf, cpbuf);
}

static void extra_sort(FILE *out, unsigned int *seed)
{
	for (int i = 0; i < NINTS; i++)
		ints[i] = (rand_r)(seed) % 100000;
	(qsort)(ints, NINTS, sizeof(ints[0]), cmp_int);
	bkey = ints[NINTS / 3];
	got.bsearch = (bsearch)(&bkey, ints, NINTS, sizeof(ints[0]), cmp_int);
	(fprintf)(out, "extra sorted %d..%d key %d found %d\n", ints[0], ints[NINTS - 1], bkey,
		  got.bsearch ? *got.bsearch : -1);
}

static void extra_loop(FILE *out, unsigned int *seed)
{
	uint64_t h = 0xcbf29ce484222325ull;
	long sum = 0;
	char buf[64], cat[64], *end;

	for (int i = 0; i < NLOOP; i++) {
		unsigned int r = (unsigned int)(rand_r)(seed);
		int n = (snprintf)(buf, sizeof(buf), "%u-%d", r, i);
		char *p = (strpbrk)(buf, "-5");
		char *q = (memrchr)(buf, '-', (size_t)n);
		div_t d = (div)(i + 1, 7);
		ldiv_t ld = (ldiv)(-(long)r, 13);

		sum += (atoi)(buf) % 1000 + (long)((strtoull)(buf, &end, 10) % 997);
		sum += (toupper)('a' + i % 26) + (strncasecmp)(buf, "1234", 4);
		sum += (strverscmp)(buf, "500000000-0") + d.quot + d.rem + ld.rem;
		sum += (p ? p - buf : -1) + (q ? q - buf : -1);
		(strncat)((stpcpy)(cat, "cat:"), buf, 5);
		h = mix_str(h, cat);
		if (i % 10 == 0) {
			struct tm tm = {.tm_year = 70 + i % 60,
					.tm_mon = i % 12,
					.tm_mday = 1 + i % 28,
					.tm_hour = i % 24};
			time_t t = (timegm)(&tm);
			struct tm back;

			(gmtime_r)(&t, &back);
			(strftime)(buf, sizeof(buf), "%F %T %A %B", &back);
			h = mix_str(mix(h, (uint64_t)t), buf);
		}
	}
	(fprintf)(out, "extra loop sum %ld digest %016lx\n", sum, (unsigned long)h);
}

static void extra_run(FILE *out)
{
	unsigned int seed = 20240229;

	extra_watched(out);
	extra_sort(out, &seed);
	extra_loop(out, &seed);
}

/* ---- targets and handlers ---- */

struct target {
	const char *name; /* as the program calls it */
	void *addr;	  /* implementation the program calls (IFUNCs resolved) */
	int owner;	  /* first target with the same implementation: one probe for all */
};

#define WL_T(name) {#name, NULL, 0},
#define EX_T(name) {#name, (void *)&name, 0},
static struct target targets[NT] = {WL_FUNCS(WL_T) EXTRA_FUNCS(EX_T)};
#undef WL_T
#undef EX_T

struct pctx {
	int idx;
	uint64_t func; /* expected ret->func */
	struct watch *w;
	_Atomic uint64_t entries, rets;
	_Atomic uint64_t null_cookie, cookie_in_entry_only, bad_cookie, bad_regs, unwound;
};

static struct pctx pctx[NT];
static struct uprobe *probes[NT];
static int errs[NT];
static char libc_path[256];

/* Deltas of entries during the R run, for the E child to compare with. */
struct shared {
	int have_r[NMODES];
	int r_attached[NMODES][NT]; /* all of them, unless a fallback is forced off */
	uint64_t r_entries[NMODES][NT];
};

static struct shared *shm;
static char *ref_out;
static size_t ref_len;
static uint64_t ref_calls[WL_NFUNCS];

#define WATCH_BIT (1ull << 63)

/* A cookie no other call shares: the probe and the stack slot of the call. */
static uint64_t cookie_of(int idx, uint64_t entry_sp)
{
	return ((entry_sp * 0x9e3779b97f4a7c15ull) ^ (uint64_t)idx * 0x51ed27ull) & ~WATCH_BIT;
}

static void on_entry(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	struct pctx *c = ctx;
	uint64_t *ck = uprobe_cookie();
	uint64_t v;

	(void)p;
	atomic_fetch_add_explicit(&c->entries, 1, memory_order_relaxed);
	if (!ck) {
		atomic_fetch_add_explicit(&c->null_cookie, 1, memory_order_relaxed);
		return;
	}
	v = cookie_of(c->idx, regs->rsp);
	if (c->w && (regs->rdi & c->w->mask) == c->w->key)
		v |= WATCH_BIT;
	*ck = v;
}

static void on_return(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		      void *ctx)
{
	struct pctx *c = ctx;
	struct watch *w = c->w;

	(void)p;
	atomic_fetch_add_explicit(&c->rets, 1, memory_order_relaxed);
	if (ret->flags & UPROBE_RET_UNWOUND)
		atomic_fetch_add_explicit(&c->unwound, 1, memory_order_relaxed);
	if ((ret->cookie & ~WATCH_BIT) != cookie_of(c->idx, ret->entry_sp))
		atomic_fetch_add_explicit(&c->bad_cookie, 1, memory_order_relaxed);
	if (ret->func != c->func || regs->rip != ret->ret_addr || regs->rsp != ret->entry_sp + 8)
		atomic_fetch_add_explicit(&c->bad_regs, 1, memory_order_relaxed);
	if (w && (ret->cookie & WATCH_BIT)) {
		w->rax = regs->rax;
		w->rdx = regs->rdx;
		w->xmm0 = ret->xmm0.u64[0];
		atomic_fetch_add_explicit(&w->hits, 1, memory_order_release);
	}
}

/* Entry handler of the E run: same count, and no cookie without a return handler. */
static void on_entry_only(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	struct pctx *c = ctx;

	(void)p;
	(void)regs;
	atomic_fetch_add_explicit(&c->entries, 1, memory_order_relaxed);
	if (uprobe_cookie())
		atomic_fetch_add_explicit(&c->cookie_in_entry_only, 1, memory_order_relaxed);
}

/* ---- setup ---- */

/*
 * The libc symbol a call of targets[i] binds to: the name itself, unless a
 * header redirected it (sscanf is __isoc99_sscanf).
 */
static const char *libc_symbol(int i)
{
	Dl_info di;

	if (dlsym(RTLD_DEFAULT, targets[i].name) == targets[i].addr)
		return targets[i].name;
	if (dladdr(targets[i].addr, &di) && di.dli_sname && di.dli_saddr == targets[i].addr)
		return di.dli_sname;
	TL_FAIL("%s: no symbol for the address called (%p)", targets[i].name, targets[i].addr);
	return targets[i].name;
}

static int find_target(const char *name)
{
	for (int i = 0; i < NT; i++)
		if (!strcmp(targets[i].name, name))
			return i;
	return -1;
}

static int setup_targets(void)
{
	Dl_info di;

	for (int i = 0; i < WL_NFUNCS; i++)
		targets[i].addr = wl_addrs[i];
	if (!dladdr(wl_addrs[WL_fopen], &di) || !di.dli_fname)
		return -1;
	snprintf(libc_path, sizeof(libc_path), "%s", di.dli_fname);
	for (int i = 0; i < NT; i++) {
		targets[i].owner = i;
		for (int j = 0; j < i; j++)
			if (targets[j].addr == targets[i].addr) {
				targets[i].owner = targets[j].owner;
				break;
			}
		pctx[i].idx = i;
		pctx[i].func = (uintptr_t)targets[i].addr;
		if (!dladdr(targets[i].addr, &di) || !di.dli_fname ||
		    strcmp(di.dli_fname, libc_path))
			return -1;
	}
	for (size_t k = 0; k < NWATCH; k++) {
		int i = find_target(watches[k].fn);

		if (i < 0 || targets[i].owner != i)
			return -1;
		pctx[i].w = &watches[k];
	}
	return 0;
}

static int is_probed(int i)
{
	return targets[i].owner == i;
}

/* ---- running the workload ---- */

static void reset_run(void)
{
	memset(wl_calls, 0, sizeof(wl_calls));
	memset(&got, 0, sizeof(got));
	for (size_t k = 0; k < NWATCH; k++) {
		atomic_store(&watches[k].hits, 0);
		watches[k].rax = watches[k].rdx = watches[k].xmm0 = 0;
	}
}

/* The workload and extra_run() once, their output in *buf. */
struct run_args {
	FILE *out;
	const char *dir;
	int rc;
};

static void *run_thread(void *p)
{
	struct run_args *a = p;

	reset_run();
	a->rc = workload_run(a->out, a->dir);
	extra_run(a->out);
	return NULL;
}

/*
 * The workload runs in a thread of its own, so in a malloc arena of its own
 * (the same in every child: they inherit the parent's): its realloc() grows a
 * block in place or copies it (calling memcpy) by that arena's layout, which
 * the library's allocations at attach (more for return probes) no longer
 * change. In the main arena, entry_only_same_hits saw one memcpy more or less.
 */
static int run_all(char **buf, size_t *len)
{
	char dir[] = "/tmp/uprobes-retlibc-XXXXXX";
	struct run_args a = { .rc = -1 };
	pthread_t th;
	FILE *out;
	int rc;

	*buf = NULL;
	*len = 0;
	if (!mkdtemp(dir))
		return -1;
	out = open_memstream(buf, len);
	if (!out) {
		rmdir(dir);
		return -1;
	}
	a.out = out;
	a.dir = dir;
	if (pthread_create(&th, NULL, run_thread, &a) || pthread_join(th, NULL))
		TL_FAIL("cannot run the workload in a thread");
	rc = a.rc;
	fclose(out);
	if (rmdir(dir)) {
		TL_FAIL("workload left files in %s", dir);
		rc = -1;
	}
	return rc;
}

static void snapshot(uint64_t *entries, uint64_t *rets)
{
	for (int i = 0; i < NT; i++) {
		entries[i] = atomic_load(&pctx[i].entries);
		if (rets)
			rets[i] = atomic_load(&pctx[i].rets);
	}
}

static void check_same_output(const char *buf, size_t len)
{
	if (len != ref_len || memcmp(buf, ref_out, len)) {
		TL_FAIL("output differs from the unprobed run (%zu vs %zu bytes)", len, ref_len);
		printf("--- unprobed\n%.*s--- probed\n%.*s---\n", (int)ref_len, ref_out, (int)len,
		       buf);
	}
	for (int i = 0; i < WL_NFUNCS; i++)
		if (wl_calls[i] != ref_calls[i])
			TL_FAIL("%s: the workload called it %" PRIu64 " times, unprobed %" PRIu64,
				wl_names[i], (uint64_t)wl_calls[i], ref_calls[i]);
}

/* The workload's own calls that probe i stands for. */
static uint64_t own_calls(int i)
{
	uint64_t s = 0;

	for (int j = 0; j < WL_NFUNCS; j++)
		if (targets[j].owner == i)
			s += wl_calls[j];
	return s;
}

/* ---- cases ---- */

static char case_name[96];

static void case_begin(enum run_mode m, const char *what)
{
	snprintf(case_name, sizeof(case_name), "%s/%s", mode_name[m], what);
	tl_begin();
}

static void case_end(void)
{
	tl_end(case_name);
}

static void unprobed_reference(void)
{
	CHECK_EQ_INT(setup_targets(), 0);
	CHECK_EQ_INT(run_all(&ref_out, &ref_len), 0);
	for (int i = 0; i < WL_NFUNCS; i++)
		ref_calls[i] = wl_calls[i];
	printf("# libc: %s; unprobed output %zu bytes\n", libc_path, ref_len);
	CHECK(ref_len > 1000);
	CHECK_EQ_U64(got.strlen, sizeof(marker) - 1);
	CHECK(got.strtod > 3.14159 && got.strtod < 3.1416);
	CHECK_EQ_INT(got.strtol, -1234567890123);
	CHECK_EQ_INT(got.div.quot, DIV_KEY / 97);
	CHECK_EQ_INT(got.ldiv.rem, LDIV_KEY % 1000);
	CHECK(got.bsearch && *got.bsearch == bkey);
	CHECK_STR(tbuf, "2024-02-29 23:59:58 Thu Feb 060");
	/* Without probes no handler ran: the watches see nothing. */
	for (size_t k = 0; k < NWATCH; k++)
		CHECK_EQ_U64(atomic_load(&watches[k].hits), 0);
}

/*
 * With a fallback forced off, spec k of the batch may be refused: ENOTSUP, and
 * attached alone it is refused again with the switch and why (printed).
 */
static int forced_refusal(enum run_mode m, const struct uprobe_spec *spec, int err)
{
	struct uprobe_opts o = {.sz = sizeof(o), .handler = spec->handler, .ctx = spec->ctx,
				.flags = spec->flags, .ret_handler = spec->ret_handler};
	int ret_forced = spec->ret_handler && forced_ret_path();
	int entry_forced = !(mode_flags[m] & UPROBE_F_NO_OPTIMIZE) && forced_entry_path();
	struct uprobe *p;
	const char *why;

	if (!ret_forced && !entry_forced)
		return 0;
	if (err != -ENOTSUP)
		return 0;
	p = uprobe_attach(spec->path, spec->location, &o);
	if (p) {
		TL_FAIL("%s: refused in the batch, attached alone", spec->location);
		uprobe_free(p);
		return 1;
	}
	why = uprobe_last_error();
	CHECK_EQ_INT(errno, ENOTSUP);
	if (!(ret_forced && strstr(why, "its exits cannot be patched (UPROBE_RET_PATH="
					"site-strict): ")) &&
	    !(entry_forced && strstr(why, "function entry not jump-optimized (") &&
	      strstr(why, ") and UPROBE_ENTRY_PATH=lean-strict")))
		TL_FAIL("%s: refused, but not by the switch: %s", spec->location, why);
	printf("# refused: %s\n", why);
	return 1;
}

/* Attach every probe in one batch; with_ret selects R or E. */
static int attach_all(enum run_mode m, int with_ret)
{
	struct uprobe_spec specs[NT];
	struct uprobe *list[NT];
	struct uprobe_batch_opts bo = {
		.sz = sizeof(bo), .flags = UPROBE_BATCH_PARTIAL, .errs = errs};
	int idx[NT], n = 0, rc, attached = 0, optimized = 0, refused = 0, min;

	for (int i = 0; i < NT; i++) {
		if (!is_probed(i))
			continue;
		specs[n] = (struct uprobe_spec){
			.path = libc_path,
			.location = libc_symbol(i),
			.handler = with_ret ? on_entry : on_entry_only,
			.ctx = &pctx[i],
			.flags = mode_flags[m],
			.ret_handler = with_ret ? on_return : NULL,
		};
		idx[n++] = i;
	}
	rc = uprobe_attach_many(specs, (size_t)n, list, &bo);
	for (int k = 0; k < n; k++) {
		struct uprobe_info info = {.sz = sizeof(info)};
		int i = idx[k];

		probes[i] = list[k];
		if (with_ret)
			shm->r_attached[m][i] = !!list[k];
		if (!list[k] && forced_refusal(m, &specs[k], errs[k])) {
			refused++;
			continue;
		}
		if (!list[k]) {
			TL_FAIL("%s (%s): not attached: %d (%s)", targets[i].name,
				specs[k].location, errs[k], uprobe_last_error());
			continue;
		}
		attached++;
		CHECK_EQ_INT(uprobe_get_info(list[k], &info), 0);
		CHECK_EQ_INT(info.has_ret_handler, with_ret);
		if (info.addr != pctx[i].func)
			TL_FAIL("%s: probe at %#" PRIx64 ", the process calls %#" PRIx64,
				targets[i].name, info.addr, pctx[i].func);
		optimized += info.mode == UPROBE_MODE_OPTIMIZED;
		if (info.mode != UPROBE_MODE_OPTIMIZED && !(mode_flags[m] & UPROBE_F_NO_OPTIMIZE))
			printf("# %s not optimized: %s\n", targets[i].name, info.opt_reason);
	}
	printf("# %s, %s: %d of %d probes attached (batch returned %d), %d optimized, "
	       "%d refused\n",
	       mode_name[m], with_ret ? "entry+return" : "entry only", attached, n, rc, optimized,
	       refused);
	CHECK_EQ_INT(rc, n - refused);
	CHECK_EQ_INT(attached + refused, n);
	min = refused ? (with_ret ? FORCED_MIN_RET : FORCED_MIN_ENTRY) : MIN_ACTIVE;
	if (attached < min)
		TL_FAIL("%d probes attached, want at least %d", attached, min);
	if (mode_flags[m] & UPROBE_F_NO_OPTIMIZE)
		CHECK_EQ_INT(optimized, 0);
	else if (forced_entry_path())
		CHECK_EQ_INT(optimized, attached); /* no breakpoint at an entry */
	else
		CHECK(optimized >= min);
	return n;
}

static int detach_all(void)
{
	struct uprobe *list[NT];
	size_t n = 0;

	for (int i = 0; i < NT; i++)
		if (probes[i])
			list[n++] = probes[i];
	return uprobe_detach_many(list, n);
}

/* Watch k's function has its return probe (all do, unless a fallback is forced off). */
static int watched(size_t k)
{
	return probes[find_target(watches[k].fn)] != NULL;
}

static void check_watches(void)
{
	uint64_t div_bits = 0, bits;
	int n = 0;

	memcpy(&div_bits, &got.div, sizeof(got.div));
	memcpy(&bits, &got.strtod, sizeof(bits));
	for (size_t k = 0; k < NWATCH; k++) {
		uint64_t want = watched(k); /* a refused probe's handlers never run */

		n += watched(k);
		if (atomic_load_explicit(&watches[k].hits, memory_order_acquire) != want)
			TL_FAIL("%s: %" PRIu64 " watched returns, want %" PRIu64, watches[k].fn,
				(uint64_t)watches[k].hits, want);
	}
	printf("# %d of %zu watched functions probed\n", n, NWATCH);
#define W(k) (&watches[k])
#define CHECK_W(k, got, want)                      \
	do {                                       \
		if (watched(k))                    \
			CHECK_EQ_U64(got, want);   \
	} while (0)
	CHECK_W(0, W(0)->rax, got.strlen);
	CHECK_W(0, W(0)->rax, sizeof(marker) - 1);
	CHECK_W(1, W(1)->xmm0, bits);
	CHECK_W(2, W(2)->rax, (uint64_t)got.strtol);
	CHECK_W(3, (uint32_t)W(3)->rax, (uint32_t)got.snprintf);
	CHECK_W(4, W(4)->rax, (uintptr_t)got.malloc);
	CHECK_W(5, W(5)->rax, div_bits);
	CHECK_W(6, W(6)->rax, (uint64_t)got.ldiv.quot);
	CHECK_W(6, W(6)->rdx, (uint64_t)got.ldiv.rem);
	CHECK_W(7, (uint32_t)W(7)->rax, (uint32_t)got.strcmp);
	CHECK_W(8, W(8)->rax, (uint64_t)got.timegm);
	CHECK_W(9, W(9)->rax, got.strftime);
	CHECK_W(10, W(10)->rax, (uintptr_t)got.memrchr);
	CHECK_W(11, W(11)->rax, (uintptr_t)got.stpcpy);
	CHECK_W(12, W(12)->rax, (uintptr_t)got.bsearch);
#undef CHECK_W
#undef W
}

/* Every probe: as many returns as entries, nothing unwound or missed. */
static void check_pairs(const uint64_t *de, const uint64_t *dr)
{
	int active = 0, all = 1;

	for (int i = 0; i < NT; i++) {
		struct uprobe_info info = {.sz = sizeof(info)};
		struct pctx *c = &pctx[i];

		if (!probes[i]) {
			all = 0; /* refused (attach_all checked why) */
			continue;
		}
		active += de[i] > 0;
		if (de[i] != dr[i])
			TL_FAIL("%s: %" PRIu64 " entries, %" PRIu64 " returns during the workload",
				targets[i].name, de[i], dr[i]);
		if (de[i] < own_calls(i))
			TL_FAIL("%s: %" PRIu64 " entries, the workload made %" PRIu64 " calls",
				targets[i].name, de[i], own_calls(i));
		if (c->null_cookie || c->bad_cookie || c->bad_regs || c->unwound)
			TL_FAIL("%s: %" PRIu64 " NULL cookies, %" PRIu64 " wrong cookies, %" PRIu64
				" wrong registers, %" PRIu64 " unwound",
				targets[i].name, (uint64_t)c->null_cookie, (uint64_t)c->bad_cookie,
				(uint64_t)c->bad_regs, (uint64_t)c->unwound);
		CHECK_EQ_INT(uprobe_get_info(probes[i], &info), 0);
		if (info.hits != info.ret_hits || info.ret_unwound || info.ret_missed ||
		    info.skipped)
			TL_FAIL("%s: info hits %" PRIu64 " ret_hits %" PRIu64
				" ret_unwound %" PRIu64 " ret_missed %" PRIu64 " skipped %" PRIu64,
				targets[i].name, info.hits, info.ret_hits, info.ret_unwound,
				info.ret_missed, info.skipped);
		if (info.hits != atomic_load(&c->entries) || info.ret_hits != atomic_load(&c->rets))
			TL_FAIL("%s: info hits %" PRIu64 "/%" PRIu64 ", handlers saw %" PRIu64
				"/%" PRIu64,
				targets[i].name, info.hits, info.ret_hits,
				(uint64_t)atomic_load(&c->entries),
				(uint64_t)atomic_load(&c->rets));
	}
	printf("# %d probes with returns during the workload\n", active);
	if (active < (all ? MIN_ACTIVE : FORCED_MIN_RET))
		TL_FAIL("%d probes with returns, want at least %d", active,
			all ? MIN_ACTIVE : FORCED_MIN_RET);
}

static uint64_t sum_rets(void)
{
	uint64_t sum = 0;

	for (int i = 0; i < NT; i++)
		sum += atomic_load(&pctx[i].rets);
	return sum;
}

static void check_stats_clean(void)
{
	struct uprobe_stats st = {.sz = sizeof(st)};
	uint64_t before, after;

	/*
	 * uprobe_get_stats() itself calls pthread_mutex_lock/unlock, both
	 * probed: the unlock returns after the counters were read. The
	 * process-wide count lies between the handlers' counts around it.
	 */
	before = sum_rets();
	CHECK_EQ_INT(uprobe_get_stats(&st), 0);
	after = sum_rets();
	if (st.ret_hits < before || st.ret_hits > after || after - before > 4)
		TL_FAIL("stats.ret_hits %" PRIu64 ", return handler calls %" PRIu64
			" before and %" PRIu64 " after uprobe_get_stats()",
			st.ret_hits, before, after);
	CHECK_EQ_U64(st.ret_unwound, 0);
	CHECK_EQ_U64(st.ret_missed, 0);
	CHECK_EQ_U64(st.ret_orphaned, 0);
}

/* Child R: entry and return handlers. */
static void ret_child(enum run_mode m)
{
	uint64_t e0[NT], r0[NT], e1[NT], r1[NT], de[NT], dr[NT];
	char *buf;
	size_t len;
	int rc;

	case_begin(m, "attach_entry_and_return");
	attach_all(m, 1);
	case_end();

	case_begin(m, "output_identical");
	snapshot(e0, r0);
	rc = run_all(&buf, &len);
	snapshot(e1, r1);
	CHECK_EQ_INT(rc, 0);
	check_same_output(buf, len);
	free(buf);
	case_end();

	case_begin(m, "entries_equal_returns");
	for (int i = 0; i < NT; i++) {
		de[i] = e1[i] - e0[i];
		dr[i] = r1[i] - r0[i];
		shm->r_entries[m][i] = de[i];
	}
	shm->have_r[m] = 1;
	check_pairs(de, dr);
	check_stats_clean();
	case_end();

	case_begin(m, "return_values");
	check_watches();
	case_end();

	case_begin(m, "detach");
	CHECK_EQ_INT(detach_all(), 0);
	snapshot(e0, r0);
	rc = run_all(&buf, &len);
	snapshot(e1, r1);
	CHECK_EQ_INT(rc, 0);
	check_same_output(buf, len);
	free(buf);
	for (int i = 0; i < NT; i++)
		if (e1[i] != e0[i] || r1[i] != r0[i])
			TL_FAIL("%s: handlers ran after detach", targets[i].name);
	check_stats_clean();
	case_end();
}

/* Child E: entry handlers only; the same hits as child R. */
static void entry_only_child(enum run_mode m)
{
	uint64_t e0[NT], e1[NT];
	int differ = 0, compared = 0;
	char *buf;
	size_t len;
	int rc;

	case_begin(m, "entry_only_same_hits");
	attach_all(m, 0);
	snapshot(e0, NULL);
	rc = run_all(&buf, &len);
	snapshot(e1, NULL);
	CHECK_EQ_INT(rc, 0);
	check_same_output(buf, len);
	free(buf);
	CHECK(shm->have_r[m]);
	for (int i = 0; i < NT && shm->have_r[m]; i++) {
		struct uprobe_info info = {.sz = sizeof(info)};

		if (!probes[i] || !shm->r_attached[m][i])
			continue; /* refused in one of the runs: nothing to compare */
		compared++;
		if (e1[i] - e0[i] != shm->r_entries[m][i]) {
			TL_FAIL("%s: %" PRIu64 " hits with entry probes, %" PRIu64
				" with return probes",
				targets[i].name, e1[i] - e0[i], shm->r_entries[m][i]);
			differ++;
		}
		CHECK_EQ_U64(atomic_load(&pctx[i].cookie_in_entry_only), 0);
		CHECK_EQ_INT(uprobe_get_info(probes[i], &info), 0);
		CHECK_EQ_U64(info.ret_hits, 0);
		CHECK_EQ_U64(info.hits, atomic_load(&pctx[i].entries));
	}
	printf("# %s: %d probes compared, %d differ\n", mode_name[m], compared, differ);
	CHECK_EQ_INT(detach_all(), 0);
	case_end();
}

/*
 * Run fn in a child: it prints its own PASS/FAIL lines; a crash is one more
 * failure, named after the child.
 */
static void in_child(void (*fn)(enum run_mode), enum run_mode m, const char *what)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		tl_total_failed = 0;
		fn(m);
		fflush(stdout);
		_exit(tl_total_failed ? 1 : 0);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid) {
		printf("FAIL: %s/%s/%s: fork/wait: %s\n", tl_suite, mode_name[m], what,
		       strerror(errno));
		tl_total_failed++;
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	tl_total_failed++;
	if (WIFSIGNALED(status))
		printf("FAIL: %s/%s/%s: child killed by signal %d\n", tl_suite, mode_name[m], what,
		       WTERMSIG(status));
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (shm == MAP_FAILED) {
		printf("FAIL: %s/setup: mmap: %s\n", tl_suite, strerror(errno));
		return 1;
	}
	RUN(unprobed_reference);
	if (tl_total_failed)
		TL_EXIT();
	for (int m = 0; m < NMODES; m++) {
		in_child(ret_child, m, "entry_and_return_child");
		in_child(entry_only_child, m, "entry_only_child");
	}
	free(ref_out);
	TL_EXIT();
}
