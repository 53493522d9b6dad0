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
#include <gelf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

struct lookup {
	const char *name;
	uint64_t addr;
};

static int match(uint8_t *code, size_t size, const char *name, void *arg)
{
	struct lookup *l = arg;

	(void)size;
	if (strcmp(name, l->name))
		return 0;
	l->addr = (uintptr_t)code;
	return 1;
}

/* The run-time address of the program's own function name (.symtab), or 0. */
static uint64_t exe_symbol(const char *name)
{
	struct lookup l = { name, 0 };
	uint64_t bias = 0;

	dl_iterate_phdr(first_object, &bias);
	sites_each_symbol("/proc/self/exe", bias, SHT_SYMTAB, match, &l);
	return l.addr;
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
