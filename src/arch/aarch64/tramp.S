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
 *   arm64 has no red zone); on a CPU with SVE, below that z0-z31, p0-p15
 *   and FFR (SVE_VLS vector lengths);
 *   fn(rec, regs)            the consumers (regs may be changed)
 *   finish(frame, data)      arch_jump_finish: the C part of the displaced
 *                            instruction; non-zero: leave through brk
 *   restore SIMD (q, then SVE), then:  non-zero -> brk #0x5a2 with sp at the frame (the
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
	/* hidden: bound inside the library, so its pc-relative references link -shared */
	.hidden a64_tramp_template, a64_tramp_tail_pre, a64_tramp_tail, a64_tramp_redirect
	.hidden a64_tramp_lits, a64_tramp_template_end
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
	mov x19, sp			// the frame, across the calls (x19 is in it)
	ldr x0, a64_tramp_lits + 40	// the CPU has SVE
	cbz x0, 1f
	SVE_STATE save, x9
1:	ldr x0, a64_tramp_lits		// rec
	mov x1, x19			// regs
	ldr x16, a64_tramp_lits + 8	// fn
	blr x16
	mov x0, x19			// frame
	ldr x1, a64_tramp_lits + 32	// data
	ldr x16, a64_tramp_lits + 16	// finish
	blr x16
	FP_STATUS load, x19, OFF_FPSR, x2, x3
	Q_ALL ldp, x19, OFF_Q		// before the Z registers: a q load clears their upper bits
	ldr x1, a64_tramp_lits + 40
	cbz x1, 2f
	SVE_STATE load, x9		// sp back at the frame
2:	cbnz w0, a64_tramp_redirect
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
	.quad 0, 0, 0, 0, 0, 0		// rec, fn, finish, probed address, data, SVE
a64_tramp_template_end:
	.section .note.GNU-stack,"",%progbits
