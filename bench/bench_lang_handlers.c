/* SPDX-License-Identifier: MIT */
/*
 * The handlers bench_lang attaches (built with -mgeneral-regs-only: they run
 * with UPROBE_F_HANDLER_NO_SIMD): the builtins a plan may read, from the
 * registers (arg0-arg5, retval), the TSC (nsecs: a cost stand-in, not
 * nanoseconds) and a per-thread cached tid; then, for a probe of a common
 * shape, lang_fast_run (as the target's handler, src/lang/hit.c), else
 * plan_eval on the region.
 */
#include <unistd.h>

#include "arch/arch.h"
#include "bench_lang_handlers.h"
#include "lang/fast.h"

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

/*
 * A shape's builtin (lang/fast.h), as the handlers below give them to the
 * interpreter; *now: the TSC, read once per hit (0 until read).
 */
static inline __attribute__((always_inline)) uint64_t fast_int(const struct uprobe_regs *regs, uint8_t b, uint64_t *now)
{
	switch (b) {
	case B_ARG0 ... B_ARG5:
		return arch_regs_arg(regs, b - B_ARG0);
	case B_RETVAL:
		return regs->rax;
	case B_TID:
		return tid();
	case B_NSECS:
		if (!*now)
			*now = tsc();
		return *now;
	default:
		return 0;
	}
}

/* A probe of a common shape: as src/lang/hit.c's hit_fast, with the builtins above. */
static inline __attribute__((always_inline)) void run_fast(struct bench_lang *b,
							   const struct plan_fast *f,
							   struct uprobe_regs *regs)
{
	uint64_t now = 0, key;

	if (lang_fast_is_count(f)) {
		key = f->key == PF_NO ? 0 : fast_int(regs, f->key, &now);
		map_agg_count(b->region, f->map, &key);
		return;
	}
	key = fast_int(regs, f->key, &now);
	lang_fast_run(f, b->region, key, fast_int(regs, f->val, &now));
}

/* Only the builtins the probe's plan reads (plan_probe.uses). */
#define USES(b, p, id) ((b)->plan->probes[p].uses & (1u << (id)))

/* The interpreter's probes: out of line, as hit.c's hit_general. */
static __attribute__((noinline)) void run_general_entry(struct bench_lang *b,
							 struct uprobe_regs *regs)
{
	uint64_t args[6] = { regs->rdi, regs->rsi, regs->rdx, regs->rcx, regs->r8, regs->r9 };
	struct lang_env env = { .ops = &b->ops, .ctx = b->region, .args = args,
				.tid = USES(b, b->entry, B_TID) ? tid() : 0,
				.nsecs = USES(b, b->entry, B_NSECS) ? tsc() : 0 };

	plan_eval(b->plan, b->entry, &env);
}

static __attribute__((noinline)) void run_general_return(struct bench_lang *b,
							  struct uprobe_regs *regs)
{
	struct lang_env env = { .ops = &b->ops, .ctx = b->region, .retval = regs->rax,
				.tid = USES(b, b->ret, B_TID) ? tid() : 0,
				.nsecs = USES(b, b->ret, B_NSECS) ? tsc() : 0 };

	plan_eval(b->plan, b->ret, &env);
}

/*
 * As lang_hit_run: the latency idiom's probes (plan_fast.tidns) on tid and
 * the clock, the other shapes on their builtins, the rest interpreted.
 */
void bench_lang_entry(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	struct bench_lang *b = ctx;
	const struct plan_fast *f = &b->plan->probes[b->entry].fast;

	(void)probe;
	if (f->tidns)
		lang_fast_tidns(f, b->region, tid(), tsc());
	else if (f->kind != PF_NONE)
		run_fast(b, f, regs);
	else
		run_general_entry(b, regs);
}

void bench_lang_return(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		       void *ctx)
{
	struct bench_lang *b = ctx;
	const struct plan_fast *f = &b->plan->probes[b->ret].fast;

	(void)probe;
	(void)ret;
	if (f->tidns)
		lang_fast_tidns(f, b->region, tid(), tsc());
	else if (f->kind != PF_NONE)
		run_fast(b, f, regs);
	else
		run_general_return(b, regs);
}
