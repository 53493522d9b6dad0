/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>

#include "arch/raw_syscall.h"
#include "core/srcu.h"
#include "ubp/ubp.h"
#include "util/log.h"

#define SRCU_CHUNK_SLOTS 256

struct srcu_chunk {
	struct srcu_slot slots[SRCU_CHUNK_SLOTS];
	struct srcu_chunk *next;
};

static struct srcu_chunk first_chunk;
static pthread_key_t srcu_key;
int srcu_use_fence; /* membarrier unavailable: readers fence themselves */

__thread struct srcu_tls srcu_tls __attribute__((tls_model("initial-exec")));

static void *srcu_chunk_map(void)
{
	long r = raw_syscall6(SYS_mmap, 0, sizeof(struct srcu_chunk), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return (unsigned long)r > -4096ul ? NULL : (void *)r;
}

/* Has a retired slot's owner exited? A tid reused since only keeps the slot longer. */
static bool srcu_owner_gone(const struct srcu_slot *s)
{
	long pid = raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);

	return raw_syscall6(SYS_tgkill, pid, s->tid, 0, 0, 0, 0) == -ESRCH;
}

/* Signal context: take a free slot, or a retired one whose owner has exited. */
static bool srcu_slot_take(struct srcu_slot *s)
{
	int expected = SRCU_FREE;

	if (__atomic_compare_exchange_n(&s->used, &expected, SRCU_OWNED, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_RELAXED))
		return true;
	return expected == SRCU_RETIRED && srcu_owner_gone(s) &&
	       __atomic_compare_exchange_n(&s->used, &expected, SRCU_OWNED, 0, __ATOMIC_ACQ_REL,
					   __ATOMIC_RELAXED);
}

/*
 * Signal context: claim the free slot with the lowest id (ids stay dense as
 * threads come and go), mapping a new chunk if all are taken. Atomics and raw
 * system calls only: the caller is not yet inside a read section, and every
 * libc function may be probed.
 */
static struct srcu_slot *srcu_claim(void)
{
	struct srcu_chunk *c = &first_chunk, *fresh;
	int base = 0;

	for (;;) {
		for (unsigned i = 0; i < SRCU_CHUNK_SLOTS; i++) {
			struct srcu_slot *s = &c->slots[i];

			if (srcu_slot_take(s)) {
				s->id = base + (int)i;
				s->tid = (int)raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
				/* Even: a retired owner may have died inside (longjmp) */
				__atomic_store_n(&s->seq, (s->seq + 1) & ~1ull, __ATOMIC_RELEASE);
				return s;
			}
		}
		base += SRCU_CHUNK_SLOTS;
		if (__atomic_load_n(&c->next, __ATOMIC_ACQUIRE)) {
			c = c->next;
			continue;
		}
		fresh = srcu_chunk_map();
		if (!fresh) {
			/* Rescan from the start: slots are freed as threads exit. */
			c = &first_chunk;
			base = 0;
			continue;
		}
		struct srcu_chunk *none = NULL;
		if (!__atomic_compare_exchange_n(&c->next, &none, fresh, 0, __ATOMIC_ACQ_REL,
						 __ATOMIC_ACQUIRE))
			raw_syscall6(SYS_munmap, (long)fresh, sizeof(*fresh), 0, 0, 0, 0);
		c = c->next;
	}
}

/*
 * The thread's first read section (srcu_tls.self is NULL). Signal context.
 *
 * The slot is claimed and the section begun before the slot is registered for
 * the thread's exit, because pthread_setspecific() is libc and may be probed
 * (tests/optlibc probes all of it): its hit comes back through
 * srcu_read_lock(), finds the sequence odd and is a nested section, skipped
 * as any hit from inside a handler. Registered first, with no slot published
 * yet, that hit would claim again, call pthread_setspecific() again, and so on
 * until the stack ran out.
 *
 * A signal handler's hit between the claim and the publication makes its own
 * first section (claim, publish, register): then its slot is the thread's and
 * ours goes back unused.
 */
__attribute__((noinline)) int srcu_read_lock_first(void)
{
	struct srcu_slot *s, *none = NULL;
	int id;

	if (srcu_tls.quiet) { /* core_quiet(): every section nested, no slot taken */
		srcu_tls.nest++;
		return -1;
	}
	s = srcu_claim();
	if (!__atomic_compare_exchange_n(&srcu_tls.self, &none, s, 0, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		__atomic_store_n(&s->used, 0, __ATOMIC_RELEASE);
	id = srcu_read_lock();
	/* glibc keeps the first 32 keys in the thread descriptor: no malloc. */
	pthread_setspecific(srcu_key, srcu_tls.self);
	return id;
}

/* The key's destructor: the thread goes on using the slot until it is gone (SRCU_RETIRED). */
static void srcu_thread_exit(void *p)
{
	struct srcu_slot *s = p;

	__atomic_store_n(&s->seq, (s->seq + 1) & ~1ull, __ATOMIC_RELEASE);
	__atomic_store_n(&s->used, SRCU_RETIRED, __ATOMIC_RELEASE);
}

/*
 * A read section that never ends was abandoned: a handler, or a signal
 * handler that interrupted one, jumped out with longjmp. Waiting for it would
 * hang detach forever; after SRCU_GIVE_UP_NS the slot is skipped and a warning
 * logged (a handler that really runs that long then races with the free).
 */
#define SRCU_GIVE_UP_NS (5ull * 1000 * 1000 * 1000)

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void srcu_wait_slot(struct srcu_slot *s)
{
	uint64_t seq = __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE), start;
	struct timespec ts = { 0, 20000 };

	if (!(seq & 1) || !__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
		return;
	start = mono_ns();
	for (unsigned spins = 0; __atomic_load_n(&s->seq, __ATOMIC_ACQUIRE) == seq; spins++) {
		if (!__atomic_load_n(&s->used, __ATOMIC_ACQUIRE))
			return;
		if (spins < 100) {
			sched_yield();
			continue;
		}
		nanosleep(&ts, NULL);
		if (mono_ns() - start > SRCU_GIVE_UP_NS) {
			log_msg(UPROBE_LOG_WARN,
				"thread slot %d has been inside a probe handler for 5 s (did a handler "
				"longjmp out?): detaching without waiting for it", s->id);
			return;
		}
	}
}

void srcu_synchronize(void)
{
	if (srcu_use_fence || ubp_membarrier())
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (struct srcu_chunk *c = &first_chunk; c; c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE))
		for (unsigned i = 0; i < SRCU_CHUNK_SLOTS; i++)
			srcu_wait_slot(&c->slots[i]);
}

struct srcu_poll {
	size_t n;
	struct {
		const struct srcu_slot *slot;
		uint64_t seq; /* odd: the section in progress at the start */
	} w[];
};

struct srcu_poll *srcu_poll_start(void)
{
	size_t cap = 0;
	struct srcu_poll *p;

	if (srcu_use_fence || ubp_membarrier())
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	/*
	 * A reader inside at the barrier has its slot in a chunk linked by then:
	 * room for every slot of those chunks (chunks linked later hold only
	 * readers that began after the barrier, which see what was published).
	 */
	for (struct srcu_chunk *c = &first_chunk; c; c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE))
		cap += SRCU_CHUNK_SLOTS;
	p = malloc(sizeof(*p) + cap * sizeof(p->w[0]));
	if (!p)
		return NULL;
	p->n = 0;
	for (struct srcu_chunk *c = &first_chunk; c && p->n < cap;
	     c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE)) {
		for (unsigned i = 0; i < SRCU_CHUNK_SLOTS && p->n < cap; i++) {
			uint64_t seq = __atomic_load_n(&c->slots[i].seq, __ATOMIC_ACQUIRE);

			if ((seq & 1) && __atomic_load_n(&c->slots[i].used, __ATOMIC_ACQUIRE)) {
				p->w[p->n].slot = &c->slots[i];
				p->w[p->n++].seq = seq;
			}
		}
	}
	return p;
}

/* A slot's sequence only moves on: at the section's end, the thread's exit, a fork's reset. */
bool srcu_poll_done(const struct srcu_poll *p)
{
	for (size_t i = 0; i < p->n; i++)
		if (__atomic_load_n(&p->w[i].slot->seq, __ATOMIC_ACQUIRE) == p->w[i].seq)
			return false;
	return true;
}

/* In the child only the forking thread exists: every other slot is free. */
static void srcu_atfork_child(void)
{
	for (struct srcu_chunk *c = &first_chunk; c; c = c->next) {
		for (unsigned i = 0; i < SRCU_CHUNK_SLOTS; i++) {
			struct srcu_slot *s = &c->slots[i];

			if (s == srcu_tls.self) {
				s->tid = (int)raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
				continue;
			}
			s->seq = 0;
			s->used = SRCU_FREE;
		}
	}
}

static pthread_once_t srcu_once = PTHREAD_ONCE_INIT;

static void srcu_init_once(void)
{
	pthread_key_create(&srcu_key, srcu_thread_exit);
	srcu_use_fence = ubp_membarrier() != 0;
	pthread_atfork(NULL, NULL, srcu_atfork_child);
}

void srcu_init(void)
{
	pthread_once(&srcu_once, srcu_init_once);
}
