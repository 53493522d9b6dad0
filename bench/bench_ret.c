/* SPDX-License-Identifier: MIT */
/*
 * Per-call cost of a return probe, in one run: one function called in a loop,
 * unprobed, with this library's entry probe, with its entry+return probe
 * (jump-optimized, with empty handlers and with handlers that pass a cookie
 * and read the result; and on the int3 path), with a kernel uretprobe and a
 * kernel uprobe+uretprobe opened with perf_event_open, and with bpftrace's
 * uretprobe count() when bpftrace is installed.
 *
 * The VM this runs on is noisy, so the variants are interleaved by the
 * harness (harness.h): every round measures each variant once (attach, time
 * calls for -t ms, detach), and the figure kept is the median over rounds.
 * bpftrace, a process per measurement, is measured in a few rounds within a
 * time budget.
 *
 * Every measurement is verified: the handlers (the kernel's counters,
 * bpftrace's count) saw every call and every return, the function returned
 * the right results, the text is restored after detaching. A failed check
 * prints an error and the program exits 1.
 *
 * Output: a table (ns per call, ns above the unprobed call, ratio to the
 * unprobed call), the checks, then one line "summary: key=value ..." whose
 * values are ns per call (the call itself included).
 * Usage: bench_ret [-r rounds] [-t ms per measurement] [-b bpftrace rounds]
 *        bench_ret -c calls   (instruction counts: run under callgrind)
 */
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uprobes.h"
#include "bench_arm.h"
#include "bench_ret_handlers.h"
#include "bench_util.h"
#include "harness.h"

/*
 * The probed function, in assembly so that its bytes are what gcc -O2 makes
 * of `return a + b;` whatever the flags (no endbr64, no frame pointer), in
 * the form gcc -O2 gives it when a and b are not both in registers it may
 * combine (mov; add; ret): the jump at its entry replaces mov+add (3+3
 * bytes), the ret and the int3 padding after it are a return site (issue 18:
 * a return probe patches it instead of swapping the return address). With
 * lea+ret (5 bytes) the entry's jump would cover the ret, patched then in the
 * entry trampoline's copy of it.
 */
__asm__(".text\n"
	".p2align 6\n"
	".globl bench_ret_target\n"
	".type bench_ret_target,@function\n"
	"bench_ret_target:\n"
	"	.cfi_startproc\n"
	"	mov %rdi,%rax\n"
	"	add %rsi,%rax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bench_ret_target,.-bench_ret_target\n"
	"	.p2align 4,0xcc\n");

long bench_ret_target(long a, long b);

static const uint8_t target_bytes[] = {0x48, 0x89, 0xf8, 0x48, 0x01, 0xf0, 0xc3};

/* Read once per loop, so that the compiler cannot specialise run_calls. */
static long (*volatile target_fn)(long, long) = bench_ret_target;

#define ARG_B 1000003 /* the second argument of every call */

enum kind { K_NATIVE, K_LIB, K_KERNEL, K_BPFTRACE };

struct variant {
	struct bench_lib l; /* l.c: the case; the rest, for this library's rows */
	enum kind kind;
	uint64_t sum_bad;  /* loops whose results were wrong */
	uint64_t ring_bad; /* measurements whose cookie/rax ring disagreed */
};

static struct ret_ring ring;
static struct bench_kuprobe kp_ret = BENCH_KUPROBE(false, true);
static struct bench_kuprobe kp_both = BENCH_KUPROBE(true, true);
static struct bench_bpftrace bt = BENCH_BPFTRACE("uretprobe", bench_ret_target, target_bytes);

/* The handlers touch no SIMD state and do not read rflags (issue 18's lean entry). */
#define NO_SIMD (UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS)
#define NO_OPT	UPROBE_F_NO_OPTIMIZE
#define H_EMPTY bench_ret_entry_empty
#define H_COOK	bench_ret_entry_cookie
#define R_EMPTY bench_ret_ret_empty
#define R_RAX	bench_ret_ret_rax

static int site_arm(struct bench_case *c)
{
	return bench_lib_arm_ret(c, UPROBE_RET_SITE);
}

static int hijack_arm(struct bench_case *c)
{
	return bench_lib_arm_ret(c, UPROBE_RET_HIJACK);
}

static int lib_disarm(struct bench_case *c, uint64_t calls)
{
	return bench_lib_arm.disarm(c, calls);
}

static const struct bench_arm site_lib_arm = {.arm = site_arm, .disarm = lib_disarm};
static const struct bench_arm hijack_lib_arm = {.arm = hijack_arm, .disarm = lib_disarm};

static struct variant variants[] = {
#define LIB_ON(lb, k, fl, h, rh, w, arm_)                                  \
	{                                                                  \
		.l = {.c = {.label = lb, .key = k, .arm = arm_},           \
		      .addr = (const void *)bench_ret_target,              \
		      .flags = fl,                                         \
		      .handler = h,                                        \
		      .ret_handler = rh,                                   \
		      .ctx = &ring,                                        \
		      .want = w},                                          \
		.kind = K_LIB                                              \
	}
#define LIB(lb, k, fl, h, rh, w) LIB_ON(lb, k, fl, h, rh, w, &site_lib_arm)
#define BASELINE(lb, k, kd, a, arg_)                                                   \
	{                                                                              \
		.l = {.c = {.label = lb, .key = k, .arm = a, .arg = arg_}}, .kind = kd \
	}
	{.l = {.c = {.label = "native", .key = "native_ns", .base = -1}}, .kind = K_NATIVE},
	LIB("optimized, entry, empty", "optimized_entry_ns", NO_SIMD, H_EMPTY, NULL, WANT_OPT),
	LIB("optimized, entry+return, empty", "optimized_entry_return_ns", NO_SIMD, H_EMPTY,
	    R_EMPTY, WANT_OPT),
	LIB("optimized, entry+return, cookie+rax", "optimized_entry_return_2arg_ns", NO_SIMD,
	    H_COOK, R_RAX, WANT_OPT),
	LIB_ON("optimized, entry+return, empty, hijack", "optimized_entry_return_hijack_ns",
	       NO_SIMD, H_EMPTY, R_EMPTY, WANT_OPT, &hijack_lib_arm),
	LIB_ON("optimized, entry+return, cookie+rax, hijack", "optimized_entry_return_2arg_hijack_ns",
	       NO_SIMD, H_COOK, R_RAX, WANT_OPT, &hijack_lib_arm),
	LIB("int3, entry+return, empty", "int3_entry_return_ns", NO_OPT | NO_SIMD, H_EMPTY, R_EMPTY,
	    WANT_TRAP),
	BASELINE("kernel uretprobe", "kernel_uretprobe_ns", K_KERNEL, &bench_kuprobe_arm, &kp_ret),
	BASELINE("kernel uprobe+uretprobe", "kernel_uprobe_uretprobe_ns", K_KERNEL,
		 &bench_kuprobe_arm, &kp_both),
	BASELINE("bpftrace uretprobe count()", "bpftrace_uretprobe_ns", K_BPFTRACE,
		 &bench_bpftrace_arm, &bt),
#undef LIB
#undef LIB_ON
#undef BASELINE
};

#undef NO_SIMD
#undef NO_OPT
#undef H_EMPTY
#undef H_COOK
#undef R_EMPTY
#undef R_RAX

#define NVAR ((int)(sizeof(variants) / sizeof(variants[0])))

static char exe_path[PATH_MAX];
static char kernel_why[BENCH_WHY_LEN]; /* why no kernel uprobe */

/* Not inlined and called through a pointer: every iteration is a real call. */
static __attribute__((noinline)) uint64_t run_calls(uint64_t first, uint64_t n)
{
	long (*fn)(long, long) = target_fn;
	uint64_t acc = 0;

	for (uint64_t i = first; i < first + n; i++)
		acc += (uint64_t)fn((long)i, ARG_B);
	return acc;
}

/* The calls, and whether they added up to what the function must return. */
static void run(struct bench_case *c, uint64_t first, uint64_t n)
{
	if (run_calls(first, n) != sum_of_calls(first, n, ARG_B))
		((struct variant *)c)->sum_bad++;
}

static bool text_intact(void)
{
	return !memcmp((const void *)bench_ret_target, target_bytes, sizeof(target_bytes));
}

/* Record a failed check; the first one's text is kept. */
static void fail(struct variant *v, const char *msg)
{
	if (!v->l.c.failed)
		snprintf(v->l.c.why, sizeof(v->l.c.why), "%s", msg);
	v->l.c.failed = true;
}

/*
 * The cookie/rax handlers saw every return, every entry had a cookie, and
 * each recorded return carries its own call's cookie (its first argument)
 * and result; the last one is the last call's.
 */
static bool ring_ok(uint64_t calls)
{
	uint64_t n = calls < RET_RING_LEN ? calls : RET_RING_LEN;
	uint64_t last = (ring.head - 1) & (RET_RING_LEN - 1);

	if (ring.head != calls || ring.no_cookie || ring.e[last].cookie != calls - 1)
		return false;
	for (uint64_t i = 0; i < n; i++)
		if (ring.e[i].rax != ring.e[i].cookie + ARG_B)
			return false;
	return true;
}

/*
 * After every detach: the cookie/rax ring saw the calls (then it starts again
 * for the next measurement), and the function's bytes are as they were.
 */
static int after_detach(struct bench_case *c, uint64_t calls)
{
	struct variant *v = (struct variant *)c;

	if (v->l.ret_handler == bench_ret_ret_rax && !ring_ok(calls))
		v->ring_bad++;
	memset(&ring, 0, sizeof(ring));
	if (text_intact())
		return 0;
	fail(v, "text not restored after detaching");
	return -1;
}

/* Entry and return hits as whoever probed counted them. */
static void hits_of(const struct variant *v, uint64_t *hits, uint64_t *ret_hits)
{
	const struct bench_kuprobe *k = v->l.c.arg;

	*hits = v->kind == K_KERNEL ? k->hits : v->l.hits;
	*ret_hits = v->kind == K_KERNEL	  ? k->ret_hits :
		    v->kind == K_BPFTRACE ? bt.hits :
					    v->l.ret_hits;
}

/* The "x native" column: ns/call divided by the unprobed call's. */
static void times_native(const struct bench_suite *s, const struct bench_case *c, char *buf,
			 size_t len)
{
	const struct bench_case *nat = bench_case_at(s, 0);
	char r[24] = "na";

	if (bench_usable(nat))
		bench_ratio(r, sizeof(r), 1, c->ns.med, nat->ns.med);
	snprintf(buf, len, "%9s", r);
}

static const struct bench_table table = {
	.label_w = 36,
	.hit_head = "+ns",
	.more_head = " x native",
	.more = times_native,
	.legend =
		"ns/call: median over rounds of the time per call of bench_ret_target (mov; add; ret), "
		"probe included.\n+ns: above the unprobed call. x native: ns/call divided by "
		"the unprobed call's.",
};

/* Every call seen at entry (when the variant probes entries) and at return. */
static bool counts_ok(const struct variant *v)
{
	const struct bench_kuprobe *k = v->l.c.arg;
	bool entry = v->kind == K_LIB ? v->l.handler != NULL : v->kind == K_KERNEL && k->entry;
	bool ret = v->kind == K_LIB ? v->l.ret_handler != NULL :
				      v->kind != K_NATIVE && (v->kind == K_BPFTRACE || k->ret);
	uint64_t calls = v->l.c.calls, hits, ret_hits;

	hits_of(v, &hits, &ret_hits);
	return (!entry || hits == calls) && (!ret || ret_hits == calls) && (entry || hits == 0) &&
	       (ret || ret_hits == 0) && !v->l.ret_unwound && !v->l.ret_missed && !v->sum_bad &&
	       !v->ring_bad && (v->kind != K_KERNEL || !k->unreadable);
}

/* Mark the variants whose counts or results disagree with the calls made. */
static void verify(void)
{
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];

		if (v->l.c.calls && !counts_ok(v))
			fail(v, "counts or results disagree with the calls made");
	}
}

/* Prints the checks; returns the number of variants whose checks failed. */
static int print_checks(void)
{
	int bad = 0;

	printf("\n");
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];
		uint64_t hits, ret_hits;

		if (bench_not_measured(&v->l.c))
			continue;
		hits_of(v, &hits, &ret_hits);
		printf("%s: calls %" PRIu64 ", entry hits %" PRIu64 ", return hits %" PRIu64,
		       v->l.c.label, v->l.c.calls, hits, ret_hits);
		if (v->kind == K_LIB && v->l.ret_handler)
			printf(" (unwound %" PRIu64 ", missed %" PRIu64 ")", v->l.ret_unwound,
			       v->l.ret_missed);
		printf(", results %s", v->sum_bad ? "WRONG" : "ok");
		if (v->l.ret_handler == bench_ret_ret_rax)
			printf(", cookie/rax ring %s", v->ring_bad ? "WRONG" : "ok");
		printf(" %s", v->l.c.failed ? "(FAILED)" : "(ok)");
		if (v->l.c.reason[0])
			printf("; %s", v->l.c.reason);
		printf("\n");
		if (v->l.c.failed) {
			printf("error: %s: %s\n", v->l.c.label, v->l.c.why);
			bad++;
		}
	}
	return bad;
}

/* Process-wide: no return was orphaned, unwound or missed in this single-threaded loop. */
static int print_global_checks(void)
{
	struct uprobe_stats st = {.sz = sizeof(st)};

	if (uprobe_get_stats(&st)) {
		printf("error: uprobe_get_stats: %s\n", uprobe_last_error());
		return 1;
	}
	printf("library totals: hits %" PRIu64 ", ret_hits %" PRIu64 ", ret_unwound %" PRIu64
	       ", ret_missed %" PRIu64 ", ret_orphaned %" PRIu64 "\n",
	       st.hits, st.ret_hits, st.ret_unwound, st.ret_missed, st.ret_orphaned);
	if (st.ret_unwound || st.ret_missed || st.ret_orphaned) {
		printf("error: returns unwound, missed or orphaned in a plain loop of calls\n");
		return 1;
	}
	return 0;
}

static void setup(void)
{
	const struct bench_pmu *pmu = bench_pmu();
	uint64_t off;

	if (exe_sym_offset("bench_ret_target", (const void *)bench_ret_target, exe_path, &off,
			   kernel_why, sizeof(kernel_why))) {
		kp_ret.unavailable = kp_both.unavailable = kernel_why;
	} else {
		kp_ret.path = kp_both.path = exe_path;
		kp_ret.off = kp_both.off = off;
	}
	bench_lib_analysis(NULL, "bench_ret_target", UPROBE_F_HANDLER_NO_SIMD);
	if (kernel_why[0] || pmu->type < 0)
		printf("kernel uprobe: unavailable: %s\n", kernel_why[0] ? kernel_why : pmu->why);
	else if (pmu->retprobe_bit < 0)
		printf("kernel uretprobe: unavailable: %s\n", pmu->ret_why);
	else
		printf("kernel uretprobe: uprobe PMU type %d, retprobe = config bit %d\n",
		       pmu->type, pmu->retprobe_bit);
}

/* The count mode's line for a row (its counts checked first): false when it is wrong. */
static bool count_report(struct bench_case *c)
{
	struct variant *v = (struct variant *)c;
	uint64_t hits, ret_hits;

	verify();
	hits_of(v, &hits, &ret_hits);
	printf("%s: %s, calls %" PRIu64 ", entry hits %" PRIu64 ", return hits %" PRIu64 "%s%s\n",
	       c->key, v->kind == K_NATIVE ? "unprobed" : c->mode, c->calls, hits, ret_hits,
	       c->failed ? ": error: " : "", c->failed ? c->why : "");
	return !c->failed;
}

static void reset_ring(void)
{
	memset(&ring, 0, sizeof(ring));
}

int main(int argc, char **argv)
{
	static const char *const count_rows[] = {"native_ns", "optimized_entry_ns",
						 "optimized_entry_return_ns",
						 "optimized_entry_return_2arg_ns",
						 "optimized_entry_return_hijack_ns"};
	struct bench_cfg cfg = {.rounds = 11, .ms = 200, .slow_rounds = 3, .slow_budget_ms = 30000};
	struct bench_suite s = {variants, sizeof(variants[0]), NVAR, run, after_detach, &cfg};
	int st = bench_parse(&cfg, argc, argv, "c",
			     "[-r rounds] [-t ms] [-b bpftrace rounds] [-c calls]");
	int bad;

	if (st)
		return st;
	if (!text_intact())
		return fprintf(stderr, "bench_ret: target bytes are not the expected ones\n"), 1;
	if (cfg.count_calls)
		return bench_count_mode(&s, count_rows, 5, cfg.count_calls, reset_ring,
					count_report);

	printf("bench_ret: per-call cost of entry and return probes on one function\n");
	printf("bench_ret_target(a, b): mov %%rdi,%%rax (48 89 f8); add %%rsi,%%rax (48 01 f0); ret (c3); "
	       "called with (i, %d)\n",
	       ARG_B);
	bench_pin();
	setup();
	bench_suite_run(&s);
	verify();
	bench_table_print(&s, &table);
	bad = print_checks();
	bad += print_global_checks();
	if (bad) {
		fprintf(stderr, "bench_ret: %d check(s) failed: no summary\n", bad);
		return 1;
	}
	bench_sum_cases(&s, true);
	bench_sum_print();
	return 0;
}
