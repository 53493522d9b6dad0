/* SPDX-License-Identifier: MIT */
/*
 * trace/map — aggregations and keyed values computed where the probe hits, in
 * shared memory that the tracer owns: one sealed memfd (the region) created by
 * the tracer (map_region_create, map_define, map_region_seal) and mapped by the
 * agent in every traced image (map_region_attach). Beside trace/transport,
 * below trace/fetch and lang/; it uses only util/. Layout and protocol: map_shm.h
 * and docs/maps.md.
 *
 * Two kinds of maps:
 *  - aggregation maps (count, sum, min, max, avg, stats, hist, lhist, last
 *    value): per-thread shards. A thread claims a shard at its first update
 *    (a CAS on the shard's owner word; a fork child claims new ones) and is
 *    its only writer: an update is a hash, an open-addressing probe and plain
 *    stores into lines no other thread writes. The tracer merges the shards
 *    (map_read). Shards of exited threads stay and are merged; a new thread
 *    may take over a dead thread's shard and add on. A thread that finds no
 *    shard free updates the overflow shard under a lock word (map_update.c).
 *  - value maps (MAP_VALUE): one table shared by all threads, slots claimed by
 *    CAS, 8-byte values updated atomically; get/set/add/delete from the target
 *    (the `@start[tid] = nsecs` idiom) and read by the tracer.
 *
 * Hot-path calls (map_agg_update, map_value_*) are async-signal-safe: no lock,
 * no system call (except a thread's first update, which may ask tgkill(0)
 * whether a shard's owner is gone, and the overflow shard's yields), no
 * allocation, no libc call. What cannot be stored (a full table, the overflow
 * shard's lock held too long, an update nested in a signal handler that
 * interrupted the same thread's update of any map) is dropped and counted per
 * map (struct map_stats): never silent.
 *
 * The tracer side (map_read, map_stats_get) treats the region as hostile: it
 * keeps its own copy of every map's definition, reads each shared word once,
 * bounds every walk and checks every index; a corrupted region is reported
 * (-EUCLEAN, map_stats.corrupt), never crashes the tracer.
 */
#ifndef UPROBES_TRACE_MAP_MAP_H
#define UPROBES_TRACE_MAP_MAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAP_MAX_KEY	   256u	 /* bytes of a key (fixed per map, 0: one entry) */
#define MAP_MAX_MAPS	   256u	 /* maps in a region */
#define MAP_MAX_ENTRIES	   (1u << 22) /* keys of one map (per shard for aggregations) */
#define MAP_DEFAULT_ENTRIES 4096u /* bpftrace's default */
#define MAP_DEFAULT_SHARDS 128u	 /* threads updating at once */
#define MAP_MAX_SHARDS	   4096u
#define MAP_NAME_MAX	   64u	 /* bytes of a name, NUL included */
#define MAP_HIST_BUCKETS   65u	 /* negative, 0, then [2^k, 2^(k+1)) for k = 0 .. 62 */
#define MAP_LHIST_MAX_BUCKETS 1002u /* (max - min) / step + 2 (below min, at/above max) */
#define MAP_MAX_VALUE	   256u	 /* bytes of a value map's value (a multiple of 8) */
#define MAP_MAX_DENSE	   65536u /* dense keys of a count map (map_def.dense) */

enum map_kind {
	MAP_COUNT = 1, /* count(): +1 per update (value ignored) */
	MAP_SUM,       /* sum(v) */
	MAP_MIN,       /* min(v) */
	MAP_MAX,       /* max(v) */
	MAP_AVG,       /* avg(v): sum and count */
	MAP_STATS,     /* stats(v): count, sum, min, max */
	MAP_HIST,      /* hist(v): log2 buckets as bpftrace's (map_hist_bucket) */
	MAP_LHIST,     /* lhist(v, min, max, step) */
	MAP_LAST,      /* @x[k] = v as an aggregation: the last write wins (by TSC) */
	MAP_VALUE,     /* shared value map: get / set / add / delete; 8-byte values, or
			* value_size bytes (strings: get / set / delete) */
	MAP_KIND_END
};

/* A map's definition (map_define). */
struct map_def {
	const char *name;     /* for messages and printing, < MAP_NAME_MAX bytes */
	enum map_kind kind;
	uint32_t key_size;    /* 0 .. MAP_MAX_KEY */
	uint32_t max_entries; /* 0: MAP_DEFAULT_ENTRIES */
	int64_t lhist_min, lhist_max, lhist_step; /* MAP_LHIST: max > min, step > 0 */
	uint32_t value_size;  /* MAP_VALUE: 0 (8), or 8 .. MAP_MAX_VALUE, a multiple of 8 */
	/*
	 * MAP_COUNT only, 0 .. MAP_MAX_DENSE: keys 0 .. dense - 1 (a key of 4
	 * bytes, the uint32 index; key_size 0: dense 1, the one entry) also have
	 * a word per shard that a probe's count stub adds to (map_dense_slot);
	 * map_read adds them to their keys. Such a map cannot be cleared, zeroed
	 * nor have keys deleted (-ENOTSUP): the words have no generation.
	 */
	uint32_t dense;
};

/*
 * A merged value as the tracer reads it (map_read). Which fields mean
 * something depends on the kind: count (COUNT, AVG, STATS, and the number of
 * updates of HIST/LHIST), sum (SUM, AVG, STATS), min/max (MIN, MAX, STATS),
 * value (LAST, VALUE), buckets (HIST: MAP_HIST_BUCKETS, LHIST: n_buckets),
 * bytes (VALUE: its value_size bytes, the first 8 are value too). Sums wrap
 * modulo 2^64 as bpftrace's do.
 */
struct map_value {
	uint64_t count;
	int64_t sum, min, max, value;
	uint32_t n_buckets;
	const uint64_t *buckets; /* valid during the callback only */
	const void *bytes;	 /* valid during the callback only */
};

/* Per map, as counted in the region (and by the reader). */
struct map_stats {
	uint64_t dropped_full;	 /* updates of a new key refused: the table was full */
	uint64_t dropped_shard;	 /* updates that could not take the overflow shard's lock */
	uint64_t dropped_nested; /* nested in another update of the thread (any map), or a
				  * value slot / deleted entry another thread kept busy */
	uint64_t corrupt;	 /* entries or words the reader found impossible (hostile target) */
	uint64_t entries;	 /* distinct keys at the last map_read */
};

struct map_region;

/* ---- the tracer: create, define, seal ----------------------------------------------- */

struct map_region_opts {
	size_t sz;	     /* sizeof(struct map_region_opts) */
	uint32_t n_shards;   /* 0: MAP_DEFAULT_SHARDS */
};

/* An empty region (no map yet, not sealed). NULL + errno. */
struct map_region *map_region_create(const struct map_region_opts *opts);
/*
 * Add a map; returns its id (0, 1, ... in order) or -errno: -EINVAL with a
 * message (map_region_error) naming the field at fault, -EBUSY once sealed,
 * -E2BIG past MAP_MAX_MAPS or when the region would exceed its size limit.
 */
int map_define(struct map_region *r, const struct map_def *def);
/*
 * Lay the maps out in the memfd ("uprobes-maps"), seal it (shrink, grow, seal)
 * and map it. After this: map_region_fd, the hot-path calls, map_read. 0 or -errno.
 */
int map_region_seal(struct map_region *r);
/*
 * Bytes for the region's users (e.g. what the agent is to aggregate), copied
 * into the file at seal; at most MAP_BLOB_MAX. Before seal only: 0 or -errno.
 * The agent's copy: map_region_blob (NULL when none; len set).
 */
#define MAP_BLOB_MAX 4096u
int map_region_set_blob(struct map_region *r, const void *data, size_t len);
const void *map_region_blob(const struct map_region *r, size_t *len);
/* The sealed memfd to hand to agents, or -EBADF before map_region_seal. */
int map_region_fd(const struct map_region *r);
/* The message of the last failed map_define / map_region_attach. */
const char *map_region_error(const struct map_region *r);
void map_region_free(struct map_region *r);

/* ---- the target: attach ------------------------------------------------------------- */

/*
 * Map a region received from the tracer (fd is not kept: the mapping holds the
 * file). Checks the seals, size and header. NULL + errno (EINVAL: not a region
 * this library made).
 */
struct map_region *map_region_attach(int fd);
/* Maps in the region, and one's id by name (-ENOENT). */
int map_count(const struct map_region *r);
int map_lookup(const struct map_region *r, const char *name);
const struct map_def *map_get_def(const struct map_region *r, int id);

/* ---- hot path (target side; the tracer may call them too) --------------------------- */

/*
 * Aggregate value v under key (key_size bytes of the map's definition) into
 * the calling thread's shard. 0, or -ENOSPC / -EAGAIN when dropped (counted),
 * -EINVAL for a bad id or a value map.
 */
int map_agg_update(struct map_region *r, int id, const void *key, int64_t v);
/*
 * map_agg_update(r, id, key, 1) of a count() map (MAP_COUNT), the same words
 * written; its common case is a leaf of a few dozen instructions (the key at
 * its home slot in the thread's cached shard). Any other map: map_agg_update.
 */
int map_agg_count(struct map_region *r, int id, const void *key);
/*
 * map_agg_update(r, id, key, v) of a hist() map (MAP_HIST), the same words
 * written, as map_agg_count's lean leaf: the bucket's word of the key at its
 * home slot. Any other map: map_agg_update.
 */
int map_agg_hist(struct map_region *r, int id, const void *key, int64_t v);
/*
 * map_agg_count with the key's hash computed ahead (map_agg_key_hash: a
 * fixed key, uprobe trace --count's probe index), which the lean path then
 * does not compute. A hash that is not the key's only makes it slower.
 */
int map_agg_count_hashed(struct map_region *r, int id, const void *key, uint64_t hash);
uint64_t map_agg_key_hash(const struct map_region *r, int id, const void *key);
/* Value maps: 0, -ENOENT (get/delete: no such key), -ENOSPC (set/add: full, counted). */
int map_value_get(struct map_region *r, int id, const void *key, int64_t *v);
int map_value_set(struct map_region *r, int id, const void *key, int64_t v);
/* *v += delta, creating the key at 0 first; the new value in *out (may be NULL). */
int map_value_add(struct map_region *r, int id, const void *key, int64_t delta, int64_t *out);
int map_value_delete(struct map_region *r, int id, const void *key);
/*
 * A value of the map's value_size bytes (any value map; a string map's 64):
 * get copies it out whole (-ENOENT: val untouched), set stores it whole. A
 * reader never sees half of one set: a value wider than a word has two
 * buffers in its slot, a set fills the one readers do not read and publishes
 * it (map_shm.h). Neither waits for a writer preempted in its set: a get takes
 * the value before that set, a set or delete is overtaken by it. add and take
 * are for one-word maps only (-EINVAL).
 */
int map_value_get_bytes(struct map_region *r, int id, const void *key, void *val);
int map_value_set_bytes(struct map_region *r, int id, const void *key, const void *val);
/*
 * get, then delete when the value is not 0, in one lookup (the latency
 * idiom's `/@start[tid]/ { ... @start[tid] ...; delete(@start[tid]); }`):
 * the entry deleted is the one whose value was read. 0 (*v the value, 0 when
 * it was 0 and is kept), -ENOENT (*v 0).
 */
int map_value_take(struct map_region *r, int id, const void *key, int64_t *v);
/*
 * set and take of an owned key: one whose entry no other thread of the
 * target writes (lang/shape.c: @start[tid] where every writer of @start is
 * a probe that writes it with key tid, so the entry of key t is written only
 * by thread t). The same ctrl words in the same order as set and take, by
 * plain stores where those take a CAS, which guards against writers that
 * cannot be here:
 *   - another target thread: none writes this key (a thread gone, its tid
 *     reused, wrote its last before it died; a fork child's threads have
 *     tids of their own);
 *   - the tracer: clear() moves LIVE(q) to DELETED(q) by a CAS, zero()
 *     stores 0 into a LIVE value. Racing with a take, the take read the
 *     value before: it is ordered before the clear or zero (both end
 *     DELETED). Racing with a set of a live key: that set is a plain store
 *     in map_value_set too. A revival goes through BUSY, which neither
 *     touches; a reader sees the sequence move as with set;
 *   - a probe hit in a signal handler of the same thread: it runs to its end
 *     before the interrupted call goes on, whose stores then land last, as
 *     if it had run after it (the value one of the two, never torn: one
 *     word; the key never rewritten). A nested call that finds BUSY takes
 *     set/take's path (bounded, counted).
 * Anything but the key's home slot, live or deleted, takes set and take.
 * The owner remembers the slot (per thread, region and map: a slot keeps its
 * key for ever), so its next set or take is a load of ctrl and a store or
 * two, no hash and no lookup (map_update.c, struct map_own).
 */
int map_value_set_own(struct map_region *r, int id, const void *key, int64_t v);
int map_value_take_own(struct map_region *r, int id, const void *key, int64_t *v);
/* delete() of either kind of map: map_value_delete or map_agg_delete. */
int map_delete(struct map_region *r, int id, const void *key);

/*
 * delete(@agg[key]) of an aggregation map, from either side without stopping
 * writers: the key's entry in every shard is marked deleted (a CAS on its
 * control word); an update racing with it lands before the delete (lost with
 * the entry) or after (the owner renews the entry from zero). 0, -ENOENT when
 * no shard holds the key, -EAGAIN when an owner kept its entry busy (counted).
 */
int map_agg_delete(struct map_region *r, int id, const void *key);

/*
 * clear(): every key goes; zero(): every key stays with a zero value. Without
 * stopping writers: the map's generation moves on and entries of an older one
 * are reset by their writer at its next update (an update racing with the
 * call lands before or after it, never half). Either side may call them.
 * Value maps: clear only (zero sets every value to 0 through the slots).
 */
int map_clear(struct map_region *r, int id);
int map_zero(struct map_region *r, int id);

/*
 * The count stub's words (map_def.dense). The region whose shards the
 * threads' count bases point into: one per process, the first to ask
 * (map_region_count_claim: 0, or -EBUSY when another region has it, ever:
 * a thread's base is never pointed elsewhere). Once claimed, a thread's
 * shard claim in r sets its base (uprobe_count_thread) to its shard; the
 * word of key k of dense map id is at map_dense_slot(r, id, k) from there
 * (0: none). The overflow shard's threads get no base.
 */
int map_region_count_claim(struct map_region *r);
uint64_t map_dense_slot(const struct map_region *r, int id, uint32_t key);
/* True when r is the claimed region (map_region_free then keeps its addresses mapped). */
bool map_region_counted(const struct map_region *r);

/* The bucket of v in a log2 histogram: 0 negative, 1 zero, 2 + floor(log2 v). */
unsigned int map_hist_bucket(int64_t v);
/* The bucket of v in lhist(min, max, step): 0 below min, 1 + (v - min) / step, last >= max. */
unsigned int map_lhist_bucket(const struct map_def *d, int64_t v);
unsigned int map_lhist_buckets(const struct map_def *d);

/* ---- the tracer: read ----------------------------------------------------------------- */

/*
 * Merge every shard of map id into (key, value) pairs and call cb once per
 * distinct live key (in no particular order; cb returns non-zero to stop).
 * Every shared word is read once and checked; what is impossible is skipped
 * and counted (map_stats.corrupt). 0, -EUCLEAN when something was skipped,
 * -ENOMEM, -EINVAL for a bad id, or cb's non-zero value.
 */
typedef int (*map_read_cb)(const void *key, const struct map_value *v, void *ctx);
int map_read(struct map_region *r, int id, map_read_cb cb, void *ctx);
/*
 * min() and max() maps read by periods (what print() then clear() need): the
 * map's epoch moves on (updates from then on go to a new period), the reader
 * waits MAP_PERIOD_WAIT_NS (an update that began before sees to its sequence
 * word by then, else it was never delayed and is over) and every update in
 * flight, then merges each shard's value of the period that ended: the
 * updates since the previous call, each in exactly one call. cb gets every
 * live key: count 1 and min/max the period's value, or count 0 (no update in
 * the period). Plain map_read of such a map is right only while no period
 * ever moved. 0 or map_read's errors.
 */
#define MAP_PERIOD_WAIT_NS 50000
int map_read_period(struct map_region *r, int id, map_read_cb cb, void *ctx);
/* Drops and corruption of map id, summed over the shards (read once each). */
int map_stats_get(struct map_region *r, int id, struct map_stats *st);

#endif
