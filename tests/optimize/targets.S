/* SPDX-License-Identifier: MIT */
/* Functions whose first instructions cannot be replaced by a jump. */
	.text

/* A loop back to the second instruction: a branch into bytes 1..4 of the window. */
	.globl opt_branch_into
	.type opt_branch_into, @function
opt_branch_into:		/* returns max(rdi, 10) counted up one by one */
	mov %rdi, %rax		/* 48 89 f8: probed */
1:	add $1, %rax		/* 48 83 c0 01: byte 3 of the window */
	cmp $10, %rax
	jl 1b
	ret
	.size opt_branch_into, .-opt_branch_into

/* switch (rdi & 3) through a jump table: an indirect jump. */
	.globl opt_jump_table
	.type opt_jump_table, @function
opt_jump_table:
	mov %rdi, %rax		/* probed */
	and $3, %eax
	lea opt_table(%rip), %rdx
	movslq (%rdx,%rax,4), %rax
	add %rdx, %rax
	jmp *%rax
.Lcase0:
	mov $100, %eax
	ret
.Lcase1:
	mov $101, %eax
	ret
.Lcase2:
	mov $102, %eax
	ret
.Lcase3:
	mov $103, %eax
	ret
	.size opt_jump_table, .-opt_jump_table

/* A loop driven through a jump table whose only case is the second instruction. */
	.globl opt_table_into
	.type opt_table_into, @function
opt_table_into:			/* counts rdi down to -1 through the table, returns 7 */
	mov %rdi, %rcx		/* 48 89 f9: probed */
.Lagain:
	dec %rcx		/* 48 ff c9: byte 3 of the window, reached only by the table */
	js 1f
	lea opt_table2(%rip), %rdx
	movslq (%rdx), %rax
	add %rdx, %rax
	jmp *%rax
1:	mov $7, %eax
	ret
	.size opt_table_into, .-opt_table_into

/*
 * memcpy by rep movsb: mov (3 bytes) + rep movsb (2) is exactly one window. A
 * rep movsb of a large buffer keeps rip at +3 for a long time: a thread there
 * while the probe is attached must be moved into the trampoline's copy.
 */
	.globl opt_rep_window
	.type opt_rep_window, @function
opt_rep_window:			/* (dst, src, n): returns dst + n */
	mov %rdx, %rcx
	rep movsb
	mov %rdi, %rax
	ret
	.size opt_rep_window, .-opt_rep_window

/* The same work with no obstacle: must be optimized (the control case). */
	.globl opt_plain
	.type opt_plain, @function
opt_plain:
	mov %rdi, %rax
	add $1, %rax
	add %rax, %rax
	ret
	.size opt_plain, .-opt_plain

/*
 * The longest window: a 4-byte instruction, then a 15-byte one that holds the
 * jump's last byte, 19 bytes in all (REC_ORIG_MAX). Its last bytes are not
 * zero: a record keeping fewer of them would see them overrun what follows.
 */
	.globl opt_window19
	.type opt_window19, @function
opt_window19:			/* (a, b): returns a + 1 + b + 0x12345678 */
	add $1, %rdi		/* 48 83 c7 01: probed */
	/* lea 0x12345678(%rdi,%rsi), %rax behind six 0x66 and a cs prefix: 15 bytes */
	.byte 0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2e
	lea 0x12345678(%rdi,%rsi,1), %rax
	ret
	.size opt_window19, .-opt_window19
	.p2align 4, 0xcc	/* int3 after the ret: room for its return site's jump */

/* opt_plain's code twice more, for test_optimize's demoted (one probe each time). */
	.globl opt_demote_a
	.type opt_demote_a, @function
opt_demote_a:
	mov %rdi, %rax		/* its window (7 bytes) holds the next one */
	add $1, %rax
	add %rax, %rax
	ret
	.size opt_demote_a, .-opt_demote_a

	.globl opt_demote_b
	.type opt_demote_b, @function
opt_demote_b:
	mov %rdi, %rax
	add $1, %rax
	add %rax, %rax
	ret
	.size opt_demote_b, .-opt_demote_b

	.section .rodata
	.p2align 2
opt_table:
	.long .Lcase0 - opt_table
	.long .Lcase1 - opt_table
	.long .Lcase2 - opt_table
	.long .Lcase3 - opt_table
opt_table2:
	.long .Lagain - opt_table2

	.section .note.GNU-stack,"",@progbits

/*
 * The count stub's target (count_stub_*): a 5-byte entry (lea + ret) the jump
 * covers whole. opt_count_call runs it with every general register set from
 * in[0..14] (rax rbx rcx rdx rsi rdi rbp r8 .. r15) and stores them after the
 * call into out[0..14]; the 128 bytes below the call's return address (the
 * callee's red zone) are filled with in[15] before and compared after:
 * out[15] is how many words differ. The probe must change nothing but rax
 * (the callee's result, as unprobed) and the flags.
 */
	.text
	.globl opt_count_target
	.type opt_count_target, @function
	.p2align 4
opt_count_target:
	lea 1(%rdi), %rax
	ret
	.size opt_count_target, .-opt_count_target

	.globl opt_count_call
	.type opt_count_call, @function
opt_count_call:			/* (const uint64_t in[16], uint64_t out[16]) */
	push %rbp
	push %rbx
	push %r12
	push %r13
	push %r14
	push %r15
	push %rsi		/* out */
	push %rdi		/* in */
	/* the red zone of the call below: [rsp - 8 - 128, rsp - 8) */
	mov 120(%rdi), %rax
	mov $16, %ecx
1:	mov %rax, -144(%rsp,%rcx,8)
	dec %ecx
	jnz 1b
	mov 0(%rdi), %rax
	mov 8(%rdi), %rbx
	mov 16(%rdi), %rcx
	mov 24(%rdi), %rdx
	mov 32(%rdi), %rsi
	mov 48(%rdi), %rbp
	mov 56(%rdi), %r8
	mov 64(%rdi), %r9
	mov 72(%rdi), %r10
	mov 80(%rdi), %r11
	mov 88(%rdi), %r12
	mov 96(%rdi), %r13
	mov 104(%rdi), %r14
	mov 112(%rdi), %r15
	mov 40(%rdi), %rdi
	call opt_count_target
	push %rdi
	mov 16(%rsp), %rdi	/* out */
	mov %rax, 0(%rdi)
	mov %rbx, 8(%rdi)
	mov %rcx, 16(%rdi)
	mov %rdx, 24(%rdi)
	mov %rsi, 32(%rdi)
	pop %rax
	mov %rax, 40(%rdi)
	mov %rbp, 48(%rdi)
	mov %r8, 56(%rdi)
	mov %r9, 64(%rdi)
	mov %r10, 72(%rdi)
	mov %r11, 80(%rdi)
	mov %r12, 88(%rdi)
	mov %r13, 96(%rdi)
	mov %r14, 104(%rdi)
	mov %r15, 112(%rdi)
	mov (%rsp), %rsi	/* in */
	mov 120(%rsi), %rax
	xor %edx, %edx
	mov $16, %ecx
2:	cmp %rax, -144(%rsp,%rcx,8)
	setne %r8b
	movzbl %r8b, %r8d
	add %r8, %rdx
	dec %ecx
	jnz 2b
	mov %rdx, 120(%rdi)
	pop %rdi
	pop %rsi
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbx
	pop %rbp
	ret
	.size opt_count_call, .-opt_count_call
