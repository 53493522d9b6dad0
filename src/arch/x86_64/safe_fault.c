/* SPDX-License-Identifier: MIT */
/* The fault handler's hook for the fault-safe reads of safe_read.S (safe_read.h). */
#include "arch/x86_64/safe_read.h"

extern const char uprobes_safe_begin[], uprobes_safe_end[], uprobes_safe_fixup[];

bool arch_safe_read_fault(siginfo_t *si, ucontext_t *uc)
{
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];

	(void)si;
	if (rip < (uint64_t)uprobes_safe_begin || rip >= (uint64_t)uprobes_safe_end)
		return false;
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)uprobes_safe_fixup;
	return true;
}
