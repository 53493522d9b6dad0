/* SPDX-License-Identifier: MIT */
/*
 * aarch64 instruction analysis for probes (docs/aarch64.md). Each probed
 * instruction (always 4 bytes, 4-aligned) is decoded once (Capstone) into a
 * struct arch_insn that says how a hit executes it:
 *
 *   emulate  the trap handler performs it on the saved registers: every
 *            instruction that reads the PC (adr, adrp, ldr/ldrsw/prfm literal,
 *            b, bl, b.cond, cbz/cbnz, tbz/tbnz), blr and its PAC forms (the
 *            link register must be the original address + 4), nop and bti;
 *   xol      a copy runs in an out-of-line slot followed by `b` back (every
 *            other instruction, paciasp/autiasp included); br/ret/retaa...
 *            run there alone (control never falls through).
 *
 * Refused, with the reason: exclusive loads and stores (a trap between ldxr and
 * stxr clears the monitor: the program would retry forever), exception
 * generation (svc, hvc, smc, brk, hlt, dcps, eret), and what does not decode.
 * The instructions between an exclusive load and its store are the caller's to
 * refuse: arch_insn_in_exclusive() finds them.
 *
 * Nothing here runs in signal context except arch_emulate() and
 * arch_read_literal() (emulate.c), which touch no libc.
 */
#ifndef UPROBES_ARCH_A64_INSN_H
#define UPROBES_ARCH_A64_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uprobes.h"

#define ARCH_INSN_MAX 4
#define ARCH_XOL_SLOT_SIZE 32
/* brk #0x5a1: distinct from __builtin_trap's brk #0x3e8 and gdb's brk #0. */
#define ARCH_BRK_IMM 0x5a1u
#define ARCH_BREAKPOINT (0xd4200000u | ARCH_BRK_IMM << 5)
/* b and bl reach +-128 MiB from the branch. */
#define ARCH_B_REACH (128ull << 20)

enum arch_op {
	ARCH_OP_XOL = 0,   /* generic: copy out of line, b back */
	ARCH_OP_NO_RETURN, /* br, ret and PAC forms: out of line, no way back */
	ARCH_OP_NOP,	   /* nop, bti */
	ARCH_OP_B,	   /* b imm26 */
	ARCH_OP_BL,	   /* bl imm26 */
	ARCH_OP_BCOND,	   /* b.cond imm19 */
	ARCH_OP_CBZ,	   /* cbz/cbnz (neg), W or X (wide) */
	ARCH_OP_TBZ,	   /* tbz/tbnz (neg), bit number in bit */
	ARCH_OP_BLR,	   /* blr xn */
	ARCH_OP_BLR_PAC,   /* blraa/blrab/blraaz/blrabz */
	ARCH_OP_ADR,	   /* adr/adrp: rd = target */
	ARCH_OP_LDR_LIT,   /* ldr wt/xt, ldrsw literal: size 4/8, sign */
	ARCH_OP_LDR_LIT_FP, /* ldr st/dt/qt literal: size 4/8/16 into v<rt> */
	ARCH_OP_PRFM_LIT,  /* prfm literal: a hint, nothing to do */
};

struct arch_insn {
	uint64_t addr;
	uint32_t insn;	 /* the instruction word */
	uint8_t bytes[ARCH_INSN_MAX];
	uint8_t len;	 /* always 4 */
	uint8_t op;	 /* enum arch_op */
	uint8_t cond;	 /* b.cond condition */
	uint8_t rt;	 /* register written or tested (31: xzr) */
	uint8_t rn;	 /* blr target register, PAC modifier register in rm */
	uint8_t rm;
	uint8_t bit;	 /* tbz/tbnz bit number */
	uint8_t size;	 /* literal load size in bytes */
	uint8_t neg : 1; /* cbnz/tbnz */
	uint8_t wide : 1; /* cbz on an x register */
	uint8_t sign : 1; /* ldrsw */
	uint8_t key_b : 1; /* PAC key B (blrab) */
	uint8_t zero_mod : 1; /* PAC with a zero modifier (blraaz) */
	uint64_t target; /* branch target, adr result, literal address */
};

/*
 * Decode the instruction at code[0..avail) whose address is addr. Returns 0,
 * -EILSEQ (undecodable, misaligned: why names the word) or -ENOTSUP (not
 * probeable: why names the instruction and the reason). whylen 0: no message.
 */
int arch_insn_analyze(struct arch_insn *ai, const uint8_t *code, size_t avail, uint64_t addr,
		      char *why, size_t whylen);

/* Length of the instruction at code (4), or 0 if it does not decode. */
unsigned arch_insn_length(const uint8_t *code, size_t avail, uint64_t addr);

/* Capstone's text of the instruction at code. */
void arch_insn_format(const uint8_t *code, size_t len, uint64_t addr, char *buf, size_t buflen);

/* Can the trap handler perform this instruction itself? */
bool arch_insn_can_emulate(const struct arch_insn *ai);

/*
 * Is code[off] inside an exclusive sequence of the function code[0..len)
 * (after a load-exclusive, before its store-exclusive, within 16
 * instructions)? A trap there clears the monitor: the store would fail on
 * every retry. why says which load-exclusive.
 */
bool arch_insn_in_exclusive(const uint8_t *code, size_t len, size_t off, uint64_t base,
			    char *why, size_t whylen);

/*
 * The [lo, hi] window of slot addresses from which the copy's `b` back reaches
 * addr + 4.
 */
void arch_xol_window(const struct arch_insn *ai, uint64_t *lo, uint64_t *hi);

/*
 * Build the out-of-line slot for slot address "slot" into out (at most
 * ARCH_XOL_SLOT_SIZE bytes). Returns the length, or -ERANGE when the slot is
 * out of the window, -EINVAL for an instruction that is emulated.
 */
int arch_xol_build(const struct arch_insn *ai, uint64_t slot, uint8_t *out);

/* The SIMD&FP registers as the signal frame holds them (struct fpsimd_context). */
struct arch_fpsimd {
	uint32_t magic, size; /* the record's header */
	uint32_t fpsr, fpcr;
	__uint128_t v[32];
};

/*
 * Where a signal frame keeps v0-v31 (regs_vregs() in regs.h finds them): the
 * fpsimd record, and the Z registers of the SVE record when SVE state is live
 * (sigreturn then restores the vector registers from it, not from fpsimd).
 */
struct arch_vregs {
	struct arch_fpsimd *fpsimd; /* NULL: the frame has none */
	uint8_t *sve_z;		    /* Z0, vq * 16 bytes each; NULL: not live */
	unsigned vq;
};

/* Signal context: write v<n> as a SIMD&FP load does (bits above 128 cleared). */
void arch_vreg_write(const struct arch_vregs *vr, unsigned n, __uint128_t v);

/*
 * Signal context: perform the instruction on regs (and vr for SIMD literal
 * loads). Literal loads read their literal fault-safe (arch/safe_read.h: the
 * SIGSEGV hook must be installed). Returns 0, or -EFAULT, regs unchanged, when
 * the literal cannot be read (the instruction itself would fault: the caller
 * delivers that) or a SIMD load has no frame record to write to.
 */
int arch_emulate(const struct arch_insn *ai, struct uprobe_regs *regs,
		 const struct arch_vregs *vr);

/* A literal of size 4, 8 or 16 bytes (lo, hi), zero-extended: 0 or -EFAULT. */
int arch_read_literal(uint64_t addr, unsigned size, uint64_t *lo, uint64_t *hi);

/* The words of a probe's mode (core/probe.c): an emulated instruction's kind. */
const char *arch_emulate_reason(const struct arch_insn *ai);

/* Out of line: how (emulable: emulation was possible but disabled). */
void arch_xol_reason(const struct arch_insn *ai, bool emulable, char *why, size_t len);

/* Does condition cond (b.cond encoding) hold for the flags in pstate? */
bool arch_cond_holds(unsigned cond, uint64_t pstate);

#endif
