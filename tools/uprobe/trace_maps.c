/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: --count, --hist FIELD and --filter computed where the probe
 * hits, in maps (docs/maps.md), when no event is printed. The tracer makes the
 * maps and hands them to every image with SPECS; each probe's handler filters,
 * counts (keyed by the probe's index) and adds to the histogram in its
 * thread's shard, and writes no record. At the end the shards are merged:
 * exact at any hit rate, through thread exits, forks, execs and the death
 * of the traced process (the tracer holds the memory). Updates the maps could
 * not take are counted and said in the summary, even with -q.
 *
 * --hist latency: the return probes' handlers measure the call in TSC ticks
 * (entry and return stamps, as their records would carry) and convert them
 * with the rate measured here over 20 ms against CLOCK_MONOTONIC (the records'
 * clock), within a few ppm of the consumer's conversion.
 *
 * Not through the maps (records, as before): printed events (--format), stacks.
 */
#include <errno.h>
#include <inttypes.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "trace.h"

static const struct {
	const char *op;
	enum trace_filter_op code;
} filter_ops[] = {
	{ "==", TRACE_FILTER_EQ }, { "!=", TRACE_FILTER_NE }, { "<=", TRACE_FILTER_LE },
	{ ">=", TRACE_FILTER_GE }, { "<", TRACE_FILTER_LT },  { ">", TRACE_FILTER_GT },
};

/* A map's id, or -2 after saying why. */
static int define(struct tracer *t, const char *name, enum trace_map_kind kind, uint32_t key_size,
		  uint32_t dense)
{
	struct trace_map_def d = { .sz = sizeof(d), .name = name, .kind = kind,
				   .key_size = key_size, .max_entries = (uint32_t)t->n,
				   .dense = dense };
	int id = trace_maps_define(t->maps, &d);

	if (id < 0)
		return cli_error(-2, "maps: %s", trace_maps_error(t->maps));
	return id;
}

static uint64_t tsc(void)
{
	return cli_ticks();
}

static double mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ns per TSC tick << 32, over 20 ms: each end the narrowest of 5 (rdtsc, clock, rdtsc). */
uint64_t tracer_latency_mult(void)
{
	double ns[2], best[2] = { 1e18, 1e18 };
	uint64_t tk[2] = { 0, 0 };

	for (int end = 0; end < 2; end++) {
		if (end)
			nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
		for (int k = 0; k < 5; k++) {
			uint64_t a = tsc();
			double n = mono_ns();
			uint64_t b = tsc();

			if ((double)(b - a) < best[end]) {
				best[end] = (double)(b - a);
				tk[end] = a + (b - a) / 2;
				ns[end] = n;
			}
		}
	}
	if (tk[1] <= tk[0])
		return 0;
	return (uint64_t)((ns[1] - ns[0]) / (double)(tk[1] - tk[0]) * 4294967296.0);
}

static void aggs_of(const struct tracer *t, struct uprobe_agent_aggs *g)
{
	*g = (struct uprobe_agent_aggs){ .magic = UPROBE_AGENT_AGGS_MAGIC,
					 .count_map = t->map_count,
					 .filtered_map = t->map_filtered, .hist_map = t->map_hist };
	if (t->hist_expr)
		snprintf(g->hist_arg, sizeof(g->hist_arg), "%s", t->hist_expr);
	if (t->hist_expr && !strcmp(t->hist_expr, "latency"))
		g->latency_mult = tracer_latency_mult();
	if (!t->filter.on)
		return;
	snprintf(g->filter_arg, sizeof(g->filter_arg), "%s", t->filter.name);
	g->filter_value = t->filter.value;
	for (size_t i = 0; i < sizeof(filter_ops) / sizeof(filter_ops[0]); i++)
		if (!strcmp(t->filter.op, filter_ops[i].op))
			g->filter_op = filter_ops[i].code;
}

int tracer_maps_setup(struct tracer *t)
{
	struct uprobe_agent_aggs g;

	t->map_count = t->map_filtered = t->map_hist = -1;
	if (t->lang_maps)
		return 0; /* the program's, made and sealed by lang.c */
	if (t->print_events || tracer_stack_on())
		return 0;
	t->maps = trace_maps_new(0);
	if (!t->maps)
		return cli_error(CLI_EXIT_FAIL, "maps: %s", strerror(errno));
	/* Every hit is counted (the summary's events per probe), --count or not. */
	t->map_count = define(t, "events", TRACE_MAP_COUNT, sizeof(uint32_t),
			      t->filter.on || t->hist_expr ? 0
			      : (uint32_t)t->n < TRACE_MAP_MAX_DENSE ? (uint32_t)t->n : TRACE_MAP_MAX_DENSE);
	if (t->map_count >= 0 && t->filter.on)
		t->map_filtered = define(t, "filtered", TRACE_MAP_COUNT, sizeof(uint32_t), 0);
	if (t->map_count >= 0 && t->map_filtered != -2 && t->hist_expr)
		t->map_hist = define(t, "hist", TRACE_MAP_HIST, 0, 0);
	if (t->map_count < 0 || t->map_filtered == -2 || t->map_hist == -2)
		return CLI_EXIT_FAIL; /* said */
	aggs_of(t, &g);
	if (trace_maps_set_blob(t->maps, &g, sizeof(g)) || trace_maps_seal(t->maps))
		return cli_error(CLI_EXIT_FAIL, "maps: %s", trace_maps_error(t->maps));
	return 0;
}

int tracer_maps_fd(const struct tracer *t)
{
	return t->maps ? trace_maps_fd(t->maps) : -1;
}

struct collect {
	struct tracer *t;
	uint64_t *into; /* per probe */
	uint64_t *total;
};

/* A count per probe: the key is the probe's index (checked: the target wrote it). */
static int per_probe(const void *key, const struct trace_map_value *v, void *ctx)
{
	struct collect *c = ctx;
	uint32_t i;

	memcpy(&i, key, sizeof(i));
	if (i >= (uint32_t)c->t->n) {
		c->t->map_corrupt++;
		return 0;
	}
	if (c->into)
		c->into[i] += v->count;
	if (c->total)
		*c->total += v->count;
	return 0;
}

static int hist_buckets(const void *key, const struct trace_map_value *v, void *ctx)
{
	struct tracer *t = ctx;

	(void)key;
	for (uint32_t b = 0; b < v->n_buckets; b++)
		if (v->buckets[b])
			trace_agg_hist_add_bucket(t->hist, b, v->buckets[b]);
	return 0;
}

static void map_stats(struct tracer *t, int id)
{
	struct trace_map_stats st = { .sz = sizeof(st) };

	if (id < 0 || trace_maps_stats(t->maps, id, &st))
		return;
	t->map_dropped += st.dropped_full + st.dropped_shard + st.dropped_nested;
	t->map_corrupt += st.corrupt;
}

void tracer_maps_collect(struct tracer *t)
{
	struct collect c = { .t = t, .into = t->events };
	int ids[3] = { t->map_count, t->map_filtered, t->map_hist };

	if (!t->maps)
		return;
	for (int id = 0; id < t->lang_maps; id++)
		map_stats(t, id); /* the program's maps: lang.c prints them */
	if (t->map_count >= 0)
		trace_maps_read(t->maps, t->map_count, per_probe, &c);
	if (t->map_filtered >= 0) {
		c = (struct collect){ .t = t, .total = &t->filtered };
		trace_maps_read(t->maps, t->map_filtered, per_probe, &c);
	}
	if (t->map_hist >= 0 && t->hist)
		trace_maps_read(t->maps, t->map_hist, hist_buckets, t);
	for (int k = 0; k < 3; k++)
		map_stats(t, ids[k]);
	t->corrupted |= t->map_corrupt != 0;
}

void tracer_maps_summary(const struct tracer *t, FILE *out, bool quiet)
{
	if (!t->maps)
		return;
	if (t->map_corrupt)
		fprintf(out, "uprobe: %" PRIu64 " map entries impossible (the traced program wrote "
			"into its maps); not counted\n", t->map_corrupt);
	if (!quiet)
		fprintf(out, "  counted in the target (maps): updates dropped: %" PRIu64 "\n",
			t->map_dropped);
	else if (t->map_dropped)
		fprintf(out, "uprobe: map updates dropped (maps full, no free shard, nested): %" PRIu64
			"\n", t->map_dropped);
}
