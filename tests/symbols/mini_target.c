// SPDX-License-Identifier: MIT
/*
 * Static (local) functions for the MiniDebugInfo test: stripped, the file
 * knows them only through the .symtab in its .gnu_debugdata. Each counts
 * its calls; main prints the counts.
 */
#include <stdio.h>
#include <stdlib.h>

#define PROBED __attribute__((noipa))

static unsigned long n_alpha, n_beta;

PROBED static int mini_alpha(int x)
{
	n_alpha++;
	return x + 1;
}

PROBED static int mini_beta(int x)
{
	n_beta++;
	return x * 3;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 10, acc = 0;

	for (int i = 0; i < n; i++) {
		acc += mini_alpha(i);
		for (int k = 0; k < 3; k++)
			acc += mini_beta(k);
	}
	printf("alpha=%lu beta=%lu acc=%d\n", n_alpha, n_beta, acc);
	return 0;
}
