/* SPDX-License-Identifier: MIT */
/*
 * Sleepable read-copy-update for handlers, usable from signal context.
 *
 * Readers (the trap path) bump a per-thread sequence number to odd on entry
 * and to even on exit: no atomic read-modify-write, no fence. An odd number
 * is also how a thread knows it is inside one already (a handler, or a
 * signal handler that interrupted a section): such a nested section is only
 * counted (srcu_tls.nest), so that its end leaves the outer one open. The writer
 * (detach) unlinks, then issues membarrier(PRIVATE_EXPEDITED), which acts as a
 * full barrier on every running thread, and waits for each thread that was
 * inside (odd) to move on. Afterwards no reader can still see what was
 * unlinked. Without membarrier, readers fall back to a full fence.
 */
#ifndef UPROBES_CORE_SRCU_H
#define UPROBES_CORE_SRCU_H

#include <stdbool.h>
#include <stdint.h>

struct srcu_slot {
	uint64_t seq; /* odd while the owner is inside a read section */
	int used;     /* SRCU_FREE, SRCU_OWNED, SRCU_RETIRED */
	int id;	      /* dense: 0, 1, 2 ... (see SRCU_FAST_IDS) */
	int tid;      /* the owner's kernel thread id (a retired slot's is asked about) */
} __attribute__((aligned(64)));

/*
 * A slot is retired, not freed, when its owner's key destructor runs: the
 * thread still runs probed code after it (later destructors, glibc's thread
 * freeres, the stack's madvise) and keeps using its slot. A new thread takes
 * it only once the owner is gone; sharing it, one thread's open section would
 * make the other's look nested (skipped) and their sequence stores would mix.
 */
enum { SRCU_FREE, SRCU_OWNED, SRCU_RETIRED };

struct rp_stack;

/*
 * The thread's slot and its count of nested sections side by side: the hot
 * path finds both through one GOT entry (an initial-exec TLS offset). The
 * return sites' record stack (core/retpatch.h, rp_self) is kept here too:
 * the entry's push and the exit find it through the same entry.
 */
struct srcu_tls {
	struct srcu_slot *self;
	unsigned nest; /* sections begun inside another (srcu_read_lock() < 0) */
	struct rp_stack *rp;
	/* core_quiet(): the thread's hits are the library's, not the program's */
	struct srcu_slot *quiet_self; /* self, set aside meanwhile (self is NULL) */
	bool quiet;
};

extern __thread struct srcu_tls srcu_tls
	__attribute__((tls_model("initial-exec"), visibility("hidden")));
extern int srcu_use_fence __attribute__((visibility("hidden")));

/* srcu_read_lock()'s slow path: the thread's first section (srcu.c says why apart). */
int srcu_read_lock_first(void);

/*
 * Enter a read section. Returns the calling thread's slot id (>= 0), or -1
 * when the thread was already inside one (a handler hitting a probe: the
 * caller must not recurse). Signal-safe; the hot path of every hit.
 */
static inline int srcu_read_lock(void)
{
	struct srcu_slot *s = srcu_tls.self;
	uint64_t seq;

	if (__builtin_expect(!s, 0))
		return srcu_read_lock_first();
	seq = s->seq;
	if (seq & 1) {
		srcu_tls.nest++;
		return -1;
	}
	/*
	 * A signal between the load and the store runs a whole section of its
	 * own (seq + 1, seq + 2); the store then takes seq + 1 again: odd, ours,
	 * begun after the signal's section ended. A writer that saw seq + 1
	 * during the signal's section and sees it again waits longer, no more.
	 */
	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
	if (srcu_use_fence)
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	else
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return s->id;
}

static inline void srcu_read_unlock(void)
{
	struct srcu_slot *s;

	if (__builtin_expect(srcu_tls.nest, 0)) {
		srcu_tls.nest--;
		return;
	}
	s = srcu_tls.self;
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

/*
 * srcu_read_unlock() for the caller that kept its lock's id: a section that
 * was not nested (id >= 0) ends without reading the nested count.
 */
static inline void srcu_read_unlock_id(int id)
{
	struct srcu_slot *s;

	if (__builtin_expect(id < 0, 0)) {
		srcu_tls.nest--;
		return;
	}
	s = srcu_tls.self;
	__atomic_store_n(&s->seq, s->seq + 1, __ATOMIC_RELEASE);
}

/* Is the calling thread inside a read section (a handler)? */
static inline int srcu_in_reader(void)
{
	struct srcu_slot *s = srcu_tls.self;

	return s && (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) & 1);
}

/* Wait for every read section that began before the call. Not in signal context. */
void srcu_synchronize(void);

/*
 * A grace period polled instead of waited for, for a writer that must not
 * wait (one that runs in a read section itself, a probe's handler: it would
 * wait for itself) and frees later what it unlinked before the start:
 * srcu_poll_start() is a full barrier on every thread (as srcu_synchronize's)
 * and notes the read sections in progress; srcu_poll_done() tells, without
 * waiting, whether each of them has ended. A section that never ends (a
 * handler that longjmp'ed out) keeps it from ever being done: what waits on
 * it is kept, never freed early. Not signal context (malloc); free() the
 * result. NULL: no memory (start again later: a later start is as good).
 */
struct srcu_poll;
struct srcu_poll *srcu_poll_start(void);
bool srcu_poll_done(const struct srcu_poll *p);

/*
 * Process setup (once: later calls do nothing) and child-after-fork reset.
 * Before the first read section of the process (core's first attach, the
 * stack layer's setup).
 */
void srcu_init(void);

#endif
