// SPDX-License-Identifier: MIT
// tests/lang_stack's print target (issue 17): print(ustack) and printf("%s",
// ustack) compared with bpftrace's on the same process. Built with frame
// pointers (bpftrace follows only those) and probed past print_leaf's
// prologue, where both walks see main -> print_mid -> print_leaf. Stays a
// second after the hits, so that bpftrace names the frames while it lives.
#include <unistd.h>

__attribute__((noinline)) int print_leaf(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline)) int print_mid(int x)
{
	return print_leaf(x) * 2;
}

int main(int argc, char **argv)
{
	volatile int s = 0;

	(void)argv;
	for (int i = 0; i < 2; i++)
		s += print_mid(i);
	if (argc < 2)
		sleep(1);
	return 0;
}
