/* SPDX-License-Identifier: MIT */
/* The handlers bench_lang attaches: a compiled program's plan run at each hit. */
#ifndef BENCH_LANG_HANDLERS_H
#define BENCH_LANG_HANDLERS_H

#include "lang/program.h"
#include "uprobes.h"

/* One probe of a program: its plan (entry and, for the latency idiom, return). */
struct bench_lang {
	const struct plan *plan;
	uint32_t entry, ret; /* probe indexes in the plan */
	struct map_region *region;
	struct lang_env_ops ops;
};

void bench_lang_entry(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
void bench_lang_return(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		       void *ctx);

#endif
