/* SPDX-License-Identifier: MIT */
/*
 * Return probes: the per-thread shadow stack behind the return trampoline.
 *
 * At a probed entry, ret_push() saves the return address and puts the
 * trampoline's address in its place; at the return, dispatch_return() (called
 * by the trampoline) pops it, runs the return handlers and sends the thread
 * back to the caller. Unwinders must see the real return addresses: while one
 * walks the stack, the slots hold them again ("unhooked", see retunwind.c).
 */
#ifndef UPROBES_CORE_RETPROBE_H
#define UPROBES_CORE_RETPROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "arch/arch.h"
#include "core/core.h"

/*
 * Entry side, inside the consumer loop (read section held): follow this call
 * of rec for consumer c, regs at the function's entry (the return address
 * where arch_ret_get() finds it: the stack slot at rsp, x30). Returns the
 * cookie of the call, or NULL when it is not followed (counted as missed).
 */
uint64_t *ret_push(struct probe_rec *rec, struct uprobe *c, struct uprobe_regs *regs,
		   int srcu_id);

/* The cookie of the entry handler running on this thread (uprobe_cookie()). */
extern __thread uint64_t *ret_cur_cookie __attribute__((tls_model("initial-exec")));

/*
 * A stack walk (stack/unwind.c) found ra in the return address slot at slot:
 * the return address itself, or, where it is the return trampoline's, the one
 * this thread's followed call saved from that slot. Signal-safe; the calling
 * thread's own calls only.
 */
uint64_t ret_real_address(uint64_t slot, uint64_t ra);
/* The return trampoline's address, 0 before the first return probe (signal-safe). */
uint64_t ret_tramp_address(void);

/* Called by the return trampoline. */
void dispatch_return(struct ret_frame *f);

/*
 * Unwinders (retunwind.c). sp: the caller's stack pointer.
 * unhook: the slots of calls still on this stack (above sp) get their
 * return addresses back, for an unwinder to walk.
 * resync: calls below sp were unwound (reported so); the others are hooked again.
 * exit: the thread leaves every call (pthread_exit): all reported unwound,
 * the slots of this stack restored for the forced unwind.
 */
void ret_unhook(uint64_t sp);
void ret_resync(uint64_t sp);
void ret_exit_thread(uint64_t sp);
/*
 * core/retpatch.c reports the frame at slot unwound (read section held, srcu
 * id): the calls followed here below it on its stack are gone too, and newer:
 * reported unwound first (slots untouched, an unwinder's unhooked entries
 * left to ret_resync). Nothing while this thread's shadow stack is busy.
 */
void ret_drop_newer(uint64_t slot, int id);

/* Stacks that are not the thread's own: [lo, hi), alt for a sigaltstack (else makecontext). */
void ret_add_stack(uint64_t lo, uint64_t hi, bool alt);

/*
 * Is the frame whose return address is at slot gone, seen from code running
 * with stack pointer sp (below it on the same stack, or on a sigaltstack we
 * left)? Signal-safe. For core/retpatch.c's entries.
 */
bool ret_frame_gone(uint64_t slot, uint64_t sp);
/* Are a and b on the same stack of this thread? Signal-safe. */
bool ret_same_stack(uint64_t a, uint64_t b);

/*
 * For core/retpatch.h's inline push: the return trampoline's address (0
 * before the first return probe) and how many stacks other than the
 * threads' own were registered (0: every frame is on its thread's stack,
 * and one above sp on it is live). Relaxed loads.
 */
extern uint64_t ret_tramp __attribute__((visibility("hidden")));
extern unsigned ret_nstacks __attribute__((visibility("hidden")));

/* Once, from the first attach of a return probe (not signal context). 0 or -errno. */
int ret_setup(void);

#endif
