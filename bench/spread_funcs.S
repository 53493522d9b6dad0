/* SPDX-License-Identifier: MIT */
/*
 * 4,096 distinct small functions for bench_spread (spread_fN: mov %edi,%eax;
 * add $1,%eax; ret: a 5-byte window before the ret, jump-optimized), and
 * spread_table, their addresses in order.
 */
	.text
	.macro FN n
	.globl spread_f\n
	.type spread_f\n, @function
	.p2align 4
spread_f\n:
	mov %edi, %eax
	add $1, %eax
	ret
	.size spread_f\n, .-spread_f\n
	.endm

	.altmacro
	.set i, 0
	.rept 4096
	FN %i
	.set i, i + 1
	.endr

	.section .data.rel.ro, "aw"
	.globl spread_table
	.p2align 3
spread_table:
	.macro ADDR n
	.quad spread_f\n
	.endm
	.set i, 0
	.rept 4096
	ADDR %i
	.set i, i + 1
	.endr
	.size spread_table, .-spread_table

	.section .note.GNU-stack,"",@progbits
