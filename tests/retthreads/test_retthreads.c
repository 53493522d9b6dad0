/* SPDX-License-Identifier: MIT */
/*
 * Return probes under threads.
 *
 * rt_f(arg) and rt_g(arg) both carry an entry and a return handler. The
 * argument names the calling thread's slot (bits 48..55) and the call number;
 * for one call in four rt_f calls rt_g (NEST_BIT), so the two probes nest. The
 * handlers count into the slot of the argument: entries, returns, and the sum
 * of cookies set at entry (arg ^ key) and seen at return. From the cookie the
 * return handler recovers the argument, hence the value the call must return,
 * and checks rax, the slot of the running thread, the stack pointer of the
 * entry and the nesting order.
 *
 *   pairs:  8 threads x 1,000,000 calls jump-optimized, 8 x 100,000 with
 *           breakpoints: every entry matched by exactly one return.
 *   churn:  one thread sits blocked on a barrier inside rt_f -> rt_g while
 *           threads are created, call, and exit; then calls run in several
 *           threads while the probes are detached: every entry is either a
 *           handled return or an orphaned one (stats.ret_orphaned), and every
 *           call still returns its value to its caller.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "testlib.h"

TL_DEFINE("retthreads");

#define NSLOTS	   16
#define NWORKERS   8
#define SLOT_SHIFT 48
#define NEST_BIT   (1ull << 40)
#define BLOCK_BIT  (1ull << 41)

enum { F, G, NFUNCS };

static const uint64_t cookie_key[NFUNCS] = {0x5bd1e9955bd1e995ull, 0xc2b2ae3d27d4eb4full};

/* Per thread slot, written only by the thread that owns the slot. */
struct slot {
	uint64_t entries[NFUNCS], rets[NFUNCS];
	uint64_t cookie_in[NFUNCS], cookie_out[NFUNCS];
	uint64_t entry_sp[NFUNCS];
	uint64_t null_cookie, bad_ret, bad_regs, bad_order, unwound;
	int depth; /* probed frames of this slot in flight: 0, 1 (rt_f), 2 (rt_g) */
} __attribute__((aligned(128)));

static struct slot slots[NSLOTS];
static __thread int my_slot = -1;
static _Atomic uint64_t bad_slot;
static uint64_t func_addr[NFUNCS];
static pthread_barrier_t in_bar, out_bar;

static uint64_t mix_f(uint64_t a)
{
	return (a * 0x9e3779b97f4a7c15ull) ^ (a >> 29);
}

static uint64_t mix_g(uint64_t a)
{
	return (a ^ 0xff51afd7ed558ccdull) * 0xc4ceb9fe1a85ec53ull;
}

static uint64_t expected(int fn, uint64_t arg)
{
	if (fn == G)
		return mix_g(arg);
	return mix_f(arg) + ((arg & NEST_BIT) ? mix_g(arg) : 0);
}

/* Park in rt_g until the test lets go: two barriers with the main thread. */
__attribute__((noinline)) static void block_inside(void)
{
	pthread_barrier_wait(&in_bar);
	pthread_barrier_wait(&out_bar);
}

__attribute__((noinline, noipa)) uint64_t rt_g(uint64_t arg)
{
	if (arg & BLOCK_BIT)
		block_inside();
	return mix_g(arg);
}

__attribute__((noinline, noipa)) uint64_t rt_f(uint64_t arg)
{
	uint64_t r = mix_f(arg);

	if (arg & NEST_BIT)
		r += rt_g(arg); /* not a tail call: the sum follows */
	asm volatile("" : "+r"(r));
	return r;
}

/* ---- handlers ---- */

/* The slot of arg, which must be the running thread's. */
static struct slot *slot_of(uint64_t arg)
{
	uint64_t n = arg >> SLOT_SHIFT;

	if (n >= NSLOTS || (int)n != my_slot) {
		atomic_fetch_add_explicit(&bad_slot, 1, memory_order_relaxed);
		return NULL;
	}
	return &slots[n];
}

static void on_entry(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	int fn = (int)(uintptr_t)ctx;
	struct slot *s = slot_of(regs->rdi);
	uint64_t *ck;

	(void)p;
	if (!s)
		return;
	s->entries[fn]++;
	if (s->depth != fn)
		s->bad_order++;
	s->depth = fn + 1;
	s->entry_sp[fn] = regs->rsp;
	ck = uprobe_cookie();
	if (!ck) {
		s->null_cookie++;
		return;
	}
	*ck = regs->rdi ^ cookie_key[fn];
	s->cookie_in[fn] += *ck;
}

static void on_return(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		      void *ctx)
{
	int fn = (int)(uintptr_t)ctx;
	uint64_t arg = ret->cookie ^ cookie_key[fn];
	struct slot *s = slot_of(arg);

	(void)p;
	if (!s)
		return;
	s->rets[fn]++;
	s->cookie_out[fn] += ret->cookie;
	if (ret->flags & UPROBE_RET_UNWOUND)
		s->unwound++;
	if (regs->rax != expected(fn, arg))
		s->bad_ret++;
	if (ret->func != func_addr[fn] || regs->rip != ret->ret_addr ||
	    regs->rsp != ret->entry_sp + 8 || ret->entry_sp != s->entry_sp[fn])
		s->bad_regs++;
	/* rt_g returns into rt_f, a few bytes after its start. */
	if (fn == G && ret->ret_addr - func_addr[F] >= 256)
		s->bad_regs++;
	if (s->depth != fn + 1)
		s->bad_order++;
	s->depth = fn;
}

/* ---- workers ---- */

struct job {
	int slot;
	uint64_t ncalls; /* 0: until stop */
	uint64_t flags;	 /* BLOCK_BIT for the thread that parks inside rt_g */
	pthread_t th;
	_Atomic uint64_t progress;
	uint64_t calls[NFUNCS], cookies[NFUNCS], bad_result;
};

static _Atomic int stop;

static uint64_t make_arg(const struct job *j, uint64_t i)
{
	uint64_t a = ((uint64_t)j->slot << SLOT_SHIFT) | (i & 0xffffffffull) | j->flags;

	return i % 4 == 0 ? a | NEST_BIT : a;
}

static int more(const struct job *j, uint64_t i)
{
	if (j->ncalls)
		return i < j->ncalls;
	return !atomic_load_explicit(&stop, memory_order_relaxed);
}

static void *worker(void *p)
{
	struct job *j = p;

	my_slot = j->slot;
	for (uint64_t i = 0; more(j, i); i++) {
		uint64_t a = make_arg(j, i);

		if (rt_f(a) != expected(F, a))
			j->bad_result++;
		j->calls[F]++;
		j->cookies[F] += a ^ cookie_key[F];
		if (a & NEST_BIT) {
			j->calls[G]++;
			j->cookies[G] += a ^ cookie_key[G];
		}
		atomic_store_explicit(&j->progress, i + 1, memory_order_relaxed);
	}
	return NULL;
}

static int start(struct job *j, int slot, uint64_t ncalls, uint64_t flags)
{
	memset(j, 0, sizeof(*j));
	j->slot = slot;
	j->ncalls = ncalls;
	j->flags = flags;
	return pthread_create(&j->th, NULL, worker, j);
}

static void wait_progress(struct job *j, uint64_t at_least)
{
	while (atomic_load_explicit(&j->progress, memory_order_relaxed) < at_least)
		sched_yield();
}

/* ---- probes ---- */

static struct uprobe *probes[NFUNCS];

static int attach(unsigned int flags)
{
	struct uprobe_spec specs[NFUNCS];

	for (int fn = 0; fn < NFUNCS; fn++)
		specs[fn] = (struct uprobe_spec){.addr = (void *)(uintptr_t)func_addr[fn],
						 .handler = on_entry,
						 .ret_handler = on_return,
						 .ctx = (void *)(uintptr_t)fn,
						 .flags = flags};
	return uprobe_attach_many(specs, NFUNCS, probes, NULL);
}

static void check_modes(unsigned int flags)
{
	for (int fn = 0; fn < NFUNCS; fn++) {
		struct uprobe_info info = {.sz = sizeof(info)};

		CHECK_EQ_INT(uprobe_get_info(probes[fn], &info), 0);
		CHECK_EQ_INT(info.has_ret_handler, 1);
		if (flags & UPROBE_F_NO_OPTIMIZE)
			CHECK(info.mode != UPROBE_MODE_OPTIMIZED);
		else if (info.mode != UPROBE_MODE_OPTIMIZED)
			TL_FAIL("%s not optimized: %s", fn == F ? "rt_f" : "rt_g", info.opt_reason);
	}
}

static void check_info(int fn, uint64_t hits, uint64_t ret_hits)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	CHECK_EQ_INT(uprobe_get_info(probes[fn], &info), 0);
	CHECK_EQ_U64(info.hits, hits);
	CHECK_EQ_U64(info.ret_hits, ret_hits);
	CHECK_EQ_U64(info.ret_unwound, 0);
	CHECK_EQ_U64(info.ret_missed, 0);
	CHECK_EQ_U64(info.skipped, 0);
}

static void free_probes(void)
{
	for (int fn = 0; fn < NFUNCS; fn++) {
		uprobe_free(probes[fn]);
		probes[fn] = NULL;
	}
}

static void get_stats(struct uprobe_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->sz = sizeof(*st);
	CHECK_EQ_INT(uprobe_get_stats(st), 0);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* No handler error of any kind in slot s (order only when asked). */
static void check_slot_clean(int s, int check_order)
{
	struct slot *sl = &slots[s];

	if (sl->null_cookie || sl->bad_ret || sl->bad_regs || sl->unwound ||
	    (check_order && sl->bad_order))
		TL_FAIL("slot %d: %" PRIu64 " NULL cookies, %" PRIu64 " wrong rax, %" PRIu64
			" wrong regs, %" PRIu64 " unwound, %" PRIu64 " out of order",
			s, sl->null_cookie, sl->bad_ret, sl->bad_regs, sl->unwound, sl->bad_order);
}

/* Slot s after job j ran to the end with the probes attached throughout. */
static void check_slot_exact(const struct job *j)
{
	const struct slot *sl = &slots[j->slot];

	for (int fn = 0; fn < NFUNCS; fn++) {
		if (sl->entries[fn] != j->calls[fn] || sl->rets[fn] != j->calls[fn])
			TL_FAIL("slot %d %s: %" PRIu64 " calls, %" PRIu64 " entries, %" PRIu64
				" returns",
				j->slot, fn == F ? "rt_f" : "rt_g", j->calls[fn], sl->entries[fn],
				sl->rets[fn]);
		if (sl->cookie_in[fn] != j->cookies[fn] || sl->cookie_out[fn] != j->cookies[fn])
			TL_FAIL("slot %d %s: cookie sums in %#" PRIx64 " out %#" PRIx64
				", want %#" PRIx64,
				j->slot, fn == F ? "rt_f" : "rt_g", sl->cookie_in[fn],
				sl->cookie_out[fn], j->cookies[fn]);
	}
	CHECK_EQ_U64(j->bad_result, 0);
	check_slot_clean(j->slot, 1);
	CHECK_EQ_INT(sl->depth, 0);
}

static void reset_slots(void)
{
	memset(slots, 0, sizeof(slots));
	atomic_store(&bad_slot, 0);
}

/* ---- cases ---- */

/* The test's own arithmetic, without probes: nothing counted, every result right. */
static void unprobed_reference(void)
{
	struct job jobs[NWORKERS];

	reset_slots();
	for (int t = 0; t < NWORKERS; t++)
		CHECK_EQ_INT(start(&jobs[t], t, 100000, 0), 0);
	for (int t = 0; t < NWORKERS; t++) {
		pthread_join(jobs[t].th, NULL);
		CHECK_EQ_U64(jobs[t].bad_result, 0);
		CHECK_EQ_U64(jobs[t].calls[F], 100000);
		CHECK_EQ_U64(jobs[t].calls[G], 25000);
		CHECK_EQ_U64(slots[t].entries[F] + slots[t].rets[F], 0);
	}
	CHECK_EQ_U64(atomic_load(&bad_slot), 0);
}

/* NWORKERS threads x n calls of rt_f, a quarter of them nesting rt_g. */
static void pairs(unsigned int flags, uint64_t n)
{
	struct job jobs[NWORKERS];
	struct uprobe_stats st0, st1;
	uint64_t want_g = (n + 3) / 4 * NWORKERS;
	double t0;

	reset_slots();
	CHECK_EQ_INT(attach(flags), NFUNCS);
	if (!probes[F] || !probes[G]) {
		TL_FAIL("attach: %s", uprobe_last_error());
		free_probes();
		return;
	}
	check_modes(flags);
	get_stats(&st0);
	t0 = now_s();
	for (int t = 0; t < NWORKERS; t++)
		CHECK_EQ_INT(start(&jobs[t], t, n, 0), 0);
	for (int t = 0; t < NWORKERS; t++)
		pthread_join(jobs[t].th, NULL);
	t0 = now_s() - t0;
	get_stats(&st1);
	printf("# %d x %" PRIu64 " calls (+%" PRIu64 " nested) in %.2f s\n", NWORKERS, n, want_g,
	       t0);
	for (int t = 0; t < NWORKERS; t++)
		check_slot_exact(&jobs[t]);
	CHECK_EQ_U64(atomic_load(&bad_slot), 0);
	check_info(F, n * NWORKERS, n * NWORKERS);
	check_info(G, want_g, want_g);
	CHECK_EQ_U64(st1.ret_hits - st0.ret_hits, n * NWORKERS + want_g);
	CHECK_EQ_U64(st1.ret_unwound - st0.ret_unwound, 0);
	CHECK_EQ_U64(st1.ret_missed - st0.ret_missed, 0);
	CHECK_EQ_U64(st1.ret_orphaned - st0.ret_orphaned, 0);
	CHECK_EQ_INT(uprobe_detach_many(probes, NFUNCS), 0);
	free_probes();
}

static void pairs_optimized_8x1000000(void)
{
	pairs(0, 1000000);
}

static void pairs_int3_8x100000(void)
{
	pairs(UPROBE_F_NO_OPTIMIZE, 100000);
}

#define BLOCKER	      0
#define CHURN_FIRST   1
#define CHURN_THREADS 6
#define HAMMER_FIRST  8
#define HAMMERS	      4

/* Counts of the churn threads' slots from earlier rounds (slots are reused). */
static uint64_t churn_entries[NFUNCS], churn_rets[NFUNCS];

/*
 * Churn: while the blocker sits inside rt_f -> rt_g, rounds of short-lived
 * threads call and exit; each must balance exactly.
 */
static void churn_rounds(int rounds, uint64_t calls)
{
	memset(churn_entries, 0, sizeof(churn_entries));
	memset(churn_rets, 0, sizeof(churn_rets));
	for (int r = 0; r < rounds; r++) {
		struct job jobs[CHURN_THREADS];

		for (int t = 0; t < CHURN_THREADS; t++)
			CHECK_EQ_INT(start(&jobs[t], CHURN_FIRST + t, calls, 0), 0);
		for (int t = 0; t < CHURN_THREADS; t++) {
			struct slot *sl = &slots[CHURN_FIRST + t];

			pthread_join(jobs[t].th, NULL);
			check_slot_exact(&jobs[t]);
			for (int fn = 0; fn < NFUNCS; fn++) {
				churn_entries[fn] += sl->entries[fn];
				churn_rets[fn] += sl->rets[fn];
			}
			memset(sl, 0, sizeof(*sl));
		}
	}
}

/* Sums of the handlers' counts for fn: all slots and earlier churn rounds. */
static void totals(int fn, uint64_t *entries, uint64_t *rets)
{
	*entries = churn_entries[fn];
	*rets = churn_rets[fn];
	for (int s = 0; s < NSLOTS; s++) {
		*entries += slots[s].entries[fn];
		*rets += slots[s].rets[fn];
	}
}

static void churn_and_detach(unsigned int flags, int rounds, uint64_t calls)
{
	struct job blocker, hammers[HAMMERS];
	struct uprobe_stats st0, st1;
	uint64_t e[NFUNCS], r[NFUNCS], orphaned, after = 0, hammer_orphans = 0;
	struct slot *b = &slots[BLOCKER];

	reset_slots();
	atomic_store(&stop, 0);
	pthread_barrier_init(&in_bar, NULL, 2);
	pthread_barrier_init(&out_bar, NULL, 2);
	get_stats(&st0);
	CHECK_EQ_INT(attach(flags), NFUNCS);
	if (!probes[F] || !probes[G]) {
		TL_FAIL("attach: %s", uprobe_last_error());
		free_probes();
		return;
	}
	check_modes(flags);

	/* One call, parked inside rt_g (nested in rt_f) until out_bar. */
	CHECK_EQ_INT(start(&blocker, BLOCKER, 1, BLOCK_BIT), 0);
	pthread_barrier_wait(&in_bar);
	churn_rounds(rounds, calls);
	CHECK_EQ_U64(b->entries[F], 1);
	CHECK_EQ_U64(b->entries[G], 1);
	CHECK_EQ_U64(b->rets[F] + b->rets[G], 0);
	CHECK_EQ_INT(b->depth, 2);

	/* Detach while the hammers call, and while the blocker is still inside. */
	for (int t = 0; t < HAMMERS; t++)
		CHECK_EQ_INT(start(&hammers[t], HAMMER_FIRST + t, 0, 0), 0);
	for (int t = 0; t < HAMMERS; t++)
		wait_progress(&hammers[t], 2000);
	CHECK_EQ_INT(uprobe_detach_many(probes, NFUNCS), 0);
	for (int t = 0; t < HAMMERS; t++)
		wait_progress(&hammers[t], atomic_load(&hammers[t].progress) + 2000);
	atomic_store(&stop, 1);
	for (int t = 0; t < HAMMERS; t++)
		pthread_join(hammers[t].th, NULL);
	pthread_barrier_wait(&out_bar);
	pthread_join(blocker.th, NULL);
	get_stats(&st1);

	/* Every call returned its value, probed, orphaned or unprobed. */
	CHECK_EQ_U64(blocker.bad_result, 0);
	CHECK_EQ_U64(blocker.calls[F], 1);
	CHECK_EQ_U64(b->rets[F] + b->rets[G], 0);
	for (int t = 0; t < HAMMERS; t++) {
		const struct job *j = &hammers[t];
		const struct slot *sl = &slots[j->slot];

		CHECK_EQ_U64(j->bad_result, 0);
		for (int fn = 0; fn < NFUNCS; fn++) {
			CHECK(sl->rets[fn] <= sl->entries[fn]);
			CHECK(sl->entries[fn] <= j->calls[fn]);
			hammer_orphans += sl->entries[fn] - sl->rets[fn];
		}
		after += j->calls[F] - sl->entries[F];
		/* Order is not checked: a detach may orphan rt_g's return and not rt_f's. */
		check_slot_clean(j->slot, 0);
	}
	check_slot_clean(BLOCKER, 1);
	CHECK_EQ_U64(atomic_load(&bad_slot), 0);

	/* entries == returns handled + returns orphaned */
	totals(F, &e[F], &r[F]);
	totals(G, &e[G], &r[G]);
	orphaned = st1.ret_orphaned - st0.ret_orphaned;
	printf("# churn %d x %d threads; detach: %" PRIu64 " entries, %" PRIu64 " returns, %" PRIu64
	       " orphaned (%" PRIu64 " in the hammers), %" PRIu64 " calls after\n",
	       rounds, CHURN_THREADS, e[F] + e[G], r[F] + r[G], orphaned, hammer_orphans, after);
	CHECK_EQ_U64(e[F] + e[G], r[F] + r[G] + orphaned);
	CHECK_EQ_U64(orphaned, 2 + hammer_orphans);
	CHECK(after > 0);
	check_info(F, e[F], r[F]);
	check_info(G, e[G], r[G]);
	CHECK_EQ_U64(st1.ret_hits - st0.ret_hits, r[F] + r[G]);
	CHECK_EQ_U64(st1.ret_unwound - st0.ret_unwound, 0);
	CHECK_EQ_U64(st1.ret_missed - st0.ret_missed, 0);
	free_probes();
	pthread_barrier_destroy(&in_bar);
	pthread_barrier_destroy(&out_bar);
}

static void churn_and_detach_optimized(void)
{
	churn_and_detach(0, 40, 5000);
}

static void churn_and_detach_int3(void)
{
	churn_and_detach(UPROBE_F_NO_OPTIMIZE, 10, 2000);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	func_addr[F] = (uintptr_t)rt_f;
	func_addr[G] = (uintptr_t)rt_g;
	RUN(unprobed_reference);
	RUN(pairs_optimized_8x1000000);
	RUN(pairs_int3_8x100000);
	RUN(churn_and_detach_optimized);
	RUN(churn_and_detach_int3);
	TL_EXIT();
}
