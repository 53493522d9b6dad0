/* SPDX-License-Identifier: MIT */
/*
 * Return probes on the site path (issue 18): the function's exits patched
 * instead of the return address swapped (retprobe.c, the fallback).
 *
 * At each exit the analysis (retsite.c) found, a 5-byte jump goes to an
 * exit trampoline: it runs the window's instructions before the exit
 * (relocated), saves the registers as at the exit, calls retpatch_exit(),
 * restores them and executes the exit itself (ret, or the tail jump). The
 * ret is a real ret: the return stack buffer still pairs it with its call.
 *
 * Entries and exits pair through a per-thread stack of entry records that
 * keep the entry's stack pointer: an exit reports the records pushed at its
 * own sp (every consumer of that call); records of frames below it on the
 * same stack are gone (longjmp, exceptions, a call that never returned) and
 * are reported unwound. A tail jump out hands the call over to the hijack
 * at that moment (the callee's return is the function's), so that the
 * return handler still sees the final return value.
 */
#ifndef UPROBES_CORE_RETPATCH_H
#define UPROBES_CORE_RETPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/resolve.h"
#include "core/retprobe.h"
#include "core/srcu.h"

/*
 * UPROBE_RET_PATH (read at each attach): unset or "site", the exits are
 * patched where the analysis allows, else the hijack; "hijack", always the
 * hijack (side-by-side measurement); "site-strict", a return probe whose
 * exits cannot be patched is refused (ENOTSUP) instead of taking the hijack:
 * for running the tests with the fallback off; "site-only", site-strict and
 * no return address ever swapped: a function with a tail jump out (whose
 * exit hands the call to the hijack) is refused too, and an exit that
 * cannot be written leaves its probe's returns unfollowed instead.
 * retpatch_force() sets site-only whatever the environment says.
 */
enum retpatch_mode { RETPATCH_SITE, RETPATCH_HIJACK, RETPATCH_STRICT, RETPATCH_ONLY };
enum retpatch_mode retpatch_mode(void);

/*
 * From now on, site-only (see above), because of why (quoted in every
 * refusal): the agent in a running process (attach mode) that maps
 * libstdc++, whose unwinders are not interposed there and would unwind into
 * the return trampoline.
 */
void retpatch_force_site_only(const char *why);

/*
 * Decide p's return path at t (p->ret_site) and, for the site path, get the
 * exit records ready (built and published, or reused; marked pending).
 * 0, or -ENOTSUP (message set) under site-strict. Caller holds registry_lock.
 */
int retpatch_prepare(struct uprobe *p, const struct probe_target *t);

/*
 * Before the batch's entries go in: put in the exits of its site probes
 * (int3, then the jumps). A probe whose exits could not all go in falls back
 * to the hijack. Caller holds registry_lock.
 */
void retpatch_arm(struct uprobe **probes, size_t n);

/*
 * After probes were unlinked and their entries taken out: take out the exits
 * of the functions left without a site consumer. Caller holds registry_lock.
 */
void retpatch_release(struct uprobe **probes, size_t n);

/* Counted in core_stats once p is attached (the batch armed it) or detached. */
void retpatch_count(const struct uprobe *p, int delta);

/*
 * Entry side, in the consumer loop (read section held, srcu id >= 0): record
 * this call of rec for consumer c, whose return address is at sp. Returns
 * the call's cookie, or NULL when not followed (counted as missed).
 * retpatch_push_fast() below is the same, inlined where nothing is to drop.
 */
uint64_t *retpatch_push(struct probe_rec *rec, struct uprobe *c, uint64_t sp, int id);

/* The per-thread stack of entry records (retpatch_hot.c). */
/* 64 bytes: one cache line, indexed by a shift. */
struct rp_entry {
	uint64_t sp; /* the entry's rsp: where the return address is */
	uint64_t ra; /* the return address */
	struct probe_rec *rec;
	struct uprobe *c;
	uint64_t c_id;
	uint64_t cookie;
	uint64_t fn; /* rec->addr: an exit tests it without loading rec */
	uint64_t pad;
} __attribute__((aligned(64)));

/*
 * n and busy share one word (nb) so that the hot paths test both with one
 * compare: busy clear and n below the depth (push), busy clear and n not 0
 * (exit); they store nb whole (busy is clear there: see below), the slow
 * paths busy and n apart. busy keeps a signal handler's push or exit off the
 * stack while a slow path or a normal-context walk (retpatch_drop_orphans,
 * rp_drop) changes it; the two fast paths below need not set it: they run
 * inside a read section, where a signal handler's probes follow no call
 * (srcu_read_lock() < 0) and so never touch the stack.
 */
struct rp_stack {
	union {
		struct {
			unsigned n;
			unsigned busy;
		};
		uint64_t nb;
	};
	struct rp_entry e[UPROBE_RET_DEPTH];
};

/* The thread's record stack, or NULL before its first push: beside its srcu slot (srcu.h). */
#define rp_self (srcu_tls.rp)

/*
 * retpatch_push() inlined into the entry's consumer loop for the common
 * case: the stack made, not busy, not full, its top (if any) an older live
 * frame (above sp, and no stack but the threads' own registered: then it
 * is on this stack and live, ret_frame_gone() would say no), the return
 * address not the hijack's. Anything else: retpatch_push(). Read section
 * held (id >= 0): busy is not set (see struct rp_stack).
 */
static inline __attribute__((always_inline)) uint64_t *
retpatch_push_fast(struct probe_rec *rec, struct uprobe *c, uint64_t sp, int id)
{
	struct rp_stack *rs = rp_self;
	struct rp_entry *e;
	uint64_t ra, nb;

	if (__builtin_expect(!rs, 0))
		return retpatch_push(rec, c, sp, id);
	nb = rs->nb; /* n, busy clear: nb < UPROBE_RET_DEPTH */
	ra = *(uint64_t *)sp;
	if (__builtin_expect(nb >= UPROBE_RET_DEPTH ||
				     (nb && (rs->e[nb - 1].sp <= sp ||
					     __atomic_load_n(&ret_nstacks, __ATOMIC_RELAXED))) ||
				     ra == __atomic_load_n(&ret_tramp, __ATOMIC_RELAXED),
			     0))
		return retpatch_push(rec, c, sp, id);
	e = &rs->e[nb];
	e->sp = sp;
	e->ra = ra;
	e->rec = rec;
	e->c = c;
	e->c_id = c->id;
	e->cookie = 0;
	e->fn = rec->addr;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->nb = nb + 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return &e->cookie;
}

/* An exit record: a probe_rec whose trampoline reports the function's returns. */
struct retpatch_exit {
	struct probe_rec rec; /* first: the registry holds &rec */
	uint64_t fn;	      /* the function's entry */
	uint8_t kind;	      /* enum arch_exit_kind */
	bool nofl;	      /* EXIT_NOFLAGS: its trampoline does not read rflags */
};

/*
 * The exit trampolines' C side at a ret (tramp_dispatch_fn; retpatch_exit.c, built
 * without callee-saved registers: the trampoline reloads them all).
 */
int retpatch_exit(void *exit, struct uprobe_regs *regs);

/* The same for the exits that are tail jumps out (retpatch_hot.c): always the slow path. */
int retpatch_exit_tail(void *exit, struct uprobe_regs *regs);

/*
 * Every exit but the common case (retpatch_exit.c): several records of the
 * call, records to drop, none, a consumer not the probe's first, a tail
 * jump out. Read section held (id >= 0); called before anything has touched
 * the SIMD registers since the exit (it reads xmm0 and xmm1 for the report).
 */
void retpatch_exit_slow(const struct retpatch_exit *x, struct uprobe_regs *regs, int id);

/*
 * Unwinders (retunwind.c), sp the caller's stack pointer: resync, the
 * calls below sp on this stack were unwound (a catch); exit_thread, every
 * call is left (pthread_exit). Both report them unwound.
 */
void retpatch_resync(uint64_t sp);
void retpatch_exit_thread(void);

/*
 * The hijack reports the frame at slot unwound (retprobe.c, read section
 * held, srcu id): this thread's records below it on its stack are gone too,
 * and newer: reported first, so that one unwind's reports come newest first
 * across both paths. Signal-safe; nothing while a push or exit is under way.
 */
void retpatch_drop_newer(uint64_t slot, int id);

/*
 * Detach (registry_lock): the calling thread's records of consumers detached
 * are dropped now, counted as orphaned returns (the exits may be gone before
 * they return). Other threads' are when next met.
 */
void retpatch_drop_orphans(void);

/* Thread end (pthread key destructor): what is left is reported unwound. */
void retpatch_thread_end(void *stack);
extern pthread_key_t retpatch_key;

#endif
