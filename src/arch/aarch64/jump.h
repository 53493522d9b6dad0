/* SPDX-License-Identifier: MIT */
/*
 * Jump optimization on aarch64 (docs/aarch64.md): the probed instruction is
 * replaced by one `b` to a per-probe trampoline (tramp.S) within +-128 MiB, a
 * single aligned 4-byte store. The window is one instruction, so no branch can
 * land inside it.
 *
 *   before:  addr: <insn>          after:  addr: b tramp
 *   tramp:   save, fn(rec, regs), arch_jump_finish, restore, tail:
 *     generic         [insn][b addr+4]
 *     br/ret/retaa    [insn]
 *     b, bl           [b target]                  (bl: x30 set by finish)
 *     b.cond/cbz/tbz  [same, to +8][b addr+4][b target]
 *     blr xn          [br xn]                     (x30 set by finish)
 *     adr, ldr lit    [b addr+4]                  (register set by finish;
 *                     a SIMD&FP literal: ldr from the frame before the tail)
 *   slow: blr x30, blraa..., a branch the tail cannot reach: the trampoline
 *   leaves through brk and the signal handler emulates (arch_jump_redirect).
 * A handler that changes pc (or sp) leaves through the same brk.
 */
#ifndef UPROBES_ARCH_A64_JUMP_H
#define UPROBES_ARCH_A64_JUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "arch/aarch64/insn.h"

#define ARCH_JUMP_FRAME 816   /* tramp.S FRAME */
#define ARCH_JUMP_LIT_OFF 272 /* the frame's literal slot, after struct uprobe_regs */
#define ARCH_BRK_REDIRECT (0xd4200000u | 0x5a2u << 5)
#define ARCH_TRAMP_MAX 1024

/*
 * The window a jump replaces, in the core's terms (struct probe_rec, as x86-64's
 * arch/x86_64/optimize.h): here always one instruction, 4 bytes, whose copy is
 * the trampoline's tail.
 */
#define ARCH_JMP_LEN 4
#define ARCH_WINDOW_MAX 1
struct arch_window {
	uint8_t len;	   /* 4 */
	uint8_t n;	   /* 1 */
	bool no_return;	   /* br, ret: the tail never falls through */
	struct arch_insn insn[ARCH_WINDOW_MAX];
	uint8_t orig_off[ARCH_WINDOW_MAX];
	uint8_t copy_off[ARCH_WINDOW_MAX];
	uint8_t copy_len;
	/* x86-64's jump-table check (core/jump.c): a one-instruction window needs none */
	unsigned indirect_jmps; /* 0 */
	char indirect_why[8];
	unsigned ntables;
	uint64_t tables[1];
};

/*
 * The window at addr inside the function [func_addr, func_addr + func_len)
 * whose original bytes are func: the one instruction, unless it lies inside an
 * exclusive sequence (arch_insn_in_exclusive). pad: unused (a window is one
 * instruction, never past the extent). 0, or -ENOTSUP with why.
 */
int arch_window_plan(const uint8_t *func, size_t func_len, size_t pad, uint64_t func_addr,
		     uint64_t addr, struct arch_window *w, char *why, size_t whylen);

/* [lo, hi] of trampoline addresses the probe's b and the trampoline's tail reach. */
void arch_window_range(const struct arch_window *w, uint64_t *lo, uint64_t *hi);

/*
 * Direct branches into a window: no target can be inside a 4-byte, 4-aligned
 * window but its start, so none are reported (core/branches.c). Returns 0.
 */
size_t arch_scan_branches(const uint8_t *code, size_t len, uint64_t base,
			  void (*fn)(uint64_t src, uint64_t target, void *arg), void *arg);

/* The core's consumers of an optimized probe (core/dispatch.c). */
void dispatch_jump(void *rec, struct uprobe_regs *regs);

/* The core's trampolines (arch/arch.h): one arch_jump_build per probe. */
#define ARCH_TRAMP_BUF ARCH_TRAMP_MAX
struct arch_tramp_req;
int arch_tramp_begin(struct arch_tramp_req *r, uint8_t *code, uint64_t *lo, uint64_t *hi,
		     const char **why);
int arch_tramp_finish(struct arch_tramp_req *r, uint8_t *code, uint64_t tramp, uint64_t *copy,
		      const char **why);
static inline uint64_t arch_tramp_entry(uint64_t tramp)
{
	return tramp;
}

/* Where dispatch_entry_lean's regs sit below sp (x86-64's lean trampolines; unused). */
#define ARCH_TRAMP_REGS_BELOW_SP ARCH_JUMP_FRAME

/* The consumers of a probe; runs in the probed thread, on its stack. */
typedef void (*arch_jump_fn)(void *rec, struct uprobe_regs *regs);

/* Kept in the trampoline, after its literals. */
struct arch_jump_data {
	struct arch_insn ai;
	uint64_t tail; /* the tail's address: the out-of-line copy for a redirect */
	uint32_t slow; /* always leave through brk */
};

/* The `b tramp` that replaces the instruction at addr, or 0 when out of reach. */
uint32_t arch_jump_insn(uint64_t addr, uint64_t tramp);

/*
 * Build the trampoline for ai at address tramp into out (ARCH_TRAMP_MAX
 * bytes). simd: fn may use SIMD registers beyond what a C call keeps (SVE):
 * on a CPU with SVE its state is saved around fn (costly: 35 vector lengths
 * stored and loaded; the library's own handlers use no SIMD). Returns the
 * length, -ERANGE when tramp is out of reach of the probe, -ENOTSUP for an
 * instruction the trampoline cannot execute. *fast (may be NULL) says
 * whether hits never trap.
 */
int arch_jump_build(const struct arch_insn *ai, uint64_t tramp, arch_jump_fn fn, void *rec,
		    bool simd, uint8_t *out, bool *fast);

/* Called by the trampoline: the C part of the displaced instruction. */
int arch_jump_finish(uint8_t *frame, const struct arch_jump_data *d);

/*
 * Signal context, SIGTRAP: if it is a trampoline's redirect brk, load the
 * frame's registers into uc and execute the displaced instruction (unless the
 * handler moved pc). Returns 1; 0 for any other trap; -EFAULT when the
 * instruction's literal cannot be read: uc then holds the registers at the
 * probed instruction (pc its address), for the caller to deliver the fault.
 */
int arch_jump_redirect(ucontext_t *uc);

#endif
