/* SPDX-License-Identifier: MIT */
/* Private to trace/output: folded stacks as folded.c keeps them, for flamegraph.c. */
#ifndef UPROBES_TRACE_OUTPUT_FOLDED_H
#define UPROBES_TRACE_OUTPUT_FOLDED_H

#include <stddef.h>
#include <stdint.h>

#include "uprobes_stack.h"

struct folded_entry {
	char *key; /* "root;...;leaf", no ';' inside a name, no line break */
	uint64_t count;
};

/* The entries sorted by key (malloc'd array, free() it): their number, or -ENOMEM. */
long folded_sorted(const struct uprobe_folded *f, const struct folded_entry ***out);

#endif
