/* SPDX-License-Identifier: MIT */
/* Functions for test_lean: function entries the lean trampoline takes, or cannot. */
	.text

	.globl lean_add
	.type lean_add, @function
lean_add:			/* rdi + rsi; 48 8d 04 37 c3: a 5-byte window */
	lea (%rdi,%rsi), %rax
	ret
	.size lean_add, .-lean_add

	.globl lean_add_full
	.type lean_add_full, @function
lean_add_full:			/* the same, for UPROBE_ENTRY_PATH=full (a record of its own) */
	lea (%rdi,%rsi), %rax
	ret
	.size lean_add_full, .-lean_add_full

	.globl lean_add_nofl
	.type lean_add_nofl, @function
lean_add_nofl:			/* the same, for UPROBE_F_HANDLER_NO_FLAGS */
	lea (%rdi,%rsi), %rax
	ret
	.size lean_add_nofl, .-lean_add_nofl

	/*
	 * Counts up to edi. The loop's jb lands on byte 2 of the entry's 5-byte
	 * window: the entry cannot take a jump, only a breakpoint.
	 *   31 c0   xor %eax,%eax
	 *   ff c0   1: inc %eax      <- jb target
	 *   39 f8   cmp %edi,%eax
	 *   72 fa   jb 1b
	 *   c3      ret
	 */
	.globl lean_loop
	.type lean_loop, @function
lean_loop:
	xor %eax, %eax
1:	inc %eax
	cmp %edi, %eax
	jb 1b
	ret
	.size lean_loop, .-lean_loop


	/*
	 * For the lean body's own tests (test_lean.c, body_*): lean_body_add
	 * takes the jump at its entry (a 6-byte window: mov, add) and its ret,
	 * followed by padding, a return site; lean_body_rbx returns rbx, which
	 * it does not write, so a caller sees what the trampoline restored.
	 */
	.p2align 4, 0xcc
	.globl lean_body_add
	.type lean_body_add, @function
lean_body_add:
	.cfi_startproc
	mov %rdi, %rax
	add %rsi, %rax
	ret
	.cfi_endproc
	.size lean_body_add, .-lean_body_add
	.p2align 4, 0xcc

	.globl lean_body_rbx
	.type lean_body_rbx, @function
lean_body_rbx:
	.cfi_startproc
	mov %rbx, %rax
	nop
	nop
	ret
	.cfi_endproc
	.size lean_body_rbx, .-lean_body_rbx
	.p2align 4, 0xcc

	.section .note.GNU-stack,"",@progbits
