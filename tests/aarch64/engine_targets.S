// SPDX-License-Identifier: MIT
// Functions for test_engine: one instruction class each at a known offset
// (eng_*_at labels), with symbol sizes so that the library knows their bounds.
	.text
	.macro FN name
	.global \name
	.type \name, %function
	.p2align 4
\name:
	.endm
	.macro END name
	.size \name, . - \name
	.endm

// long eng_add(long a, long b): a + b (entry: add, executed out of line)
FN eng_add
	add	x0, x0, x1
	.global eng_add_ret
eng_add_ret:
	ret			// br/ret class: out of line, no way back
END eng_add

// long eng_lit(long a): a + 0x1122334455667788 (entry: ldr literal, emulated)
FN eng_lit
	ldr	x1, 1f
	add	x0, x0, x1
	ret
	.p2align 3
1:	.quad	0x1122334455667788
END eng_lit

// long eng_cond(long a): a < 5 ? 200 : 100 (b.lt at +4)
FN eng_cond
	cmp	x0, #5
	.global eng_cond_at
eng_cond_at:
	b.lt	1f
	mov	x0, #100
	ret
1:	mov	x0, #200
	ret
END eng_cond

// long eng_cbz(long a): a ? 7 : 9 (entry: cbz)
FN eng_cbz
	cbz	x0, 1f
	mov	x0, #7
	ret
1:	mov	x0, #9
	ret
END eng_cbz

// long eng_call(long a, long b): eng_add(a, b) * 2 (bl at +8)
FN eng_call
	stp	x29, x30, [sp, #-16]!
	mov	x29, sp
	.global eng_call_at
eng_call_at:
	bl	eng_add
	add	x0, x0, x0
	ldp	x29, x30, [sp], #16
	ret
END eng_call

// long eng_adr(void): the word at eng_adr_data (entry: adr)
FN eng_adr
	adr	x2, eng_adr_data
	ldr	x0, [x2]
	ret
	.p2align 3
eng_adr_data:
	.quad	0x0123456789abcdef
END eng_adr

// long eng_flags(long a, long b): a - b < 0 ? 1 : 0, flags set before the probe at +4
FN eng_flags
	subs	x0, x0, x1
	.global eng_flags_at
eng_flags_at:
	cset	x0, lt
	ret
END eng_flags

// long eng_excl(long *p): ++*p with an exclusive pair, the new value
FN eng_excl
1:	ldxr	x1, [x0]
	add	x1, x1, #1	// +4: inside the sequence
	stxr	w2, x1, [x0]
	cbnz	w2, 1b
	mov	x0, x1		// +16: after it
	ret
END eng_excl

// long eng_regs(long a): x9..x15 = 9..15 at eng_regs_at (add), returns x9 + x15 + a
FN eng_regs
	mov	x9, #9
	mov	x10, #10
	mov	x11, #11
	mov	x12, #12
	mov	x13, #13
	mov	x14, #14
	mov	x15, #15
	.global eng_regs_at
eng_regs_at:
	add	x1, x9, x15
	add	x0, x0, x1
	ret
END eng_regs

// long eng_tbz(long a): bit 3 of a ? 1 : 2 (entry: tbz)
FN eng_tbz
	tbz	x0, #3, 1f
	mov	x0, #1
	ret
1:	mov	x0, #2
	ret
END eng_tbz

// long eng_adrp(long a): a + the word at eng_page_data (entry: adrp)
FN eng_adrp
	adrp	x2, eng_page_data
	add	x2, x2, :lo12:eng_page_data
	ldr	x2, [x2]
	add	x0, x0, x2
	ret
END eng_adrp

// long eng_b(long a): a + 3 (entry: b)
FN eng_b
	b	1f
	mov	x0, #0
	ret
1:	add	x0, x0, #3
	ret
END eng_b

// long eng_blr(long a, long b, long (*fn)(long, long)): fn(a, b) + 1 (blr x2 at +8)
FN eng_blr
	stp	x29, x30, [sp, #-16]!
	mov	x29, sp
	.global eng_blr_at
eng_blr_at:
	blr	x2
	add	x0, x0, #1
	ldp	x29, x30, [sp], #16
	ret
END eng_blr

// long eng_ldrq(long a): a ^ low ^ high of a 16-byte literal (entry: ldr q0 literal)
FN eng_ldrq
	ldr	q0, 1f
	fmov	x1, d0
	mov	x2, v0.d[1]
	eor	x0, x0, x1
	eor	x0, x0, x2
	ret
	.p2align 4
1:	.quad	0x00ff00ff00ff00ff, 0x1234000000004321
END eng_ldrq

	.data
	.p2align 3
eng_page_data:
	.quad	0x5050

	.section .note.GNU-stack, "", %progbits
