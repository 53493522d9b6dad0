/* SPDX-License-Identifier: MIT */
/*
 * The function bench_trace probes, alone in its file so that no call to it
 * can be inlined or specialised: every call in the bench's loops is a real
 * call, and the probe sees the arguments in rdi and rsi.
 */
#ifndef BENCH_TRACE_TARGET_H
#define BENCH_TRACE_TARGET_H

#include <stdint.h>

/* Returns a + b; leaves rdi and rsi as they came, so a return probe sees them too. */
uint64_t bench_trace_target(uint64_t a, uint64_t b);

#endif
