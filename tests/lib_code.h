/* SPDX-License-Identifier: MIT */
/*
 * For test targets that sample where a thread is (a signal's rip): whether it
 * is in libuprobes' code. lib_code_find() records the library's executable
 * segment in lib_lo..lib_hi, both 0 when it is not loaded (an untraced run).
 */
#ifndef TESTS_LIB_CODE_H
#define TESTS_LIB_CODE_H

#include <link.h>
#include <stdint.h>
#include <string.h>

static uintptr_t lib_lo, lib_hi;

static int lib_code_segment(struct dl_phdr_info *info, size_t size, void *ctx)
{
	(void)size, (void)ctx;
	if (!strstr(info->dlpi_name, "libuprobes"))
		return 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_LOAD && (ph->p_flags & PF_X)) {
			lib_lo = info->dlpi_addr + ph->p_vaddr;
			lib_hi = lib_lo + ph->p_memsz;
		}
	}
	return 1;
}

static inline void lib_code_find(void)
{
	dl_iterate_phdr(lib_code_segment, NULL);
}

#endif
