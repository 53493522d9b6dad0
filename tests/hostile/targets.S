/* SPDX-License-Identifier: MIT */
/*
 * Probe targets with known bytes for the hostile programs.
 *
 * hostile_xol is 4 bytes long: too short for a 5-byte jump, so its probe takes
 * the int3 path; lea is neither emulated nor single-stepped, so a hit runs it
 * out of line (XOL).
 *
 *   8d 47 01    lea 0x1(%rdi),%eax
 *   c3          ret
 *
 * hostile_jmp is jump-optimized at its entry (a 6-byte window of 3 instructions).
 *
 *   53          push %rbx
 *   89 fb       mov %edi,%ebx
 *   8d 43 02    lea 0x2(%rbx),%eax
 *   5b          pop %rbx
 *   c3          ret
 */
	.text

	.globl hostile_xol
	.type hostile_xol, @function
hostile_xol:
	lea 1(%rdi), %eax
	ret
	.size hostile_xol, .-hostile_xol

	.globl hostile_jmp
	.type hostile_jmp, @function
hostile_jmp:
	push %rbx
	mov %edi, %ebx
	lea 2(%rbx), %eax
	pop %rbx
	ret
	.size hostile_jmp, .-hostile_jmp

/*
 * The sa_restorer of a handler installed with the raw rt_sigaction system
 * call (the kernel returns from every x86-64 handler through one).
 */
	.globl hostile_restorer
	.type hostile_restorer, @function
hostile_restorer:
	mov $15, %eax		/* rt_sigreturn */
	syscall
	.size hostile_restorer, .-hostile_restorer

	.section .note.GNU-stack, "", @progbits
