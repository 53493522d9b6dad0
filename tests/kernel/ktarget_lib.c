// SPDX-License-Identifier: MIT
/* libktarget.so: the library every test program of tests/kernel maps. */
#include <stdint.h>

#include "ktarget.h"

volatile long kt_sink;

__attribute__((noinline)) long kt_work(long i, const char *s, struct kt_rec *r, long a4, long a5,
				       long a6, long a7, long a8)
{
	kt_sink += i + (s ? s[0] : 0) + r->neg + a4 + a5 + a6 + a7 + a8;
	return i * 3 - 100;
}
