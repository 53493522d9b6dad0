/* SPDX-License-Identifier: MIT */
/*
 * Jump-optimized probes under stress (issue 3): 8 threads call four probed
 * functions (targets.S, one per kind of window) in a tight loop, checking
 * every result, while the main thread runs cycles of
 * uprobe_attach_many(all four) + uprobe_detach_many: NCYCLES_MIN of them at
 * least (two blocks, below), then more for STRESS_S seconds or up to
 * NCYCLES_MAX. The time only sizes the run: no verdict depends on it, and a
 * loaded machine runs fewer cycles (a cycle waits for every worker to take
 * the quiescence signal: 3 ms a cycle idle, 100 ms with 16 runnable threads
 * on 2 cores).
 *
 * Every cycle gets fresh handler contexts, so each handler call is charged to
 * exactly one cycle's probe. Checks:
 *   - every attach returns 4 and every probe is OPTIMIZED with its window;
 *   - every probe is hit with each kind of handler (the first cycle of a block
 *     detaches only once the workers hit all four probes);
 *   - per cycle, each probe's info.hits equals its handler calls;
 *   - no handler call after uprobe_detach_many returned (flag in the context);
 *   - the handler sees the right rip, rsp, and the live rax/CF/red zone;
 *   - at the end, handler calls == sum of info.hits == the stats' hit delta;
 *   - every worker result is exact, and each function's own execution count
 *     (lock inc in the function) equals the calls the workers made.
 * Cycles alternate, in blocks of SIMD_BLOCK, between a handler built with
 * general-regs-only attached with UPROBE_F_HANDLER_NO_SIMD and a default one
 * (xsavec path) that clobbers xmm0/xmm1, which opt_rip keeps live across its
 * probe.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "uprobes.h"
#include "../testlib.h"

TL_DEFINE("optstress");

#define NWORKERS 8
#define NPROBES	 4
/*
 * Cycles per handler kind. Changing a probe's flags makes a new record with
 * its own trampoline, so the kinds alternate in blocks, not every cycle.
 */
#define SIMD_BLOCK 100
#define NCYCLES_MIN (2 * SIMD_BLOCK)
#ifndef NCYCLES_MAX /* -DNCYCLES_MAX=n for a shorter run while debugging */
#define NCYCLES_MAX 10000
#endif
#define STRESS_S 20
#define MAX_REPORT 10
/*
 * A stuck attach or detach fails the test instead of running into the
 * suite's timeout: no cycle completed for this long (lack of progress, not
 * the run's length; a cycle takes 0.1 s at most under heavy load).
 */
#define WATCHDOG_S 120

uint64_t opt_one(uint64_t x);
uint64_t opt_frame(uint64_t x);
uint64_t opt_rip(uint64_t x);
uint64_t opt_branch(uint64_t x);
extern char opt_rip_probe[];
extern const uint64_t opt_rip_k;
extern uint64_t opt_counts[NPROBES];

enum { T_ONE, T_FRAME, T_RIP, T_BRANCH };

struct target {
	const char *name;     /* for uprobe_analyze */
	const void *addr;
	uint8_t window_len;
	bool entry;
};

static const struct target targets[NPROBES] = {
	[T_ONE] = {"opt_one", (const void *)opt_one, 5, true},
	[T_FRAME] = {"opt_frame", (const void *)opt_frame, 5, true},
	[T_RIP] = {"opt_rip+0x11", opt_rip_probe, 7, false},
	[T_BRANCH] = {"opt_branch", (const void *)opt_branch, 7, true},
};

static uint64_t expected(int t, uint64_t x)
{
	switch (t) {
	case T_ONE: return x ^ 0x5a5a5a5a;
	case T_FRAME: return x * 31 + 7;
	case T_RIP: return 3 * x + (x & 1) + opt_rip_k;
	default: return (int32_t)x < 0 ? x + 1000 : 2 * x;
	}
}

static uint64_t call_target(int t, uint64_t x)
{
	switch (t) {
	case T_ONE: return opt_one(x);
	case T_FRAME: return opt_frame(x);
	case T_RIP: return opt_rip(x);
	default: return opt_branch(x);
	}
}

/* One probe of one cycle. */
struct pctx {
	_Atomic uint64_t calls;
	_Atomic uint64_t bad_regs;
	_Atomic uint64_t late;
	_Atomic int dead; /* set once uprobe_detach_many has returned */
	int target;
};

static struct pctx *ctxs; /* NCYCLES_MAX * NPROBES */
static uint64_t hits_seen; /* sum of info.hits at detach time, all cycles */
static uint64_t stats_hits_delta;
static uint64_t block_hits[2];
static uint64_t probe_hits[NPROBES];
static int cycles_done;
static bool stress_ran;

/* Everything here is integer work: safe without saving the SIMD state. */
__attribute__((target("general-regs-only"))) static void hit_check(struct uprobe_regs *regs,
								    struct pctx *c)
{
	const struct target *t = &targets[c->target];
	bool bad = regs->rip != (uint64_t)(uintptr_t)t->addr;

	if (atomic_load_explicit(&c->dead, memory_order_acquire))
		atomic_fetch_add_explicit(&c->late, 1, memory_order_relaxed);
	if (t->entry)
		bad |= (regs->rsp & 15) != 8; /* just after a call */
	if (c->target == T_RIP)
		bad |= regs->rax != regs->rdi || (regs->rflags & 1) != (regs->rdi & 1) ||
		       *(const uint64_t *)(uintptr_t)(regs->rsp - 8) != regs->rdi;
	if (bad)
		atomic_fetch_add_explicit(&c->bad_regs, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&c->calls, 1, memory_order_relaxed);
}

__attribute__((target("general-regs-only"))) static void handler_nosimd(struct uprobe *p,
									 struct uprobe_regs *regs,
									 void *ctx)
{
	(void)p;
	hit_check(regs, ctx);
}

/* The default (xsavec) path must give opt_rip its xmm0 back. */
static void handler_simd(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p;
	__asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n\tpcmpeqd %%xmm1, %%xmm1" ::: "xmm0", "xmm1");
	hit_check(regs, ctx);
}

struct worker {
	pthread_t th;
	uint64_t seed;
	uint64_t calls[NPROBES];
	uint64_t wrong[NPROBES];
	uint64_t bad_x, bad_got;
	int bad_t;
} __attribute__((aligned(64)));

static struct worker workers[NWORKERS];
static _Atomic int stop;
static pthread_barrier_t start_barrier;

static uint64_t xorshift(uint64_t x)
{
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return x;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t x = w->seed;

	pthread_barrier_wait(&start_barrier);
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		for (int k = 0; k < 64; k++) {
			x = xorshift(x);
			for (int t = 0; t < NPROBES; t++) {
				uint64_t got = call_target(t, x);

				w->calls[t]++;
				if (got == expected(t, x))
					continue;
				if (!w->wrong[0] && !w->wrong[1] && !w->wrong[2] && !w->wrong[3]) {
					w->bad_t = t;
					w->bad_x = x;
					w->bad_got = got;
				}
				w->wrong[t]++;
			}
		}
		/*
		 * 8 busy threads on 2 cores: an attach of a multi-instruction
		 * window waits until every running thread has taken its quiesce
		 * signal, i.e. a whole scheduler round (~26 ms a cycle measured).
		 * Yielding every 256 calls keeps the rounds short (~3 ms).
		 */
		sched_yield();
	}
	return NULL;
}

static uint64_t native_calls[NPROBES];

/* Unprobed: the functions compute what expected() says, and the library would optimize. */
static void native_and_analyze(void)
{
	static const uint64_t xs[] = {0, 1, 2, 0x7fffffff, 0x80000000, 0xffffffff,
				      0x123456789, ~0ull, 0x8000000000000000ull};

	for (size_t k = 0; k < sizeof(xs) / sizeof(xs[0]); k++) {
		for (int t = 0; t < NPROBES; t++) {
			uint64_t before = opt_counts[t];

			CHECK_EQ_U64(call_target(t, xs[k]), expected(t, xs[k]));
			CHECK_EQ_U64(opt_counts[t], before + 1);
			native_calls[t]++;
		}
	}
	for (int t = 0; t < NPROBES; t++) {
		struct uprobe_info info = {.sz = sizeof(info)};

		CHECK_EQ_INT(uprobe_analyze(NULL, targets[t].name, UPROBE_F_HANDLER_NO_SIMD, &info),
			     0);
		CHECK_EQ_U64(info.addr, (uintptr_t)targets[t].addr);
		if (info.mode != UPROBE_MODE_OPTIMIZED)
			TL_FAIL("%s: mode %s, opt_reason \"%s\"", targets[t].name,
				uprobe_mode_name(info.mode), info.opt_reason);
		CHECK_EQ_INT(info.window_len, targets[t].window_len);
		printf("# %s: %s\n", targets[t].name, info.reason);
	}
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int reports;

#define REPORT(fmt, ...)                                     \
	do {                                                 \
		if (reports++ < MAX_REPORT)                  \
			TL_FAIL(fmt, ##__VA_ARGS__);         \
		else                                         \
			tl_case_failed = 1;                  \
	} while (0)

static void check_attached(struct uprobe **probes, int cycle)
{
	for (int t = 0; t < NPROBES; t++) {
		struct uprobe_info info = {.sz = sizeof(info)};

		if (uprobe_get_info(probes[t], &info) || !info.attached ||
		    info.mode != UPROBE_MODE_OPTIMIZED || info.window_len != targets[t].window_len)
			REPORT("cycle %d: %s: attached %d, mode %s, window %u, opt_reason \"%s\"",
			       cycle, targets[t].name, info.attached, uprobe_mode_name(info.mode),
			       info.window_len, info.opt_reason);
	}
}

/* Until the workers have hit all four probes of this cycle. */
static void wait_for_hits(const struct pctx *c)
{
	for (int t = 0; t < NPROBES; t++)
		while (!atomic_load(&c[t].calls))
			sched_yield();
}

/* After detach: the library's hit count is the handler's, and the cycle is closed. */
static void check_detached(struct uprobe **probes, struct pctx *c, int cycle, int kind)
{
	for (int t = 0; t < NPROBES; t++) {
		struct uprobe_info info = {.sz = sizeof(info)};
		uint64_t calls;

		atomic_store_explicit(&c[t].dead, 1, memory_order_release);
		calls = atomic_load(&c[t].calls);
		if (uprobe_get_info(probes[t], &info) || info.attached ||
		    info.mode != UPROBE_MODE_OPTIMIZED)
			REPORT("cycle %d: %s after detach: attached %d, mode %s", cycle,
			       targets[t].name, info.attached, uprobe_mode_name(info.mode));
		if (info.hits != calls)
			REPORT("cycle %d: %s: info.hits %" PRIu64 ", handler calls %" PRIu64, cycle,
			       targets[t].name, info.hits, calls);
		hits_seen += info.hits;
		probe_hits[t] += info.hits;
		block_hits[kind] += info.hits;
		uprobe_free(probes[t]);
	}
}

static int run_cycle(int cycle)
{
	bool nosimd = (cycle / SIMD_BLOCK) % 2 == 0;
	struct pctx *c = &ctxs[(size_t)cycle * NPROBES];
	struct uprobe_spec specs[NPROBES];
	struct uprobe *probes[NPROBES];
	int rc;

	for (int t = 0; t < NPROBES; t++) {
		c[t].target = t;
		specs[t] = (struct uprobe_spec){
			.addr = targets[t].addr,
			.handler = nosimd ? handler_nosimd : handler_simd,
			.ctx = &c[t],
			.flags = nosimd ? UPROBE_F_HANDLER_NO_SIMD : 0,
		};
	}
	rc = uprobe_attach_many(specs, NPROBES, probes, NULL);
	if (rc != NPROBES) {
		TL_FAIL("cycle %d: uprobe_attach_many returned %d: %s", cycle, rc,
			uprobe_last_error());
		return -1;
	}
	if (cycle % SIMD_BLOCK == 0) {
		check_attached(probes, cycle);
		wait_for_hits(c);
	}
	rc = uprobe_detach_many(probes, NPROBES);
	if (rc) {
		TL_FAIL("cycle %d: uprobe_detach_many returned %d: %s", cycle, rc,
			uprobe_last_error());
		return -1;
	}
	check_detached(probes, c, cycle, nosimd);
	return 0;
}

/* Name a crash (most likely a worker in a target) instead of dying silently. */
static void crash_handler(int sig, siginfo_t *si, void *ucv)
{
	uint64_t rip = ((ucontext_t *)ucv)->uc_mcontext.gregs[REG_RIP];
	char buf[256];
	int n;

	n = snprintf(buf, sizeof(buf),
		     "  crash: signal %d (code %d) at rip %#" PRIx64 ", address %p, cycle %d\n"
		     "  (opt_one %p, opt_frame %p, opt_rip_probe %p, opt_branch %p)\n",
		     sig, si->si_code, rip, si->si_addr, cycles_done, targets[T_ONE].addr,
		     targets[T_FRAME].addr, targets[T_RIP].addr, targets[T_BRANCH].addr);
	if (n > 0 && write(1, buf, (size_t)n) < 0)
		_exit(3);
	signal(sig, SIG_DFL);
}

static void install_crash_handler(void)
{
	struct sigaction sa = {.sa_sigaction = crash_handler,
			       .sa_flags = SA_SIGINFO | SA_RESETHAND};
	static const int sigs[] = {SIGSEGV, SIGILL, SIGBUS, SIGFPE};

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
}

static void *watchdog_main(void *arg)
{
	int last = -1, idle = 0;

	(void)arg;
	for (;;) {
		int now;

		sleep(1);
		now = __atomic_load_n(&cycles_done, __ATOMIC_RELAXED);
		if (now != last) {
			last = now;
			idle = 0;
		} else if (++idle >= WATCHDOG_S) {
			break;
		}
	}
	printf("  watchdog: no cycle completed for %d s: cycle %d stuck in attach or detach?\n"
	       "FAIL: %s/stress_attach_detach\n", WATCHDOG_S, last, tl_suite);
	fflush(stdout);
	_exit(1);
}

static void stress_attach_detach(void)
{
	pthread_t watchdog;
	struct uprobe_stats s0 = {.sz = sizeof(s0)}, s1 = {.sz = sizeof(s1)};
	double t0, t;

	ctxs = calloc((size_t)NCYCLES_MAX * NPROBES, sizeof(*ctxs));
	CHECK(ctxs != NULL);
	if (!ctxs)
		return;
	CHECK_EQ_INT(uprobe_get_stats(&s0), 0);
	pthread_barrier_init(&start_barrier, NULL, NWORKERS + 1);
	for (int i = 0; i < NWORKERS; i++) {
		workers[i].seed = 0x9e3779b97f4a7c15ull * (i + 1);
		CHECK_EQ_INT(pthread_create(&workers[i].th, NULL, worker_main, &workers[i]), 0);
	}
	install_crash_handler();
	pthread_create(&watchdog, NULL, watchdog_main, NULL);
	pthread_barrier_wait(&start_barrier);
	t0 = now_s();
	for (cycles_done = 0; cycles_done < NCYCLES_MAX; cycles_done++) {
		/* Whole blocks only; the time decides how many, not whether it passes. */
		if (cycles_done % SIMD_BLOCK == 0 && cycles_done) {
			printf("# %d cycles, %.1f s\n", cycles_done, now_s() - t0);
			if (cycles_done >= NCYCLES_MIN && now_s() - t0 > STRESS_S)
				break;
		}
		if (run_cycle(cycles_done))
			break;
	}
	t = now_s() - t0;
	pthread_cancel(watchdog);
	pthread_join(watchdog, NULL);
	atomic_store(&stop, 1);
	for (int i = 0; i < NWORKERS; i++)
		pthread_join(workers[i].th, NULL);
	CHECK_EQ_INT(uprobe_get_stats(&s1), 0);
	stats_hits_delta = s1.hits - s0.hits;
	stress_ran = true;
	printf("# %d cycles in %.2f s (%.0f cycles/s, %.1f us per cycle), %" PRIu64 " hits, "
	       "%" PRIu64 " stale traps\n",
	       cycles_done, t, cycles_done / t, t * 1e6 / cycles_done, hits_seen,
	       s1.stale_traps - s0.stale_traps);
	CHECK(cycles_done >= NCYCLES_MIN && cycles_done % SIMD_BLOCK == 0);
}

static void no_handler_after_detach(void)
{
	uint64_t calls = 0, late = 0;

	CHECK(stress_ran);
	for (size_t i = 0; i < (size_t)cycles_done * NPROBES; i++) {
		calls += atomic_load(&ctxs[i].calls);
		late += atomic_load(&ctxs[i].late);
	}
	CHECK_EQ_U64(late, 0);
	CHECK_EQ_U64(calls, hits_seen);
	CHECK_EQ_U64(stats_hits_delta, hits_seen);
}

static void handler_saw_right_registers(void)
{
	uint64_t bad = 0;

	CHECK(stress_ran);
	for (size_t i = 0; i < (size_t)cycles_done * NPROBES; i++) {
		if (atomic_load(&ctxs[i].bad_regs) && reports++ < MAX_REPORT)
			TL_FAIL("cycle %zu: %s: %" PRIu64 " hits with wrong registers",
				i / NPROBES, targets[i % NPROBES].name,
				(uint64_t)atomic_load(&ctxs[i].bad_regs));
		bad += atomic_load(&ctxs[i].bad_regs);
	}
	CHECK_EQ_U64(bad, 0);
}

static void worker_results_exact(void)
{
	uint64_t calls[NPROBES] = {0}, total = 0;

	CHECK(stress_ran);
	for (int i = 0; i < NWORKERS; i++) {
		for (int t = 0; t < NPROBES; t++) {
			calls[t] += workers[i].calls[t];
			if (workers[i].wrong[t])
				TL_FAIL("worker %d: %s wrong %" PRIu64 " times", i, targets[t].name,
					workers[i].wrong[t]);
		}
		if (workers[i].wrong[0] + workers[i].wrong[1] + workers[i].wrong[2] +
		    workers[i].wrong[3])
			TL_FAIL("worker %d: first wrong: %s(%#" PRIx64 ") = %#" PRIx64
				", want %#" PRIx64,
				i, targets[workers[i].bad_t].name, workers[i].bad_x,
				workers[i].bad_got, expected(workers[i].bad_t, workers[i].bad_x));
	}
	for (int t = 0; t < NPROBES; t++) {
		/* The function counts its own executions: none lost, none doubled. */
		CHECK_EQ_U64(opt_counts[t], calls[t] + native_calls[t]);
		CHECK(calls[t] > 0);
		total += calls[t];
	}
	printf("# workers made %" PRIu64 " calls (%" PRIu64 " per function)\n", total, calls[0]);
}

static void every_probe_was_hit(void)
{
	CHECK(stress_ran);
	for (int t = 0; t < NPROBES; t++) {
		printf("# %s: %" PRIu64 " hits\n", targets[t].name, probe_hits[t]);
		CHECK(probe_hits[t] > 0);
	}
	printf("# hits with the general-regs-only handler %" PRIu64
	       ", with the default one %" PRIu64 "\n",
	       block_hits[1], block_hits[0]);
	CHECK(block_hits[0] > 0);
	CHECK(block_hits[1] > 0);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(native_and_analyze);
	RUN(stress_attach_detach);
	RUN(no_handler_after_detach);
	RUN(handler_saw_right_registers);
	RUN(worker_results_exact);
	RUN(every_probe_was_hit);
	free(ctxs);
	TL_EXIT();
}
