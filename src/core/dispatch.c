/* SPDX-License-Identifier: MIT */
/*
 * The trap path. Runs in signal context on the probed thread, possibly inside
 * malloc or holding any lock: no libc, no locks, no allocation (built with
 * -fno-builtin -mgeneral-regs-only).
 *
 *   breakpoint at addr  ->  SIGTRAP (arch_trap_decode: x86-64's int3 leaves
 *                           rip = addr + 1, aarch64's brk pc = addr)
 *     record active?   no: the probe went away meanwhile; pc = addr, replay
 *     consumers        each handler, unless this thread is already in one
 *     handler moved pc?  resume there, instruction not executed
 *     emulate          registers/stack updated here
 *     xol              pc = slot: [insn][jmp/b addr+len]
 *     singlestep       (x86-64) rip = slot, TF set; the next trap (TRAP_TRACE)
 *                      lands in dispatch_singlestep(), which fixes rip and the stack
 *
 * Every architecture's specifics are arch/arch.h's hooks.
 */
#include "arch/arch.h"
#include "core/core.h"
#include "core/retpatch.h"
#include "core/retprobe.h"
#include "core/srcu.h"
#include "util/ctor.h"

#define SS_DEPTH 4

struct core_stats core_stats;

/* The count stub's per-thread base (arch/x86_64/trampoline.h); a fork child's is reset. */
__thread uint8_t *uprobes_count_base
	__attribute__((tls_model("initial-exec"), visibility("hidden")));

_Static_assert(__builtin_offsetof(struct probe_rec, count_slot) == 24,
	       "tramp_templates.S reads count_slot at 24");

#ifdef __x86_64__
#include "arch/x86_64/lean_abi.h"

/* uprobes_lean_body's fast path reads these (arch/x86_64/lean_abi.h). */
_Static_assert(__builtin_offsetof(struct probe_rec, addr) == LEAN_REC_ADDR, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct probe_rec, consumers) == LEAN_REC_CONSUMERS, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct uprobe, next) == LEAN_C_NEXT, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct uprobe, fast_hits) == LEAN_C_FAST_HITS, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct uprobe, handler) == LEAN_C_HANDLER, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct uprobe, ret_handler) == LEAN_C_RET_HANDLER, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct uprobe, ctx) == LEAN_C_CTX, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct uprobe, hits) == LEAN_C_HITS, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct srcu_slot, seq) == 0, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct srcu_slot, id) == LEAN_SLOT_ID, "lean_abi.h");
_Static_assert(__builtin_offsetof(struct srcu_tls, self) == 0, "lean_abi.h");
_Static_assert(CORE_FAST_IDS == LEAN_FAST_IDS, "lean_abi.h");
_Static_assert(sizeof(struct hit_line) == 1 << LEAN_HIT_LINE_SHIFT, "lean_abi.h");
#endif

void uprobe_count_thread(void *base)
{
	uprobes_count_base = base;
}

/* The count stub's base, set aside while the thread is quiet. */
static __thread uint8_t *quiet_count_base __attribute__((tls_model("initial-exec")));

void core_quiet(bool on)
{
	if (on == srcu_tls.quiet)
		return;
	/*
	 * quiet is set before self goes and cleared after it is back: a signal
	 * handler's hit in between finds a slot, or quiet, never neither (which
	 * would claim the thread a second slot).
	 */
	if (on) {
		quiet_count_base = uprobes_count_base;
		uprobes_count_base = NULL; /* the stub misses to the C path, which skips */
		srcu_tls.quiet_self = srcu_tls.self;
		srcu_tls.quiet = true;
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		srcu_tls.self = NULL;
		return;
	}
	srcu_tls.self = srcu_tls.quiet_self;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	srcu_tls.quiet = false;
	uprobes_count_base = quiet_count_base;
}

static void count_atfork_child(void)
{
	uprobes_count_base = NULL; /* the parent's thread's words: never the child's */
}

UPROBES_CTOR_EARLY static void count_init(void)
{
	pthread_atfork(NULL, NULL, count_atfork_child);
}

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
	if (!arch_step_end(&ss.rec->insn, ss.rec->slot, ss.tf, &regs))
		return true; /* a rep iteration: TF stays set, step again */
	ss_depth--;
	regs_to_ucontext(&regs, uc);
	return true;
}

/* A hit of consumer c by the thread of srcu id (>= 0): its own line, a locked add past them. */
static inline __attribute__((always_inline)) void consumer_count(struct uprobe *c, int id)
{
	if (__builtin_expect(id < CORE_FAST_IDS, 1))
		__atomic_store_n(&c->fast_hits[id].n, c->fast_hits[id].n + 1, __ATOMIC_RELAXED);
	else
		stat_inc(&c->hits);
}

/* Follow this call of rec for return consumer c (read section held): the call's cookie. */
static inline __attribute__((always_inline)) uint64_t *
consumer_follow(struct probe_rec *rec, struct uprobe *c, struct uprobe_regs *regs, int id)
{
	return c->ret_site.path == UPROBE_RET_SITE
		       ? retpatch_push_fast(rec, c, arch_regs_sp(regs), id)
		       : ret_push(rec, c, regs, id);
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
			ret_cur_cookie = consumer_follow(rec, c, regs, id);
			if (c->handler)
				c->handler(c, regs, c->ctx);
			ret_cur_cookie = NULL;
		} else if (c->handler) {
			c->handler(c, regs, c->ctx);
		}
		consumer_count(c, id);
		if (may_step && rec->mode == UPROBE_MODE_SINGLESTEP)
			stat_inc(&c->singlesteps);
	}
	srcu_read_unlock_id(id);
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

static void dispatch_execute(struct probe_rec *rec, struct uprobe_regs *regs, ucontext_t *uc)
{
	switch (rec->mode) {
	case UPROBE_MODE_EMULATE:
		arch_trap_emulate(&rec->insn, regs, uc);
		break;
	case UPROBE_MODE_SINGLESTEP:
		ss_push(rec, arch_step_begin(regs, rec->slot));
		stat_inc(&core_stats.singlesteps);
		break;
	case UPROBE_MODE_OPTIMIZED:
		/*
		 * The jump is being put in or taken out: run the whole window's copy
		 * (none: a one-instruction window of an emulated instruction).
		 */
		if (rec->copy)
			arch_regs_set_pc(regs, rec->copy);
		else
			arch_trap_emulate(&rec->insn, regs, uc);
		break;
	default:
		arch_regs_set_pc(regs, rec->slot);
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
	uint64_t pc = arch_regs_pc(regs), sp = arch_regs_sp(regs), flags = arch_regs_flags(regs);

	consumers_call(rec, regs, false);
	if (arch_regs_pc(regs) == pc && arch_regs_sp(regs) == sp &&
	    (!rec->at_entry || arch_regs_flags(regs) == flags))
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
	if (__builtin_expect(arch_regs_pc(regs) == rec->addr &&
				     arch_regs_sp(regs) == (uint64_t)regs + ARCH_TRAMP_REGS_BELOW_SP, 1))
		return 0;
	redirect_rec = rec;
	return 1;
}

/*
 * uprobes_lean_body's fast path at a return probe's entry, read section held
 * (id >= 0): follow the call (consumers_call's return branch, the handler
 * left to the caller, which clears ret_cur_cookie after it) and count the hit.
 */
void dispatch_lean_ret_enter(void *recp, struct uprobe *c, struct uprobe_regs *regs, int id)
{
	struct probe_rec *rec = recp;

	/* Counted first: nothing then lives across the push's calls (no callee-saved pushes). */
	consumer_count(c, id);
	ret_cur_cookie = consumer_follow(rec, c, regs, id);
}

/*
 * uprobes_lean_body's fast path found rip or rsp moved by the handler: the
 * redirect trap that follows is rec's (dispatch_redirect).
 */
void dispatch_lean_redirect(void *recp)
{
	redirect_rec = recp;
}

/*
 * From a trampoline that restores every register itself and leaves through its
 * own redirect trap when it cannot (aarch64's, arch_jump_build).
 */
void dispatch_jump(void *recp, struct uprobe_regs *regs)
{
	consumers_call(recp, regs, false);
}

/* The redirect trap: the registers the handler edited, as the trampoline left them. */
static void dispatch_redirect(ucontext_t *uc)
{
	struct probe_rec *rec = redirect_rec;

	redirect_rec = NULL;
	arch_redirect(uc, rec ? &rec->win : NULL, rec ? rec->addr : 0, rec ? rec->copy : 0);
}

static bool dispatch_breakpoint(ucontext_t *uc, uint64_t addr)
{
	struct probe_rec *rec = registry_lookup(addr);
	struct uprobe_regs regs;

	if (!rec)
		return false;
	if (!__atomic_load_n(&rec->active, __ATOMIC_ACQUIRE)) {
		/* Trapped just before the breakpoint was removed: run the original instruction. */
		arch_uc_set_pc(uc, addr);
		stat_inc(&core_stats.stale_traps);
		return true;
	}
	regs_from_ucontext(&regs, uc);
	arch_regs_set_pc(&regs, addr);
	dispatch_consumers(rec, &regs);
	if (arch_regs_pc(&regs) == addr)
		dispatch_execute(rec, &regs, uc);
	regs_to_ucontext(&regs, uc);
	return true;
}

bool dispatch_trap(siginfo_t *si, ucontext_t *uc)
{
	uint64_t addr = 0;

	switch (arch_trap_decode(si, uc, &addr)) {
	case ARCH_TRAP_REDIRECT:
		dispatch_redirect(uc);
		return true;
	case ARCH_TRAP_BREAKPOINT:
		return dispatch_breakpoint(uc, addr);
	case ARCH_TRAP_STEP:
		return dispatch_singlestep(uc);
	default:
		return false;
	}
}
