// SPDX-License-Identifier: MIT
/*
 * A bpftrace program on the kernel backend, the tracer's side: the kernel's
 * events (struct trace_record, decoded by src/kernel) are run through the
 * plan of their probe here, one at a time in time order, on maps kept in
 * the tracer (store.c), with printf, print, clear, zero and exit() carried
 * out at once, as BEGIN and END are (run.c). The builtins come from the
 * event:
 *
 *   arg0..arg5, retval   the fields a0..a5, rv of the probe line (kspec.c);
 *                        usdt: the marker's arg1..argN
 *   str(argN)            the string the kernel read at the hit (sN, sr): the
 *                        plan's read of the address argN is answered with it
 *   pid tid comm cpu     the event's (comm: the thread's name at the hit)
 *   nsecs                the event's CLOCK_MONOTONIC time (bpftrace's too)
 *   elapsed              nsecs since lang_krun_new
 *   func, probe          the probe line's symbol; "uprobe:PATH:FUNC"
 *
 * Not for the hot path: this runs in the tracer, one event after another.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lang/store.h"
#include "uprobes_kernel.h"
#include "uprobes_trace.h"

#define KRUN_SLOTS 7 /* arg0..arg5, retval */

/* What a probe line's events hold, found once (lang_krun_bind). */
struct krun_bind {
	bool bound;
	uint32_t probe; /* the plan's probe */
	int field[KRUN_SLOTS], sfield[KRUN_SLOTS]; /* layout fields of the values, strings; -1 */
	const struct trace_layout *l;
	char *func, *probe_text;
	uint64_t probe_id; /* probe as a map key: probe_text's id */
};

struct lang_krun {
	struct lang_program *p;
	struct lang_store *store;
	FILE *out;
	bool json, exited;
	uint64_t start_ns, errors;
	struct krun_bind *b;
	uint32_t nb;
	uint64_t *next; /* interval probes' deadlines, in the program's order */
	/* The event being run: the strings the kernel read, by the address they were read at. */
	uint64_t str_addr[KRUN_SLOTS];
	const char *str[KRUN_SLOTS];
	uint32_t str_len[KRUN_SLOTS];
	uint32_t str_have; /* bit per slot: read (else a fault, or not fetched) */
};

static uint64_t krun_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* printf, print, clear, zero, exit, print(value): on the tracer's maps (print.c). */
static int krun_emit(void *ctx, enum lang_emit what, uint32_t id, int64_t imm, const void *data,
		     uint32_t len)
{
	struct lang_krun *r = ctx;
	print_emit(r->store, &r->p->plan, what, id, imm, data, len, r->json, &r->exited, r->out);
	return 0;
}

/* str(argN): the string the kernel read at argN's address, if it read one there. */
static long krun_read_str(void *ctx, uint64_t addr, char *dst, uint32_t len)
{
	struct lang_krun *r = ctx;
	if (!len)
		return -EFAULT;
	dst[0] = 0;
	for (int k = 0; k < KRUN_SLOTS; k++) {
		if (!(r->str_have & (1u << k)) || r->str_addr[k] != addr)
			continue;
		uint32_t n = r->str_len[k] < len - 1 ? r->str_len[k] : len - 1;
		memcpy(dst, r->str[k], n);
		dst[n] = 0;
		return (long)strnlen(dst, n);
	}
	return -EFAULT;
}

static struct lang_env_ops store_ops;

static int k_get(void *ctx, unsigned m, const void *k, void *v)
{
	return store_ops.map_get(((struct lang_krun *)ctx)->store, m, k, v);
}

static int k_set(void *ctx, unsigned m, const void *k, const void *v)
{
	return store_ops.map_set(((struct lang_krun *)ctx)->store, m, k, v);
}

static int k_agg(void *ctx, unsigned m, const void *k, enum lang_map_kind kind, int64_t v)
{
	return store_ops.map_agg(((struct lang_krun *)ctx)->store, m, k, kind, v);
}

static int k_del(void *ctx, unsigned m, const void *k)
{
	return store_ops.map_del(((struct lang_krun *)ctx)->store, m, k);
}

static int k_add(void *ctx, unsigned m, const void *k, int64_t d, int64_t *out)
{
	return store_ops.map_add(((struct lang_krun *)ctx)->store, m, k, d, out);
}

static const struct lang_env_ops krun_ops = {k_get, k_set,     k_agg,	     k_del,
					     k_add, krun_emit, krun_read_str, NULL};

struct lang_krun *lang_krun_new(struct lang_program *p, enum lang_output fmt, FILE *out)
{
	if (!p->compiled) {
		errno = EINVAL;
		return NULL;
	}
	struct lang_krun *r = calloc(1, sizeof(*r));
	int n = 0;
	for (int i = 0; i < p->checked.nprobes; i++)
		n += p->checked.probes[i].nat;
	if (r)
		r->next = calloc((size_t)n + 1, sizeof(*r->next));
	if (r && r->next)
		r->store = store_new(&p->checked, &p->plan);
	for (uint32_t k = 0; r && r->store && k < r->store->nmaps; k++)
		r->store->maps[k].probes = &p->probe_names; /* probe keys' names */
	if (r && r->store)
		r->store->probes = &p->probe_names;
	if (!r || !r->store) {
		if (r)
			free(r->next);
		free(r);
		errno = ENOMEM;
		return NULL;
	}
	store_env_ops(&store_ops);
	r->p = p;
	r->out = out;
	r->json = fmt == LANG_OUT_JSON;
	r->start_ns = krun_now();
	return r;
}

static int field_of(const struct trace_layout *l, const char *name)
{
	for (int i = 0; i < l->n_fields; i++)
		if (!strcmp(l->fields[i].name, name))
			return i;
	return -1;
}

/* The names of the fields (kspec.c; usdt: the sdt resolver's arg1..argN). */
static void bind_fields(struct krun_bind *b, const struct trace_layout *l, bool usdt)
{
	char name[16];
	for (int k = 0; k < KRUN_SLOTS; k++) {
		if (usdt && k < B_RETVAL)
			snprintf(name, sizeof(name), "arg%d", k + 1);
		else
			snprintf(name, sizeof(name), k == B_RETVAL ? "rv" : "a%d", k);
		b->field[k] = field_of(l, name);
		snprintf(name, sizeof(name), k == B_RETVAL ? "sr" : "s%d", k);
		b->sfield[k] = usdt ? -1 : field_of(l, name);
	}
}

int lang_krun_bind(struct lang_krun *r, uint32_t id, const struct trace_spec *spec,
		  const struct trace_layout *l)
{
	const struct lang_checked *ck = &r->p->checked;
	unsigned probe, at;
	if (sscanf(spec->event, "p%u_a%u", &probe, &at) != 2 || probe >= (unsigned)ck->nprobes ||
	    at >= (unsigned)ck->probes[probe].nat)
		return -EINVAL;
	if (id >= r->nb) {
		struct krun_bind *b = realloc(r->b, (id + 1) * sizeof(*b));
		if (!b)
			return -ENOMEM;
		memset(b + r->nb, 0, (id + 1 - r->nb) * sizeof(*b));
		r->b = b;
		r->nb = id + 1;
	}
	struct krun_bind *b = &r->b[id];
	const struct lang_attach *a = &ck->probes[probe].at[at];
	char path[4096];
	if (trace_kernel_path(spec->path, path, sizeof(path)))
		snprintf(path, sizeof(path), "%s", spec->path);
	free(b->func);
	free(b->probe_text);
	b->func = lang_spec_func(spec);
	if (!b->func)
		b->func = lang_func_name(a->func);
	if (a->kind == P_USDT && a->provider && a->provider[0])
		b->probe_text = strdup(a->text);
	else if (a->kind == P_USDT) { /* usdt:PATH:NAME: named with the marker's provider */
		if (asprintf(&b->probe_text, "usdt:%s:%s:%s", a->target, spec->group, a->func) < 0)
			b->probe_text = NULL;
	} else if (asprintf(&b->probe_text, "%s:%s:%s",
			  a->kind == P_URETPROBE ? "uretprobe" : "uprobe", path,
			  b->func ? b->func : "") < 0)
		b->probe_text = NULL;
	if (!b->func || !b->probe_text)
		return -ENOMEM;
	b->probe = probe;
	b->probe_id = lang_probe_id(&r->p->probe_names, b->probe_text);
	b->l = l;
	bind_fields(b, l, a->kind == P_USDT);
	b->bound = true;
	return 0;
}

/* Probe i's plan for attach point a, run in the tracer (BEGIN, END, interval). */
static void krun_local(struct lang_krun *r, int i, int a)
{
	uint64_t t = krun_now();
	struct lang_env env = {
		.ops = &krun_ops,
		.ctx = r,
		.pid = (uint64_t)getpid(),
		.tid = (uint64_t)gettid(),
		.nsecs = t,
		.elapsed = t - r->start_ns,
		.cpu = (uint64_t)sched_getcpu(),
		.uid = getuid(),
		.gid = getgid(),
		.comm = "uprobe",
		.probe = r->p->checked.probes[i].at[a].text,
		.probe_id = lang_probe_attach_id(r->p, i, a),
	};
	r->str_have = 0;
	plan_eval(&r->p->plan, (uint32_t)i, &env);
	r->errors += env.errors;
}

/* Every probe of this kind (BEGIN, END), in the program's order. */
static void krun_kind(struct lang_krun *r, enum lang_probe_kind kind)
{
	const struct lang_checked *ck = &r->p->checked;
	for (int i = 0; i < ck->nprobes; i++)
		for (int a = 0; a < ck->probes[i].nat; a++)
			if (ck->probes[i].at[a].kind == kind && !(kind != P_END && r->exited))
				krun_local(r, i, a);
}

/* "Attaching N probes..." (n probe lines, and the tracer's own probes), then BEGIN. */
int lang_krun_begin(struct lang_krun *r, int n)
{
	const struct lang_checked *ck = &r->p->checked;
	for (int i = 0; i < ck->nprobes; i++)
		for (int a = 0; a < ck->probes[i].nat; a++)
			n += ck->probes[i].at[a].kind == P_BEGIN ||
			     ck->probes[i].at[a].kind == P_END ||
			     ck->probes[i].at[a].kind == P_INTERVAL;
	if (r->json)
		fprintf(r->out, "{\"type\": \"attached_probes\", \"data\": {\"probes\": %d}}\n", n);
	else
		fprintf(r->out, "Attaching %d probe%s...\n", n, n == 1 ? "" : "s");
	r->start_ns = krun_now();
	krun_kind(r, P_BEGIN);
	fflush(r->out);
	return r->exited;
}

/* String field i of rec: its bytes, or NULL (a fault, or not inside the payload). */
static const char *field_str(const struct trace_layout *l, const struct trace_record *rec, int i,
			     uint32_t *len)
{
	uint32_t off, n;
	unsigned int at = l->fields[i].offset;
	if ((rec->data[i / 8] >> (i % 8)) & 1 || (uint64_t)at + 8 > rec->data_len)
		return NULL; /* the fault bit (struct trace_layout) */
	memcpy(&off, rec->data + at, 4);
	memcpy(&n, rec->data + at + 4, 4);
	if ((uint64_t)off + n > rec->data_len)
		return NULL;
	*len = n;
	return (const char *)rec->data + off;
}

int lang_krun_record(const struct trace_record *rec, void *ctx)
{
	struct lang_krun *r = ctx;
	const struct krun_bind *b = rec->event_id < r->nb ? &r->b[rec->event_id] : NULL;
	uint64_t v[KRUN_SLOTS] = {0};
	int64_t x;
	if (r->exited || !b || !b->bound || rec->data_len < b->l->fixed_len)
		return r->exited;
	r->str_have = 0;
	for (int k = 0; k < KRUN_SLOTS; k++) {
		if (b->field[k] >= 0 && !trace_field_int(b->l, rec, b->field[k], &x))
			v[k] = (uint64_t)x;
		r->str[k] = b->sfield[k] >= 0 ? field_str(b->l, rec, b->sfield[k], &r->str_len[k])
					      : NULL;
		r->str_addr[k] = v[k];
		if (r->str[k])
			r->str_have |= 1u << k;
	}
	struct lang_env env = {
		.ops = &krun_ops,
		.ctx = r,
		.args = v,
		.retval = v[B_RETVAL],
		.pid = rec->pid,
		.tid = rec->tid,
		.nsecs = rec->ts_ns,
		.elapsed = rec->ts_ns > r->start_ns ? rec->ts_ns - r->start_ns : 0,
		.cpu = rec->cpu,
		.comm = rec->comm ? rec->comm : "",
		.func = b->func,
		.probe = b->probe_text,
		.probe_id = b->probe_id,
	};
	plan_eval(&r->p->plan, b->probe, &env);
	r->errors += env.errors;
	return r->exited;
}

uint64_t lang_krun_intervals(struct lang_krun *r)
{
	const struct lang_checked *ck = &r->p->checked;
	uint64_t soonest = UINT64_MAX;
	int k = 0;
	for (int i = 0; i < ck->nprobes; i++) {
		for (int a = 0; a < ck->probes[i].nat; a++, k++) {
			const struct lang_attach *at = &ck->probes[i].at[a];
			if (at->kind != P_INTERVAL)
				continue;
			if (!r->next[k])
				r->next[k] = r->start_ns + at->interval_ns;
			/* absolute deadlines: a late run does not shift the next ones */
			if (r->next[k] <= krun_now() && !r->exited) {
				krun_local(r, i, a);
				r->next[k] += at->interval_ns;
			}
			if (r->next[k] < soonest)
				soonest = r->next[k];
		}
	}
	return r->exited ? UINT64_MAX : soonest;
}

int lang_krun_exited(const struct lang_krun *r)
{
	return r->exited;
}

uint64_t lang_krun_errors(const struct lang_krun *r)
{
	return r->errors;
}

void lang_krun_free(struct lang_krun *r)
{
	if (!r)
		return;
	store_free(r->store);
	for (uint32_t i = 0; i < r->nb; i++) {
		free(r->b[i].func);
		free(r->b[i].probe_text);
	}
	free(r->b);
	free(r->next);
	free(r);
}

void lang_krun_end(struct lang_krun *r)
{
	if (!r)
		return;
	krun_kind(r, P_END);
	(r->json ? print_all_maps_json : print_all_maps)(r->store, r->out);
	fflush(r->out);
	lang_krun_free(r);
}
