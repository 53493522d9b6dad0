/* SPDX-License-Identifier: MIT */
/*
 * Maps, the tracer's side: every shard of a map merged into one value per
 * key (as libbpf's readers merge per-CPU values), and the drop counters
 * summed. The traced process can write every byte of the region at any
 * time: the walk is bounded by the tracer's own copy of the layout (shards,
 * slots, words), each slot is copied out between two reads of its control
 * word and checked (state, the key's hash, the key's padding) before use;
 * what is impossible is skipped and counted (map_stats.corrupt).
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "trace/map/map_shm.h"

#define READ_RETRIES 8 /* copies of a slot its writer moved meanwhile */
/*
 * Copies of an avg/stats slot whose sequence was odd or moved (its writer in
 * the middle of an update, maybe preempted there): after READ_RETRIES, each
 * after a wait; then the last copy is taken as it is (a writer that never
 * finishes: its process died in the update). The waits of one map_read in
 * all: SEQ_YIELDS sched_yields, then SEQ_NAPS naps of SEQ_NAP_NS, whatever
 * the slot (a writer the scheduler took off its CPU comes back within a few
 * time slices). Before, 2,000 copies of one slot with a yield each (~1-3 ms)
 * were once too few at load 6 on 2 CPUs and a torn copy was taken
 * (trace_map/test_avg_untorn: torn = 1, in CI too). A hostile target that
 * keeps sequences odd slows a read by ~0.1 s at most.
 */
#define SEQ_YIELDS  8000
#define SEQ_NAPS    1000
#define SEQ_NAP_NS  50000

/* One merged key: the header, the key's words, its buckets (value maps: the value's words). */
struct merged {
	uint64_t hash;
	uint64_t count, last_tsc;
	int64_t sum, min, max, value;
	uint32_t live; /* a contribution of the current generation (else: zeroed) */
	uint32_t pad;
};

struct merge {
	const struct map_priv *m;
	size_t entry_size; /* struct merged + key words + buckets */
	uint8_t *entries;
	uint32_t n, room;
	uint32_t *index; /* open addressing: entry + 1, 0 free */
	uint32_t index_cap;
	bool period;	/* map_read_period: min/max of epoch's period */
	uint64_t epoch;
	uint32_t waits; /* left of SEQ_YIELDS + SEQ_NAPS */
};

static struct merged *entry_at(const struct merge *g, uint32_t i)
{
	return (struct merged *)(g->entries + (size_t)i * g->entry_size);
}

static uint8_t *entry_key(struct merged *e)
{
	return (uint8_t *)(e + 1);
}

static uint64_t *entry_buckets(const struct merge *g, struct merged *e)
{
	return (uint64_t *)(entry_key(e) + 8 * g->m->key_words);
}

static int grow_index(struct merge *g, uint32_t want)
{
	uint32_t cap = g->index_cap ? 2 * g->index_cap : 1024;
	uint32_t *idx;

	while (cap < 2 * want && cap < (1u << 31))
		cap *= 2;
	idx = calloc(cap, sizeof(*idx));

	if (!idx)
		return -ENOMEM;
	for (uint32_t i = 0; i < g->n; i++) {
		uint32_t j = (uint32_t)entry_at(g, i)->hash & (cap - 1);

		while (idx[j])
			j = (j + 1) & (cap - 1);
		idx[j] = i + 1;
	}
	free(g->index);
	g->index = idx;
	g->index_cap = cap;
	return 0;
}

/* The merged entry of key (key_words words, zero-padded), added zeroed if new. */
static struct merged *merge_find(struct merge *g, const uint8_t *key, uint64_t h)
{
	size_t kb = 8 * g->m->key_words;
	struct merged *e;
	uint32_t j;

	if (2 * (g->n + 1) > g->index_cap && grow_index(g, 0))
		return NULL;
	for (j = (uint32_t)h & (g->index_cap - 1); g->index[j]; j = (j + 1) & (g->index_cap - 1)) {
		e = entry_at(g, g->index[j] - 1);
		if (e->hash == h && !memcmp(entry_key(e), key, kb))
			return e;
	}
	if (g->n == g->room) {
		uint32_t room = g->room ? 2 * g->room : g->index_cap / 2;
		uint8_t *p = realloc(g->entries, (size_t)room * g->entry_size);

		if (!p)
			return NULL;
		g->entries = p;
		g->room = room;
	}
	e = entry_at(g, g->n);
	memset(e, 0, g->entry_size);
	e->hash = h;
	e->min = INT64_MAX;
	e->max = INT64_MIN;
	memcpy(entry_key(e), key, kb);
	g->index[j] = ++g->n;
	return e;
}

static void merge_words(struct merge *g, struct merged *e, const int64_t *w, bool live)
{
	const struct map_priv *m = g->m;

	if (!live)
		return; /* zero(): the key stays, its value is 0 */
	e->live = 1;
	switch (m->def.kind) {
	case MAP_COUNT:
		e->count += (uint64_t)w[0];
		break;
	case MAP_SUM:
		e->sum = (int64_t)((uint64_t)e->sum + (uint64_t)w[0]);
		break;
	case MAP_MIN:
	case MAP_MAX: {
		int64_t v = w[0];

		if (g->period) { /* the value of the period that ended, if any */
			if ((uint64_t)w[1] == g->epoch)
				v = w[0];
			else if ((uint64_t)w[3] == g->epoch)
				v = w[2];
			else
				break;
			e->count = 1;
		}
		if (m->def.kind == MAP_MIN)
			e->min = v < e->min ? v : e->min;
		else
			e->max = v > e->max ? v : e->max;
		break;
	}
	case MAP_STATS:
		e->min = w[2] < e->min ? w[2] : e->min;
		e->max = w[3] > e->max ? w[3] : e->max;
		/* fall through */
	case MAP_AVG:
		e->count += (uint64_t)w[0];
		e->sum = (int64_t)((uint64_t)e->sum + (uint64_t)w[1]);
		break;
	case MAP_HIST:
	case MAP_LHIST:
		for (uint32_t b = 0; b < m->n_buckets; b++) {
			entry_buckets(g, e)[b] += (uint64_t)w[b];
			e->count += (uint64_t)w[b];
		}
		break;
	case MAP_LAST:
		if (!e->last_tsc || (uint64_t)w[1] >= e->last_tsc) {
			e->last_tsc = (uint64_t)w[1];
			e->value = w[0];
		}
		break;
	case MAP_VALUE: /* the value's words kept where buckets would be */
		e->value = w[0];
		memcpy(entry_buckets(g, e), w, m->def.value_size);
		break;
	default:
		break;
	}
}

/*
 * Copy slot s out (ctrl, key, value) between two reads of its control word;
 * 1 with a stable LIVE (or, value maps, LIVE only) copy in buf, 0 for nothing
 * there, -1 for an impossible one. After READ_RETRIES copies: nothing (taken
 * at the next read), or for avg/stats, more copies, each after one of the
 * read's waits; with the waits spent, the copy as it is.
 */
static int copy_slot(const struct map_priv *m, const uint8_t *s, uint64_t *buf, uint64_t *ctrl,
		     uint32_t *waits)
{
	uint32_t words = m->key_words + m->vwords;
	int seq = map_seq_word(m->def.kind);
	const uint64_t *q = seq >= 0 ? (const uint64_t *)s + 1 + m->key_words + seq : NULL;
	bool last = false;

	for (int tries = 0;; tries++) {
		if (tries >= READ_RETRIES) {
			if (!q)
				return 0; /* a writer kept moving it: taken at the next read */
			if (!*waits)
				last = true; /* the read's budget spent: this copy as it is */
			else if ((*waits)-- > SEQ_NAPS)
				sched_yield(); /* let a preempted writer finish its update */
			else
				nanosleep(&(struct timespec){ 0, SEQ_NAP_NS }, NULL);
		}
		uint64_t c1 = __atomic_load_n((const uint64_t *)s, __ATOMIC_ACQUIRE), c2;
		uint64_t q1 = q ? __atomic_load_n(q, __ATOMIC_ACQUIRE) : 0;
		unsigned int st = MAP_CTRL_STATE(c1);

		if (st == MAP_SLOT_EMPTY)
			return c1 ? -1 : 0;
		if (st == MAP_SLOT_DELETED)
			return 0; /* delete(): gone */
		if (st == MAP_SLOT_BUSY) {
			if (last)
				return 0;
			continue;
		}
		for (uint32_t i = 0; i < words; i++)
			buf[i] = __atomic_load_n((const uint64_t *)s + 1 + i, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		c2 = __atomic_load_n((const uint64_t *)s, __ATOMIC_RELAXED);
		if (c1 != c2) {
			if (last)
				return 0;
			continue;
		}
		/* avg, stats: count and sum of the same hits (the sequence even, unmoved) */
		if (q && ((q1 & 1) || __atomic_load_n(q, __ATOMIC_RELAXED) != q1) && !last)
			continue;
		*ctrl = c1;
		return 1;
	}
}

/* The key in buf is one a writer could have stored: its hash and zero padding agree. */
static bool key_sound(const struct map_priv *m, const uint64_t *buf, uint64_t ctrl, uint64_t *h)
{
	uint32_t ks = m->def.key_size, tail = ks % 8;

	if (tail && buf[ks / 8] >> (8 * tail))
		return false;
	*h = ks ? map_key_hash(buf, ks) : 1;
	return MAP_CTRL_HASH(ctrl) == (uint32_t)*h;
}

/*
 * Room for the keys the shards say they hold (each count bounded by the map's
 * own maximum, the sum by twice that: the target wrote them), so that the
 * merge rarely grows.
 */
static int presize(struct merge *g, const struct map_region *r)
{
	const struct map_priv *m = g->m;
	uint64_t want = 0;

	for (uint32_t s = 0; s <= r->n_shards && m->def.kind != MAP_VALUE; s++) {
		const struct map_shm_shard_stats *ss;
		uint64_t used;

		if (!__atomic_load_n(&r->owners[s], __ATOMIC_RELAXED))
			continue;
		ss = (const struct map_shm_shard_stats *)(r->base + r->shards_off +
							  (uint64_t)s * r->shard_stride) + (m - r->maps);
		used = __atomic_load_n(&ss->used, __ATOMIC_RELAXED);
		want += used < m->def.max_entries ? used : m->def.max_entries;
	}
	if (m->def.kind == MAP_VALUE)
		want = __atomic_load_n(&m->state->used, __ATOMIC_RELAXED);
	if (want > 2ull * m->def.max_entries)
		want = 2ull * m->def.max_entries;
	return grow_index(g, (uint32_t)want);
}

/* Every slot of one table into the merge; -1 on memory exhaustion. */
static int merge_table(struct merge *g, const uint8_t *table, uint32_t gen, uint32_t clear_gen,
		       uint64_t *buf)
{
	struct map_priv *m = (struct map_priv *)g->m;

	for (uint32_t i = 0; i < m->cap; i++) {
		uint64_t ctrl = 0, h;
		int got = copy_slot(m, map_slot((uint8_t *)table, m, i), buf, &ctrl, &g->waits);
		struct merged *e;
		bool value_map = m->def.kind == MAP_VALUE;

		if (got < 0 || (got > 0 && !key_sound(m, buf, ctrl, &h))) {
			m->corrupt++;
			continue;
		}
		if (!got)
			continue;
		if (!value_map && map_gen_dead(MAP_CTRL_GEN(ctrl), gen, clear_gen))
			continue;
		e = merge_find(g, (const uint8_t *)buf, h);
		if (!e)
			return -1;
		/* a wide value: the buffer of the entry's sequence (map_shm.h) */
		merge_words(g, e,
			    (const int64_t *)buf + m->key_words +
				    (value_map && m->vwords > 1 ?
					     ((MAP_CTRL_GEN(ctrl) >> 2) & 1) * (m->vwords / 2) : 0),
			    value_map || MAP_CTRL_GEN(ctrl) == gen);
	}
	return 0;
}

/*
 * The count stub's words of a dense count map (map_shm.h): key k's, summed
 * over the shards, added to key k (made when no table holds it: the stub
 * counts a thread whose slow path made the key in another shard, or whose
 * first hit was another key's). A word is written by its shard's owner
 * alone, one add at a time: any value read is a count that happened.
 */
static int merge_dense(struct merge *g, const struct map_region *r)
{
	const struct map_priv *m = g->m;

	for (uint32_t k = 0; k < m->def.dense; k++) {
		uint64_t n = 0, key[1] = { k }, h;
		struct merged *e;

		for (uint32_t s = 0; s <= r->n_shards; s++)
			if (__atomic_load_n(&r->owners[s], __ATOMIC_RELAXED))
				n += __atomic_load_n((const uint64_t *)(r->base + r->shards_off +
									(uint64_t)s * r->shard_stride +
									m->dense_off) + k,
						     __ATOMIC_RELAXED);
		if (!n)
			continue;
		h = m->def.key_size ? map_key_hash(key, m->def.key_size) : 1;
		e = merge_find(g, (const uint8_t *)key, h);
		if (!e)
			return -1;
		e->count += n;
		e->live = 1;
	}
	return 0;
}

static int emit(struct merge *g, map_read_cb cb, void *ctx)
{
	const struct map_priv *m = g->m;

	for (uint32_t i = 0; i < g->n; i++) {
		struct merged *e = entry_at(g, i);
		struct map_value v = { .count = e->count, .sum = e->sum, .min = e->min,
				       .max = e->max, .value = e->value,
				       .n_buckets = m->n_buckets,
				       .buckets = m->n_buckets ? entry_buckets(g, e) : NULL,
				       .bytes = m->def.kind == MAP_VALUE ? entry_buckets(g, e)
									 : NULL };
		int ret;

		if (!e->live || v.min == INT64_MAX)
			v.min = 0;
		if (!e->live || v.max == INT64_MIN)
			v.max = 0;
		ret = cb(entry_key(e), &v, ctx);
		if (ret)
			return ret;
	}
	return 0;
}

static const uint8_t *shard_of(const struct map_region *r, uint32_t s)
{
	return r->base + r->shards_off + (uint64_t)s * r->shard_stride;
}

static int read_map(struct map_region *r, int id, map_read_cb cb, void *ctx, bool period);

int map_read(struct map_region *r, int id, map_read_cb cb, void *ctx)
{
	return read_map(r, id, cb, ctx, false);
}

int map_read_period(struct map_region *r, int id, map_read_cb cb, void *ctx)
{
	if (!r || !r->sealed || id < 0 || (uint32_t)id >= r->n_maps ||
	    (r->maps[id].def.kind != MAP_MIN && r->maps[id].def.kind != MAP_MAX))
		return -EINVAL;
	return read_map(r, id, cb, ctx, true);
}

static int read_map(struct map_region *r, int id, map_read_cb cb, void *ctx, bool period)
{
	struct map_priv *m;
	struct merge g = { 0 };
	uint64_t before, buf[(MAP_MAX_KEY + 8 * MAP_LHIST_MAX_BUCKETS) / 8 + 2];
	uint32_t gen, clear_gen;
	int ret = 0;

	if (!r || !r->sealed || id < 0 || (uint32_t)id >= r->n_maps || !cb)
		return -EINVAL;
	m = &r->maps[id];
	g.m = m;
	g.waits = SEQ_YIELDS + SEQ_NAPS;
	g.entry_size = sizeof(struct merged) +
		       8 * m->key_words +
		       (m->def.kind == MAP_VALUE ? m->def.value_size : 8 * m->n_buckets);
	before = m->corrupt;
	if (period) {
		/*
		 * Updates from now on go to the next period. One that loaded the old
		 * epoch has made its sequence odd before (program order); by the end
		 * of the wait its stores are seen (or it was preempted, which
		 * publishes them) and copy_slot waits for it to be even again.
		 */
		struct timespec nap = { 0, MAP_PERIOD_WAIT_NS };

		g.period = true;
		g.epoch = __atomic_fetch_add(&m->state->epoch, 1, __ATOMIC_SEQ_CST);
		nanosleep(&nap, NULL);
	}
	gen = __atomic_load_n(&m->state->gen, __ATOMIC_ACQUIRE) & MAP_GEN_MASK;
	clear_gen = __atomic_load_n(&m->state->clear_gen, __ATOMIC_ACQUIRE) & MAP_GEN_MASK;
	if (presize(&g, r))
		ret = -1;
	else if (m->def.kind == MAP_VALUE) {
		ret = merge_table(&g, r->base + m->table_off, gen, clear_gen, buf);
	} else {
		/*
		 * Never-owned shards were never written by a probe: not read (not even
		 * paged in). The last is the overflow shard, read once it was used.
		 */
		for (uint32_t s = 0; s <= r->n_shards && !ret; s++)
			if (__atomic_load_n(&r->owners[s], __ATOMIC_RELAXED))
				ret = merge_table(&g, shard_of(r, s) + m->table_off, gen,
						  clear_gen, buf);
		if (!ret && m->def.dense)
			ret = merge_dense(&g, r);
	}
	m->entries = g.n;
	if (ret)
		ret = -ENOMEM;
	else
		ret = emit(&g, cb, ctx);
	free(g.index);
	free(g.entries);
	if (!ret && m->corrupt != before)
		ret = -EUCLEAN;
	return ret;
}

int map_stats_get(struct map_region *r, int id, struct map_stats *st)
{
	const struct map_priv *m;

	if (!r || !r->sealed || id < 0 || (uint32_t)id >= r->n_maps || !st)
		return -EINVAL;
	m = &r->maps[id];
	*st = (struct map_stats){
		.dropped_full = __atomic_load_n(&m->state->dropped_full, __ATOMIC_RELAXED),
		.dropped_shard = __atomic_load_n(&m->state->dropped_shard, __ATOMIC_RELAXED),
		.dropped_nested = __atomic_load_n(&m->state->dropped_nested, __ATOMIC_RELAXED),
		.corrupt = m->corrupt,
		.entries = m->entries,
	};
	for (uint32_t s = 0; s <= r->n_shards && m->def.kind != MAP_VALUE; s++) {
		const struct map_shm_shard_stats *ss;

		if (!__atomic_load_n(&r->owners[s], __ATOMIC_RELAXED))
			continue;
		ss = (const struct map_shm_shard_stats *)shard_of(r, s) + id;
		st->dropped_full += __atomic_load_n(&ss->dropped_full, __ATOMIC_RELAXED);
		st->dropped_nested += __atomic_load_n(&ss->dropped_nested, __ATOMIC_RELAXED);
	}
	return 0;
}
