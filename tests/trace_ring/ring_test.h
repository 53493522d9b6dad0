/* SPDX-License-Identifier: MIT */
/*
 * Shared by the ring tests: records built by hand (the producer side is
 * src/trace/transport/ring.c, compiled into the test; the consumer is the
 * library's), a consumer callback that keeps what it saw, and the test's own
 * mapping of the file.
 */
#ifndef UPROBES_TESTS_RING_TEST_H
#define UPROBES_TESTS_RING_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "testlib.h"
#include "uprobes_trace.h"
#include "trace/transport/ring.h"
#include "trace/transport/ring_shm.h"

#define RAW_HDR ((uint32_t)sizeof(struct trace_raw))

static inline uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* A payload word that depends on everything that identifies it. */
static inline uint64_t mix(uint64_t seq, uint64_t who, uint64_t i)
{
	uint64_t x = seq * 0x9e3779b97f4a7c15ull ^ (who << 48) ^ (i * 0xbf58476d1ce4e5b9ull);

	return x ^ (x >> 29);
}

/* Every header field but len, as a producer of event records fills it. */
static inline void raw_fill(struct trace_raw *r, uint16_t type, uint32_t event_id, uint32_t tid,
			    uint64_t seq)
{
	r->type = type;
	r->cpu = (uint16_t)(seq & 0x3ff);
	r->event_id = event_id;
	r->flags = (uint32_t)(seq & 1);
	r->tsc = __rdtsc();
	r->entry_tsc = 0;
	r->pid = (uint32_t)getpid();
	r->tid = tid;
	r->ip = seq;
	r->func = ~seq;
}

/* ---- the consumer's side, shared by the cases ---------------------------------------- */

#define MAXREC 16

struct seen {
	int n;
	struct trace_record rec[MAXREC];
	char comm[MAXREC][16];
	uint64_t w0[MAXREC]; /* first payload word */
	uint64_t words[32];  /* the first record's payload (data is valid during fn only) */
	int stop_at_ip;	     /* return 7 for the record whose ip is this (-1: never) */
};

static inline int collect(const struct trace_record *rec, void *ctx)
{
	struct seen *s = ctx;

	if (s->n < MAXREC) {
		s->rec[s->n] = *rec;
		snprintf(s->comm[s->n], sizeof(s->comm[0]), "%s", rec->comm);
		s->w0[s->n] = rec->data_len >= 8 ? *(const uint64_t *)rec->data : 0;
	}
	if (s->n == 0)
		memcpy(s->words, rec->data, rec->data_len < 256 ? rec->data_len : 256);
	s->n++;
	return (int)rec->ip == s->stop_at_ip ? 7 : 0;
}

/* An event record of len bytes, payload words mix(seq, id, i); committed if asked. */
static inline struct trace_raw *put(struct trace_rings *r, uint32_t len, uint32_t id, uint64_t seq,
				    int commit)
{
	struct trace_raw *raw = trace_ring_reserve(r, len, id);

	if (!raw)
		return NULL;
	raw_fill(raw, TRACE_RAW_EVENT, id, (uint32_t)gettid(), seq);
	for (uint32_t i = 0; i < (len - RAW_HDR) / 8; i++)
		((uint64_t *)(raw + 1))[i] = mix(seq, id, i);
	if (commit)
		trace_ring_commit(raw);
	return raw;
}

/* An event record of thread tid (payload of seq). */
static inline void put_tid(struct trace_rings *r, uint32_t tid, uint64_t seq)
{
	struct trace_raw *raw = put(r, RAW_HDR + 8, 0, seq, 0);

	raw->tid = tid;
	trace_ring_commit(raw);
}

static inline struct trace_consumer *pair_new(struct trace_rings **r, unsigned int n, size_t bytes)
{
	struct trace_consumer *c;

	*r = trace_rings_new(n, bytes);
	if (!*r)
		return NULL;
	c = trace_consumer_new(trace_rings_fd(*r));
	if (!c) {
		trace_rings_free(*r);
		*r = NULL;
	}
	return c;
}

static inline void pair_free(struct trace_rings *r, struct trace_consumer *c)
{
	trace_consumer_free(c);
	trace_rings_free(r);
}

static inline struct trace_ring_stats stats_of(struct trace_consumer *c)
{
	struct trace_ring_stats st = {.sz = sizeof(st)};

	CHECK_EQ_INT(trace_consumer_stats(c, &st), 0);
	return st;
}

/* The test's own mapping of the file, to look at what the library does not show. */
struct peek {
	struct trace_shm_hdr h;
	struct trace_shm_map m;
	struct trace_shm_ring ring[4];
};

static inline int peek_map(int fd, struct peek *p)
{
	if (pread(fd, &p->h, sizeof(p->h), 0) != sizeof(p->h) || p->h.n_rings > 4)
		return -1;
	return trace_shm_map(fd, &p->h, 0, &p->m, p->ring);
}

void stress_cases(void);
void hostile_cases(void);

#endif
