// SPDX-License-Identifier: MIT
/*
 * The tracer's maps (struct lang_store): what BEGIN, END and interval probes
 * update, and where the maps of the traced process are merged to be
 * printed. One open-addressing hash table per map, keyed by the key's bytes
 * (plan.c's layout: 8 bytes an integer, 64 a string). Not for the hot path:
 * it allocates.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lang/store.h"

static uint64_t hash_key(const uint8_t *k, uint32_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ k[i]) * 1099511628211ull;
	return h;
}

uint32_t store_nbuckets(const struct lang_map_info *m)
{
	if (m->kind == MK_HIST)
		return STORE_HIST_BUCKETS;
	if (m->kind == MK_LHIST)
		return (uint32_t)((m->lmax - m->lmin) / m->lstep) + 2 +
		       ((m->lmax - m->lmin) % m->lstep != 0);
	return 0;
}

struct lang_store *store_new(const struct lang_checked *ck, const struct plan *pl)
{
	struct lang_store *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->ck = ck;
	s->nmaps = (uint32_t)ck->nmaps;
	for (uint32_t i = 0; i < s->nmaps; i++) {
		s->maps[i].info = &ck->maps[i];
		s->maps[i].key_size = pl->key_size[i];
		s->maps[i].nbuckets = store_nbuckets(&ck->maps[i]);
	}
	return s;
}

static void clear_map(struct store_map *m)
{
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i])
			free(m->slots[i]);
	free(m->slots);
	m->slots = NULL;
	m->cap = m->count = 0;
}

void store_free(struct lang_store *s)
{
	if (!s)
		return;
	for (uint32_t i = 0; i < s->nmaps; i++)
		clear_map(&s->maps[i]);
	store_free(s->base);
	free(s);
}

void store_clear(struct lang_store *s, unsigned map)
{
	if (map < s->nmaps)
		clear_map(&s->maps[map]);
}

/* bpftrace's zero(): every value back to 0, the keys kept. */
void store_zero(struct lang_store *s, unsigned map)
{
	if (map >= s->nmaps)
		return;
	struct store_map *m = &s->maps[map];
	for (uint32_t i = 0; i < m->cap; i++) {
		struct store_entry *e = m->slots[i];
		if (!e)
			continue;
		e->a = e->b = 0;
		e->init = false;
		memset(e->str, 0, sizeof(e->str));
		memset(e->buckets, 0, m->nbuckets * sizeof(e->buckets[0]));
	}
}

static struct store_entry **find_slot(struct store_map *m, const void *key)
{
	uint64_t h = hash_key(key, m->key_size);
	for (uint32_t i = 0;; i++) {
		struct store_entry **e = &m->slots[(h + i) & (m->cap - 1)];
		if (!*e || !memcmp((*e)->key, key, m->key_size))
			return e;
	}
}

static int grow(struct store_map *m)
{
	uint32_t cap = m->cap ? m->cap * 2 : 16;
	struct store_entry **old = m->slots;
	uint32_t old_cap = m->cap;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots) {
		m->slots = old;
		return -ENOMEM;
	}
	m->cap = cap;
	for (uint32_t i = 0; i < old_cap; i++)
		if (old[i])
			*find_slot(m, old[i]->key) = old[i];
	free(old);
	return 0;
}

struct store_entry *store_lookup(struct lang_store *s, unsigned map, const void *key, bool create)
{
	if (map >= s->nmaps)
		return NULL;
	struct store_map *m = &s->maps[map];
	if (!m->cap && (!create || grow(m)))
		return NULL;
	struct store_entry **e = find_slot(m, key);
	if (*e || !create)
		return *e;
	if ((m->count + 1) * 4 > m->cap * 3) {
		if (grow(m))
			return NULL;
		e = find_slot(m, key);
	}
	size_t sz = sizeof(**e) + m->nbuckets * sizeof((*e)->buckets[0]);
	*e = calloc(1, sz + m->key_size);
	if (!*e)
		return NULL;
	(*e)->key = (uint8_t *)*e + sz;
	memcpy((*e)->key, key, m->key_size);
	m->count++;
	return *e;
}

int store_delete(struct lang_store *s, unsigned map, const void *key)
{
	if (s->base) /* the target's entry renews from zero: no baseline */
		store_delete(s->base, map, key);
	if (map >= s->nmaps || !s->maps[map].cap)
		return -ENOENT;
	struct store_map *m = &s->maps[map];
	struct store_entry **e = find_slot(m, key);
	if (!*e)
		return -ENOENT;
	free(*e);
	*e = NULL;
	m->count--;
	/* re-insert the rest of the cluster (linear probing) */
	for (uint32_t i = (uint32_t)(e - m->slots + 1) & (m->cap - 1); m->slots[i];
	     i = (i + 1) & (m->cap - 1)) {
		struct store_entry *x = m->slots[i];
		m->slots[i] = NULL;
		*find_slot(m, x->key) = x;
	}
	return 0;
}

static uint32_t hist_index(int64_t v)
{
	if (v < 0)
		return 0;
	if (v == 0)
		return 1;
	uint32_t i = 2;
	for (uint64_t u = (uint64_t)v; u > 1; u >>= 1)
		i++;
	return i;
}

static uint32_t lhist_index(const struct lang_map_info *mi, uint32_t nb, int64_t v)
{
	if (v < mi->lmin)
		return 0;
	if (v >= mi->lmax)
		return nb - 1;
	return 1 + (uint32_t)((v - mi->lmin) / mi->lstep);
}

/* One value into an aggregation, as the handler in the target does it. */
void store_agg_entry(const struct store_map *m, struct store_entry *e, enum lang_map_kind k,
		     int64_t v)
{
	switch (k) {
	case MK_COUNT:
		e->a++;
		break;
	case MK_SUM:
		e->a += v;
		break;
	case MK_MIN:
		e->a = !e->init || v < e->a ? v : e->a;
		break;
	case MK_MAX:
		e->a = !e->init || v > e->a ? v : e->a;
		break;
	case MK_AVG:
	case MK_STATS:
		e->a++;
		e->b += v;
		break;
	case MK_HIST:
		e->buckets[hist_index(v)]++;
		break;
	case MK_LHIST:
		e->buckets[lhist_index(m->info, m->nbuckets, v)]++;
		break;
	default:
		break;
	}
	e->init = true;
}

/* The environment's map operations over a store (BEGIN, END, interval, tests). */
static int env_get(void *ctx, unsigned map, const void *key, void *val)
{
	struct lang_store *s = ctx;
	struct store_entry *e = store_lookup(s, map, key, false);
	if (!e)
		return -ENOENT;
	if (s->maps[map].info->kind == MK_STR)
		memcpy(val, e->str, LANG_STRLEN);
	else
		memcpy(val, &e->a, 8);
	return 0;
}

static int env_set(void *ctx, unsigned map, const void *key, const void *val)
{
	struct lang_store *s = ctx;
	struct store_entry *e = store_lookup(s, map, key, true);
	if (!e)
		return -ENOMEM;
	if (s->maps[map].info->kind == MK_STR)
		memcpy(e->str, val, LANG_STRLEN);
	else
		memcpy(&e->a, val, 8);
	e->init = true;
	return 0;
}

static int env_agg(void *ctx, unsigned map, const void *key, enum lang_map_kind k, int64_t v)
{
	struct lang_store *s = ctx;
	struct store_entry *e = store_lookup(s, map, key, true);
	if (!e)
		return -ENOMEM;
	store_agg_entry(&s->maps[map], e, k, v);
	return 0;
}

static int env_del(void *ctx, unsigned map, const void *key)
{
	return store_delete(ctx, map, key);
}

static int env_add(void *ctx, unsigned map, const void *key, int64_t delta, int64_t *out)
{
	struct lang_store *s = ctx;
	struct store_entry *e = store_lookup(s, map, key, true);
	if (!e)
		return -ENOMEM;
	e->a = (int64_t)((uint64_t)e->a + (uint64_t)delta);
	e->init = true;
	*out = e->a;
	return 0;
}

void store_env_ops(struct lang_env_ops *ops)
{
	ops->map_add = env_add;
	ops->map_get = env_get;
	ops->map_set = env_set;
	ops->map_agg = env_agg;
	ops->map_del = env_del;
}

/* ---- baselines: clear() and zero() of additive maps read from the target ---------- */

bool store_additive(enum lang_map_kind k)
{
	return k == MK_COUNT || k == MK_SUM || k == MK_AVG || k == MK_STATS || k == MK_HIST ||
	       k == MK_LHIST;
}

static struct lang_store *base_of(struct lang_store *s)
{
	if (s->base)
		return s->base;
	s->base = calloc(1, sizeof(*s->base));
	if (!s->base)
		return NULL;
	s->base->ck = s->ck;
	s->base->nmaps = s->nmaps;
	for (uint32_t i = 0; i < s->nmaps; i++) {
		s->base->maps[i].info = s->maps[i].info;
		s->base->maps[i].key_size = s->maps[i].key_size;
		s->base->maps[i].nbuckets = s->maps[i].nbuckets;
	}
	return s->base;
}

/* to += from, or to -= from (sums wrap modulo 2^64 as the target's do) */
static void entry_add(const struct store_map *m, struct store_entry *to,
		      const struct store_entry *from, bool minus)
{
	uint64_t sign = minus ? (uint64_t)-1 : 1;
	to->a = (int64_t)((uint64_t)to->a + sign * (uint64_t)from->a);
	to->b = (int64_t)((uint64_t)to->b + sign * (uint64_t)from->b);
	for (uint32_t i = 0; i < m->nbuckets; i++)
		to->buckets[i] += sign * from->buckets[i];
}

int store_rebase(struct lang_store *s, unsigned map, bool hide)
{
	if (map >= s->nmaps || !base_of(s))
		return -ENOMEM;
	struct store_map *m = &s->maps[map];
	for (uint32_t i = 0; i < m->cap; i++) {
		struct store_entry *e = m->slots[i], *b;
		if (!e)
			continue;
		b = store_lookup(s->base, map, e->key, true);
		if (!b)
			return -ENOMEM;
		entry_add(m, b, e, false);
		b->hidden = hide;
		b->seen = m->reads;
	}
	(hide ? store_clear : store_zero)(s, map);
	m->fresh = false;
	return 0;
}

/* raw against its baseline b: below it (renewed from zero in the target), or moved? */
static bool entry_below(const struct store_map *m, const struct store_entry *raw,
			const struct store_entry *b, bool *moved)
{
	enum lang_map_kind k = m->info->kind;
	bool below = false;
	*moved = raw->a != b->a;
	if (k == MK_COUNT || k == MK_AVG || k == MK_STATS)
		below = (uint64_t)raw->a < (uint64_t)b->a;
	for (uint32_t i = 0; i < m->nbuckets; i++) {
		below |= raw->buckets[i] < b->buckets[i];
		*moved |= raw->buckets[i] != b->buckets[i];
	}
	return below; /* a sum can go down: a deleted key's sum is not told apart */
}

int store_put_read(struct lang_store *s, unsigned map, const void *key,
		   const struct store_entry *raw)
{
	struct store_map *m = &s->maps[map];
	struct store_entry *b = s->base ? store_lookup(s->base, map, key, false) : NULL;
	bool moved = true;
	if (b && entry_below(m, raw, b, &moved)) {
		store_delete(s->base, map, key);
		b = NULL;
	}
	if (b) {
		b->seen = m->reads;
		if (b->hidden && !moved)
			return 0; /* clear()ed, no hit since */
		b->hidden = false;
	}
	struct store_entry *e = store_lookup(s, map, key, true);
	if (!e)
		return -ENOMEM;
	e->a = e->b = 0;
	memset(e->buckets, 0, m->nbuckets * sizeof(e->buckets[0]));
	entry_add(m, e, raw, false);
	if (b)
		entry_add(m, e, b, true);
	e->init = true;
	return 0;
}

void store_read_done(struct lang_store *s, unsigned map)
{
	if (!s->base || map >= s->nmaps)
		return;
	struct store_map *bm = &s->base->maps[map];
	bool again = true;
	/* a delete moves the cluster after it: walk again until nothing goes */
	while (again) {
		again = false;
		for (uint32_t i = 0; i < bm->cap; i++) {
			struct store_entry *b = bm->slots[i];
			if (b && b->seen != s->maps[map].reads) {
				store_delete(s->base, map, b->key);
				again = true;
			}
		}
	}
}
