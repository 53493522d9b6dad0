/* SPDX-License-Identifier: MIT */
/*
 * The walk cache's rows (walk.h): which CFI rows the walk keeps beside
 * their address, and how. walk_desc_of() runs at a hit, on a cache miss
 * (hot path: the Makefile's HOT_SRCS).
 */
#include <stdlib.h>

#include "stack/cfi_table.h"
#include "stack/walk.h"

uint64_t walk_desc_of(const struct cfi_row *r)
{
	uint64_t d;

	if (!r || CFI_KIND(r->kind) == CFI_UNKNOWN)
		return WALK_DESC_FP;
	if (CFI_KIND(r->kind) == CFI_END)
		return WALK_END;
	/* FAST: CFI_CALL, CFA = rsp or rbp + cfa_off, rbp unchanged or at CFA - 16 */
	if (!(r->kind & CFI_F_FAST) || r->cfa_off <= 0 || (r->cfa_off & 7) ||
	    r->cfa_off >> 3 > (int32_t)WALK_OFF_MAX)
		return 0;
	d = (uint64_t)(r->cfa_off >> 3) << WALK_OFF_SHIFT;
	if (r->kind & CFI_F_BP_BASE)
		d |= WALK_BP_BASE;
	if (CFI_BP(r->kind) == CFI_BP_CFA)
		d |= WALK_BP_SAVED;
	return d;
}

struct walk_cache *walk_cache_new(void)
{
	return calloc(1, sizeof(struct walk_cache));
}
