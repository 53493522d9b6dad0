/* SPDX-License-Identifier: MIT */
/*
 * The handlers bench_lang attaches (built with -mgeneral-regs-only: they run
 * with UPROBE_F_HANDLER_NO_SIMD): the builtins a plan may read, from the
 * registers (arg0-arg5, retval), the TSC (nsecs: a cost stand-in, not
 * nanoseconds) and a per-thread cached tid; then plan_eval on the region.
 */
#include <unistd.h>

#include "bench_lang_handlers.h"

static __thread uint64_t tid_cache __attribute__((tls_model("initial-exec")));

static uint64_t tid(void)
{
	if (!tid_cache)
		tid_cache = (uint64_t)gettid();
	return tid_cache;
}

static uint64_t tsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

/* Only the builtins the probe's plan reads (plan_probe.uses). */
#define USES(b, p, id) ((b)->plan->probes[p].uses & (1u << (id)))

void bench_lang_entry(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	struct bench_lang *b = ctx;
	uint64_t args[6] = { regs->rdi, regs->rsi, regs->rdx, regs->rcx, regs->r8, regs->r9 };
	struct lang_env env = { .ops = &b->ops, .ctx = b->region, .args = args,
				.tid = USES(b, b->entry, B_TID) ? tid() : 0,
				.nsecs = USES(b, b->entry, B_NSECS) ? tsc() : 0 };

	(void)probe;
	plan_eval(b->plan, b->entry, &env);
}

void bench_lang_return(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		       void *ctx)
{
	struct bench_lang *b = ctx;
	struct lang_env env = { .ops = &b->ops, .ctx = b->region, .retval = regs->rax,
				.tid = USES(b, b->ret, B_TID) ? tid() : 0,
				.nsecs = USES(b, b->ret, B_NSECS) ? tsc() : 0 };

	(void)probe;
	(void)ret;
	plan_eval(b->plan, b->ret, &env);
}
