/* SPDX-License-Identifier: MIT */
/*
 * The handlers bench_map attaches (built with -mgeneral-regs-only: they run
 * with UPROBE_F_HANDLER_NO_SIMD): bpftrace's @ = count(), @[arg0] = count()
 * and @ = hist(arg0), each one map_agg_update into the region at ctx.
 */
#include "bench_map_handlers.h"

void bench_map_count(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	struct bench_maps *m = ctx;

	(void)probe;
	(void)regs;
	map_agg_update(m->region, m->count, NULL, 1);
}

void bench_map_keyed(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	struct bench_maps *m = ctx;
	uint64_t key = regs->rdi & 1023;

	(void)probe;
	map_agg_update(m->region, m->keyed, &key, 1);
}

void bench_map_hist(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	struct bench_maps *m = ctx;

	(void)probe;
	map_agg_update(m->region, m->hist, NULL, (int64_t)regs->rdi);
}
