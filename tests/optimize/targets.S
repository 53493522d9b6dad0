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
