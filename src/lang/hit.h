/* SPDX-License-Identifier: MIT */
/*
 * A bpftrace program's probe in the traced process (hit.c): what its handler
 * needs, set up once by the agent before the probe is attached.
 */
#ifndef UPROBES_LANG_HIT_H
#define UPROBES_LANG_HIT_H

#include "lang/program.h"
#include "uprobes.h"

struct trace_rings;
struct stack_table;

/*
 * What a plan emits in the target (printf, print, clear, zero, exit, print of
 * a value) as the payload of one ring record (TRACE_RAW_EVENT of the probe
 * line's event): this header, then len bytes of arguments as plan_eval
 * serializes them (8 bytes an integer, 64 a string, NUL-padded). The tracer
 * (session.c) performs it at its place in the stream.
 *
 *   0      what (enum lang_emit)   4  id (format or map)
 *   8      imm (strings bitmap; print: top << 32 | div)
 *   16     len                     20 zero
 *   24     arguments ...
 */
struct lang_emit_rec {
	uint32_t what, id;
	int64_t imm;
	uint32_t len, pad;
};
#define LANG_EMIT_MAX (LANG_MAX_ARGS * LANG_STRLEN) /* bytes of arguments */

struct lang_hit {
	const struct plan *plan;
	uint32_t probe; /* the plan's probe (the program's probe index) */
	int ret;	/* a uretprobe: retval is rax */
	const struct lang_env_ops *ops; /* lang_hit_ops */
	struct map_region *region;
	const char *func, *probe_text; /* the func and probe builtins */
	uint64_t latency_mult, start_tsc;
	uint64_t errors; /* str() faults (atomic); also counted in the region's last map */
	struct trace_rings *rings; /* emits: one record each, of event event_id */
	uint32_t event_id;
	/*
	 * probe as a map key: event_id + 1, the tracer's name of it
	 * (lang_probe_names_events), or the first event's of the same text (the
	 * functions a glob found sharing a name: one key, as bpftrace's string)
	 */
	uint32_t probe_key;
	int faults_map; /* the region's "str() faults" count map (lang_target_define) */
	struct stack_table *stacks; /* ustack keys intern here (NULL: their id is 0) */
	bool at_entry;		    /* the probe is a function's first instruction */
};

/* The target's environment: the region's maps, fault-safe str(), emits into the rings. */
void lang_hit_ops(struct lang_env_ops *ops);
/* trace_event_agg.run (ctx: struct lang_hit): signal-safe. */
void lang_hit_run(void *ctx, const struct uprobe_regs *regs, uint64_t entry_tsc,
		  const uint64_t *args);

#endif
