// SPDX-License-Identifier: MIT
/*
 * The aarch64 jump trampoline template (jump.c instantiates it). The probed
 * instruction is replaced by `b tramp`; the trampoline, within +-128 MiB:
 *
 *   sp -> | x0..x30 sp pc pstate | lit | q0-q7 q16-q31 q8-q15 | fpsr fpcr |  (FRAME)
 *           struct uprobe_regs     16    every SIMD register
 *
 *   save x0-x30, sp, pc (the probed address), nzcv, q0-q31 (a C call may
 *   clobber the upper halves of v8-v15 too), fpsr and fpcr below sp (Linux
 *   arm64 has no red zone);
 *   fn(rec, regs)            the consumers (regs may be changed)
 *   finish(frame, data)      arch_jump_finish: the C part of the displaced
 *                            instruction; non-zero: leave through brk
 *   restore SIMD, then:  non-zero -> brk #0x5a2 with sp at the frame (the
 *   signal handler loads the frame and executes the instruction there)
 *   restore nzcv and x0-x30, [tail_pre], release the frame, [tail]: the
 *   displaced instruction relocated, or `b` back.
 */
#define FRAME 816
#define OFF_X30 240
#define OFF_PC 256
#define OFF_PSTATE 264
#define OFF_Q 288
#define OFF_FPSR 800

#include "arch/aarch64/regs.S.h"

	.text
	.globl a64_tramp_template, a64_tramp_tail_pre, a64_tramp_tail, a64_tramp_redirect
	.globl a64_tramp_lits, a64_tramp_template_end
	.p2align 3
a64_tramp_template:
	sub sp, sp, #FRAME
	X_PAIRS stp, sp
	add x0, sp, #FRAME
	stp x30, x0, [sp, #OFF_X30]
	mrs x1, nzcv
	ldr x0, a64_tramp_lits + 24
	stp x0, x1, [sp, #OFF_PC]
	Q_ALL stp, sp, OFF_Q
	FP_STATUS save, sp, OFF_FPSR, x0, x1
	ldr x0, a64_tramp_lits		// rec
	mov x1, sp			// regs
	ldr x16, a64_tramp_lits + 8	// fn
	blr x16
	mov x0, sp			// frame
	ldr x1, a64_tramp_lits + 32	// data
	ldr x16, a64_tramp_lits + 16	// finish
	blr x16
	FP_STATUS load, sp, OFF_FPSR, x2, x3
	Q_ALL ldp, sp, OFF_Q
	cbnz w0, a64_tramp_redirect
	ldr x1, [sp, #OFF_PSTATE]
	msr nzcv, x1
	X_PAIRS ldp, sp
	ldr x30, [sp, #OFF_X30]
a64_tramp_tail_pre:
	nop
	add sp, sp, #FRAME
a64_tramp_tail:
	brk #0x5a3			// tail: three words written by jump.c
	brk #0x5a3
	brk #0x5a3
a64_tramp_redirect:
	brk #0x5a2
	.p2align 3
a64_tramp_lits:
	.quad 0, 0, 0, 0, 0		// rec, fn, finish, probed address, data
a64_tramp_template_end:
	.section .note.GNU-stack,"",%progbits
