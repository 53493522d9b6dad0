/* SPDX-License-Identifier: MIT */
#include <stddef.h>

#include "arch/x86_64/regs.h"

#define RI REGS_IDX

/* Hardware order: rax rcx rdx rbx rsp rbp rsi rdi r8..r15. */
static const unsigned char hw_to_regs[16] = {
	RI(rax), RI(rcx), RI(rdx), RI(rbx), RI(rsp), RI(rbp), RI(rsi), RI(rdi),
	RI(r8),	 RI(r9),  RI(r10), RI(r11), RI(r12), RI(r13), RI(r14), RI(r15),
};

int regs_index(ZydisRegister reg)
{
	if (reg < ZYDIS_REGISTER_RAX || reg > ZYDIS_REGISTER_R15)
		return -1;
	return hw_to_regs[reg - ZYDIS_REGISTER_RAX];
}

/* gregs[] index for each uprobe_regs slot, in struct order. */
static const unsigned char regs_to_greg[] = {
	REG_R15, REG_R14, REG_R13, REG_R12, REG_RBP, REG_RBX, REG_R11, REG_R10, REG_R9,
	REG_R8,	 REG_RAX, REG_RCX, REG_RDX, REG_RSI, REG_RDI, REG_RIP, REG_EFL, REG_RSP,
};

_Static_assert(sizeof(regs_to_greg) == REGS_NR, "uprobe_regs and gregs map disagree");

void regs_from_ucontext(struct uprobe_regs *regs, const ucontext_t *uc)
{
	for (unsigned i = 0; i < REGS_NR; i++)
		*regs_slot(regs, i) = uc->uc_mcontext.gregs[regs_to_greg[i]];
}

void regs_to_ucontext(const struct uprobe_regs *regs, ucontext_t *uc)
{
	for (unsigned i = 0; i < REGS_NR; i++)
		uc->uc_mcontext.gregs[regs_to_greg[i]] = ((const uint64_t *)regs)[i];
}
