// SPDX-License-Identifier: MIT
/*
 * --hist latency on the kernel backend. The kernel's return events carry no
 * entry time (the agent's return records do), so each return probe gets a
 * hidden entry probe at the same function (event ids t->n and up, never
 * printed nor counted), and this process pairs them by thread: an entry
 * pushes its time on the (thread, probe) stack, a return pops it into the
 * record's entry_ts_ns. Recursion nests; frames a longjmp skips leave
 * entries behind, pushed out once KLAT_DEPTH are held. A return read before
 * its entry (the two on different CPUs' rings, the entry's read first in the
 * next poll: rare) finds none and stays out of the histogram.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "trace.h"
#include "uprobes_kernel.h"

#define KLAT_DEPTH 32

struct klat_slot {
	uint32_t tid, probe; /* probe + 1: 0 is a free slot */
	uint32_t depth;
	uint64_t ts[KLAT_DEPTH];
};

static struct {
	struct klat_slot *slots;
	size_t cap, used; /* cap a power of two, at most half used */
	struct trace_spec *entries; /* the hidden entry probes */
	uint32_t *ret_of;	    /* hidden probe j: the return probe it times */
	int n;
} klat;

static size_t slot_hash(uint32_t tid, uint32_t probe)
{
	uint64_t h = ((uint64_t)tid << 32 | probe) * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 32);
}

static struct klat_slot *slot_find(uint32_t tid, uint32_t probe, bool create);

static int slots_grow(void)
{
	struct klat_slot *old = klat.slots;
	size_t cap = old ? 2 * klat.cap : 256, n = klat.cap;
	klat.slots = calloc(cap, sizeof(*klat.slots));
	if (!klat.slots) {
		klat.slots = old;
		return -ENOMEM;
	}
	klat.cap = cap;
	klat.used = 0;
	for (size_t i = 0; i < n; i++) {
		if (!old[i].probe)
			continue;
		*slot_find(old[i].tid, old[i].probe - 1, true) = old[i];
	}
	free(old);
	return 0;
}

static struct klat_slot *slot_find(uint32_t tid, uint32_t probe, bool create)
{
	if (create && 2 * (klat.used + 1) > klat.cap && slots_grow())
		return NULL;
	if (!klat.cap)
		return NULL;
	for (size_t i = slot_hash(tid, probe) & (klat.cap - 1);; i = (i + 1) & (klat.cap - 1)) {
		struct klat_slot *s = &klat.slots[i];
		if (s->probe == probe + 1 && s->tid == tid)
			return s;
		if (s->probe)
			continue;
		if (!create)
			return NULL;
		*s = (struct klat_slot){.tid = tid, .probe = probe + 1};
		klat.used++;
		return s;
	}
}

int tracer_klat_add(struct tracer *t, struct trace_kernel *k)
{
	int n = 0;
	for (int i = 0; i < t->n; i++)
		n += t->specs[i]->kind == TRACE_RETPROBE;
	klat.entries = calloc((size_t)n + 1, sizeof(*klat.entries));
	klat.ret_of = calloc((size_t)n + 1, sizeof(*klat.ret_of));
	if (!klat.entries || !klat.ret_of)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	for (int i = 0; i < t->n; i++) {
		const struct trace_spec *r = t->specs[i];
		struct trace_spec *e = &klat.entries[klat.n];
		if (r->kind != TRACE_RETPROBE)
			continue;
		/* The same place, no fetch-arg: the pointers stay the return probe's. */
		memcpy(e, r, offsetof(struct trace_spec, args));
		e->kind = TRACE_PROBE;
		e->n_args = 0;
		klat.ret_of[klat.n] = (uint32_t)i;
		if (trace_kernel_add(k, e, (uint32_t)(t->n + klat.n)))
			return cli_error(CLI_EXIT_FAIL, "probe %s/%s (its entry, for --hist latency): "
					 "%s", r->group, r->event, uprobe_last_error());
		klat.n++;
	}
	return 0;
}

const struct trace_record *tracer_klat_record(const struct tracer *t,
					      const struct trace_record *rec,
					      struct trace_record *copy)
{
	struct klat_slot *s;
	if (!klat.entries)
		return rec;
	if (rec->event_id >= (uint32_t)t->n && rec->event_id - (uint32_t)t->n < (uint32_t)klat.n) {
		s = slot_find(rec->tid, klat.ret_of[rec->event_id - (uint32_t)t->n], true);
		if (s && s->depth == KLAT_DEPTH) { /* frames a longjmp skipped: the oldest out */
			memmove(s->ts, s->ts + 1, (KLAT_DEPTH - 1) * sizeof(s->ts[0]));
			s->depth--;
		}
		if (s)
			s->ts[s->depth++] = rec->ts_ns;
		return NULL;
	}
	if (!(rec->flags & TRACE_REC_RETURN) || rec->event_id >= (uint32_t)t->n)
		return rec;
	*copy = *rec;
	s = slot_find(rec->tid, rec->event_id, false);
	copy->entry_ts_ns = s && s->depth ? s->ts[--s->depth] : 0;
	return copy;
}

void tracer_klat_free(void)
{
	free(klat.slots);
	free(klat.entries);
	free(klat.ret_of);
	memset(&klat, 0, sizeof(klat));
}
