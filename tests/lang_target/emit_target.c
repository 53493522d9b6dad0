/* SPDX-License-Identifier: MIT */
/*
 * What tests/lang_target's printf, exit and interval cases trace:
 * emit_target N [PAUSE_US [END_S]]. One thread calls emit_f(i, name) for
 * i = 0 .. N-1, name "NAME-i" in a buffer of its stack (memory the process
 * has touched: bpftrace's str() reads nothing from a page not yet faulted in),
 * NAME one of five; PAUSE_US microseconds between the calls; then END_S
 * seconds of sleep, and "done S" on stderr (S: what emit_f returned, summed),
 * status 3. A run that exit() ends is killed in its sleep: no "done".
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static const char *const names[] = { "alpha", "beta", "gamma", "delta", "epsilon" };

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is not about short functions, and so the entry's 5-byte
 * jump never takes the ret; make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict UPROBE_RET_PATH=site-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) long emit_f(long i, const char *name)
{
	__asm__ volatile("" : : "r"(i), "r"(name) : "memory");
	return i * 2;
}

int main(int argc, char **argv)
{
	long n, pause_us, sum = 0;
	int end_s;

	if (argc < 2 || argc > 4)
		return 2;
	n = atol(argv[1]);
	pause_us = argc > 2 ? atol(argv[2]) : 0;
	end_s = argc > 3 ? atoi(argv[3]) : 0;
	for (long i = 0; i < n; i++) {
		char name[32];

		snprintf(name, sizeof(name), "%s-%ld", names[i % 5], i);
		sum += emit_f(i, name);
		if (pause_us)
			usleep((useconds_t)pause_us);
	}
	if (end_s)
		sleep((unsigned int)end_s);
	fprintf(stderr, "done %ld\n", sum);
	return 3;
}
