/* SPDX-License-Identifier: MIT */
/*
 * The common shapes of a probe (struct plan_fast, recognized by shape.c) run
 * in the target straight on the region's maps (hot path, inline). The
 * handler reads the shape's builtins itself, only those (lang_fast_key,
 * lang_fast_val: one each, an enum lang_builtin or PF_NO), then calls
 * lang_fast_run: no struct lang_env (about 200 bytes zeroed per hit, a
 * rep stos that was 70% of a count hit's cycles in the handler), no ops
 * table, no interpreter frame, no key serialization.
 *
 * The map operations are plan_eval's fast paths' (eval.c) through the
 * target's ops (target.c), in the same order, with the same keys and values:
 *
 *   PF_AGG  map_agg_update(@m, k, v)            count(): map_agg_count(@m, k)
 *   PF_SET  map_value_set(@m, k, v)
 *   PF_LAT  map_value_take(@s, k) -> start; start != 0:
 *           map_agg_update(@m, -, v - start)    (take: the get and the delete at once)
 *
 * A tid-owned value map (plan_fast.owned: @start[tid], every writer of
 * @start writes it with key tid, shape.c) takes map_value_set_own and
 * map_value_take_own: the same words stored, without the CAS that guards
 * against other writers of the key (map.h says why there are none).
 *
 * One difference, PF_LAT's value (nsecs) is read once, before the take
 * rather than after it: the same clock read a few instructions earlier.
 *
 * An aggregation that is a hist() takes map_agg_hist (the bucket's word at
 * the key's home slot, a leaf, as map_agg_count), the same words written as
 * map_agg_update. The latency idiom's own two probes (plan_fast.tidns: the
 * tid-owned start map, key tid, value nsecs) take lang_fast_tidns: the
 * handler reads tid and the clock and nothing else, no builtin dispatch.
 */
#ifndef UPROBES_LANG_FAST_H
#define UPROBES_LANG_FAST_H

#include "lang/program.h"
#include "trace/map/map.h"

/*
 * count() with or without a key (PF_AGG without a value, shape.c): the
 * handler reads the key alone, and no value, and calls lang_fast_run.
 */
static inline bool lang_fast_is_count(const struct plan_fast *f)
{
	return f->kind == PF_AGG && f->val == PF_NO;
}

/* An aggregation's update of probe f (PF_AGG with a value, PF_LAT): hist() by its leaf. */
static inline __attribute__((always_inline)) void
lang_fast_agg(const struct plan_fast *f, struct map_region *r, const uint64_t *key, int64_t v)
{
	if (f->agg == MK_HIST)
		map_agg_hist(r, f->map, key, v);
	else
		map_agg_update(r, f->map, key, v);
}

/*
 * A probe of plan_fast.tidns (PF_SET: `@s[tid] = nsecs`; PF_LAT: the take
 * of @s[tid] and agg(nsecs - start)), its builtins read: the thread's tid
 * and nsecs. Signal-safe.
 */
static inline __attribute__((always_inline)) void
lang_fast_tidns(const struct plan_fast *f, struct map_region *r, uint64_t tid, uint64_t ns)
{
	int64_t start;

	if (f->kind == PF_SET) {
		map_value_set_own(r, f->map, &tid, (int64_t)ns);
		return;
	}
	if (map_value_take_own(r, f->from, &tid, &start) || !start)
		return;
	lang_fast_agg(f, r, &tid, (int64_t)(ns - (uint64_t)start)); /* keyless: not read */
}

/* Probe f of region r's program with its builtins read: key, val (0 for PF_NO). Signal-safe. */
static inline __attribute__((always_inline)) void
lang_fast_run(const struct plan_fast *f, struct map_region *r, uint64_t key, uint64_t val)
{
	int64_t start;

	switch (f->kind) {
	case PF_AGG:
		if (f->val == PF_NO) /* count() */
			map_agg_count(r, f->map, &key);
		else
			lang_fast_agg(f, r, &key, (int64_t)val);
		break;
	case PF_SET:
		if (f->owned)
			map_value_set_own(r, f->map, &key, (int64_t)val);
		else
			map_value_set(r, f->map, &key, (int64_t)val);
		break;
	case PF_LAT:
		if ((f->owned ? map_value_take_own : map_value_take)(r, f->from, &key, &start) ||
		    !start)
			break;
		lang_fast_agg(f, r, &key, (int64_t)(val - (uint64_t)start));
		break;
	default:
		break;
	}
}

#endif
