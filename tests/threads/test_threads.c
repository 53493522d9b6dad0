/* SPDX-License-Identifier: MIT */
/*
 * Attach/detach races with many threads (check item 3).
 *
 * 8 worker threads call a probed function 1,000,000 times each while the main
 * thread attaches and detaches a probe on it 500 times. Every window gets its
 * own context, so the handler can tell which attach it belongs to:
 * - after uprobe_detach() returns, the handler must never run again for that
 *   window (a flag set right after detach is read in the handler);
 * - uprobe_get_info().hits of each window equals the handler calls counted
 *   through that window's ctx, and the windows add up to every handler call;
 * - the handler sees the right probe, ctx, rip and arguments;
 * - every one of the 8,000,000 calls returns the exact result, so a probed
 *   instruction that ran wrongly (or twice, or not at all) is caught.
 *
 * The workers are paced by a budget the controller raises twice per cycle:
 * half a chunk before the attach, so that calls are in flight during it, the
 * other half once it returned; the window lasts until the workers made
 * WINDOW_CALLS more calls (progress, not time: each window has hits however
 * loaded the machine), and after the detach the controller waits for them to
 * use most of the chunk. Windows are short and gaps longer: an int3 hit costs
 * a few microseconds.
 *
 * Phases: the C function's entry (default mode), then the middle instruction
 * of an assembly function — a RIP-relative load — out of line (boosted) and
 * single-stepped.
 */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "../testlib.h"

TL_DEFINE("threads");

#define NTHREADS	 8
#define CALLS_PER_THREAD 1000000
#define NCYCLES		 500 /* each waits for 8 threads to take a signal: 0.1 s under load */
#define CHUNK		 (CALLS_PER_THREAD / NCYCLES)
#define WINDOW_CALLS	 (CHUNK / 4) /* calls made, in all, while a window's probe is in */
#define FILLER_ITERS	 800
#define ARG_TID_SHIFT	 20

/* Assembly target (targets.S). */
long mid_function(long x);
extern const char mid_function_probe[];
extern const long mid_addend;

/* The probed C function: not inlined, not cloned, not folded into callers. */
__attribute__((noinline, noipa)) long the_function(long x)
{
	asm volatile("" : "+r"(x));
	return x * 3 + 1;
}

struct window {
	_Atomic uint64_t hits;	      /* handler calls through this ctx */
	_Atomic uint64_t late;	      /* handler calls after detach returned */
	_Atomic uint64_t bad_probe;   /* handler got a probe other than this window's */
	_Atomic int detached;	      /* set by the controller once detach returned */
	struct uprobe *_Atomic probe; /* set once attach returned */
	struct uprobe *_Atomic seen;  /* first probe the handler was called with */
	uint64_t info_hits;	      /* uprobe_get_info().hits after detach */
	uint64_t info_ss;	      /* uprobe_get_info().singlestep_fallbacks */
	int busy_at_detach;	      /* a worker still had calls left when detaching */
} __attribute__((aligned(64)));

struct phase {
	const char *name;
	char location[64];
	unsigned int flags;
	long (*fn)(long);
	long addend;		    /* fn(x) == x * 3 + 1 + addend */
	uintptr_t probe_addr;	    /* expected regs->rip */
	int check_rax;		    /* at the probe, rax == rdi * 3 + 1 */
	enum uprobe_mode want_mode; /* UPROBE_MODE_NONE: any */
};

struct worker {
	_Atomic uint32_t done; /* calls made so far */
	unsigned int tid;
	uint64_t sum;
	uint64_t bad; /* calls that returned a wrong value */
	long first_bad_arg, first_bad_ret;
} __attribute__((aligned(64)));

/* Per phase: windows whose singlestep_fallbacks disagreed with their hits. */
struct ss_result {
	const char *name;
	int bad_windows, first_bad;
	uint64_t first_hits, first_ss;
};

static struct ss_result ss_results[8];
static int n_ss_results;

static struct window win[NCYCLES];
static struct worker workers[NTHREADS];
static const struct phase *cur;
static _Atomic uint32_t budget; /* a futex: calls each worker may make so far */

/* Handler-side anomalies that have no window to be charged to. */
static _Atomic uint64_t total_calls, bad_ctx, bad_rip, bad_arg, bad_regs;

static long futex(_Atomic uint32_t *addr, int op, uint32_t val)
{
	return syscall(SYS_futex, addr, op, val, NULL, NULL, 0);
}

static void set_budget(uint32_t v)
{
	atomic_store_explicit(&budget, v, memory_order_release);
	futex(&budget, FUTEX_WAKE_PRIVATE, INT_MAX);
}

static void handler(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	uintptr_t off = (uintptr_t)ctx - (uintptr_t)win;
	struct window *w = ctx;
	struct uprobe *none = NULL, *want;
	uint64_t x = regs->rdi;

	atomic_fetch_add(&total_calls, 1);
	if ((uintptr_t)ctx < (uintptr_t)win || off >= sizeof(win) || off % sizeof(win[0])) {
		atomic_fetch_add(&bad_ctx, 1);
		return;
	}
	if (atomic_load_explicit(&w->detached, memory_order_acquire))
		atomic_fetch_add(&w->late, 1);
	want = atomic_load(&w->probe);
	if (!atomic_compare_exchange_strong(&w->seen, &none, p) && none != p)
		atomic_fetch_add(&w->bad_probe, 1);
	if (want && want != p)
		atomic_fetch_add(&w->bad_probe, 1);
	if (regs->rip != cur->probe_addr)
		atomic_fetch_add(&bad_rip, 1);
	if ((x >> ARG_TID_SHIFT) >= NTHREADS ||
	    (x & ((1u << ARG_TID_SHIFT) - 1)) >= CALLS_PER_THREAD)
		atomic_fetch_add(&bad_arg, 1);
	if (cur->check_rax && regs->rax != x * 3 + 1)
		atomic_fetch_add(&bad_regs, 1);
	atomic_fetch_add(&w->hits, 1);
}

/* Work between calls, so that calls are spread over the whole cycle. */
static void filler(unsigned int seed)
{
	for (int i = 0; i < FILLER_ITERS; i++) {
		seed = seed * 1103515245u + 12345u;
		asm volatile("" : "+r"(seed));
	}
}

static void *worker_main(void *arg)
{
	struct worker *wk = arg;
	long (*fn)(long) = cur->fn;
	long addend = cur->addend;
	uint32_t allowed = 0;

	for (uint32_t k = 0; k < CALLS_PER_THREAD; k++) {
		while (k >= allowed) {
			allowed = atomic_load_explicit(&budget, memory_order_acquire);
			if (k >= allowed)
				futex(&budget, FUTEX_WAIT_PRIVATE, allowed);
		}
		long x = (long)wk->tid << ARG_TID_SHIFT | k;
		long r = fn(x);

		if (r != x * 3 + 1 + addend) {
			if (!wk->bad++) {
				wk->first_bad_arg = x;
				wk->first_bad_ret = r;
			}
		}
		wk->sum += (uint64_t)r;
		filler(k);
		atomic_store_explicit(&wk->done, k + 1, memory_order_relaxed);
	}
	return NULL;
}

static void sleep_us(long us)
{
	struct timespec ts = {.tv_sec = us / 1000000, .tv_nsec = us % 1000000 * 1000};

	while (nanosleep(&ts, &ts))
		;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t min_done(void)
{
	uint32_t m = UINT32_MAX;

	for (int t = 0; t < NTHREADS; t++) {
		uint32_t d = atomic_load_explicit(&workers[t].done, memory_order_relaxed);
		m = d < m ? d : m;
	}
	return m;
}

static uint64_t total_done(void)
{
	uint64_t s = 0;

	for (int t = 0; t < NTHREADS; t++)
		s += atomic_load_explicit(&workers[t].done, memory_order_relaxed);
	return s;
}

static uint64_t expected_sum(long addend)
{
	uint64_t s = 0;

	for (long t = 0; t < NTHREADS; t++)
		for (long k = 0; k < CALLS_PER_THREAD; k++)
			s += (uint64_t)((t << ARG_TID_SHIFT | k) * 3 + 1 + addend);
	return s;
}

/* One attach/detach cycle; returns 0 or -1 when the probe could not be attached. */
static int cycle(int c, const uint8_t *orig, size_t orig_len, int *reported)
{
	struct uprobe_opts opts = {
		.sz = sizeof(opts), .handler = handler, .ctx = &win[c], .flags = cur->flags};
	struct uprobe_info info = {.sz = sizeof(info)};
	struct window *w = &win[c];
	struct uprobe *p;
	uint64_t from;
	int rc;

	/* Half of this cycle's calls first: the workers are running during attach. */
	set_budget((uint32_t)c * CHUNK + CHUNK / 2);
	p = uprobe_attach(NULL, cur->location, &opts);
	if (!p) {
		if (!(*reported)++)
			TL_FAIL("cycle %d: attach %s: %s", c, cur->location, uprobe_last_error());
		return -1;
	}
	atomic_store(&w->probe, p);
	if (c == 0) {
		CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
		printf("# %s: %s+%#" PRIx64 " [%s] mode %s (%s)\n", cur->name, info.symbol,
		       info.symbol_offset, info.insn_text, uprobe_mode_name(info.mode),
		       info.reason);
		CHECK_EQ_U64(info.addr, cur->probe_addr);
		if (cur->want_mode != UPROBE_MODE_NONE)
			CHECK_STR(uprobe_mode_name(info.mode), uprobe_mode_name(cur->want_mode));
	}
	/*
	 * The other half: every worker has calls to make after the attach, at
	 * least WINDOW_CALLS in all from here (counted before the release: a
	 * fast phase uses up the chunk at once).
	 */
	from = total_done();
	set_budget((uint32_t)(c + 1) * CHUNK);
	while (total_done() < from + WINDOW_CALLS)
		sleep_us(20);
	w->busy_at_detach = min_done() < (uint32_t)(c + 1) * CHUNK;
	rc = uprobe_detach(p);
	atomic_store_explicit(&w->detached, 1, memory_order_release);
	if (rc && !(*reported)++)
		TL_FAIL("cycle %d: detach = %d: %s", c, rc, uprobe_last_error());
	if (uprobe_get_info(p, &info) || info.attached) {
		if (!(*reported)++)
			TL_FAIL("cycle %d: get_info after detach: attached=%d", c, info.attached);
	}
	w->info_hits = info.hits;
	w->info_ss = info.singlestep_fallbacks;
	if (memcmp((const void *)cur->probe_addr, orig, orig_len) && !(*reported)++)
		TL_FAIL("cycle %d: code bytes not restored after detach", c);
	uprobe_free(p);

	/* Gap: let the workers use most of this chunk before the next window. */
	while (min_done() < (uint32_t)(c + 1) * CHUNK - CHUNK / 4)
		sleep_us(100);
	return 0;
}

static void check_windows(void)
{
	uint64_t sum_hits = 0, late = 0, badp = 0, mismatched = 0, min_hits = UINT64_MAX;
	int with_hits = 0, busy = 0, shown = 0;

	for (int c = 0; c < NCYCLES; c++) {
		struct window *w = &win[c];
		uint64_t h = atomic_load(&w->hits);
		struct uprobe *seen = atomic_load(&w->seen), *p = atomic_load(&w->probe);

		sum_hits += h;
		min_hits = h < min_hits ? h : min_hits;
		late += w->late;
		badp += w->bad_probe;
		with_hits += h != 0;
		busy += w->busy_at_detach;
		if (h != w->info_hits || w->late || w->bad_probe || (seen && seen != p)) {
			mismatched++;
			if (shown++ < 5)
				TL_FAIL("window %d: handler calls %" PRIu64 ", info.hits %" PRIu64
					", late %" PRIu64 ", wrong probe %" PRIu64,
					c, h, w->info_hits, (uint64_t)w->late,
					(uint64_t)w->bad_probe);
		}
	}
	printf("# %s: %" PRIu64 " hits, %d/%d windows hit (%" PRIu64 " at least), %d with calls "
	       "in flight at detach\n",
	       cur->name, sum_hits, with_hits, NCYCLES, min_hits, busy);
	CHECK_EQ_U64(mismatched, 0);
	CHECK_EQ_U64(late, 0);
	CHECK_EQ_U64(badp, 0);
	CHECK_EQ_U64(sum_hits, atomic_load(&total_calls));
	CHECK_EQ_U64(atomic_load(&bad_ctx), 0);
	CHECK_EQ_U64(atomic_load(&bad_rip), 0);
	CHECK_EQ_U64(atomic_load(&bad_arg), 0);
	CHECK_EQ_U64(atomic_load(&bad_regs), 0);
	/*
	 * Every window had WINDOW_CALLS calls after its attach returned, of
	 * which at most one per worker began before. (How many were in flight
	 * at the detach depends on the scheduler: shown, not checked.)
	 */
	CHECK_EQ_INT(with_hits, NCYCLES);
	CHECK(min_hits >= WINDOW_CALLS - NTHREADS);
}

/*
 * singlestep_fallbacks of a probe counts its hits that were single-stepped: all
 * of them under UPROBE_F_SINGLESTEP, none for a boosted probe. Checked in a
 * case of its own, so that a statistics error does not hide the races above.
 */
static void record_ss(const struct phase *ph)
{
	struct ss_result *r = &ss_results[n_ss_results++];

	r->name = ph->name;
	for (int c = 0; c < NCYCLES; c++) {
		uint64_t want = ph->want_mode == UPROBE_MODE_SINGLESTEP ? win[c].info_hits : 0;

		if (win[c].info_ss != want && !r->bad_windows++) {
			r->first_bad = c;
			r->first_hits = win[c].info_hits;
			r->first_ss = win[c].info_ss;
		}
	}
}

static void singlestep_counts_per_probe(void)
{
	CHECK_EQ_INT(n_ss_results, 5); /* one per phase */
	for (int k = 0; k < n_ss_results; k++) {
		struct ss_result *r = &ss_results[k];

		if (r->bad_windows)
			TL_FAIL("%s: %d windows with singlestep_fallbacks != expected, first: "
				"window "
				"%d hits %" PRIu64 " singlestep_fallbacks %" PRIu64,
				r->name, r->bad_windows, r->first_bad, r->first_hits, r->first_ss);
	}
}

static void run_phase(const struct phase *ph)
{
	pthread_t th[NTHREADS];
	struct uprobe_stats st0 = {.sz = sizeof(st0)}, st1 = {.sz = sizeof(st1)};
	uint8_t orig[16];
	int reported = 0, failed_cycles = 0;
	uint64_t done_before_last = 0, want_sum = expected_sum(ph->addend), got_sum = 0;
	double t0 = now_s();

	cur = ph;
	memset(win, 0, sizeof(win));
	memset(workers, 0, sizeof(workers));
	atomic_store(&total_calls, 0);
	atomic_store(&bad_ctx, 0);
	atomic_store(&bad_rip, 0);
	atomic_store(&bad_arg, 0);
	atomic_store(&bad_regs, 0);
	atomic_store(&budget, 0);
	memcpy(orig, (const void *)ph->probe_addr, sizeof(orig));
	CHECK_EQ_INT(uprobe_get_stats(&st0), 0);

	for (int t = 0; t < NTHREADS; t++) {
		workers[t].tid = (unsigned int)t;
		if (pthread_create(&th[t], NULL, worker_main, &workers[t]))
			abort();
	}
	for (int c = 0; c < NCYCLES; c++) {
		if (c == NCYCLES - 1)
			done_before_last = total_done();
		failed_cycles += cycle(c, orig, sizeof(orig), &reported) != 0;
	}
	set_budget(CALLS_PER_THREAD);
	for (int t = 0; t < NTHREADS; t++) {
		pthread_join(th[t], NULL);
		got_sum += workers[t].sum;
		if (workers[t].bad)
			TL_FAIL("thread %d: %" PRIu64 " wrong results, first f(%#lx) = %#lx", t,
				workers[t].bad, workers[t].first_bad_arg, workers[t].first_bad_ret);
	}
	CHECK_EQ_INT(failed_cycles, 0);
	CHECK_EQ_U64(total_done(), (uint64_t)NTHREADS * CALLS_PER_THREAD);
	CHECK_EQ_U64(got_sum, want_sum);
	/* The workers cannot get past the last chunk before the last cycle releases it. */
	CHECK(done_before_last < (uint64_t)NTHREADS * CALLS_PER_THREAD);
	check_windows();
	CHECK_EQ_INT(uprobe_get_stats(&st1), 0);
	CHECK_EQ_U64(st1.hits - st0.hits, atomic_load(&total_calls));
	CHECK_EQ_U64(st1.probes_attached, st0.probes_attached);
	record_ss(ph);
	printf("# %s: %.1f s, stale traps %" PRIu64 ", single-step fallbacks %" PRIu64 "\n",
	       ph->name, now_s() - t0, st1.stale_traps - st0.stale_traps,
	       st1.singlestep_fallbacks - st0.singlestep_fallbacks);
}

static void entry_phase(const char *name, unsigned int flags, enum uprobe_mode mode)
{
	struct phase ph = {
		.name = name,
		.flags = flags,
		.location = "the_function",
		.fn = the_function,
		.probe_addr = (uintptr_t)the_function,
		.want_mode = mode,
	};

	run_phase(&ph);
}

static void entry_int3(void)
{
	entry_phase("entry_int3", UPROBE_F_NO_OPTIMIZE, UPROBE_MODE_NONE);
}

static void entry_optimized(void)
{
	entry_phase("entry_optimized", 0, UPROBE_MODE_OPTIMIZED);
}

static void middle_phase(const char *name, unsigned int flags, enum uprobe_mode mode)
{
	struct phase ph = {
		.name = name,
		.flags = flags,
		.fn = mid_function,
		.addend = mid_addend,
		.probe_addr = (uintptr_t)mid_function_probe,
		.check_rax = 1,
		.want_mode = mode,
	};

	snprintf(ph.location, sizeof(ph.location), "mid_function+%#lx",
		 (unsigned long)((uintptr_t)mid_function_probe - (uintptr_t)mid_function));
	run_phase(&ph);
}

static void middle_ripload_xol(void)
{
	middle_phase("middle_ripload_xol", UPROBE_F_NO_OPTIMIZE, UPROBE_MODE_XOL);
}

static void middle_ripload_optimized(void)
{
	middle_phase("middle_ripload_optimized", 0, UPROBE_MODE_OPTIMIZED);
}

static void middle_ripload_singlestep(void)
{
	middle_phase("middle_ripload_singlestep", UPROBE_F_SINGLESTEP, UPROBE_MODE_SINGLESTEP);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(entry_int3);
	RUN(entry_optimized);
	RUN(middle_ripload_xol);
	RUN(middle_ripload_optimized);
	RUN(middle_ripload_singlestep);
	RUN(singlestep_counts_per_probe);
	TL_EXIT();
}
