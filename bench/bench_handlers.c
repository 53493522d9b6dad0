/* SPDX-License-Identifier: MIT */
/* Built with -mgeneral-regs-only (bench/module.mk): see bench_handlers.h. */
#include "bench_handlers.h"

void bench_empty_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	(void)probe;
	(void)regs;
	(void)ctx;
}

void bench_args_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	struct arg_ring *r = ctx;
	uint64_t i = r->head++ & (ARG_RING_LEN - 1);

	(void)probe;
	r->e[i].rdi = regs->rdi;
	r->e[i].rsi = regs->rsi;
}
