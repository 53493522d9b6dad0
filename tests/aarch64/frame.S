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
 * exit: stores x1-x30, sp, nzcv, v0-v31 and x0 (from tpidr_el0) into OUT, then
 * puts the caller's state back and returns to it.
 */
#include "arch/aarch64/regs.S.h"
#include "sandbox_layout.h"

/* The caller's x19-x30 at [base] .. [base + 95], d8-d15 at [base + 112] .. [base + 175]. */
.macro CALLER_CTX op, base
	\op x19, x20, [\base, #0]
	\op x21, x22, [\base, #16]
	\op x23, x24, [\base, #32]
	\op x25, x26, [\base, #48]
	\op x27, x28, [\base, #64]
	\op x29, x30, [\base, #80]
	\op d8, d9, [\base, #112]
	\op d10, d11, [\base, #128]
	\op d12, d13, [\base, #144]
	\op d14, d15, [\base, #160]
.endm

/* v0-v31 in order at [base] .. [base + 511] (struct sb_state's v[]). */
.macro V_ALL op, base
	\op q0, q1, [\base, #0]
	\op q2, q3, [\base, #32]
	\op q4, q5, [\base, #64]
	\op q6, q7, [\base, #96]
	Q_CALLEE \op, \base, 128
	\op q16, q17, [\base, #256]
	\op q18, q19, [\base, #288]
	\op q20, q21, [\base, #320]
	\op q22, q23, [\base, #352]
	\op q24, q25, [\base, #384]
	\op q26, q27, [\base, #416]
	\op q28, q29, [\base, #448]
	\op q30, q31, [\base, #480]
.endm

	.text
	.globl a64_frame_entry, a64_frame_entry_end, a64_frame_exit, a64_frame_exit_end

	.p2align 2
a64_frame_entry:
	adr x9, a64_frame_entry + SB_CTX - SB_ENTRY
	CALLER_CTX stp, x9
	mov x10, sp
	str x10, [x9, #96]
	mrs x10, tpidr_el0
	str x10, [x9, #104]
	adr x30, a64_frame_entry + SB_IN - SB_ENTRY
	add x10, x30, #ST_V
	V_ALL ldp, x10
	ldr x10, [x30, #ST_NZCV]
	msr nzcv, x10
	ldr x10, [x30, #ST_SP]
	mov sp, x10
	X_PAIRS ldp, x30
	ldr x30, [x30, #240]
	b a64_frame_entry + SB_CODE - SB_ENTRY
a64_frame_entry_end:

	.p2align 2
a64_frame_exit:
	ldr x1, [x0, #8]		// the pad kept x1 there
	X_PAIRS stp, x0
	str x30, [x0, #240]
	mrs x1, nzcv
	str x1, [x0, #ST_NZCV]
	mov x1, sp
	str x1, [x0, #ST_SP]
	mrs x1, tpidr_el0
	str x1, [x0, #0]
	add x1, x0, #ST_V
	V_ALL stp, x1
	adr x9, a64_frame_exit + SB_CTX - SB_EXIT
	CALLER_CTX ldp, x9
	ldr x10, [x9, #96]
	mov sp, x10
	ldr x10, [x9, #104]
	msr tpidr_el0, x10
	ret
a64_frame_exit_end:
	.section .note.GNU-stack,"",%progbits
