/* SPDX-License-Identifier: MIT */
/*
 * A bpftrace program in the traced process (uprobe -e ... -c/-p/--): the
 * tracer put its text in the blob of SPECS's maps (struct uprobe_agent_lang)
 * and defined the program's maps there, in its order. The agent compiles the
 * text once (lang_program_new: the plan the tracer made and checked), and
 * gives every probe line "pN_aM" a handler that runs probe N's plan
 * (src/lang/hit.c) on the region. Everything here runs in the agent's
 * thread before the probes are in, or after they are out; only lang_hit_run
 * runs at hits.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/agent_lang.h"
#include "arch/safe_read.h"
#include "lang/fast.h"
#include "lang/hit.h"
#include "stack/stack.h"
#include "trace/map/map.h"
#include "trace/session/session.h"
#include "uprobes_agent.h"
#include "uprobes_lang.h"
#include "ubp/ubp.h"

/*
 * str() reads the target's memory: SIGSEGV/SIGBUS must then be the library's,
 * so that a bad pointer comes back as a fault (as fetch-args that dereference).
 */
static int own_faults(const struct plan *pl)
{
	for (uint32_t pc = 0; pc < pl->ninsns; pc++)
		if (pl->code[pc].op == PI_STR)
			return ubp_fault_install(arch_safe_read_fault);
	return 0;
}

struct agent_lang {
	struct lang_program *prog;
	struct stack_table *stacks; /* ustack keys; a stack_setup() user while set */
	struct lang_env_ops ops;
	uint32_t n;
	uint32_t by_offset; /* probe lines named by a file offset so far */
	struct lang_hit hits[]; /* one per probe line */
};

struct agent_lang *agent_lang_new(struct map_region *r, const void *blob, size_t len, uint32_t n)
{
	struct uprobe_agent_lang h;
	if (len < sizeof(h)) {
		errno = EINVAL;
		return NULL;
	}
	memcpy(&h, blob, sizeof(h));
	if (h.magic != UPROBE_AGENT_LANG_MAGIC || h.text_len > len - sizeof(h)) {
		errno = EINVAL;
		return NULL;
	}
	char *text = strndup((const char *)blob + sizeof(h), h.text_len);
	struct agent_lang *l = calloc(1, sizeof(*l) + n * sizeof(l->hits[0]));
	if (!text || !l) {
		free(text);
		free(l);
		errno = ENOMEM;
		return NULL;
	}
	l->prog = lang_program_new("stdin", text);
	free(text);
	/* The same text, the same plan; its maps must be the region's (then str()'s faults
	 * and the unwound returns, lang_target_define). */
	if (!l->prog || lang_program_errors(l->prog, NULL) || !l->prog->compiled ||
	    (int)l->prog->plan.nmaps + 2 != map_count(r)) {
		agent_lang_free(l);
		errno = EINVAL;
		return NULL;
	}
	int err = own_faults(&l->prog->plan);
	if (err) {
		agent_lang_free(l);
		errno = -err;
		return NULL;
	}
	lang_hit_ops(&l->ops);
	l->n = n;
	for (uint32_t i = 0; i < n; i++)
		l->hits[i] = (struct lang_hit){ .plan = &l->prog->plan, .ops = &l->ops,
						.region = r, .latency_mult = h.latency_mult,
						.start_tsc = h.start_tsc, .func = "",
						.probe_text = "",
						.faults_map = (int)l->prog->plan.nmaps };
	return l;
}

int agent_lang_agg(struct agent_lang *l, struct trace_session *s, uint32_t i,
		   const struct trace_spec *spec, struct trace_event_agg *g, char *why, size_t len)
{
	const struct lang_checked *ck = &l->prog->checked;
	unsigned probe, at;
	if (i >= l->n || sscanf(spec->event, "p%u_a%u", &probe, &at) != 2 ||
	    probe >= (unsigned)ck->nprobes || at >= (unsigned)ck->probes[probe].nat) {
		snprintf(why, len, "event '%s' names no probe of the program", spec->event);
		return -EINVAL;
	}
	struct lang_hit *h = &l->hits[i];
	h->probe = probe;
	h->ret = spec->kind == TRACE_RETPROBE;
	h->rings = trace_session_rings(s); /* printf and the other emits: records of event i */
	h->event_id = i;
	/* SYMBOL, not SYMBOL+OFF: the return address is at rsp even without CFI. */
	char *func = lang_spec_func(spec);
	h->at_entry = spec->kind == TRACE_PROBE && func && (!spec->symbol || !spec->offset);
	char *text = lang_probe_event_name(ck, spec); /* as the tracer names probe ids */
	if (func)
		h->func = func;
	if (text)
		h->probe_text = text;
	h->probe_key = i + 1;
	l->by_offset += !spec->symbol;
	for (uint32_t j = 0; text && l->by_offset && j < i; j++) /* named by offset: a shared name */
		if (!strcmp(l->hits[j].probe_text, text)) {
			h->probe_key = l->hits[j].probe_key;
			break;
		}
	/* a uretprobe's calls left by an exception: counted in the map after str()'s faults */
	int unwound = h->ret ? (int)l->prog->plan.nmaps + 1 : -1;
	*g = (struct trace_event_agg){ .maps = (struct trace_maps *)h->region, .count_map = -1,
				       .filtered_map = unwound, .hist_map = -1, .hist_arg = -1,
				       .filter_arg = -1, .run = lang_hit_run, .run_ctx = h };
	/*
	 * `@ = count()` in a uprobe or usdt probe: the event's own count map is
	 * the program's @ (the same map_agg_count lang_hit_run would make, key
	 * ignored), so its hits take fetch_count_handler, not lang_hit_run. Not
	 * a uretprobe: without run the event would stamp every entry's TSC.
	 */
	const struct plan_fast *f = &h->plan->probes[probe].fast;
	if (!h->ret && lang_fast_is_count(f) && f->key == PF_NO) {
		g->count_map = f->map;
		g->run = NULL;
		g->run_ctx = NULL;
	}
	return 0;
}

int agent_lang_set_stacks(struct agent_lang *l, int fd)
{
	if (l->stacks)
		return -EEXIST;
	int err = stack_setup();
	if (err)
		return err;
	l->stacks = stack_table_attach(fd);
	if (!l->stacks) {
		err = -errno;
		stack_release();
		return err ? err : -EINVAL;
	}
	stack_table_put_maps(l->stacks, (uint32_t)getpid()); /* best effort: -ENOSPC */
	for (uint32_t i = 0; i < l->n; i++)
		l->hits[i].stacks = l->stacks;
	return 0;
}

void agent_lang_free(struct agent_lang *l)
{
	if (!l)
		return;
	if (l->stacks) {
		stack_release();
		stack_table_free(l->stacks);
	}
	for (uint32_t i = 0; i < l->n; i++) {
		if (l->hits[i].func && l->hits[i].func[0])
			free((char *)l->hits[i].func);
		if (l->hits[i].probe_text && l->hits[i].probe_text[0])
			free((char *)l->hits[i].probe_text);
	}
	lang_program_free(l->prog);
	free(l);
}
