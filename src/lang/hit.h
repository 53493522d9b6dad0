/* SPDX-License-Identifier: MIT */
/*
 * A bpftrace program's probe in the traced process (hit.c): what its handler
 * needs, set up once by the agent before the probe is attached.
 */
#ifndef UPROBES_LANG_HIT_H
#define UPROBES_LANG_HIT_H

#include "lang/program.h"
#include "uprobes.h"

struct stack_table;

struct lang_hit {
	const struct plan *plan;
	uint32_t probe; /* the plan's probe (the program's probe index) */
	int ret;	/* a uretprobe: retval is rax */
	const struct lang_env_ops *ops; /* lang_hit_ops */
	struct map_region *region;
	const char *func, *probe_text; /* the func and probe builtins */
	uint64_t latency_mult, start_tsc;
	uint64_t errors; /* str() faults (atomic) */
	struct stack_table *stacks; /* ustack keys intern here (NULL: their id is 0) */
	bool at_entry;		    /* the probe is a function's first instruction */
};

/* The target's environment: the region's maps, fault-safe str(), no emit yet. */
void lang_hit_ops(struct lang_env_ops *ops);
/* trace_event_agg.run (ctx: struct lang_hit): signal-safe. */
void lang_hit_run(void *ctx, const struct uprobe_regs *regs, uint64_t entry_tsc,
		  const uint64_t *args);

#endif
