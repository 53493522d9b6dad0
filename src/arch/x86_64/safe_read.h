/* SPDX-License-Identifier: MIT */
/* Fault-safe reads: the contract is arch-neutral (arch/safe_read.h). */
#ifndef UPROBES_ARCH_X86_64_SAFE_READ_H
#define UPROBES_ARCH_X86_64_SAFE_READ_H

#include "arch/safe_read.h"

/*
 * Inline fault-safe loads, for the stack walk's loop (no call, no register
 * but the result's taken): the load lies in the caller's code, and the
 * section uprobes_safe_ex holds its address and its fixup's (two 32-bit
 * offsets, each from its own field), which arch_safe_read_fault() searches
 * after the routines of safe_read.S. A fault resumes at the fixup, which puts
 * 1 in fault and goes on after the loads. Same results as
 * uprobes_safe_load8() and uprobes_safe_load16().
 */
struct safe_ex {
	int32_t insn, fixup;
};

#define SAFE_EX(insn, fixup)                     \
	"	.pushsection uprobes_safe_ex, \"a\"\n" \
	"	.balign 4\n"                           \
	"	.long " insn " - .\n"                  \
	"	.long " fixup " - .\n"                 \
	"	.popsection\n"

static inline __attribute__((always_inline)) struct safe_word safe_load8_inline(uint64_t addr)
{
	uint64_t v, fault;

	__asm__ volatile("1:	movq (%2), %0\n"
			 "	xorl %k1, %k1\n"
			 "2:\n"
			 "	.pushsection .text.unlikely, \"ax\"\n"
			 "3:	movl $1, %k1\n"
			 "	jmp 2b\n"
			 "	.popsection\n" SAFE_EX("1b", "3b")
			 : "=&r"(v), "=&r"(fault)
			 : "r"(addr));
	return (struct safe_word){ v, fault };
}

static inline __attribute__((always_inline)) struct safe_word safe_load16_inline(uint64_t addr)
{
	uint64_t v, fault;

	__asm__ volatile("1:	movq (%2), %0\n"
			 "2:	movq 8(%2), %1\n"
			 "3:\n"
			 "	.pushsection .text.unlikely, \"ax\"\n"
			 "4:	movl $1, %k1\n"
			 "	jmp 3b\n"
			 "	.popsection\n" SAFE_EX("1b", "4b") SAFE_EX("2b", "4b")
			 : "=&r"(v), "=&r"(fault)
			 : "r"(addr));
	return (struct safe_word){ v, fault };
}

#endif
