/* SPDX-License-Identifier: MIT */
/*
 * The public face of maps (uprobes_trace.h, trace_maps_*): the tracer's calls
 * over map.h. A struct trace_maps is a struct map_region; the public kinds,
 * values and statistics are map.h's, checked here to stay so.
 */
#include <errno.h>
#include <stddef.h>

#include "uprobes_trace.h"
#include "trace/map/map.h"

_Static_assert((int)TRACE_MAP_COUNT == (int)MAP_COUNT && (int)TRACE_MAP_LHIST == (int)MAP_LHIST &&
		       (int)TRACE_MAP_VALUE == (int)MAP_VALUE,
	       "public map kinds are map.h's");
_Static_assert(sizeof(struct trace_map_value) == sizeof(struct map_value) &&
		       offsetof(struct trace_map_value, buckets) == offsetof(struct map_value, buckets) &&
		       offsetof(struct trace_map_value, bytes) == offsetof(struct map_value, bytes),
	       "public map values are map.h's");

#define REGION(m) ((struct map_region *)(m))

UPROBE_API struct trace_maps *trace_maps_new(unsigned int n_shards)
{
	struct map_region_opts o = { .sz = sizeof(o), .n_shards = n_shards };

	return (struct trace_maps *)map_region_create(&o);
}

UPROBE_API int trace_maps_define(struct trace_maps *m, const struct trace_map_def *def)
{
	struct map_def d;

	if (!def || def->sz < offsetof(struct trace_map_def, lhist_step) + sizeof(int64_t))
		return -EINVAL;
	d = (struct map_def){ .name = def->name, .kind = (enum map_kind)def->kind,
			      .key_size = def->key_size, .max_entries = def->max_entries,
			      .lhist_min = def->lhist_min, .lhist_max = def->lhist_max,
			      .lhist_step = def->lhist_step };
	if (def->sz >= offsetof(struct trace_map_def, dense) + sizeof(def->dense))
		d.dense = def->dense;
	return map_define(REGION(m), &d);
}

UPROBE_API int trace_maps_set_blob(struct trace_maps *m, const void *data, size_t len)
{
	return map_region_set_blob(REGION(m), data, len);
}

UPROBE_API int trace_maps_seal(struct trace_maps *m)
{
	return map_region_seal(REGION(m));
}

UPROBE_API int trace_maps_fd(const struct trace_maps *m)
{
	return map_region_fd((const struct map_region *)m);
}

UPROBE_API const char *trace_maps_error(const struct trace_maps *m)
{
	return map_region_error((const struct map_region *)m);
}

UPROBE_API int trace_maps_read(struct trace_maps *m, int id,
			       int (*cb)(const void *key, const struct trace_map_value *v,
					 void *ctx),
			       void *ctx)
{
	return map_read(REGION(m), id, (map_read_cb)cb, ctx);
}

UPROBE_API int trace_maps_stats(struct trace_maps *m, int id, struct trace_map_stats *st)
{
	struct map_stats s;
	int err;

	if (!st || st->sz < sizeof(*st))
		return -EINVAL;
	err = map_stats_get(REGION(m), id, &s);
	if (err)
		return err;
	*st = (struct trace_map_stats){ .sz = sizeof(*st), .dropped_full = s.dropped_full,
					.dropped_shard = s.dropped_shard,
					.dropped_nested = s.dropped_nested, .corrupt = s.corrupt,
					.entries = s.entries };
	return 0;
}

UPROBE_API int trace_maps_clear(struct trace_maps *m, int id)
{
	return map_clear(REGION(m), id);
}

UPROBE_API int trace_maps_zero(struct trace_maps *m, int id)
{
	return map_zero(REGION(m), id);
}

UPROBE_API void trace_maps_free(struct trace_maps *m)
{
	map_region_free(REGION(m));
}
