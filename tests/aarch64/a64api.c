// SPDX-License-Identifier: MIT
/*
 * a64api.so: the demo's preload through the real library's public API
 * (include/uprobes.h), for test_demo.sh beside a64probe.so (which drives the
 * arch layer alone). Its constructor attaches a probe at the entry of each
 * function A64_PROBES names (colons between; the program's own by symbol,
 * uprobe_attach(NULL, name), others at their dlsym address,
 * uprobe_attach_addr), with UPROBE_F_NO_OPTIMIZE when A64_MODE=brk, before
 * main; its destructor prints "a64api: NAME HITS MODE" on stderr for each and
 * detaches.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uprobes.h"

#define MAX_PROBES 16

static struct {
	char name[64];
	struct uprobe *p;
} probes[MAX_PROBES];
static int nprobes;

static void count(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p, (void)regs, (void)ctx; /* uprobe_get_info counts the hits */
}

__attribute__((constructor)) static void a64api_attach(void)
{
	const char *env = getenv("A64_PROBES"), *mode = getenv("A64_MODE");
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };
	char list[512], *save = NULL;

	if (!env || strlen(env) >= sizeof(list))
		return;
	if (mode && !strcmp(mode, "brk"))
		o.flags = UPROBE_F_NO_OPTIMIZE;
	strcpy(list, env);
	/* every name first: strtok_r may be one of them, and this is no call of the program's */
	for (char *n = strtok_r(list, ":", &save); n && nprobes < MAX_PROBES;
	     n = strtok_r(NULL, ":", &save))
		snprintf(probes[nprobes++].name, sizeof(probes[0].name), "%s", n);
	for (int i = 0; i < nprobes; i++) {
		const char *n = probes[i].name;
		struct uprobe *p = uprobe_attach(NULL, n, &o);
		void *a;

		if (!p && (a = dlsym(RTLD_DEFAULT, n)))
			p = uprobe_attach_addr(a, &o);
		if (!p) {
			fprintf(stderr, "a64api: %s: %s\n", n, uprobe_last_error());
			exit(126);
		}
		probes[i].p = p;
	}
}

__attribute__((destructor)) static void a64api_detach(void)
{
	for (int i = 0; i < nprobes; i++) {
		struct uprobe_info info = { .sz = sizeof(info) };

		uprobe_detach(probes[i].p);
		uprobe_get_info(probes[i].p, &info);
		fprintf(stderr, "a64api: %s %lu %s\n", probes[i].name, (unsigned long)info.hits,
			uprobe_mode_name(info.mode));
		uprobe_free(probes[i].p);
	}
}
