/* SPDX-License-Identifier: MIT */
/*
 * Shared-memory rings, the producer side (see ring.h for the protocol and
 * ring_shm.h for the file layout). trace_ring_reserve/commit/discard run in
 * probe handlers, also inside the SIGTRAP handler: no system call, no libc
 * call, no SIMD (the Makefile builds this file with HOT_CFLAGS).
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "trace/transport/ring_shm.h"
#include "util/ctor.h"
#include "util/fd.h"
#include "util/thread_token.h"

struct trace_rings {
	struct fd_kept file; /* the memfd, in the program's descriptor table */
	unsigned int n_rings;
	uint32_t max_len; /* ring_bytes / 4 */
	uint64_t ring_bytes, mask;
	struct trace_shm_map map; /* map.lost: the lost table (ring_shm.h) */
	struct trace_shm_ring ring[];
};

/*
 * Which ring a thread writes to. A ring has two ways to be written:
 *
 *  - owned: one thread claimed it (ctrl->owner = its pid << 32 | tid) and is
 *    its only writer, so it moves producer_pos with a plain store, no CAS
 *    (the CAS costs ~9 ns of a ~30 ns event here);
 *  - shared: ring 0 is never owned; threads that find no free ring, and
 *    records written from a signal handler that interrupted its thread's own
 *    reservation, reserve there with a CAS.
 *
 * A thread claims a ring at its first record in a session: the ring after the
 * last one claimed, round robin, that was never owned, or else one whose
 * owner exited (tgkill with signal 0 says ESRCH): that one may still hold
 * unread records. It keeps it, so its records stay in order. The
 * claim is cached per thread for one session (initial-exec TLS); a thread
 * writing into another session finds its ring there by a scan of the owners.
 * A fork child starts over (its tid is new; the parent keeps its rings).
 */
struct ring_self {
	const struct trace_rings *rings; /* the session of the cached claim */
	unsigned int ring;		  /* its ring, 0 = shared */
	unsigned int busy;		  /* inside an owned reservation */
	unsigned int open;		  /* records reserved, not yet committed or discarded */
	uint64_t token;			  /* pid << 32 | tid, 0 until known */
};

static __thread struct ring_self self __attribute__((tls_model("initial-exec")));
static unsigned int next_claim;

#define RING_QUIET UINT32_MAX /* bookkeeping (thread names): a refusal is not counted */
#define TRACE_BLOCK_WAIT_NS 1000000000ull /* --blocking: the longest wait for space (1 s) */

static uint64_t self_token(void)
{
	if (__builtin_expect(!self.token, 0))
		self.token = util_thread_token();
	return self.token;
}

/* A thread's first record in r (or r is not the cached session): find or claim its ring. */
static unsigned int claim(const struct trace_rings *r)
{
	uint64_t me = self_token();
	unsigned int n = r->n_rings, start;

	for (unsigned int i = 1; i < n; i++)
		if (__atomic_load_n(&r->ring[i].ctrl->owner, __ATOMIC_RELAXED) == me)
			return i;
	start = __atomic_fetch_add(&next_claim, 1, __ATOMIC_RELAXED);
	/*
	 * A ring never owned first: an exited thread's ring may still hold its
	 * records, unread, and leave the new owner little room.
	 */
	for (unsigned int k = 0; k < 2 * n; k++) {
		unsigned int i = (start + k) % n;
		uint64_t owner;

		if (!i)
			continue;
		owner = __atomic_load_n(&r->ring[i].ctrl->owner, __ATOMIC_RELAXED);
		if (owner && (k < n || !util_thread_gone(owner)))
			continue;
		/* Acquire: the previous owner's last producer_pos store is seen. */
		if (__atomic_compare_exchange_n(&r->ring[i].ctrl->owner, &owner, me, 0,
						__ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			return i;
	}
	return 0;
}

/*
 * A refused reservation of an event: counted for its event id, then for its
 * ring (release: a consumer that sees the ring's count sees the event's, see
 * ring_shm.h). The only writes a loss costs; a record that fits writes
 * neither line.
 */
static struct trace_raw *lost(const struct trace_rings *r, struct trace_shm_ctrl *c,
			      uint32_t event_id)
{
	if (event_id == RING_QUIET)
		return NULL;
	__atomic_fetch_add(&r->map.lost[event_id < TRACE_LOST_IDS ? event_id : TRACE_LOST_IDS], 1,
			   __ATOMIC_RELAXED);
	__atomic_fetch_add(&c->lost, 1, __ATOMIC_RELEASE);
	return NULL;
}

static struct trace_raw *start_record(const struct trace_rings *r, const struct trace_shm_ring *ring,
				      uint64_t pos, uint32_t len)
{
	struct trace_raw *rec = (struct trace_raw *)(ring->data + (pos & r->mask));

	__atomic_store_n(&rec->len, len | TRACE_RAW_BUSY, __ATOMIC_RELAXED);
	return rec;
}

/*
 * Shared ring: reserve by CAS on producer_pos; the consumer's position is
 * read first, so that it can never be ahead of the producer position it is
 * compared with (consumer_pos <= producer_pos at every instant, and
 * producer_pos only grows). Acquire on consumer_pos orders the header store
 * after the consumer zeroed this space. A signal handler that interrupts us
 * between the loads and the CAS makes the CAS fail: we retry past its
 * records. One that interrupts us after the CAS reserves after our record,
 * which stays busy (and holds the consumer back) until we commit.
 */
static struct trace_raw *reserve_shared(const struct trace_rings *r, uint32_t len, uint64_t *end)
{
	const struct trace_shm_ring *ring = &r->ring[0];
	struct trace_shm_ctrl *c = ring->ctrl;
	uint64_t cons, pos;

	do {
		cons = __atomic_load_n(&c->consumer_pos, __ATOMIC_ACQUIRE);
		pos = __atomic_load_n(&c->producer_pos, __ATOMIC_RELAXED);
		if (pos + len - cons > r->ring_bytes)
			return NULL;
	} while (!__atomic_compare_exchange_n(&c->producer_pos, &pos, pos + len, 0,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	*end = pos + len;
	return start_record(r, ring, pos, len);
}

/*
 * Owned ring: this thread is its only writer, except for a signal handler
 * that interrupts it here; self.busy sends that one to the shared ring.
 */
static struct trace_raw *reserve_owned(const struct trace_rings *r, unsigned int i, uint32_t len,
				       uint64_t *end)
{
	const struct trace_shm_ring *ring = &r->ring[i];
	struct trace_shm_ctrl *c = ring->ctrl;
	struct trace_raw *rec = NULL;
	uint64_t cons, pos;

	self.busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	cons = __atomic_load_n(&c->consumer_pos, __ATOMIC_ACQUIRE);
	pos = c->producer_pos;
	if (pos + len - cons <= r->ring_bytes) {
		__atomic_store_n(&c->producer_pos, pos + len, __ATOMIC_RELAXED);
		*end = pos + len;
		rec = start_record(r, ring, pos, len);
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	self.busy = 0;
	return rec;
}

static struct trace_raw *try_reserve(const struct trace_rings *r, unsigned int i, uint32_t len,
				     uint64_t *end)
{
	return i ? reserve_owned(r, i, len, end) : reserve_shared(r, len, end);
}

static uint64_t wait_now_ns(void)
{
	struct timespec ts = { 0, 0 };

	util_syscall3(SYS_clock_gettime, CLOCK_MONOTONIC, (long)&ts, 0);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__)
	__asm__ volatile("pause" ::: "memory");
#else
	__asm__ volatile("" ::: "memory");
#endif
}

/*
 * --blocking (the consumer set hdr->blocking): ring i is full, wait for the
 * consumer to free space rather than drop, as LTTng's blocking channels do.
 * Spin a little (pause), then give the CPU away (sched_yield, a raw system
 * call: this runs in probe handlers, signal handlers included), and look
 * again; bounded by TRACE_BLOCK_WAIT_NS. A wait that times out means the
 * consumer is gone or stalled: it turns blocking off for the whole session
 * (every producer drops and counts from then on, as without --blocking), so
 * a tracer that dies costs the target one wait, never a hang. A thread that
 * holds a record it has not committed (a handler nested in its own record)
 * does not wait: the consumer may be stopped at that very record.
 */
__attribute__((noinline, cold)) static struct trace_raw *
reserve_wait(const struct trace_rings *r, unsigned int i, uint32_t len, uint64_t *end)
{
	uint32_t *word = &r->map.hdr->blocking;
	struct trace_raw *rec;
	uint64_t start = 0;

	if (self.open)
		return NULL;
	for (unsigned int round = 0;; round++) {
		if (__atomic_load_n(word, __ATOMIC_RELAXED) != TRACE_SHM_BLOCKING)
			return NULL;
		for (int k = 0; k < 32; k++)
			cpu_relax();
		rec = try_reserve(r, i, len, end);
		if (rec)
			return rec;
		if (round < 8)
			continue;
		util_syscall3(SYS_sched_yield, 0, 0, 0);
		if (round % 16)
			continue;
		if (!start)
			start = wait_now_ns();
		else if (wait_now_ns() - start > TRACE_BLOCK_WAIT_NS)
			break;
	}
	__atomic_store_n(word, 0, __ATOMIC_RELAXED);
	return NULL;
}

static struct trace_raw *reserve(struct trace_rings *r, uint32_t len, uint32_t event_id,
				 unsigned int *ring, uint64_t *end)
{
	struct trace_raw *rec;
	unsigned int i = 0;

	if (__builtin_expect(len < sizeof(struct trace_raw) || len > r->max_len || (len & 7), 0))
		return lost(r, r->ring[0].ctrl, event_id);
	if (__builtin_expect(self.busy || r->n_rings == 1, 0))
		goto reserve;
	if (__builtin_expect(self.rings != r, 0)) {
		self.busy = 1; /* a nested record meanwhile goes to the shared ring */
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		self.ring = claim(r);
		self.rings = r;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		self.busy = 0;
	}
	i = self.ring;
reserve:
	rec = try_reserve(r, i, len, end);
	if (__builtin_expect(!rec, 0) && r->map.hdr->blocking == TRACE_SHM_BLOCKING)
		rec = reserve_wait(r, i, len, end);
	if (__builtin_expect(!rec, 0))
		return lost(r, r->ring[i].ctrl, event_id);
	*ring = i;
	self.open++;
	return rec;
}

struct trace_raw *trace_ring_reserve(struct trace_rings *r, uint32_t len, uint32_t event_id)
{
	unsigned int ring;
	uint64_t end;

	return reserve(r, len, event_id == RING_QUIET ? RING_QUIET - 1 : event_id, &ring, &end);
}

struct trace_raw *trace_ring_reserve_at(struct trace_rings *r, uint32_t len, uint32_t event_id,
					unsigned int *ring, uint64_t *end)
{
	return reserve(r, len, event_id == RING_QUIET ? RING_QUIET - 1 : event_id, ring, end);
}

struct trace_raw *trace_ring_reserve_quiet(struct trace_rings *r, uint32_t len)
{
	unsigned int ring;
	uint64_t end;

	return reserve(r, len, RING_QUIET, &ring, &end);
}

int trace_ring_wait_consumed(struct trace_rings *r, unsigned int ring, uint64_t end)
{
	uint32_t *word = &r->map.hdr->sync;
	uint64_t start = 0;

	if (ring >= r->n_rings || self.open)
		return -EAGAIN;
	const uint64_t *cons = &r->ring[ring].ctrl->consumer_pos;
	for (unsigned int round = 0;; round++) {
		if ((int64_t)(__atomic_load_n(cons, __ATOMIC_ACQUIRE) - end) >= 0)
			return 0;
		if (__atomic_load_n(word, __ATOMIC_RELAXED) != TRACE_SHM_SYNC)
			return -EAGAIN;
		if (round < 64) {
			for (int k = 0; k < 32; k++)
				cpu_relax();
			continue;
		}
		if (round < 128) {
			util_syscall3(SYS_sched_yield, 0, 0, 0);
			continue;
		}
		struct timespec nap = { .tv_nsec = 20000 }; /* the tracer naps 200 us at most */

		util_syscall3(SYS_nanosleep, (long)&nap, 0, 0);
		if (round % 16)
			continue;
		if (!start)
			start = wait_now_ns();
		else if (wait_now_ns() - start > TRACE_SYNC_WAIT_NS)
			break;
	}
	__atomic_store_n(word, 0, __ATOMIC_RELAXED);
	return -EAGAIN;
}

/* After fork, in the child: a new thread id, no claim (the parent keeps its rings). */
static void ring_atfork_child(void)
{
	self.token = 0;
	self.rings = NULL;
	self.ring = 0;
	self.busy = 0;
	self.open = 0;
}

UPROBES_CTOR_EARLY static void ring_init(void)
{
	pthread_atfork(NULL, NULL, ring_atfork_child);
}

/* The whole word is stored (not just the bit cleared): the consumer reads it once. */
void trace_ring_commit(struct trace_raw *rec)
{
	uint32_t len = rec->len & TRACE_RAW_LEN_MASK;

	__atomic_store_n(&rec->len, len, __ATOMIC_RELEASE);
	self.open--;
}

void trace_ring_discard(struct trace_raw *rec)
{
	uint32_t len = rec->len & TRACE_RAW_LEN_MASK;

	__atomic_store_n(&rec->len, len | TRACE_RAW_DISCARD, __ATOMIC_RELEASE);
	self.open--;
}

/* ---- creating and mapping the memfd (not signal-safe) ------------------------------ */

int trace_shm_layout(struct trace_shm_hdr *h, unsigned int n_rings, uint64_t ring_bytes,
		     uint32_t page_size)
{
	uint64_t lost_bytes = (TRACE_SHM_LOST_SLOTS * 8ull + page_size - 1) & ~(page_size - 1ull);

	if (!n_rings || n_rings > TRACE_SHM_MAX_RINGS || ring_bytes < page_size ||
	    ring_bytes > TRACE_SHM_MAX_RING || (ring_bytes & (ring_bytes - 1)))
		return -EINVAL;
	*h = (struct trace_shm_hdr){
		.magic = TRACE_SHM_MAGIC,
		.version = TRACE_SHM_VERSION,
		.hdr_size = sizeof(*h),
		.page_size = page_size,
		.n_rings = n_rings,
		.ring_bytes = ring_bytes,
		.ctrl_off = page_size + lost_bytes,
		.ring_stride = page_size + ring_bytes,
		.data_off = page_size,
		.file_size = page_size + lost_bytes + n_rings * (page_size + ring_bytes),
		.max_record = (uint32_t)(ring_bytes / 4),
		.lost_off = page_size,
		.lost_slots = TRACE_SHM_LOST_SLOTS,
	};
	return 0;
}

static int map_fixed(void *at, size_t len, int fd, uint64_t off, int populate)
{
	int flags = MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0);
	void *p = mmap(at, len, PROT_READ | PROT_WRITE, flags, fd, (off_t)off);

	return p == MAP_FAILED ? -errno : 0;
}

/*
 * Address space first (PROT_NONE), then every piece MAP_FIXED into it: the
 * header page and the lost table in one piece, then each ring.
 */
int trace_shm_map(int fd, const struct trace_shm_hdr *h, int populate, struct trace_shm_map *m,
		  struct trace_shm_ring *rings)
{
	size_t page = h->page_size, stride = page + 2 * h->ring_bytes, head = h->ctrl_off;
	uint8_t *base, *at;
	int err;

	m->len = head + h->n_rings * stride;
	base = mmap(NULL, m->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	m->base = base;
	m->hdr = (struct trace_shm_hdr *)base;
	m->lost = (uint64_t *)(base + h->lost_off);
	err = map_fixed(base, head, fd, 0, 0);
	for (unsigned int i = 0; i < h->n_rings && !err; i++) {
		uint64_t ctrl = h->ctrl_off + i * h->ring_stride, data = ctrl + h->data_off;

		at = base + head + i * stride;
		rings[i].ctrl = (struct trace_shm_ctrl *)at;
		rings[i].data = at + page;
		err = map_fixed(at, page, fd, ctrl, 0);
		if (!err)
			err = map_fixed(at + page, h->ring_bytes, fd, data, populate);
		if (!err)
			err = map_fixed(at + page + h->ring_bytes, h->ring_bytes, fd, data,
					populate);
	}
	if (err)
		munmap(base, m->len);
	return err;
}

void trace_shm_unmap(struct trace_shm_map *m)
{
	if (m->base)
		munmap(m->base, m->len);
	m->base = NULL;
}

/*
 * The file cannot shrink or grow once made (sealed): a consumer that mapped
 * it never touches a page past its end.
 */
static int rings_file(const struct trace_shm_hdr *h)
{
	int fd = memfd_create("uprobes-trace", MFD_CLOEXEC | MFD_ALLOW_SEALING), err;

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)h->file_size) ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) {
		err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

struct trace_rings *trace_rings_new(unsigned int n_rings, size_t ring_bytes)
{
	long page = sysconf(_SC_PAGESIZE);
	struct trace_shm_hdr h;
	struct trace_rings *r;
	int fd, err = trace_shm_layout(&h, n_rings, ring_bytes, (uint32_t)page);

	if (err)
		goto fail;
	h.producer_pid = (uint32_t)getpid();
	r = calloc(1, sizeof(*r) + n_rings * sizeof(r->ring[0]));
	if (!r) {
		err = -ENOMEM;
		goto fail;
	}
	r->n_rings = n_rings;
	r->ring_bytes = ring_bytes;
	r->mask = ring_bytes - 1;
	r->max_len = h.max_record;
	fd = rings_file(&h);
	/*
	 * Not populated: a ring's pages come in at its first records (a fault
	 * per page, once), so that a process pays nothing for the rings its
	 * threads never use (8 MB per image, each zeroed, was a third of a
	 * traced process's start-up).
	 */
	err = fd < 0 ? fd : trace_shm_map(fd, &h, 0, &r->map, r->ring);
	if (err)
		goto fail_free;
	fd_keep(&r->file, fd);
	*r->map.hdr = h; /* last: a consumer checks the magic before anything else */
	return r;
fail_free:
	if (fd >= 0)
		close(fd);
	free(r);
fail:
	errno = -err;
	return NULL;
}

/* The memfd stays valid for consumers that mapped it or hold a duplicate. */
void trace_rings_free(struct trace_rings *r)
{
	if (!r)
		return;
	trace_shm_unmap(&r->map);
	fd_kept_close(&r->file); /* unless the program closed it meanwhile */
	free(r);
}

int trace_rings_fd(const struct trace_rings *r)
{
	if (!r)
		return -EINVAL;
	return fd_kept_valid(&r->file) ? r->file.fd : -EBADF;
}
