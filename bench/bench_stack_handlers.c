/* SPDX-License-Identifier: MIT */
/*
 * bench_stack's probe handlers, built -mgeneral-regs-only (attached with
 * UPROBE_F_HANDLER_NO_SIMD): one that does nothing, one that captures the
 * stack into the table (what a plan evaluator's ustack does at a hit).
 */
#include "stack/stack.h"

struct stack_table *bench_stack_table;
unsigned int bench_stack_depth = 16;
unsigned long bench_stack_failed;
uint64_t bench_stack_last; /* the last stack's id */

void bench_stack_empty(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p;
	(void)regs;
	(void)ctx;
}

void bench_stack_capture(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	uint64_t id;

	(void)p;
	(void)ctx;
	if (stack_capture(bench_stack_table, regs, true, bench_stack_depth, &id))
		bench_stack_failed++;
	else
		bench_stack_last = id;
}
