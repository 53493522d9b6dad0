/* SPDX-License-Identifier: MIT */
/* A static program that exits: stripped, it has no symbol, no PLT, no .eh_frame. */
	.globl _start
_start:
	mov $60, %eax		/* exit(0) */
	xor %edi, %edi
	syscall

	.section .note.GNU-stack, "", @progbits
