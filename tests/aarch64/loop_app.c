/* SPDX-License-Identifier: MIT */
/*
 * For test_trace.sh's stop case: calls loop_tick() every 10 ms until a signal
 * ends it, a program that does not end by itself.
 */
#include <time.h>

__attribute__((noinline)) unsigned loop_tick(unsigned n)
{
	return n + 1;
}

int main(void)
{
	struct timespec ten_ms = { 0, 10 * 1000 * 1000 };
	volatile unsigned n = 0;

	for (;;) {
		n = loop_tick(n);
		nanosleep(&ten_ms, NULL);
	}
}
