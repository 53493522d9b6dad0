// SPDX-License-Identifier: MIT
/*
 * A function of eight integer arguments for the language's arg6 and arg7 on
 * aarch64 (x6, x7; tests/aarch64/test_trace.sh, case args): sum8 is called
 * 40 times with arg6 = i % 4 and arg7 = 100 + i % 2. Prints the calls and
 * what they summed.
 */
#include <stdio.h>

__attribute__((noinline)) long sum8(long a, long b, long c, long d, long e, long f, long g,
				    long h)
{
	__asm__ volatile("" ::: "memory");
	return a + b + c + d + e + f + g + h;
}

int main(void)
{
	long total = 0;

	for (long i = 0; i < 40; i++)
		total += sum8(i, 1, 2, 3, 4, 5, i % 4, 100 + i % 2);
	printf("args_app: 40 calls, total %ld\n", total);
	return 0;
}
