/* SPDX-License-Identifier: MIT */
/*
 * attach_victim's workload, one round of it: every general register but rsp,
 * ymm0-15 (with AVX-512 also zmm16-31 and k1-k7), the arithmetic flags and
 * MXCSR carry state from one instruction to the next for the whole round,
 * so that any of them changed under the program's feet (a borrowed call that
 * returns without putting them back) changes the round's result.
 *
 *   void victim_round_avx2(struct victim_state *s, long iters, long nap_ns);
 *   void victim_round_avx512(struct victim_state *s, long iters, long nap_ns);
 *
 * Every 1024 iterations, when nap_ns is not 0, the round sleeps in a raw
 * nanosleep() with all of that state live (where uprobe finds the thread
 * asleep in a restartable system call).
 *
 *   ymm0-11  integer lanes: each added to the next, qwords rotated
 *   ymm12    1.0f, ymm13 3.99f: constants of the logistic map
 *   ymm14    x <- 3.99 x (1 - x), rounded up (MXCSR.RC = up for the round):
 *            chaotic, so one rounding done another way shows at the end
 *   ymm15    scratch of the map, stored too
 *   GPRs     g <- g * K + next; add r8,r9 then adc r10: the carry must survive
 *   zmm16-31 as ymm0-11, some adds under mask k1; k1-k7 xor-ed in a ring
 */
#define ST_GPR 0	/* struct victim_state: 15 GPRs (rax..r15 but rsp, then rdi) */
#define ST_YMM 128	/* ymm0-15, 32 bytes each */
#define ST_ZMM 640	/* zmm16-31, 64 bytes each */
#define ST_K 1664	/* k0-k7, 8 bytes each (k0 unused) */

#define L_STATE 0	/* locals: the state pointer */
#define L_LEFT 8	/* iterations left */
#define L_TS 16		/* struct timespec { 0, nap_ns } */
#define L_MXCSR 32	/* the caller's MXCSR */
#define L_SIZE 40

	.section .rodata
	.balign 4
mxcsr_round_up:
	.long 0x5f80	/* all exceptions masked, RC = round up */

	.text

.macro LOAD_GPRS base
	mov ST_GPR+0(\base), %rax
	mov ST_GPR+8(\base), %rbx
	mov ST_GPR+16(\base), %rcx
	mov ST_GPR+24(\base), %rdx
	mov ST_GPR+32(\base), %rsi
	mov ST_GPR+40(\base), %rbp
	mov ST_GPR+48(\base), %r8
	mov ST_GPR+56(\base), %r9
	mov ST_GPR+64(\base), %r10
	mov ST_GPR+72(\base), %r11
	mov ST_GPR+80(\base), %r12
	mov ST_GPR+88(\base), %r13
	mov ST_GPR+96(\base), %r14
	mov ST_GPR+104(\base), %r15
.endm

.macro STORE_GPR reg, off, base
	mov \reg, ST_GPR+\off(\base)
.endm

.macro MIX a, b
	imul $0x2545f491, \a, \a
	add \b, \a
.endm

.macro ROUND name, avx512
	.globl \name
	.type \name, @function
\name:
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	sub $L_SIZE, %rsp
	mov %rdi, L_STATE(%rsp)
	mov %rsi, L_LEFT(%rsp)
	movq $0, L_TS(%rsp)
	mov %rdx, L_TS+8(%rsp)
	stmxcsr L_MXCSR(%rsp)
	ldmxcsr mxcsr_round_up(%rip)
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu ST_YMM+\i*32(%rdi), %ymm\i
	.endr
	.if \avx512
	.irp i, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 ST_ZMM+(\i-16)*64(%rdi), %zmm\i
	.endr
	.irp i, 1,2,3,4,5,6,7
	kmovw ST_K+\i*8(%rdi), %k\i
	.endr
	.endif
	LOAD_GPRS %rdi
	mov ST_GPR+112(%rdi), %rdi
1:
	MIX %rax, %rbx
	MIX %rbx, %rcx
	MIX %rcx, %rdx
	MIX %rdx, %rsi
	MIX %rsi, %rdi
	MIX %rdi, %rbp
	MIX %rbp, %r8
	MIX %r8, %r9
	MIX %r9, %r10
	MIX %r10, %r11
	MIX %r11, %r12
	MIX %r12, %r13
	MIX %r13, %r14
	MIX %r14, %r15
	MIX %r15, %rax
	add %r8, %r9
	adc $0, %r10
	vpaddq %ymm1, %ymm0, %ymm0
	vpermq $0x93, %ymm0, %ymm0
	vpaddq %ymm2, %ymm1, %ymm1
	vpermq $0x93, %ymm1, %ymm1
	vpaddq %ymm3, %ymm2, %ymm2
	vpermq $0x93, %ymm2, %ymm2
	vpaddq %ymm4, %ymm3, %ymm3
	vpermq $0x93, %ymm3, %ymm3
	vpaddq %ymm5, %ymm4, %ymm4
	vpermq $0x93, %ymm4, %ymm4
	vpaddq %ymm6, %ymm5, %ymm5
	vpermq $0x93, %ymm5, %ymm5
	vpaddq %ymm7, %ymm6, %ymm6
	vpermq $0x93, %ymm6, %ymm6
	vpaddq %ymm8, %ymm7, %ymm7
	vpermq $0x93, %ymm7, %ymm7
	vpaddq %ymm9, %ymm8, %ymm8
	vpermq $0x93, %ymm8, %ymm8
	vpaddq %ymm10, %ymm9, %ymm9
	vpermq $0x93, %ymm9, %ymm9
	vpaddq %ymm11, %ymm10, %ymm10
	vpermq $0x93, %ymm10, %ymm10
	vpaddq %ymm0, %ymm11, %ymm11
	vsubps %ymm14, %ymm12, %ymm15
	vmulps %ymm14, %ymm15, %ymm15
	vmulps %ymm13, %ymm15, %ymm14
	.if \avx512
	vpaddq %zmm17, %zmm16, %zmm16{%k1}
	vpermq $0x93, %zmm16, %zmm16
	vpaddq %zmm18, %zmm17, %zmm17{%k2}
	vpermq $0x93, %zmm17, %zmm17
	vpaddq %zmm19, %zmm18, %zmm18{%k3}
	vpermq $0x93, %zmm18, %zmm18
	vpaddq %zmm20, %zmm19, %zmm19{%k4}
	vpermq $0x93, %zmm19, %zmm19
	vpaddq %zmm21, %zmm20, %zmm20{%k5}
	vpermq $0x93, %zmm20, %zmm20
	vpaddq %zmm22, %zmm21, %zmm21{%k6}
	vpermq $0x93, %zmm21, %zmm21
	vpaddq %zmm23, %zmm22, %zmm22{%k7}
	vpermq $0x93, %zmm22, %zmm22
	vpaddq %zmm24, %zmm23, %zmm23{%k1}
	vpermq $0x93, %zmm23, %zmm23
	vpaddq %zmm25, %zmm24, %zmm24{%k2}
	vpermq $0x93, %zmm24, %zmm24
	vpaddq %zmm26, %zmm25, %zmm25{%k3}
	vpermq $0x93, %zmm25, %zmm25
	vpaddq %zmm27, %zmm26, %zmm26{%k4}
	vpermq $0x93, %zmm26, %zmm26
	vpaddq %zmm28, %zmm27, %zmm27{%k5}
	vpermq $0x93, %zmm27, %zmm27
	vpaddq %zmm29, %zmm28, %zmm28{%k6}
	vpermq $0x93, %zmm28, %zmm28
	vpaddq %zmm30, %zmm29, %zmm29{%k7}
	vpermq $0x93, %zmm29, %zmm29
	vpaddq %zmm31, %zmm30, %zmm30{%k1}
	vpermq $0x93, %zmm30, %zmm30
	vpaddq %zmm16, %zmm31, %zmm31
	.endif
	.if \avx512
	kxorw %k2, %k1, %k1
	kxorw %k3, %k2, %k2
	kxorw %k4, %k3, %k3
	kxorw %k5, %k4, %k4
	kxorw %k6, %k5, %k5
	kxorw %k7, %k6, %k6
	kxnorw %k1, %k7, %k7
	.endif
	testl $1023, L_LEFT(%rsp)
	jnz 2f
	cmpq $0, L_TS+8(%rsp)
	je 2f
	/* The kernel keeps every register across a system call but these. */
	push %rax
	push %rcx
	push %rdi
	push %rsi
	push %r11
	mov $35, %eax /* nanosleep */
	lea 40+L_TS(%rsp), %rdi
	xor %esi, %esi
	syscall
	pop %r11
	pop %rsi
	pop %rdi
	pop %rcx
	pop %rax
2:
	decq L_LEFT(%rsp)
	jnz 1b
	push %rdi
	mov 8+L_STATE(%rsp), %rdi
	STORE_GPR %rax, 0, %rdi
	STORE_GPR %rbx, 8, %rdi
	STORE_GPR %rcx, 16, %rdi
	STORE_GPR %rdx, 24, %rdi
	STORE_GPR %rsi, 32, %rdi
	STORE_GPR %rbp, 40, %rdi
	STORE_GPR %r8, 48, %rdi
	STORE_GPR %r9, 56, %rdi
	STORE_GPR %r10, 64, %rdi
	STORE_GPR %r11, 72, %rdi
	STORE_GPR %r12, 80, %rdi
	STORE_GPR %r13, 88, %rdi
	STORE_GPR %r14, 96, %rdi
	STORE_GPR %r15, 104, %rdi
	pop %rax
	STORE_GPR %rax, 112, %rdi
	.irp i, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
	vmovdqu %ymm\i, ST_YMM+\i*32(%rdi)
	.endr
	.if \avx512
	.irp i, 16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
	vmovdqu64 %zmm\i, ST_ZMM+(\i-16)*64(%rdi)
	.endr
	.irp i, 1,2,3,4,5,6,7
	kmovw %k\i, ST_K+\i*8(%rdi)
	.endr
	.endif
	ldmxcsr L_MXCSR(%rsp)
	vzeroupper
	add $L_SIZE, %rsp
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
	.size \name, . - \name
.endm

	ROUND victim_round_avx2, 0
	ROUND victim_round_avx512, 1

	.section .note.GNU-stack, "", @progbits
