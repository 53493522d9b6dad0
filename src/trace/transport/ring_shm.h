/* SPDX-License-Identifier: MIT */
/*
 * Private to trace/transport. The rings' memfd as both sides see it: the producer (ring.c) creates it,
 * the consumer (consumer.c) checks its header and maps it. Offsets are in
 * bytes from the start of the file; P is the page size, R ring_bytes (a
 * power of two, P <= R <= TRACE_SHM_MAX_RING), N n_rings, L the lost table's
 * bytes (TRACE_SHM_LOST_SLOTS u64, rounded up to pages), C = P + L:
 *
 *   0                  header page: struct trace_shm_hdr
 *   P                  lost table: events lost, per event id (see below)
 *   C + i * (P + R)    ring i's control page: struct trace_shm_ctrl
 *   C + P + i * (P + R)  ring i's data: R bytes
 *   C + N * (P + R)    end of file
 *
 * The lost table: slot id counts the reservations of event id refused
 * (ring full, record too long), for id < TRACE_LOST_IDS; the last slot counts
 * those of every larger id. A producer adds to its slot before it adds to
 * its ring's lost (release), so a consumer that reads the rings' counters
 * first (acquire) finds the table's sum at least as large.
 *
 * Every process maps a ring's data twice, back to back (trace_shm_map), so a
 * record that starts near the end of the data reads on into the second copy:
 *
 *   virtual:  [hdr][ctrl 0][data 0][data 0 again][ctrl 1][data 1][data 1 again]...
 *
 * Positions count bytes since the ring was created and never wrap (2^64);
 * a record at position pos starts at data + (pos & (R - 1)).
 *
 * Ownership of the ring words: producers move producer_pos (a CAS, or a
 * plain store by the ring's owner thread, see ring.c) and add to lost;
 * the one consumer alone writes consumer_pos and consumed. Bytes of
 * [consumer_pos, producer_pos) belong to producers until their record is
 * committed; the rest of the lap, [producer_pos, consumer_pos + R), is zero,
 * because the consumer zeroes what it has read before it moves consumer_pos.
 * So a len word of 0 means "not written yet": a reservation whose producer
 * has done its CAS but not yet stored the header (the window a CAS-based
 * reservation has and a locked one does not) reads as not ready, and the
 * consumer can walk records without reading producer_pos at all.
 *
 * The one hole: a consumer killed between zeroing and moving consumer_pos
 * leaves zeroes at consumer_pos that the next consumer takes for a
 * reservation in flight; that ring then stalls.
 *
 * The traced process can write every byte of the file at any time (it maps
 * it read-write, and a hostile one scribbles): the consumer reads the header
 * once, keeps its own consumer_pos and consumed, reads each shared word once
 * and checks it before use, and copies a record out of the ring before it
 * checks it (docs/security.md, "Shared memory").
 */
#ifndef UPROBES_TRACE_TRANSPORT_RING_SHM_H
#define UPROBES_TRACE_TRANSPORT_RING_SHM_H

#include <stddef.h>
#include <stdint.h>

#include "uprobes_trace.h"
#include "trace/transport/ring.h"

#define TRACE_SHM_MAGIC	    0x4543415254525055ull /* "UPRTRACE", little-endian */
#define TRACE_SHM_VERSION   3u
#define TRACE_SHM_MAX_RINGS 4096u
#define TRACE_SHM_MAX_RING  (1ull << 30) /* fits TRACE_RAW_LEN_MASK */
#define TRACE_SHM_LOST_SLOTS (TRACE_LOST_IDS + 1) /* the last: every larger id */

/* Page 0. Written once by trace_rings_new before the fd is handed out. */
struct trace_shm_hdr {
	uint64_t magic;
	uint32_t version;
	uint32_t hdr_size;    /* sizeof(struct trace_shm_hdr) */
	uint32_t page_size;   /* P */
	uint32_t n_rings;     /* N */
	uint64_t ring_bytes;  /* R */
	uint64_t ctrl_off;    /* P: ring 0's control page */
	uint64_t ring_stride; /* P + R: from one ring's control page to the next */
	uint64_t data_off;    /* P: from a ring's control page to its data */
	uint64_t file_size;   /* P + N * (P + R) */
	uint32_t max_record;  /* R / 4: longer reservations are refused (and lost) */
	uint32_t producer_pid;
	uint64_t lost_off;    /* P: the lost table */
	uint32_t lost_slots;  /* TRACE_SHM_LOST_SLOTS */
	/*
	 * The one word of this page written after creation: the consumer sets it
	 * to TRACE_SHM_BLOCKING (trace_consumer_set_blocking) and producers that
	 * find their ring full then wait for space (ring.c); a producer whose wait
	 * times out, and the consumer when it stops reading, set it back to 0.
	 * Nothing else reads it: the consumer never trusts it.
	 */
	uint32_t blocking;
	/*
	 * Likewise: TRACE_SHM_SYNC while the consumer performs the records it
	 * reads and producers may wait for one of theirs to be performed
	 * (trace_ring_wait_consumed: print, clear, zero of uprobe -e); back to 0
	 * when it stops reading, or by a producer whose wait timed out.
	 */
	uint32_t sync;
};

#define TRACE_SHM_BLOCKING 0x424c4b31u /* "1KLB": any other value is "do not wait" */
#define TRACE_SHM_SYNC	   0x434e5953u /* "SYNC": any other value is "do not wait" */

/*
 * A ring's control page. Producer-written and consumer-written words sit
 * 128 bytes apart (a cache line and its prefetched neighbour), so that a
 * producer's CAS and the consumer's stores do not keep stealing one line.
 */
struct trace_shm_ctrl {
	_Alignas(128) uint64_t producer_pos; /* bytes reserved, ever */
	uint64_t owner; /* producer thread (pid << 32 | tid) writing alone, or 0 (ring.c) */
	_Alignas(128) uint64_t consumer_pos; /* bytes consumed, ever */
	uint64_t consumed;		     /* records consumed (not discarded ones) */
	_Alignas(128) uint64_t lost;	     /* reservations refused */
};

struct trace_shm_ring {
	struct trace_shm_ctrl *ctrl;
	uint8_t *data; /* 2 * R bytes of address space, the second half the first again */
};

struct trace_shm_map {
	void *base;
	size_t len;
	struct trace_shm_hdr *hdr;
	uint64_t *lost; /* the lost table: hdr->lost_slots counters */
};

/* The header describing n_rings rings of ring_bytes; -EINVAL for a bad shape. */
int trace_shm_layout(struct trace_shm_hdr *h, unsigned int n_rings, uint64_t ring_bytes,
		     uint32_t page_size);

/*
 * Map the file h describes, read-write and shared, filling rings[0 ..
 * h->n_rings - 1]. populate: fault every page in now. 0 or -errno.
 */
int trace_shm_map(int fd, const struct trace_shm_hdr *h, int populate, struct trace_shm_map *m,
		  struct trace_shm_ring *rings);
void trace_shm_unmap(struct trace_shm_map *m);

#endif
