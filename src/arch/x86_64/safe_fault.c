/* SPDX-License-Identifier: MIT */
/* The fault handler's hook for the fault-safe reads of safe_read.S (safe_read.h). */
#include "arch/x86_64/safe_read.h"

extern const char uprobes_safe_begin[], uprobes_safe_end[], uprobes_safe_fixup[];

/*
 * The inline loads' table (safe_read.h), bounded by the linker's symbols;
 * an entry of no load of its own here, so that the section always exists.
 */
extern const struct safe_ex __start_uprobes_safe_ex[], __stop_uprobes_safe_ex[];
__asm__(".pushsection uprobes_safe_ex, \"a\"\n"
	"	.balign 4\n"
	"	.long 0, 0\n" /* an address in this section: no instruction's */
	"	.popsection\n");

bool arch_safe_read_fault(siginfo_t *si, ucontext_t *uc)
{
	uint64_t rip = (uint64_t)uc->uc_mcontext.gregs[REG_RIP];

	(void)si;
	if (rip >= (uint64_t)uprobes_safe_begin && rip < (uint64_t)uprobes_safe_end) {
		uc->uc_mcontext.gregs[REG_RIP] = (greg_t)uprobes_safe_fixup;
		return true;
	}
	for (const struct safe_ex *e = __start_uprobes_safe_ex; e < __stop_uprobes_safe_ex; e++) {
		if ((uint64_t)&e->insn + (uint64_t)(int64_t)e->insn == rip) {
			uc->uc_mcontext.gregs[REG_RIP] =
				(greg_t)((uint64_t)&e->fixup + (uint64_t)(int64_t)e->fixup);
			return true;
		}
	}
	return false;
}
