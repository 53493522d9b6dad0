/* SPDX-License-Identifier: MIT */
/*
 * Private to trace/map. The region's memfd as both sides see it. Offsets are
 * bytes from the start of the file; P is the page size, M the maps, S the
 * shards:
 *
 *   0            header page: struct map_shm_hdr, then blob_len bytes of the
 *                blob (map_region_set_blob) at blob_off
 *   defs_off     struct map_shm_def[M]        (written once, before sealing)
 *   state_off    struct map_shm_state[M]      (one 128-byte line per map: its
 *                generation words and the counters of rare paths, atomics)
 *   owners_off   uint64_t owner[S + 1]        (pid << 32 | tid; 0: never owned; the
 *                                             last: the overflow shard's lock word)
 *   shards_off   shard s at shards_off + s * shard_stride, s = 0 .. S (S: the
 *                overflow shard, written under its lock by threads that found
 *                no shard of their own):
 *                  struct map_shm_shard_stats[M]  (its owner's counters)
 *                  then, per aggregation map, its table at def.table_off
 *                  then, per count map with dense keys, def.dense words at
 *                  def.dense_off: the count stub's (map_dense_slot), written
 *                  by the shard's owner alone with one non-atomic add each
 *   values_off   value maps' tables, each at def.table_off from the file start
 *   file_size
 *
 * A table is cap (a power of two) slots of slot_size bytes:
 *
 *   +0   uint64_t ctrl    bits 0-31 the key's hash (low half), 32-33 the
 *                         state (MAP_SLOT_*), 34-63 the generation
 *                         (aggregations) or a sequence (value maps)
 *   +8   key              key_size bytes, zero-padded to a multiple of 8
 *   +8+K value words      vwords int64 (aggregations: per kind, see
 *                         map_vwords; value maps: one, or two buffers
 *                         of value_size bytes, see below)
 *
 * An aggregation slot is written by its shard's owner alone, but for
 * delete(), which may come from any thread: a CAS of the control word from
 * LIVE to DELETED (key and generation kept); the owner's next update of the
 * key renews the entry from zero. It goes EMPTY -> LIVE once its key and
 * value are written (release). A reader copies ctrl
 * (acquire), key and value, then reads ctrl again and keeps the copy only if
 * both agree and say LIVE. An entry's generation older than the map's gen is
 * zero (zero()) or gone (older than clear_gen, clear()). The owner renews an
 * entry of an older generation when it updates it again, and empties its whole
 * table (every ctrl EMPTY, used 0) at its first update after a clear(): every
 * entry there is gone then, so no chain is broken.
 *
 * Values of several words that must be read together (avg: count and sum;
 * stats: count, sum, min, max) end with a sequence word (map_seq_word): the
 * owner makes it odd before it writes them and even after (a seqlock), so a
 * reader that finds it even and unchanged around its copy has count and sum
 * of the same hits (a copy taken between the writer's stores would give an
 * average off by a hit). A renewed entry keeps its sequence moving.
 *
 * min and max slots hold the value of a period (w[0], w[1] its epoch) and
 * of the period before (w[2], w[3]), then the sequence: an update that finds
 * the map's epoch moved shifts the value to the previous one and starts the
 * new period with its own (map_read_period: the tracer moves the epoch, then
 * reads every slot's value of the period that ended, which no update changes
 * any more, and folds it into its own: print() then clear() lose nothing).
 *
 * A value-map slot is claimed by a CAS EMPTY -> BUSY, keeps its key for ever
 * (delete() makes it DELETED; a later set revives it through BUSY); the value
 * is one atomic word, its sequence moves at every revival, so a reader that
 * finds ctrl unchanged around its read of the value read that entry's value.
 * A value of several words (value_size > 8: a string) has two buffers of
 * value_size bytes (vwords = 2 * value_size / 8) and a sequence q that moves
 * by 4 per write, its value in buffer (q >> 2) & 1:
 *
 *   set of a live key     LIVE(q)    -> BUSY(q + 1) -> LIVE(q + 4)
 *   set of a deleted key  DELETED(q) -> BUSY(q + 2) -> LIVE(q + 4)
 *   delete                LIVE(q)    -> DELETED(q)
 *
 * The writer fills buffer ((q + 4) >> 2) & 1 while BUSY, which no reader
 * reads: a reader takes the value of LIVE(q) or BUSY(q + 1) from buffer
 * (q >> 2) & 1 and keeps it when ctrl has moved by 4 at most meanwhile (one
 * write at most, to the other buffer). So a reader never waits for a writer;
 * a set or delete that finds BUSY is overtaken by the set in progress and
 * returns (a writer preempted while BUSY holds nobody up).
 *
 * The traced process can write every byte at any time: the tracer reads each
 * word once and checks it (map_read.c).
 */
#ifndef UPROBES_TRACE_MAP_MAP_SHM_H
#define UPROBES_TRACE_MAP_MAP_SHM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/map/map.h"
#include "util/fd.h"

#define MAP_SHM_MAGIC	 0x5350414d50525055ull /* "UPRPMAPS", little-endian */
#define MAP_SHM_VERSION	 1u
#define MAP_SHM_MAX_FILE (64ull << 30) /* virtual: pages are made when written */

enum map_slot_state { MAP_SLOT_EMPTY = 0, MAP_SLOT_BUSY = 1, MAP_SLOT_LIVE = 2, MAP_SLOT_DELETED = 3 };

#define MAP_CTRL(hash, state, gen) \
	((uint64_t)(uint32_t)(hash) | (uint64_t)(state) << 32 | (uint64_t)(gen) << 34)
#define MAP_CTRL_HASH(c)  ((uint32_t)(c))
#define MAP_CTRL_STATE(c) ((unsigned int)((c) >> 32) & 3u)
#define MAP_CTRL_GEN(c)	  ((uint32_t)((c) >> 34))
#define MAP_GEN_MASK	  0x3fffffffu
#define MAP_OVERFLOW_LOCKED 1ull /* the overflow's lock word: held */
#define MAP_OVERFLOW_USED   2ull /* ... ever taken: the reader reads that shard */

struct map_shm_hdr {
	uint64_t magic;
	uint32_t version, hdr_size;
	uint32_t page_size, n_maps, n_shards, pad;
	uint64_t file_size, defs_off, state_off, owners_off, shards_off, shard_stride, values_off;
	uint64_t blob_off, blob_len;
};

struct map_shm_def {
	char name[MAP_NAME_MAX];
	uint32_t kind, key_size, max_entries, cap; /* cap: slots, a power of two */
	uint32_t slot_size, vwords, n_buckets, value_size;
	int64_t lhist_min, lhist_max, lhist_step;
	uint64_t table_off; /* in a shard (aggregations), in the file (value maps) */
	uint32_t dense, pad;
	uint64_t dense_off; /* in a shard: dense words (map_def.dense) */
};

struct map_shm_state {
	_Alignas(128) uint32_t gen; /* moved by clear() and zero() */
	uint32_t clear_gen;	    /* gen of the last clear() */
	uint64_t used;		    /* value maps: slots claimed (CAS) */
	uint64_t dropped_full;	    /* value maps; aggregations count per shard */
	uint64_t dropped_shard;	    /* no shard for the thread */
	uint64_t dropped_nested;    /* value maps: a slot busy too long */
	uint64_t epoch;		    /* min/max: the period updates go to (map_read_period) */
};

/* One per map in each shard, written by the shard's owner only. */
struct map_shm_shard_stats {
	uint64_t used, dropped_full, dropped_nested;
	uint32_t seen_clear, pad; /* the clear_gen of the map when the table was last emptied */
};

/* A map as a process sees it: its own copy of the definition, never re-read. */
struct map_priv {
	struct map_def def;
	char name[MAP_NAME_MAX];
	uint32_t cap, mask, slot_size, vwords, key_words, n_buckets;
	uint64_t table_off;
	uint64_t dense_off; /* in a shard, of def.dense words (0: none) */
	struct map_shm_state *state;
	uint64_t corrupt, entries; /* the reader's: impossible entries skipped, keys last read */
};

struct map_region {
	uint8_t *base; /* the mapping (NULL before seal) */
	size_t len;
	struct fd_kept file; /* the tracer's memfd (-1 in an agent) */
	bool sealed;
	uint64_t serial; /* unique in the process: what a thread's cached shard belongs to */
	uint32_t n_maps, n_shards;
	uint64_t shard_stride, shards_off, file_size;
	uint64_t *owners;
	uint8_t blob[MAP_BLOB_MAX]; /* a private copy (the agent's taken at attach) */
	size_t blob_len;
	struct map_priv maps[MAP_MAX_MAPS];
	char err[192];
};

/* Value words per slot of a kind (MAP_LHIST: its buckets). */
uint32_t map_vwords(enum map_kind kind, uint32_t n_buckets);
/* The value word that is the slot's sequence (avg, stats: the last one), or -1: none. */
static inline int map_seq_word(enum map_kind kind)
{
	return kind == MAP_AVG ? 2 : kind == MAP_STATS || kind == MAP_MIN || kind == MAP_MAX ? 4 : -1;
}

/* min/max slots: w[0] the value of the period w[1], w[2] the previous period w[3]'s. */
#define MAP_EPOCH_NONE UINT64_MAX /* the tag of no period */
/* Value maps: every live entry deleted (zero: set to 0 instead). */
int map_value_clear(struct map_region *r, int id, bool zero);
/* The hash of a key, as both sides compute it (never 0 in its low half: 1 then). */
uint64_t map_key_hash(const void *key, uint32_t key_size);

/* Is an entry of generation egen gone (older than the map's last clear)? */
static inline bool map_gen_dead(uint32_t egen, uint32_t gen, uint32_t clear_gen)
{
	return ((gen - egen) & MAP_GEN_MASK) > ((gen - clear_gen) & MAP_GEN_MASK);
}

static inline uint8_t *map_slot(uint8_t *table, const struct map_priv *m, uint32_t i)
{
	return table + (size_t)i * m->slot_size;
}

#endif
