/* SPDX-License-Identifier: MIT */
/*
 * Private to stack/: the stack table's memfd ("uprobes-stacks") as both
 * sides see it. The producer (table.c, in the traced process) creates,
 * sizes and seals it; the tracer (table_read.c) maps it and trusts nothing
 * in it: the layout is recomputed from the header's three sizes and must
 * match the file, every count is clamped, every entry copied and checked
 * before its frames are read.
 *
 *   0      struct stack_shm_hdr   written once, before the fd is handed out
 *   64     struct stack_shm_ctl   producers' counters (their own cache lines)
 *   ...    u32 index[index_slots] open addressing by hash: 0 empty, else
 *                                 entry number + 1 (the stack's id)
 *   ...    struct stack_ent ent[max_stacks]
 *   ...    u64 pool[max_frames]   the frames of the entries, leaf first
 *   ...    maps[STACK_SHM_MAPS_SIZE]  the mappings of the processes that intern
 *                                 (the language's ustack, so that the tracer
 *                                 names frames after they exited): records of
 *                                 u64 (len << 32 | image), then len bytes of
 *                                 the UPROBE_STACK_MAPS_EVENT payload (image:
 *                                 stack_table_image_of(), a pid and which of
 *                                 its process images, a fork or an exec); a writer
 *                                 reserves with a fetch-add of maps_used and
 *                                 stores the head word last (release); a zero
 *                                 head ends the list
 *
 * Interning a stack (lock-free; any thread, signal handlers too): look its
 * hash up in the index, comparing the frames of each READY entry of that
 * hash. Not there: reserve an entry (fetch-add n_stacks) and its frames
 * (fetch-add pool_used), write them, set the entry READY (release), then
 * publish its number in the first empty slot of the probe sequence with a
 * CAS. A writer that loses the CAS to the same stack marks its own entry
 * DEAD and takes the winner's id: one id per distinct stack, ever. A full
 * table (no entry, no frames, no slot) refuses new stacks and counts them
 * in dropped; known stacks are still found.
 */
#ifndef UPROBES_STACK_TABLE_SHM_H
#define UPROBES_STACK_TABLE_SHM_H

#include <stdint.h>

#define STACK_SHM_MAGIC 0x4b43415453505255ull /* "URPSTACK" */
#define STACK_SHM_VERSION 2
#define STACK_SHM_MAX_STACKS (1u << 24)
#define STACK_SHM_MAX_FRAMES (1u << 28)
#define STACK_SHM_MAPS_SIZE (256u << 10)

enum stack_ent_state {
	STACK_ENT_WRITING = 0, /* reserved, being written (or its writer gave up) */
	STACK_ENT_READY = 1,
	STACK_ENT_DEAD = 2, /* lost the CAS to the same stack: never an id */
};

struct stack_shm_hdr {
	uint64_t magic;
	uint32_t version, hdr_size;
	uint32_t max_stacks, index_slots, max_frames, pad;
	uint64_t file_size;
	uint64_t index_off, ent_off, pool_off;
};

struct stack_shm_ctl {
	_Alignas(64) uint32_t n_stacks; /* entries reserved (may pass max_stacks: clamp) */
	uint32_t dropped;		/* new stacks refused, the table being full */
	_Alignas(64) uint64_t pool_used; /* frames reserved (may pass max_frames) */
	_Alignas(64) uint64_t maps_used; /* bytes of maps reserved (may pass the size) */
};

struct stack_ent {
	uint64_t hash;
	uint32_t pool_off; /* index of its first frame in pool */
	uint16_t depth;	   /* frames */
	uint16_t state;	   /* enum stack_ent_state */
};

_Static_assert(sizeof(struct stack_ent) == 16, "stack_ent layout");

/* Where the mappings' records start. */
static inline uint64_t stack_shm_maps_off(const struct stack_shm_hdr *h)
{
	return (h->pool_off + 8ull * h->max_frames + 63) & ~63ull;
}

/* The layout of a table of this shape (both sides compute it): the file's size. */
static inline uint64_t stack_shm_layout(struct stack_shm_hdr *h, uint32_t max_stacks,
					uint32_t max_frames)
{
	uint32_t slots = 1;

	while (slots < 2 * max_stacks)
		slots <<= 1;
	h->magic = STACK_SHM_MAGIC;
	h->version = STACK_SHM_VERSION;
	h->hdr_size = sizeof(*h);
	h->max_stacks = max_stacks;
	h->index_slots = slots;
	h->max_frames = max_frames;
	h->pad = 0;
	h->index_off = 64 + sizeof(struct stack_shm_ctl);
	h->ent_off = (h->index_off + 4ull * slots + 63) & ~63ull;
	h->pool_off = h->ent_off + sizeof(struct stack_ent) * (uint64_t)max_stacks;
	h->file_size = (stack_shm_maps_off(h) + STACK_SHM_MAPS_SIZE + 4095) & ~4095ull;
	return h->file_size;
}

/*
 * The hash of a stack (never 0): four lanes of multiply-add, so that the
 * multiplications of a deep stack overlap instead of waiting on each other.
 */
static inline uint64_t stack_hash(const uint64_t *frames, unsigned int n)
{
	const uint64_t k = 0xff51afd7ed558ccdull;
	uint64_t a = 0x9e3779b97f4a7c15ull ^ n, b = 0xc2b2ae3d27d4eb4full, c = 0x165667b19e3779f9ull,
		 d = 0x27d4eb2f165667c5ull;
	unsigned int i;

	for (i = 0; i + 4 <= n; i += 4) {
		a = (a + frames[i]) * k;
		b = (b + frames[i + 1]) * k;
		c = (c + frames[i + 2]) * k;
		d = (d + frames[i + 3]) * k;
	}
	for (; i < n; i++)
		a = (a + frames[i]) * k;
	a ^= (b >> 17) ^ (c << 13) ^ (d >> 29);
	a *= 0xc4ceb9fe1a85ec53ull;
	return (a ^ (a >> 32)) | 1;
}

#endif
