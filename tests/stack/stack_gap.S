/* SPDX-License-Identifier: MIT */
/*
 * gap_mid(fn, x) for stack_target: gap_inner(fn, x + 1) + 1, which returns
 * fn(x + 1) + 1; both keep a frame pointer and have no CFI, in a file whose
 * other functions have CFI: the walk finds gaps in the table there and must
 * follow rbp, taking each caller's rbp from the frame (two such frames in a
 * row: a stale rbp would end the walk at the second). gap_end, with CFI,
 * keeps them inside the table's range.
 */
	.text
	.globl gap_mid
	.type gap_mid, @function
gap_mid:
	push %rbp
	mov %rsp, %rbp
	add $1, %esi
	call gap_inner
	add $1, %eax
	pop %rbp
	ret
	.size gap_mid, . - gap_mid

	.type gap_inner, @function
gap_inner:
	push %rbp
	mov %rsp, %rbp
	push %rbx
	sub $8, %rsp
	mov %rdi, %rax
	lea 1(%rsi), %edi
	call *%rax
	add $1, %eax
	add $8, %rsp
	pop %rbx
	pop %rbp
	ret
	.size gap_inner, . - gap_inner

	/* With CFI, after the two: they lie in a gap of the table, not past its end. */
	.type gap_end, @function
gap_end:
	.cfi_startproc
	ret
	.cfi_endproc
	.size gap_end, . - gap_end

	.section .note.GNU-stack, "", @progbits
