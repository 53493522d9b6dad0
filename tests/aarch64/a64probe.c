// SPDX-License-Identifier: MIT
/*
 * a64probe.so: a test stand-in for the agent on aarch64, loaded with
 * LD_PRELOAD into a program that knows nothing of probes (test_demo.sh). Its
 * constructor puts a probe at the entry of each function A64_PROBES names
 * (separated by colons, as qemu's -E splits at commas; the program's own from
 * its .symtab, others by dlsym), as brk or as b to a trampoline
 * (A64_MODE=brk|jump), before main; its destructor takes them out and prints
 * "a64probe: NAME HITS" on stderr for each.
 */
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sites.h"

#define MAX_PROBES 16

static struct {
	char name[64];
	uint64_t addr;
} probes[MAX_PROBES];
static int nprobes, jump_mode;

static int first_object(struct dl_phdr_info *info, size_t size, void *bias)
{
	(void)size;
	*(uint64_t *)bias = info->dlpi_addr; /* the program comes first */
	return 1;
}

/* The run-time address of the program's own function name (.symtab), or 0. */
static uint64_t exe_symbol(const char *name)
{
	uint64_t bias = 0, addr = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd = open("/proc/self/exe", O_RDONLY);

	if (fd < 0)
		return 0;
	dl_iterate_phdr(first_object, &bias);
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !addr && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !(d = elf_getdata(scn, 0)))
			continue;
		for (size_t i = 0; !addr && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (gelf_getsym(d, i, &s) && GELF_ST_TYPE(s.st_info) == STT_FUNC && s.st_value &&
			    (n = elf_strptr(elf, sh.sh_link, s.st_name)) && !strcmp(n, name))
				addr = bias + s.st_value;
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return addr;
}

__attribute__((constructor)) static void a64probe_attach(void)
{
	const char *env = getenv("A64_PROBES"), *mode = getenv("A64_MODE");
	char list[512], *save = NULL;

	if (!env || strlen(env) >= sizeof(list))
		return;
	jump_mode = mode && !strcmp(mode, "jump");
	strcpy(list, env);
	for (char *n = strtok_r(list, ":", &save); n && nprobes < MAX_PROBES;
	     n = strtok_r(NULL, ":", &save)) {
		uint64_t a = exe_symbol(n);

		if (!a)
			a = (uintptr_t)dlsym(RTLD_DEFAULT, n);
		if (!a || sites_add((uint8_t *)(uintptr_t)a, 4, 1)) {
			fprintf(stderr, "a64probe: %s: no such function, or not probeable\n", n);
			exit(126);
		}
		snprintf(probes[nprobes].name, sizeof(probes[nprobes].name), "%s", n);
		probes[nprobes++].addr = a;
	}
	sites_ready("aarch64_demo");
	sites_patch(jump_mode ? SITES_JUMP : SITES_BRK);
}

__attribute__((destructor)) static void a64probe_detach(void)
{
	if (!nprobes)
		return;
	sites_patch(SITES_ORIG);
	for (int i = 0; i < nprobes; i++) {
		struct site *s = site_at(probes[i].addr);

		fprintf(stderr, "a64probe: %s %lu\n", probes[i].name,
			s ? (jump_mode ? s->hits_jump : s->hits_brk) : 0);
	}
}
