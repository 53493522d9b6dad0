// SPDX-License-Identifier: MIT
/*
 * A program's maps in the target (src/trace/map, docs/maps.md): the tracer
 * defines one map of the region per map of the program, in the program's
 * order (map id = the plan's map index); the plan's map operations in the
 * target become the region's hot-path calls; the tracer merges the region
 * into its store (store.c), which prints them as bpftrace does.
 *
 *   count() sum() min() max() avg() stats() hist() lhist()  per-thread shards
 *   @x[k] = v, @x[k]++, @start[tid] = nsecs, delete()       the shared value map
 *   @name[tid] = comm, @path[tid] = str(arg0)               a shared value map of
 *                                                           LANG_STRLEN-byte values
 *   then one more map, "str() faults": a sum of the faults of str() per thread,
 *   and "unwound returns": uretprobes not run, their call left by an exception
 *
 * The environment's callbacks (lang_target_env_ops) run in the probe handler:
 * built with the hot-path flags, they call only the region's async-signal-safe
 * functions.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/store.h"
#include "trace/map/map.h"

static const enum map_kind kinds[] = {
	[MK_NONE] = MAP_VALUE, [MK_INT] = MAP_VALUE, [MK_STR] = MAP_VALUE, [MK_COUNT] = MAP_COUNT, [MK_SUM] = MAP_SUM,
	[MK_AVG] = MAP_AVG,	[MK_MIN] = MAP_MIN,	[MK_MAX] = MAP_MAX,
	[MK_STATS] = MAP_STATS, [MK_HIST] = MAP_HIST,	[MK_LHIST] = MAP_LHIST,
};

int lang_target_define(const struct lang_program *p, struct map_region *r, char *why, size_t len)
{
	const struct lang_checked *ck = &p->checked;
	for (int i = 0; i < ck->nmaps; i++) {
		const struct lang_map_info *m = &ck->maps[i];
		struct map_def d = {
			.name = m->name,
			.kind = kinds[m->kind],
			.key_size = p->plan.key_size[i],
			.lhist_min = m->lmin,
			.lhist_max = m->lmax,
			.lhist_step = m->lstep,
			.value_size = m->kind == MK_STR ? LANG_STRLEN : 0,
			/* its one entry's word for the count stub (lang_map_info.count_stub) */
			.dense = m->count_stub && !p->plan.key_size[i],
		};
		int id = map_define(r, &d);
		if (id < 0) {
			snprintf(why, len, "%s: %s", m->name, map_region_error(r));
			return id;
		}
		if (id != i) {
			snprintf(why, len, "%s: the region gave id %d for map %d", m->name, id, i);
			return -EINVAL;
		}
	}
	/*
	 * then str()'s faults, summed per thread by the handlers (lang_target_faults),
	 * and the unwound returns (lang_target_unwound)
	 */
	static const char *const extra[] = { LANG_FAULTS_MAP, LANG_UNWOUND_MAP };
	for (int k = 0; k < 2; k++) {
		struct map_def d = { .name = extra[k], .kind = MAP_SUM };
		int id = map_define(r, &d);
		if (id < 0) {
			snprintf(why, len, "%s: %s", extra[k], map_region_error(r));
			return id;
		}
	}
	return 0;
}

static int add_sum(const void *key, const struct map_value *v, void *ctx)
{
	(void)key;
	*(uint64_t *)ctx += (uint64_t)v->sum;
	return 0;
}

/* Map id's sums (a keyless MAP_SUM, per thread), added up. */
static uint64_t sum_of(struct map_region *r, int id)
{
	uint64_t n = 0;
	map_read(r, id, add_sum, &n);
	return n;
}

uint64_t lang_target_faults(struct map_region *r, unsigned nmaps)
{
	return sum_of(r, (int)nmaps);
}

uint64_t lang_target_unwound(struct map_region *r, unsigned nmaps)
{
	return sum_of(r, (int)nmaps + 1);
}

/* ---- hot path: the plan's map operations on the region ---------------------------- */

/* val: 8 bytes, or a map of strings' LANG_STRLEN (the region knows the map's width) */
static int t_get(void *ctx, unsigned map, const void *key, void *val)
{
	return map_value_get_bytes(ctx, (int)map, key, val);
}

static int t_set(void *ctx, unsigned map, const void *key, const void *val)
{
	return map_value_set_bytes(ctx, (int)map, key, val);
}

static int t_agg(void *ctx, unsigned map, const void *key, enum lang_map_kind k, int64_t v)
{
	(void)k; /* the region knows the map's kind */
	return map_agg_update(ctx, (int)map, key, v);
}

static int t_del(void *ctx, unsigned map, const void *key)
{
	return map_delete(ctx, (int)map, key);
}

static int t_take(void *ctx, unsigned map, const void *key, int64_t *val)
{
	return map_value_take(ctx, (int)map, key, val);
}

static int t_add(void *ctx, unsigned map, const void *key, int64_t delta, int64_t *out)
{
	return map_value_add(ctx, (int)map, key, delta, out);
}

void lang_target_env_ops(struct lang_env_ops *ops)
{
	ops->map_get = t_get;
	ops->map_set = t_set;
	ops->map_agg = t_agg;
	ops->map_del = t_del;
	ops->map_add = t_add;
	ops->map_take = t_take;
}

/* ---- the tracer: merge into the store ------------------------------------------------ */

struct read_ctx {
	struct lang_store *s;
	unsigned map;
	struct store_entry *raw; /* additive maps: the target's value, before its baseline */
};

static int read_one(const void *key, const struct map_value *v, void *ctx)
{
	struct read_ctx *rc = ctx;
	struct store_entry *e = rc->raw ? rc->raw : store_lookup(rc->s, rc->map, key, true);
	if (!e)
		return -ENOMEM;
	const struct store_map *m = &rc->s->maps[rc->map];
	if (rc->raw)
		memset(rc->raw, 0, sizeof(*rc->raw) + m->nbuckets * sizeof(rc->raw->buckets[0]));
	switch (m->info->kind) {
	case MK_COUNT:
		e->a = (int64_t)v->count;
		break;
	case MK_SUM:
		e->a = v->sum;
		break;
	case MK_MIN:
		e->a = v->min;
		break;
	case MK_MAX:
		e->a = v->max;
		break;
	case MK_AVG:
	case MK_STATS:
		e->a = (int64_t)v->count;
		e->b = v->sum;
		break;
	case MK_HIST:
	case MK_LHIST:
		for (uint32_t i = 0; i < v->n_buckets && i < m->nbuckets; i++)
			e->buckets[i] = v->buckets[i];
		break;
	case MK_STR: /* the target wrote it: ends at its last byte whatever it holds */
		memcpy(e->str, v->bytes, LANG_STRLEN);
		e->str[LANG_STRLEN - 1] = 0;
		break;
	default:
		e->a = v->value;
	}
	e->init = true;
	return rc->raw ? store_put_read(rc->s, rc->map, key, rc->raw) : 0;
}

/*
 * min() and max(): the store keeps what the reads folded in since the last
 * clear() or zero() (store.c's min/max of them); each read takes the period
 * that just ended from the region (map_read_period), so an update is folded
 * once, before or after a clear(), never lost between a print and a clear.
 * Keys no shard holds any more (delete() in the target) go.
 */
struct period_ctx {
	struct lang_store *s;
	unsigned map;
	uint32_t reads;
	int err;
};

static int read_period_one(const void *key, const struct map_value *v, void *ctx)
{
	struct period_ctx *pc = ctx;
	struct store_map *m = &pc->s->maps[pc->map];
	struct store_entry *e = store_lookup(pc->s, pc->map, key, v->count != 0);
	if (!e)
		return v->count ? -ENOMEM : 0; /* cleared, no update since: stays hidden */
	e->seen = pc->reads;
	if (v->count) {
		int64_t x = m->info->kind == MK_MIN ? v->min : v->max;
		if (!e->init || (m->info->kind == MK_MIN ? x < e->a : x > e->a))
			e->a = x;
		e->init = true;
	}
	return 0;
}

static int read_period(struct map_region *r, struct lang_store *s, unsigned map)
{
	struct store_map *m = &s->maps[map];
	struct period_ctx pc = {s, map, ++m->reads, 0};
	m->fresh = true;
	int err = map_read_period(r, (int)map, read_period_one, &pc);
	if (err)
		return err;
	for (bool again = true; again;) { /* a delete moves the cluster after it */
		again = false;
		for (uint32_t i = 0; i < m->cap; i++) {
			struct store_entry *e = m->slots[i];
			if (e && e->seen != pc.reads) {
				store_delete(s, map, e->key);
				again = true;
			}
		}
	}
	return 0;
}

/*
 * The store's map as the region holds it now; additive maps less their
 * baselines (clear() and zero(): store_rebase), the baselines of keys gone
 * from the region (delete() in the target) dropped.
 */
int lang_target_read_map(struct map_region *r, struct lang_store *s, unsigned map)
{
	if (map >= s->nmaps)
		return -EINVAL;
	struct store_map *m = &s->maps[map];
	if (m->info->kind == MK_MIN || m->info->kind == MK_MAX)
		return read_period(r, s, map);
	struct read_ctx rc = {s, map, NULL};
	if (store_additive(m->info->kind)) {
		rc.raw = calloc(1, sizeof(*rc.raw) + m->nbuckets * sizeof(rc.raw->buckets[0]));
		if (!rc.raw)
			return -ENOMEM;
	}
	store_clear(s, map);
	m->reads++;
	m->fresh = true;
	int err = map_read(r, (int)map, read_one, &rc);
	if (!err)
		store_read_done(s, map);
	free(rc.raw);
	return err;
}

int lang_target_read(struct map_region *r, struct lang_store *s)
{
	int err = 0;
	for (unsigned i = 0; i < s->nmaps; i++) {
		int e = lang_target_read_map(r, s, i);
		if (e && !err)
			err = e;
	}
	return err;
}
