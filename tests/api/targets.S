/* SPDX-License-Identifier: MIT */
/* Functions with known bytes for the bad-input and signal tests. */
	.text

	.globl api_movabs
	.type api_movabs, @function
api_movabs:			/* 48 b8 imm64: one 10-byte instruction */
	movabs $0x1122334455667788, %rax
	ret
	.size api_movabs, .-api_movabs

	.globl api_syscall
	.type api_syscall, @function
api_syscall:
	mov $39, %eax		/* getpid */
	.globl api_syscall_insn
api_syscall_insn:
	syscall
	ret
	.size api_syscall, .-api_syscall

	.globl api_ud2
	.type api_ud2, @function
api_ud2:
	ud2
	.size api_ud2, .-api_ud2

	.globl api_int3
	.type api_int3, @function
api_int3:
	int3
	.globl api_int3_after
api_int3_after:
	mov $7, %eax
	ret
	.size api_int3, .-api_int3

	.globl api_int80
	.type api_int80, @function
api_int80:
	int $0x80
	ret
	.size api_int80, .-api_int80

	.globl api_mov_ss
	.type api_mov_ss, @function
api_mov_ss:
	mov %ss, %ax
	.globl api_mov_ss_insn
api_mov_ss_insn:
	mov %ax, %ss
	ret
	.size api_mov_ss, .-api_mov_ss

	.globl api_add
	.type api_add, @function
api_add:			/* rdi + rsi */
	lea (%rdi,%rsi), %rax
	ret
	.size api_add, .-api_add

	.section .note.GNU-stack,"",@progbits
