// SPDX-License-Identifier: MIT
/*
 * ktarget N [FIFO]: call kt_work() (libktarget.so) N times with deterministic
 * arguments, after reading one byte from FIFO when given (so that a test can
 * start it before the tracer and let it run once the tracer is ready).
 * Built twice: ktarget and ktarget_other (-DKT_OTHER), two programs mapping
 * the same library.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ktarget.h"

int main(int argc, char **argv)
{
	static const char *const strs[3] = { "alpha", "", NULL };
	struct kt_rec r[2] = {
		{ -5, 0xbeef, 0x5c, 'K', { 1, 2, 3, 0xffffffff }, "rec-zero", &r[1], 1ull << 40 },
		{ 1234567, 7, 0xff, 'z', { 9, 8, 7, 6 }, "rec-one", &r[0], ~0ull },
	};
	long n = argc > 1 ? atol(argv[1]) : 3, sum = 0;
	char c;

	if (argc > 2) {
		int fd = open(argv[2], O_RDONLY);

		if (fd < 0 || read(fd, &c, 1) != 1)
			return 2;
		close(fd);
	}
	for (long i = 0; i < n; i++)
#ifdef KT_OTHER
		sum += kt_work(i, strs[(i + 1) % 3], &r[(i + 1) % 2], -1, 2, -3, 4, -5);
#else
		sum += kt_work(i, strs[i % 3], &r[i % 2], -i, i << 20, 3, -(1L << 33), 0x1234);
#endif
	printf("%ld\n", sum);
	return 0;
}
