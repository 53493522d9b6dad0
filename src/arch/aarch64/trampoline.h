/* SPDX-License-Identifier: MIT */
/*
 * The aarch64 return trampoline (ret_tramp.S): where a return probe makes a
 * call return. The same contract as x86-64's (arch/x86_64/trampoline.h), so
 * that core/retprobe.c serves both.
 */
#ifndef UPROBES_ARCH_A64_TRAMPOLINE_H
#define UPROBES_ARCH_A64_TRAMPOLINE_H

#include <stdint.h>

#include "uprobes.h"

/*
 * What the return trampoline saves: its argument to dispatch_return(), which
 * sets regs.pc to where the call returns (the original x30). v0 and v1 hold
 * floating-point return values (in the public API's union uprobe_xmm).
 */
struct ret_frame {
	struct uprobe_regs regs;
	union uprobe_xmm xmm0, xmm1;
};

/* Defined by the core: pops the shadow stack, runs the handlers, sets regs.pc. */
void dispatch_return(struct ret_frame *f);

/* The return trampoline's address: what an entry probe puts in x30. */
uint64_t arch_ret_tramp_addr(void);

/*
 * At a function's entry (regs at its first instruction): make the call return
 * into the trampoline; returns the original return address.
 */
static inline uint64_t arch_ret_hijack(struct uprobe_regs *regs)
{
	uint64_t orig = regs->x[30];

	regs->x[30] = arch_ret_tramp_addr();
	return orig;
}

#endif
