// SPDX-License-Identifier: MIT
/*
 * The aarch64 jump trampoline template (jump.c instantiates it). The probed
 * instruction is replaced by `b tramp`; the trampoline, within +-128 MiB:
 *
 *   sp -> | x0..x30 sp pc pstate | lit | q0-q7 q16-q31 | fpsr fpcr |  (FRAME)
 *           struct uprobe_regs     16    caller-saved SIMD
 *
 *   save x0-x30, sp, pc (the probed address), nzcv, the caller-saved SIMD
 *   registers, fpsr and fpcr below sp (Linux arm64 has no red zone);
 *   fn(rec, regs)            the consumers (regs may be changed)
 *   finish(frame, data)      arch_jump_finish: the C part of the displaced
 *                            instruction; non-zero: leave through brk
 *   restore SIMD, then:  non-zero -> brk #0x5a2 with sp at the frame (the
 *   signal handler loads the frame and executes the instruction there)
 *   restore nzcv and x0-x30, [tail_pre], release the frame, [tail]: the
 *   displaced instruction relocated, or `b` back.
 */
#define FRAME 688
#define OFF_X30 240
#define OFF_PC 256
#define OFF_PSTATE 264
#define OFF_Q 288
#define OFF_FPSR 672

	.text
	.globl a64_tramp_template, a64_tramp_tail_pre, a64_tramp_tail, a64_tramp_redirect
	.globl a64_tramp_lits, a64_tramp_template_end
	.p2align 3
a64_tramp_template:
	sub sp, sp, #FRAME
	stp x0, x1, [sp, #0]
	stp x2, x3, [sp, #16]
	stp x4, x5, [sp, #32]
	stp x6, x7, [sp, #48]
	stp x8, x9, [sp, #64]
	stp x10, x11, [sp, #80]
	stp x12, x13, [sp, #96]
	stp x14, x15, [sp, #112]
	stp x16, x17, [sp, #128]
	stp x18, x19, [sp, #144]
	stp x20, x21, [sp, #160]
	stp x22, x23, [sp, #176]
	stp x24, x25, [sp, #192]
	stp x26, x27, [sp, #208]
	stp x28, x29, [sp, #224]
	add x0, sp, #FRAME
	stp x30, x0, [sp, #OFF_X30]
	mrs x1, nzcv
	ldr x0, a64_tramp_lits + 24
	stp x0, x1, [sp, #OFF_PC]
	stp q0, q1, [sp, #OFF_Q]
	stp q2, q3, [sp, #OFF_Q + 32]
	stp q4, q5, [sp, #OFF_Q + 64]
	stp q6, q7, [sp, #OFF_Q + 96]
	stp q16, q17, [sp, #OFF_Q + 128]
	stp q18, q19, [sp, #OFF_Q + 160]
	stp q20, q21, [sp, #OFF_Q + 192]
	stp q22, q23, [sp, #OFF_Q + 224]
	stp q24, q25, [sp, #OFF_Q + 256]
	stp q26, q27, [sp, #OFF_Q + 288]
	stp q28, q29, [sp, #OFF_Q + 320]
	stp q30, q31, [sp, #OFF_Q + 352]
	mrs x0, fpsr
	mrs x1, fpcr
	str x0, [sp, #OFF_FPSR]
	str x1, [sp, #OFF_FPSR + 8]
	ldr x0, a64_tramp_lits		// rec
	mov x1, sp			// regs
	ldr x16, a64_tramp_lits + 8	// fn
	blr x16
	mov x0, sp			// frame
	ldr x1, a64_tramp_lits + 32	// data
	ldr x16, a64_tramp_lits + 16	// finish
	blr x16
	ldr x2, [sp, #OFF_FPSR]
	ldr x3, [sp, #OFF_FPSR + 8]
	msr fpsr, x2
	msr fpcr, x3
	ldp q0, q1, [sp, #OFF_Q]
	ldp q2, q3, [sp, #OFF_Q + 32]
	ldp q4, q5, [sp, #OFF_Q + 64]
	ldp q6, q7, [sp, #OFF_Q + 96]
	ldp q16, q17, [sp, #OFF_Q + 128]
	ldp q18, q19, [sp, #OFF_Q + 160]
	ldp q20, q21, [sp, #OFF_Q + 192]
	ldp q22, q23, [sp, #OFF_Q + 224]
	ldp q24, q25, [sp, #OFF_Q + 256]
	ldp q26, q27, [sp, #OFF_Q + 288]
	ldp q28, q29, [sp, #OFF_Q + 320]
	ldp q30, q31, [sp, #OFF_Q + 352]
	cbnz w0, a64_tramp_redirect
	ldr x1, [sp, #OFF_PSTATE]
	msr nzcv, x1
	ldp x2, x3, [sp, #16]
	ldp x4, x5, [sp, #32]
	ldp x6, x7, [sp, #48]
	ldp x8, x9, [sp, #64]
	ldp x10, x11, [sp, #80]
	ldp x12, x13, [sp, #96]
	ldp x14, x15, [sp, #112]
	ldp x16, x17, [sp, #128]
	ldp x18, x19, [sp, #144]
	ldp x20, x21, [sp, #160]
	ldp x22, x23, [sp, #176]
	ldp x24, x25, [sp, #192]
	ldp x26, x27, [sp, #208]
	ldp x28, x29, [sp, #224]
	ldr x30, [sp, #OFF_X30]
	ldp x0, x1, [sp, #0]
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
