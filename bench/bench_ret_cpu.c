// SPDX-License-Identifier: MIT
/*
 * Entry+return on a return site by the thread's CPU time: one probe (empty
 * entry and return handlers, UPROBE_F_HANDLER_NO_SIMD | NO_FLAGS, as
 * bench_ret's optimized rows) on bench_ret_cpu_target (mov; add; ret and
 * int3 padding: its ret is a return site), rounds of an unprobed loop and a
 * probed one, each timed by CLOCK_THREAD_CPUTIME_ID: on a machine shared
 * with other jobs the time the thread waits for a CPU does not count, which
 * the wall clock of bench_ret cannot tell apart (docs/benchmarks.md,
 * branch retexit). Two builds compared alternate their binaries, each
 * linked to its own library (rpath).
 *
 * Usage: bench_ret_cpu [rounds [calls [entry]]]   (11, 2000000; "entry": the
 * probe without its return handler). Prints medians and minima, ns a call,
 * then make bench's summary line (the medians).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uprobes.h"

__asm__(".text\n"
	".p2align 4,0xcc\n"
	".globl bench_ret_cpu_target\n"
	".type bench_ret_cpu_target,@function\n"
	"bench_ret_cpu_target:\n"
	"	.cfi_startproc\n"
	"	mov %rdi,%rax\n"
	"	add %rsi,%rax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bench_ret_cpu_target,.-bench_ret_cpu_target\n"
	"	.p2align 4,0xcc\n");
long bench_ret_cpu_target(long a, long b);

/* Read once per loop, so that the compiler cannot inline the target. */
static long (*volatile target_fn)(long, long) = bench_ret_cpu_target;

#define MAX_ROUNDS 101

__attribute__((target("general-regs-only"))) static void on_entry(struct uprobe *p,
								    struct uprobe_regs *regs,
								    void *ctx)
{
	(void)p;
	(void)regs;
	(void)ctx;
}

__attribute__((target("general-regs-only"))) static void
on_return(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *ret, void *ctx)
{
	(void)p;
	(void)regs;
	(void)ret;
	(void)ctx;
}

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns of CPU time a call over n calls; exits if a result is wrong. */
static double run(long n)
{
	long (*f)(long, long) = target_fn, sum = 0;
	double t0 = cpu_ns(), t;

	for (long i = 0; i < n; i++)
		sum += f(i, 3);
	t = (cpu_ns() - t0) / (double)n;
	if (sum != n * (n - 1) / 2 + 3 * n) {
		fprintf(stderr, "bench_ret_cpu: wrong results\n");
		exit(1);
	}
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct uprobe *attach(int entry_only)
{
	struct uprobe_opts o = { .sz = sizeof(o),
				 .handler = on_entry,
				 .ret_handler = entry_only ? NULL : on_return,
				 .flags = UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach(NULL, "bench_ret_cpu_target", &o);

	if (!p || uprobe_get_info(p, &info) ||
	    (!entry_only && info.ret_path != UPROBE_RET_SITE)) {
		fprintf(stderr, "bench_ret_cpu: attach: %s\n",
			p ? info.ret_reason : uprobe_last_error());
		exit(1);
	}
	return p;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 11;
	long n = argc > 2 ? atol(argv[2]) : 2000000;
	int entry_only = argc > 3 && !strcmp(argv[3], "entry");
	double native[MAX_ROUNDS], probed[MAX_ROUNDS], above[MAX_ROUNDS];

	if (rounds < 1 || rounds > MAX_ROUNDS || n < 10) {
		fprintf(stderr, "usage: %s [rounds 1..%d [calls [entry]]]\n", argv[0], MAX_ROUNDS);
		return 2;
	}
	for (int r = 0; r < rounds; r++) {
		struct uprobe_info info = { .sz = sizeof(info) };
		struct uprobe *p;

		native[r] = run(n);
		p = attach(entry_only);
		run(n / 10); /* warm-up */
		probed[r] = run(n);
		if (uprobe_get_info(p, &info) || info.hits != (uint64_t)(n + n / 10) ||
		    info.ret_hits != (uint64_t)(entry_only ? 0 : n + n / 10)) {
			fprintf(stderr, "bench_ret_cpu: %lu hits, %lu returns for %ld calls\n",
				(unsigned long)info.hits, (unsigned long)info.ret_hits, n + n / 10);
			return 1;
		}
		uprobe_free(p);
		above[r] = probed[r] - native[r];
	}
	qsort(native, rounds, sizeof(double), cmp_double);
	qsort(probed, rounds, sizeof(double), cmp_double);
	qsort(above, rounds, sizeof(double), cmp_double);
	printf("native_med=%.2f native_min=%.2f probed_med=%.2f probed_min=%.2f above_med=%.2f "
	       "above_min=%.2f\n",
	       native[rounds / 2], native[0], probed[rounds / 2], probed[0], above[rounds / 2],
	       above[0]);
	/* make bench's line (bench/run.sh fails a program without one): the medians */
	printf("summary: ret_cpu_native_ns=%.1f ret_cpu_probed_ns=%.1f ret_cpu_above_ns=%.1f\n",
	       native[rounds / 2], probed[rounds / 2], above[rounds / 2]);
	return 0;
}
