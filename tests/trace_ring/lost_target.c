/* SPDX-License-Identifier: MIT */
/*
 * What tests/trace_ring/ring_lost.sh traces: lost_target FIFO N calls
 * lost_a(text) N times, then lost_b(text) N / 2 times, text being 1000
 * bytes, then writes "done" into FIFO and exits 0. The test keeps the
 * tracer's output unread until then, so the tracer stops reading the rings
 * and the records that do not fit are lost: some of lost_a's, every one of
 * lost_b's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is not about short functions, and so the entry's 5-byte
 * jump never takes the ret; make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict UPROBE_RET_PATH=site-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) void lost_a(const char *s)
{
	__asm__ volatile("" : : "r"(s) : "memory");
}

__attribute__((noinline, patchable_function_entry(8, 0))) void lost_b(const char *s)
{
	__asm__ volatile("" : : "r"(s) : "memory");
}

int main(int argc, char **argv)
{
	static char text[1001];
	long n = argc > 2 ? atol(argv[2]) : 0;
	FILE *done;

	memset(text, 'x', sizeof(text) - 1);
	for (long i = 0; i < n; i++)
		lost_a(text);
	for (long i = 0; i < n / 2; i++)
		lost_b(text);
	done = argc > 2 ? fopen(argv[1], "w") : NULL;
	if (!done)
		return 1;
	fputs("done\n", done);
	return fclose(done) ? 1 : 0;
}
