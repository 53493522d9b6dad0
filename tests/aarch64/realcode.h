/* SPDX-License-Identifier: MIT */
/* The workload of test_realcode (realcode_work.c, section a64work). */
#ifndef TESTS_AARCH64_REALCODE_H
#define TESTS_AARCH64_REALCODE_H

#include <stdint.h>

struct realcode_out {
	uint64_t sorted_sum, fib;
	int64_t interp;
	double poly;
	uint64_t hash;
};

void realcode_run(struct realcode_out *out);

#endif
