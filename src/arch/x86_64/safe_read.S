/* SPDX-License-Identifier: MIT */
/*
 * Fault-safe reads of the traced program's memory, for fetch-args.
 *
 * Each routine is a leaf that never touches the stack between its entry and
 * its ret, so a fault on one of its loads is undone by resuming at
 * uprobes_safe_fixup, which returns -EFAULT (-14) to the caller as if the
 * routine had. The SIGSEGV/SIGBUS handler (trace/fetch.c) does exactly that
 * when the faulting rip lies in [uprobes_safe_begin, uprobes_safe_end); the
 * program's own handlers see every other fault. A good pointer costs a
 * normal load: no system call, no probing of the mapping.
 *
 *   int uprobes_safe_load(uint64_t addr, unsigned size, uint64_t *out)
 *        size 1, 2, 4 or 8; *out zero-extended; 0 or -EFAULT
 *   int uprobes_safe_copy(void *dst, uint64_t src, size_t len)
 *        0 or -EFAULT (dst partly written)
 *   long uprobes_safe_strnlen(uint64_t src, size_t max)
 *        length of the text before its NUL, at most max; or -EFAULT
 *   struct { uint64_t v, fault; } uprobes_safe_load8(uint64_t addr)
 *        the word at addr, fault 0; or fault 1 (stack walks: one load a
 *        frame, no size to dispatch on, the result in registers)
 *   struct { uint64_t v, fault; } uprobes_safe_load16(uint64_t addr)
 *        the words at addr (v) and addr + 8 (in fault); after a fault, 1 in
 *        fault (a stack walk's saved rbp and return address: 1 is no return
 *        address)
 *
 * The fixup returns -EFAULT in rax and 1 in rdx (a scratch register for the
 * others' callers, the fault flag for uprobes_safe_load8's).
 */
	.text
	.globl uprobes_safe_begin, uprobes_safe_end, uprobes_safe_fixup
	.hidden uprobes_safe_begin, uprobes_safe_end, uprobes_safe_fixup
	.globl uprobes_safe_load, uprobes_safe_copy, uprobes_safe_strnlen, uprobes_safe_load8
	.globl uprobes_safe_load16
	.hidden uprobes_safe_load, uprobes_safe_copy, uprobes_safe_strnlen, uprobes_safe_load8
	.hidden uprobes_safe_load16

	.p2align 4
uprobes_safe_begin:
uprobes_safe_load:
	.cfi_startproc
	cmp $8, %esi
	je 8f
	cmp $4, %esi
	je 4f
	cmp $2, %esi
	je 2f
	movzbl (%rdi), %eax
	jmp 9f
2:	movzwl (%rdi), %eax
	jmp 9f
4:	movl (%rdi), %eax
	jmp 9f
8:	movq (%rdi), %rax
9:	movq %rax, (%rdx)
	xorl %eax, %eax
	ret
	.cfi_endproc
	.type uprobes_safe_load, @function
	.size uprobes_safe_load, . - uprobes_safe_load

	.p2align 4
uprobes_safe_copy:
	.cfi_startproc
	test %rdx, %rdx
	jz 2f
1:	movzbl (%rsi), %eax
	movb %al, (%rdi)
	inc %rsi
	inc %rdi
	dec %rdx
	jnz 1b
2:	xorl %eax, %eax
	ret
	.cfi_endproc
	.type uprobes_safe_copy, @function
	.size uprobes_safe_copy, . - uprobes_safe_copy

	.p2align 4
uprobes_safe_strnlen:
	.cfi_startproc
	xorl %eax, %eax
1:	cmp %rsi, %rax
	jae 2f
	cmpb $0, (%rdi,%rax)
	je 2f
	inc %rax
	jmp 1b
2:	ret
	.cfi_endproc
	.type uprobes_safe_strnlen, @function
	.size uprobes_safe_strnlen, . - uprobes_safe_strnlen

	.p2align 4
uprobes_safe_load8:
	.cfi_startproc
	movq (%rdi), %rax
	xorl %edx, %edx
	ret
	.cfi_endproc
	.type uprobes_safe_load8, @function
	.size uprobes_safe_load8, . - uprobes_safe_load8

	.p2align 4
uprobes_safe_load16:
	.cfi_startproc
	movq (%rdi), %rax
	movq 8(%rdi), %rdx
	ret
	.cfi_endproc
	.type uprobes_safe_load16, @function
	.size uprobes_safe_load16, . - uprobes_safe_load16

	/* Resumed here, in place of the faulting load, by the fault handler. */
uprobes_safe_fixup:
	.cfi_startproc
	movq $-14, %rax
	movl $1, %edx
	ret
	.cfi_endproc
uprobes_safe_end:

	.section .note.GNU-stack, "", @progbits
