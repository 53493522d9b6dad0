/* SPDX-License-Identifier: MIT */
/*
 * The state block shared by tests/insn/targets.S and test_insn.c. Every target
 * routine loads all GPRs, rflags and a stack window from it, runs its snippet,
 * and stores them back. The offsets are spelled out for the assembler and
 * checked against the C layout with static asserts.
 */
#ifndef INSN_STATE_H
#define INSN_STATE_H

/* GPR slots in hardware encoding order. */
#define ST_RAX 0x00
#define ST_RCX 0x08
#define ST_RDX 0x10
#define ST_RBX 0x18
#define ST_RSP 0x20 /* out only: rsp after the snippet */
#define ST_RBP 0x28
#define ST_RSI 0x30
#define ST_RDI 0x38
#define ST_R8 0x40
#define ST_R9 0x48
#define ST_R10 0x50
#define ST_R11 0x58
#define ST_R12 0x60
#define ST_R13 0x68
#define ST_R14 0x70
#define ST_R15 0x78
#define ST_RFLAGS 0x80
#define ST_RSP_BASE 0x88 /* out: rsp when the snippet started */
#define ST_MARK 0x90	 /* path marker written by the snippets */
/*
 * Stack window: 16 qwords at [rsp_base - 64, rsp_base + 64), loaded before and
 * stored after the snippet, so pushes, pops and red-zone accesses are compared.
 */
#define ST_STK 0xa0
#define ST_STK_WORDS 16
#define ST_MEM 0x140 /* scratch memory, 64-byte aligned */
#define ST_MEM_SIZE 768
#define ST_SIZE (ST_MEM + ST_MEM_SIZE)

/* Scratch memory layout (byte offsets into mem); SIMD slots hold a zmm. */
#define MEM_SIMD_A 256	    /* preload of the destination register */
#define MEM_SIMD_B 320	    /* preload of a source register */
#define MEM_SIMD_LIVE 384   /* a register live across the probe */
#define MEM_SIMD_OP 448	    /* the memory operand */
#define MEM_SIMD_OUT 512    /* the result */
#define MEM_SIMD_LOUT 576   /* the live register after the probe */
#define MEM_CALLEE_MARK 640 /* callee_rec: marker */
#define MEM_CALLEE_RSP 648  /* callee_rec: rsp at entry */
#define MEM_CALLEE_RET 656  /* callee_rec: its return address */

#ifndef __ASSEMBLER__
#include <stdint.h>

enum { R_RAX, R_RCX, R_RDX, R_RBX, R_RSP, R_RBP, R_RSI, R_RDI,
       R_R8, R_R9, R_R10, R_R11, R_R12, R_R13, R_R14, R_R15 };

struct cpu_state {
	uint64_t gpr[16];
	uint64_t rflags;
	uint64_t rsp_base;
	uint64_t mark;
	uint64_t pad;
	uint64_t stk[ST_STK_WORDS];
	uint64_t pad2[4];
	uint8_t mem[ST_MEM_SIZE] __attribute__((aligned(64)));
} __attribute__((aligned(64)));

_Static_assert(__builtin_offsetof(struct cpu_state, rflags) == ST_RFLAGS, "layout");
_Static_assert(__builtin_offsetof(struct cpu_state, rsp_base) == ST_RSP_BASE, "layout");
_Static_assert(__builtin_offsetof(struct cpu_state, mark) == ST_MARK, "layout");
_Static_assert(__builtin_offsetof(struct cpu_state, stk) == ST_STK, "layout");
_Static_assert(__builtin_offsetof(struct cpu_state, mem) == ST_MEM, "layout");
_Static_assert(sizeof(struct cpu_state) == ST_SIZE, "layout");
#endif

#endif
