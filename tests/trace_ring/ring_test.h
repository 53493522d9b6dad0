/* SPDX-License-Identifier: MIT */
/*
 * Shared by the ring tests: records built by hand (the producer side is
 * src/trace/ring.c, compiled into the test; the consumer is the library's).
 */
#ifndef UPROBES_TESTS_RING_TEST_H
#define UPROBES_TESTS_RING_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

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

void stress_cases(void);

#endif
