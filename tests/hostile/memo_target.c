/* SPDX-License-Identifier: MIT */
/*
 * The target of memo_test.sh: memo_f's first instruction is the whole window
 * of its jump-optimized probe,
 *
 *   memo_f:  b8 44 33 22 11   mov $0x11223344, %eax
 *            c3               ret
 *
 * which the test rewrites in a copy of this file, keeping its build-id, as
 *
 *   memo_f:  31 c0            xor %eax, %eax        (a window of two
 *            83 c0 07         add $7, %eax           instructions now)
 *            c3               ret
 *
 * Prints memo_f's value summed over CALLS calls, and whether this process
 * has the instruction decoder (libZydis) mapped: a probe analysed from a
 * memo needs none.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

unsigned memo_f(void);
__asm__(".text\n"
	".globl memo_f\n"
	".type memo_f, @function\n"
	"memo_f:\n"
	"	movl $0x11223344, %eax\n"
	"	ret\n"
	"	int3\n"
	"	int3\n"
	".size memo_f, . - memo_f\n");

/* Is a mapping whose path contains what in this process? */
static int mapped(const char *what)
{
	char line[512];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	while (f && fgets(line, sizeof(line), f))
		found |= strstr(line, what) != NULL;
	if (f)
		fclose(f);
	return found;
}

int main(int argc, char **argv)
{
	unsigned calls = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 0) : 100;
	unsigned long sum = 0;

	for (unsigned i = 0; i < calls; i++)
		sum += memo_f();
	printf("sum 0x%lx zydis %d\n", sum, mapped("libZydis"));
	return 0;
}
