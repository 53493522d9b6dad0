/* SPDX-License-Identifier: MIT */
/*
 * trace/session — the top of trace/, in the traced process: a session owns
 * the rings (transport); an event is one parsed spec (spec) attached as a
 * probe of this process (core, uprobes.h) whose handlers evaluate the spec's
 * fetch-args into records (fetch). The API is public (uprobes_trace.h:
 * trace_session_*, trace_event_*); the agent is its user.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/batch.h"
#include "sym/maps.h"
#include "trace/fetch/fetch.h"
#include "trace/session/session.h"
#include "util/log.h"
#include "util/pool.h"

struct trace_session {
	struct trace_rings *rings;
	int recording; /* see trace_session_record() */
	pthread_mutex_t lock;
	struct trace_event *events; /* list, newest first */
};

struct trace_event {
	struct fetch_event hot; /* the handlers' ctx: first, on a line (event_new) */
	struct trace_session *session;
	struct trace_event *next;
	struct uprobe *probe;
	struct fetch_plan *plan;
	uint16_t *semaphore;	/* USDT reference counter, or NULL */
	uint64_t *skipped_counter; /* trace_event_opts.skipped_counter */
	int attached;
	/*
	 * TRACE_BATCH_PAIR: the event whose probe this one shares (each names
	 * the other), or NULL; shared: the probe is the partner's (the entry's).
	 */
	struct trace_event *partner;
	bool shared;
	bool ret; /* a return probe's event (TRACE_RETPROBE) */
	/*
	 * A count-only entry's word in its thread's shard (map_dense_slot), 0:
	 * none: the probe asks for the count stub, enabled while recording.
	 */
	uint64_t count_slot;
};

struct trace_rings *trace_session_rings(struct trace_session *s)
{
	return s ? s->rings : NULL;
}

UPROBE_API struct trace_session *trace_session_new(const struct trace_session_opts *opts)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned int n_rings = cpus > 3 ? 2 * (unsigned int)cpus + 1 : 8;
	size_t ring_bytes = 1u << 20;
	struct trace_session *s;

	if (opts && opts->sz < offsetof(struct trace_session_opts, ring_bytes) + sizeof(size_t)) {
		log_error(EINVAL, "trace_session_opts: sz %zu too small", opts->sz);
		errno = EINVAL;
		return NULL;
	}
	if (opts && opts->n_rings)
		n_rings = opts->n_rings;
	if (opts && opts->ring_bytes)
		ring_bytes = opts->ring_bytes;
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->recording = 1;
	s->rings = trace_rings_new(n_rings, ring_bytes);
	if (!s->rings) {
		int err = errno;

		log_error(err, "cannot create %u rings of %zu bytes", n_rings, ring_bytes);
		free(s);
		errno = err;
		return NULL;
	}
	pthread_mutex_init(&s->lock, NULL);
	return s;
}

UPROBE_API void trace_session_free(struct trace_session *s)
{
	struct trace_event *ev, *next;

	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	ev = s->events;
	s->events = NULL;
	pthread_mutex_unlock(&s->lock);
	for (; ev; ev = next) {
		next = ev->next;
		ev->session = NULL;
		trace_event_free(ev);
	}
	trace_rings_free(s->rings);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

UPROBE_API int trace_session_fd(const struct trace_session *s)
{
	return s ? trace_rings_fd(s->rings) : -EINVAL;
}

/*
 * "libc", "c", "libc.so.6" or "python3.11": the loaded file of that name,
 * as the dynamic loader found it for this process (its mappings). A name
 * with a '/' is a path and used as is.
 */
static int path_in_maps(const struct maps_entry *m, int n, const char *name, char *out,
			size_t len)
{
	for (int i = 0; i < n; i++) {
		const char *base = strrchr(m[i].path, '/');

		if (m[i].path[0] != '/' || !strchr(m[i].perms, 'x') || !base)
			continue;
		if (maps_short_name(base + 1, name)) {
			snprintf(out, len, "%s", m[i].path);
			return 0;
		}
	}
	return -ENOENT;
}

static int resolve_path(const char *name, char *out, size_t len)
{
	struct maps_entry *m;
	bool borrowed;
	int n, ret;

	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return 0;
	}
	/*
	 * In a batch (trace_event_attach_many), the reading its symbol lookups
	 * use next (one /proc/self/maps read per image less); a library loaded
	 * since that reading is looked for in a new one.
	 */
	n = maps_read_batched(&m, &borrowed);
	if (n < 0)
		return log_error(n, "cannot read /proc/self/maps");
	ret = path_in_maps(m, n, name, out, len);
	if (borrowed && ret) {
		n = maps_read(&m);
		if (n < 0)
			return log_error(n, "cannot read /proc/self/maps");
		borrowed = false;
		ret = path_in_maps(m, n, name, out, len);
	}
	if (!borrowed)
		free(m);
	if (ret)
		return log_error(ret, "'%s': no loaded executable or library of that name", name);
	return 0;
}

static void location_of(const struct trace_spec *spec, char *buf, size_t len)
{
	if (!spec->symbol)
		snprintf(buf, len, "0x%" PRIx64, spec->offset);
	else if (spec->offset)
		snprintf(buf, len, "%s+0x%" PRIx64, spec->symbol, spec->offset);
	else
		snprintf(buf, len, "%s", spec->symbol);
}

/*
 * UPROBE_COUNT_STUB=off: count-only events keep the handler's path (for
 * side-by-side measurement, and for tests of what only that path does: a
 * hit in a signal handler that interrupted the handler is skipped, counted
 * as such; the stub has no handler to interrupt and counts it).
 */
static bool count_stub_allowed(void)
{
	const char *v = getenv("UPROBE_COUNT_STUB");

	return !v || strcmp(v, "off");
}

/* The probe of ev, at path:loc. */
static void probe_spec_of(struct trace_event *ev, const struct trace_spec *spec, const char *path,
			  const char *loc, unsigned int flags, struct uprobe_spec *u)
{
	*u = (struct uprobe_spec){
		.path = path, .location = loc, .ctx = &ev->hot,
		.flags = flags | UPROBE_F_HANDLER_NO_SIMD,
	};
	/* The handlers read regs->rflags only for a %flags fetch-arg (trace_event_agg.run:
	 * never, uprobes_trace.h): otherwise a function entry's hit skips pushfq/popfq. */
	if (!fetch_plan_reads_flags(ev->plan))
		u->flags |= UPROBE_F_HANDLER_NO_FLAGS;
	if (spec->kind == TRACE_RETPROBE) {
		/* A program's return probe (agg.run: lang/hit.c) never reads the entry's TSC:
		 * no entry handler, no rdtsc (~11 ns) per call. */
		u->handler = ev->hot.agg && ev->hot.agg->run ? NULL : fetch_stamp_handler;
		u->ret_handler = fetch_run_only(ev->hot.agg, ev->plan) ? fetch_run_return_handler
								       : fetch_return_handler;
	} else {
		u->handler = fetch_count_only(ev->hot.agg)	     ? fetch_count_handler
			     : fetch_run_only(ev->hot.agg, ev->plan) ? fetch_run_handler
								     : fetch_entry_handler;
	}
	/*
	 * Its count in the stub (uprobe_count_enable: trace_session_record):
	 * only where the region's count map has a dense word for its key, which
	 * the agent asked for (map_region_count_claim); else no stub, whose
	 * miss path every hit would pay.
	 */
	ev->count_slot = 0;
	if (u->handler == fetch_count_handler && (u->flags & UPROBE_F_HANDLER_NO_FLAGS) &&
	    count_stub_allowed())
		ev->count_slot = map_dense_slot(ev->hot.agg->maps, ev->hot.agg->count_map,
						ev->hot.agg->key);
	if (ev->count_slot)
		u->flags |= UPROBE_F_COUNT_STUB;
}

static int attach_probe(struct trace_event *ev, const struct trace_spec *spec, const char *path,
			const char *loc, unsigned int flags)
{
	struct uprobe_opts o = { .sz = sizeof(o), .skipped_counter = ev->skipped_counter };
	struct uprobe_spec u;

	probe_spec_of(ev, spec, path, loc, flags, &u);
	o.handler = u.handler;
	o.ret_handler = u.ret_handler;
	o.ctx = u.ctx;
	o.flags = u.flags;
	ev->probe = uprobe_attach(path, loc, &o);
	return ev->probe ? 0 : -errno;
}

/* USDT: the semaphore counts tracers; *_ENABLED() code runs while it is non-zero. */
static int semaphore_get(struct trace_event *ev, const struct trace_spec *spec, const char *path,
			 const struct uprobe_info *info)
{
	uint64_t addr;

	if (!spec->has_ref_ctr)
		return 0;
	if (fetch_file_off_addr(path, info->addr, info->file_offset, spec->ref_ctr_offset, &addr))
		return log_error(EINVAL, "(0x%" PRIx64 "): reference counter offset not in %s",
				 spec->ref_ctr_offset, path);
	ev->semaphore = (uint16_t *)(uintptr_t)addr;
	__atomic_fetch_add(ev->semaphore, 1, __ATOMIC_RELAXED);
	return 0;
}

/*
 * Everything of ev but its probe: the file found (into path), the location
 * (into loc, 256 bytes) found (its instruction is analysed as the probe goes
 * in), the fetch plan compiled, the USDT semaphore raised.
 */
static int event_prepare(struct trace_event *ev, const struct trace_spec *spec, uint32_t id,
			 unsigned int flags, char path[PATH_MAX], char loc[256])
{
	struct uprobe_info info = { .sz = sizeof(info) };
	int ret;

	if (spec->kind == TRACE_DELETE)
		return log_error(-EINVAL, "'-:%s/%s' deletes an event; nothing to attach",
				 spec->group, spec->event);
	if (spec->sdt_name) /* its args are not known yet: a consumer could not lay them out */
		return log_error(EINVAL, "SDT marker %s:%s: resolve it into probes first "
				 "(trace_spec_resolve_sdt)", spec->sdt_provider, spec->sdt_name);
	ret = resolve_path(spec->path, path, PATH_MAX);
	if (ret)
		return ret;
	location_of(spec, loc, 256);
	ret = core_locate(path, loc, flags, &info.addr, &info.file_offset);
	if (ret)
		return log_report(ret);
	ev->plan = fetch_compile(spec, info.addr, path, info.file_offset);
	if (!ev->plan)
		return -errno;
	ev->hot.plan = ev->plan;
	ev->hot.id = id;
	ev->ret = spec->kind == TRACE_RETPROBE;
	return semaphore_get(ev, spec, path, &info);
}

static int event_setup(struct trace_event *ev, const struct trace_spec *spec, uint32_t id,
		       unsigned int flags)
{
	char path[PATH_MAX], loc[256];
	int ret = event_prepare(ev, spec, id, flags, path, loc);

	return ret ? ret : attach_probe(ev, spec, path, loc, flags);
}

UPROBE_API struct trace_event *trace_event_attach(struct trace_session *s,
						  const struct trace_spec *spec, uint32_t id)
{
	return trace_event_attach_opts(s, spec, id, NULL);
}

/* Aggregate in the target: the handlers update maps instead of writing records. */
static void set_agg(struct trace_event *ev, const struct trace_event_agg *a)
{
	ev->hot.agg_store = (struct fetch_agg){
		.maps = (struct map_region *)a->maps, .count_map = a->count_map,
		.filtered_map = a->filtered_map, .hist_map = a->hist_map, .hist_arg = a->hist_arg,
		.filter_arg = a->filter_arg, .filter_op = a->filter_op,
		.filter_value = a->filter_value, .key = a->key, .latency_mult = a->latency_mult,
		.run = a->run, .run_ctx = a->run_ctx,
	};
	if (a->maps && a->count_map >= 0)
		ev->hot.agg_store.count_hash = map_agg_key_hash(ev->hot.agg_store.maps, a->count_map,
								&ev->hot.agg_store.key);
	ev->hot.agg = a->maps ? &ev->hot.agg_store : NULL;
}

#define EVENT_OPTS_MIN_SZ offsetof(struct trace_event_opts, skipped_counter) /* an older caller's */
#define BATCH_OPTS_MIN_SZ offsetof(struct trace_event_batch_opts, flags)

/* Events come from a pool (util/pool.h): 10,000 of them were ~1,000 page faults. */
static struct pool event_pool = POOL_INIT(sizeof(struct trace_event));

/* A new event of s with opts (checked), not attached, in no list. */
static struct trace_event *event_new(struct trace_session *s, const struct trace_event_opts *opts)
{
	struct trace_event *ev = pool_alloc(&event_pool); /* zeroed, on a line of its own */

	if (!ev)
		return NULL;
	ev->session = s;
	ev->hot.rings = s->rings;
	ev->hot.recording = &s->recording;
	if (opts && opts->sz >= offsetof(struct trace_event_opts, skipped_counter) +
					sizeof(opts->skipped_counter))
		ev->skipped_counter = opts->skipped_counter;
	if (opts && opts->sz >= offsetof(struct trace_event_opts, agg) + sizeof(opts->agg) &&
	    opts->agg)
		set_agg(ev, opts->agg);
	return ev;
}

/* An event that could not be attached: undone (its semaphore back down) and freed. */
static void event_drop(struct trace_event *ev)
{
	ev->session = NULL;
	trace_event_free(ev);
}

/* ev, attached, joins its session's list. */
static void event_publish(struct trace_event *ev)
{
	struct trace_session *s = ev->session;

	ev->attached = 1;
	pthread_mutex_lock(&s->lock);
	ev->next = s->events;
	s->events = ev;
	pthread_mutex_unlock(&s->lock);
}

UPROBE_API struct trace_event *trace_event_attach_opts(struct trace_session *s,
						       const struct trace_spec *spec, uint32_t id,
						       const struct trace_event_opts *opts)
{
	struct trace_event *ev;
	int ret;

	if (!s || !spec || (opts && opts->sz < EVENT_OPTS_MIN_SZ)) {
		log_error(-EINVAL, "trace_event_attach: %s", !s ? "no session" : !spec ? "no spec"
							     : "opts->sz too small");
		errno = EINVAL;
		return NULL;
	}
	ev = event_new(s, opts);
	if (!ev)
		return NULL;
	ret = event_setup(ev, spec, id, opts ? opts->flags : 0);
	if (ret) {
		log_error_prefix("%s/%s", spec->group, spec->event);
		event_drop(ev);
		errno = -ret;
		return NULL;
	}
	event_publish(ev);
	return ev;
}

/* ev's probe is out: its USDT semaphore (the count of tracers) goes back down. */
static void event_detached(struct trace_event *ev)
{
	ev->attached = 0;
	if (ev->semaphore)
		__atomic_fetch_sub(ev->semaphore, 1, __ATOMIC_RELAXED);
	ev->semaphore = NULL;
}

/* Detaching either of a pair (trace_event.partner) detaches both: they share the probe. */
UPROBE_API int trace_event_detach(struct trace_event *ev)
{
	int ret;

	if (!ev)
		return -EINVAL;
	if (!ev->attached)
		return -ENOENT;
	ret = uprobe_detach(ev->probe);
	event_detached(ev);
	if (ev->partner && ev->partner->attached)
		event_detached(ev->partner);
	return ret;
}

static void session_unlink(struct trace_event *ev)
{
	struct trace_session *s = ev->session;

	pthread_mutex_lock(&s->lock);
	for (struct trace_event **pp = &s->events; *pp; pp = &(*pp)->next)
		if (*pp == ev) {
			*pp = ev->next;
			break;
		}
	pthread_mutex_unlock(&s->lock);
}

UPROBE_API void trace_event_free(struct trace_event *ev)
{
	if (!ev)
		return;
	if (ev->attached)
		trace_event_detach(ev);
	else if (ev->semaphore)
		__atomic_fetch_sub(ev->semaphore, 1, __ATOMIC_RELAXED);
	if (ev->session)
		session_unlink(ev);
	if (ev->partner) /* the last of the pair frees the probe */
		ev->partner->partner = NULL, ev->partner->shared = false;
	else
		uprobe_free(ev->probe);
	fetch_plan_free(ev->plan);
	pool_free(&event_pool, ev);
}

UPROBE_API struct uprobe *trace_event_probe(const struct trace_event *ev)
{
	return ev ? ev->probe : NULL;
}

UPROBE_API int trace_event_is_return(const struct trace_event *ev)
{
	return ev && ev->ret;
}

UPROBE_API int trace_session_detach(struct trace_session *s)
{
	struct uprobe **probes;
	struct trace_event *ev;
	size_t n = 0;
	int ret;

	if (!s)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	for (ev = s->events; ev; ev = ev->next)
		n += ev->attached && !ev->shared;
	probes = calloc(n ? n : 1, sizeof(*probes));
	if (!probes) {
		pthread_mutex_unlock(&s->lock);
		return -ENOMEM;
	}
	n = 0;
	for (ev = s->events; ev; ev = ev->next)
		if (ev->attached && !ev->shared)
			probes[n++] = ev->probe;
	ret = uprobe_detach_many(probes, n);
	for (ev = s->events; ev; ev = ev->next)
		if (ev->attached)
			event_detached(ev);
	pthread_mutex_unlock(&s->lock);
	free(probes);
	return ret;
}

/*
 * The count stubs of s's events (trace_event.count_slot) on or off at once.
 * Off does not wait (uprobe_count_off_nowait): a signal to every thread
 * would cut short the system calls of the target's sleeping threads, outside
 * the attach's guard that restarts them (cli_attach/sleepers saw EINTR). So a
 * stub may add once more, shortly after: the words are a map region's,
 * which stays mapped for the process's life (map_region_free).
 */
static void count_stubs(struct trace_session *s, bool on)
{
	struct uprobe *probes[64]; /* no malloc: recording may be on (a probe on malloc) */
	uint64_t offs[64];
	size_t n = 0;
	struct trace_event *ev;

	pthread_mutex_lock(&s->lock);
	for (ev = s->events; ev; ev = ev->next) {
		if (ev->attached && ev->count_slot && uprobe_count_stub(ev->probe)) {
			probes[n] = ev->probe;
			offs[n++] = ev->count_slot;
		}
		if (n && (n == 64 || !ev->next)) {
			if (on ? uprobe_count_enable_many(probes, offs, n)
			       : uprobe_count_off_nowait(probes, n))
				log_msg(UPROBE_LOG_WARN, "count stubs: %s", uprobe_last_error());
			n = 0;
		}
	}
	pthread_mutex_unlock(&s->lock);
}

UPROBE_API void trace_session_record(struct trace_session *s, int on)
{
	/* Off: the stubs first, so that no hit counts once recording is off (but one in flight). */
	if (!on)
		count_stubs(s, false);
	__atomic_store_n(&s->recording, !!on, __ATOMIC_RELEASE);
	if (on)
		count_stubs(s, true);
}

/* trace_event_attach_many(): one batch's state. */
#define BATCH_NAME_LEN (2 * TRACE_MAX_EVENT_NAME)

struct event_batch {
	const struct trace_spec *const *specs; /* or NULL: opts->spec_get */
	struct trace_event_batch_opts *opts;
	uint32_t *spec_of;		/* probe k of the core batch is that of spec spec_of[k] */
	uint8_t *told;			/* told[k]: its failure was reported */
	char (*names)[BATCH_NAME_LEN];	/* names[k]: "GROUP/EVENT" of probe k */
	/* TRACE_BATCH_PAIR (else NULL): the core's probe j is probe sel[j] */
	uint32_t *sel;
	uint32_t *owner;		/* owner[k]: k, or the entry whose probe return k shares */
	uint32_t *mate;			/* mate[k]: k, or the return that shares entry k's */
};

/* Spec i (err; its message is uprobe_last_error()) is not attached: tell the caller. */
static void batch_error(struct event_batch *b, uint32_t i, int err, const char *name)
{
	log_error_prefix("%s", name);
	err = err > 0 ? -err : err ? err : -EINVAL; /* some layers return +errno */
	b->opts->failed++;
	if (b->opts->on_error)
		b->opts->on_error(i, err, uprobe_last_error(), b->opts->ctx);
}

/* The core's probe j failed: its event's spec, and the return's that shares it, with its error. */
static void batch_core_error(size_t j, int err, void *ctx)
{
	struct event_batch *b = ctx;
	size_t k = b->sel ? b->sel[j] : j;
	char why[512];

	snprintf(why, sizeof(why), "%s", uprobe_last_error());
	b->told[k] = 1;
	batch_error(b, b->spec_of[k], err, b->names[k]);
	if (b->mate && b->mate[k] != k) {
		k = b->mate[k];
		log_error(0, "%s", why);
		b->told[k] = 1;
		batch_error(b, b->spec_of[k], err, b->names[k]);
	}
}

static const struct trace_spec *batch_spec_get(struct event_batch *b, uint32_t i)
{
	if (b->specs)
		return b->specs[i];
	return b->opts->spec_get ? b->opts->spec_get(i, b->opts->ctx) : NULL;
}

static void batch_spec_put(struct event_batch *b, uint32_t i, const struct trace_spec *spec)
{
	if (!b->specs && b->opts->spec_put)
		b->opts->spec_put(i, spec, b->opts->ctx);
}

/*
 * Spec i's event but its probe (event_prepare), the probe's spec in us[m];
 * false when it failed (reported). Its path is prev (the previous probe's,
 * or NULL) when the same, else a copy.
 */
static bool batch_prepare_one(struct trace_session *s, struct event_batch *b, uint32_t i,
			      const struct trace_spec *spec, struct trace_event **ev_out,
			      struct uprobe_spec *us, const char *prev, char **path_out, char *loc,
			      char *name)
{
	const struct trace_event_opts *eo = b->opts->opts ? &b->opts->opts[i] : NULL;
	unsigned int flags = eo ? eo->flags : 0;
	struct trace_event *ev = NULL;
	char path[PATH_MAX];
	int ret;

	snprintf(name, BATCH_NAME_LEN, "%s/%s", spec->group, spec->event);
	if (eo && eo->sz < EVENT_OPTS_MIN_SZ)
		ret = log_error(EINVAL, "opts[%u].sz too small", i);
	else if (!(ev = event_new(s, eo)))
		ret = log_error(ENOMEM, "out of memory");
	else
		ret = event_prepare(ev, spec, b->opts->first_id + i, flags, path, loc);
	if (!ret && prev && !strcmp(prev, path)) /* the batch's specs: mostly one file */
		*path_out = (char *)prev;
	else if (!ret && !(*path_out = strdup(path)))
		ret = log_error(ENOMEM, "out of memory");
	if (ret) {
		if (ev)
			event_drop(ev);
		batch_error(b, i, ret, name);
		return false;
	}
	*ev_out = ev;
	probe_spec_of(ev, spec, *path_out, loc, flags, us);
	return true;
}

/*
 * Phase 1: every event but its probe, the probe's spec in us[m] for each
 * that is ready. Each spec is held only while its event is prepared.
 * Returns m.
 */
static uint32_t batch_prepare_events(struct trace_session *s, struct event_batch *b, uint32_t n,
				     struct trace_event **events, struct uprobe_spec *us,
				     char **paths, char (*locs)[256])
{
	uint32_t m = 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct trace_spec *spec = batch_spec_get(b, i);

		events[i] = NULL;
		if (!spec)
			continue;
		if (batch_prepare_one(s, b, i, spec, &events[i], &us[m], m ? paths[m - 1] : NULL,
				      &paths[m], locs[m], b->names[m]))
			b->spec_of[m++] = i;
		batch_spec_put(b, i, spec);
	}
	return m;
}

/* batch_pair's order: path, location, flags (the pairs' keys), then k. */
struct pair_key {
	const struct uprobe_spec *u;
	uint32_t k;
	bool ret;
};

static int pair_cmp(const void *a, const void *b)
{
	const struct pair_key *x = a, *y = b;
	int c = strcmp(x->u->path, y->u->path);

	if (!c)
		c = strcmp(x->u->location, y->u->location);
	if (!c && x->u->flags != y->u->flags)
		c = x->u->flags < y->u->flags ? -1 : 1;
	if (!c && x->k != y->k)
		c = x->k < y->k ? -1 : 1;
	return c;
}

/* A return event's probe without an entry handler: one that can take an entry's. */
static bool pair_ret(const struct uprobe_spec *u)
{
	return !u->handler && u->ret_handler;
}

/* An entry event's probe that can take a return event's return handler. */
static bool pair_entry(const struct uprobe_spec *u)
{
	return u->handler && !u->ret_handler && !(u->flags & UPROBE_F_COUNT_STUB);
}

/* Entry probe ue of event e takes the return handler of ur, return event r's. */
static void pair_up(struct uprobe_spec *ue, struct trace_event *e, const struct uprobe_spec *ur,
		    struct trace_event *r)
{
	e->hot.pair = &r->hot;
	e->hot.pair_ret = ur->ret_handler;
	ue->ret_handler = fetch_pair_return_handler;
}

/*
 * TRACE_BATCH_PAIR: b->owner[k] for the m probes, each return probe of
 * pair_ret given to an entry probe of pair_entry at its path, location and
 * flags (in spec order: the first of each with the first of the other). The
 * entry's spec takes fetch_pair_return_handler, its event's hot.pair the
 * return event's. Returns how many probes remain (b->sel lists them).
 */
static uint32_t batch_pair(struct event_batch *b, struct trace_event **events,
			   struct uprobe_spec *us, uint32_t m)
{
	struct pair_key *keys = malloc((m ? m : 1) * sizeof(*keys));
	uint32_t n = 0, left = 0;

	for (uint32_t k = 0; k < m; k++)
		b->owner[k] = b->mate[k] = k;
	for (uint32_t k = 0; keys && k < m; k++) /* no keys: not paired, still right */
		if (pair_ret(&us[k]) || pair_entry(&us[k]))
			keys[n++] = (struct pair_key){ &us[k], k, pair_ret(&us[k]) };
	qsort(keys, n, sizeof(*keys), pair_cmp);
	for (uint32_t lo = 0, hi; lo < n; lo = hi) {
		uint32_t e = lo, r = lo;

		for (hi = lo + 1; hi < n && !strcmp(keys[hi].u->path, keys[lo].u->path) &&
				  !strcmp(keys[hi].u->location, keys[lo].u->location) &&
				  keys[hi].u->flags == keys[lo].u->flags; hi++)
			;
		for (;;) { /* the next entry and the next return of the run, paired */
			while (e < hi && keys[e].ret)
				e++;
			while (r < hi && !keys[r].ret)
				r++;
			if (e == hi || r == hi)
				break;
			b->owner[keys[r].k] = keys[e].k;
			b->mate[keys[e].k] = keys[r].k;
			pair_up(&us[keys[e].k], events[b->spec_of[keys[e].k]], &us[keys[r].k],
				events[b->spec_of[keys[r].k]]);
			e++, r++;
		}
	}
	free(keys);
	for (uint32_t k = 0; k < m; k++)
		if (b->owner[k] == k) {
			b->sel[left] = k;
			us[left] = us[k]; /* left <= k: in place */
			left++;
		}
	return left;
}

/*
 * After the core's attach of the left probes of batch_pair (probes[0..left)):
 * probes[k] for every k of m, a return probe's its entry's.
 */
static void batch_unpair(struct event_batch *b, struct uprobe **probes, uint32_t m, uint32_t left)
{
	for (uint32_t k = m; k-- > 0;)
		if (b->owner[k] == k)
			probes[k] = probes[--left]; /* left - 1 <= k: from the end, in place */
		else
			probes[k] = NULL;
	for (uint32_t k = 0; k < m; k++)
		if (b->owner[k] != k)
			probes[k] = probes[b->owner[k]];
}

/* Probe k, attached, is its event's (or, paired, its entry's event's too). */
static void batch_attached(struct event_batch *b, struct trace_event **events, uint32_t k,
			   struct uprobe *p)
{
	struct trace_event *ev = events[b->spec_of[k]];

	ev->probe = p;
	if (b->owner && b->owner[k] != k) {
		struct trace_event *entry = events[b->spec_of[b->owner[k]]];

		ev->partner = entry;
		ev->shared = true;
		entry->partner = ev;
	}
	event_publish(ev);
}

/* Phase 2: the m probes in at once; events without theirs are dropped. */
static int batch_attach_probes(struct event_batch *b, struct trace_event **events,
			       struct uprobe_spec *us, uint32_t m, uint64_t **skipped,
			       struct uprobe **probes)
{
	struct uprobe_batch_opts bo = { .sz = sizeof(bo), .flags = UPROBE_BATCH_PARTIAL };
	uint64_t **too = b->owner ? calloc(m ? m : 1, sizeof(*too)) : NULL;
	struct core_batch_each each = {
		.skipped = skipped, .skipped_too = too, .on_error = batch_core_error, .ctx = b,
	};
	uint32_t left = m;
	int attached = 0, ret;

	if (b->owner && too) {
		left = batch_pair(b, events, us, m);
		for (uint32_t k = 0; k < m; k++) /* a skipped entry loses its return too */
			if (b->owner[k] != k)
				too[b->owner[k]] = events[b->spec_of[k]]->skipped_counter;
		for (uint32_t j = 0; j < left; j++) {
			uint32_t k = b->sel[j];

			too[j] = too[k]; /* j <= k: in place */
			skipped[j] = events[b->spec_of[k]]->skipped_counter;
		}
	} else {
		b->owner = b->sel = b->mate = NULL; /* not paired (the caller frees its arrays) */
		for (uint32_t k = 0; k < m; k++)
			skipped[k] = events[b->spec_of[k]]->skipped_counter;
	}
	ret = core_attach_many(us, left, probes, &bo, &each);
	if (b->owner)
		batch_unpair(b, probes, m, left);
	for (uint32_t k = 0; k < m; k++) {
		uint32_t i = b->spec_of[k];

		if (probes[k]) {
			batch_attached(b, events, k, probes[k]);
			attached++;
			continue;
		}
		if (!b->told[k]) /* the whole batch failed before this probe */
			batch_error(b, i, ret < 0 ? ret : -EIO, b->names[k]);
		event_drop(events[i]);
		events[i] = NULL;
	}
	free(too);
	return attached;
}

UPROBE_API int trace_event_attach_many(struct trace_session *s,
				       const struct trace_spec *const *specs, uint32_t n,
				       struct trace_event **events,
				       struct trace_event_batch_opts *opts)
{
	struct trace_event_batch_opts none = { .sz = sizeof(none) };
	struct event_batch b = { .specs = specs, .opts = opts ? opts : &none };
	size_t cnt = n ? n : 1;
	/* pool_bulk_alloc: 10,000 probes' arrays are megabytes, made present at once */
	struct uprobe_spec *us = pool_bulk_alloc(cnt * sizeof(*us));
	char **paths = pool_bulk_alloc(cnt * sizeof(*paths));
	char(*locs)[256] = pool_bulk_alloc(cnt * sizeof(*locs));
	uint64_t **skipped = pool_bulk_alloc(cnt * sizeof(*skipped));
	struct uprobe **probes = pool_bulk_alloc(cnt * sizeof(*probes));
	uint32_t *owner = NULL, *sel = NULL, *mate = NULL, m;
	int ret = -ENOMEM;

	b.spec_of = pool_bulk_alloc(cnt * sizeof(*b.spec_of));
	b.told = pool_bulk_alloc(cnt);
	b.names = pool_bulk_alloc(cnt * sizeof(*b.names));
	if (!s || (n && !events) || (n && !specs && (!opts || !opts->spec_get)) ||
	    (opts && opts->sz < BATCH_OPTS_MIN_SZ)) {
		ret = log_error(EINVAL, "trace_event_attach_many: %s",
				!s ? "no session" : opts && opts->sz < BATCH_OPTS_MIN_SZ
							 ? "opts->sz too small" : "no specs or events");
		goto out;
	}
	b.opts->failed = 0;
	if (b.opts->sz >= offsetof(struct trace_event_batch_opts, flags) + sizeof(b.opts->flags) &&
	    (b.opts->flags & TRACE_BATCH_PAIR)) {
		b.owner = owner = malloc(cnt * sizeof(*owner));
		b.sel = sel = malloc(cnt * sizeof(*sel));
		b.mate = mate = malloc(cnt * sizeof(*mate));
		if (!owner || !sel || !mate) /* not paired: still right, only slower */
			b.owner = b.sel = b.mate = NULL;
	}
	if (!us || !paths || !locs || !skipped || !probes || !b.spec_of || !b.told || !b.names)
		goto out;
	uprobe_batch_begin();
	m = batch_prepare_events(s, &b, n, events, us, paths, locs);
	ret = batch_attach_probes(&b, events, us, m, skipped, probes);
	uprobe_batch_end();
	for (uint32_t k = 0; k < m; k++)
		if (!k || paths[k] != paths[k - 1]) /* one copy of a path shared by neighbours */
			free(paths[k]);
out:
	free(mate);
	free(sel);
	free(owner);
	pool_bulk_free(b.names, cnt * sizeof(*b.names));
	pool_bulk_free(b.told, cnt);
	pool_bulk_free(b.spec_of, cnt * sizeof(*b.spec_of));
	pool_bulk_free(probes, cnt * sizeof(*probes));
	pool_bulk_free(skipped, cnt * sizeof(*skipped));
	pool_bulk_free(locs, cnt * sizeof(*locs));
	pool_bulk_free(paths, cnt * sizeof(*paths));
	pool_bulk_free(us, cnt * sizeof(*us));
	return ret;
}
