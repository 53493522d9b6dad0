/* SPDX-License-Identifier: MIT */
/* Five identical functions (lea 0x1(%rdi,%rdi,2),%eax; ret) for bench_lean's A/B. */
	.text
	.macro TARGET name
	.globl \name
	.type \name, @function
	.p2align 5
\name:
	lea 1(%rdi,%rdi,2), %eax
	ret
	.size \name, .-\name
	.endm

	TARGET lean_t_native
	TARGET lean_t_full
	TARGET lean_t_lean
	TARGET lean_t_nofl
	TARGET lean_t_shared

	.section .note.GNU-stack,"",@progbits
