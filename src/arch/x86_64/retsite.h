/* SPDX-License-Identifier: MIT */
/*
 * Return sites (issue 18): every way out of a function, found by decoding it
 * from its symbol extent, so that a return probe can patch those sites
 * instead of swapping the return address on the stack.
 *
 * A function is eligible when each of its exits is one of
 *
 *   ret, ret imm16                           ARCH_EXIT_RET
 *   jmp rel to the start of another function ARCH_EXIT_TAIL      (tail call)
 *   jcc rel to the start of another function ARCH_EXIT_TAIL_JCC  (conditional tail call)
 *   jmp *disp32(%rip)                        ARCH_EXIT_TAIL_GOT  (tail call through the GOT)
 *   call/jmp to a function that never returns ARCH_EXIT_NORETURN (nothing to patch)
 *
 * and each exit but the no-return ones has the 5 bytes of a jmp rel32: its
 * own (jmp rel32, jcc rel32, jmp *disp32(%rip)), or with the plain
 * instructions just before it in its block (no branch lands among them) and
 * the padding after it (nops, int3 that no branch reaches):
 *
 *   5b 5d 41 5c c3 cc cc cc     pop %rbx; pop %rbp; pop %r12; ret; int3 x3
 *   ^^^^^^^^^^^^^^^^^^^         window: 3 pops, the ret and 3 bytes of padding
 *   e9 xx xx xx xx cc cc cc     after: jmp to the site's trampoline
 *
 * A ret under the entry's jump (lea 1(%rdi), %eax; ret) has no window in the
 * text: once the entry is jump-optimized it runs only in the entry
 * trampoline's relocated copy, where the jump to the exit's trampoline goes
 * instead (arch_exit.in_entry). Other exits under the entry's jump are refused.
 *
 * Refused, with the reason: bytes that do not decode; an instruction that
 * runs past the extent or a branch into the middle of an instruction; a
 * branch back to the entry; an indirect jump that may stay inside (a
 * register, or a jump table: indexed memory or notrack); a jump out to
 * where no function starts, or to a part of the function elsewhere
 * (foo.cold); loop/jrcxz out; the last instruction falling through past the
 * extent (code after it would run); a control transfer not followed (far
 * branch or return, iret, xbegin, an operand-size prefixed relative
 * branch); an exit with fewer than 5 bytes to
 * patch, or whose window overlaps the entry's jump (but a ret inside it, above)
 * or another exit's; more
 * than ARCH_RETSITE_MAX exits.
 *
 * Pure analysis of caller-owned bytes: no allocation, no memory of the
 * target read; what a jump target is (a function's start, one that never
 * returns, a cold part) is asked of the caller, who knows the symbols.
 */
#ifndef UPROBES_ARCH_RETSITE_H
#define UPROBES_ARCH_RETSITE_H

#include <stddef.h>
#include <stdint.h>

#define ARCH_RETSITE_MAX 64

enum arch_exit_kind {
	ARCH_EXIT_RET = 0,
	ARCH_EXIT_TAIL,
	ARCH_EXIT_TAIL_JCC,
	ARCH_EXIT_TAIL_GOT,
	ARCH_EXIT_NORETURN,
	ARCH_EXIT_KINDS,
};

enum arch_retsite_refusal {
	ARCH_RETSITE_OK = 0,
	ARCH_RETSITE_UNDECODABLE,
	ARCH_RETSITE_PAST_END,	    /* an instruction runs past the extent */
	ARCH_RETSITE_MID_INSN,	    /* a branch into the middle of an instruction */
	ARCH_RETSITE_TO_ENTRY,	    /* a branch back to the entry */
	ARCH_RETSITE_INDIRECT,	    /* jmp *reg/mem that may stay inside */
	ARCH_RETSITE_JUMP_TABLE,    /* indexed or notrack indirect jump */
	ARCH_RETSITE_JUMP_OUT,	    /* jump out to where no function starts */
	ARCH_RETSITE_PART,	    /* jump to a part of it elsewhere (.cold) */
	ARCH_RETSITE_FALLS_THROUGH, /* code after the extent reached */
	ARCH_RETSITE_SHORT_EXIT,    /* an exit too short to patch */
	ARCH_RETSITE_OVERLAP,	    /* windows overlap (each other or the entry's) */
	ARCH_RETSITE_TOO_MANY,	    /* more than ARCH_RETSITE_MAX exits */
	ARCH_RETSITE_ODD_BRANCH,    /* far branch, iret, xbegin, 16-bit relative branch */
	ARCH_RETSITE_FOREIGN,	    /* a branch from elsewhere, or a landing pad, in a window
				       (the caller's check: the module's branches) */
	ARCH_RETSITE_REFUSALS,
};

/* What a branch target outside the function is (the caller's symbols say). */
enum arch_target_kind {
	ARCH_TARGET_NONE = 0, /* no function starts there */
	ARCH_TARGET_FUNC,     /* a function's start */
	ARCH_TARGET_NORETURN, /* a function's start, one that never returns */
	ARCH_TARGET_PART,     /* a split-off part of a function (foo.cold) */
};

/* Kind of the code at addr; its name (or "") in name. */
typedef enum arch_target_kind (*arch_target_fn)(uint64_t addr, void *ctx, char *name,
						size_t len);

struct arch_exit {
	uint64_t addr;	 /* the exit instruction */
	uint64_t target; /* tail calls and no-return calls: where to */
	uint64_t win;	 /* first byte of the patch window (0: nothing to patch) */
	uint8_t win_len; /* bytes of the window, >= 5 */
	uint8_t len;	 /* length of the exit instruction */
	uint8_t kind;	 /* enum arch_exit_kind */
	/*
	 * A ret under the entry's jump (win = addr, win_len = len): it runs
	 * only in the entry trampoline's copy of the window, where the caller
	 * patches it if the entry is jump-optimized (core/retpatch.c).
	 */
	uint8_t in_entry;
};

struct arch_retsites {
	uint64_t start, size;
	unsigned n_insns;
	unsigned n;			   /* exits in exit[] */
	unsigned count[ARCH_EXIT_KINDS];   /* exits by kind */
	unsigned in_entry;		   /* rets under the entry's jump (in_entry) */
	int refusal;			   /* enum arch_retsite_refusal */
	char why[192];			   /* the refusal, naming offset and instruction */
	struct arch_exit exit[ARCH_RETSITE_MAX];
};

/*
 * Decode the function [start, start + size) whose bytes are code[0..size),
 * followed by after bytes the caller proved are in no function (padding a
 * window may take). marks: caller-owned scratch of size bytes. Fills rs;
 * returns 0 when eligible, else -ENOTSUP with rs->refusal and rs->why.
 */
int arch_retsite_analyze(struct arch_retsites *rs, const uint8_t *code, size_t size,
			 size_t after, uint64_t start, uint8_t *marks, arch_target_fn target_kind,
			 void *ctx);

/* "ret", "tail", "tail-jcc", "tail-got", "noreturn". */
const char *arch_exit_kind_name(int kind);

/* A short name of a refusal ("jump table", "exit too short" ...). */
const char *arch_retsite_refusal_name(int refusal);

#endif
