// SPDX-License-Identifier: MIT
/*
 * bench_spread's target: N calls spread over K of 4,096 distinct functions
 * (spread_funcs.S), in a fixed shuffled order (no stride a prefetcher could
 * follow), as a server's requests run through many functions. Prints the
 * loop's ns per call (CLOCK_MONOTONIC, the best of 3 passes) and a checksum.
 * Usage: spread_target K N
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define NFUNCS 4096

typedef int (*fn_t)(int);
extern const fn_t spread_table[NFUNCS];

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long k = argc > 2 ? atol(argv[1]) : 0, n = argc > 2 ? atol(argv[2]) : 0;
	fn_t order[NFUNCS];
	uint64_t x = 88172645463325252ull, sum = 0;
	double best = 0;

	if (k < 1 || k > NFUNCS || n < 1) {
		fprintf(stderr, "usage: spread_target K N   (1 <= K <= %d functions, N calls)\n",
			NFUNCS);
		return 2;
	}
	for (long i = 0; i < k; i++)
		order[i] = spread_table[i * (NFUNCS / k)]; /* spread over the 4,096 */
	for (long i = k - 1; i > 0; i--) { /* xorshift shuffle, the same every run */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		long j = (long)(x % (uint64_t)(i + 1));
		fn_t t = order[i];
		order[i] = order[j];
		order[j] = t;
	}
	for (int pass = 0; pass < 3; pass++) {
		double t0 = now_ns();

		for (long i = 0, j = 0; i < n; i++) {
			sum += (uint64_t)order[j]((int)i);
			if (++j == k)
				j = 0;
		}
		double t = (now_ns() - t0) / (double)n;
		if (pass == 0 || t < best)
			best = t;
	}
	printf("ns_per_call %.2f sum %llu\n", best, (unsigned long long)sum);
	return 0;
}
