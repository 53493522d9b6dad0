/* SPDX-License-Identifier: MIT */
/*
 * The return trampoline. A return probe swaps the return address of a call
 * for uprobes_ret_tramp (see core/retprobe.c); the probed function's `ret`
 * lands here with rsp one word above the slot it popped:
 *
 *   lea -(8+FRAME)(%rsp),%rsp  the slot itself stays free for the final ret;
 *                              below it the caller has nothing live (its red
 *                              zone does not survive a call)
 *   pushfq; popq; 15 GPRs, rsp, xmm0, xmm1   struct ret_frame
 *   call dispatch_return(frame)  pops the shadow stack, runs the handlers and
 *                                writes the original return address into the slot
 *   flags, 15 GPRs; lea; jmp *-8(%rsp)   to the caller, rsp as after the
 *                                        original return
 *
 * The way back is a jmp, not a ret: the return stack buffer then still pairs
 * the caller's own ret with its call (a ret here would mispredict it too).
 * The word below rsp survives a signal: the kernel skips the red zone.
 * popfq costs ~20 cycles; the arithmetic flags come back through sahf and an
 * add that sets OF, DF through std. TF and the rest are never ours to change.
 *
 * uprobes_simd_call(fn, a, b, c, d) calls fn(a, b, c, d) with the extended
 * state (x87/SSE/AVX/AVX-512) saved around it, for handlers that may use it.
 */
#define FRAME 176 /* struct ret_frame: uprobe_regs (144) + xmm0 + xmm1 */
#define R_RFL 128
#define R_RSP 136
#define R_XMM0 144
#define R_XMM1 160

#include "arch/x86_64/gprs.S.h"

	.text
	.globl uprobes_ret_tramp
	.hidden uprobes_ret_tramp
	.type uprobes_ret_tramp, @function
	.p2align 4
	nop	/* unwinders look up ret_addr - 1: keep it outside other code */
uprobes_ret_tramp:
	lea -(8 + FRAME)(%rsp), %rsp
	pushfq
	popq R_RFL(%rsp)
	SAVE_GPRS
	lea (8 + FRAME)(%rsp), %rax
	mov %rax, R_RSP(%rsp)
	movdqu %xmm0, R_XMM0(%rsp)
	movdqu %xmm1, R_XMM1(%rsp)
	mov %rsp, %rbx
	and $-16, %rsp
	mov %rbx, %rdi
	cld
	call dispatch_return
	mov %rbx, %rsp
	movzbl R_RFL + 1(%rsp), %eax	/* TF IF DF OF in bits 0-3 */
	test $4, %al
	jz 1f
	std
1:	shr $3, %al			/* OF */
	add $0x7f, %al			/* overflows (OF=1) iff al was 1 */
	mov R_RFL(%rsp), %ah		/* SF ZF AF PF CF */
	sahf
	LOAD_GPRS
	lea (FRAME + 8)(%rsp), %rsp
	jmp *-8(%rsp)
	.size uprobes_ret_tramp, .-uprobes_ret_tramp

	.globl uprobes_simd_call
	.hidden uprobes_simd_call
	.type uprobes_simd_call, @function
	.p2align 4
uprobes_simd_call:
	.cfi_startproc
	push %rbp
	.cfi_def_cfa_offset 16
	.cfi_offset %rbp, -16
	mov %rsp, %rbp
	.cfi_def_cfa_register %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	sub $8, %rsp
	.cfi_offset %rbx, -24
	.cfi_offset %r12, -32
	.cfi_offset %r13, -40
	.cfi_offset %r14, -48
	.cfi_offset %r15, -56
	mov %rdi, %rbx
	mov %rsi, %r12
	mov %rdx, %r13
	mov %rcx, %r14
	mov %r8, %r15
	sub uprobes_xsave_size(%rip), %rsp
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
	mov %r12, %rdi
	mov %r13, %rsi
	mov %r14, %rdx
	mov %r15, %rcx
	call *%rbx
	mov $XSAVE_MASK, %eax
	xor %edx, %edx
	xrstor (%rsp)
	lea -48(%rbp), %rsp
	add $8, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	.cfi_def_cfa %rsp, 8
	ret
	.cfi_endproc
	.size uprobes_simd_call, .-uprobes_simd_call

	.section .note.GNU-stack,"",@progbits
