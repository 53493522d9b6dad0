// SPDX-License-Identifier: MIT
/*
 * N rounds of malloc(5000) and free: 5000 bytes is beyond the tcache and
 * below the mmap threshold, so every malloc goes through _int_malloc. Each
 * call of malloc and free is through this program's PLT (-fno-builtin).
 * Prints N. Deterministic: the kernel's uprobes and ours see the same calls.
 */
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100;

	for (int i = 0; i < n; i++) {
		char *volatile p = malloc(5000);

		p[0] = 1;
		free(p);
	}
	printf("rounds=%d\n", n);
	return 0;
}
