/* SPDX-License-Identifier: MIT */
#include "bench_trace_target.h"

/* gcc -O2: lea (%rdi,%rsi,1),%rax; ret: five bytes, the jump of an optimized probe fits. */
__attribute__((noinline)) uint64_t bench_trace_target(uint64_t a, uint64_t b)
{
	return a + b;
}
