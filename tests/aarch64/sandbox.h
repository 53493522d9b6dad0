/* SPDX-License-Identifier: MIT */
/*
 * The aarch64 test sandbox (sandbox_layout.h): run a sequence of instructions
 * with every register, nzcv, v0-v31 and the sandbox's memory given, once
 * natively and once with a probe on one of its instructions (brk, then
 * emulation or an out-of-line slot, as the library's arch layer says), and
 * compare what each left.
 */
#ifndef TESTS_AARCH64_SANDBOX_H
#define TESTS_AARCH64_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

#include "sandbox_layout.h"

struct uprobe_regs;

struct sb_state {
	uint64_t x[31];
	uint64_t sp;
	uint64_t nzcv;
	uint64_t pad; /* the landing pad reached (its address) */
	__uint128_t v[32];
};

/* How a probed run went. */
struct sb_probe {
	int analyze_err;   /* arch_insn_analyze()'s result */
	char why[160];	   /* its reason when refused */
	int hits;	   /* brk hits at the probed instruction */
	bool emulated;	   /* emulated (else run out of line) */
	bool fast;	   /* jump mode: hits never trap */
	int redirects;	   /* jump mode: trampoline exits through brk */
	int op;		   /* the probed instruction's enum arch_op */
	int signal;	   /* a signal that ended the run, 0 if none */
	uint64_t sig_pc;
};

extern uint8_t *sb_base;

/* How a probe is put in: brk (trap path) or b to a trampoline (jump.h). */
enum sb_mode { SB_BRK, SB_JUMP };
extern enum sb_mode sb_mode;

/*
 * Called with the registers at each hit (the consumer), in either mode; it
 * may change them (a new pc: the instruction is not executed). NULL: none.
 */
extern void (*sb_hook)(struct uprobe_regs *regs);

/* The hits sb_compare() expects of a probed run (1 unless a test says). */
extern int sb_want_hits;

/* Map the sandbox, copy the stubs, write the pads, install the handlers. */
void sb_init(void);

static inline uint64_t sb_addr(unsigned off)
{
	return (uint64_t)(uintptr_t)sb_base + off;
}

static inline uint64_t sb_pad(unsigned i)
{
	return sb_addr(SB_PADS + i * SB_PAD_SIZE);
}

/* A state with every register from seed, sp at SB_STACK_TOP. */
void sb_state_random(struct sb_state *st, uint64_t seed);

/*
 * Run words[0..n) at SB_CODE from state in, memory filled from mem_seed;
 * probe >= 0 puts a probe on words[probe]. out gets the state at the exit and
 * mem (SB_LIT..SB_IN) the memory.
 */
void sb_run(const uint32_t *words, int n, int probe, const struct sb_state *in,
	    uint64_t mem_seed, struct sb_state *out, uint8_t *mem, struct sb_probe *pr);

#define SB_MEM_SIZE (SB_IN - SB_LIT)
/*
 * The stack below the final sp is dead to the program (Linux arm64 has no red
 * zone): a trampoline keeps its frame there. It is not compared.
 */

/*
 * Run natively and probed; 0 when both left the same state (and the probe was
 * hit once), else 1 with the differences printed after "name". out (may be
 * NULL) gets the probed run's state.
 */
int sb_compare(const char *name, const uint32_t *words, int n, int probe,
	       const struct sb_state *in, uint64_t mem_seed, struct sb_probe *pr,
	       struct sb_state *out);

uint64_t sb_rng(uint64_t *s);

#endif
