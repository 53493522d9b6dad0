/* SPDX-License-Identifier: MIT */
/*
 * Trampoline templates for jump-optimized probes. A template is copied into
 * XOL memory, its four data words are filled in, and the relocated window
 * copy (optimize.c) is appended right after it:
 *
 *   tramp+0   .quad dispatch_optimized   (C, -mgeneral-regs-only)
 *   tramp+8   .quad redirect stub        (uprobes_redirect_trap below)
 *   tramp+16  .quad struct probe_rec *
 *   tramp+24  .quad probe address        (regs->rip)
 *   tramp+32  .quad xsave area size      (SIMD variants)
 *   tramp+40  .quad uprobes_lean_body     (the stub below)
 *   tramp+48  code:
 *     lea -(128+144)(%rsp),%rsp   step below the red zone, room for uprobe_regs
 *     pushfq; popq 128(%rsp)      rflags
 *       (lean_nofl: movq $0x202,128(%rsp): the flags are dead at a function entry)
 *     15 GPR stores, rsp and rip  struct uprobe_regs at (%rsp)
 *     rbx = frame; align 16; [xsavec]; [cld]; call dispatch(rec, regs)
 *     [xrstor]; rsp = frame
 *     eax != 0 -> jmp *redirect with rsp = &regs (the handler moved rip/rsp/flags)
 *     [pushq 128(%rsp); popfq]    not at function entries: flags are dead there
 *     15 GPR loads; lea 272(%rsp),%rsp (lea: flags untouched)
 *   end: window copy, jmp back
 *
 * The redirect stub traps: the SIGTRAP handler loads the whole context from
 * the uprobe_regs the handler edited (see dispatch_redirect()).
 */
#define FRAME 144
#define R_R15 0
#define R_RIP 120
#define R_RFL 128
#define R_RSP 136
#define REC_COUNT_SLOT 24 /* offsetof(struct probe_rec, count_slot): core.h */

#include "arch/x86_64/gprs.S.h"
#include "arch/x86_64/lean_abi.h"

	.text

	/*
	 * The frame every template but the stubs begins with: below the red
	 * zone, struct uprobe_regs at (%rsp) with rflags (read, or the 0x202 an
	 * entry may assume: rdflags 0) and the 15 GPRs.
	 */
	.macro REGS_SAVE rdflags
	lea -(128 + FRAME)(%rsp), %rsp
	.if \rdflags
	pushfq
	popq R_RFL(%rsp)
	.else
	movq $0x202, R_RFL(%rsp)
	.endif
	SAVE_GPRS
	.endm

	/*
	 * An exit's call of its C side (retpatch_exit, which keeps no callee-saved
	 * register): regs in rsi, the frame's address on the aligned stack across
	 * the call, rsp = regs after it.
	 */
	.macro EXIT_CALL_C name
	mov %rsp, %rsi
	and $-16, %rsp
	sub $8, %rsp
	push %rsi
	mov \name + 16(%rip), %rdi
	call *\name(%rip)
	pop %rsp
	.endm


	/*
	 * name, restore flags (0/1), save SIMD state (0/1), read flags (1/0).
	 *
	 * Not reading the flags (lean_nofl: function entries, handlers with
	 * UPROBE_F_HANDLER_NO_FLAGS, dispatch_entry_lean): the SysV ABI preserves
	 * no status flag across a call, so the probed function cannot depend on
	 * the values its caller left, and DF is 0 at every entry; the handler
	 * sees rflags as 0x202 (IF and the always-one bit, DF clear), the value
	 * every entry may assume. pushfq is the one instruction of the save that
	 * waits on all earlier flag writers (~1 ns a hit); these spare it.
	 */
	.macro TRAMPOLINE name, flags, simd, rdflags=1
	.globl \name, \name\()_end
	.hidden \name, \name\()_end
	.p2align 5
\name:
	.quad 0, 0, 0, 0, 0, 0
	REGS_SAVE \rdflags
	lea (128 + FRAME)(%rsp), %rax
	mov %rax, R_RSP(%rsp)
	mov \name + 24(%rip), %rax
	mov %rax, R_RIP(%rsp)
	mov %rsp, %rbx
	and $-16, %rsp
	.if \simd
	sub \name + 32(%rip), %rsp
	and $-64, %rsp
	xor %eax, %eax
	mov %rax, 512(%rsp)
	mov %rax, 520(%rsp)
	mov %rax, 528(%rsp)
	mov %rax, 536(%rsp)
	mov %rax, 544(%rsp)
	mov %rax, 552(%rsp)
	mov %rax, 560(%rsp)
	mov %rax, 568(%rsp)
	mov $XSAVE_MASK, %eax
	xor %edx, %edx
	xsavec (%rsp)
	.endif
	mov %rbx, %rsi
	mov \name + 16(%rip), %rdi
	.if \flags
	cld			/* DF is clear at function entries (ABI) */
	.endif
	call *\name(%rip)
	.if \simd
	mov %eax, %r12d
	mov $XSAVE_MASK, %eax
	xor %edx, %edx
	xrstor (%rsp)
	mov %r12d, %eax
	.endif
	mov %rbx, %rsp
	test %eax, %eax
	jz 1f
	jmp *\name + 8(%rip)
1:
	.if \flags
	pushq R_RFL(%rsp)
	popfq
	.endif
	LOAD_GPRS
	lea (128 + FRAME)(%rsp), %rsp
\name\()_end:
	.endm

	TRAMPOLINE uprobes_tramp_entry, 0, 0
	TRAMPOLINE uprobes_tramp_flags, 1, 0
	TRAMPOLINE uprobes_tramp_entry_simd, 0, 1
	TRAMPOLINE uprobes_tramp_flags_simd, 1, 1
	TRAMPOLINE uprobes_tramp_lean_nofl, 0, 0, 0
	TRAMPOLINE uprobes_tramp_lean_nofl_simd, 0, 1, 0

	/*
	 * The lean entry without SIMD (LEAN_NOFLAGS, the most common: every
	 * function entry traced by a handler that does not read the flags) as
	 * a stub of 19 bytes of code that calls one body shared by all of them:
	 * a probe's trampoline is then its data words, the stub, the window copy
	 * and the jump back (two cache lines, not five), which is what a hit
	 * of one of thousands of probes spread over a server's functions waits
	 * for. The call's return is predicted; the body is always in cache.
	 *
	 *   lea -128(%rsp),%rsp     step over the red zone
	 *   call *tramp+40(%rip)    uprobes_lean_body; pushes the stub's tail
	 *   tail: lea 128(%rsp),%rsp
	 *   window copy, jmp back
	 *
	 * The regs sit where the other templates put them (TRAMP_REGS_BELOW_RSP):
	 * the return address is their R_RSP word until the body has read it.
	 */
	.globl uprobes_tramp_lean_stub, uprobes_tramp_lean_stub_end
	.hidden uprobes_tramp_lean_stub, uprobes_tramp_lean_stub_end
	.p2align 5
uprobes_tramp_lean_stub:
	.quad 0, 0, 0, 0, 0, 0
	lea -128(%rsp), %rsp
	call *uprobes_tramp_lean_stub + 40(%rip)
uprobes_tramp_lean_stub_tail:
	lea 128(%rsp), %rsp
uprobes_tramp_lean_stub_end:

	.set TAIL, uprobes_tramp_lean_stub_tail - uprobes_tramp_lean_stub

	/*
	 * The count stub: the lean stub of a probe whose consumer's only work is
	 * one count (uprobe_count_enable). A hit of a thread whose count base is
	 * set (uprobe_count_thread), while the record's count slot is not 0 (the
	 * consumer alone on the record, its count enabled), adds 1 to the word at
	 * base + slot and goes on to the window's copy: no registers saved, no
	 * call, nothing written but that word and two stack slots below the red
	 * zone. Anything else takes the lean stub's path: its call sits at the
	 * same offset (TAIL), so the shared uprobes_lean_body finds the data words.
	 * test writes the flags: the kind is chosen only at a function entry with
	 * UPROBE_F_HANDLER_NO_FLAGS, as LEAN_NOFLAGS (the flags are dead there).
	 *
	 *   jmp fast                  (rel32: the call below ends at TAIL; the
	 *                              probe's jump enters at fast itself,
	 *                              arch_tramp_entry_off: one taken branch
	 *                              and one cache line fewer a hit)
	 *   slow: call *tramp+40(%rip); lea 128(%rsp),%rsp; jmp end
	 *   miss: pop %rcx; pop %rax; jmp slow
	 *   fast: lea -128(%rsp),%rsp; push %rax; push %rcx
	 *     rcx = rec->count_slot (0: off); rax = %fs:count base (0: none)
	 *     either 0: miss
	 *     incq (%rax,%rcx); pop %rcx; pop %rax; lea 128(%rsp),%rsp
	 *   end: window copy, jmp back
	 *
	 * From the slot's load to the incq a thread holds a slot and base that
	 * uprobe_count_enable(p, 0) may be taking away: its quiescence moves a
	 * thread found there to miss (arch_count_fixup), which pops what fast
	 * pushed and takes the slow path (the consumer's handler, if still there).
	 * The %fs displacement is the base's TLS offset, written in at build
	 * (arch_tramp_template).
	 */
	.globl uprobes_tramp_count_stub, uprobes_tramp_count_stub_end
	.hidden uprobes_tramp_count_stub, uprobes_tramp_count_stub_end
	.globl uprobes_tramp_count_tls, uprobes_tramp_count_hold
	.hidden uprobes_tramp_count_tls, uprobes_tramp_count_hold
	.globl uprobes_tramp_count_incq, uprobes_tramp_count_miss, uprobes_tramp_count_fast
	.hidden uprobes_tramp_count_incq, uprobes_tramp_count_miss, uprobes_tramp_count_fast
	.p2align 5
uprobes_tramp_count_stub:
	.quad 0, 0, 0, 0, 0, 0
	.byte 0xe9
	.long uprobes_tramp_count_fast - (. + 4)
uprobes_tramp_count_slow:
	call *uprobes_tramp_count_stub + 40(%rip)
uprobes_tramp_count_tail:
	lea 128(%rsp), %rsp
	jmp uprobes_tramp_count_stub_end
uprobes_tramp_count_miss:
	pop %rcx
	pop %rax
	jmp uprobes_tramp_count_slow
uprobes_tramp_count_fast:
	lea -128(%rsp), %rsp
	push %rax
	push %rcx
uprobes_tramp_count_hold:
	mov uprobes_tramp_count_stub + 16(%rip), %rcx
	mov REC_COUNT_SLOT(%rcx), %rcx
	.byte 0x64, 0x48, 0x8b, 0x04, 0x25	/* mov %fs:disp32, %rax */
uprobes_tramp_count_tls:
	.long 0
	test %rcx, %rcx
	jz uprobes_tramp_count_miss
	test %rax, %rax
	jz uprobes_tramp_count_miss
uprobes_tramp_count_incq:
	incq (%rax,%rcx)
	pop %rcx
	pop %rax
	lea 128(%rsp), %rsp
uprobes_tramp_count_stub_end:

	.if (uprobes_tramp_count_tail - uprobes_tramp_count_stub) - TAIL
	.error "the count stub's call must end where the lean stub's does"
	.endif

	/*
	 * The lean fast path: dispatch_entry_lean's common case written out, with
	 * no C frame between the trampoline and the handler. Two copies of it
	 * run: the stubs' shared body (uprobes_lean_body) and the inline lean
	 * entry, one per probe (uprobes_tramp_lean_inline). It takes the thread
	 * outside any read section (srcu.h: its slot set, its sequence even,
	 * membarrier in use) at a record with one consumer:
	 *
	 *   seq odd (srcu_read_lock); c = rec->consumers, alone
	 *   a return probe: dispatch_lean_ret_enter (its push, the cookie, the
	 *   count), the handler if any, the cookie cleared; else count the hit
	 *   (c->fast_hits[id].n, a locked add on c->hits past LEAN_FAST_IDS),
	 *   handler(c, regs, c->ctx) if any; seq even (unlock)
	 *   rip and rsp as they were, else the redirect (dispatch_lean_redirect)
	 *
	 * Anything else (the thread's first section, a nested hit, several
	 * consumers) calls dispatch_entry_lean (data word 0); a consumer list
	 * found wrong after the section began ends the section first. State in
	 * callee-saved registers, all of which the frame saved and reloads:
	 * rbx = regs (the frame), r13 = the srcu slot, r14 = the consumer, r15 =
	 * the record. Offsets: lean_abi.h. What consumers_call()
	 * (core/dispatch.c) does for one consumer is done here again: a change to
	 * it (what a hit counts, the cookie) is made in both places, and
	 * tests/api/test_lean's body_* cases check both copies.
	 *
	 * LEAN_FAST p, dw, fence: from r13 = srcu_tls.self (the frame stored, rsp
	 * aligned) to the section's end, rip and rsp checked, rsp = rbx. \p
	 * names the labels (LEAN_SLOW's), \dw addresses a data word ("16\dw");
	 * fence: go slow while srcu readers fence themselves (srcu_use_fence).
	 */
	.macro LEAN_FAST p, dw, fence
	test %r13, %r13
	jz \p\()_slow
	mov (%r13), %rax		/* seq */
	test $1, %al
	jnz \p\()_slow
	.if \fence
	cmpl $0, srcu_use_fence(%rip)
	jne \p\()_slow
	.endif
	inc %rax
	mov %rax, (%r13)		/* the section begins */
	mov 16\dw, %r15
	mov LEAN_REC_CONSUMERS(%r15), %r14
	test %r14, %r14
	jz \p\()_end_slow
	cmpq $0, LEAN_C_NEXT(%r14)
	jne \p\()_end_slow
	movslq LEAN_SLOT_ID(%r13), %rcx
	cmpq $0, LEAN_C_RET_HANDLER(%r14)
	jne \p\()_ret
	cmp $LEAN_FAST_IDS, %rcx
	jae \p\()_count_locked
	shl $LEAN_HIT_LINE_SHIFT, %rcx
	add LEAN_C_FAST_HITS(%r14), %rcx
	incq (%rcx)			/* only this thread writes its line */
\p\()_call:
	mov LEAN_C_HANDLER(%r14), %rax
	test %rax, %rax
	jz \p\()_called
	mov %r14, %rdi
	mov %rbx, %rsi
	mov LEAN_C_CTX(%r14), %rdx
	call *%rax
\p\()_called:
	incq (%r13)			/* the section ends: c is not read past here */
	mov 24\dw, %rax
	cmp %rax, R_RIP(%rbx)
	jne \p\()_moved
	lea (128 + FRAME)(%rbx), %rax
	cmp %rax, R_RSP(%rbx)
	jne \p\()_moved
	mov %rbx, %rsp
	.endm

	/*
	 * LEAN_FAST's other paths. inline: the C they call is in data words 4
	 * and 5 (a call from the probe's trampoline may not reach the library),
	 * and the cookie's %fs displacement is written in at build.
	 */
	.macro LEAN_SLOW p, dw, inline
\p\()_count_locked:
	lock incq LEAN_C_HITS(%r14)
	jmp \p\()_call
\p\()_ret:				/* a return probe: the call followed first */
	.if \inline
	/*
	 * retpatch_push_fast()'s common case (core/retpatch.h): a return site's
	 * probe, the thread's record stack made, not busy nor full, its top an
	 * older live frame (above sp, no stack but the threads' own registered:
	 * ret_nstacks 0), the return address not the hijack's (ret_tramp): the
	 * call's record pushed, ret_cur_cookie its cookie, the hit counted.
	 * Anything else: dispatch_lean_ret_enter (data word 4), rcx the id.
	 */
	cmpb $LEAN_RET_SITE, LEAN_C_RET_PATH(%r14)
	jne \p\()_ret_c
	.byte 0x64, 0x4c, 0x8b, 0x14, 0x25	/* mov %fs:disp32, %r10 */
uprobes_tramp_lean_inline_rp:
	.long 0				/* srcu_tls.rp's offset */
	test %r10, %r10
	jz \p\()_ret_c
	mov (%r10), %rax		/* nb */
	cmp $EXIT_DEPTH, %rax
	jae \p\()_ret_c			/* full, or busy */
	lea (128 + FRAME)(%rbx), %rdx	/* sp */
	mov (%rdx), %rsi		/* the return address */
	test %rax, %rax
	jz 2f
	mov %rax, %rdi
	shl $EXIT_E_SHIFT, %rdi
	cmp %rdx, EXIT_RP_E - (1 << EXIT_E_SHIFT) + EXIT_E_SP(%r10,%rdi)
	jbe \p\()_ret_c			/* the top is not above sp: frames to drop */
	mov 48\dw, %rdi
	cmpl $0, (%rdi)			/* ret_nstacks */
	jne \p\()_ret_c
2:	mov 56\dw, %rdi
	cmp (%rdi), %rsi		/* ret_tramp */
	je \p\()_ret_c
	mov %rax, %rdi
	shl $EXIT_E_SHIFT, %rdi
	lea EXIT_RP_E(%r10,%rdi), %rdi	/* e */
	mov %rdx, EXIT_E_SP(%rdi)
	mov %rsi, EXIT_E_RA(%rdi)
	mov %r15, EXIT_E_REC(%rdi)
	mov %r14, EXIT_E_C(%rdi)
	mov LEAN_C_ID(%r14), %rsi
	mov %rsi, EXIT_E_C_ID(%rdi)
	movq $0, EXIT_E_COOKIE(%rdi)
	mov LEAN_REC_ADDR(%r15), %rsi
	mov %rsi, EXIT_E_FN(%rdi)
	inc %rax
	mov %rax, (%r10)		/* pushed */
	lea EXIT_E_COOKIE(%rdi), %rdi
	.byte 0x64, 0x48, 0x89, 0x3c, 0x25	/* mov %rdi, %fs:disp32 */
uprobes_tramp_lean_inline_cookie_set:
	.long 0				/* ret_cur_cookie's offset */
	cmp $LEAN_FAST_IDS, %rcx
	jae 3f
	shl $LEAN_HIT_LINE_SHIFT, %rcx
	add LEAN_C_FAST_HITS(%r14), %rcx
	incq (%rcx)			/* only this thread writes its line */
	jmp 4f
3:	lock incq LEAN_C_HITS(%r14)
	jmp 4f
\p\()_ret_c:
	mov %r15, %rdi
	mov %r14, %rsi
	mov %rbx, %rdx
	call *32\dw
	.else
	mov %r15, %rdi
	mov %r14, %rsi
	mov %rbx, %rdx
	call dispatch_lean_ret_enter	/* (rec, c, regs, id): cookie set, hit counted */
	.endif
4:	mov LEAN_C_HANDLER(%r14), %rax
	test %rax, %rax
	jz 1f
	mov %r14, %rdi
	mov %rbx, %rsi
	mov LEAN_C_CTX(%r14), %rdx
	call *%rax
1:
	.if \inline
	.byte 0x64, 0x48, 0xc7, 0x04, 0x25	/* movq $0, %fs:disp32 */
uprobes_tramp_lean_inline_cookie:
	.long 0				/* ret_cur_cookie's offset */
	.long 0
	.else
	mov ret_cur_cookie@gottpoff(%rip), %rax
	movq $0, %fs:(%rax)
	.endif
	jmp \p\()_called
\p\()_moved:
	mov %r15, %rdi
	.if \inline
	call *40\dw
	.else
	call dispatch_lean_redirect
	.endif
	mov %rbx, %rsp
	jmp *8\dw
\p\()_end_slow:
	incq (%r13)			/* the section ends unused */
\p\()_slow:
	mov %rbx, %rsi
	mov 16\dw, %rdi
	call *0\dw
	mov %rbx, %rsp
	test %eax, %eax
	jz \p\()_done
	jmp *8\dw
	.endm

	/*
	 * The inline lean entry (LEAN_INLINE): LEAN_FAST in each probe's own
	 * trampoline, for LEAN_NOFLAGS without SIMD where srcu readers need no
	 * fence. The stub's call into the shared body and its return cost ~1.5
	 * ns a hit (two more taken branches, a return-stack push and pop, the
	 * return address kept and written back): this trampoline is ~600
	 * bytes against the stub's 70, but its hot path is five lines against
	 * the stub's and the body's four. Data words 4 and 5 (no SIMD, no body
	 * here) hold dispatch_lean_ret_enter and dispatch_lean_redirect; the %fs
	 * displacements of srcu_tls.self and ret_cur_cookie are written in at
	 * build (arch_tramp_template). The slow paths come first, so that the
	 * fast path falls through into the window's copy: the jump enters at
	 * uprobes_tramp_lean_inline_entry (probe_rec.jmp_to).
	 *
	 *   entry: the frame as ENTRY's with rflags 0x202; rbx = regs, aligned
	 *   r13 = %fs:disp32; LEAN_FAST
	 *   done: 15 GPR loads; lea 272(%rsp),%rsp; window copy, jmp back
	 */
	.globl uprobes_tramp_lean_inline, uprobes_tramp_lean_inline_end
	.hidden uprobes_tramp_lean_inline, uprobes_tramp_lean_inline_end
	.globl uprobes_tramp_lean_inline_entry, uprobes_tramp_lean_inline_self
	.hidden uprobes_tramp_lean_inline_entry, uprobes_tramp_lean_inline_self
	.globl uprobes_tramp_lean_inline_cookie, uprobes_tramp_lean_inline_cookie_set
	.hidden uprobes_tramp_lean_inline_cookie, uprobes_tramp_lean_inline_cookie_set
	.globl uprobes_tramp_lean_inline_rp
	.hidden uprobes_tramp_lean_inline_rp
	.p2align 5
uprobes_tramp_lean_inline:
	.quad 0, 0, 0, 0, 0, 0
	.quad 0, 0			/* &ret_nstacks, &ret_tramp */
	LEAN_SLOW .Linl, +uprobes_tramp_lean_inline(%rip), 1
	.p2align 4
uprobes_tramp_lean_inline_entry:
	REGS_SAVE 0
	lea (128 + FRAME)(%rsp), %rax
	mov %rax, R_RSP(%rsp)
	mov uprobes_tramp_lean_inline + 24(%rip), %rax
	mov %rax, R_RIP(%rsp)
	mov %rsp, %rbx
	and $-16, %rsp
	.byte 0x64, 0x4c, 0x8b, 0x2c, 0x25	/* mov %fs:disp32, %r13 */
uprobes_tramp_lean_inline_self:
	.long 0				/* srcu_tls.self's offset */
	LEAN_FAST .Linl, +uprobes_tramp_lean_inline(%rip), 0
.Linl_done:
	LOAD_GPRS
	lea (128 + FRAME)(%rsp), %rsp
uprobes_tramp_lean_inline_end:

	/*
	 * The lean stubs' shared body: the frame as the other templates put it
	 * (the stub's return address is R_RSP's word until read), r12 = the
	 * stub's tail (its data words at -TAIL), LEAN_FAST, and back to the tail.
	 */
	.globl uprobes_lean_body
	.hidden uprobes_lean_body
	.type uprobes_lean_body, @function
	.p2align 5
uprobes_lean_body:
	lea -(FRAME - 8)(%rsp), %rsp	/* the return address: R_RSP's word */
	movq $0x202, R_RFL(%rsp)
	SAVE_GPRS
	mov R_RSP(%rsp), %r12		/* the stub's tail (r12 is saved) */
	lea (128 + FRAME)(%rsp), %rax
	mov %rax, R_RSP(%rsp)
	mov 24 - TAIL(%r12), %rax
	mov %rax, R_RIP(%rsp)
	mov %rsp, %rbx
	and $-16, %rsp
	mov srcu_tls@gottpoff(%rip), %rax
	mov %fs:(%rax), %r13		/* srcu_tls.self */
	LEAN_FAST .Llean, -TAIL(%r12), 1
.Llean_done:
	mov %r12, R_RSP(%rsp)		/* where the ret below takes it */
	LOAD_GPRS
	lea R_RSP(%rsp), %rsp
	ret
	LEAN_SLOW .Llean, -TAIL(%r12), 0
	.size uprobes_lean_body, .-uprobes_lean_body

	/*
	 * The exit trampoline of a return site (core/retpatch.c): the ENTRY
	 * template without what a return does not use. rflags are saved for
	 * the handler and not restored (dead at a ret and at a tail jump, DF
	 * clear: the ABI). rip is not stored: retpatch_exit() writes the call
	 * site there itself. Its C side never asks for the redirect (a return
	 * handler's rip and rsp are ignored), so the result is not tested.
	 * Every general register is reloaded: a return handler's writes to
	 * them take effect (uprobes.h), and code compiled with -fipa-ra may
	 * keep values in call-clobbered registers across a call to a function
	 * it knows does not touch them. The reload is also why the C side keeps
	 * no callee-saved register (core/retpatch_exit.c, -fcall-used-*): the
	 * frame's address waits on the stack across the call, not in rbx.
	 * rsp is not stored either: the C side knows it, regs + 272, and
	 * writes what the handler is shown there.
	 *
	 *   lea -272(%rsp),%rsp; pushfq; popq rflags (EXIT_NOFLAGS: movq $0x202);
	 *   15 GPR stores
	 *   rsi = regs; align 16; sub $8; push %rsi     (the frame, 16-aligned)
	 *   call retpatch_exit(exit, regs); pop %rsp    (rsp = regs)
	 *   15 GPR loads; lea 272(%rsp),%rsp; window copy's exit (ret, jmp)
	 */
	.macro EXIT_TRAMPOLINE name, rdflags
	.globl \name, \name\()_end
	.hidden \name, \name\()_end
	.p2align 5
\name:
	.quad 0, 0, 0, 0, 0, 0
	REGS_SAVE \rdflags
	EXIT_CALL_C \name
	LOAD_GPRS
	lea (128 + FRAME)(%rsp), %rsp
\name\()_end:
	.endm

	EXIT_TRAMPOLINE uprobes_tramp_exit, 1
	/*
	 * EXIT_NOFLAGS: every return handler of the function promised not to
	 * read rflags (UPROBE_F_HANDLER_NO_FLAGS; core/retpatch.c picks it):
	 * no pushfq, the one instruction of the save that waits on the
	 * function's last flag writer; the handler sees 0x202 as at a lean
	 * entry. The flags at the ret are left as the C side left them, as in
	 * EXIT: dead by the ABI.
	 */
	EXIT_TRAMPOLINE uprobes_tramp_exit_nofl, 0

	/*
	 * The inline exit of a ret (EXIT_INLINE, EXIT_INLINE_NOFLAGS; chosen as
	 * the inline lean entry is): retpatch_exit()'s common case written out
	 * in the exit's own trampoline, with no C frame between it and the
	 * return handler (the call into the C side and back cost what they cost
	 * the lean stub: ~1.5 ns). The same checks, in the same order, on the
	 * same read section; anything else ends the section unused and calls
	 * retpatch_exit() (data word 0), which decides again from the start.
	 * The slow path comes first: the jump enters at \name\()_entry.
	 *
	 *   entry: EXIT's frame; rbx = regs, aligned, struct uprobe_ret below
	 *   r13 = srcu_tls.self: seq even -> odd; r12 = srcu_tls.rp (%fs:disp32,
	 *   both written in at build)
	 *   e = the stack's top: nb - 1 < UPROBE_RET_DEPTH (busy clear),
	 *   e->sp the exit's rsp, e->fn x->fn, e->rec's first consumer e->c of
	 *   id e->c_id, not a second record of the call below it, c NO_SIMD
	 *   report: xmm0, xmm1, rip = e->ra, rsp = the exit's + 8, the call's
	 *   words; nb - 1 (popped); c's return count; ret_handler(c, regs, &r,
	 *   ctx); seq even
	 *   done: 15 GPR loads; lea 272(%rsp),%rsp; the ret
	 */
	.macro EXIT_INLINE name, rdflags
	.globl \name, \name\()_end, \name\()_entry, \name\()_self, \name\()_rp
	.hidden \name, \name\()_end, \name\()_entry, \name\()_self, \name\()_rp
	.p2align 5
\name:
	.quad 0, 0, 0, 0, 0, 0
\name\()_locked:
	lock incq LEAN_C_RET_HITS(%r14)
	jmp \name\()_call
\name\()_end_slow:
	incq (%r13)			/* the section ends unused */
\name\()_slow:
	mov %rbx, %rsp
	EXIT_CALL_C \name
	jmp \name\()_done
	.p2align 4
\name\()_entry:
	REGS_SAVE \rdflags
	mov %rsp, %rbx
	and $-16, %rsp
	sub $EXIT_R_SIZE, %rsp		/* the struct uprobe_ret */
	.byte 0x64, 0x4c, 0x8b, 0x2c, 0x25	/* mov %fs:disp32, %r13 */
\name\()_self:
	.long 0				/* srcu_tls.self's offset */
	test %r13, %r13
	jz \name\()_slow
	mov (%r13), %rax		/* seq */
	test $1, %al
	jnz \name\()_slow
	inc %rax
	mov %rax, (%r13)		/* the section begins */
	.byte 0x64, 0x4c, 0x8b, 0x24, 0x25	/* mov %fs:disp32, %r12 */
\name\()_rp:
	.long 0				/* srcu_tls.rp's offset */
	test %r12, %r12
	jz \name\()_end_slow
	mov (%r12), %rax		/* nb */
	lea -1(%rax), %rcx
	cmp $EXIT_DEPTH, %rcx
	jae \name\()_end_slow		/* empty, or busy */
	shl $EXIT_E_SHIFT, %rcx
	lea EXIT_RP_E(%r12,%rcx), %r15	/* e */
	lea (128 + FRAME)(%rbx), %rdx	/* the exit's rsp: where the return address is */
	cmp %rdx, EXIT_E_SP(%r15)
	jne \name\()_end_slow
	mov \name + 16(%rip), %rsi
	mov EXIT_X_FN(%rsi), %rsi
	cmp %rsi, EXIT_E_FN(%r15)
	jne \name\()_end_slow
	mov EXIT_E_REC(%r15), %rdi
	mov LEAN_REC_CONSUMERS(%rdi), %r14
	cmp %r14, EXIT_E_C(%r15)
	jne \name\()_end_slow
	mov LEAN_C_ID(%r14), %rdi
	cmp %rdi, EXIT_E_C_ID(%r15)
	jne \name\()_end_slow
	cmp $1, %rax
	jbe 1f
	cmp %rdx, EXIT_E_SP - (1 << EXIT_E_SHIFT)(%r15)
	jne 1f
	cmp %rsi, EXIT_E_FN - (1 << EXIT_E_SHIFT)(%r15)
	je \name\()_end_slow		/* a second record of the call */
1:	testb $0x10, LEAN_C_FLAGS(%r14)	/* UPROBE_F_HANDLER_NO_SIMD */
	jz \name\()_end_slow
	movdqu %xmm0, EXIT_R_XMM0(%rsp)	/* nothing since the exit touched them */
	movdqu %xmm1, EXIT_R_XMM1(%rsp)
	mov EXIT_E_RA(%r15), %rdi
	mov %rdi, R_RIP(%rbx)		/* rip the call site, rsp after the ret */
	mov %rdi, EXIT_R_RET_ADDR(%rsp)
	lea 8(%rdx), %rdi
	mov %rdi, R_RSP(%rbx)
	mov %rsi, EXIT_R_FUNC(%rsp)
	mov EXIT_E_COOKIE(%r15), %rdi
	mov %rdi, EXIT_R_COOKIE(%rsp)
	mov %rdx, EXIT_R_ENTRY_SP(%rsp)
	movl $0, EXIT_R_FLAGS(%rsp)
	dec %rax
	mov %rax, (%r12)		/* popped before the handler runs */
	movslq LEAN_SLOT_ID(%r13), %rcx
	cmp $LEAN_FAST_IDS, %rcx
	jae \name\()_locked
	shl $LEAN_HIT_LINE_SHIFT, %rcx
	add LEAN_C_FAST_HITS(%r14), %rcx
	incq LEAN_HIT_RET(%rcx)		/* only this thread writes its line */
\name\()_call:
	mov %r14, %rdi
	mov %rbx, %rsi
	mov %rsp, %rdx
	mov LEAN_C_CTX(%r14), %rcx
	call *LEAN_C_RET_HANDLER(%r14)
	incq (%r13)			/* the section ends */
	mov %rbx, %rsp
\name\()_done:
	LOAD_GPRS
	lea (128 + FRAME)(%rsp), %rsp
\name\()_end:
	.endm

	EXIT_INLINE uprobes_tramp_exit_inline, 1
	EXIT_INLINE uprobes_tramp_exit_inline_nofl, 0

/* Reached with rsp = &struct uprobe_regs; the SIGTRAP handler takes it from here. */
	.globl uprobes_redirect_trap
	.hidden uprobes_redirect_trap
	.type uprobes_redirect_trap, @function
uprobes_redirect_trap:
	int3
	.size uprobes_redirect_trap, .-uprobes_redirect_trap

	.section .note.GNU-stack,"",@progbits
