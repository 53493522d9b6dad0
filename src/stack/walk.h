/* SPDX-License-Identifier: MIT */
/*
 * Private to stack/. The walk cache: what the walk decided at an address,
 * kept beside the address in one word, so that the next walk through the
 * same return address (a hot probe's stack is the same addresses again and
 * again) needs neither the module search nor the CFI table's lookup.
 *
 * One cache per set of modules (modules.h): a set is immutable, so what was
 * true of an address in it stays true; a new set (dlopen, dlclose) starts
 * with an empty cache, and nothing is ever invalidated. Shared by the
 * process's threads without a lock: an entry is one aligned 64-bit word,
 * written and read whole (a racing writer only replaces one right answer
 * by another), so no entry can be torn.
 *
 *   bit 63 ........................... 17 16 ........ 4  3   2   1   0
 *   [ pc: the address looked up (< 2^47) ][ cfa_off / 8 ][END][FP][SAV][BPB]
 *
 *   BPB  CFA = rbp + cfa_off (else rsp + cfa_off)
 *   SAV  the caller's rbp is saved at CFA - 16 (else unchanged); the return
 *        address is at CFA - 8 in both cases
 *   FP   no CFI row here: a frame pointer (BPB, SAV, cfa_off 16), followed
 *        only while rbp looks like one (above rsp, aligned, within reach)
 *   END  the outermost frame (CFI_END): the walk stops here
 *
 * Only rows the walk's fast road takes are kept (CFI_F_FAST rows with a CFA
 * offset that is a multiple of 8 below 64 KiB, frame pointers, the end);
 * signal frames, PLT stubs and the rarer rules are looked up each time.
 * A word of 0 is an empty entry (no pc is 0).
 */
#ifndef UPROBES_STACK_WALK_H
#define UPROBES_STACK_WALK_H

#include <stdint.h>

struct cfi_row;

#define WALK_CACHE 1024 /* entries (8 KiB): a power of 2 */
#define WALK_BP_BASE 0x1u
#define WALK_BP_SAVED 0x2u
#define WALK_FP 0x4u
#define WALK_END 0x8u
#define WALK_OFF_SHIFT 4
#define WALK_DESC_BITS 17
#define WALK_OFF_MAX ((1u << (WALK_DESC_BITS - WALK_OFF_SHIFT)) - 1) /* in 8-byte units */
#define WALK_DESC_MASK ((1ull << WALK_DESC_BITS) - 1)

struct walk_cache {
	uint64_t ent[WALK_CACHE];
};

/* A frame pointer's rule: [saved rbp][return address] at rbp. */
#define WALK_DESC_FP (WALK_FP | WALK_BP_BASE | WALK_BP_SAVED | 2u << WALK_OFF_SHIFT)

/* The CFA offset of a desc, in bytes. */
static inline uint64_t walk_desc_off(uint64_t d)
{
	return (d >> WALK_OFF_SHIFT << 3) & ((uint64_t)WALK_OFF_MAX << 3);
}

/*
 * Neighbouring return addresses get neighbouring entries (a stack's callers
 * often lie close together: fewer cache lines), the higher bits spread
 * modules that share their low bits.
 */
static inline uint64_t *walk_slot(struct walk_cache *c, uint64_t pc)
{
	return &c->ent[((pc >> 2) ^ (pc >> 14)) & (WALK_CACHE - 1)];
}

/* The desc kept for pc, 0 if none. Signal-safe. */
static inline uint64_t walk_cache_get(struct walk_cache *c, uint64_t pc)
{
	uint64_t e = __atomic_load_n(walk_slot(c, pc), __ATOMIC_RELAXED);

	return e >> WALK_DESC_BITS == pc ? e & WALK_DESC_MASK : 0;
}

/* Keep desc d (non-zero) for pc (< 2^47). Signal-safe. */
static inline void walk_cache_put(struct walk_cache *c, uint64_t pc, uint64_t d)
{
	__atomic_store_n(walk_slot(c, pc), pc << WALK_DESC_BITS | d, __ATOMIC_RELAXED);
}

/*
 * The desc of a CFI row (NULL: no row), or 0 when the row is not one the
 * cache keeps (the walk then takes its slow road). Signal-safe (walk.c is
 * built as the hot path is).
 */
uint64_t walk_desc_of(const struct cfi_row *r);

/* A new empty cache (calloc), NULL + errno. Not signal context. */
struct walk_cache *walk_cache_new(void);

#endif
