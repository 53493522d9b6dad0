/* SPDX-License-Identifier: MIT */
/*
 * Two static functions both named tick, one in each part of this file
 * (compiled twice: PART2 is the second object), as glibc has 14 free_mem:
 * a glob must probe both, a plain name is ambiguous. main calls the first
 * tick 3 times and the second 5 times (through part2), and prints the sum.
 */
#ifdef PART2
static __attribute__((noinline)) int tick(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x * 3;
}

int part2(int n)
{
	int s = 0;

	for (int i = 0; i < n; i++)
		s += tick(i);
	return s;
}
#else
#include <stdio.h>

int part2(int n);

static __attribute__((noinline)) int tick(int x)
{
	__asm__ volatile("" : "+r"(x));
	return x + 1;
}

int main(void)
{
	int s = 0;

	for (int i = 0; i < 3; i++)
		s += tick(i);
	printf("%d\n", s + part2(5));
	return 0;
}
#endif
