/* SPDX-License-Identifier: MIT */
/*
 * x86-64 instruction analysis for probes: each probed instruction is decoded
 * once (Zydis) into a struct arch_insn that says how a hit executes it:
 *
 *   emulate    the trap handler performs it on the saved registers
 *              (nops, push reg, jmp/jcc/call rel, loop, jrcxz, call *reg);
 *   xol        a copy runs in an out-of-line slot, RIP-relative operands
 *              re-targeted, followed by a jmp back ("boosted");
 *   singlestep the copy runs under the trap flag and is fixed up afterwards
 *              (call through memory: the pushed return address).
 *
 * Nothing here runs in signal context except arch_emulate() and
 * arch_singlestep_fixup() (see emulate.c), which touch no libc.
 */
#ifndef UPROBES_ARCH_INSN_H
#define UPROBES_ARCH_INSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uprobes.h"

#define ARCH_INSN_MAX 15
#define ARCH_XOL_SLOT_SIZE 32
#define ARCH_BREAKPOINT 0xcc

enum arch_op {
	ARCH_OP_XOL = 0,   /* generic: copy out of line, jmp back */
	ARCH_OP_NOP,	   /* nop, multi-byte nop, endbr64 */
	ARCH_OP_PUSH_REG,  /* push r64 */
	ARCH_OP_JMP_REL,   /* jmp rel8/rel32 */
	ARCH_OP_JCC_REL,   /* jcc rel8/rel32 */
	ARCH_OP_CALL_REL,  /* call rel32 */
	ARCH_OP_LOOP,	   /* loop/loope/loopne rel8 (64-bit count) */
	ARCH_OP_JRCXZ,	   /* jrcxz/jecxz rel8 */
	ARCH_OP_CALL_REG,  /* call *%reg */
	ARCH_OP_CALL_MEM,  /* call *mem */
	ARCH_OP_NO_RETURN, /* ret, jmp *x: out of line, control never falls through */
};

enum arch_loop_kind { ARCH_LOOP, ARCH_LOOPE, ARCH_LOOPNE };

struct arch_insn {
	uint64_t addr;
	uint8_t bytes[ARCH_INSN_MAX];
	uint8_t len;
	uint8_t op;	      /* enum arch_op */
	uint8_t cond;	      /* jcc condition (low nibble of the opcode), loop kind */
	uint8_t reg;	      /* push/call register: index into struct uprobe_regs */
	uint8_t addr32;	      /* 0x67 prefix: jecxz, loopl (count in ecx) */
	uint8_t riprel_off;   /* offset of the disp32 of a RIP-relative operand, 0 if none */
	uint8_t modrm_off;    /* offset of the ModRM byte (call *reg relocation) */
	uint8_t pushes_flags; /* pushf: a single-step would push our trap flag */
	uint8_t indirect_jmp; /* jmp *x (ARCH_OP_NO_RETURN) */
	uint8_t base_rsp;     /* call *mem with an rsp-based address */
	uint64_t target;      /* branch target of relative branches */
	uint64_t riprel_addr; /* absolute address a RIP-relative operand refers to */
};

/*
 * Decode the instruction at code[0..avail) whose address is addr. Returns 0,
 * -EILSEQ (undecodable: why names the bytes) or -ENOTSUP (not probeable: why
 * names the instruction and the reason). whylen 0: no message (fast sweeps).
 */
int arch_insn_analyze(struct arch_insn *ai, const uint8_t *code, size_t avail, uint64_t addr,
		      char *why, size_t whylen);

/* Has this process loaded the decoder (Zydis, at its first analysis)? */
bool arch_insn_decoder_loaded(void);

/* Length of the instruction at code, or 0 if it does not decode. */
unsigned arch_insn_length(const uint8_t *code, size_t avail, uint64_t addr);

/* Intel-syntax text of the instruction at code. */
void arch_insn_format(const uint8_t *code, size_t len, uint64_t addr, char *buf, size_t buflen);

/* Can the trap handler perform this instruction itself? */
bool arch_insn_can_emulate(const struct arch_insn *ai);

/* Must this instruction be single-stepped when not emulated? */
bool arch_insn_needs_singlestep(const struct arch_insn *ai);

/* May this instruction be single-stepped out of line (no RIP-relative branch)? */
bool arch_insn_can_singlestep(const struct arch_insn *ai);

/*
 * The [lo, hi] window of slot addresses from which the relocated copy can
 * reach everything it refers to with rel32 displacements.
 */
void arch_xol_window(const struct arch_insn *ai, uint64_t *lo, uint64_t *hi);

/*
 * Build the out-of-line slot for slot address "slot" into out (at most
 * ARCH_XOL_SLOT_SIZE bytes). With singlestep, only the instruction itself
 * (RIP-relative fixed up) is written. Returns the length, or -ERANGE.
 */
int arch_xol_build(const struct arch_insn *ai, uint64_t slot, bool singlestep, uint8_t *out);

/* Signal context: perform the instruction on regs (writes the stack for push/call). */
void arch_emulate(const struct arch_insn *ai, struct uprobe_regs *regs);

/*
 * Signal context: after one single-step trap at slot, move regs back to the
 * original code (rip, pushed return address, pushed flags). Returns false when
 * the instruction has not finished (a rep string op stops after each
 * iteration): keep stepping. prog_tf is the program's own trap flag.
 */
bool arch_singlestep_fixup(const struct arch_insn *ai, uint64_t slot, uint64_t prog_tf,
			   struct uprobe_regs *regs);

#endif
