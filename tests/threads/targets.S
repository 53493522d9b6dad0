/* SPDX-License-Identifier: MIT */
/*
 * mid_function(x) returns x * 3 + 1 + mid_addend. The probe point is the
 * middle instruction, a RIP-relative load: out of line, its displacement must
 * be rewritten for the copy's address or the result (or the process) breaks.
 */
	.text
	.globl mid_function
	.type mid_function,@function
mid_function:
	lea 1(%rdi,%rdi,2), %rax
	.globl mid_function_probe
mid_function_probe:
	add mid_addend(%rip), %rax
	ret
	.size mid_function, .-mid_function

	.section .rodata
	.globl mid_addend
	.type mid_addend,@object
	.balign 8
mid_addend:
	.quad 0x5eed1234
	.size mid_addend, .-mid_addend

	.section .note.GNU-stack,"",@progbits
