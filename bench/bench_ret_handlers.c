/* SPDX-License-Identifier: MIT */
/* Built with -mgeneral-regs-only (bench/ret.mk): see bench_ret_handlers.h. */
#include "bench_ret_handlers.h"

void bench_ret_entry_empty(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	(void)probe;
	(void)regs;
	(void)ctx;
}

void bench_ret_ret_empty(struct uprobe *probe, struct uprobe_regs *regs,
			 const struct uprobe_ret *ret, void *ctx)
{
	(void)probe;
	(void)regs;
	(void)ret;
	(void)ctx;
}

void bench_ret_entry_cookie(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	uint64_t *cookie = uprobe_cookie();

	(void)probe;
	if (cookie)
		*cookie = regs->rdi;
	else
		((struct ret_ring *)ctx)->no_cookie++;
}

void bench_ret_ret_rax(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		       void *ctx)
{
	struct ret_ring *r = ctx;
	uint64_t i = r->head++ & (RET_RING_LEN - 1);

	(void)probe;
	r->e[i].cookie = ret->cookie;
	r->e[i].rax = regs->rax;
}
