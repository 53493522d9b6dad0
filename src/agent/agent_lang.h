/* SPDX-License-Identifier: MIT */
/*
 * The agent's side of a bpftrace program (agent_lang.c): SPECS's maps whose
 * blob is a struct uprobe_agent_lang.
 */
#ifndef UPROBES_AGENT_LANG_H
#define UPROBES_AGENT_LANG_H

#include <stddef.h>
#include <stdint.h>

#include "uprobes_trace.h"

struct agent_lang;
struct map_region;

/* The program in blob compiled for region r's n probes; NULL with errno. */
struct agent_lang *agent_lang_new(struct map_region *r, const void *blob, size_t len, uint32_t n);
/*
 * Probe line i's handler (spec: its line parsed) into g: 0, or -EINVAL with
 * why (the event names no probe of the program). What its plan emits goes
 * into s's rings as records of event i.
 */
struct trace_session;
int agent_lang_agg(struct agent_lang *l, struct trace_session *s, uint32_t i,
		   const struct trace_spec *spec, struct trace_event_agg *g, char *why, size_t len);
/* After every probe is out. */
/*
 * The program's stack table (ustack keys), memfd fd from the tracer: stacks
 * set up in this process (stack_setup), its mappings left in the table, and
 * every probe's hits intern there. 0 or -errno.
 */
int agent_lang_set_stacks(struct agent_lang *l, int fd);
void agent_lang_free(struct agent_lang *l);

#endif
