/* SPDX-License-Identifier: MIT */
/*
 * Functions that call cli_leaf() with a bad stack, for tests/stack's corrupt
 * case: a stack walk from cli_leaf must stop here, and the program run on.
 *
 * corrupt_cfi(x): CFI says where the return address is; that slot holds 0x10
 *   while cli_leaf runs (the real one kept in rbx), and rbp is garbage.
 * corrupt_nocfi(x, bad_rbp): no CFI at all; rbp = bad_rbp, an address above
 *   the stack where nothing is mapped: frame pointers lead into a fault.
 */
	.text
	.globl corrupt_cfi, corrupt_nocfi
	.type corrupt_cfi, @function
corrupt_cfi:
	.cfi_startproc
	push %rbx
	.cfi_def_cfa_offset 16
	.cfi_offset %rbx, -16
	push %rbp
	.cfi_def_cfa_offset 24
	.cfi_offset %rbp, -24
	mov 16(%rsp), %rbx
	movq $0x10, 16(%rsp)
	movabs $0xdead0000dead0000, %rbp
	sub $8, %rsp
	.cfi_def_cfa_offset 32
	call cli_leaf
	add $8, %rsp
	.cfi_def_cfa_offset 24
	mov %rbx, 16(%rsp)
	pop %rbp
	.cfi_def_cfa_offset 16
	pop %rbx
	.cfi_def_cfa_offset 8
	ret
	.cfi_endproc
	.size corrupt_cfi, . - corrupt_cfi

	.type corrupt_nocfi, @function
corrupt_nocfi:
	push %rbp
	mov %rsi, %rbp
	call cli_leaf
	pop %rbp
	ret
	.size corrupt_nocfi, . - corrupt_nocfi

	.section .note.GNU-stack, "", @progbits
