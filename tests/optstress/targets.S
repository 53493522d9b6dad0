/* SPDX-License-Identifier: MIT */
/*
 * Four probe targets with fixed bytes, one per kind of jump-optimization
 * window. Each counts its own executions (opt_counts[i], lock inc) so that a
 * lost or doubled execution is seen, and returns a value the caller checks:
 *
 *   opt_one(x)    = x ^ 0x5a5a5a5a        window: one 5-byte mov at the entry
 *   opt_frame(x)  = x * 31 + 7            window: push %rbp; mov %rsp,%rbp;
 *                                         push %rbx (3 instructions, entry)
 *   opt_rip(x)    = 3x + (x & 1) + K      window: mid-function RIP-relative
 *                                         load; CF, xmm0 and the red zone
 *                                         are live across it
 *   opt_branch(x) = (int32_t)x < 0 ? x + 1000 : 2x
 *                                         window: test; js; mov (the jcc is
 *                                         the 2nd instruction, entry)
 */
	.text

	.globl opt_one
	.type opt_one,@function
	.p2align 4
opt_one:
	mov $0x5a5a5a5a, %eax
	xor %rdi, %rax
	lock incq opt_counts(%rip)
	ret
	.size opt_one, .-opt_one

	.globl opt_frame
	.type opt_frame,@function
	.p2align 4
opt_frame:
	push %rbp
	mov %rsp, %rbp
	push %rbx
	mov %rdi, %rbx
	imul $31, %rbx, %rax
	add $7, %rax
	mov %rbp, %rdx		/* + (rbp - rsp - 8): 0 when the frame is intact */
	sub %rsp, %rdx
	sub $8, %rdx
	add %rdx, %rax
	lock incq opt_counts+8(%rip)
	pop %rbx
	pop %rbp
	ret
	.size opt_frame, .-opt_frame

	.globl opt_rip
	.type opt_rip,@function
	.p2align 4
opt_rip:
	movq %rdi, %xmm0
	mov %rdi, -8(%rsp)
	mov %rdi, %rax
	bt $0, %edi
	.globl opt_rip_probe
opt_rip_probe:
	mov opt_rip_k(%rip), %rdx
	adc %rdx, %rax
	movq %xmm0, %rcx
	add %rcx, %rax
	add -8(%rsp), %rax
	lock incq opt_counts+16(%rip)
	ret
	.size opt_rip, .-opt_rip

	.globl opt_branch
	.type opt_branch,@function
	.p2align 4
opt_branch:
	test %edi, %edi
	js 1f
	mov %rdi, %rax
	add %rax, %rax
	jmp 2f
1:	lea 1000(%rdi), %rax
2:	lock incq opt_counts+24(%rip)
	ret
	.size opt_branch, .-opt_branch

	.section .rodata
	.globl opt_rip_k
	.type opt_rip_k,@object
	.balign 8
opt_rip_k:
	.quad 0x0123456789abcdef
	.size opt_rip_k, .-opt_rip_k

	.data
	.globl opt_counts
	.type opt_counts,@object
	.balign 64
opt_counts:
	.quad 0, 0, 0, 0
	.size opt_counts, .-opt_counts

	.section .note.GNU-stack,"",@progbits
