// SPDX-License-Identifier: MIT
/* The uprobe command on x86-64 (cli.h): its ELF machine and tick counter. */
#include <elf.h>

#include "../cli.h"

const int cli_elf_machine = EM_X86_64;
const char cli_arch_name[] = "x86-64";

uint64_t cli_ticks(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}
