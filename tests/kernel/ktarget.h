/* SPDX-License-Identifier: MIT */
/* What tests/kernel's programs pass to kt_work() (libktarget.so). */
#ifndef KTARGET_H
#define KTARGET_H

#include <stdint.h>

struct kt_rec {
	int32_t neg;	    /* +0 */
	uint16_t u16;	    /* +4 */
	uint8_t flags;	    /* +6 */
	char tag;	    /* +7 */
	uint32_t arr[4];    /* +8 */
	const char *name;   /* +24 */
	struct kt_rec *next; /* +32 */
	uint64_t big;	    /* +40 */
};

long kt_work(long i, const char *s, struct kt_rec *r, long a4, long a5, long a6, long a7, long a8);

#endif
