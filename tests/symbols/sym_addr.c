// SPDX-License-Identifier: MIT
/*
 * sym_addr FILE LOCATION...: the virtual address each location resolves to
 * (uprobe_analyze), one per line, or "error: MESSAGE". A file this process
 * maps (libc) is analysed in memory: the address is taken back to the file's
 * virtual address through its load base.
 * sym_addr -v NAME VERSION: what the dynamic linker binds NAME@VERSION to
 * in this process (dlvsym), as a virtual address of its file.
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "uprobes.h"

static uint64_t file_vaddr(uint64_t addr)
{
	Dl_info d;

	if (dladdr((void *)(uintptr_t)addr, &d) && d.dli_fbase)
		return addr - (uint64_t)(uintptr_t)d.dli_fbase;
	return addr;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "-v")) {
		void *p = dlvsym(RTLD_DEFAULT, argv[2], argv[3]);

		printf("%" PRIx64 "\n", p ? file_vaddr((uint64_t)(uintptr_t)p) : 0);
		return !p;
	}
	for (int i = 2; i < argc; i++) {
		struct uprobe_info info = { .sz = sizeof(info) };

		if (uprobe_analyze(argv[1], argv[i], 0, &info))
			printf("error: %s\n", uprobe_last_error());
		else
			printf("%" PRIx64 "\n", file_vaddr(info.addr));
	}
	return 0;
}
