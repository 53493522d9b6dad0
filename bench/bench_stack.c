/* SPDX-License-Identifier: MIT */
/*
 * User stacks at a probe (issue 17), in one run:
 *
 *   per hit    a probe on the leaf of a chain of 18 calls, its handler
 *              capturing 16 frames into the stack table (stack_capture: walk,
 *              hash, intern), against the same probe with an empty handler:
 *              the difference is the stack's cost above the probe. Three
 *              roads: frame pointers with CFI (fp), no frame pointers, CFI
 *              only (cfi), frame pointers and no CFI at all (nocfi, the walk
 *              bpftrace's ustack does).
 *   compile    the CFI table of libc and of python3.11 compiled from
 *              .eh_frame (median of 5), and the same table mapped from the
 *              cache instead (once per file, not per process).
 *
 * The machine is noisy (a VM shared with other builds), so the variants are
 * interleaved: each round times every variant once, and the figure kept is
 * the median over rounds. Issue 17's targets beside the figures, then one
 * line "summary: key=value ..." for scripts.
 * Usage: bench_stack [-r rounds] [-t ms per measurement]
 */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_util.h"
#include "harness.h"
#include "stack/cfi_table.h"
#include "stack/stack.h"
#include "sym/sym.h"
#include "uprobes.h"
#include "uprobes_stack.h"

/* Lowest, median and highest of V[0..N-1], through the harness's medians. */
static void spread(const double *v, int n, double *lo, double *med, double *hi)
{
	struct bench_stat st = { .n = 0 };

	for (int i = 0; i < n; i++)
		bench_stat_add(&st, v[i]);
	bench_stat_done(&st);
	*lo = st.lo, *med = st.med, *hi = st.hi;
}

#define ROUNDS_MAX 64

extern struct stack_table *bench_stack_table;
extern unsigned long bench_stack_failed;
extern uint64_t bench_stack_last;
void bench_stack_empty(struct uprobe *p, struct uprobe_regs *regs, void *ctx);
void bench_stack_capture(struct uprobe *p, struct uprobe_regs *regs, void *ctx);

int chain_fp_top(int x), chain_cfi_top(int x), chain_nocfi_top(int x);

static const struct road {
	const char *name, *leaf;
	int (*top)(int);
	double target; /* ns per hit above the probe, 0: none */
} roads[] = {
	{ "fp", "chain_fp_leaf", chain_fp_top, 80 },
	{ "cfi", "chain_cfi_leaf", chain_cfi_top, 250 },
	{ "nocfi", "chain_nocfi_leaf", chain_nocfi_top, 0 },
};

#define N_ROADS (sizeof(roads) / sizeof(roads[0]))

/* ns per call of top() over about ms milliseconds. */
static double time_calls(int (*top)(int), unsigned int ms)
{
	uint64_t t0 = now_ns(), t, calls = 0;
	volatile int sink = 0;

	do {
		for (int i = 0; i < 1000; i++)
			sink += top(i);
		calls += 1000;
		t = now_ns();
	} while (t - t0 < (uint64_t)ms * 1000000u);
	(void)sink;
	return (double)(t - t0) / (double)calls;
}

/* Frames of the last stack captured (the walk must go all the way, or it is not timed). */
static int last_depth(void)
{
	struct uprobe_stack_reader *rd = uprobe_stack_reader_new(stack_table_fd(bench_stack_table));
	uint64_t frames[UPROBE_STACK_MAX];
	int n = rd ? uprobe_stack_reader_get(rd, bench_stack_last, frames, UPROBE_STACK_MAX) : -1;

	uprobe_stack_reader_free(rd);
	return n;
}

/* ns per call with the leaf probed by handler (NULL: unprobed); -1 if it cannot be. */
static double measure(const struct road *r, uprobe_handler_fn handler, unsigned int ms)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = handler,
				 .flags = UPROBE_F_HANDLER_NO_SIMD };
	struct uprobe *p = NULL;
	double ns;

	if (handler && !(p = uprobe_attach(NULL, r->leaf, &o))) {
		fprintf(stderr, "bench_stack: %s: %s\n", r->leaf, uprobe_last_error());
		return -1;
	}
	ns = time_calls(r->top, ms);
	uprobe_free(p);
	return ns;
}

static double ms_since(uint64_t t0)
{
	return (double)(now_ns() - t0) / 1e6;
}

/* Median ms of 5 compilations of path's table; -1 if it has none. */
static double compile_ms(const char *path)
{
	struct sym_file *f = sym_file_open(path);
	double v[5];

	if (!f)
		return -1;
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = now_ns();
		struct cfi_table *t = cfi_table_compile(f);

		v[i] = ms_since(t0);
		if (!t) {
			sym_file_close(f);
			return -1;
		}
		cfi_table_free(t);
	}
	sym_file_close(f);
	spread(v, 5, &v[1], &v[2], &v[3]);
	return v[2];
}

/* ms to get path's table from a warm cache in dir (median of 5). */
static double cached_ms(const char *path, const char *dir)
{
	struct sym_file *f = sym_file_open(path);
	struct cfi_table *t;
	double v[5];

	if (!f)
		return -1;
	setenv("UPROBE_CACHE_DIR", dir, 1);
	cfi_table_free(cfi_table_get(f)); /* compiled and stored */
	for (int i = 0; i < 5; i++) {
		uint64_t t0 = now_ns();

		t = cfi_table_get(f);
		v[i] = t && t->map_len ? ms_since(t0) : -1;
		cfi_table_free(t);
	}
	sym_file_close(f);
	unsetenv("UPROBE_CACHE_DIR");
	spread(v, 5, &v[1], &v[2], &v[3]);
	return v[2];
}

static void rm_dir(const char *dir)
{
	char path[512];
	struct dirent *e;
	DIR *d = opendir(dir);

	while (d && (e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
			unlink(path);
		}
	if (d)
		closedir(d);
	rmdir(dir);
}

static void compile_table(double *total, double *cached)
{
	static const char *const files[] = { "/lib/x86_64-linux-gnu/libc.so.6",
					     "/usr/bin/python3.11" };
	char dir[] = "/tmp/bench_stack_XXXXXX";
	double c[2], m[2];

	if (!mkdtemp(dir))
		dir[0] = 0;
	printf("\n%-34s %12s %12s\n", "CFI table", "compile ms", "cached ms");
	for (int i = 0; i < 2; i++) {
		c[i] = compile_ms(files[i]);
		m[i] = dir[0] ? cached_ms(files[i], dir) : -1;
		printf("%-34s %12.2f %12.3f\n", files[i], c[i], m[i]);
	}
	if (dir[0])
		rm_dir(dir);
	*total = c[0] < 0 || c[1] < 0 ? -1 : c[0] + c[1];
	*cached = m[0] < 0 || m[1] < 0 ? -1 : m[0] + m[1];
}

int main(int argc, char **argv)
{
	static double none[N_ROADS][ROUNDS_MAX], empty[N_ROADS][ROUNDS_MAX],
		stack[N_ROADS][ROUNDS_MAX];
	double above[N_ROADS], med[3], lo, hi, compile, cached;
	unsigned int rounds = 9, ms = 100;
	int c, ok = 1;

	while ((c = getopt(argc, argv, "r:t:b:")) != -1) {
		if (c == 'r')
			rounds = (unsigned int)atoi(optarg);
		else if (c == 't')
			ms = (unsigned int)atoi(optarg);
	}
	if (rounds < 1 || rounds > ROUNDS_MAX || ms < 1) {
		fprintf(stderr, "usage: bench_stack [-r rounds (1..%d)] [-t ms]\n", ROUNDS_MAX);
		return 2;
	}
	setenv("UPROBE_CACHE_DIR", "", 1);
	bench_pin();
	if (stack_setup() || !(bench_stack_table = stack_table_new(NULL))) {
		fprintf(stderr, "bench_stack: %s\n", uprobe_last_error());
		return 1;
	}
	for (unsigned int r = 0; r < rounds; r++)
		for (size_t k = 0; k < N_ROADS; k++) {
			none[k][r] = measure(&roads[k], NULL, ms);
			empty[k][r] = measure(&roads[k], bench_stack_empty, ms);
			stack[k][r] = measure(&roads[k], bench_stack_capture, ms);
			ok &= empty[k][r] > 0 && stack[k][r] > 0;
			if (!r && last_depth() != 16) {
				printf("check: %s: the walk found %d frames, not 16\n", roads[k].name,
				       last_depth());
				ok = 0;
			}
		}
	printf("%-8s %12s %12s %12s %14s %10s\n", "road", "unprobed", "probe", "probe+stack",
	       "stack per hit", "target");
	for (size_t k = 0; k < N_ROADS; k++) {
		spread(none[k], (int)rounds, &lo, &med[0], &hi);
		spread(empty[k], (int)rounds, &lo, &med[1], &hi);
		spread(stack[k], (int)rounds, &lo, &med[2], &hi);
		above[k] = med[2] - med[1];
		printf("%-8s %10.1f ns %10.1f ns %10.1f ns %11.1f ns ", roads[k].name, med[0], med[1],
		       med[2], above[k]);
		if (roads[k].target)
			printf("%6s %.0f%s\n", above[k] <= roads[k].target ? "<=" : "MISSED",
			       roads[k].target, " ns");
		else
			printf("%10s\n", "-");
	}
	printf("(16 frames each, interned; ns per call, median of %u rounds of %u ms)\n", rounds,
	       ms);
	compile_table(&compile, &cached);
	printf("libc + python3.11: compiled in %.1f ms (target <= 50 ms: %s), from the cache in "
	       "%.2f ms\n", compile, compile >= 0 && compile <= 50 ? "met" : "MISSED", cached);
	if (bench_stack_failed)
		printf("check: %lu captures refused (the table full?)\n", bench_stack_failed);
	printf("summary: fp_ns=%.1f cfi_ns=%.1f nocfi_ns=%.1f compile_ms=%.1f cached_ms=%.2f\n",
	       above[0], above[1], above[2], compile, cached);
	stack_table_free(bench_stack_table);
	stack_release();
	return ok && !bench_stack_failed ? 0 : 1;
}
