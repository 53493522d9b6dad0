/* SPDX-License-Identifier: MIT */
/*
 * Shared-memory rings and their consumer: records pass through unchanged,
 * discarded ones are skipped, oversized reservations are refused and
 * counted, a record that straddles the end of the data area reads
 * contiguously (the double mapping), a reservation whose header is not
 * written yet holds the consumer back, bad buffers are refused with EINVAL
 * and a reason (EPERM without the seals), thread names come from comm
 * records, timestamps match CLOCK_MONOTONIC. ring_hostile.c has what a
 * producer that lies writes, ring_stress.c the multi-threaded and signal
 * cases.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "testlib.h"
#include "ring_test.h"

TL_DEFINE("trace_ring");

/* Every header field and the payload come out as written. */
static void fields(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);
	struct trace_raw *raw;

	CHECK(c != NULL);
	if (!c)
		return;
	raw = trace_ring_reserve(r, RAW_HDR + 16, 42);
	CHECK_EQ_U64(raw->len, (RAW_HDR + 16) | TRACE_RAW_BUSY);
	*raw = (struct trace_raw){.len = raw->len,
				  .type = TRACE_RAW_EVENT,
				  .cpu = 7,
				  .event_id = 42,
				  .flags = TRACE_REC_RETURN,
				  .tsc = __rdtsc(),
				  .pid = 99,
				  .tid = 1234,
				  .ip = 0x1111,
				  .func = 0x2222};
	((uint64_t *)(raw + 1))[0] = 0xfeedface;
	((uint64_t *)(raw + 1))[1] = 0xdeadbeef;
	trace_ring_commit(raw);
	CHECK_EQ_U64(raw->len, RAW_HDR + 16);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 1);
	CHECK_EQ_INT(s.n, 1);
	CHECK_EQ_U64(s.rec[0].event_id, 42);
	CHECK_EQ_U64(s.rec[0].flags, TRACE_REC_RETURN);
	CHECK_EQ_U64(s.rec[0].cpu, 7);
	CHECK_EQ_U64(s.rec[0].pid, 99);
	CHECK_EQ_U64(s.rec[0].tid, 1234);
	CHECK_EQ_U64(s.rec[0].ip, 0x1111);
	CHECK_EQ_U64(s.rec[0].func, 0x2222);
	CHECK_EQ_U64(s.rec[0].entry_ts_ns, 0);
	CHECK_EQ_U64(s.rec[0].data_len, 16);
	CHECK_EQ_U64(s.w0[0], 0xfeedface);
	CHECK_STR(s.comm[0], "");
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 0);
	CHECK_EQ_INT(trace_consumer_poll(NULL, 0, collect, &s), -EINVAL);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, NULL, &s), -EINVAL);
	pair_free(r, c);
}

/* A discarded record is skipped: not delivered, not consumed, not lost. */
static void discard(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_ring_stats st;
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);

	CHECK(c != NULL);
	if (!c)
		return;
	trace_ring_discard(put(r, RAW_HDR + 8, 0, 0, 0));
	put(r, RAW_HDR + 8, 0, 1, 1);
	trace_ring_discard(put(r, RAW_HDR + 24, 0, 2, 0));
	put(r, RAW_HDR + 8, 0, 3, 1);
	trace_ring_discard(put(r, RAW_HDR + 8, 0, 4, 0));
	st = stats_of(c);
	CHECK_EQ_U64(st.produced, 2);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 2);
	CHECK_EQ_U64(s.rec[0].ip, 1);
	CHECK_EQ_U64(s.rec[1].ip, 3);
	CHECK_EQ_U64(s.w0[1], mix(3, 0, 0));
	st = stats_of(c);
	CHECK_EQ_U64(st.produced, 2);
	CHECK_EQ_U64(st.consumed, 2);
	CHECK_EQ_U64(st.lost, 0);
	pair_free(r, c);
}

/* Over a quarter ring, or a ring's worth of records unread: refused and counted. */
static void quarter_and_full(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_ring_stats st;
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 2, 4096);
	int n_ok = 0;

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(trace_ring_reserve(r, 1024 + 8, 0) == NULL);
	CHECK(trace_ring_reserve(r, 40, 0) == NULL);  /* shorter than a header */
	CHECK(trace_ring_reserve(r, 100, 0) == NULL); /* not a multiple of 8 */
	st = stats_of(c);
	CHECK_EQ_U64(st.lost, 3);
	CHECK_EQ_U64(st.lost_rings, 1);
	CHECK_EQ_U64(st.produced, 3);
	for (int i = 0; i < 5; i++)
		n_ok += put(r, 1024, 0, (uint64_t)i, 1) != NULL;
	CHECK_EQ_INT(n_ok, 4); /* 4 x 1024 fill the ring, the fifth is lost */
	st = stats_of(c);
	CHECK_EQ_U64(st.lost, 4);
	CHECK_EQ_U64(st.produced, 8);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 4);
	CHECK_EQ_U64(s.rec[3].data_len, 1024 - RAW_HDR);
	CHECK(put(r, 1024, 0, 5, 1) != NULL); /* room again */
	st = stats_of(c);
	CHECK_EQ_U64(st.consumed, 4);
	CHECK_EQ_U64(st.produced, 4 + 4 + 1);
	pair_free(r, c);
}

/*
 * Losses are counted per event id (ids from TRACE_LOST_IDS up only in the
 * total); a ring full, a record too long, and thread names refused
 * (not counted at all).
 */
static void lost_by_event(void)
{
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);
	struct trace_ring_stats st;
	uint64_t lost[8];

	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(trace_ring_reserve(r, 2048, 7) == NULL); /* over a quarter ring */
	for (int i = 0; i < 4; i++)
		put(r, 1024, 0, (uint64_t)i, 1);
	CHECK(put(r, 64, 3, 4, 1) == NULL);
	CHECK(put(r, 64, 3, 5, 1) == NULL);
	CHECK(put(r, 64, 5, 6, 1) == NULL);
	CHECK(put(r, 64, TRACE_LOST_IDS, 7, 1) == NULL);
	CHECK(put(r, 64, UINT32_MAX, 8, 1) == NULL);
	CHECK(trace_ring_reserve_quiet(r, 64) == NULL);
	memset(lost, 0xaa, sizeof(lost));
	CHECK_EQ_INT(trace_consumer_lost(c, lost, 8), 0);
	for (int id = 0; id < 8; id++)
		CHECK_EQ_U64(lost[id], id == 3 ? 2 : id == 5 || id == 7 ? 1 : 0);
	st = stats_of(c);
	CHECK_EQ_U64(st.lost, 6);
	CHECK_EQ_U64(st.lost_corrupted, 0);
	CHECK_EQ_U64(st.produced, 4 + 6);
	CHECK_EQ_INT(trace_consumer_lost(c, NULL, 0), 0);
	CHECK_EQ_INT(trace_consumer_lost(NULL, lost, 8), -EINVAL);
	CHECK_EQ_INT(trace_consumer_lost(c, NULL, 8), -EINVAL);
	pair_free(r, c);
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

/*
 * A record at position 4064 of a 4096-byte ring runs 168 bytes into the
 * second mapping: the producer writes it in one piece, the file holds its
 * tail at the start of the data area, the consumer reads it in one piece,
 * then zeroes what it read.
 */
static void straddle(void)
{
	struct seen s = {.stop_at_ip = -1};
	uint8_t file_tail[168], file_head[32];
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);
	struct trace_raw *raw;
	struct peek pk;
	off_t data_off;

	CHECK(c != NULL);
	if (!c || peek_map(trace_rings_fd(r), &pk))
		return;
	data_off = (off_t)(pk.h.ctrl_off + pk.h.data_off);
	for (int i = 0; i < 4; i++)
		put(r, 1016, 0, (uint64_t)i, 1);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 4);
	raw = put(r, 200, 3, 77, 1);
	CHECK(raw != NULL);
	CHECK_EQ_U64(pk.ring[0].ctrl->producer_pos, 4064 + 200);
	pread(trace_rings_fd(r), file_head, sizeof(file_head), data_off + 4064);
	pread(trace_rings_fd(r), file_tail, sizeof(file_tail), data_off);
	CHECK(!memcmp(file_head, raw, 32));
	CHECK(!memcmp(file_tail, (uint8_t *)raw + 32, 168));
	s.n = 0;
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 1);
	CHECK_EQ_U64(s.rec[0].ip, 77);
	CHECK_EQ_U64(s.rec[0].data_len, 200 - RAW_HDR);
	for (uint32_t i = 0; i < (200 - RAW_HDR) / 8; i++)
		if (s.words[i] != mix(77, 3, i))
			TL_FAIL("payload word %u differs", i);
	CHECK(all_zero(pk.ring[0].data, 4096)); /* the consumer zeroed all it read */
	trace_shm_unmap(&pk.m);
	pair_free(r, c);
}

/*
 * A producer stopped between its CAS of producer_pos and its header store:
 * the len word still reads 0 (the consumer zeroed the lap before), so the
 * consumer waits there, also for the committed record behind it.
 */
static void unwritten_header(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_ring_stats st;
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);
	struct trace_raw *late;
	struct peek pk;
	uint64_t pos;

	CHECK(c != NULL);
	if (!c || peek_map(trace_rings_fd(r), &pk))
		return;
	for (int i = 0; i < 4; i++)
		put(r, 1024, 0, (uint64_t)i, 1);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 4);
	pos = __atomic_fetch_add(&pk.ring[0].ctrl->producer_pos, 64, __ATOMIC_SEQ_CST);
	CHECK_EQ_U64(pos, 4096);
	late = (struct trace_raw *)(pk.ring[0].data + (pos & 4095));
	put(r, RAW_HDR + 8, 0, 9, 1);
	s.n = 0;
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 0);
	st = stats_of(c);
	CHECK_EQ_U64(st.produced, 4 + 1); /* the walk ends at the unwritten one */
	raw_fill(late, TRACE_RAW_EVENT, 0, 5, 8);
	*(uint64_t *)(late + 1) = mix(8, 0, 0);
	__atomic_store_n(&late->len, 64, __ATOMIC_RELEASE);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 2);
	CHECK_EQ_U64(s.rec[0].ip, 8);
	CHECK_EQ_U64(s.rec[1].ip, 9);
	st = stats_of(c);
	CHECK_EQ_U64(st.produced, 6);
	CHECK_EQ_U64(st.consumed, 6);
	trace_shm_unmap(&pk.m);
	pair_free(r, c);
}

/* A second consumer carries on where the first one stopped; the counters stay. */
static void consumer_restart(void)
{
	struct seen s = {.stop_at_ip = 1};
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);

	CHECK(c != NULL);
	if (!c)
		return;
	for (int i = 0; i < 3; i++)
		put(r, RAW_HDR + 8, 0, (uint64_t)i, 1);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 7);
	trace_consumer_free(c);
	c = trace_consumer_new(trace_rings_fd(r));
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 1);
	CHECK_EQ_INT(s.n, 3);
	CHECK_EQ_U64(s.rec[2].ip, 2);
	CHECK_EQ_U64(stats_of(c).consumed, 3);
	pair_free(r, c);
}

struct chooser {
	struct trace_rings *r;
	unsigned int records;
	uint32_t len;
	pthread_barrier_t *hold; /* stay alive (owning the ring) until released */
};

static void *write_some(void *arg)
{
	struct chooser *ch = arg;

	for (unsigned int i = 0; i < ch->records; i++)
		put(ch->r, ch->len, 0, i, 1);
	if (ch->hold) {
		pthread_barrier_wait(ch->hold); /* written */
		pthread_barrier_wait(ch->hold); /* released */
	}
	return NULL;
}

static void run_chooser(struct chooser *ch)
{
	pthread_t th;

	pthread_create(&th, NULL, write_some, ch);
	pthread_join(th, NULL);
}

/* Which ring holds exactly bytes (or -1), from the producer positions. */
static int ring_holding(const struct peek *pk, unsigned int n, uint64_t bytes)
{
	for (unsigned int i = 0; i < n; i++)
		if (pk->ring[i].ctrl->producer_pos == bytes)
			return (int)i;
	return -1;
}

/*
 * Rings 1..3 of 4 are each claimed by one thread, which then writes alone
 * (no CAS); ring 0 is shared: a fourth thread, while the three live, writes
 * there. Once they exited, a new thread takes over a dead thread's ring.
 */
static void ring_choice(void)
{
	struct trace_rings *r = trace_rings_new(4, 4096);
	struct chooser ch[5];
	pthread_barrier_t hold;
	pthread_t th[3];
	int owned[3];
	struct peek pk;

	CHECK(r != NULL);
	if (!r || peek_map(trace_rings_fd(r), &pk))
		return;
	pthread_barrier_init(&hold, NULL, 4);
	for (unsigned int i = 0; i < 5; i++)
		ch[i] = (struct chooser){r, i + 1, RAW_HDR + 8 * (i + 1), i < 3 ? &hold : NULL};
	for (unsigned int i = 0; i < 3; i++)
		pthread_create(&th[i], NULL, write_some, &ch[i]);
	pthread_barrier_wait(&hold);
	run_chooser(&ch[3]); /* every ownable ring is taken: the shared one */
	for (unsigned int i = 0; i < 3; i++) {
		owned[i] = ring_holding(&pk, 4, (uint64_t)ch[i].records * ch[i].len);
		CHECK(owned[i] >= 1);
		for (unsigned int k = 0; k < i; k++)
			CHECK(owned[i] != owned[k]);
		CHECK(pk.ring[owned[i] > 0 ? owned[i] : 0].ctrl->owner != 0);
	}
	CHECK_EQ_U64(pk.ring[0].ctrl->producer_pos, (uint64_t)ch[3].records * ch[3].len);
	CHECK_EQ_U64(pk.ring[0].ctrl->owner, 0);
	pthread_barrier_wait(&hold);
	for (unsigned int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	run_chooser(&ch[4]); /* a dead owner's ring is taken over */
	{
		int taken = 0;

		for (unsigned int i = 0; i < 3; i++)
			if (owned[i] > 0 && pk.ring[owned[i]].ctrl->producer_pos ==
						    (uint64_t)ch[i].records * ch[i].len +
							    (uint64_t)ch[4].records * ch[4].len)
				taken++;
		CHECK_EQ_INT(taken, 1);
	}
	CHECK_EQ_U64(pk.ring[0].ctrl->producer_pos, (uint64_t)ch[3].records * ch[3].len);
	pthread_barrier_destroy(&hold);
	trace_shm_unmap(&pk.m);
	trace_rings_free(r);
}

/* A memfd of size bytes holding the header h (and zeroes), with the given seals. */
static int forge_sealed(const struct trace_shm_hdr *h, size_t size, int seals)
{
	int fd = memfd_create("forged", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size))
		return -1;
	if (size >= sizeof(*h))
		pwrite(fd, h, sizeof(*h), 0);
	if (seals && fcntl(fd, F_ADD_SEALS, seals))
		return -1;
	return fd;
}

#define ALL_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int forge(const struct trace_shm_hdr *h, size_t size)
{
	return forge_sealed(h, size, ALL_SEALS);
}

static void expect_refused(int fd, int err, const char *want)
{
	struct trace_consumer *c;

	errno = 0;
	c = trace_consumer_new(fd);
	CHECK(c == NULL);
	trace_consumer_free(c);
	if (errno != err)
		TL_FAIL("errno %d (%s), want %d; message: %s", errno, strerror(errno), err,
			uprobe_last_error());
	CHECK_CONTAINS(uprobe_last_error(), want);
	if (fd >= 0)
		close(fd);
}

static void bad_buffer(void)
{
	struct trace_rings *r = trace_rings_new(2, 4096);
	struct trace_shm_hdr good, h;
	struct trace_consumer *c;
	uint64_t bad_prod = 4096 + 8, bad_consumed = 2, pos = 64;
	int fd, pipefd[2];

	CHECK(r != NULL);
	if (!r || pread(trace_rings_fd(r), &good, sizeof(good), 0) != sizeof(good))
		return;
	/* header page, lost table (16384 u64), 2 x (control page, data) */
	CHECK_EQ_U64(good.lost_off, 4096);
	CHECK_EQ_U64(good.lost_slots, 16384);
	CHECK_EQ_U64(good.ctrl_off, 4096 + 131072);
	CHECK_EQ_U64(good.file_size, 4096 + 131072 + 2 * (4096 + 4096));
	fd = forge(&good, good.file_size);
	c = trace_consumer_new(fd);
	CHECK(c != NULL); /* the copy is fine */
	trace_consumer_free(c);
	close(fd);
	expect_refused(-1, EBADF, "fd -1");
	CHECK(pipe(pipefd) == 0);
	expect_refused(pipefd[0], EINVAL, "not a trace buffer");
	close(pipefd[1]);
	expect_refused(forge(&good, 16), EINVAL, "not a trace buffer (16 bytes)");
	h = good, h.magic ^= 1;
	expect_refused(forge(&h, good.file_size), EINVAL, "not a uprobes trace buffer (magic");
	h = good, h.version = 1;
	expect_refused(forge(&h, good.file_size), EINVAL, "version 1");
	h = good, h.page_size = 8192;
	expect_refused(forge(&h, good.file_size), EINVAL, "8192-byte pages");
	h = good, h.ring_bytes = 6000;
	expect_refused(forge(&h, good.file_size), EINVAL, "bad shape: 2 rings of 6000 bytes");
	h = good, h.n_rings = 0;
	expect_refused(forge(&h, good.file_size), EINVAL, "bad shape: 0 rings");
	h = good, h.data_off = 0;
	expect_refused(forge(&h, good.file_size), EINVAL, "header offsets do not match");
	expect_refused(forge(&good, good.file_size - 4096), EINVAL,
		       "file is 147456 bytes, its header says 151552");
	fd = forge(&good, good.file_size);
	pwrite(fd, &bad_prod, 8, (off_t)(good.ctrl_off + good.ring_stride));
	expect_refused(fd, EINVAL, "ring 1: positions 0..4104");
	/* 64 bytes hold one record at most */
	fd = forge(&good, good.file_size);
	pwrite(fd, &pos, 8, (off_t)(good.ctrl_off + offsetof(struct trace_shm_ctrl, consumer_pos)));
	pwrite(fd, &pos, 8, (off_t)(good.ctrl_off + offsetof(struct trace_shm_ctrl, producer_pos)));
	pwrite(fd, &bad_consumed, 8,
	       (off_t)(good.ctrl_off + offsetof(struct trace_shm_ctrl, consumed)));
	expect_refused(fd, EINVAL, "ring 0: 2 events consumed before position 64");
	trace_rings_free(r);
}

/*
 * A memfd that could shrink under the tracer (SIGBUS at its next read) is
 * refused: all three seals, F_SEAL_SEAL included, or nothing.
 */
static void unsealed(void)
{
	struct trace_rings *r = trace_rings_new(2, 4096);
	struct trace_shm_hdr good;
	int fd, tmp;
	char want[160];

	CHECK(r != NULL);
	if (!r || pread(trace_rings_fd(r), &good, sizeof(good), 0) != sizeof(good))
		return;
	CHECK_EQ_INT(fcntl(trace_rings_fd(r), F_GET_SEALS), ALL_SEALS);
	fd = forge_sealed(&good, good.file_size, 0);
	snprintf(want, sizeof(want),
		 "trace_consumer_new: fd %d: memfd seals 0x0 lack "
		 "F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL (its size could change under the tracer)",
		 fd);
	expect_refused(fd, EPERM, want);
	fd = forge_sealed(&good, good.file_size, F_SEAL_SHRINK | F_SEAL_GROW);
	snprintf(want, sizeof(want), "fd %d: memfd seals 0x%x lack", fd,
		 F_SEAL_SHRINK | F_SEAL_GROW);
	expect_refused(fd, EPERM, want);
	fd = forge_sealed(&good, good.file_size, F_SEAL_SHRINK | F_SEAL_SEAL);
	expect_refused(fd, EPERM, "lack F_SEAL_SHRINK|F_SEAL_GROW|F_SEAL_SEAL");
	/* a regular file cannot be sealed at all */
	tmp = open("/tmp", O_TMPFILE | O_RDWR, 0600);
	CHECK(tmp >= 0);
	CHECK_EQ_INT(ftruncate(tmp, (off_t)good.file_size), 0);
	pwrite(tmp, &good, sizeof(good), 0);
	snprintf(want, sizeof(want), "trace_consumer_new: fd %d is not a sealed memfd", tmp);
	expect_refused(tmp, EPERM, want);
	trace_rings_free(r);
}

/* name: up to 16 bytes are copied, like the producer's PR_GET_NAME buffer. */
static void put_comm(struct trace_rings *r, uint32_t tid, const char *name)
{
	struct trace_raw *raw = trace_ring_reserve_quiet(r, RAW_HDR + 16);

	raw_fill(raw, TRACE_RAW_COMM, 0, tid, 0);
	strncpy((char *)(raw + 1), name, 16);
	trace_ring_commit(raw);
}

/* Names come from comm records (never delivered themselves), the latest one wins. */
static void comm_table(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_ring_stats st;
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 64u << 10);

	CHECK(c != NULL);
	if (!c)
		return;
	put_comm(r, 4242, "worker-one");
	put_tid(r, 4242, 0);
	put_tid(r, 777, 1);
	put_comm(r, 4242, "sixteen-chars-xy"); /* no NUL: cut to 15 */
	put_tid(r, 4242, 2);
	for (uint32_t t = 5000; t < 5200; t++) /* the table grows */
		put_comm(r, t, "many");
	put_tid(r, 5199, 3);
	put_tid(r, 4242, 4);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 5);
	CHECK_STR(s.comm[0], "worker-one");
	CHECK_STR(s.comm[1], "");
	CHECK_STR(s.comm[2], "sixteen-chars-x");
	CHECK_STR(s.comm[3], "many");
	CHECK_STR(s.comm[4], "sixteen-chars-x");
	CHECK_EQ_U64(s.rec[1].tid, 777);
	st = stats_of(c);
	CHECK_EQ_U64(st.consumed, 5); /* events only: names are bookkeeping */
	CHECK_EQ_U64(st.produced, st.consumed);
	pair_free(r, c);
}

/* fn's non-zero value ends the poll and is returned; its record is consumed. */
static void callback_stop(void)
{
	struct seen s = {.stop_at_ip = 1};
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);

	CHECK(c != NULL);
	if (!c)
		return;
	for (int i = 0; i < 3; i++)
		put(r, RAW_HDR + 8, 0, (uint64_t)i, 1);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 7);
	CHECK_EQ_INT(s.n, 2);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, collect, &s), 1);
	CHECK_EQ_INT(s.n, 3);
	CHECK_EQ_U64(s.rec[2].ip, 2);
	CHECK_EQ_U64(stats_of(c).consumed, 3);
	pair_free(r, c);
}

struct late_writer {
	struct trace_rings *r;
	unsigned int delay_us;
};

static void *write_late(void *arg)
{
	struct late_writer *w = arg;

	usleep(w->delay_us);
	put(w->r, RAW_HDR + 8, 0, 0, 1);
	return NULL;
}

/*
 * Nothing ready: wait up to the timeout (never less; how much longer depends
 * on the machine, not checked); a record that arrives meanwhile ends the
 * wait, with no timeout or a finite one too long to run out (a poll that did
 * not wake for the record would never return: tests/run.sh stops it).
 */
static void poll_timeout(void)
{
	struct seen s = {.stop_at_ip = -1};
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 4, 4096);
	struct late_writer w = {.delay_us = 20000};
	pthread_t th;
	uint64_t t0, dt;

	CHECK(c != NULL);
	if (!c)
		return;
	w.r = r;
	t0 = mono_ns();
	CHECK_EQ_INT(trace_consumer_poll(c, 30, collect, &s), 0);
	dt = mono_ns() - t0;
	CHECK(dt >= 30000000);
	for (int k = 0; k < 2; k++) {
		pthread_create(&th, NULL, write_late, &w);
		CHECK_EQ_INT(trace_consumer_poll(c, k ? INT_MAX : -1, collect, &s), 1);
		pthread_join(th, NULL);
	}
	CHECK_EQ_INT(s.n, 2);
	pair_free(r, c);
}

/*
 * Records stamped with rdtsc between two clock_gettime(CLOCK_MONOTONIC): the
 * consumer's ts_ns must fall inside that bracket give or take TS_TOL_NS, and
 * entry_ts_ns inside the previous record's bracket.
 */
#define TS_TOL_NS 200000
#define TS_N	  3000

static uint64_t ts_before[TS_N], ts_after[TS_N];

struct ts_check {
	uint64_t n, far, back, last, max_err;
	int64_t max_mid; /* largest |ts_ns - middle of the bracket| */
};

static uint64_t bracket_err(uint64_t ns, uint64_t lo, uint64_t hi)
{
	return ns < lo ? lo - ns : ns > hi ? ns - hi : 0;
}

static void ts_note(struct ts_check *k, uint64_t err)
{
	k->max_err = err > k->max_err ? err : k->max_err;
	k->far += err > TS_TOL_NS;
}

/* Record i: ts_ns in bracket i, entry_ts_ns in bracket i - 1 (0 for the first). */
static int ts_record(const struct trace_record *rec, void *ctx)
{
	struct ts_check *k = ctx;
	uint64_t i = rec->ip;
	int64_t mid = (int64_t)(rec->ts_ns - (ts_before[i] + ts_after[i]) / 2);

	ts_note(k, bracket_err(rec->ts_ns, ts_before[i], ts_after[i]));
	if (i)
		ts_note(k, bracket_err(rec->entry_ts_ns, ts_before[i - 1], ts_after[i - 1]));
	else
		k->far += rec->entry_ts_ns != 0;
	mid = mid < 0 ? -mid : mid;
	k->max_mid = mid > k->max_mid ? mid : k->max_mid;
	k->back += rec->ts_ns < k->last;
	k->last = rec->ts_ns;
	k->n++;
	return 0;
}

/* As ts_record, without entry_ts_ns (none is stamped). */
static int ts_record_first(const struct trace_record *rec, void *ctx)
{
	struct ts_check *k = ctx;
	uint64_t i = rec->ip;

	ts_note(k, bracket_err(rec->ts_ns, ts_before[i], ts_after[i]));
	k->far += rec->entry_ts_ns != 0;
	k->back += rec->ts_ns < k->last;
	k->last = rec->ts_ns;
	k->n++;
	return 0;
}

static void timestamps(void)
{
	struct ts_check k = {0};
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 1u << 20);
	uint64_t prev_tsc = 0;

	CHECK(c != NULL);
	if (!c)
		return;
	for (uint64_t i = 0; i < TS_N; i++) {
		struct trace_raw *raw = put(r, RAW_HDR + 8, 0, i, 0);

		ts_before[i] = mono_ns();
		raw->tsc = __rdtsc();
		ts_after[i] = mono_ns();
		raw->entry_tsc = prev_tsc;
		prev_tsc = raw->tsc;
		trace_ring_commit(raw);
		if (i % 100 == 99) /* polls now and then: the consumer recalibrates */
			trace_consumer_poll(c, 0, ts_record, &k);
		while (mono_ns() < ts_after[i] + 10000)
			;
	}
	while (trace_consumer_poll(c, 0, ts_record, &k) > 0)
		;
	CHECK_EQ_U64(k.n, TS_N);
	CHECK_EQ_U64(k.far, 0);
	CHECK_EQ_U64(k.back, 0);
	printf("  %d records over %.0f ms: ts_ns outside [clock before, clock after] by at most "
	       "%.3f us (tolerance %d us), %.3f us from the middle\n",
	       TS_N, (ts_after[TS_N - 1] - ts_before[0]) / 1e6, k.max_err / 1000.0,
	       TS_TOL_NS / 1000, k.max_mid / 1000.0);
	pair_free(r, c);
}

/*
 * A consumer made long after the library was loaded takes its slope from the
 * process's first pair, without sleeping: records stamped right after it is
 * made, and read at its first poll, are in their brackets all the same.
 */
static void timestamps_first_poll(void)
{
	struct ts_check k = {0};
	struct trace_rings *r;
	struct trace_consumer *c;

	while (mono_ns() < ts_after[TS_N - 1] + 2000000) /* the library: > 1 ms loaded */
		;
	c = pair_new(&r, 1, 1u << 20);
	CHECK(c != NULL);
	if (!c)
		return;
	for (uint64_t i = 0; i < 100; i++) {
		struct trace_raw *raw = put(r, RAW_HDR + 8, 0, i, 0);

		ts_before[i] = mono_ns();
		raw->tsc = __rdtsc();
		ts_after[i] = mono_ns();
		raw->entry_tsc = 0;
		trace_ring_commit(raw);
	}
	CHECK_EQ_INT(trace_consumer_poll(c, 0, ts_record_first, &k), 100);
	CHECK_EQ_U64(k.n, 100);
	CHECK_EQ_U64(k.far, 0);
	CHECK_EQ_U64(k.back, 0);
	printf("  first poll: ts_ns outside its bracket by at most %.3f us\n", k.max_err / 1000.0);
	pair_free(r, c);
}

/* A short opts struct gets the fields that fit; sz itself is kept. */
static void stats_sz(void)
{
	struct trace_rings *r;
	struct trace_consumer *c = pair_new(&r, 1, 4096);
	struct trace_ring_stats st;

	CHECK(c != NULL);
	if (!c)
		return;
	put(r, RAW_HDR + 8, 0, 0, 1);
	trace_ring_reserve(r, 4096, 0);
	memset(&st, 0xaa, sizeof(st));
	st.sz = offsetof(struct trace_ring_stats, lost);
	CHECK_EQ_INT(trace_consumer_stats(c, &st), 0);
	CHECK_EQ_U64(st.sz, offsetof(struct trace_ring_stats, lost));
	CHECK_EQ_U64(st.produced, 2);
	CHECK_EQ_U64(st.consumed, 0);
	CHECK_EQ_U64(st.lost, 0xaaaaaaaaaaaaaaaaull);
	st.sz = 4;
	CHECK_EQ_INT(trace_consumer_stats(c, &st), -EINVAL);
	CHECK_EQ_INT(trace_consumer_stats(NULL, &st), -EINVAL);
	pair_free(r, c);
}

/* Bytes of shared memory the rings' file holds (pages written so far). */
static long long file_bytes(const struct trace_rings *r)
{
	struct stat st;

	return fstat(trace_rings_fd(r), &st) ? -1 : (long long)st.st_blocks * 512;
}

/*
 * Rings take memory as they are written, not when made: a traced image
 * whose threads write one ring does not zero the others (8 MB per image).
 * With transparent huge pages for shared memory off (Debian's default,
 * "never"), a first record takes a few pages (its ring's control page and
 * first data page, the thread's name), not its 1 MB ring.
 */
static void rings_lazy(void)
{
	struct trace_rings *r = trace_rings_new(4, 1u << 20);
	struct trace_raw *raw;
	long long before, after;

	CHECK(r != NULL);
	if (!r)
		return;
	before = file_bytes(r);
	CHECK(before >= 0 && before < 64 * 1024); /* the header and lost table, not 4 MB */
	raw = trace_ring_reserve(r, RAW_HDR + 16, 1);
	CHECK(raw != NULL);
	if (raw)
		trace_ring_commit(raw);
	after = file_bytes(r);
	if (after - before < 4096 || after - before > 16 * 4096)
		TL_FAIL("a first record took %lld bytes (%lld before)", after - before, before);
	trace_rings_free(r);
}

int main(void)
{
	RUN(fields);
	RUN(discard);
	RUN(quarter_and_full);
	RUN(lost_by_event);
	RUN(straddle);
	RUN(unwritten_header);
	RUN(bad_buffer);
	RUN(unsealed);
	RUN(consumer_restart);
	RUN(ring_choice);
	RUN(comm_table);
	RUN(callback_stop);
	RUN(poll_timeout);
	RUN(timestamps);
	RUN(timestamps_first_poll);
	RUN(stats_sz);
	RUN(rings_lazy);
	hostile_cases();
	stress_cases();
	TL_EXIT();
}
