/* SPDX-License-Identifier: MIT */
/*
 * Jump optimization: which instructions a 5-byte jmp replaces (the window),
 * whether that is safe, and the relocated copy of them the trampoline runs.
 *
 *   before:  addr: [insn0][insn1 ][insn2]...      (window: >= 5 bytes)
 *   after:   addr: [e9 rel32 -> trampoline][rest of insn1/2 never executed]
 *
 * Safe only when no thread can ever resume inside bytes 1..len-1 of the window:
 * no direct branch of the function targets them, the function has no indirect
 * jump that could (jump tables), no landing pad is there, and a call inside
 * the window is its last instruction (so no return address points into it).
 */
#ifndef UPROBES_ARCH_OPTIMIZE_H
#define UPROBES_ARCH_OPTIMIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "arch/x86_64/insn.h"

#define ARCH_JMP_LEN 5
#define ARCH_WINDOW_MAX 5 /* instructions */

struct arch_window {
	uint8_t len;			  /* bytes replaced (>= ARCH_JMP_LEN) */
	uint8_t n;			  /* instructions */
	bool no_return;			  /* the last one never falls through */
	struct arch_insn insn[ARCH_WINDOW_MAX];
	uint8_t orig_off[ARCH_WINDOW_MAX]; /* offset of insn k in the window */
	uint8_t copy_off[ARCH_WINDOW_MAX]; /* offset of its relocation in the copy */
	uint8_t copy_len;
	/*
	 * Indirect jumps of the function (jump tables, computed gotos): the
	 * first one's description, and the data addresses the function takes
	 * with lea x(%rip) (where its jump tables would be).
	 */
	unsigned indirect_jmps;
	char indirect_why[96];
	unsigned ntables;
	uint64_t tables[16];
};

/*
 * Plan the window at addr inside the function [func_addr, func_addr +
 * func_len) whose original bytes are func. pad: the bytes after the extent
 * that are padding (func holds them too; core/resolve.h), which the window
 * may take after an instruction that never falls through (ret, jmp), when
 * they decode as nops: a function shorter than the jump (xor %eax,%eax; ret)
 * then has one. Returns 0, or -ENOTSUP with why naming the obstacle.
 */
int arch_window_plan(const uint8_t *func, size_t func_len, size_t pad, uint64_t func_addr,
		     uint64_t addr, struct arch_window *w, char *why, size_t whylen);

/* [lo, hi] of copy addresses from which every rel32 of the copy reaches. */
void arch_window_range(const struct arch_window *w, uint64_t *lo, uint64_t *hi);

/*
 * Write the relocated instructions for copy address "at" into out (at most
 * ARCH_WINDOW_MAX * 20 bytes), then the jmp back unless the window ends in
 * ret/jmp. Fills w->copy_off and w->copy_len. Returns the length or -ERANGE.
 */
int arch_window_copy(struct arch_window *w, uint64_t at, uint8_t *out);

/*
 * Linear sweep of code[0..len) at base: fn(source, target) for every direct
 * branch (jmp/jcc/call rel, loop, jrcxz). Returns how many.
 */
size_t arch_scan_branches(const uint8_t *code, size_t len, uint64_t base,
			  void (*fn)(uint64_t src, uint64_t target, void *arg), void *arg);

#define ARCH_WINDOW_COPY_MAX (ARCH_WINDOW_MAX * 20 + ARCH_JMP_LEN)

#endif
