// SPDX-License-Identifier: MIT
/*
 * The sandbox's entry and exit stubs (tests/aarch64/sandbox.h has the layout).
 * Both are copied into the sandbox, so they refer to nothing outside it: adr
 * reaches the save area, b reaches the code.
 *
 * entry(x0 = sandbox): keeps the caller's x19-x30, sp, d8-d15 and tpidr_el0 in
 * CTX, loads every register, nzcv and v0-v31 from IN, then b CODE.
 * pad i (written by the C side): msr tpidr_el0, x0; adr x0, OUT; str x1, [x0, #8];
 * adr x1, pad; str x1, [x0, #OUT_PAD]; b exit.
 * exit: stores x2-x30, sp, nzcv, v0-v31 and x0 (from tpidr_el0) into OUT, then
 * puts the caller's state back and returns to it.
 */
#include "sandbox_layout.h"

	.text
	.globl a64_frame_entry, a64_frame_entry_end, a64_frame_exit, a64_frame_exit_end

	.p2align 2
a64_frame_entry:
	adr x9, a64_frame_entry + SB_CTX - SB_ENTRY
	stp x19, x20, [x9, #0]
	stp x21, x22, [x9, #16]
	stp x23, x24, [x9, #32]
	stp x25, x26, [x9, #48]
	stp x27, x28, [x9, #64]
	stp x29, x30, [x9, #80]
	mov x10, sp
	str x10, [x9, #96]
	mrs x10, tpidr_el0
	str x10, [x9, #104]
	stp d8, d9, [x9, #112]
	stp d10, d11, [x9, #128]
	stp d12, d13, [x9, #144]
	stp d14, d15, [x9, #160]
	adr x9, a64_frame_entry + SB_IN - SB_ENTRY
	add x10, x9, #ST_V
	ldp q0, q1, [x10, #0]
	ldp q2, q3, [x10, #32]
	ldp q4, q5, [x10, #64]
	ldp q6, q7, [x10, #96]
	ldp q8, q9, [x10, #128]
	ldp q10, q11, [x10, #160]
	ldp q12, q13, [x10, #192]
	ldp q14, q15, [x10, #224]
	ldp q16, q17, [x10, #256]
	ldp q18, q19, [x10, #288]
	ldp q20, q21, [x10, #320]
	ldp q22, q23, [x10, #352]
	ldp q24, q25, [x10, #384]
	ldp q26, q27, [x10, #416]
	ldp q28, q29, [x10, #448]
	ldp q30, q31, [x10, #480]
	ldr x10, [x9, #ST_NZCV]
	msr nzcv, x10
	ldr x10, [x9, #ST_SP]
	mov sp, x10
	ldp x0, x1, [x9, #0]
	ldp x2, x3, [x9, #16]
	ldp x4, x5, [x9, #32]
	ldp x6, x7, [x9, #48]
	ldr x8, [x9, #64]
	ldp x11, x12, [x9, #88]
	ldp x13, x14, [x9, #104]
	ldp x15, x16, [x9, #120]
	ldp x17, x18, [x9, #136]
	ldp x19, x20, [x9, #152]
	ldp x21, x22, [x9, #168]
	ldp x23, x24, [x9, #184]
	ldp x25, x26, [x9, #200]
	ldp x27, x28, [x9, #216]
	ldp x29, x30, [x9, #232]
	ldp x9, x10, [x9, #72]
	b a64_frame_entry + SB_CODE - SB_ENTRY
a64_frame_entry_end:

	.p2align 2
a64_frame_exit:
	stp x2, x3, [x0, #16]
	stp x4, x5, [x0, #32]
	stp x6, x7, [x0, #48]
	stp x8, x9, [x0, #64]
	stp x10, x11, [x0, #80]
	stp x12, x13, [x0, #96]
	stp x14, x15, [x0, #112]
	stp x16, x17, [x0, #128]
	stp x18, x19, [x0, #144]
	stp x20, x21, [x0, #160]
	stp x22, x23, [x0, #176]
	stp x24, x25, [x0, #192]
	stp x26, x27, [x0, #208]
	stp x28, x29, [x0, #224]
	str x30, [x0, #240]
	mrs x1, nzcv
	str x1, [x0, #ST_NZCV]
	mov x1, sp
	str x1, [x0, #ST_SP]
	mrs x1, tpidr_el0
	str x1, [x0, #0]
	add x1, x0, #ST_V
	stp q0, q1, [x1, #0]
	stp q2, q3, [x1, #32]
	stp q4, q5, [x1, #64]
	stp q6, q7, [x1, #96]
	stp q8, q9, [x1, #128]
	stp q10, q11, [x1, #160]
	stp q12, q13, [x1, #192]
	stp q14, q15, [x1, #224]
	stp q16, q17, [x1, #256]
	stp q18, q19, [x1, #288]
	stp q20, q21, [x1, #320]
	stp q22, q23, [x1, #352]
	stp q24, q25, [x1, #384]
	stp q26, q27, [x1, #416]
	stp q28, q29, [x1, #448]
	stp q30, q31, [x1, #480]
	adr x9, a64_frame_exit + SB_CTX - SB_EXIT
	ldp x19, x20, [x9, #0]
	ldp x21, x22, [x9, #16]
	ldp x23, x24, [x9, #32]
	ldp x25, x26, [x9, #48]
	ldp x27, x28, [x9, #64]
	ldp x29, x30, [x9, #80]
	ldr x10, [x9, #96]
	mov sp, x10
	ldr x10, [x9, #104]
	msr tpidr_el0, x10
	ldp d8, d9, [x9, #112]
	ldp d10, d11, [x9, #128]
	ldp d12, d13, [x9, #144]
	ldp d14, d15, [x9, #160]
	ret
a64_frame_exit_end:
	.section .note.GNU-stack,"",%progbits
