/* SPDX-License-Identifier: MIT */
/*
 * libfp.so for tests/stack: built with frame pointers and without any CFI
 * (-fno-asynchronous-unwind-tables -fno-unwind-tables, no -g): the unwinder
 * must follow rbp here, and find the return address at rsp at fp_leaf's entry.
 */
volatile int fp_sink;

__attribute__((noinline)) int fp_leaf(int x)
{
	fp_sink = x;
	return x * 3 + 1;
}

__attribute__((noinline)) int fp_mid(int (*fn)(int), int x)
{
	int r = fn(x + 1);

	fp_sink = r;
	return r + 1;
}
