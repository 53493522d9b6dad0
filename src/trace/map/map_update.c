/* SPDX-License-Identifier: MIT */
/*
 * Maps, the hot path: aggregation updates into the calling thread's shard and
 * the value maps' get / set / add / delete. Runs in probe handlers, also in
 * the SIGTRAP handler: no lock, no system call (but tgkill(0) when a thread's
 * first update looks for a dead owner's shard, and sched_yield/nanosleep
 * while the overflow shard's holder is preempted), no libc call, no SIMD (the
 * Makefile builds this file with HOT_CFLAGS). See map_shm.h for the slots.
 */
#include <errno.h>
#include <pthread.h>
#include <time.h>

#include "arch/arch.h"
#include "trace/map/map_shm.h"
#include "util/ctor.h"
#include "util/thread_token.h"

/*
 * The shard a thread writes: claimed at its first update in a region (a CAS
 * on its owner word: a never-owned shard first, else one whose owner exited,
 * tgkill(0) says ESRCH), cached in initial-exec TLS. busy is set while the
 * thread updates a shard or value slot, so that a probe hit in a signal
 * handler that interrupted it drops its update (counted) rather than write
 * under it. A fork child starts over (pthread_atfork): its writes go to shards
 * of its own, never into its parent's, which the mapping shares.
 */
/*
 * The slot of an owned key (map_value_set_own, map_value_take_own: the
 * latency idiom's @start[tid]), remembered by the thread that owns it: a
 * value-map slot keeps its key for ever (delete and clear make it DELETED,
 * no table is ever emptied), so once found, the slot of (region, map, key)
 * is that slot for the region's life, and the owner's next set or take is a
 * load of its ctrl and a store, with no hash, no lookup. tag: the region's
 * serial << 32 | the map id, 0 for none (serials start at 1). Only maps of
 * 8-byte keys and one-word values (the language's integer keys). Direct
 * mapped by map id: two owned maps of one program with ids of the same
 * parity take turns, each miss the lookup it was before.
 */
#define MAP_OWN_SLOTS 2
struct map_own {
	uint64_t tag, key;
	uint8_t *slot;
};

struct map_self {
	uint64_t serial;	    /* the region of the cached claim (map_region.serial) */
	uint8_t *shard;		    /* NULL: none was free */
	uint32_t busy;
	uint32_t retry;		    /* updates dropped since the last try to claim */
	uint64_t token;		    /* pid << 32 | tid, 0 until known */
	uint32_t own_busy;	    /* in an owner's set or take: own[] is not to be touched */
	struct map_own own[MAP_OWN_SLOTS];
};

static __thread struct map_self self __attribute__((tls_model("initial-exec")));

#define MAP_CLAIM_RETRY 4096 /* dropped updates between two claims of a shardless thread */
#define MAP_SPIN	4096 /* loads of what another thread holds, then yields (wait_holder) */
#define MAP_YIELDS	64   /* sched_yield()s, then naps */
#define MAP_NAPS	2000 /* nanosleep()s of MAP_NAP_NS, then a drop */
#define MAP_NAP_NS	50000

static uint64_t self_token(void)
{
	if (__builtin_expect(!self.token, 0))
		self.token = util_thread_token();
	return self.token;
}

static void map_atfork_child(void)
{
	self = (struct map_self){ 0 };
}

/* The serial of the region the count bases point into (map_region_count_claim), 0: none yet. */
static uint64_t count_serial;

int map_region_count_claim(struct map_region *r)
{
	uint64_t none = 0;

	if (!r || !r->base)
		return -EINVAL;
	if (__atomic_compare_exchange_n(&count_serial, &none, r->serial, 0, __ATOMIC_ACQ_REL,
					__ATOMIC_ACQUIRE) || none == r->serial)
		return 0;
	return -EBUSY;
}

bool map_region_counted(const struct map_region *r)
{
	return r && r->serial && __atomic_load_n(&count_serial, __ATOMIC_ACQUIRE) == r->serial;
}

uint64_t map_dense_slot(const struct map_region *r, int id, uint32_t key)
{
	if (!r || id < 0 || (uint32_t)id >= r->n_maps || key >= r->maps[id].def.dense ||
	    __atomic_load_n(&count_serial, __ATOMIC_ACQUIRE) != r->serial)
		return 0;
	return r->maps[id].dense_off + 8ull * key;
}

UPROBES_CTOR_EARLY static void map_init(void)
{
	pthread_atfork(NULL, NULL, map_atfork_child);
}

static void relax(void)
{
	arch_cpu_relax();
}

/*
 * One more wait for what another thread holds: a slot BUSY (its key or value
 * being written) or the overflow shard's lock. MAP_SPIN loads, then (its
 * holder preempted: more threads than cores) MAP_YIELDS yields, then
 * MAP_NAPS naps of MAP_NAP_NS (about 0.1 s in all; sleeping takes the waiters
 * off the run queue, so that the holder gets a core). False once that is
 * spent: the caller drops its operation, counted. The holder is another
 * thread: a hit inside a handler is skipped (srcu), so no map operation of a
 * thread interrupts another of its own.
 */
static bool wait_holder(uint32_t *waits)
{
	uint32_t n = (*waits)++;

	if (n < MAP_SPIN) {
		relax();
	} else if (n < MAP_SPIN + MAP_YIELDS) {
		util_syscall3(SYS_sched_yield, 0, 0, 0);
	} else if (n < MAP_SPIN + MAP_YIELDS + MAP_NAPS) {
		struct timespec nap = { .tv_nsec = MAP_NAP_NS };

		util_syscall3(SYS_nanosleep, (long)&nap, 0, 0);
	} else {
		return false;
	}
	return true;
}

static uint8_t *shard_at(const struct map_region *r, uint32_t i)
{
	return r->base + r->shards_off + (uint64_t)i * r->shard_stride;
}

/* The calling thread's shard in r: its own, a never-owned one, then a dead owner's. */
static uint8_t *claim(const struct map_region *r)
{
	uint64_t me = self_token(), owner;
	uint32_t n = r->n_shards;

	for (uint32_t i = 0; i < n; i++)
		if (__atomic_load_n(&r->owners[i], __ATOMIC_RELAXED) == me)
			return shard_at(r, i);
	for (uint32_t k = 0; k < 2 * n; k++) {
		uint32_t i = k % n;

		owner = __atomic_load_n(&r->owners[i], __ATOMIC_RELAXED);
		if (owner && (k < n || !util_thread_gone(owner)))
			continue;
		/* Acquire: the previous owner's last stores into the shard are seen. */
		if (__atomic_compare_exchange_n(&r->owners[i], &owner, me, 0, __ATOMIC_ACQUIRE,
						__ATOMIC_RELAXED))
			return shard_at(r, i);
	}
	return NULL;
}

/* ---- keys ------------------------------------------------------------------------------ */

static inline uint64_t load_word(const uint8_t *p)
{
	uint64_t w;

	__builtin_memcpy(&w, p, 8);
	return w;
}

/* The last, partial word of a key (bytes past key_size are zero). */
static inline uint64_t tail_word(const uint8_t *p, uint32_t n)
{
	uint64_t w = 0;

	for (uint32_t i = 0; i < n; i++)
		w |= (uint64_t)p[i] << (8 * i);
	return w;
}

/*
 * map_key_hash, inlined where the key is one word or half of one (ints,
 * tids; uprobe trace --count's probe index): the same value. w: the key's
 * bytes as one word, those past key_size zero (as key_store writes them).
 */
static inline uint64_t hash_word(uint64_t w, uint32_t key_size)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ key_size;

	h = (h ^ w) * 0xff51afd7ed558ccdull;
	h ^= h >> 32;
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	return (uint32_t)h ? h : h | 1;
}

/* Keys of 4 or 8 bytes take the inline paths: one load, one compare. */
static inline bool key_is_word(uint32_t key_size)
{
	return key_size == 8 || key_size == 4;
}

/* Such a key as its slot holds it (key_is_word). */
static inline uint64_t key_word(const uint8_t *key, uint32_t key_size)
{
	uint32_t half;

	if (key_size == 8)
		return load_word(key);
	__builtin_memcpy(&half, key, 4);
	return half;
}

/*
 * The lean paths' key: none (*kw 0, *h 1, as the reader checks it) or one
 * word, its slot form and hash; false for a wider key (the general path).
 */
static inline __attribute__((always_inline)) bool lean_key(const void *key, uint32_t key_size,
							   uint64_t *kw, uint64_t *h)
{
	*kw = 0;
	*h = 1;
	if (!key_size)
		return true;
	if (!key_is_word(key_size))
		return false;
	*kw = key_word(key, key_size);
	*h = hash_word(*kw, key_size);
	return true;
}

/* A key's hash: 1 without a key (as the reader checks it), one word inline. */
static inline uint64_t key_hash(const uint8_t *key, uint32_t key_size)
{
	if (key_is_word(key_size))
		return hash_word(key_word(key, key_size), key_size);
	return key_size ? map_key_hash(key, key_size) : 1;
}

uint64_t map_key_hash(const void *key, uint32_t key_size)
{
	const uint8_t *p = key;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ key_size;
	uint32_t i = 0;

	for (; i + 8 <= key_size; i += 8) {
		h = (h ^ load_word(p + i)) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	if (i < key_size) {
		h = (h ^ tail_word(p + i, key_size - i)) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	h ^= h >> 29;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 32;
	return (uint32_t)h ? h : h | 1;
}

static bool key_equal(const uint8_t *slot_key, const uint8_t *key, uint32_t key_size)
{
	uint32_t i = 0;

	for (; i + 8 <= key_size; i += 8)
		if (load_word(slot_key + i) != load_word(key + i))
			return false;
	return i == key_size || load_word(slot_key + i) == tail_word(key + i, key_size - i);
}

static void key_store(uint8_t *slot_key, const uint8_t *key, uint32_t key_size)
{
	uint64_t *w = (uint64_t *)slot_key;
	uint32_t i = 0;

	for (; i + 8 <= key_size; i += 8)
		w[i / 8] = load_word(key + i);
	if (i < key_size)
		w[i / 8] = tail_word(key + i, key_size - i);
}

/* ---- aggregation maps ------------------------------------------------------------------ */

/* The initial value; a sequence word (avg, stats) is left alone: renew keeps it moving. */
static void value_init(const struct map_priv *m, int64_t *w)
{
	int seq = map_seq_word(m->def.kind);

	for (uint32_t i = 0; i < m->vwords; i++)
		if ((int)i != seq)
			w[i] = 0;
	if (m->def.kind == MAP_MIN || m->def.kind == MAP_MAX) {
		w[0] = w[2] = m->def.kind == MAP_MIN ? INT64_MAX : INT64_MIN;
		w[1] = w[3] = (int64_t)MAP_EPOCH_NONE;
	}
	else if (m->def.kind == MAP_STATS)
		w[2] = INT64_MAX, w[3] = INT64_MIN;
}

/* Relaxed stores: a reader never sees half a word. */
#define PUT(w, v) __atomic_store_n(&(w), (v), __ATOMIC_RELAXED)

static inline __attribute__((always_inline)) void value_apply(const struct map_priv *m,
								int64_t *w, int64_t v)
{
	switch (m->def.kind) {
	case MAP_COUNT:
		PUT(w[0], w[0] + 1);
		break;
	case MAP_SUM:
		PUT(w[0], (int64_t)((uint64_t)w[0] + (uint64_t)v));
		break;
	case MAP_MIN:
	case MAP_MAX: {
		/*
		 * The sequence odd first: a tracer that moved the epoch and then
		 * finds it odd waits for this update's end (map_read_period).
		 */
		int64_t q = w[4], e;

		PUT(w[4], q + 1);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		e = (int64_t)__atomic_load_n(&m->state->epoch, __ATOMIC_RELAXED);
		if (w[1] != e) { /* a new period: the last one's value kept beside */
			PUT(w[2], w[0]);
			PUT(w[3], w[1]);
			PUT(w[0], v);
			PUT(w[1], e);
		} else if (m->def.kind == MAP_MIN ? v < w[0] : v > w[0]) {
			PUT(w[0], v);
		}
		__atomic_store_n(&w[4], q + 2, __ATOMIC_RELEASE);
		break;
	}
	case MAP_STATS: {
		int64_t q = w[4]; /* a seqlock: odd while the words move (map_shm.h) */

		PUT(w[4], q + 1);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		if (v < w[2])
			PUT(w[2], v);
		if (v > w[3])
			PUT(w[3], v);
		PUT(w[0], w[0] + 1);
		PUT(w[1], (int64_t)((uint64_t)w[1] + (uint64_t)v));
		__atomic_store_n(&w[4], q + 2, __ATOMIC_RELEASE);
		break;
	}
	case MAP_AVG: {
		int64_t q = w[2];

		PUT(w[2], q + 1);
		__atomic_thread_fence(__ATOMIC_RELEASE);
		PUT(w[0], w[0] + 1);
		PUT(w[1], (int64_t)((uint64_t)w[1] + (uint64_t)v));
		__atomic_store_n(&w[2], q + 2, __ATOMIC_RELEASE);
		break;
	}
	case MAP_HIST: {
		unsigned int b = map_hist_bucket(v);

		PUT(w[b], w[b] + 1);
		break;
	}
	case MAP_LHIST: {
		unsigned int b = map_lhist_bucket(&m->def, v);

		PUT(w[b], w[b] + 1);
		break;
	}
	case MAP_LAST: {
		PUT(w[0], v);
		PUT(w[1], (int64_t)arch_ticks());
		break;
	}
	default:
		break;
	}
}

/* Slot s (EMPTY) for key: key and initial value, then LIVE (release: a reader that sees LIVE sees them). */
static int64_t *slot_fill(const struct map_priv *m, uint8_t *s, const uint8_t *key, uint64_t h,
			  uint32_t gen)
{
	int seq = map_seq_word(m->def.kind);

	key_store(s + 8, key, m->def.key_size);
	value_init(m, (int64_t *)(s + 8 + 8 * m->key_words));
	if (seq >= 0) /* no reader reads it before LIVE */
		((int64_t *)(s + 8 + 8 * m->key_words))[seq] = 0;
	__atomic_store_n((uint64_t *)s, MAP_CTRL(h, MAP_SLOT_LIVE, gen), __ATOMIC_RELEASE);
	return (int64_t *)(s + 8 + 8 * m->key_words);
}

/* An entry of an older generation (zero()), found again: zeroed, then current. */
static int64_t *slot_renew(const struct map_priv *m, uint8_t *s, uint64_t h, uint32_t gen)
{
	int64_t *w = (int64_t *)(s + 8 + 8 * m->key_words);
	int seq = map_seq_word(m->def.kind);
	int64_t q = seq >= 0 ? w[seq] : 0;

	__atomic_store_n((uint64_t *)s, MAP_CTRL(h, MAP_SLOT_BUSY, gen), __ATOMIC_RELAXED);
	if (seq >= 0)
		PUT(w[seq], q | 1);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	value_init(m, w);
	if (seq >= 0) /* even, and not the value it had: a reader around this sees it moved */
		__atomic_store_n(&w[seq], (q | 1) + 1, __ATOMIC_RELEASE);
	__atomic_store_n((uint64_t *)s, MAP_CTRL(h, MAP_SLOT_LIVE, gen), __ATOMIC_RELEASE);
	return w;
}

/* After a clear(): every entry of the table is gone; the table starts empty. */
static void table_wipe(const struct map_priv *m, uint8_t *table, struct map_shm_shard_stats *st,
		       uint32_t clear_gen)
{
	for (uint32_t i = 0; i < m->cap; i++)
		__atomic_store_n((uint64_t *)map_slot(table, m, i), 0, __ATOMIC_RELAXED);
	PUT(st->used, 0);
	PUT(st->seen_clear, clear_gen);
}

/* The key in slot s is key: 8-byte keys (ints, tids) in one compare. */
static inline __attribute__((always_inline)) bool slot_key_is(const struct map_priv *m,
							     const uint8_t *s, const uint8_t *key)
{
	if (key_is_word(m->def.key_size))
		return load_word(s + 8) == key_word(key, m->def.key_size);
	return !m->def.key_size || key_equal(s + 8, key, m->def.key_size);
}

/*
 * The slow path of agg_slot: the table emptied first if the map was cleared
 * since (every entry there is gone then), then the key found (renewed if of
 * an older generation) or inserted; NULL when the table is full.
 */
static __attribute__((noinline)) int64_t *agg_slot_slow(const struct map_priv *m, uint8_t *table,
							 struct map_shm_shard_stats *st,
							 const uint8_t *key, uint64_t h, uint32_t gen)
{
	uint32_t clear_gen = __atomic_load_n(&m->state->clear_gen, __ATOMIC_RELAXED);
	uint32_t i = (uint32_t)h & m->mask;

	if (clear_gen != st->seen_clear)
		table_wipe(m, table, st, clear_gen);
	for (uint32_t n = 0; n < m->cap; n++, i = (i + 1) & m->mask) {
		uint8_t *s = map_slot(table, m, i);
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED);

		if (MAP_CTRL_STATE(c) == MAP_SLOT_EMPTY) {
			if (st->used >= m->def.max_entries)
				break;
			PUT(st->used, st->used + 1);
			return slot_fill(m, s, key, h, gen);
		}
		if (MAP_CTRL_HASH(c) == (uint32_t)h && slot_key_is(m, s, key)) {
			if (c == MAP_CTRL(h, MAP_SLOT_LIVE, gen))
				return (int64_t *)(s + 8 + 8 * m->key_words);
			return slot_renew(m, s, h, gen); /* older, or deleted: from zero */
		}
	}
	PUT(st->dropped_full, st->dropped_full + 1);
	return NULL;
}

/*
 * The value words of key in the shard's table of m. The fast path: the key is
 * there, of the current generation (so written after any clear: no wipe is
 * pending). Anything else takes the slow path.
 */
static inline __attribute__((always_inline)) int64_t *agg_slot(const struct map_priv *m, uint8_t *table,
				struct map_shm_shard_stats *st, const uint8_t *key)
{
	uint32_t gen = __atomic_load_n(&m->state->gen, __ATOMIC_ACQUIRE);
	uint32_t key_size = m->def.key_size, mask = m->mask;
	uint64_t h = key_hash(key, key_size);
	uint32_t i = (uint32_t)h & mask;
	uint64_t live = MAP_CTRL(h, MAP_SLOT_LIVE, gen);
	uint8_t *s = map_slot(table, m, i);

	/* Most updates: the key at its home slot, live in this generation (one compare). */
	if (__builtin_expect(__atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED) == live, 1) &&
	    (!key_size || (key_is_word(key_size) ? load_word(s + 8) == key_word(key, key_size) :
						   key_equal(s + 8, key, key_size))))
		return (int64_t *)(s + 8 + 8 * m->key_words);
	for (uint32_t n = 0; n < m->cap; n++, i = (i + 1) & mask) {
		uint64_t c;

		s = map_slot(table, m, i);
		c = __atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED);

		if (MAP_CTRL_STATE(c) == MAP_SLOT_EMPTY)
			break;
		if (MAP_CTRL_HASH(c) == (uint32_t)h && slot_key_is(m, s, key)) {
			if (__builtin_expect(c != live, 0))
				break; /* an older generation, or deleted */
			return (int64_t *)(s + 8 + 8 * m->key_words);
		}
	}
	return agg_slot_slow(m, table, st, key, h, gen);
}

/*
 * A thread that found no shard of its own (more threads at once than
 * shards): the overflow shard, one writer at a time under its lock word (a
 * CAS; the holder is never interrupted by a holder of its own thread, whose
 * nested update was dropped before). The lock is held for one update; a
 * thread that cannot take it waits as wait_holder() says (spins, yields, then
 * naps: about 0.1 s in all), and only then drops the update, counted.
 * Sleeping takes the waiters off the run queue: with 200 threads on 2 loaded
 * cores, yields alone left a preempted holder waiting behind them
 * and dropped updates (tests/hostile threads, about one run in six); 10 ms of
 * naps still dropped 35 of 100,000 in CI on a slow host (a holder waits for
 * its turn behind ~200 runnable threads).
 */
static int update_overflow(struct map_region *r, const struct map_priv *m, uint32_t id,
			   const void *key, int64_t v)
{
	uint64_t *lock = &r->owners[r->n_shards];
	uint8_t *shard = shard_at(r, r->n_shards);
	struct map_shm_shard_stats *st = (struct map_shm_shard_stats *)shard + id;
	int64_t *w;

	for (uint32_t waits = 0;;) {
		uint64_t l = __atomic_load_n(lock, __ATOMIC_RELAXED);

		if (!(l & MAP_OVERFLOW_LOCKED) &&
		    __atomic_compare_exchange_n(lock, &l, MAP_OVERFLOW_LOCKED | MAP_OVERFLOW_USED,
						0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			break;
		if (!wait_holder(&waits)) {
			__atomic_fetch_add(&m->state->dropped_shard, 1, __ATOMIC_RELAXED);
			return -ENOSPC;
		}
	}
	w = agg_slot(m, shard + m->table_off, st, key);
	if (w)
		value_apply(m, w, v);
	__atomic_store_n(lock, MAP_OVERFLOW_USED, __ATOMIC_RELEASE);
	return w ? 0 : -ENOSPC;
}

/* Anything but the lean path (lean_slot): out of line, so that the lean path spills nothing. */
static __attribute__((noinline)) int update_locked(struct map_self *me, struct map_region *r,
						   const struct map_priv *m, uint32_t id,
						   const void *key, int64_t v)
{
	struct map_shm_shard_stats *st;
	int64_t *w;

	if (__builtin_expect(me->serial != r->serial ||
				     (!me->shard && ++me->retry >= MAP_CLAIM_RETRY), 0)) {
		me->shard = claim(r);
		me->serial = r->serial;
		me->retry = 0;
		/* the count region: the stub adds to this shard's dense words from now on */
		if (me->shard && r->serial == __atomic_load_n(&count_serial, __ATOMIC_ACQUIRE))
			uprobe_count_thread(me->shard);
	}
	if (__builtin_expect(!me->shard, 0))
		return update_overflow(r, m, id, key, v);
	st = (struct map_shm_shard_stats *)me->shard + id;
	w = agg_slot(m, me->shard + m->table_off, st, key);
	if (!w)
		return -ENOSPC;
	value_apply(m, w, v);
	return 0;
}

/*
 * The lean path, most updates: the thread's shard in r cached, the key (none,
 * or one word) at its home slot, live in the map's generation: one load of
 * gen, the hash inline, one compare of ctrl and one of the key; no key
 * built, nothing zeroed. NULL: anything else (a first update, a claim, a new
 * key, a collision, a clear() or zero() since, a wider key), which
 * update_locked takes as before. gen is a 64-bit word from its load on, so
 * that ctrl's expected value is built in registers (a 32-bit spill of it
 * reloaded as 64 bits stalled store forwarding: 29% of the update's cycles).
 */
static inline __attribute__((always_inline)) int64_t *
lean_slot(const struct map_self *me, const struct map_region *r, const struct map_priv *m,
	  const void *key)
{
	uint64_t gen = __atomic_load_n(&m->state->gen, __ATOMIC_ACQUIRE);
	uint32_t key_size = m->def.key_size;
	uint64_t kw, h;
	const uint8_t *s;

	if (__builtin_expect(me->serial != r->serial || !me->shard, 0))
		return NULL;
	if (!lean_key(key, key_size, &kw, &h))
		return NULL;
	s = map_slot(me->shard + m->table_off, m, (uint32_t)h & m->mask);
	if (__atomic_load_n((const uint64_t *)s, __ATOMIC_RELAXED) !=
	    ((uint64_t)(uint32_t)h | (uint64_t)MAP_SLOT_LIVE << 32 | gen << 34))
		return NULL;
	if (key_size && load_word(s + 8) != kw)
		return NULL;
	return (int64_t *)(s + 8 + 8 * m->key_words);
}

int map_agg_update(struct map_region *r, int id, const void *key, int64_t v)
{
	struct map_self *me = &self;
	const struct map_priv *m;
	int64_t *w;
	int ret = 0;

	if (__builtin_expect(!r || (uint32_t)id >= r->n_maps || !r->base, 0))
		return -EINVAL;
	m = &r->maps[id];
	if (__builtin_expect(m->def.kind == MAP_VALUE, 0))
		return -EINVAL;
	if (__builtin_expect(me->busy, 0)) {
		__atomic_fetch_add(&m->state->dropped_nested, 1, __ATOMIC_RELAXED);
		return -EAGAIN;
	}
	me->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	w = lean_slot(me, r, m, key);
	if (__builtin_expect(w != NULL, 1))
		value_apply(m, w, v);
	else
		ret = update_locked(me, r, m, (uint32_t)id, key, v);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	me->busy = 0;
	return ret;
}

/* The bucket of v in a log2 histogram (map_hist_bucket), inline for the lean paths. */
static inline unsigned int hist_bucket(int64_t v)
{
	if (v < 0)
		return 0;
	if (v == 0)
		return 1;
	return 2 + 63 - (unsigned int)__builtin_clzll((uint64_t)v);
}

/*
 * count() (MAP_COUNT) and hist() (MAP_HIST): map_agg_update's lean path with
 * nothing but the one word it adds 1 to, for the hits that write nothing
 * but a counter (`@ = count()`, `@[k] = count()`, uprobe trace --count) or
 * a histogram's bucket (`@ = hist(v)`, the latency idiom's
 * `hist(nsecs - @start[tid])`). kind is a constant of each caller: no kind
 * dispatch, two callee-saved registers where map_agg_update saves five;
 * anything but the lean case (a map of another kind, a nested update, no
 * cached shard, the key not at its home slot or of an older generation) is
 * map_agg_update's, as a tail call with busy clear.
 */
static inline __attribute__((always_inline)) int agg_lean(struct map_region *r, int id,
							 const void *key, uint64_t hash,
							 enum map_kind kind, int64_t v)
{
	struct map_self *me = &self;
	const struct map_priv *m;
	uint32_t key_size;
	uint64_t gen, kw = 0, h = 1;
	const uint32_t *gen_word;
	const uint8_t *s;
	int64_t *w;

	if (__builtin_expect(!r || (uint32_t)id >= r->n_maps, 0))
		return -EINVAL;
	m = &r->maps[id];
	key_size = m->def.key_size;
	if (__builtin_expect(m->def.kind != kind || me->busy || me->serial != r->serial ||
				     !me->shard || (key_size && !key_is_word(key_size)),
			     0))
		goto other;
	if (key_size) {
		kw = key_word(key, key_size);
		h = hash ? hash : hash_word(kw, key_size);
	}
	/* m's words before the fence: the process's own copy, never written after attach */
	s = map_slot(me->shard + m->table_off, m, (uint32_t)h & m->mask);
	w = (int64_t *)(s + (key_size ? 16 : 8)); /* after the key's one word, if any */
	if (kind == MAP_HIST)
		w += hist_bucket(v);
	gen_word = &m->state->gen;
	me->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	gen = __atomic_load_n(gen_word, __ATOMIC_ACQUIRE);
	if (__builtin_expect(__atomic_load_n((const uint64_t *)s, __ATOMIC_RELAXED) ==
				     ((uint64_t)(uint32_t)h | (uint64_t)MAP_SLOT_LIVE << 32 |
				      gen << 34) &&
			     (!key_size || load_word(s + 8) == kw),
			     1)) {
		PUT(w[0], w[0] + 1);
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		me->busy = 0;
		return 0;
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	me->busy = 0;
other:
	return map_agg_update(r, id, key, kind == MAP_COUNT ? 1 : v);
}

static inline __attribute__((always_inline)) int agg_count(struct map_region *r, int id,
							  const void *key, uint64_t hash)
{
	return agg_lean(r, id, key, hash, MAP_COUNT, 1);
}

int map_agg_hist(struct map_region *r, int id, const void *key, int64_t v)
{
	return agg_lean(r, id, key, 0, MAP_HIST, v);
}

int map_agg_count(struct map_region *r, int id, const void *key)
{
	return agg_count(r, id, key, 0);
}

/*
 * A wrong hash can only send the update to map_agg_update, never count it
 * under another key: the lean path compares the key word too, and a slot's
 * ctrl holds its own key's true hash.
 */
int map_agg_count_hashed(struct map_region *r, int id, const void *key, uint64_t hash)
{
	return agg_count(r, id, key, hash);
}

uint64_t map_agg_key_hash(const struct map_region *r, int id, const void *key)
{
	if (!r || (uint32_t)id >= r->n_maps)
		return 0;
	return key_hash(key, r->maps[id].def.key_size);
}

/* key's entry in one shard's table marked deleted: 1, 0 when absent, -EAGAIN when kept busy. */
static int delete_in(const struct map_priv *m, uint8_t *table, const uint8_t *key, uint64_t h)
{
	uint32_t i = (uint32_t)h & m->mask, spins = 0;

	for (uint32_t n = 0; n < m->cap;) {
		uint8_t *s = map_slot(table, m, i);
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);

		if (MAP_CTRL_STATE(c) == MAP_SLOT_EMPTY)
			return 0;
		if (MAP_CTRL_HASH(c) == (uint32_t)h && slot_key_is(m, s, key)) {
			if (MAP_CTRL_STATE(c) == MAP_SLOT_DELETED)
				return 0;
			if (MAP_CTRL_STATE(c) == MAP_SLOT_LIVE &&
			    __atomic_compare_exchange_n((uint64_t *)s, &c,
							MAP_CTRL(h, MAP_SLOT_DELETED, MAP_CTRL_GEN(c)),
							0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				return 1;
			if (++spins > MAP_SPIN) /* its owner renews it, or refilled it: look again */
				return -EAGAIN;
			relax();
			continue;
		}
		n++;
		i = (i + 1) & m->mask;
	}
	return 0;
}

int map_agg_delete(struct map_region *r, int id, const void *key)
{
	const struct map_priv *m;
	int found = 0, busy = 0;
	uint64_t h;

	if (!r || (uint32_t)id >= r->n_maps || !r->base || r->maps[id].def.kind == MAP_VALUE)
		return -EINVAL;
	if (r->maps[id].def.dense)
		return -ENOTSUP; /* the count stub's words have no generation */
	m = &r->maps[id];
	h = m->def.key_size ? map_key_hash(key, m->def.key_size) : 1;
	for (uint32_t s = 0; s <= r->n_shards; s++) { /* the overflow shard too */
		int got;

		if (!__atomic_load_n(&r->owners[s], __ATOMIC_ACQUIRE))
			continue;
		got = delete_in(m, shard_at(r, s) + m->table_off, key, h);
		found |= got > 0;
		busy |= got < 0;
	}
	if (busy)
		__atomic_fetch_add(&m->state->dropped_nested, 1, __ATOMIC_RELAXED);
	return busy ? -EAGAIN : found ? 0 : -ENOENT;
}

unsigned int map_hist_bucket(int64_t v)
{
	return hist_bucket(v);
}

unsigned int map_lhist_bucket(const struct map_def *d, int64_t v)
{
	if (v < d->lhist_min)
		return 0;
	if (v >= d->lhist_max)
		return map_lhist_buckets(d) - 1;
	return 1 + (unsigned int)(((uint64_t)v - (uint64_t)d->lhist_min) / (uint64_t)d->lhist_step);
}

/* ---- value maps: one table shared by every thread ------------------------------------ */

/*
 * The slot of key, claimed (EMPTY -> BUSY -> DELETED with the key written) if
 * create and it is new; NULL when absent (!create), full, or held BUSY by
 * another writer for too long (*err says which).
 */
static uint8_t *value_slot(const struct map_priv *m, uint8_t *table, const uint8_t *key,
			   uint64_t h, bool create, int *err)
{
	uint32_t i = (uint32_t)h & m->mask, waits = 0;
	uint8_t *home = map_slot(table, m, i);
	uint64_t hc = __atomic_load_n((uint64_t *)home, __ATOMIC_ACQUIRE);

	/* Most lookups: the key at its home slot, live or deleted (its key kept for ever). */
	if (MAP_CTRL_HASH(hc) == (uint32_t)h && MAP_CTRL_STATE(hc) >= MAP_SLOT_LIVE &&
	    slot_key_is(m, home, key))
		return home;
	for (uint32_t n = 0; n < m->cap;) {
		uint8_t *s = map_slot(table, m, i);
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE), busy;

		if (MAP_CTRL_STATE(c) == MAP_SLOT_EMPTY) {
			if (!create)
				break;
			if (__atomic_load_n(&m->state->used, __ATOMIC_RELAXED) >= m->def.max_entries)
				break;
			busy = MAP_CTRL(h, MAP_SLOT_BUSY, 0);
			if (!__atomic_compare_exchange_n((uint64_t *)s, &c, busy, 0,
							 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
				continue; /* taken meanwhile: look at it again */
			__atomic_fetch_add(&m->state->used, 1, __ATOMIC_RELAXED);
			key_store(s + 8, key, m->def.key_size);
			__atomic_store_n((uint64_t *)s, MAP_CTRL(h, MAP_SLOT_DELETED, 0),
					 __ATOMIC_RELEASE);
			return s;
		}
		if (MAP_CTRL_HASH(c) == (uint32_t)h) {
			/* BUSY: its key being written, but for a wide value's writer (wide_set) */
			if (MAP_CTRL_STATE(c) == MAP_SLOT_BUSY &&
			    !(m->vwords > 1 && (MAP_CTRL_GEN(c) & 3))) {
				if (!wait_holder(&waits)) {
					*err = -EAGAIN;
					return NULL;
				}
				continue;
			}
			if (slot_key_is(m, s, key))
				return s;
		}
		n++;
		i = (i + 1) & m->mask;
	}
	*err = create ? -ENOSPC : -ENOENT;
	return NULL;
}

static int64_t *value_word(const struct map_priv *m, uint8_t *s)
{
	return (int64_t *)(s + 8 + 8 * m->key_words);
}

/* A DELETED entry made LIVE with value v (through BUSY: one reviver at a time). */
static bool revive(const struct map_priv *m, uint8_t *s, uint64_t c, int64_t v)
{
	uint64_t busy = MAP_CTRL(MAP_CTRL_HASH(c), MAP_SLOT_BUSY, MAP_CTRL_GEN(c));
	uint32_t seq = (MAP_CTRL_GEN(c) + 1) & MAP_GEN_MASK;

	if (!__atomic_compare_exchange_n((uint64_t *)s, &c, busy, 0, __ATOMIC_ACQUIRE,
					 __ATOMIC_RELAXED))
		return false;
	__atomic_store_n(value_word(m, s), v, __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)s, MAP_CTRL(MAP_CTRL_HASH(c), MAP_SLOT_LIVE, seq),
			 __ATOMIC_RELEASE);
	return true;
}

/*
 * Values wider than a word (strings): two buffers per slot, and a sequence
 * that moves by 4 per write (map_shm.h): a writer fills the buffer the
 * readers do not read, then publishes it. A reader never waits for an
 * overwrite, a writer never waits for another's: a set that finds the slot
 * BUSY with an overwrite is overtaken by it (it lands just before it), a
 * delete too (the set in progress lands after it). Only a revival (a new or
 * deleted key's first set: no value until it lands) is waited for, as
 * wait_holder() says: a get or set after a set of the same key must see a
 * value, its own or a later one (lang_target str_values saw "" for a key
 * every thread had set, when its own set had been overtaken by another
 * thread's revival; and again, 2026-12-07, in CI, when the reviver was
 * preempted for longer than MAP_SPIN loads: 4 threads on 2 cores). Nothing
 * is dropped but a table full, a reviver stopped for 0.1 s, or a read whose
 * copy two writes overtook MAP_SPIN times in a row.
 */
static int64_t *wide_buf(const struct map_priv *m, uint8_t *s, uint32_t seq)
{
	return value_word(m, s) + ((seq >> 2) & 1) * (m->vwords / 2);
}

/* The words of a buffer from or to a caller's (maybe unaligned) bytes, one word at a time. */
static void wide_store(int64_t *w, uint32_t n, const uint8_t *src)
{
	for (uint32_t i = 0; i < n; i++) {
		int64_t x;

		__builtin_memcpy(&x, src + 8 * i, 8);
		__atomic_store_n(&w[i], x, __ATOMIC_RELAXED);
	}
}

static void wide_load(const int64_t *w, uint32_t n, uint8_t *dst)
{
	for (uint32_t i = 0; i < n; i++) {
		int64_t x = __atomic_load_n(&w[i], __ATOMIC_RELAXED);

		__builtin_memcpy(dst + 8 * i, &x, 8);
	}
}

/* LIVE(q) -> BUSY(q + 1) -> LIVE(q + 4); DELETED(q) -> BUSY(q + 2) -> LIVE(q + 4). */
static int wide_set(const struct map_priv *m, uint8_t *s, const uint8_t *src)
{
	for (uint32_t spins = 0, waits = 0; spins < MAP_SPIN; spins++) {
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE), busy;
		uint32_t q = MAP_CTRL_GEN(c) & ~3u, h = MAP_CTRL_HASH(c);
		unsigned int state = MAP_CTRL_STATE(c);

		if (state == MAP_SLOT_BUSY && (MAP_CTRL_GEN(c) & 3) == 1)
			return 0; /* overtaken by the overwrite in progress (a value is there) */
		if (state == MAP_SLOT_BUSY) { /* a revival: no value until it lands */
			if (!wait_holder(&waits))
				break;
			spins--;
			continue;
		}
		busy = MAP_CTRL(h, MAP_SLOT_BUSY, q + (state == MAP_SLOT_LIVE ? 1 : 2));
		if (!__atomic_compare_exchange_n((uint64_t *)s, &c, busy, 0, __ATOMIC_ACQUIRE,
						 __ATOMIC_RELAXED))
			continue;
		__atomic_thread_fence(__ATOMIC_RELEASE); /* BUSY seen before a word moves */
		q = (q + 4) & MAP_GEN_MASK;
		wide_store(wide_buf(m, s, q), m->vwords / 2, src);
		__atomic_store_n((uint64_t *)s, MAP_CTRL(h, MAP_SLOT_LIVE, q), __ATOMIC_RELEASE);
		return 0;
	}
	return -EAGAIN;
}

/*
 * The value of sequence q is in its buffer while LIVE(q) or BUSY(q + 1)
 * (overwritten: the writer fills the other buffer); DELETED: no value;
 * BUSY(q + 2) (revived): the value to come, waited for. The copy is good when ctrl has moved by 4 at most since
 * (one write at most: the other buffer).
 */
static int wide_get(const struct map_priv *m, uint8_t *s, uint8_t *dst)
{
	for (uint32_t spins = 0, waits = 0; spins < MAP_SPIN; spins++) {
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);
		uint32_t q = MAP_CTRL_GEN(c) & ~3u;
		unsigned int state = MAP_CTRL_STATE(c);

		if (state == MAP_SLOT_DELETED || state == MAP_SLOT_EMPTY)
			return -ENOENT;
		if (state == MAP_SLOT_BUSY && (MAP_CTRL_GEN(c) & 3) != 1) {
			/* a revival: its value is the one to read, once it lands */
			if (!wait_holder(&waits))
				break;
			spins--;
			continue;
		}
		wide_load(wide_buf(m, s, q), m->vwords / 2, dst);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		c = __atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED);
		if (((MAP_CTRL_GEN(c) - q) & MAP_GEN_MASK) <= 4)
			return 0;
	}
	return -EAGAIN;
}

static int wide_delete(uint8_t *s)
{
	for (uint32_t spins = 0; spins < MAP_SPIN; spins++) {
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);

		if (MAP_CTRL_STATE(c) == MAP_SLOT_BUSY)
			return 0; /* the set in progress lands after this delete */
		if (MAP_CTRL_STATE(c) != MAP_SLOT_LIVE)
			return -ENOENT;
		if (__atomic_compare_exchange_n((uint64_t *)s, &c,
						MAP_CTRL(MAP_CTRL_HASH(c), MAP_SLOT_DELETED,
							 MAP_CTRL_GEN(c)),
						0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
			return 0;
	}
	return -EAGAIN;
}

enum value_op { VAL_GET, VAL_SET, VAL_ADD, VAL_DELETE, VAL_TAKE, VAL_GET_BYTES, VAL_SET_BYTES };

/*
 * One operation on a found slot. A LIVE entry is read, set or added to
 * atomically; get reads ctrl around the value, so that the value read is the
 * entry's of that sequence. Retried (bounded) when another writer moved the
 * slot meanwhile.
 */
static int value_op_slot(const struct map_priv *m, uint8_t *s, enum value_op op, int64_t *v)
{
	int64_t *w = value_word(m, s);

	for (uint32_t spins = 0, waits = 0; spins < MAP_SPIN; spins++) {
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);
		unsigned int state = MAP_CTRL_STATE(c);
		int64_t got;

		if (state == MAP_SLOT_BUSY) { /* a revival */
			if (!wait_holder(&waits))
				break;
			spins--;
			continue;
		}
		if (state == MAP_SLOT_DELETED) {
			if (op == VAL_GET || op == VAL_DELETE || op == VAL_TAKE)
				return -ENOENT;
			if (revive(m, s, c, *v))
				return 0; /* add of a new key: delta from 0 */
			continue;
		}
		switch (op) {
		case VAL_GET:
			got = __atomic_load_n(w, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (__atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED) != c)
				continue;
			*v = got;
			return 0;
		case VAL_SET:
			__atomic_store_n(w, *v, __ATOMIC_RELAXED);
			return 0;
		case VAL_ADD:
			*v = (int64_t)((uint64_t)__atomic_add_fetch(w, *v, __ATOMIC_RELAXED));
			return 0;
		case VAL_TAKE: /* get; a value not 0 deleted with the sequence it was read in */
			got = __atomic_load_n(w, __ATOMIC_RELAXED);
			__atomic_thread_fence(__ATOMIC_ACQUIRE);
			if (!got) {
				if (__atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED) != c)
					continue;
				*v = 0;
				return 0;
			}
			if (!__atomic_compare_exchange_n((uint64_t *)s, &c,
							 MAP_CTRL(MAP_CTRL_HASH(c), MAP_SLOT_DELETED,
								  MAP_CTRL_GEN(c)),
							 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				continue;
			*v = got;
			return 0;
		case VAL_DELETE:
			if (__atomic_compare_exchange_n((uint64_t *)s, &c,
							MAP_CTRL(MAP_CTRL_HASH(c), MAP_SLOT_DELETED,
								 MAP_CTRL_GEN(c)),
							0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
				return 0;
			continue;
		default:
			return -EINVAL; /* the wide ops: wide_set, wide_get */
		}
	}
	return -EAGAIN;
}

/*
 * op on key's entry; v: the one-word value (VAL_*), or the buffer of a value
 * of any width (VAL_GET_BYTES, VAL_SET_BYTES). Maps of values wider than a
 * word take only those and delete. Out of line: the lean paths that fall
 * back to it (lean_value_home) keep a small frame.
 */
static __attribute__((noinline)) int value_op(struct map_region *r, int id, const void *key,
					     enum value_op op, void *v)
{
	const struct map_priv *m;
	uint8_t *s;
	int err = 0;
	bool bytes = op == VAL_GET_BYTES || op == VAL_SET_BYTES;

	if (!r || (uint32_t)id >= r->n_maps || !r->base || r->maps[id].def.kind != MAP_VALUE)
		return -EINVAL;
	m = &r->maps[id];
	if (m->vwords > 1 && !bytes && op != VAL_DELETE)
		return -EINVAL;
	/* A map without a key hashes as the reader checks it (1), as aggregations do. */
	s = value_slot(m, r->base + m->table_off, key, key_hash(key, m->def.key_size),
		       op == VAL_SET || op == VAL_ADD || op == VAL_SET_BYTES, &err);
	if (s && m->vwords > 1)
		err = op == VAL_SET_BYTES ? wide_set(m, s, v)
		      : op == VAL_GET_BYTES ? wide_get(m, s, v)
					    : wide_delete(s);
	else if (s)
		err = value_op_slot(m, s, op, v);
	if (err == -ENOSPC)
		__atomic_fetch_add(&m->state->dropped_full, 1, __ATOMIC_RELAXED);
	else if (err == -EAGAIN)
		__atomic_fetch_add(&m->state->dropped_nested, 1, __ATOMIC_RELAXED);
	return err;
}

/*
 * The lean value paths (map_value_set, map_value_take: the latency idiom's
 * @start[tid]): a map of one-word values, the key (none, or one word) at its
 * home slot, live or deleted: value_op_slot's first round, inline, without
 * the generic op dispatch. NULL: anything else, which value_op takes.
 * *ctrl: the slot's control word (acquire), as value_op_slot loads it.
 */
static inline __attribute__((always_inline)) uint8_t *
lean_value_home(struct map_region *r, int id, const void *key, const struct map_priv **mp,
		uint64_t *ctrl)
{
	const struct map_priv *m;
	uint64_t kw, h, c;
	uint32_t key_size;
	uint8_t *s;

	if (__builtin_expect(!r || (uint32_t)id >= r->n_maps || !r->base, 0))
		return NULL;
	m = &r->maps[id];
	key_size = m->def.key_size;
	if (m->def.kind != MAP_VALUE || m->vwords != 1)
		return NULL;
	if (!lean_key(key, key_size, &kw, &h))
		return NULL;
	s = map_slot(r->base + m->table_off, m, (uint32_t)h & m->mask);
	c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);
	if (MAP_CTRL_HASH(c) != (uint32_t)h || MAP_CTRL_STATE(c) < MAP_SLOT_LIVE ||
	    (key_size && load_word(s + 8) != kw))
		return NULL;
	*mp = m;
	*ctrl = c;
	return s;
}

int map_value_get(struct map_region *r, int id, const void *key, int64_t *v)
{
	int64_t got = 0;
	int err = value_op(r, id, key, VAL_GET, &got);

	if (!err && v)
		*v = got;
	return err;
}

int map_value_set(struct map_region *r, int id, const void *key, int64_t v)
{
	const struct map_priv *m;
	uint64_t c;
	uint8_t *s = lean_value_home(r, id, key, &m, &c);

	if (s && MAP_CTRL_STATE(c) == MAP_SLOT_LIVE) {
		__atomic_store_n(value_word(m, s), v, __ATOMIC_RELAXED);
		return 0;
	}
	if (s && revive(m, s, c, v)) /* deleted: live again with v */
		return 0;
	return value_op(r, id, key, VAL_SET, &v);
}

int map_value_add(struct map_region *r, int id, const void *key, int64_t delta, int64_t *out)
{
	int err = value_op(r, id, key, VAL_ADD, &delta);

	if (!err && out)
		*out = delta;
	return err;
}

int map_value_delete(struct map_region *r, int id, const void *key)
{
	return value_op(r, id, key, VAL_DELETE, NULL);
}

int map_value_take(struct map_region *r, int id, const void *key, int64_t *v)
{
	const struct map_priv *m;
	uint64_t c;
	uint8_t *s = lean_value_home(r, id, key, &m, &c);
	int64_t got = 0;
	int err;

	if (s && MAP_CTRL_STATE(c) == MAP_SLOT_DELETED) {
		if (v)
			*v = 0;
		return -ENOENT;
	}
	if (s) { /* live: value_op_slot's VAL_TAKE, once; a moved slot goes round there */
		got = __atomic_load_n(value_word(m, s), __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (got ? __atomic_compare_exchange_n((uint64_t *)s, &c,
						      MAP_CTRL(MAP_CTRL_HASH(c), MAP_SLOT_DELETED,
							       MAP_CTRL_GEN(c)),
						      0, __ATOMIC_RELEASE, __ATOMIC_RELAXED)
			: __atomic_load_n((uint64_t *)s, __ATOMIC_RELAXED) == c) {
			if (v)
				*v = got;
			return 0;
		}
		got = 0;
	}
	err = value_op(r, id, key, VAL_TAKE, &got);

	if (v)
		*v = err ? 0 : got;
	return err;
}

/* The owner's revival of DELETED(q) (map.h, map_value_set_own): revive's, without its CAS. */
/*
 * The words by arithmetic on c = DELETED(q): state 3 - 2 is BUSY(q), 3 - 1
 * LIVE, and q + 1 in the top 30 bits wraps as (q + 1) & MAP_GEN_MASK would.
 */
static inline __attribute__((always_inline)) void own_revive(uint8_t *s, uint64_t c, int64_t *w,
							     int64_t v)
{
	__atomic_store_n((uint64_t *)s, c - (2ull << 32), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE); /* BUSY seen before the value moves */
	__atomic_store_n(w, v, __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)s, c - (1ull << 32) + (1ull << 34), __ATOMIC_RELEASE);
}

static inline uint64_t own_tag(const struct map_region *r, int id)
{
	return r->serial << 32 | (uint32_t)id;
}

/*
 * The slot of key in map id of r as the thread remembered it, or NULL. The
 * caller holds own_busy: a probe in a signal handler that interrupted it
 * neither reads nor fills own[] (it looks the key up), so the words read
 * here are those of one fill. The key is read only for a map of 8-byte keys.
 */
static inline __attribute__((always_inline)) uint8_t *
own_cached(const struct map_self *me, const struct map_region *r, int id, const void *key)
{
	const struct map_own *o = &me->own[(uint32_t)id % MAP_OWN_SLOTS];

	if (o->tag != own_tag(r, id) || o->key != load_word(key))
		return NULL;
	return o->slot;
}

/* Remember slot s of key (me: NULL when nested in the thread's own set or take). */
static void own_fill(struct map_self *me, const struct map_region *r, int id,
		     const struct map_priv *m, const void *key, uint8_t *s)
{
	struct map_own *o;

	if (!me || m->def.key_size != 8)
		return;
	o = &me->own[(uint32_t)id % MAP_OWN_SLOTS];
	o->tag = 0;
	o->key = load_word(key);
	o->slot = s;
	o->tag = own_tag(r, id);
}

/* The value word of a remembered slot: after ctrl and the one word of its key. */
static inline int64_t *own_word(uint8_t *s)
{
	return (int64_t *)(s + 16);
}

/* set_own's lookup (the key at its home slot, else map_value_set), remembered for me. */
static __attribute__((noinline)) int own_set(struct map_self *me, struct map_region *r, int id,
					     const void *key, int64_t v)
{
	const struct map_priv *m;
	uint64_t c;
	uint8_t *s = lean_value_home(r, id, key, &m, &c);

	if (!s)
		return map_value_set(r, id, key, v);
	own_fill(me, r, id, m, key, s);
	if (MAP_CTRL_STATE(c) == MAP_SLOT_LIVE)
		__atomic_store_n(value_word(m, s), v, __ATOMIC_RELAXED);
	else
		own_revive(s, c, value_word(m, s), v);
	return 0;
}

/* The owner's take (map.h): LIVE(q) -> DELETED(q) by a store, as take's CAS would. */
static inline __attribute__((always_inline)) int own_take_at(uint8_t *s, uint64_t c, int64_t *w,
							     int64_t *v)
{
	int64_t got;

	if (MAP_CTRL_STATE(c) == MAP_SLOT_DELETED) {
		*v = 0;
		return -ENOENT;
	}
	got = __atomic_load_n(w, __ATOMIC_RELAXED);
	if (got) /* LIVE(q) (2) + 1: DELETED(q) */
		__atomic_store_n((uint64_t *)s, c + (1ull << 32), __ATOMIC_RELEASE);
	*v = got;
	return 0;
}

static __attribute__((noinline)) int own_take(struct map_self *me, struct map_region *r, int id,
					      const void *key, int64_t *v)
{
	const struct map_priv *m;
	uint64_t c;
	uint8_t *s = lean_value_home(r, id, key, &m, &c);

	if (!s)
		return map_value_take(r, id, key, v);
	own_fill(me, r, id, m, key, s);
	return own_take_at(s, c, value_word(m, s), v);
}

/*
 * The owner's set (map.h): a remembered slot live or deleted is stored at
 * once (a deleted one revived without revive's CAS); anything else (not
 * remembered yet, BUSY, nested in the thread's own set or take) looks the
 * key up.
 */
int map_value_set_own(struct map_region *r, int id, const void *key, int64_t v)
{
	struct map_self *me = &self;
	uint8_t *s;
	uint64_t c = 0;
	int ret = 0;

	if (__builtin_expect(!r || me->own_busy, 0))
		return own_set(NULL, r, id, key, v);
	me->own_busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s = own_cached(me, r, id, key);
	if (__builtin_expect(s != NULL, 1))
		c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s && MAP_CTRL_STATE(c) == MAP_SLOT_DELETED, 1))
		own_revive(s, c, own_word(s), v);
	else if (s && MAP_CTRL_STATE(c) == MAP_SLOT_LIVE)
		__atomic_store_n(own_word(s), v, __ATOMIC_RELAXED);
	else
		ret = own_set(me, r, id, key, v);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	me->own_busy = 0;
	return ret;
}

/* The owner's take (map.h), on the remembered slot as map_value_set_own's. */
int map_value_take_own(struct map_region *r, int id, const void *key, int64_t *v)
{
	struct map_self *me = &self;
	uint8_t *s;
	uint64_t c = 0;
	int ret;

	if (__builtin_expect(!r || me->own_busy, 0))
		return own_take(NULL, r, id, key, v);
	me->own_busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	s = own_cached(me, r, id, key);
	if (__builtin_expect(s != NULL, 1))
		c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);
	if (__builtin_expect(s && MAP_CTRL_STATE(c) >= MAP_SLOT_LIVE, 1))
		ret = own_take_at(s, c, own_word(s), v);
	else
		ret = own_take(me, r, id, key, v);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	me->own_busy = 0;
	return ret;
}

/* A map of one-word values: its value read as one word, as map_value_get does. */
static bool one_word(const struct map_region *r, int id)
{
	return r && (uint32_t)id < r->n_maps && r->maps[id].vwords == 1;
}

int map_value_get_bytes(struct map_region *r, int id, const void *key, void *val)
{
	int64_t x;
	int err;

	if (!one_word(r, id))
		return value_op(r, id, key, VAL_GET_BYTES, val);
	err = value_op(r, id, key, VAL_GET, &x);
	if (!err)
		__builtin_memcpy(val, &x, 8);
	return err;
}

int map_value_set_bytes(struct map_region *r, int id, const void *key, const void *val)
{
	int64_t x;

	if (!one_word(r, id))
		return value_op(r, id, key, VAL_SET_BYTES, (void *)val);
	__builtin_memcpy(&x, val, 8);
	return value_op(r, id, key, VAL_SET, &x);
}

int map_delete(struct map_region *r, int id, const void *key)
{
	if (!r || (uint32_t)id >= r->n_maps)
		return -EINVAL;
	return r->maps[id].def.kind == MAP_VALUE ? value_op(r, id, key, VAL_DELETE, NULL) :
						   map_agg_delete(r, id, key);
}

int map_value_clear(struct map_region *r, int id, bool zero)
{
	static const uint8_t zeros[MAP_MAX_VALUE];

	const struct map_priv *m = &r->maps[id];
	uint8_t *table = r->base + m->table_off;

	for (uint32_t i = 0; i < m->cap; i++) {
		uint8_t *s = map_slot(table, m, i);
		uint64_t c = __atomic_load_n((uint64_t *)s, __ATOMIC_ACQUIRE);

		if (MAP_CTRL_STATE(c) != MAP_SLOT_LIVE)
			continue;
		if (zero && m->vwords > 1)
			wide_set(m, s, zeros);
		else if (zero)
			__atomic_store_n(value_word(m, s), 0, __ATOMIC_RELAXED);
		else
			__atomic_compare_exchange_n((uint64_t *)s, &c,
						    MAP_CTRL(MAP_CTRL_HASH(c), MAP_SLOT_DELETED,
							     MAP_CTRL_GEN(c)),
						    0, __ATOMIC_RELEASE, __ATOMIC_RELAXED);
	}
	return 0;
}
