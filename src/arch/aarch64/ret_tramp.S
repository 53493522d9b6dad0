// SPDX-License-Identifier: MIT
/*
 * The aarch64 return trampoline. An entry probe puts its address in x30 (before
 * the function's paciasp signs it: the function's autiasp then checks that
 * value and its ret comes here):
 *
 *   sp -> | x0..x30 sp pc pstate | v0 v1 | q0-q7 q16-q31 q8-q15 | fpsr fpcr |  FRAME
 *           struct ret_frame               every SIMD register
 *
 *   save every register below sp (nothing of the caller's lives there);
 *   dispatch_return(frame)   pops the shadow stack, runs the handlers and
 *                            sets regs.pc to the original return address;
 *   restore, x30 = regs.pc, ret: the caller resumes with x30 as its own ret
 *   leaves it, and ret (not br) sets no BTYPE: a return site is no landing pad.
 */
#define FRAME 832
#define OFF_X30 240
#define OFF_PC 256
#define OFF_PSTATE 264
#define OFF_V0 272
#define OFF_Q 304
#define OFF_FPSR 816

#include "arch/aarch64/regs.S.h"

	.text
	.globl uprobes_ret_tramp
	.hidden uprobes_ret_tramp
	.type uprobes_ret_tramp, %function
	.p2align 3
uprobes_ret_tramp:
	sub sp, sp, #FRAME
	X_PAIRS stp, sp
	add x0, sp, #FRAME
	stp x30, x0, [sp, #OFF_X30]
	mrs x1, nzcv
	stp x30, x1, [sp, #OFF_PC]	// pc: dispatch_return sets the original
	stp q0, q1, [sp, #OFF_V0]
	Q_ALL stp, sp, OFF_Q
	FP_STATUS save, sp, OFF_FPSR, x0, x1
	mov x0, sp
	bl dispatch_return
	FP_STATUS load, sp, OFF_FPSR, x2, x3
	Q_ALL ldp, sp, OFF_Q
	ldr x1, [sp, #OFF_PSTATE]
	msr nzcv, x1
	X_PAIRS ldp, sp
	ldr x30, [sp, #OFF_PC]
	add sp, sp, #FRAME
	ret
	.size uprobes_ret_tramp, .-uprobes_ret_tramp

// uint64_t arch_ret_tramp_addr(void): here, so that only its users link the trampoline.
	.globl arch_ret_tramp_addr
	.hidden arch_ret_tramp_addr
	.type arch_ret_tramp_addr, %function
arch_ret_tramp_addr:
	adr x0, uprobes_ret_tramp
	ret
	.size arch_ret_tramp_addr, .-arch_ret_tramp_addr
	.section .note.GNU-stack,"",%progbits
