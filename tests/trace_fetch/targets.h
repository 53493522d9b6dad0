/* SPDX-License-Identifier: MIT */
#ifndef TRACE_FETCH_TARGETS_H
#define TRACE_FETCH_TARGETS_H

#include <stdint.h>

struct t_data {
	uint8_t u8;
	uint16_t u16;
	uint32_t u32;
	uint64_t u64;
	int8_t s8;
	int16_t s16;
	int32_t s32;
	int64_t s64;
	uint8_t flags; /* bitfield source */
	uint16_t arr[4];
	const char *name;
	struct t_data *next;
	char inline_text[16];
};

extern uint64_t seen_entry_sp, seen_ret_addr;

uint64_t t_ints(uint64_t a, int64_t b, const struct t_data *d);
uint64_t t_args8(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5, uint64_t a6,
		 uint64_t a7, uint64_t a8);
const char *t_name(int i);
long t_ptr(const void *p);
double t_double(double x);
/* 3 * x + 1; t_flags_cf calls it with CF set */
int t_flags(int x);
int t_flags_cf(int x);

#endif
