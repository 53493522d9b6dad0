/* SPDX-License-Identifier: MIT */
/*
 * The exit trampoline's C side (see retpatch.h), alone in this file because
 * it is built with every callee-saved register declared call-clobbered
 * (RETEXIT_CFLAGS in the Makefile: -fcall-used-rbx
 * -fcall-used-r12 ... r15; rbp cannot be: GCC keeps it for frames, and uses it no
 * more than it must): the EXIT template saved all sixteen general
 * registers before the call and reloads them all after it, so the six
 * pushes and pops a normal prologue and epilogue would add to every return
 * are useless here. Nothing else may be put in this file: a function in it
 * does not preserve rbx, rbp or r12-r15 for its caller, which only the
 * trampoline tolerates (it keeps its own frame address on the stack, not in
 * rbx, across the call). It calls out normally: the compiler assumes every
 * callee clobbers those registers too, so nothing is kept in them across a
 * call (and the common path keeps nothing at all across the handler's).
 *
 * No libc, no locks, no SIMD (HOT_CFLAGS too): it runs wherever the
 * program returns.
 */
#include "arch/arch.h"
#include "arch/x86_64/retsite.h"
#include "core/retpatch.h"
#include "core/srcu.h"

#include "arch/x86_64/lean_abi.h"

typedef void (*rp_simd_fn)(void *, void *, const void *, void *);

/* The inline exit's fast path (tramp_templates.S) reads these (arch/x86_64/lean_abi.h). */
#define OFF(t, f) __builtin_offsetof(t, f)
_Static_assert(OFF(struct uprobe, flags) == LEAN_C_FLAGS && OFF(struct uprobe, id) == LEAN_C_ID &&
		       OFF(struct uprobe, ret_hits) == LEAN_C_RET_HITS &&
		       OFF(struct uprobe, ret_handler) == LEAN_C_RET_HANDLER &&
		       OFF(struct uprobe, ret_site.path) == LEAN_C_RET_PATH &&
		       UPROBE_RET_SITE == LEAN_RET_SITE &&
		       UPROBE_F_HANDLER_NO_SIMD == 1 << 4,
	       "lean_abi.h: struct uprobe");
_Static_assert(OFF(struct hit_line, ret) == LEAN_HIT_RET && OFF(struct srcu_tls, rp) == EXIT_TLS_RP &&
		       OFF(struct retpatch_exit, fn) == EXIT_X_FN && OFF(struct rp_stack, e) == EXIT_RP_E &&
		       OFF(struct rp_stack, nb) == 0 && UPROBE_RET_DEPTH == EXIT_DEPTH,
	       "lean_abi.h: the record stack");
_Static_assert(sizeof(struct rp_entry) == 1 << EXIT_E_SHIFT && OFF(struct rp_entry, sp) == EXIT_E_SP &&
		       OFF(struct rp_entry, ra) == EXIT_E_RA && OFF(struct rp_entry, rec) == EXIT_E_REC &&
		       OFF(struct rp_entry, c) == EXIT_E_C && OFF(struct rp_entry, c_id) == EXIT_E_C_ID &&
		       OFF(struct rp_entry, cookie) == EXIT_E_COOKIE && OFF(struct rp_entry, fn) == EXIT_E_FN,
	       "lean_abi.h: struct rp_entry");
_Static_assert(OFF(struct uprobe_ret, func) == EXIT_R_FUNC &&
		       OFF(struct uprobe_ret, ret_addr) == EXIT_R_RET_ADDR &&
		       OFF(struct uprobe_ret, cookie) == EXIT_R_COOKIE &&
		       OFF(struct uprobe_ret, entry_sp) == EXIT_R_ENTRY_SP &&
		       OFF(struct uprobe_ret, flags) == EXIT_R_FLAGS &&
		       OFF(struct uprobe_ret, xmm0) == EXIT_R_XMM0 &&
		       OFF(struct uprobe_ret, xmm1) == EXIT_R_XMM1 &&
		       sizeof(struct uprobe_ret) <= EXIT_R_SIZE && EXIT_R_SIZE % 16 == 0,
	       "lean_abi.h: struct uprobe_ret");
#undef OFF

/*
 * At a ret (a tail jump's exit: retpatch_exit_tail). The common case
 * inline: this call's one record on top of the
 * stack, its consumer the first of the probe's (checked by pointer and id,
 * no walk: a consumer freed since the push was unlinked first, so the
 * list's head is not it; a new one at the same address has another id).
 * The record is popped and the hit counted before the handler runs, so
 * that nothing lives across its call but what the read section's end
 * reloads from TLS, and a handler that detaches (retpatch_drop_orphans) or
 * never returns (longjmp) finds the stack whole. regs->rip is not set by
 * the template (the EXIT template), nothing is redirected: regs->rip and
 * rsp are free to show the return.
 */
int retpatch_exit(void *xp, struct uprobe_regs *regs)
{
	const struct retpatch_exit *x = xp;
	struct rp_stack *rs = rp_self;
	/* rsp at the exit: the EXIT templates put regs this far below it, not storing it. */
	uint64_t slot = (uint64_t)regs + ARCH_TRAMP_REGS_BELOW_SP;
	const struct rp_entry *e;
	struct uprobe_ret r;
	struct uprobe *c;
	uint64_t nb;
	int id;

	if (__builtin_expect(!rs, 0))
		return 0;
	id = srcu_read_lock();
	if (__builtin_expect(id < 0, 0)) /* inside a handler: its calls were not followed */
		goto out;
	nb = rs->nb;
	if (__builtin_expect(nb - 1 >= UPROBE_RET_DEPTH, 0)) /* empty, or busy */
		goto out;
	e = &rs->e[nb - 1];
	c = __atomic_load_n(&e->rec->consumers, __ATOMIC_ACQUIRE);
	if (__builtin_expect(e->sp != slot || e->fn != x->fn ||
				     c != e->c || c->id != e->c_id ||
				     (nb > 1 && e[-1].sp == slot && e[-1].fn == x->fn),
			     0)) {
		regs->rsp = slot;
		retpatch_exit_slow(x, regs, id);
		goto out;
	}
	r.flags = 0;
	/* Nothing since the exit has run SIMD code: the return registers are as there. */
	__asm__ volatile("movdqu %%xmm0, %0\n\tmovdqu %%xmm1, %1" : "=m"(r.xmm0), "=m"(r.xmm1));
	/* As the hijack shows a return: rip the call site, rsp after the ret. */
	regs->rip = e->ra;
	regs->rsp = slot + 8;
	r.func = x->fn;
	r.ret_addr = e->ra;
	r.cookie = e->cookie;
	r.entry_sp = slot;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->nb = nb - 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/*
	 * The thread's own counter (others only read it): one add to memory,
	 * which a signal cannot split, instead of the load, add and store of a
	 * relaxed store of the value + 1.
	 */
	if (__builtin_expect(id < CORE_FAST_IDS, 1))
		__asm__ volatile("addq $1, %0" : "+m"(c->fast_hits[id].ret));
	else
		__atomic_fetch_add(&c->ret_hits, 1, __ATOMIC_RELAXED);
	if (c->flags & UPROBE_F_HANDLER_NO_SIMD)
		c->ret_handler(c, regs, &r, c->ctx);
	else
		arch_simd_call((rp_simd_fn)c->ret_handler, c, regs, &r, c->ctx);
out:
	srcu_read_unlock_id(id);
	return 0;
}
