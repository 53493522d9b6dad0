/* SPDX-License-Identifier: MIT */
/*
 * liblate.so for tests/stack: loaded with dlopen after the probes are in
 * (stack_target's dlopen road), built -fomit-frame-pointer: its frames can
 * be walked only with its CFI, which the process must read when it comes.
 */
volatile int late_sink;

__attribute__((noinline)) int late_mid(int (*fn)(int), int x)
{
	int r = fn(x + 3);

	late_sink = r;
	return r + 3;
}
