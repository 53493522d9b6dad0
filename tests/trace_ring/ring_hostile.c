/* SPDX-License-Identifier: MIT */
/*
 * The consumer against a producer that lies: the traced process can write
 * every byte of the memfd (docs/security.md, "Shared memory"). Each case
 * writes what no producer writes, through the test's own mapping, and checks
 * the consumer's exact answer: a record handed over is a copy the ring cannot
 * change; a ring with an impossible length word, record type or position, or
 * whose consumer position someone else moved, is declared corrupted once,
 * by name, and never read again while the other rings are; the walks stay
 * within a lap (2^62 as producer_pos included); the thread table keeps a
 * bounded number of threads; lost counters that cannot be right are flagged;
 * a poll reads at most its budget.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "ring_test.h"

/* The ring that holds bytes (producer_pos), or -1. */
static int ring_at(const struct peek *pk, uint64_t bytes)
{
	for (unsigned int i = 0; i < pk->h.n_rings; i++)
		if (pk->ring[i].ctrl->producer_pos == bytes)
			return (int)i;
	return -1;
}

static struct trace_raw *raw_at(const struct peek *pk, int ring, uint64_t pos)
{
	return (struct trace_raw *)(pk->ring[ring].data + (pos & (pk->h.ring_bytes - 1)));
}

/* ---- a record handed over is the consumer's copy ----------------------------------- */

struct rewriter {
	struct trace_raw *shared; /* the record in the ring */
	uint64_t w0, w1;	  /* its payload as fn first saw it ... */
	uint64_t again0, again1;  /* ... and after the ring was rewritten */
	uint32_t len_before, len_after;
	uint64_t ip;
};

/* The traced process rewrites the record under the consumer's feet, during fn. */
static int rewrite_during(const struct trace_record *rec, void *ctx)
{
	struct rewriter *w = ctx;

	w->w0 = ((const uint64_t *)rec->data)[0];
	w->w1 = ((const uint64_t *)rec->data)[1];
	w->len_before = rec->data_len;
	memset(w->shared + 1, 0xee, 16);
	w->shared->ip = 0xbad;
	w->again0 = ((const uint64_t *)rec->data)[0];
	w->again1 = ((const uint64_t *)rec->data)[1];
	w->len_after = rec->data_len;
	w->ip = rec->ip;
	return 0;
}

static void record_copied(void)
{
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);
	struct rewriter w = {0};
	struct peek pk;

	CHECK(c != NULL);
	if (!c || peek_map(trace_rings_fd(r), &pk))
		return;
	put(r, RAW_HDR + 16, 3, 5, 1);
	w.shared = raw_at(&pk, 0, 0);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, rewrite_during, &w), 1);
	CHECK_EQ_U64(w.w0, mix(5, 3, 0));
	CHECK_EQ_U64(w.w1, mix(5, 3, 1));
	CHECK_EQ_U64(w.again0, mix(5, 3, 0)); /* the shared bytes changed, not the copy */
	CHECK_EQ_U64(w.again1, mix(5, 3, 1));
	CHECK_EQ_U64(w.len_after, 16);
	CHECK_EQ_U64(w.ip, 5);
	trace_shm_unmap(&pk.m);
	pair_free(r, c);
}

/* ---- corrupted rings ------------------------------------------------------------------ */

struct writer {
	struct trace_rings *r;
	unsigned int records;
	uint32_t len;
	uint64_t seq0;
};

static void *write_records(void *arg)
{
	struct writer *w = arg;

	for (unsigned int i = 0; i < w->records; i++)
		put(w->r, w->len, 0, w->seq0 + i, 1);
	return NULL;
}

/* records of len bytes from a thread of their own (while ours owns a ring: into ring 0) */
static void write_from_thread(struct trace_rings *r, unsigned int records, uint32_t len,
			      uint64_t seq0)
{
	struct writer w = {r, records, len, seq0};
	pthread_t th;

	pthread_create(&th, NULL, write_records, &w);
	pthread_join(th, NULL);
}

static void expect_corrupted(struct trace_consumer *c, uint64_t n, uint64_t ring, uint64_t pos,
			     const char *why)
{
	struct trace_ring_stats st = stats_of(c);
	char want[160];

	snprintf(want, sizeof(want), "ring %llu corrupted at %llu (%s); stopped reading it",
		 (unsigned long long)ring, (unsigned long long)pos, why);
	CHECK_EQ_U64(st.corrupted_rings, n);
	CHECK_EQ_U64(st.corrupted_ring, ring);
	CHECK_EQ_U64(st.corrupted_pos, pos);
	CHECK_STR(st.corruption, want);
}

/* The poll that finds ring/pos corrupted says so, by name, once. */
static void expect_poll_corrupt(struct trace_consumer *c, struct seen *s, int ring, uint64_t pos,
				const char *why)
{
	char want[192];

	snprintf(want, sizeof(want),
		 "trace_consumer_poll: ring %d corrupted at %llu (%s); stopped reading it", ring,
		 (unsigned long long)pos, why);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, s), -EBADMSG);
	CHECK_STR(uprobe_last_error(), want);
}

/*
 * A length word that cannot be (12: shorter than a header): the records
 * before it are delivered, the poll returns -EBADMSG, then the ring is never
 * read again, even once the word is right; the shared ring keeps going.
 */
static void corrupt_len(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 2, 4096);
	struct trace_raw *raw;
	struct peek pk;

	CHECK(c != NULL);
	if (!c || peek_map(trace_rings_fd(r), &pk))
		return;
	put(r, RAW_HDR + 8, 0, 0, 1); /* ours: ring 1 */
	raw = put(r, RAW_HDR + 8, 0, 1, 1);
	put(r, RAW_HDR + 8, 0, 2, 1);
	CHECK_EQ_INT(ring_at(&pk, 3 * 64), 1);
	write_from_thread(r, 2, RAW_HDR + 8, 10); /* ring 0 */
	__atomic_store_n(&raw->len, 12, __ATOMIC_RELEASE);
	expect_poll_corrupt(c, &s, 1, 64, "record length 0xc");
	CHECK_EQ_INT(s.n, 3); /* ring 0's two, ring 1's first */
	CHECK_EQ_U64(s.rec[0].ip, 10);
	CHECK_EQ_U64(s.rec[2].ip, 0);
	CHECK_EQ_U64(pk.ring[1].ctrl->consumer_pos, 64); /* left at the bad record */
	expect_corrupted(c, 1, 1, 64, "record length 0xc");
	__atomic_store_n(&raw->len, RAW_HDR + 8, __ATOMIC_RELEASE);
	write_from_thread(r, 1, RAW_HDR + 8, 11);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 1); /* ring 0's new one only */
	CHECK_EQ_U64(s.rec[3].ip, 11);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 0);
	CHECK_EQ_INT(s.n, 4);
	expect_corrupted(c, 1, 1, 64, "record length 0xc");
	CHECK_EQ_U64(stats_of(c).consumed, 4);
	trace_shm_unmap(&pk.m);
	pair_free(r, c);
}

/*
 * What a target leaves before it exits: every len word busy, producer_pos
 * 2^62. The poll waits at the busy word (a reservation in flight, as far
 * as it can tell); counting what is pending is one bounded check, which
 * finds the ring corrupted; the next poll says so.
 */
static void corrupt_positions(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 1u << 20);
	struct trace_ring_stats st;
	struct peek pk;

	CHECK(c != NULL);
	if (!c || peek_map(trace_rings_fd(r), &pk))
		return;
	for (int i = 0; i < 4; i++)
		put(r, RAW_HDR + 8, 0, (uint64_t)i, 1);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 4);
	for (uint64_t off = 0; off < pk.h.ring_bytes; off += 8)
		*(uint32_t *)(pk.ring[0].data + off) = TRACE_RAW_BUSY | 8;
	pk.ring[0].ctrl->producer_pos = 1ull << 62;
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 0);
	st = stats_of(c);
	CHECK_EQ_U64(st.produced, 4); /* what is pending is unknown: none counted */
	CHECK_EQ_U64(st.consumed, 4);
	expect_corrupted(c, 1, 0, 256, "producer position 4611686018427387904");
	expect_poll_corrupt(c, &s, 0, 256, "producer position 4611686018427387904");
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 0);
	trace_shm_unmap(&pk.m);
	pair_free(r, c);
}

/*
 * Control words no producer or consumer leaves, after two committed records:
 * a producer_pos behind what was read (records past the producers'
 * position) or unaligned, found by the check at the end of the pass that
 * read them (delivered: each was checked on its own); a consumer_pos moved by
 * someone else, found before reading anything.
 */
static void ctrl_tampered(void)
{
	static const struct {
		size_t word; /* in struct trace_shm_ctrl */
		uint64_t value, pos;
		int delivered;
		const char *why;
	} c_[] = {
		{ offsetof(struct trace_shm_ctrl, producer_pos), 64, 128, 2, "producer position 64" },
		{ offsetof(struct trace_shm_ctrl, producer_pos), 132, 128, 2, "producer position 132" },
		{ offsetof(struct trace_shm_ctrl, consumer_pos), 64, 0, 0,
		  "its consumer position was moved to 64" },
	};

	for (size_t k = 0; k < sizeof(c_) / sizeof(c_[0]); k++) {
		struct seen s = {.stop_at_ip = -1};
		struct trace_rings *r;
		struct trace_consumer *c = pair_new(&r, 1, 4096);
		struct peek pk;

		CHECK(c != NULL);
		if (!c || peek_map(trace_rings_fd(r), &pk))
			return;
		put(r, RAW_HDR + 8, 0, 0, 1);
		put(r, RAW_HDR + 8, 0, 1, 1);
		*(uint64_t *)((uint8_t *)pk.ring[0].ctrl + c_[k].word) = c_[k].value;
		expect_poll_corrupt(c, &s, 0, c_[k].pos, c_[k].why);
		CHECK_EQ_INT(s.n, c_[k].delivered);
		expect_corrupted(c, 1, 0, c_[k].pos, c_[k].why);
		trace_shm_unmap(&pk.m);
		pair_free(r, c);
	}
}

/* A record type no producer writes, or a thread name of the wrong size. */
static void bad_type(void)
{
	static const struct {
		uint16_t type;
		uint32_t len;
		const char *why;
	} c_[] = {
		{ 9, RAW_HDR + 8, "record type 9" },
		{ 0, RAW_HDR + 8, "record type 0" },
		{ TRACE_RAW_COMM, RAW_HDR + 24, "thread name record of 80 bytes" },
		{ TRACE_RAW_COMM, RAW_HDR, "thread name record of 56 bytes" },
	};

	for (size_t k = 0; k < sizeof(c_) / sizeof(c_[0]); k++) {
		struct seen s = {.stop_at_ip = -1};
		struct trace_rings *r;
		struct trace_consumer *c = pair_new(&r, 1, 4096);
		struct trace_raw *raw;

		CHECK(c != NULL);
		if (!c)
			return;
		put(r, RAW_HDR + 8, 0, 0, 1);
		raw = put(r, c_[k].len, 0, 1, 0);
		raw->type = c_[k].type;
		trace_ring_commit(raw);
		put(r, RAW_HDR + 8, 0, 2, 1);
		expect_poll_corrupt(c, &s, 0, 64, c_[k].why);
		CHECK_EQ_INT(s.n, 1);
		CHECK_EQ_U64(stats_of(c).consumed, 1);
		pair_free(r, c);
	}
}

/* ---- the thread table --------------------------------------------------------------- */

#define TIDS 200000u
#define TID0 1000000u

static int last_comm(const struct trace_record *rec, void *ctx)
{
	snprintf(ctx, 16, "%s", rec->comm);
	return 0;
}

/* Thread tid's name and an event of it. */
static void name_and_event(struct trace_rings *r, uint32_t tid, const char *name)
{
	struct trace_raw *raw = trace_ring_reserve_quiet(r, RAW_HDR + 16);

	raw_fill(raw, TRACE_RAW_COMM, 0, tid, 0);
	memset(raw + 1, 0, 16);
	memcpy(raw + 1, name, strlen(name));
	trace_ring_commit(raw);
	put_tid(r, tid, tid);
}

/*
 * 200,000 threads, each named once, none seen again: the table keeps the
 * last generations (32,768 threads each) and forgets the others, exactly
 * 5 x 32,768 of them (rotations at threads 32,769, 65,537 ... 196,609, the
 * first one forgetting nothing). A thread of the last two generations keeps
 * its name; a forgotten one comes back nameless.
 */
static void tid_table(void)
{
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 1u << 20);
	char comm[16] = "";

	CHECK(c != NULL);
	if (!c)
		return;
	for (uint32_t t = 0; t < TIDS; t++) {
		name_and_event(r, TID0 + t, t % 2 ? "odd" : "even");
		if (t % 4096 == 4095)
			while (trace_consumer_poll(c, 0, last_comm, comm) > 0)
				;
	}
	while (trace_consumer_poll(c, 0, last_comm, comm) > 0)
		;
	CHECK_EQ_U64(stats_of(c).threads_forgotten, 5 * 32768);
	put_tid(r, TID0 + TIDS - 36160, 0); /* the oldest one kept */
	CHECK_EQ_INT(trace_consumer_poll(c, 0, last_comm, comm), 1);
	CHECK_STR(comm, "even");
	put_tid(r, TID0 + TIDS - 36161, 0); /* forgotten */
	CHECK_EQ_INT(trace_consumer_poll(c, 0, last_comm, comm), 1);
	CHECK_STR(comm, "");
	CHECK_EQ_U64(stats_of(c).consumed, TIDS + 2);
	pair_free(r, c);
}

/* ---- lost counters ------------------------------------------------------------------ */

/*
 * Counters the traced process wrote itself: over 2^56, going down, or rings
 * that lost more than the events did. Each makes lost_corrupted count it.
 */
static void lost_garbage(void)
{
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);
	uint64_t lost[4];
	struct peek pk;

	CHECK(c != NULL);
	if (!c || peek_map(trace_rings_fd(r), &pk))
		return;
	for (int i = 0; i < 5; i++)
		put(r, 1024, 2, (uint64_t)i, 1);
	CHECK_EQ_U64(stats_of(c).lost, 1);
	CHECK_EQ_U64(stats_of(c).lost_corrupted, 0);
	pk.ring[0].ctrl->lost = 0; /* went down */
	CHECK_EQ_U64(stats_of(c).lost_corrupted, 1);
	pk.ring[0].ctrl->lost = 2; /* more than the events' 1 */
	CHECK_EQ_U64(stats_of(c).lost_corrupted, 1);
	pk.m.lost[2] = 2;
	CHECK_EQ_U64(stats_of(c).lost_corrupted, 0);
	pk.ring[0].ctrl->lost = 0xdeadbeefdeadbeefull;
	pk.m.lost[2] = 0xdeadbeefdeadbeefull;
	CHECK_EQ_U64(stats_of(c).lost_corrupted, 2);
	CHECK_EQ_INT(trace_consumer_lost(c, lost, 4), -EBADMSG);
	CHECK_EQ_U64(lost[2], 0xdeadbeefdeadbeefull);
	CHECK_STR(uprobe_last_error(),
		  "trace_consumer_lost: a lost counter is over 2^56: the traced process wrote it");
	trace_shm_unmap(&pk.m);
	pair_free(r, c);
}

/* ---- a poll's budget ---------------------------------------------------------------- */

struct filler {
	struct trace_rings *r;
	pthread_barrier_t *written, *release;
};

static void *fill_ring(void *arg)
{
	struct filler *f = arg;

	for (unsigned int i = 0; i < 1000; i++)
		put(f->r, 4096, 0, i, 1);
	pthread_barrier_wait(f->written);
	pthread_barrier_wait(f->release);
	return NULL;
}

/*
 * Three rings of 4 MiB hold 1000 records of 4 KiB each (12 MB): one poll
 * reads TRACE_POLL_BYTES (8 MiB: rings 0 and 1, then 48 records of ring 2),
 * the next one starts where it stopped.
 */
static void poll_budget(void)
{
	struct seen s = {.stop_at_ip = -1};
	pthread_barrier_t written, release;
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 3, 4u << 20);
	struct filler f = {r, &written, &release};
	pthread_t th[3];

	CHECK(c != NULL);
	if (!c)
		return;
	pthread_barrier_init(&written, NULL, 4);
	pthread_barrier_init(&release, NULL, 4);
	for (int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, fill_ring, &f);
	pthread_barrier_wait(&written);
	CHECK_EQ_INT(TRACE_POLL_BYTES, 8 << 20);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 2048);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 952);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 0);
	CHECK_EQ_U64(stats_of(c).consumed, 3000);
	pthread_barrier_wait(&release);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	pthread_barrier_destroy(&written);
	pthread_barrier_destroy(&release);
	pair_free(r, c);
}

void hostile_cases(void)
{
	RUN(record_copied);
	RUN(corrupt_len);
	RUN(corrupt_positions);
	RUN(ctrl_tampered);
	RUN(bad_type);
	RUN(tid_table);
	RUN(lost_garbage);
	RUN(poll_budget);
}
