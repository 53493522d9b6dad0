// SPDX-License-Identifier: MIT
/*
 * The aarch64 return trampoline. An entry probe puts its address in x30 (before
 * the function's paciasp signs it: the function's autiasp then checks that
 * value and its ret comes here):
 *
 *   sp -> | x0..x30 sp pc pstate | v0 v1 | q0-q7 q16-q31 | fpsr fpcr |  FRAME
 *           struct ret_frame               caller-saved SIMD
 *
 *   save every register below sp (nothing of the caller's lives there);
 *   dispatch_return(frame)   pops the shadow stack, runs the handlers and
 *                            sets regs.pc to the original return address;
 *   restore, x30 = regs.pc, ret: the caller resumes with x30 as its own ret
 *   leaves it, and ret (not br) sets no BTYPE: a return site is no landing pad.
 */
#define FRAME 704
#define OFF_X30 240
#define OFF_PC 256
#define OFF_PSTATE 264
#define OFF_V0 272
#define OFF_Q 304
#define OFF_FPSR 688

	.text
	.globl uprobes_ret_tramp
	.hidden uprobes_ret_tramp
	.type uprobes_ret_tramp, %function
	.p2align 3
uprobes_ret_tramp:
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
	stp x30, x1, [sp, #OFF_PC]	// pc: dispatch_return sets the original
	stp q0, q1, [sp, #OFF_V0]
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
	mov x0, sp
	bl dispatch_return
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
	ldr x30, [sp, #OFF_PC]
	ldp x0, x1, [sp, #0]
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
