/* SPDX-License-Identifier: MIT */
/*
 * The trap path. Runs in signal context on the probed thread, possibly inside
 * malloc or holding any lock: no libc, no locks, no allocation (built with
 * -fno-builtin -mgeneral-regs-only).
 *
 *   int3 at addr  ->  SIGTRAP (si_code SI_KERNEL, rip = addr + 1)
 *     record active?   no: the probe went away meanwhile; rip = addr, replay
 *     consumers        each handler, unless this thread is already in one
 *     handler moved rip?  resume there, instruction not executed
 *     emulate          registers/stack updated here
 *     xol              rip = slot: [insn][jmp addr+len]
 *     singlestep       rip = slot, TF set; the next trap (TRAP_TRACE) lands
 *                      in dispatch_singlestep(), which fixes rip and the stack
 */
#include "arch/arch.h"
#include "core/core.h"
#include "core/retpatch.h"
#include "core/retprobe.h"
#include "core/srcu.h"

#define FL_TF (1ull << 8)
#define SS_DEPTH 4

struct core_stats core_stats;

/* Per-thread stack of single-steps in flight (a signal handler can nest one). */
struct ss_pending {
	const struct probe_rec *rec;
	uint64_t tf; /* the program's own trap flag */
};

static __thread struct ss_pending ss_stack[SS_DEPTH] __attribute__((tls_model("initial-exec")));
static __thread unsigned ss_depth __attribute__((tls_model("initial-exec")));
/* Set by dispatch_optimized for the redirect trap that follows on this thread. */
static __thread struct probe_rec *redirect_rec __attribute__((tls_model("initial-exec")));

static void stat_inc(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static void ss_push(const struct probe_rec *rec, uint64_t tf)
{
	if (ss_depth == SS_DEPTH) {
		/* Oldest entries belong to steps abandoned by a longjmp: drop them. */
		for (unsigned i = 1; i < SS_DEPTH; i++)
			ss_stack[i - 1] = ss_stack[i];
		ss_depth--;
	}
	ss_stack[ss_depth].rec = rec;
	ss_stack[ss_depth].tf = tf;
	ss_depth++;
}

static bool dispatch_singlestep(ucontext_t *uc)
{
	struct uprobe_regs regs;
	struct ss_pending ss;

	if (!ss_depth)
		return false;
	ss = ss_stack[ss_depth - 1];
	regs_from_ucontext(&regs, uc);
	if (!arch_singlestep_fixup(&ss.rec->insn, ss.rec->slot, ss.tf, &regs))
		return true; /* a rep iteration: TF stays set, step again */
	ss_depth--;
	regs.rflags = (regs.rflags & ~FL_TF) | ss.tf;
	regs_to_ucontext(&regs, uc);
	return true;
}

/*
 * Call every consumer's handler; a thread already in a handler only counts.
 * A consumer with a return handler follows the call first (ret_push), so
 * that its entry handler can set the call's cookie. Inlined in both paths:
 * the jump-optimized one then runs a single C frame between the trampoline
 * and the handler (one set of callee-saved pushes, no inner call), and the
 * single-step count is folded away where the mode cannot be single-step.
 */
static inline __attribute__((always_inline)) void consumers_call(struct probe_rec *rec,
								  struct uprobe_regs *regs,
								  bool may_step)
{
	int id = srcu_read_lock();

	for (struct uprobe *c = __atomic_load_n(&rec->consumers, __ATOMIC_ACQUIRE); c;
	     c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE)) {
		if (__builtin_expect(id < 0, 0)) {
			probe_count_skipped(c);
			continue;
		}
		if (c->ret_handler) {
			ret_cur_cookie =
				c->ret_site.path == UPROBE_RET_SITE
					? retpatch_push_fast(rec, c, arch_regs_sp(regs), id)
					: ret_push(rec, c, arch_regs_sp(regs), id);
			if (c->handler)
				c->handler(c, regs, c->ctx);
			ret_cur_cookie = NULL;
		} else if (c->handler) {
			c->handler(c, regs, c->ctx);
		}
		if (__builtin_expect(id < CORE_FAST_IDS, 1))
			__atomic_store_n(&c->fast_hits[id].n, c->fast_hits[id].n + 1,
					 __ATOMIC_RELAXED);
		else
			stat_inc(&c->hits);
		if (may_step && rec->mode == UPROBE_MODE_SINGLESTEP)
			stat_inc(&c->singlesteps);
	}
	srcu_read_unlock();
}

static void dispatch_consumers(struct probe_rec *rec, struct uprobe_regs *regs)
{
	consumers_call(rec, regs, true);
}

uint64_t probe_hits(const struct uprobe *p, bool ret)
{
	uint64_t n = __atomic_load_n(ret ? &p->ret_hits : &p->hits, __ATOMIC_RELAXED);

	for (unsigned i = 0; i < CORE_FAST_IDS; i++)
		n += __atomic_load_n(ret ? &p->fast_hits[i].ret : &p->fast_hits[i].n,
				     __ATOMIC_RELAXED);
	return n;
}

void probe_sum(const struct uprobe *p, struct hit_sums *sums)
{
	sums->hits += probe_hits(p, false);
	sums->ret_hits += probe_hits(p, true);
	sums->skipped += __atomic_load_n(&p->skipped, __ATOMIC_RELAXED);
	sums->ret_unwound += __atomic_load_n(&p->ret_unwound, __ATOMIC_RELAXED);
	sums->ret_missed += __atomic_load_n(&p->ret_missed, __ATOMIC_RELAXED);
}

static void dispatch_execute(struct probe_rec *rec, struct uprobe_regs *regs)
{
	switch (rec->mode) {
	case UPROBE_MODE_EMULATE:
		arch_emulate(&rec->insn, regs);
		break;
	case UPROBE_MODE_SINGLESTEP:
		ss_push(rec, regs->rflags & FL_TF);
		stat_inc(&core_stats.singlesteps);
		regs->rflags |= FL_TF;
		regs->rip = rec->slot;
		break;
	case UPROBE_MODE_OPTIMIZED:
		/* The jump is being put in or taken out: run the whole window's copy. */
		regs->rip = rec->copy;
		break;
	default:
		regs->rip = rec->slot;
		break;
	}
}

/*
 * From a trampoline (not signal context, but just as constrained: the
 * program may be anywhere). Non-zero asks the trampoline to take the
 * redirect trap because the handler changed what it cannot restore itself.
 */
int dispatch_optimized(void *recp, struct uprobe_regs *regs)
{
	struct probe_rec *rec = recp;
	uint64_t rip = regs->rip, rsp = regs->rsp, flags = regs->rflags;

	consumers_call(rec, regs, false);
	if (regs->rip == rip && regs->rsp == rsp && (!rec->at_entry || regs->rflags == flags))
		return 0;
	redirect_rec = rec;
	return 1;
}

/*
 * From a lean trampoline at a function entry: rip and rsp are known without
 * reading the frame (the probe's address; the trampoline put regs a fixed
 * distance below the thread's rsp), and rflags are not compared: the
 * trampoline neither read nor restores them, they are dead at an entry (see
 * tramp_templates.S), so a handler's write to regs->rflags has no effect.
 */
int dispatch_entry_lean(void *recp, struct uprobe_regs *regs)
{
	struct probe_rec *rec = recp;

	consumers_call(rec, regs, false);
	if (__builtin_expect(regs->rip == rec->addr &&
				     regs->rsp == (uint64_t)regs + TRAMP_REGS_BELOW_RSP, 1))
		return 0;
	redirect_rec = rec;
	return 1;
}

/* An address inside rec's window (now a jump) maps to the same instruction of the copy. */
static uint64_t window_to_copy(const struct probe_rec *rec, uint64_t rip)
{
	if (rip < rec->addr || rip >= rec->addr + rec->win.len)
		return rip;
	for (unsigned k = 0; k < rec->win.n; k++)
		if (rip == rec->addr + rec->win.orig_off[k])
			return rec->copy + rec->win.copy_off[k];
	return rip;
}

/* The redirect trap: rsp points at the uprobe_regs the handler edited. */
static void dispatch_redirect(ucontext_t *uc)
{
	struct uprobe_regs regs = *(struct uprobe_regs *)uc->uc_mcontext.gregs[REG_RSP];

	if (redirect_rec)
		regs.rip = window_to_copy(redirect_rec, regs.rip);
	redirect_rec = NULL;
	regs_to_ucontext(&regs, uc);
}

static bool dispatch_breakpoint(ucontext_t *uc)
{
	uint64_t addr = uc->uc_mcontext.gregs[REG_RIP] - 1;
	struct probe_rec *rec = registry_lookup(addr);
	struct uprobe_regs regs;

	if (!rec)
		return false;
	if (!__atomic_load_n(&rec->active, __ATOMIC_ACQUIRE)) {
		/* Trapped just before the int3 was removed: run the original bytes. */
		uc->uc_mcontext.gregs[REG_RIP] = addr;
		stat_inc(&core_stats.stale_traps);
		return true;
	}
	regs_from_ucontext(&regs, uc);
	regs.rip = addr;
	dispatch_consumers(rec, &regs);
	if (regs.rip == addr)
		dispatch_execute(rec, &regs);
	regs_to_ucontext(&regs, uc);
	return true;
}

bool dispatch_trap(siginfo_t *si, ucontext_t *uc)
{
	if (si->si_code == SI_KERNEL) {
		if ((uint64_t)uc->uc_mcontext.gregs[REG_RIP] - 1 == arch_redirect_trap_addr()) {
			dispatch_redirect(uc);
			return true;
		}
		return dispatch_breakpoint(uc);
	}
	if (si->si_code == TRAP_TRACE)
		return dispatch_singlestep(uc);
	return false;
}
