// SPDX-License-Identifier: MIT
/* Written text made visible to instruction fetch (arch/aarch64/arch.h). */
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arch/arch.h"

void arch_text_sync(uint64_t addr, size_t len)
{
	static uint64_t page;
	uint64_t start, end;

	if (!len)
		return;
	__builtin___clear_cache((char *)(uintptr_t)addr, (char *)(uintptr_t)(addr + len));
	if (!page)
		page = getauxval(AT_PAGESZ) ?: 4096;
	start = addr & ~(page - 1);
	end = (addr + len + page - 1) & ~(page - 1);
	/* The text's protection is r-x for every mapping the library writes (ubp/text.c). */
	if (!raw_syscall6(SYS_mprotect, (long)start, (long)(end - start),
			  PROT_READ | PROT_WRITE | PROT_EXEC, 0, 0, 0))
		raw_syscall6(SYS_mprotect, (long)start, (long)(end - start), PROT_READ | PROT_EXEC,
			     0, 0, 0);
}
