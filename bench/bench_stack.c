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
 *   bpftrace   the same leaf under bpftrace 0.17, "@hits = count();" alone
 *              and with "@s[ustack(16)] = count();" (fp and cfi roads, in a
 *              process of its own, -b rounds): its cost per hit, and how many
 *              of its 16 frames are the true ones. Its ustack walks frame
 *              pointers from the probe's rbp, so at a function's entry it
 *              skips the direct caller (rbp is still the caller's frame), and
 *              through code without frame pointers it stops after a frame or
 *              two. Our own walk, symbolized here, must give all 16.
 *   compile    the CFI table of libc and of python3.11 compiled from
 *              .eh_frame (median of 5), and the same table mapped from the
 *              cache instead (once per file, not per process).
 *
 * The machine is noisy (a VM shared with other builds), so the variants are
 * interleaved: each round times every variant once, and the figure kept is
 * the median over rounds. Issue 17's targets beside the figures, then one
 * line "summary: key=value ..." for scripts.
 * Usage: bench_stack [-r rounds] [-t ms per measurement] [-b bpftrace rounds,
 * 0: none (default 5, 3 under BENCH_QUICK)]
 */
#include <dirent.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_arm.h"
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
int chain_fp_leaf(int x), chain_cfi_leaf(int x);

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

/* ns per call of top() over about ms milliseconds; *n (if not NULL) += the calls. */
static double time_calls(int (*top)(int), unsigned int ms, uint64_t *n)
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
	if (n)
		*n += calls;
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
	ns = time_calls(r->top, ms, NULL);
	uprobe_free(p);
	return ns;
}

/* ---- beside bpftrace ---------------------------------------------------------------- */

/* Frame i (0: the leaf) of road r's chain, as gdb's bt names it: leaf, f16, f15 ... */
static void true_name(const struct road *r, int i, char *buf, size_t len)
{
	int prefix = (int)(strlen(r->leaf) - strlen("leaf"));

	if (i)
		snprintf(buf, len, "%.*sf%d", prefix, r->leaf, 17 - i);
	else
		snprintf(buf, len, "%s", r->leaf);
}

/* Of n frames named name(i), how many are the true frame at their place. */
static int count_true(const struct road *r, int n, const char *(*name)(int, void *), void *arg)
{
	char want[64];
	int t = 0;

	for (int i = 0; i < n; i++) {
		const char *got = name(i, arg);

		true_name(r, i, want, sizeof(want));
		t += got && !strcmp(got, want);
	}
	return t;
}

struct own_walk {
	struct uprobe_symbolizer *s;
	const uint64_t *frames;
};

/* Frame i of the last captured stack, symbolized as a tracer does (after 0: return addresses). */
static const char *own_name(int i, void *arg)
{
	struct own_walk *w = arg;
	struct uprobe_frame f;

	if (uprobe_symbolize(w->s, getpid(), w->frames[i], i > 0, &f, 1) < 1)
		return NULL;
	return f.func;
}

/* How many of the last captured stack's frames are the true ones; -1 if it cannot be read. */
static int own_true_frames(const struct road *r)
{
	struct uprobe_symbolizer_opts o = { .sz = sizeof(o) };
	struct uprobe_stack_reader *rd = uprobe_stack_reader_new(stack_table_fd(bench_stack_table));
	struct own_walk w = { .s = uprobe_symbolizer_new(&o) };
	uint64_t frames[UPROBE_STACK_MAX];
	int n = rd ? uprobe_stack_reader_get(rd, bench_stack_last, frames, UPROBE_STACK_MAX) : -1;

	w.frames = frames;
	n = n > 0 && w.s ? count_true(r, n, own_name, &w) : -1;
	uprobe_symbolizer_free(w.s);
	uprobe_stack_reader_free(rd);
	return n;
}

#define BT_LINE 128

/* The lines of bpftrace's first "@s[" key: "  name+off" -> "name", at most 127 frames. */
struct bt_stack {
	int n;
	char name[127][BT_LINE];
};

static const char *bt_name(int i, void *arg)
{
	return ((struct bt_stack *)arg)->name[i];
}

/* bpftrace's stack in out ("@s[\n        f+off\n ... ]: N"), or -1 if there is none. */
static int bt_parse(const char *out, struct bt_stack *st)
{
	const char *p = strstr(out, "@s[\n");

	st->n = 0;
	if (!p)
		return -1;
	for (p += 4; *p && *p != ']' && st->n < 127;) {
		const char *e = strchr(p, '\n');

		if (!e)
			return -1;
		p += strspn(p, " \t");
		snprintf(st->name[st->n++], BT_LINE, "%.*s", (int)strcspn(p, "+\n"), p);
		p = e + 1;
	}
	return *p == ']' ? st->n : -1;
}

/*
 * The fp and cfi roads under bpftrace: two cases each, the probe alone
 * (count()) and with ustack(16) interned as ours are, measured in
 * alternation, a process per measurement.
 */
struct bt_road {
	int (*leaf)(int);
	uint8_t text[16]; /* the leaf's bytes, unprobed */
	struct bench_bpftrace bt[2];
	double ns[2][ROUNDS_MAX];
	char out[16384]; /* the ustack case's output, the last time */
	int frames, true_frames;
	char first[3][BT_LINE]; /* its first three frames' names */
};

/* ns per call of road r under b (-1: not measured, why printed); every call must be a hit. */
static double bt_measure(const struct road *r, struct bench_bpftrace *b, unsigned int ms, int *ok)
{
	struct bench_case c = { .label = "bpftrace", .arg = b };
	uint64_t before = b->hits, calls = 0;
	double ns;

	if (bench_bpftrace_arm.arm(&c)) {
		printf("bpftrace: %s: %s\n", r->leaf, c.why);
		return -1;
	}
	time_calls(r->top, ms / 10 + 1, &calls); /* warm-up: counted, not timed */
	ns = time_calls(r->top, ms, &calls);
	if (bench_bpftrace_arm.disarm(&c, calls)) {
		printf("bpftrace: %s: %s\n", r->leaf, c.why);
		return -1;
	}
	if (b->hits - before != calls) {
		printf("check: bpftrace on %s counted %" PRIu64 " hits of %" PRIu64 " calls\n",
		       r->leaf, b->hits - before, calls);
		*ok = 0;
	}
	return ns;
}

/*
 * rounds rounds of the bpftrace cases; med[k][0..1]: probe, probe+ustack
 * (median ns per call, -1: not measured). Returns 0, or -1 when bpftrace
 * cannot run at all (not installed, no root: said why).
 */
static int bt_run(struct bt_road *bt, unsigned int rounds, unsigned int ms, double med[][2],
		  int *ok)
{
	static const char *const action[2] = { NULL, "@s[ustack(16)] = count();" };
	double lo, hi;

	for (int k = 0; k < 2; k++) {
		memcpy(bt[k].text, (const void *)bt[k].leaf, sizeof(bt[k].text));
		for (int v = 0; v < 2; v++) {
			struct bench_bpftrace b = { .attach = "uprobe", .sym = roads[k].leaf,
						    .addr = (const void *)bt[k].leaf,
						    .text = bt[k].text, .text_len = sizeof(bt[k].text),
						    .action = action[v], .pid = -1, .fd = -1 };

			bt[k].bt[v] = b;
		}
		bt[k].bt[1].out = bt[k].out;
		bt[k].bt[1].out_len = sizeof(bt[k].out);
	}
	for (unsigned int r = 0; r < rounds; r++)
		for (int k = 0; k < 2; k++)
			for (int v = 0; v < 2; v++) {
				bt[k].ns[v][r] = bt_measure(&roads[k], &bt[k].bt[v], ms, ok);
				if (bt[k].ns[v][r] < 0)
					return -1;
			}
	for (int k = 0; k < 2; k++) {
		struct bt_stack *st = malloc(sizeof(*st));

		for (int v = 0; v < 2; v++)
			spread(bt[k].ns[v], (int)rounds, &lo, &med[k][v], &hi);
		bt[k].frames = st ? bt_parse(bt[k].out, st) : -1;
		bt[k].true_frames = bt[k].frames > 0 ? count_true(&roads[k], st->n, bt_name, st) : 0;
		for (int i = 0; i < 3; i++)
			snprintf(bt[k].first[i], BT_LINE, "%s",
				 st && i < bt[k].frames ? st->name[i] : "-");
		free(st);
	}
	return 0;
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

/* "%.1f" of v, or "na" when it was not measured (NAN). */
static const char *fmt_ns(char *buf, size_t len, double v)
{
	if (isnan(v))
		snprintf(buf, len, "na");
	else
		snprintf(buf, len, "%.1f", v);
	return buf;
}

/* bpftrace's table beside ours; its summary keys into sum. */
static void bt_report(const struct bt_road *bt, double med[][2], const double *unprobed,
		      const double *probe, const double *hit, const int *own_true, int measured,
		      char *sum, size_t len)
{
	char a[32], b[32];

	printf("\n%-20s %14s %14s %14s %7s %5s\n", "16 frames asked", "probe", "probe+stack",
	       "stack per hit", "frames", "true");
	for (int k = 0; k < 2; k++) {
		printf("%-4s %-15s %11.1f ns %11.1f ns %11.1f ns %7d %5d\n", roads[k].name, "ours",
		       probe[k] - unprobed[k], hit[k] - unprobed[k], hit[k] - probe[k], 16,
		       own_true[k]);
		if (measured)
			printf("%-4s %-15s %11.1f ns %11.1f ns %11.1f ns %7d %5d\n", "",
			       "bpftrace ustack", med[k][0] - unprobed[k], med[k][1] - unprobed[k],
			       med[k][1] - med[k][0], bt[k].frames, bt[k].true_frames);
		else
			printf("%-4s %-15s %14s %14s %14s %7s %5s\n", "", "bpftrace ustack", "na",
			       "na", "na", "na", "na");
	}
	for (int k = 0; measured && k < 2; k++) {
		char t[3][64];

		for (int i = 0; i < 3; i++)
			true_name(&roads[k], i, t[i], sizeof(t[i]));
		printf("%s: bpftrace's first frames %s %s %s, gdb's %s %s %s\n", roads[k].name,
		       bt[k].first[0], bt[k].first[1], bt[k].first[2], t[0], t[1], t[2]);
	}
	printf("(ns per hit above the unprobed call; bpftrace 0.17: a process per measurement, "
	       "median of its rounds, its probe is the kernel's int3)\n");
	snprintf(sum, len,
		 " fp_hit_ns=%.1f bpftrace_fp_ns=%s bpftrace_fp_hit_ns=%s"
		 " bpftrace_fp_true_frames=%d bpftrace_cfi_true_frames=%d",
		 hit[0] - unprobed[0], fmt_ns(a, sizeof(a), measured ? med[0][1] - med[0][0] : NAN),
		 fmt_ns(b, sizeof(b), measured ? med[0][1] - unprobed[0] : NAN),
		 measured ? bt[0].true_frames : -1, measured ? bt[1].true_frames : -1);
}

int main(int argc, char **argv)
{
	static double none[N_ROADS][ROUNDS_MAX], empty[N_ROADS][ROUNDS_MAX],
		stack[N_ROADS][ROUNDS_MAX];
	static struct bt_road bt[2] = { { .leaf = chain_fp_leaf }, { .leaf = chain_cfi_leaf } };
	double above[N_ROADS], unprobed[N_ROADS], probe[N_ROADS], hit[N_ROADS], med[3], bt_med[2][2], lo, hi;
	double compile, cached;
	unsigned int rounds = 9, ms = 100, bt_rounds = bench_quick() ? 3 : 5;
	int c, ok = 1, own_true[N_ROADS] = { 0 }, bt_measured = 0;
	char bt_sum[256];

	while ((c = getopt(argc, argv, "r:t:b:")) != -1) {
		if (c == 'r')
			rounds = (unsigned int)atoi(optarg);
		else if (c == 't')
			ms = (unsigned int)atoi(optarg);
		else if (c == 'b')
			bt_rounds = (unsigned int)atoi(optarg);
		else
			rounds = 0;
	}
	if (rounds < 1 || rounds > ROUNDS_MAX || ms < 1 || bt_rounds > ROUNDS_MAX) {
		fprintf(stderr,
			"usage: bench_stack [-r rounds (1..%d)] [-t ms] [-b bpftrace rounds "
			"(0..%d, 0: none)]\n",
			ROUNDS_MAX, ROUNDS_MAX);
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
			if (!r && (own_true[k] = own_true_frames(&roads[k])) != 16) {
				printf("check: %s: %d of our 16 frames are the true ones\n",
				       roads[k].name, own_true[k]);
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
		unprobed[k] = med[0];
		probe[k] = med[1];
		hit[k] = med[2];
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
	if (bt_rounds)
		bt_measured = !bt_run(bt, bt_rounds, ms, bt_med, &ok);
	bt_report(bt, bt_med, unprobed, probe, hit, own_true, bt_measured, bt_sum, sizeof(bt_sum));
	compile_table(&compile, &cached);
	printf("libc + python3.11: compiled in %.1f ms (target <= 50 ms: %s), from the cache in "
	       "%.2f ms\n", compile, compile >= 0 && compile <= 50 ? "met" : "MISSED", cached);
	if (bench_stack_failed)
		printf("check: %lu captures refused (the table full?)\n", bench_stack_failed);
	printf("summary: fp_ns=%.1f cfi_ns=%.1f nocfi_ns=%.1f compile_ms=%.1f cached_ms=%.2f%s\n",
	       above[0], above[1], above[2], compile, cached, bt_sum);
	stack_table_free(bench_stack_table);
	stack_release();
	return ok && !bench_stack_failed ? 0 : 1;
}
