// SPDX-License-Identifier: MIT
/*
 * The tracer's side of a run whose probes are in a traced process (struct
 * lang_run): BEGIN before tracing, what the probes emit (one ring record per
 * printf, print, clear, zero, exit: struct lang_emit_rec, hit.c) performed in
 * the order read, interval probes at their periods while tracing, END and the
 * maps at the end.
 *
 * The maps live in the region (target.c); the tracer keeps a store that is a
 * merged copy of them. Plans run here (BEGIN, interval, END) read the store
 * (merged before each run) and write both: the region (the hot-path calls,
 * which the tracer may make too: it owns a shard of its own) and the store,
 * so that their writes stay and the rest of the plan sees them.
 *
 *   print(@m)   the map merged from the region again, then printed
 *   clear(@m)   count sum avg stats hist lhist: a baseline per key in the store,
 *   zero(@m)    shown as value - baseline (store_rebase), the region untouched;
 *               min max and value maps: map_clear / map_zero, the region's
 *               generation moves on, every thread's shard reset by its writer
 *               at its next update (docs/maps.md)
 *   exit()      the run is over: what comes after it is not performed
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lang/hit.h"
#include "lang/store.h"
#include "trace/map/map.h"

struct lang_run {
	struct lang_program *p;
	struct map_region *region;
	struct lang_store *store;
	struct lang_ustacks *ustacks; /* ustack keys' frames and names (ustack.c), opened to print */
	FILE *out;
	bool json, exited, ticking;
	int waited; /* records performed that a thread waits on (print/clear/zero) */
	uint64_t start_ns; /* BEGIN; then the first tick (intervals count from tracing's start) */
	uint64_t next[LANG_MAX_ATTACH]; /* interval attach points' next deadlines, in order */
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- the maps: the store read, the region and the store written -------------------- */

static struct lang_env_ops store_ops, region_ops;

static int s_get(void *ctx, unsigned m, const void *k, void *v)
{
	return store_ops.map_get(((struct lang_run *)ctx)->store, m, k, v);
}

static int s_set(void *ctx, unsigned m, const void *k, const void *v)
{
	struct lang_run *r = ctx;
	region_ops.map_set(r->region, m, k, v);
	return store_ops.map_set(r->store, m, k, v);
}

static int s_agg(void *ctx, unsigned m, const void *k, enum lang_map_kind kind, int64_t v)
{
	struct lang_run *r = ctx;
	region_ops.map_agg(r->region, m, k, kind, v);
	return store_ops.map_agg(r->store, m, k, kind, v);
}

static int s_del(void *ctx, unsigned m, const void *k)
{
	struct lang_run *r = ctx;
	region_ops.map_del(r->region, m, k);
	return store_ops.map_del(r->store, m, k);
}

static int s_add(void *ctx, unsigned m, const void *k, int64_t d, int64_t *out)
{
	struct lang_run *r = ctx;
	int err = region_ops.map_add(r->region, m, k, d, out);
	if (err)
		return store_ops.map_add(r->store, m, k, d, out);
	return store_ops.map_set(r->store, m, k, out);
}

/* ---- emits ------------------------------------------------------------------------------- */

/*
 * ustack keys are named from the stack table and the mappings the agents left
 * in it: opened at the first print (the agents are in by then) and again at
 * the end (for processes that came later).
 */
static void ustacks_open(struct lang_run *r)
{
	if (!r->p->stacks)
		return;
	lang_ustacks_close(r->ustacks);
	r->ustacks = lang_ustacks_open(r->p);
	for (uint32_t i = 0; i < r->store->nmaps; i++)
		r->store->maps[i].ustacks = r->ustacks;
}

/*
 * clear() and zero(). Additive maps: a baseline in the store, the target's
 * tables untouched, so that no hit is lost between the read print showed and
 * the reset (store_rebase); read first when nothing read them since the last
 * reset. min() max() and value maps: the region's generation moves on
 * (map_clear, map_zero); updates between the last read and then are lost.
 */
static int reset_map(struct lang_run *r, uint32_t id, bool clear)
{
	struct store_map *m = &r->store->maps[id];
	if (store_additive(m->info->kind)) {
		if (!m->fresh)
			lang_target_read_map(r->region, r->store, id);
		return store_rebase(r->store, id, clear);
	}
	if (m->info->kind == MK_MIN || m->info->kind == MK_MAX) {
		/* what the reads folded is the map: the region's periods go on */
		if (!m->fresh)
			lang_target_read_map(r->region, r->store, id);
		(clear ? store_clear : store_zero)(r->store, id);
		m->fresh = false;
		return 0;
	}
	if (clear) {
		map_clear(r->region, (int)id);
		store_clear(r->store, id);
	} else {
		map_zero(r->region, (int)id);
		store_zero(r->store, id);
	}
	return 0;
}

static int run_emit(void *ctx, enum lang_emit what, uint32_t id, int64_t imm, const void *data,
		    uint32_t len)
{
	struct lang_run *r = ctx;
	if (r->exited)
		return 0; /* bpftrace performs nothing after exit() */
	if (what != EMIT_PRINTF && what != EMIT_VALUE && what != EMIT_EXIT && id >= r->store->nmaps)
		return -EINVAL;
	switch (what) {
	case EMIT_PRINTF:
		if (!r->ustacks && (uint64_t)imm >> PRINTF_USTACK & 0xff)
			ustacks_open(r);
		print_emit_printf(&r->p->plan, id, imm, data, len, r->json, r->ustacks,
				  &r->p->probe_names, r->out);
		break;
	case EMIT_VALUE:
		if (!r->ustacks && imm & VALUE_USTACK)
			ustacks_open(r);
		print_emit_value(imm, data, len, r->json, r->ustacks, &r->p->probe_names, r->out);
		break;
	case EMIT_PRINT:
		if (!r->ustacks)
			ustacks_open(r);
		lang_target_read_map(r->region, r->store, id);
		(r->json ? print_map_json : print_map)(
			r->store, id, (uint32_t)((uint64_t)imm >> 32), (uint32_t)imm, r->out);
		break;
	case EMIT_CLEAR:
	case EMIT_ZERO:
		return reset_map(r, id, what == EMIT_CLEAR);
	case EMIT_EXIT:
		r->exited = true;
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

/* Strings in the tracer: no user memory to read (str() of an address in BEGIN). */
static long run_read_str(void *ctx, uint64_t addr, char *dst, uint32_t len)
{
	(void)ctx, (void)addr, (void)len;
	dst[0] = 0;
	return -EFAULT;
}

static const struct lang_env_ops run_ops = {s_get, s_set,    s_agg,	  s_del,
					    s_add, run_emit, run_read_str, NULL};

/* ---- probes run here --------------------------------------------------------------------- */

/* Probe i's plan for attach point a, on the maps merged now. */
static void run_one(struct lang_run *r, int i, int a)
{
	const struct lang_checked *ck = &r->p->checked;
	uint64_t t = now_ns();
	lang_target_read(r->region, r->store);
	struct lang_env env = {
		.ops = &run_ops,
		.ctx = r,
		.pid = (uint64_t)getpid(),
		.tid = (uint64_t)gettid(),
		.nsecs = t,
		.elapsed = t - r->start_ns,
		.cpu = (uint64_t)sched_getcpu(),
		.uid = getuid(),
		.gid = getgid(),
		.comm = "uprobe",
		.probe = ck->probes[i].at[a].text,
		.probe_id = lang_probe_attach_id(r->p, i, a),
	};
	plan_eval(&r->p->plan, (uint32_t)i, &env);
}

static void run_kind(struct lang_run *r, enum lang_probe_kind kind)
{
	const struct lang_checked *ck = &r->p->checked;
	for (int i = 0; i < ck->nprobes && !r->exited; i++)
		for (int a = 0; a < ck->probes[i].nat && !r->exited; a++)
			if (ck->probes[i].at[a].kind == kind)
				run_one(r, i, a);
}

struct lang_run *lang_run_new(struct lang_program *p, struct trace_maps *m, int n,
			      enum lang_output fmt, FILE *out)
{
	if (!p->compiled || !m) {
		errno = EINVAL;
		return NULL;
	}
	struct lang_run *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	*r = (struct lang_run){.p = p,
			       .region = (struct map_region *)m,
			       .out = out,
			       .json = fmt == LANG_OUT_JSON,
			       .start_ns = now_ns()};
	r->store = store_new(&p->checked, &p->plan);
	for (uint32_t k = 0; r->store && k < r->store->nmaps; k++)
		r->store->maps[k].probes = &p->probe_names; /* probe keys' names */
	if (r && r->store)
		r->store->probes = &p->probe_names;
	if (!r->store) {
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	store_env_ops(&store_ops);
	lang_target_env_ops(&region_ops);
	/* "Attaching N probes...": the probe lines, and BEGIN, END, interval here */
	const struct lang_checked *ck = &p->checked;
	for (int i = 0; i < ck->nprobes; i++)
		for (int a = 0; a < ck->probes[i].nat; a++)
			n += ck->probes[i].at[a].kind == P_BEGIN ||
			     ck->probes[i].at[a].kind == P_END ||
			     ck->probes[i].at[a].kind == P_INTERVAL;
	if (r->json)
		fprintf(out, "{\"type\": \"attached_probes\", \"data\": {\"probes\": %d}}\n", n);
	else
		fprintf(out, "Attaching %d probe%s...\n", n, n == 1 ? "" : "s");
	run_kind(r, P_BEGIN);
	fflush(out);
	return r;
}

int lang_run_record(struct lang_run *r, const void *data, size_t len)
{
	struct lang_emit_rec e;
	if (len < sizeof(e))
		return -EINVAL;
	memcpy(&e, data, sizeof(e)); /* the record is the tracer's copy: read once */
	if (e.len > LANG_EMIT_MAX || e.len > len - sizeof(e))
		return -EINVAL;
	r->waited += e.what == EMIT_PRINT || e.what == EMIT_CLEAR || e.what == EMIT_ZERO;
	return run_emit(r, (enum lang_emit)e.what, e.id, e.imm, (const uint8_t *)data + sizeof(e),
			e.len);
}

int lang_run_waited(struct lang_run *r)
{
	int n = r->waited;
	r->waited = 0;
	return n;
}

int lang_run_tick(struct lang_run *r)
{
	const struct lang_checked *ck = &r->p->checked;
	uint64_t now = now_ns(), soonest = UINT64_MAX;
	int k = 0;
	if (!r->ticking)
		r->start_ns = now;
	r->ticking = true;
	for (int i = 0; i < ck->nprobes && !r->exited; i++) {
		for (int a = 0; a < ck->probes[i].nat && k < LANG_MAX_ATTACH; a++) {
			const struct lang_attach *at = &ck->probes[i].at[a];
			if (at->kind != P_INTERVAL)
				continue;
			if (!r->next[k])
				r->next[k] = r->start_ns + at->interval_ns;
			if (r->next[k] <= now && !r->exited) {
				run_one(r, i, a);
				/* absolute deadlines; a late tick runs once */
				while (r->next[k] <= now)
					r->next[k] += at->interval_ns;
			}
			if (r->next[k] < soonest)
				soonest = r->next[k];
			k++;
		}
	}
	fflush(r->out);
	if (soonest == UINT64_MAX || r->exited)
		return -1;
	now = now_ns();
	return soonest > now ? (int)((soonest - now) / 1000000) : 0;
}

int lang_run_exited(const struct lang_run *r)
{
	return r->exited;
}

uint64_t lang_run_unwound(struct lang_run *r)
{
	return lang_target_unwound(r->region, r->store->nmaps);
}

void lang_run_free(struct lang_run *r)
{
	if (!r)
		return;
	lang_ustacks_close(r->ustacks);
	store_free(r->store);
	free(r);
}

int lang_run_end(struct lang_run *r, uint64_t *faults)
{
	int err = lang_target_read(r->region, r->store);
	if (faults)
		*faults = lang_target_faults(r->region, r->store->nmaps);
	r->exited = false; /* END runs after exit(), and prints */
	run_kind(r, P_END);
	/* END's print() merged its maps again; every map merged for the last time */
	lang_target_read(r->region, r->store);
	ustacks_open(r);
	(r->json ? print_all_maps_json : print_all_maps)(r->store, r->out);
	fflush(r->out);
	lang_ustacks_report(r->ustacks, stderr);
	lang_run_free(r);
	return err;
}
