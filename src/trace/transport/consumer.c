/* SPDX-License-Identifier: MIT */
/*
 * The consumer: any process holding a session's memfd maps it (its own
 * mapping, read-write: it moves consumer_pos and zeroes what it has read, see
 * ring_shm.h), walks the rings and hands each event record to a callback as
 * a struct trace_record. Producers never wake it, so a poll that finds
 * nothing naps, 50 us at first and up to 1 ms. One consumer per memfd at a
 * time; the positions it leaves let another one continue later.
 *
 * Records a thread writes are in its ring in order; rings are read one after
 * the other, so records of different threads come out in no global order.
 *
 * Polling back to back is slow: the consumer keeps catching up with the
 * producers, and then each record's cache line moves between CPUs twice
 * (written, polled). A consumer that naps ~20 us after a poll that returned
 * few records (bench/bench_ring.c: under 1024) reads in batches instead:
 * on a 2-CPU VM, 10M records/s back to back, 30M (the producer's pace)
 * batching, 60M+ draining a backlog.
 *
 * The traced process writes the whole file and may be hostile (docs/security.md,
 * "Shared memory"). So: the fd must be a sealed memfd of the header's size;
 * the header is read once, into our own memory; consumer_pos and consumed
 * are ours (the shared words are written, never read back, except to see
 * whether someone else moved consumer_pos); every other shared word is read
 * once and checked before use; a record is copied out of its ring before it
 * is checked and handed over; a walk never goes further than a lap of the
 * ring, nor a poll further than its budget; the thread table is bounded. A
 * ring holding what no producer writes is corrupted: we stop reading it and
 * say so (corrupt()), once.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uprobes_trace.h"
#include "trace/transport/consumer_clock.h"
#include "trace/transport/ring_shm.h"
#include "util/log.h"

/* A thread seen in the rings: its name (from TRACE_RAW_COMM) and latest timestamp. */
struct tid_entry {
	uint32_t tid; /* 0: free slot */
	uint32_t pad;
	uint64_t last_ns;
	char comm[16];
};

/* Open addressing, cap a power of two. */
struct tid_tab {
	struct tid_entry *e;
	size_t cap, used;
};

/*
 * Threads per generation of the thread table. A generation ends when it has
 * seen TID_GEN threads; the next one starts empty and takes over the
 * previous one's threads as they show up again; those that do not before it
 * ends too are forgotten. So the table keeps the last TID_GEN to 2 * TID_GEN
 * threads seen (4 MiB at most), whatever tids the traced process writes.
 */
#define TID_GEN 32768

/* What the consumer knows of a ring that the shared memory does not tell it. */
struct ring_state {
	uint64_t cons;	    /* consumer position: ctrl->consumer_pos is written, never trusted */
	uint64_t consumed;  /* events consumed, ever: likewise for ctrl->consumed */
	uint64_t lost_seen; /* ctrl->lost at the last read: a counter never goes down */
	bool corrupt;	    /* no longer read */
};

/* Lost counters above this cannot be honest: one loss a nanosecond for 2.3 years. */
#define LOST_MAX (1ull << 56)

struct trace_consumer {
	unsigned int n_rings;
	unsigned int next_ring; /* where the next poll starts (after one that ran out of budget) */
	uint32_t max_len;
	uint64_t ring_bytes, mask;
	uint64_t batch;	 /* bytes read between two moves of consumer_pos */
	uint64_t budget; /* bytes read per poll at most */
	struct trace_shm_map map;
	struct consumer_clock clock;
	struct tid_tab tids, old_tids; /* this generation, the previous one */
	size_t old_moved;	       /* threads of old_tids taken over by tids */
	uint64_t forgotten;
	struct tid_entry *tid_last; /* the previous lookup (threads write in runs) */
	uint8_t *rec;		    /* the record being handed over, copied out of its ring */
	struct ring_state *rs;
	unsigned int n_corrupt, first_corrupt;
	bool unreported; /* a ring found corrupted since the last poll returned */
	uint64_t corrupt_pos;
	char corruption[128]; /* the first corruption found */
	char latest[128];     /* the last one */
	struct trace_shm_ring ring[];
};

/* ---- the thread table ---------------------------------------------------------------- */

static struct tid_entry *tid_slot(const struct tid_tab *t, uint32_t tid)
{
	size_t i = (tid * 0x9e3779b1u) & (t->cap - 1);

	while (t->e[i].tid && t->e[i].tid != tid)
		i = (i + 1) & (t->cap - 1);
	return &t->e[i];
}

static struct tid_entry *tid_find(const struct tid_tab *t, uint32_t tid)
{
	struct tid_entry *e;

	if (!t->used)
		return NULL;
	e = tid_slot(t, tid);
	return e->tid ? e : NULL;
}

static int tid_grow(struct tid_tab *t)
{
	size_t cap = t->cap ? 2 * t->cap : 64;
	struct tid_tab g = {.e = calloc(cap, sizeof(*g.e)), .cap = cap, .used = t->used};

	if (!g.e)
		return -ENOMEM;
	for (size_t i = 0; i < t->cap; i++)
		if (t->e[i].tid)
			*tid_slot(&g, t->e[i].tid) = t->e[i];
	free(t->e);
	*t = g;
	return 0;
}

/* A new generation: the threads of the previous one not seen again are forgotten. */
static void tid_rotate(struct trace_consumer *c)
{
	c->forgotten += c->old_tids.used - c->old_moved;
	free(c->old_tids.e);
	c->old_tids = c->tids;
	c->tids = (struct tid_tab){0};
	c->old_moved = 0;
}

/* The thread's entry, made on first sight; NULL for tid 0 or without memory. */
static struct tid_entry *tid_get(struct trace_consumer *c, uint32_t tid)
{
	struct tid_entry *t, *old;

	if (c->tid_last && c->tid_last->tid == tid)
		return c->tid_last;
	if (!tid)
		return NULL;
	t = tid_find(&c->tids, tid);
	if (!t) {
		if (c->tids.used >= TID_GEN)
			tid_rotate(c);
		c->tid_last = NULL;
		if (4 * (c->tids.used + 1) > 3 * c->tids.cap && tid_grow(&c->tids))
			return NULL;
		old = tid_find(&c->old_tids, tid);
		t = tid_slot(&c->tids, tid);
		*t = old ? *old : (struct tid_entry){.tid = tid};
		c->old_moved += old != NULL;
		c->tids.used++;
	}
	c->tid_last = t;
	return t;
}

#define PREFETCH_AFTER 4096
#define PREFETCH_AHEAD 512

/* ---- corruption ---------------------------------------------------------------------- */

/*
 * Ring i holds at pos what no producer writes: it is not read again. The
 * first one is kept for trace_consumer_stats; the poll returns -EBADMSG with
 * the last one as the error.
 */
__attribute__((format(printf, 4, 5))) static void corrupt(struct trace_consumer *c, unsigned int i,
							  uint64_t pos, const char *fmt, ...)
{
	char why[96];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	c->rs[i].corrupt = true;
	c->unreported = true;
	snprintf(c->latest, sizeof(c->latest), "ring %u corrupted at %llu (%s); stopped reading it",
		 i, (unsigned long long)pos, why);
	if (c->n_corrupt++)
		return;
	c->first_corrupt = i;
	c->corrupt_pos = pos;
	memcpy(c->corruption, c->latest, sizeof(c->corruption));
}

/*
 * Ring i's producer position, read once into *prod: one a producer can
 * leave, seen from our consumer position cons, is 8-byte aligned, not behind
 * it, at most a ring ahead; any other makes the ring corrupted.
 */
static bool producer_pos_ok(struct trace_consumer *c, unsigned int i, uint64_t cons,
			    uint64_t *prod)
{
	*prod = __atomic_load_n(&c->ring[i].ctrl->producer_pos, __ATOMIC_ACQUIRE);
	if (!(*prod & 7) && *prod >= cons && *prod - cons <= c->ring_bytes)
		return true;
	corrupt(c, i, cons, "producer position %llu", (unsigned long long)*prod);
	return false;
}

/* ---- records ---------------------------------------------------------------------- */

static void take_comm(struct trace_consumer *c, const struct trace_raw *raw)
{
	struct tid_entry *t = tid_get(c, raw->tid);

	if (!t)
		return;
	memcpy(t->comm, raw + 1, 16);
	t->comm[15] = '\0';
}

/*
 * The TSC is converted at every record: calibration moves a little when it is
 * refreshed, so a thread's timestamps are held non-decreasing (by at most the
 * size of that move, tens of ns).
 */
static int deliver_event(struct trace_consumer *c, const struct trace_raw *raw, uint32_t len,
			 trace_record_fn fn, void *ctx)
{
	struct tid_entry *t = tid_get(c, raw->tid);
	struct trace_record rec = {
		.event_id = raw->event_id,
		.flags = raw->flags,
		.ts_ns = consumer_clock_ns(&c->clock, raw->tsc),
		.entry_ts_ns = raw->entry_tsc ? consumer_clock_ns(&c->clock, raw->entry_tsc) : 0,
		.pid = raw->pid,
		.tid = raw->tid,
		.cpu = raw->cpu,
		.comm = t ? t->comm : "",
		.ip = raw->ip,
		.func = raw->func,
		.data = (const uint8_t *)(raw + 1),
		.data_len = len - (uint32_t)sizeof(*raw),
	};

	if (t && rec.ts_ns < t->last_ns)
		rec.ts_ns = t->last_ns;
	else if (t)
		t->last_ns = rec.ts_ns;
	return fn(&rec, ctx);
}

/* A committed record's len word is sane if it fits what is left of the ring's content. */
static bool len_ok(const struct trace_consumer *c, uint32_t len, uint64_t left)
{
	return len >= sizeof(struct trace_raw) && !(len & 7) && len <= c->max_len && len <= left;
}

/*
 * The consumer owns [from, to): zero it (the next reservations there must
 * read len 0 until their header is written), count it, then hand it back.
 * The double mapping makes the range contiguous.
 */
static void ring_release(struct trace_consumer *c, unsigned int i, uint64_t from, uint64_t to,
			 uint64_t records)
{
	struct trace_shm_ctrl *ctl = c->ring[i].ctrl;
	struct ring_state *rs = &c->rs[i];

	if (to == from)
		return;
	memset(c->ring[i].data + (from & c->mask), 0, to - from);
	rs->cons = to;
	rs->consumed += records;
	__atomic_store_n(&ctl->consumed, rs->consumed, __ATOMIC_RELAXED);
	__atomic_store_n(&ctl->consumer_pos, to, __ATOMIC_RELEASE);
}

/*
 * A committed record at pos of ring i, copied out of the ring: an event goes
 * to fn, a name to the table; anything else is corruption. Returns fn's value.
 */
static int take_record(struct trace_consumer *c, unsigned int i, uint64_t pos,
		       const struct trace_raw *raw, uint32_t len, trace_record_fn fn, void *ctx)
{
	if (raw->type == TRACE_RAW_EVENT)
		return deliver_event(c, raw, len, fn, ctx);
	if (raw->type == TRACE_RAW_COMM && len == sizeof(*raw) + 16)
		take_comm(c, raw);
	else if (raw->type == TRACE_RAW_COMM)
		corrupt(c, i, pos, "thread name record of %u bytes", len);
	else
		corrupt(c, i, pos, "record type %u", raw->type);
	return 0;
}

/*
 * Read ring i from our consumer position, at most a lap and *budget bytes
 * (less what was read), up to the first record that is busy or not written
 * yet. producer_pos is not read on the way: what lies past it reads 0
 * (ring_shm.h), and leaving its cache line alone spares the producers' CAS a
 * transfer per record; it is checked once at the end of a pass that read
 * something. A record must end within a lap of the last released position
 * (from): producers write no further. Each record is read from the ring once,
 * by one memcpy, and used from that copy. Returns 0 or fn's non-zero value.
 *
 * Prefetching pays when draining a backlog (+25% here) but costs when the
 * consumer is at the producers' heels, where the lines ahead are being
 * written (-30%): it starts once this pass has read PREFETCH_AFTER bytes.
 */
static int ring_drain(struct trace_consumer *c, unsigned int i, trace_record_fn fn, void *ctx,
		      int *events, uint64_t *budget)
{
	const struct trace_shm_ring *ring = &c->ring[i];
	struct ring_state *rs = &c->rs[i];
	uint64_t start = rs->cons, pos = start, from = start, records = 0;
	uint64_t end = start + (c->ring_bytes < *budget ? c->ring_bytes : *budget);
	uint64_t shared = __atomic_load_n(&ring->ctrl->consumer_pos, __ATOMIC_RELAXED), prod;
	int ret = 0;

	if (rs->corrupt)
		return 0;
	if (shared != start) {
		corrupt(c, i, start, "its consumer position was moved to %llu",
			(unsigned long long)shared);
		return 0;
	}
	while (pos < end && !ret) {
		const struct trace_raw *raw = (const void *)(ring->data + (pos & c->mask));
		uint32_t word = __atomic_load_n(&raw->len, __ATOMIC_ACQUIRE);
		uint32_t len = word & TRACE_RAW_LEN_MASK;
		const struct trace_raw *copy = (const void *)c->rec;

		if (!word || (word & TRACE_RAW_BUSY))
			break;
		if (!len_ok(c, len, from + c->ring_bytes - pos)) {
			corrupt(c, i, pos, "record length 0x%x", word);
			break;
		}
		if (pos - start >= PREFETCH_AFTER)
			__builtin_prefetch(ring->data + ((pos + PREFETCH_AHEAD) & c->mask));
		if (!(word & TRACE_RAW_DISCARD)) {
			memcpy(c->rec, raw, len);
			ret = take_record(c, i, pos, copy, len, fn, ctx);
			if (rs->corrupt)
				break;
			records += copy->type == TRACE_RAW_EVENT;
			*events += copy->type == TRACE_RAW_EVENT;
		}
		pos += len;
		if (pos - from >= c->batch) {
			ring_release(c, i, from, pos, records);
			from = pos;
			records = 0;
		}
	}
	ring_release(c, i, from, pos, records);
	*budget -= pos - start < *budget ? pos - start : *budget;
	if (pos != start && !rs->corrupt)
		producer_pos_ok(c, i, pos, &prod);
	return ret;
}

/* ---- creating ---------------------------------------------------------------------- */

static int check_header(const struct trace_shm_hdr *h, uint64_t file_size)
{
	long page = sysconf(_SC_PAGESIZE);
	struct trace_shm_hdr want;

	if (h->magic != TRACE_SHM_MAGIC)
		return log_error(EINVAL, "not a uprobes trace buffer (magic 0x%016llx)",
				 (unsigned long long)h->magic);
	if (h->version != TRACE_SHM_VERSION || h->hdr_size != sizeof(*h))
		return log_error(EINVAL, "trace buffer version %u (header %u bytes), want %u (%zu)",
				 h->version, h->hdr_size, TRACE_SHM_VERSION, sizeof(*h));
	if (h->page_size != (uint64_t)page)
		return log_error(EINVAL, "trace buffer made for %u-byte pages, not %ld",
				 h->page_size, page);
	if (trace_shm_layout(&want, h->n_rings, h->ring_bytes, h->page_size))
		return log_error(EINVAL, "trace buffer: bad shape: %u rings of %llu bytes",
				 h->n_rings, (unsigned long long)h->ring_bytes);
	if (h->ctrl_off != want.ctrl_off || h->ring_stride != want.ring_stride ||
	    h->data_off != want.data_off || h->max_record != want.max_record ||
	    h->file_size != want.file_size)
		return log_error(EINVAL,
				 "trace buffer: header offsets do not match %u rings of "
				 "%llu bytes",
				 h->n_rings, (unsigned long long)h->ring_bytes);
	if (file_size != want.file_size)
		return log_error(EINVAL, "trace buffer: file is %llu bytes, its header says %llu",
				 (unsigned long long)file_size, (unsigned long long)want.file_size);
	return 0;
}

/*
 * Each ring as found: consumer_pos <= producer_pos <= consumer_pos + ring_bytes,
 * both 8-byte aligned, and no more events consumed than fit before
 * consumer_pos. Taken once: from now on consumer_pos and consumed are ours.
 */
static int check_rings(struct trace_consumer *c)
{
	for (unsigned int i = 0; i < c->n_rings; i++) {
		const struct trace_shm_ctrl *ctl = c->ring[i].ctrl;
		uint64_t cons = __atomic_load_n(&ctl->consumer_pos, __ATOMIC_ACQUIRE);
		uint64_t prod = __atomic_load_n(&ctl->producer_pos, __ATOMIC_ACQUIRE);
		uint64_t consumed = __atomic_load_n(&ctl->consumed, __ATOMIC_RELAXED);

		if ((cons | prod) & 7 || prod < cons || prod - cons > c->ring_bytes)
			return log_error(EINVAL, "trace buffer: ring %u: positions %llu..%llu", i,
					 (unsigned long long)cons, (unsigned long long)prod);
		if (consumed > cons / sizeof(struct trace_raw))
			return log_error(EINVAL,
					 "trace buffer: ring %u: %llu events consumed before "
					 "position %llu",
					 i, (unsigned long long)consumed, (unsigned long long)cons);
		c->rs[i].cons = cons;
		c->rs[i].consumed = consumed;
	}
	return 0;
}

/* A memfd that can neither shrink (SIGBUS in the tracer) nor grow, nor lose its seals. */
static int check_seals(int memfd)
{
	int want = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL;
	int seals = fcntl(memfd, F_GET_SEALS);

	if (seals < 0)
		return log_error(EPERM, "trace_consumer_new: fd %d is not a sealed memfd (%s)", memfd,
				 strerror(errno));
	if ((seals & want) != want)
		return log_error(EPERM,
				 "trace_consumer_new: fd %d: memfd seals 0x%x lack "
				 "F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL (its size could change "
				 "under the tracer)",
				 memfd, seals);
	return 0;
}

/* The header, read once into h, checked against the file's size, taken once too. */
static int read_header(int memfd, struct trace_shm_hdr *h)
{
	struct stat st;
	ssize_t n;
	int err;

	if (fstat(memfd, &st))
		return log_error(errno, "trace_consumer_new: fd %d: %s", memfd, strerror(errno));
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(*h))
		return log_error(EINVAL,
				 "trace_consumer_new: fd %d is not a trace buffer "
				 "(%lld bytes)",
				 memfd, (long long)st.st_size);
	err = check_seals(memfd);
	if (err)
		return err;
	n = pread(memfd, h, sizeof(*h), 0);
	if (n != (ssize_t)sizeof(*h))
		return log_error(n < 0 ? errno : EIO, "trace_consumer_new: reading the header: %s",
				 n < 0 ? strerror(errno) : "short read");
	return check_header(h, (uint64_t)st.st_size);
}

UPROBE_API struct trace_consumer *trace_consumer_new(int memfd)
{
	struct trace_shm_hdr h;
	struct trace_consumer *c;
	int err = read_header(memfd, &h);

	if (err)
		goto fail;
	c = calloc(1, sizeof(*c) + h.n_rings * sizeof(c->ring[0]));
	if (c) {
		c->rs = calloc(h.n_rings, sizeof(*c->rs));
		c->rec = malloc(h.max_record);
	}
	if (!c || !c->rs || !c->rec) {
		err = log_error(ENOMEM, "trace_consumer_new: out of memory");
		goto fail_free;
	}
	c->n_rings = h.n_rings;
	c->max_len = h.max_record;
	c->ring_bytes = h.ring_bytes;
	c->mask = h.ring_bytes - 1;
	c->batch = h.ring_bytes / 8;
	c->budget = h.ring_bytes > TRACE_POLL_BYTES ? h.ring_bytes : TRACE_POLL_BYTES;
	err = trace_shm_map(memfd, &h, 0, &c->map, c->ring);
	if (err) {
		log_error(-err, "trace_consumer_new: mapping the trace buffer: %s", strerror(-err));
		goto fail_free;
	}
	err = check_rings(c);
	if (!err)
		err = tid_grow(&c->tids);
	if (err)
		goto fail_unmap;
	consumer_clock_init(&c->clock);
	return c;
fail_unmap:
	trace_shm_unmap(&c->map);
fail_free:
	if (c) {
		free(c->rs);
		free(c->rec);
	}
	free(c);
fail:
	errno = -log_report(err);
	return NULL;
}

UPROBE_API void trace_consumer_free(struct trace_consumer *c)
{
	if (!c)
		return;
	trace_shm_unmap(&c->map);
	free(c->tids.e);
	free(c->old_tids.e);
	free(c->rs);
	free(c->rec);
	free(c);
}

/*
 * The one word of the header page the consumer writes (ring_shm.h); it is
 * never read back here: the traced process may change it, which changes only
 * whether its own producers wait.
 */
UPROBE_API int trace_consumer_set_blocking(struct trace_consumer *c, int on)
{
	if (!c)
		return -EINVAL;
	__atomic_store_n(&c->map.hdr->blocking, on ? TRACE_SHM_BLOCKING : 0, __ATOMIC_RELAXED);
	return 0;
}

/* The header's sync word (ring_shm.h), likewise never read back. */
UPROBE_API int trace_consumer_set_sync(struct trace_consumer *c, int on)
{
	if (!c)
		return -EINVAL;
	__atomic_store_n(&c->map.hdr->sync, on ? TRACE_SHM_SYNC : 0, __ATOMIC_RELAXED);
	return 0;
}

/* ---- polling and counting ----------------------------------------------------------- */

static uint64_t consumer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * One pass over the rings, from next_ring, within the budget; a pass that
 * runs out of it makes the next one start at the ring after (every ring gets
 * its turn). Returns 0, fn's non-zero value, or -EBADMSG once a ring is found
 * corrupted (after the others were read); *events counts.
 */
static int poll_once(struct trace_consumer *c, trace_record_fn fn, void *ctx, int *events)
{
	uint64_t budget = c->budget;
	unsigned int n = c->n_rings;
	int ret = 0;

	consumer_clock_tick(&c->clock);
	for (unsigned int k = 0, i = c->next_ring; k < n && !ret; k++, i = (i + 1) % n) {
		ret = ring_drain(c, i, fn, ctx, events, &budget);
		if (!budget) {
			c->next_ring = (i + 1) % n;
			break;
		}
	}
	if (ret || !c->unreported)
		return ret;
	c->unreported = false;
	return log_report(log_error(EBADMSG, "trace_consumer_poll: %s", c->latest));
}

UPROBE_API int trace_consumer_poll(struct trace_consumer *c, int timeout_ms, trace_record_fn fn,
				   void *ctx)
{
	uint64_t deadline = 0, nap_ns = 50000, now;
	int events = 0, ret;

	if (!c || !fn)
		return log_report(log_error(EINVAL, "trace_consumer_poll: %s is NULL",
					    c ? "fn" : "the consumer"));
	if (timeout_ms > 0)
		deadline = consumer_now_ns() + (uint64_t)timeout_ms * 1000000u;
	for (;;) {
		ret = poll_once(c, fn, ctx, &events);
		if (ret)
			return ret;
		if (events || !timeout_ms)
			return events;
		now = timeout_ms > 0 ? consumer_now_ns() : 0;
		if (timeout_ms > 0 && now >= deadline)
			return 0;
		if (timeout_ms > 0 && deadline - now < nap_ns)
			nap_ns = deadline - now;
		nanosleep(&(struct timespec){.tv_nsec = (long)nap_ns}, NULL);
		nap_ns = nap_ns * 2 > 1000000 ? 1000000 : nap_ns * 2;
	}
}

/*
 * Records in [consumer_pos, producer_pos) not discarded: committed ones and
 * busy ones. A reservation whose header is not written yet counts as one and
 * ends the walk (what lies behind it is unknown): the count is exact once
 * no reservation is in flight. The walk stays within a lap: positions
 * further apart are corruption.
 */
static uint64_t ring_pending(struct trace_consumer *c, unsigned int i)
{
	const struct trace_shm_ring *ring = &c->ring[i];
	uint64_t pos = c->rs[i].cons, prod, n = 0;

	if (c->rs[i].corrupt || !producer_pos_ok(c, i, pos, &prod))
		return 0;
	while (pos < prod) {
		const struct trace_raw *raw = (const void *)(ring->data + (pos & c->mask));
		uint32_t word = __atomic_load_n(&raw->len, __ATOMIC_ACQUIRE);
		uint32_t len = word & TRACE_RAW_LEN_MASK;
		uint16_t type = __atomic_load_n(&raw->type, __ATOMIC_RELAXED);

		if (!word || !len_ok(c, len, prod - pos))
			return n + 1;
		n += !(word & TRACE_RAW_DISCARD) && type != TRACE_RAW_COMM;
		pos += len;
	}
	return n;
}

static uint64_t add_sat(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

/*
 * The rings' lost counters (read first, acquire), then the per-event table:
 * each at most LOST_MAX, a ring's never less than at the previous read, and
 * the table's sum at least the rings' (ring_shm.h). Returns how many of
 * these fail. The table (16,384 counters, 32 pages that the agent writes only
 * at a loss) is read only when a ring lost something: reading its pages
 * allocated them, ~0.6 ms per traced image on a VM where a fault costs ~20 us.
 * A counter written there by the traced process while no ring lost anything
 * is still refused by trace_consumer_lost(), which reads the ones it reports.
 */
static uint64_t lost_check(struct trace_consumer *c, struct trace_ring_stats *s)
{
	uint64_t bad = 0, by_event = 0;

	for (unsigned int i = 0; i < c->n_rings; i++) {
		uint64_t lost = __atomic_load_n(&c->ring[i].ctrl->lost, __ATOMIC_ACQUIRE);

		if (lost > LOST_MAX || lost < c->rs[i].lost_seen)
			bad++;
		else
			c->rs[i].lost_seen = lost;
		s->lost = add_sat(s->lost, lost);
		s->lost_rings += lost != 0;
	}
	if (!s->lost)
		return bad;
	for (unsigned int id = 0; id < TRACE_SHM_LOST_SLOTS; id++) {
		uint64_t lost = __atomic_load_n(&c->map.lost[id], __ATOMIC_RELAXED);

		bad += lost > LOST_MAX;
		by_event = add_sat(by_event, lost);
	}
	return bad + (by_event < s->lost);
}

/*
 * Events only: thread-name records are bookkeeping, neither counted when
 * consumed nor when refused (trace_ring_reserve_quiet).
 * lost: the producers' counters (reservations refused: ring full, or longer
 * than a quarter ring), checked as far as they can be (lost_check).
 * consumed: every event taken out of the rings, discarded records not (kept
 * in the control pages, so it spans every consumer the memfd has had; ours
 * since we started). produced is not counted by anyone: it is consumed +
 * lost + the records still in the rings (ring_pending), which is exact once
 * no reservation is in flight, e.g. after the producers stopped. A test or a
 * benchmark compares it with the producers' own count of attempts.
 */
UPROBE_API int trace_consumer_stats(struct trace_consumer *c, struct trace_ring_stats *st)
{
	struct trace_ring_stats s = {.sz = sizeof(s)};
	uint64_t pending = 0;
	size_t sz;

	if (!c || !st || st->sz < offsetof(struct trace_ring_stats, produced))
		return log_report(log_error(EINVAL, "trace_consumer_stats: %s",
					    c && st ? "sz too small" : "NULL argument"));
	s.lost_corrupted = lost_check(c, &s);
	for (unsigned int i = 0; i < c->n_rings; i++) {
		s.consumed += c->rs[i].consumed;
		pending += ring_pending(c, i);
	}
	s.produced = add_sat(add_sat(s.consumed, s.lost), pending);
	s.corrupted_rings = c->n_corrupt;
	if (c->n_corrupt) {
		s.corrupted_ring = c->first_corrupt;
		s.corrupted_pos = c->corrupt_pos;
		memcpy(s.corruption, c->corruption, sizeof(s.corruption));
	}
	s.threads_forgotten = c->forgotten;
	sz = st->sz < sizeof(s) ? st->sz : sizeof(s);
	memcpy((char *)st + sizeof(s.sz), (char *)&s + sizeof(s.sz), sz - sizeof(s.sz));
	return 0;
}

UPROBE_API int trace_consumer_lost(struct trace_consumer *c, uint64_t *lost, size_t n)
{
	bool bad = false;

	if (!c || (!lost && n))
		return log_report(log_error(EINVAL, "trace_consumer_lost: NULL argument"));
	for (size_t id = 0; id < n; id++) {
		lost[id] = id < TRACE_LOST_IDS ? __atomic_load_n(&c->map.lost[id], __ATOMIC_RELAXED)
					       : 0;
		bad |= lost[id] > LOST_MAX;
	}
	if (bad)
		return log_report(log_error(EBADMSG, "trace_consumer_lost: a lost counter is over "
						     "2^56: the traced process wrote it"));
	return 0;
}
