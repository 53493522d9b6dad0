// SPDX-License-Identifier: MIT
/*
 * Fault-safe reads on aarch64 (safe_read.h has the contract, the same as
 * x86-64's): each routine is a leaf that keeps x30 and sp, so a fault on one
 * of its loads is undone by resuming at uprobes_safe_fixup, which returns
 * -EFAULT (-14) in x0 and 1 in x1 to the caller as if the routine had. The
 * SIGSEGV/SIGBUS hook arch_safe_read_fault() does that when the faulting pc
 * lies in [uprobes_safe_begin, uprobes_safe_end). A good pointer costs a
 * normal load.
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
// int uprobes_safe_load(uint64_t addr, unsigned size, uint64_t *out)
uprobes_safe_load:
	cmp w1, #8
	b.eq 8f
	cmp w1, #4
	b.eq 4f
	cmp w1, #2
	b.eq 2f
	ldrb w3, [x0]
	b 9f
2:	ldrh w3, [x0]
	b 9f
4:	ldr w3, [x0]
	b 9f
8:	ldr x3, [x0]
9:	str x3, [x2]
	mov x0, #0
	ret

// int uprobes_safe_copy(void *dst, uint64_t src, size_t len)
uprobes_safe_copy:
	cbz x2, 2f
1:	ldrb w3, [x1], #1
	strb w3, [x0], #1
	subs x2, x2, #1
	b.ne 1b
2:	mov x0, #0
	ret

// long uprobes_safe_strnlen(uint64_t src, size_t max)
uprobes_safe_strnlen:
	mov x2, #0
1:	cmp x2, x1
	b.hs 2f
	ldrb w3, [x0, x2]
	cbz w3, 2f
	add x2, x2, #1
	b 1b
2:	mov x0, x2
	ret

// struct safe_word uprobes_safe_load8(uint64_t addr): {x0, x1}
uprobes_safe_load8:
	ldr x0, [x0]
	mov x1, #0
	ret

// struct safe_word uprobes_safe_load16(uint64_t addr): the words at addr, addr + 8
uprobes_safe_load16:
	ldp x0, x1, [x0]
	ret
uprobes_safe_end:

uprobes_safe_fixup:
	mov x0, #-14
	mov x1, #1
	ret
	.section .note.GNU-stack,"",%progbits
