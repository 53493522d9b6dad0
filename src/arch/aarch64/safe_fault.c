// SPDX-License-Identifier: MIT
/* The fault handler's hook for the fault-safe reads of safe_read.S (safe_read.h). */
#include "arch/safe_read.h"

extern const char uprobes_safe_begin[], uprobes_safe_end[], uprobes_safe_fixup[];

bool arch_safe_read_fault(siginfo_t *si, ucontext_t *uc)
{
	uint64_t pc = uc->uc_mcontext.pc;

	(void)si;
	if (pc < (uint64_t)(uintptr_t)uprobes_safe_begin || pc >= (uint64_t)(uintptr_t)uprobes_safe_end)
		return false;
	uc->uc_mcontext.pc = (uint64_t)(uintptr_t)uprobes_safe_fixup;
	return true;
}
