/* SPDX-License-Identifier: MIT */
/*
 * Register save/restore sequences shared by the aarch64 trampolines (tramp.S,
 * ret_tramp.S) and the tests' sandbox (tests/aarch64/frame.S). op is stp or
 * ldp; base a register that the sequence does not itself load.
 *
 *   X_PAIRS op, base          x0..x29 at [base, #0] .. [base, #232]
 *   Q_CALLER op, base, off    q0-q7, q16-q31 (what a C call may clobber) at
 *                             [base, #off] .. [base, #off + 383]
 *   Q_CALLEE op, base, off    q8-q15 at [base, #off] .. [base, #off + 127]
 *   Q_ALL op, base, off       q0-q31: Q_CALLER, then Q_CALLEE at off + 384 (a C call
 *                             keeps only the low halves of v8-v15)
 *   FP_STATUS save|load, base, off, t1, t2   fpsr, fpcr at [base, #off], #off + 8
 *   SVE_STATE save|load, t   the SVE registers below sp (save moves sp down by
 *                            SVE_VLS vector lengths, load moves it back): z0-z31,
 *                            then p0-p15 and FFR from t = sp + 32 VL. Clobbers t.
 */
.macro X_PAIRS op, base
	\op x0, x1, [\base, #0]
	\op x2, x3, [\base, #16]
	\op x4, x5, [\base, #32]
	\op x6, x7, [\base, #48]
	\op x8, x9, [\base, #64]
	\op x10, x11, [\base, #80]
	\op x12, x13, [\base, #96]
	\op x14, x15, [\base, #112]
	\op x16, x17, [\base, #128]
	\op x18, x19, [\base, #144]
	\op x20, x21, [\base, #160]
	\op x22, x23, [\base, #176]
	\op x24, x25, [\base, #192]
	\op x26, x27, [\base, #208]
	\op x28, x29, [\base, #224]
.endm

.macro Q_CALLER op, base, off
	\op q0, q1, [\base, #\off]
	\op q2, q3, [\base, #\off + 32]
	\op q4, q5, [\base, #\off + 64]
	\op q6, q7, [\base, #\off + 96]
	\op q16, q17, [\base, #\off + 128]
	\op q18, q19, [\base, #\off + 160]
	\op q20, q21, [\base, #\off + 192]
	\op q22, q23, [\base, #\off + 224]
	\op q24, q25, [\base, #\off + 256]
	\op q26, q27, [\base, #\off + 288]
	\op q28, q29, [\base, #\off + 320]
	\op q30, q31, [\base, #\off + 352]
.endm

.macro Q_CALLEE op, base, off
	\op q8, q9, [\base, #\off]
	\op q10, q11, [\base, #\off + 32]
	\op q12, q13, [\base, #\off + 64]
	\op q14, q15, [\base, #\off + 96]
.endm

.macro Q_ALL op, base, off
	Q_CALLER \op, \base, \off
	Q_CALLEE \op, \base, \off + 384
.endm

.macro FP_STATUS dir, base, off, t1, t2
.ifc \dir, save
	mrs \t1, fpsr
	mrs \t2, fpcr
	str \t1, [\base, #\off]
	str \t2, [\base, #\off + 8]
.else
	ldr \t1, [\base, #\off]
	ldr \t2, [\base, #\off + 8]
	msr fpsr, \t1
	msr fpcr, \t2
.endif
.endm

#define SVE_VLS 35 /* 32 Z registers, 17 predicates (P0-P15, FFR) in 3 VLs */

.macro SVE_Z op
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	\op z\n, [sp, #\n, mul vl]
	.endr
.endm

.macro SVE_P op, t
	.irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	\op p\n, [\t, #\n, mul vl]
	.endr
.endm

.macro SVE_STATE dir, t
	.arch_extension sve
.ifc \dir, save
	addvl sp, sp, #-32
	addvl sp, sp, #-(SVE_VLS - 32)
	SVE_Z str
	addvl \t, sp, #31
	addvl \t, \t, #1
	SVE_P str, \t
	rdffr p0.b
	str p0, [\t, #16, mul vl]
.else
	addvl \t, sp, #31
	addvl \t, \t, #1
	ldr p0, [\t, #16, mul vl]
	wrffr p0.b
	SVE_P ldr, \t
	SVE_Z ldr
	addvl sp, sp, #31
	addvl sp, sp, #(SVE_VLS - 31)
.endif
.endm
