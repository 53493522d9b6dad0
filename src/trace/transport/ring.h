/* SPDX-License-Identifier: MIT */
/*
 * trace/transport — records from the traced process to the tracer: shared-
 * memory ring buffers (ring.c, the producer side, hot path), their consumer
 * (consumer.c, public API in uprobes_trace.h: trace_consumer_*) and its clock
 * (consumer_clock.c: TSC -> CLOCK_MONOTONIC). It knows records as bytes with
 * a header; what a payload means is the business of fetch (which writes it)
 * and output (which reads it). ring_shm.h (the memfd's layout) and
 * consumer_clock.h are private to this sub-layer.
 *
 * This header: the producer side (in the traced process) and the raw record
 * format both sides agree on.
 *
 * One memfd holds a header page, then per ring one control page and its data
 * area. Each data area is mapped twice, back to back, so a record never wraps
 * (as libbpf's ringbuf does). A ring has many producers (the threads assigned
 * to it, and signal handlers nested in them): space is reserved by a CAS on
 * producer_pos, the record header is written with TRACE_RAW_BUSY set, and
 * committing clears it with a release store. The consumer reads from
 * consumer_pos and stops at the first busy or not yet written record (it
 * zeroes what it has read, see ring_shm.h).
 * A full ring drops the record and counts it in lost, and per event. Producers
 * never make a system call (the consumer polls; it is never woken).
 */
#ifndef UPROBES_TRACE_TRANSPORT_RING_H
#define UPROBES_TRACE_TRANSPORT_RING_H

#include <stddef.h>
#include <stdint.h>

#define TRACE_RAW_BUSY (1u << 31)    /* reserved, not yet committed */
#define TRACE_RAW_DISCARD (1u << 30) /* committed, to be skipped */
#define TRACE_RAW_LEN_MASK 0x3fffffffu

enum trace_raw_type {
	TRACE_RAW_EVENT = 1, /* a probe hit: header, then the payload */
	TRACE_RAW_COMM = 2,  /* a thread's name: header (tid, pid), then 16 bytes */
};

/*
 * Every record starts with this header; len counts header and payload and is
 * a multiple of 8. Timestamps are raw TSC values (rdtsc): the consumer turns
 * them into CLOCK_MONOTONIC nanoseconds.
 */
struct trace_raw {
	uint32_t len;	   /* | TRACE_RAW_BUSY / TRACE_RAW_DISCARD */
	uint16_t type;	   /* enum trace_raw_type */
	uint16_t cpu;
	uint32_t event_id;
	uint32_t flags;	   /* enum trace_rec_flags */
	uint64_t tsc;
	uint64_t entry_tsc; /* return records: TSC at the call's entry, or 0 */
	uint32_t pid, tid;
	uint64_t ip;
	uint64_t func;
};

_Static_assert(sizeof(struct trace_raw) == 56, "raw record header layout");

struct trace_rings;

/*
 * Create the memfd ("uprobes-trace", MFD_CLOEXEC) with n_rings rings of
 * ring_bytes (a power of two, >= 4096) each and map it. NULL + errno.
 */
struct trace_rings *trace_rings_new(unsigned int n_rings, size_t ring_bytes);
void trace_rings_free(struct trace_rings *r);
int trace_rings_fd(const struct trace_rings *r);

/*
 * Hot path, any thread, signal-safe, no system call, no libc call: reserve
 * len bytes (a multiple of 8, header included) in the calling thread's ring
 * for a record of event event_id. Returns the record with its len word set
 * to len | TRACE_RAW_BUSY, or NULL when the ring is full or len exceeds a
 * quarter ring: the loss is counted for the ring and for event_id (the lost
 * table of ring_shm.h).
 */
struct trace_raw *trace_ring_reserve(struct trace_rings *r, uint32_t len, uint32_t event_id);
/*
 * The same for bookkeeping records (thread names): a refusal is not counted,
 * because lost and consumed count events only.
 */
struct trace_raw *trace_ring_reserve_quiet(struct trace_rings *r, uint32_t len);
/*
 * trace_ring_reserve, and where the record ends in its ring (*ring, *end) for
 * trace_ring_wait_consumed.
 */
struct trace_raw *trace_ring_reserve_at(struct trace_rings *r, uint32_t len, uint32_t event_id,
					unsigned int *ring, uint64_t *end);
/*
 * After the commit of a record of trace_ring_reserve_at: wait until the
 * consumer has read it and done with it (it moves its position past a record
 * once its callback returned: the tracer performed it), so that what the
 * record asks (print, clear, zero of a map) happens before this thread goes
 * on. Only while the consumer says it performs records (hdr->sync); never
 * while the thread holds a record not yet committed (a handler nested in its
 * own record: the consumer stops there). Spins, then sched_yield, then
 * naps; bounded by TRACE_SYNC_WAIT_NS, a wait that times out turns waiting
 * off for the session (a stalled or dead tracer costs one wait, never a
 * hang). Signal-safe. 0 (performed), -EAGAIN (not waited or timed out).
 */
#define TRACE_SYNC_WAIT_NS 1000000000ull
int trace_ring_wait_consumed(struct trace_rings *r, unsigned int ring, uint64_t end);
/* Publish a reserved record (release store of len without TRACE_RAW_BUSY). */
void trace_ring_commit(struct trace_raw *rec);
/* Give a reserved record up: the consumer skips it; it is not counted lost. */
void trace_ring_discard(struct trace_raw *rec);

#endif
