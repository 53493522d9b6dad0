/* SPDX-License-Identifier: MIT */
/*
 * Assembler macros shared by the trampolines: the 15 general registers to and
 * from struct uprobe_regs at (%rsp) (r15 first, rdi last).
 */
#ifndef UPROBES_ARCH_GPRS_S_H
#define UPROBES_ARCH_GPRS_S_H

/* x87, SSE, AVX, AVX-512 opmask/ZMM_Hi256/Hi16_ZMM: what a C handler may touch (not AMX, PKRU). */
#define XSAVE_MASK 0xe7

	.macro SAVE_GPRS
	mov %r15, 0(%rsp)
	mov %r14, 8(%rsp)
	mov %r13, 16(%rsp)
	mov %r12, 24(%rsp)
	mov %rbp, 32(%rsp)
	mov %rbx, 40(%rsp)
	mov %r11, 48(%rsp)
	mov %r10, 56(%rsp)
	mov %r9, 64(%rsp)
	mov %r8, 72(%rsp)
	mov %rax, 80(%rsp)
	mov %rcx, 88(%rsp)
	mov %rdx, 96(%rsp)
	mov %rsi, 104(%rsp)
	mov %rdi, 112(%rsp)
	.endm

	.macro LOAD_GPRS
	mov 0(%rsp), %r15
	mov 8(%rsp), %r14
	mov 16(%rsp), %r13
	mov 24(%rsp), %r12
	mov 32(%rsp), %rbp
	mov 40(%rsp), %rbx
	mov 48(%rsp), %r11
	mov 56(%rsp), %r10
	mov 64(%rsp), %r9
	mov 72(%rsp), %r8
	mov 80(%rsp), %rax
	mov 88(%rsp), %rcx
	mov 96(%rsp), %rdx
	mov 104(%rsp), %rsi
	mov 112(%rsp), %rdi
	.endm

#endif
