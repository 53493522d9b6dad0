/* SPDX-License-Identifier: MIT */
/*
 * A setuid-root program that links libuprobes (tests/hostile/chan_test.sh
 * makes a copy of it setuid root and runs it as an unprivileged user):
 *
 *   chan_setuid FILE           reads FILE (root's only), passes each line to
 *                              chan_check(), prints how many lines it checked
 *   chan_setuid FILE debugdir  attaches a probe to its own chan_hidden, which
 *                              only a debug file names (the copy is stripped):
 *                              prints whether the symbol was found
 *
 * Its caller's environment (UPROBE_AGENT_FD, UPROBE_DEBUG_DIR) must not make
 * it hand FILE's lines to the caller, nor read the caller's debug files.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "uprobes.h"

__attribute__((noinline)) int chan_check(const char *line)
{
	__asm__ volatile("" ::: "memory");
	return line[0] != 0;
}

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is about whose debug files are read, not short functions,
 * and so the entry's 5-byte jump never takes the ret; make check's forced pass
 * (UPROBE_ENTRY_PATH=lean-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) int chan_hidden(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

static void on_hit(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p, (void)regs, (void)ctx;
}

int main(int argc, char **argv)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = on_hit };
	char line[4096], self[PATH_MAX];
	int n = 0;
	FILE *f;

	if (argc > 2 && !strcmp(argv[2], "debugdir")) {
		if (!realpath("/proc/self/exe", self))
			return 1;
		printf("chan_hidden %s\n",
		       uprobe_attach(self, "chan_hidden", &o) ? "found" : "not found");
		return chan_hidden(0) == 1 ? 0 : 1;
	}
	f = argc > 1 ? fopen(argv[1], "r") : NULL;
	if (!f) {
		printf("cannot read the file\n");
		return 1;
	}
	while (fgets(line, sizeof(line), f))
		n += chan_check(line);
	fclose(f);
	printf("%d lines checked\n", n);
	return 0;
}
