/* SPDX-License-Identifier: MIT */
/*
 * Shared-memory rings, the producer side (see ring.h for the protocol and
 * ring_shm.h for the file layout). trace_ring_reserve/commit/discard run in
 * probe handlers, also inside the SIGTRAP handler: no system call, no libc
 * call, no SIMD (the Makefile builds this file with HOT_CFLAGS).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trace/ring_shm.h"

struct trace_rings {
	int fd;
	unsigned int n_rings;
	uint32_t max_len; /* ring_bytes / 4 */
	uint64_t ring_bytes, mask;
	struct trace_shm_map map;
	struct trace_shm_ring ring[];
};

/*
 * Which ring the calling thread writes to: 0 until its first reservation,
 * then 1 + a round-robin number (shared by every trace_rings; reduced modulo
 * n_rings at each use). Initial-exec so that reading it is one load from %fs,
 * never a call into the dynamic linker's TLS code.
 */
static __thread unsigned int thread_slot __attribute__((tls_model("initial-exec")));
static unsigned int next_slot;

/*
 * A signal handler may reserve between the outer reservation's read of
 * thread_slot and its write: the CAS keeps whichever number was stored first,
 * so the thread uses one ring from its first record on.
 */
static unsigned int slot_of_thread(void)
{
	unsigned int slot = __atomic_load_n(&thread_slot, __ATOMIC_RELAXED), zero = 0;

	if (__builtin_expect(slot != 0, 1))
		return slot - 1;
	slot = __atomic_fetch_add(&next_slot, 1, __ATOMIC_RELAXED) % 0x7fffffffu + 1;
	if (!__atomic_compare_exchange_n(&thread_slot, &zero, slot, 0, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		slot = zero;
	return slot - 1;
}

/*
 * Reserve by CAS on producer_pos; the consumer's position is read first, so
 * that it can never be ahead of the producer position it is compared with
 * (consumer_pos <= producer_pos at every instant, and producer_pos only
 * grows). Acquire on consumer_pos orders the header store below after the
 * consumer zeroed this space. A signal handler that interrupts us between the
 * loads and the CAS makes the CAS fail: we retry past its records. One that
 * interrupts us after the CAS reserves after our record, which stays busy
 * (and holds the consumer back) until we commit; until our header store, our
 * len word reads 0, which the consumer also takes for "not ready".
 * Refused, and counted in lost: a full ring, len under a header, not a
 * multiple of 8, or over a quarter ring.
 */
static struct trace_raw *reserve(struct trace_rings *r, uint32_t len, int count_lost)
{
	const struct trace_shm_ring *ring = &r->ring[slot_of_thread() % r->n_rings];
	struct trace_shm_ctrl *c = ring->ctrl;
	uint64_t cons, pos;
	struct trace_raw *rec;

	if (__builtin_expect(len < sizeof(*rec) || len > r->max_len || (len & 7), 0))
		goto lost;
	do {
		cons = __atomic_load_n(&c->consumer_pos, __ATOMIC_ACQUIRE);
		pos = __atomic_load_n(&c->producer_pos, __ATOMIC_RELAXED);
		if (pos + len - cons > r->ring_bytes)
			goto lost;
	} while (!__atomic_compare_exchange_n(&c->producer_pos, &pos, pos + len, 0,
					      __ATOMIC_RELAXED, __ATOMIC_RELAXED));
	rec = (struct trace_raw *)(ring->data + (pos & r->mask));
	__atomic_store_n(&rec->len, len | TRACE_RAW_BUSY, __ATOMIC_RELAXED);
	return rec;
lost:
	if (count_lost)
		__atomic_fetch_add(&c->lost, 1, __ATOMIC_RELAXED);
	return NULL;
}

struct trace_raw *trace_ring_reserve(struct trace_rings *r, uint32_t len)
{
	return reserve(r, len, 1);
}

struct trace_raw *trace_ring_reserve_quiet(struct trace_rings *r, uint32_t len)
{
	return reserve(r, len, 0);
}

/* The whole word is stored (not just the bit cleared): the consumer reads it once. */
void trace_ring_commit(struct trace_raw *rec)
{
	uint32_t len = rec->len & TRACE_RAW_LEN_MASK;

	__atomic_store_n(&rec->len, len, __ATOMIC_RELEASE);
}

void trace_ring_discard(struct trace_raw *rec)
{
	uint32_t len = rec->len & TRACE_RAW_LEN_MASK;

	__atomic_store_n(&rec->len, len | TRACE_RAW_DISCARD, __ATOMIC_RELEASE);
}

/* ---- creating and mapping the memfd (not signal-safe) ------------------------------ */

int trace_shm_layout(struct trace_shm_hdr *h, unsigned int n_rings, uint64_t ring_bytes,
		     uint32_t page_size)
{
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
		.ctrl_off = page_size,
		.ring_stride = page_size + ring_bytes,
		.data_off = page_size,
		.file_size = page_size + n_rings * (page_size + ring_bytes),
		.max_record = (uint32_t)(ring_bytes / 4),
	};
	return 0;
}

static int map_fixed(void *at, size_t len, int fd, uint64_t off, int populate)
{
	int flags = MAP_SHARED | MAP_FIXED | (populate ? MAP_POPULATE : 0);
	void *p = mmap(at, len, PROT_READ | PROT_WRITE, flags, fd, (off_t)off);

	return p == MAP_FAILED ? -errno : 0;
}

/* Address space first (PROT_NONE), then every piece MAP_FIXED into it. */
int trace_shm_map(int fd, const struct trace_shm_hdr *h, int populate, struct trace_shm_map *m,
		  struct trace_shm_ring *rings)
{
	size_t page = h->page_size, stride = page + 2 * h->ring_bytes;
	uint8_t *base, *at;
	int err;

	m->len = page + h->n_rings * stride;
	base = mmap(NULL, m->len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	m->base = base;
	m->hdr = (struct trace_shm_hdr *)base;
	err = map_fixed(base, page, fd, 0, 0);
	for (unsigned int i = 0; i < h->n_rings && !err; i++) {
		uint64_t ctrl = h->ctrl_off + i * h->ring_stride, data = ctrl + h->data_off;

		at = base + page + i * stride;
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
	int err = trace_shm_layout(&h, n_rings, ring_bytes, (uint32_t)page);

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
	r->fd = rings_file(&h);
	err = r->fd < 0 ? r->fd : trace_shm_map(r->fd, &h, 1, &r->map, r->ring);
	if (err)
		goto fail_free;
	*r->map.hdr = h; /* last: a consumer checks the magic before anything else */
	return r;
fail_free:
	if (r->fd >= 0)
		close(r->fd);
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
	close(r->fd);
	free(r);
}

int trace_rings_fd(const struct trace_rings *r)
{
	return r ? r->fd : -EINVAL;
}
