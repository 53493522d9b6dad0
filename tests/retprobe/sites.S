/* SPDX-License-Identifier: MIT */
/*
 * Hand-written functions for test_retsite: one per case of the return-site
 * analysis (src/arch/x86_64/retsite.h), eligible or refused for one reason.
 * Each starts with at least 5 bytes of plain code (the entry's jump) unless
 * the case is about that. Those that test_retsite calls return rdi + 1.
 * Functions are aligned on 16 with int3 padding, except where a case needs
 * the next function right after the extent (no padding).
 */
	.text

#define FUNC(name) .globl name; .type name, @function; name:
#define END(name) .size name, . - name
#define PAD .p2align 4, 0xcc

/* ret, then padding after the extent: a window of the ret and 4 bytes of int3. */
	PAD
FUNC(rs_ret_pad)
	mov %rdi, %rax		/* 3 bytes */
	add $1, %rax		/* 4 */
	ret
END(rs_ret_pad)

/* ret, no padding: the window takes the add before it. */
	PAD
FUNC(rs_ret_back)
	mov %rdi, %rax
	nop
	nop
	add $1, %rax		/* 4 bytes, then the ret */
	ret
END(rs_ret_back)
FUNC(rs_leaf)			/* right after rs_ret_back: no padding between */
	lea 1(%rdi), %rax
	nop
	nop
	ret
END(rs_leaf)

/* A tail jump (jmp rel32, patched in place) and two rets: 3 return sites. */
	PAD
FUNC(rs_multi)
	mov %rdi, %rax
	nop
	nop
	cmp $10, %rdi
	je 1f
	cmp $20, %rdi
	je 2f
	{disp32} jmp rs_leaf
1:	add $1, %rax
	nop
	nop
	nop
	ret
2:	add $1, %rax
	nop
	nop
	nop
	ret
END(rs_multi)

/* A conditional tail call (jcc rel32, patched in place). */
	PAD
FUNC(rs_tail_jcc)
	mov %rdi, %rax
	nop
	nop
	test %rdi, %rdi
	{disp32} jne rs_leaf
	add $1, %rax
	nop
	nop
	nop
	ret
END(rs_tail_jcc)

/* A tail call through memory at a RIP-relative address (as through the GOT). */
	PAD
FUNC(rs_tail_got)
	mov %rdi, %rax
	nop
	nop
	jmp *rs_leaf_ptr(%rip)
END(rs_tail_got)

/* The last instruction is a call to abort: a no-return exit, nothing to patch there. */
	PAD
FUNC(rs_noreturn)
	mov %rdi, %rax
	nop
	nop
	test %rdi, %rdi
	js 1f
	add $1, %rax
	nop
	nop
	nop
	ret
1:	call abort@PLT
END(rs_noreturn)

/* Refused: a jump table (lea of the table, then jmp *%reg). */
	PAD
FUNC(rs_jump_table)
	lea rs_table(%rip), %rdx
	movslq (%rdx,%rdi,4), %rax
	add %rdx, %rax
	jmp *%rax
.Ljt1:	mov $1, %eax
	ret
.Ljt2:	mov $2, %eax
	ret
END(rs_jump_table)

/* Refused: a jump through a register that may stay inside. */
	PAD
FUNC(rs_indirect)
	mov %rdi, %rax
	nop
	nop
	jmp *%rsi
END(rs_indirect)

/* Refused: a jump through an indexed operand. */
	PAD
FUNC(rs_indexed)
	mov %rdi, %rax
	nop
	nop
	jmp *(%rsi,%rdi,8)
END(rs_indexed)

/* Refused: the first ret has 1 byte (a jcc before it, a branch target after it). */
	PAD
FUNC(rs_short)
	mov %rdi, %rax
	nop
	nop
	test %rdi, %rdi
	jne 1f
	ret
1:	add $1, %rax
	nop
	nop
	nop
	ret
END(rs_short)

/* Refused: the last instruction falls through into the next function. */
	PAD
FUNC(rs_falls)
	mov %rdi, %rax
	nop
	nop
	add $1, %rax
END(rs_falls)
FUNC(rs_after_falls)
	ret
END(rs_after_falls)

/* Refused: a jump into the middle of another function. */
	PAD
FUNC(rs_jump_mid)
	mov %rdi, %rax
	nop
	nop
	{disp32} jmp rs_leaf + 4
END(rs_jump_mid)

/* Refused: a jump to a part of the function elsewhere (as GCC's .cold). */
	PAD
FUNC(rs_hot)
	mov %rdi, %rax
	nop
	nop
	test %rdi, %rdi
	{disp32} js rs_hot.cold
	add $1, %rax
	nop
	nop
	nop
	ret
END(rs_hot)
	PAD
	.type rs_hot.cold, @function
rs_hot.cold:
	{disp32} jmp rs_leaf
	.size rs_hot.cold, . - rs_hot.cold

/* Refused: a branch back to the entry. */
	PAD
FUNC(rs_to_entry)
0:	sub $1, %rdi
	nop
	nop
	jnz 0b
	ret
END(rs_to_entry)

/*
 * A ret under the entry's 5-byte jump in a function too short for that jump
 * (3 bytes) and padded with int3: the entry takes a breakpoint, the ret stays
 * in the text, the hijack follows the return.
 */
	PAD
FUNC(rs_tiny)
	xor %eax, %eax
	ret
END(rs_tiny)

/*
 * As short, padded with nops (as gcc pads): the entry's jump takes the ret
 * and the first nop, and the ret is patched in the entry trampoline's copy.
 */
	PAD
FUNC(rs_tiny_nop)
	lea 1(%rdi), %eax	/* 3 bytes, then the ret */
	ret
END(rs_tiny_nop)
	.p2align 4		/* nops */

/*
 * As short, then one nop of padding and a function that starts with nops
 * (patchable_function_entry), unaligned: the entry's jump may not take them.
 */
	PAD
FUNC(rs_pad_shared)
	xor %eax, %eax
	ret
END(rs_pad_shared)
	nop
FUNC(rs_nop_start)
	nop
	nop
	lea 1(%rdi), %rax
	ret
END(rs_nop_start)

/* The ret under the entry's jump: patched in the entry trampoline's copy. */
	PAD
FUNC(rs_in_entry)
	lea 1(%rdi), %rax	/* 4 bytes, then the ret */
	ret
END(rs_in_entry)

/*
 * (a, b, c, d): b when d is not 0, by the ret under the entry's jump (its
 * window: xchg, jrcxz, ret, nop); else a + 1, by the ret after it.
 */
	PAD
FUNC(rs_in_entry2)
	xchg %eax, %esi
	jrcxz 1f
	ret
	nop
1:	lea 1(%rdi), %rax
	ret
END(rs_in_entry2)

/* Refused: a branch into the middle of an instruction. */
	PAD
FUNC(rs_mid_insn)
	mov %rdi, %rax
	nop
	nop
	jmp 1f + 2
1:	movabs $0xc3, %rax
	ret
END(rs_mid_insn)

/* Refused: the last instruction runs past the symbol's extent. */
	PAD
FUNC(rs_past_end)
	mov %rdi, %rax
	nop
	nop
	movabs $0x1122334455667788, %rax
	.size rs_past_end, . - rs_past_end - 4
	ret

/* Refused: another function jumps into the window of its ret (add; ret, no padding). */
	PAD
FUNC(rs_foreign)
	mov %rdi, %rax
	nop
	nop
	add $1, %rax
.Lforeign_ret:
	ret
END(rs_foreign)
FUNC(rs_foreign_from)
	mov %rdi, %rax
	nop
	nop
	{disp32} jmp .Lforeign_ret
END(rs_foreign_from)

/*
 * Tail jumps to code with no symbol, only an .eh_frame FDE: to a callee
 * (eligible), and to a "cold part" that jumps back (refused).
 */
	PAD
FUNC(rs_tail_fde)
	mov %rdi, %rax
	nop
	nop
	{disp32} jmp .Lfde_callee
END(rs_tail_fde)
	PAD
FUNC(rs_tail_cold)
	mov %rdi, %rax
	nop
	nop
	test %rdi, %rdi
	{disp32} js .Lfde_cold
.Lcold_back:
	add $1, %rax
	nop
	nop
	nop
	ret
END(rs_tail_cold)
	PAD
.Lfde_callee:
	.cfi_startproc
	lea 1(%rdi), %rax
	ret
	.cfi_endproc
	PAD
.Lfde_cold:
	.cfi_startproc
	neg %rax
	{disp32} jmp .Lcold_back
	.cfi_endproc

/* Refused: a far return (an exit of its own kind). */
	PAD
FUNC(rs_lret)
	mov %rdi, %rax
	nop
	nop
	test %rdi, %rdi
	jne 1f
	lretq
1:	ret
END(rs_lret)

/*
 * Recursive, two rets (one after a back-extended window that starts at a
 * branch target): rs_rec(n) = n + 1, n + 1 calls deep. For the patched
 * path's pairing of entries and exits (test_retsite "patched_recursion").
 */
	PAD
FUNC(rs_rec)
	push %rbx
	mov %rdi, %rbx
	test %rdi, %rdi
	je 1f
	lea -1(%rdi), %rdi
	call rs_rec
	add $1, %rax
	pop %rbx
	ret
1:	mov $1, %eax
	pop %rbx
	ret
END(rs_rec)

/*
 * The state at a return site (test_retsite's patched_state): rs_state_fn
 * loads every general register and rflags from the table at rdi (struct
 * rs_regs: r15 .. rdi as struct uprobe_regs, rflags at 128) and returns; its
 * ret and the padding after it are the site. rs_state_call(in, out) calls
 * it from a frame that keeps the callee-saved registers, and stores in out
 * every register and rflags as the caller sees them after the return, rsp
 * there (at 136) and rsp before the call (at 120, the rip slot).
 */
	PAD
FUNC(rs_state_fn)
	mov %rdi, %r11		/* 3 bytes */
	nopl (%rax)		/* 3: the entry's jump takes these two */
	pushq 128(%r11)
	popfq
	mov 0(%r11), %r15
	mov 8(%r11), %r14
	mov 16(%r11), %r13
	mov 24(%r11), %r12
	mov 32(%r11), %rbp
	mov 40(%r11), %rbx
	mov 56(%r11), %r10
	mov 64(%r11), %r9
	mov 72(%r11), %r8
	mov 80(%r11), %rax
	mov 88(%r11), %rcx
	mov 96(%r11), %rdx
	mov 104(%r11), %rsi
	mov 112(%r11), %rdi
	mov 48(%r11), %r11
	ret
END(rs_state_fn)

	PAD
FUNC(rs_state_call)
	push %rbx
	push %rbp
	push %r12
	push %r13
	push %r14
	push %r15
	push %rsi		/* out; rsp is 16-aligned at the call */
	mov %rsp, 120(%rsi)	/* rsp before the call, in the rip slot */
	call rs_state_fn
	pushfq
	push %rax
	mov 16(%rsp), %rax	/* out */
	mov %r15, 0(%rax)
	mov %r14, 8(%rax)
	mov %r13, 16(%rax)
	mov %r12, 24(%rax)
	mov %rbp, 32(%rax)
	mov %rbx, 40(%rax)
	mov %r11, 48(%rax)
	mov %r10, 56(%rax)
	mov %r9, 64(%rax)
	mov %r8, 72(%rax)
	mov %rcx, 88(%rax)
	mov %rdx, 96(%rax)
	mov %rsi, 104(%rax)
	mov %rdi, 112(%rax)
	lea 16(%rsp), %rbx	/* rsp after the return */
	mov %rbx, 136(%rax)
	pop %rbx
	mov %rbx, 80(%rax)	/* rax */
	pop %rbx
	mov %rbx, 128(%rax)	/* rflags */
	pop %rsi
	pop %r15
	pop %r14
	pop %r13
	pop %r12
	pop %rbp
	pop %rbx
	ret
END(rs_state_call)

	.section .data.rel.ro, "aw"
	.p2align 3
rs_leaf_ptr:
	.quad rs_leaf
	.section .rodata
	.p2align 2
rs_table:
	.long .Ljt1 - rs_table
	.long .Ljt2 - rs_table

	.section .note.GNU-stack, "", @progbits
