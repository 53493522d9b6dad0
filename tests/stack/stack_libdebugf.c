/* SPDX-License-Identifier: MIT */
/*
 * libdebugf.so for tests/stack: built -g -fno-asynchronous-unwind-tables
 * -fno-unwind-tables -fomit-frame-pointer: its only CFI is in .debug_frame.
 */
volatile int debugf_sink;

__attribute__((noinline)) int debugf_mid(int (*fn)(int), int x)
{
	int r = fn(x + 2);

	debugf_sink = r;
	return r + 2;
}
