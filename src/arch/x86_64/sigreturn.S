/* SPDX-License-Identifier: MIT */
/*
 * The sa_restorer of the library's own signal handlers (ubp/signal.c), in
 * place of libc's __restore_rt: a probe may sit on __restore_rt, and while
 * its first byte is an int3 (a breakpoint probe, or a jump being written or
 * taken out) every handler returning through it traps again, the SIGTRAP
 * handler's own return too: without a restorer of our own that never ends.
 * The same bytes as __restore_rt (48 c7 c0 0f 00 00 00 0f 05), which
 * debuggers and libgcc's unwinder recognise as a signal frame by its code.
 * No FDE: those unwinders fall back to the code for an address without one.
 */
	.text
	.globl uprobes_sigreturn
	.hidden uprobes_sigreturn
	.type uprobes_sigreturn, @function
	.p2align 4
	nop /* unwinders look up the return address - 1 */
uprobes_sigreturn:
	movq $15, %rax /* __NR_rt_sigreturn */
	syscall
	.size uprobes_sigreturn, .-uprobes_sigreturn

	.section .note.GNU-stack,"",@progbits
