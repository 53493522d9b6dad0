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
 */
#include <errno.h>
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

struct trace_consumer {
	unsigned int n_rings;
	uint32_t max_len;
	uint64_t ring_bytes, mask;
	uint64_t batch; /* bytes read between two moves of consumer_pos */
	struct trace_shm_map map;
	struct consumer_clock clock;
	struct tid_entry *tids; /* open addressing, tid_cap a power of two */
	size_t tid_cap, tid_used;
	struct tid_entry *tid_last; /* the previous lookup (threads write in runs) */
	struct trace_shm_ring ring[];
};

/* ---- the thread table ---------------------------------------------------------------- */

static struct tid_entry *tid_slot(struct tid_entry *tab, size_t cap, uint32_t tid)
{
	size_t i = (tid * 0x9e3779b1u) & (cap - 1);

	while (tab[i].tid && tab[i].tid != tid)
		i = (i + 1) & (cap - 1);
	return &tab[i];
}

static int tid_grow(struct trace_consumer *c)
{
	size_t cap = c->tid_cap ? 2 * c->tid_cap : 64;
	struct tid_entry *tab = calloc(cap, sizeof(*tab));

	if (!tab)
		return -ENOMEM;
	for (size_t i = 0; i < c->tid_cap; i++)
		if (c->tids[i].tid)
			*tid_slot(tab, cap, c->tids[i].tid) = c->tids[i];
	free(c->tids);
	c->tids = tab;
	c->tid_cap = cap;
	c->tid_last = NULL;
	return 0;
}

/* The thread's entry, made on first sight; NULL for tid 0 or without memory. */
static struct tid_entry *tid_get(struct trace_consumer *c, uint32_t tid)
{
	struct tid_entry *t;

	if (c->tid_last && c->tid_last->tid == tid)
		return c->tid_last;
	if (!tid)
		return NULL;
	if (4 * (c->tid_used + 1) > 3 * c->tid_cap && tid_grow(c))
		return NULL;
	t = tid_slot(c->tids, c->tid_cap, tid);
	if (!t->tid) {
		t->tid = tid;
		c->tid_used++;
	}
	c->tid_last = t;
	return t;
}

#define PREFETCH_AFTER 4096
#define PREFETCH_AHEAD 512

/* ---- records ---------------------------------------------------------------------- */

static void take_comm(struct trace_consumer *c, const struct trace_raw *raw, uint32_t len)
{
	struct tid_entry *t;

	if (len < sizeof(*raw) + 16 || !(t = tid_get(c, raw->tid)))
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
static void ring_release(struct trace_consumer *c, const struct trace_shm_ring *ring, uint64_t from,
			 uint64_t to, uint64_t records)
{
	struct trace_shm_ctrl *ctl = ring->ctrl;

	if (to == from)
		return;
	memset(ring->data + (from & c->mask), 0, to - from);
	__atomic_store_n(&ctl->consumed, ctl->consumed + records, __ATOMIC_RELAXED);
	__atomic_store_n(&ctl->consumer_pos, to, __ATOMIC_RELEASE);
}

/* A committed record: an event goes to fn, a name to the table, any other type is skipped. */
static int take_record(struct trace_consumer *c, const struct trace_raw *raw, uint32_t len,
		       trace_record_fn fn, void *ctx, int *events)
{
	if (raw->type == TRACE_RAW_EVENT) {
		++*events;
		return deliver_event(c, raw, len, fn, ctx);
	}
	if (raw->type == TRACE_RAW_COMM)
		take_comm(c, raw, len);
	return 0;
}

/*
 * Read one ring from consumer_pos, at most one lap, up to the first record
 * that is busy or not written yet. producer_pos is not read: what lies past
 * it reads 0 (ring_shm.h), and leaving its cache line alone spares the
 * producers' CAS a transfer per poll. A record must end within a lap of the
 * last released position (from): producers write no further. Returns 0, fn's
 * non-zero value, or -EBADMSG for a len word that cannot be (the ring is left
 * there).
 *
 * Prefetching pays when draining a backlog (+25% here) but costs when the
 * consumer is at the producers' heels, where the lines ahead are being
 * written (-30%): it starts once this pass has read PREFETCH_AFTER bytes.
 */
static int ring_drain(struct trace_consumer *c, const struct trace_shm_ring *ring,
		      trace_record_fn fn, void *ctx, int *events)
{
	uint64_t start = ring->ctrl->consumer_pos, pos = start, from = start, records = 0;
	int ret = 0;

	while (pos < start + c->ring_bytes && !ret) {
		const struct trace_raw *raw = (const void *)(ring->data + (pos & c->mask));
		uint32_t word = __atomic_load_n(&raw->len, __ATOMIC_ACQUIRE);
		uint32_t len = word & TRACE_RAW_LEN_MASK;

		if (!word || (word & TRACE_RAW_BUSY))
			break;
		if (!len_ok(c, len, from + c->ring_bytes - pos)) {
			ret = log_report(log_error(EBADMSG,
						   "trace_consumer_poll: ring %td: bad "
						   "record length 0x%x at position %llu",
						   ring - c->ring, word, (unsigned long long)pos));
			break;
		}
		if (pos - start >= PREFETCH_AFTER)
			__builtin_prefetch(ring->data + ((pos + PREFETCH_AHEAD) & c->mask));
		pos += len;
		if (!(word & TRACE_RAW_DISCARD)) {
			records += raw->type == TRACE_RAW_EVENT;
			ret = take_record(c, raw, len, fn, ctx, events);
		}
		if (pos - from >= c->batch) {
			ring_release(c, ring, from, pos, records);
			from = pos;
			records = 0;
		}
	}
	ring_release(c, ring, from, pos, records);
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

/* consumer_pos <= producer_pos <= consumer_pos + ring_bytes, both 8-byte aligned. */
static int check_rings(const struct trace_consumer *c)
{
	for (unsigned int i = 0; i < c->n_rings; i++) {
		uint64_t cons = c->ring[i].ctrl->consumer_pos;
		uint64_t prod = __atomic_load_n(&c->ring[i].ctrl->producer_pos, __ATOMIC_ACQUIRE);

		if ((cons | prod) & 7 || prod < cons || prod - cons > c->ring_bytes)
			return log_error(EINVAL, "trace buffer: ring %u: positions %llu..%llu", i,
					 (unsigned long long)cons, (unsigned long long)prod);
	}
	return 0;
}

static int read_header(int memfd, struct trace_shm_hdr *h)
{
	struct stat st;
	ssize_t n;

	if (fstat(memfd, &st))
		return log_error(errno, "trace_consumer_new: fd %d: %s", memfd, strerror(errno));
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size < sizeof(*h))
		return log_error(EINVAL,
				 "trace_consumer_new: fd %d is not a trace buffer "
				 "(%lld bytes)",
				 memfd, (long long)st.st_size);
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
	if (!c) {
		err = log_error(ENOMEM, "trace_consumer_new: out of memory");
		goto fail;
	}
	c->n_rings = h.n_rings;
	c->max_len = h.max_record;
	c->ring_bytes = h.ring_bytes;
	c->mask = h.ring_bytes - 1;
	c->batch = h.ring_bytes / 8;
	err = trace_shm_map(memfd, &h, 0, &c->map, c->ring);
	if (err) {
		log_error(-err, "trace_consumer_new: mapping the trace buffer: %s", strerror(-err));
		goto fail_free;
	}
	err = check_rings(c);
	if (!err)
		err = tid_grow(c);
	if (err)
		goto fail_unmap;
	consumer_clock_init(&c->clock);
	return c;
fail_unmap:
	trace_shm_unmap(&c->map);
fail_free:
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
	free(c->tids);
	free(c);
}

/* ---- polling and counting ----------------------------------------------------------- */

static uint64_t consumer_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* One pass over every ring. Returns 0, fn's non-zero value or -EBADMSG; *events counts. */
static int poll_once(struct trace_consumer *c, trace_record_fn fn, void *ctx, int *events)
{
	int ret = 0;

	consumer_clock_tick(&c->clock);
	for (unsigned int i = 0; i < c->n_rings && !ret; i++)
		ret = ring_drain(c, &c->ring[i], fn, ctx, events);
	return ret;
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
 * no reservation is in flight.
 */
static uint64_t ring_pending(const struct trace_consumer *c, const struct trace_shm_ring *ring)
{
	uint64_t pos = ring->ctrl->consumer_pos, n = 0;
	uint64_t prod = __atomic_load_n(&ring->ctrl->producer_pos, __ATOMIC_ACQUIRE);

	while (pos < prod) {
		const struct trace_raw *raw = (const void *)(ring->data + (pos & c->mask));
		uint32_t word = __atomic_load_n(&raw->len, __ATOMIC_ACQUIRE);
		uint32_t len = word & TRACE_RAW_LEN_MASK;

		if (!word || !len_ok(c, len, prod - pos))
			return n + 1;
		n += !(word & TRACE_RAW_DISCARD) && raw->type != TRACE_RAW_COMM;
		pos += len;
	}
	return n;
}

/*
 * Events only: thread-name records are bookkeeping, neither counted when
 * consumed nor when refused (trace_ring_reserve_quiet).
 * lost: the producers' counters (reservations refused: ring full, or longer
 * than a quarter ring). consumed: every event taken out of the rings,
 * discarded records not (kept in the control
 * pages, so it spans every consumer the memfd has had). produced is not
 * counted by anyone: it is consumed + lost + the records still in the rings
 * (ring_pending), which is exact once no reservation is in flight, e.g.
 * after the producers stopped. A test or a benchmark compares it with the
 * producers' own count of attempts.
 */
UPROBE_API int trace_consumer_stats(struct trace_consumer *c, struct trace_ring_stats *st)
{
	struct trace_ring_stats s = {.sz = sizeof(s)};
	uint64_t pending = 0;
	size_t sz;

	if (!c || !st || st->sz < offsetof(struct trace_ring_stats, produced))
		return log_report(log_error(EINVAL, "trace_consumer_stats: %s",
					    c && st ? "sz too small" : "NULL argument"));
	for (unsigned int i = 0; i < c->n_rings; i++) {
		const struct trace_shm_ctrl *ctl = c->ring[i].ctrl;
		uint64_t lost = __atomic_load_n(&ctl->lost, __ATOMIC_RELAXED);

		s.lost += lost;
		s.lost_rings += lost != 0;
		s.consumed += __atomic_load_n(&ctl->consumed, __ATOMIC_RELAXED);
		pending += ring_pending(c, &c->ring[i]);
	}
	s.produced = s.consumed + s.lost + pending;
	sz = st->sz < sizeof(s) ? st->sz : sizeof(s);
	memcpy((char *)st + sizeof(s.sz), (char *)&s + sizeof(s.sz), sz - sizeof(s.sz));
	return 0;
}

UPROBE_API int trace_consumer_lost(struct trace_consumer *c, uint64_t *lost, size_t n)
{
	if (!c || (!lost && n))
		return log_report(log_error(EINVAL, "trace_consumer_lost: NULL argument"));
	for (size_t id = 0; id < n; id++)
		lost[id] = id < TRACE_LOST_IDS ? __atomic_load_n(&c->map.lost[id], __ATOMIC_RELAXED)
					       : 0;
	return 0;
}
