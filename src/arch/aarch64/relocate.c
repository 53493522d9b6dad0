// SPDX-License-Identifier: MIT
/*
 * Out-of-line slots on aarch64. Only instructions that do not read the PC run
 * out of line (the others are emulated), so the copy needs no fixup:
 *
 *   generic           [insn][b <addr+4>]      the slot within +-128 MiB of addr+4
 *   br, ret, retaa... [insn]                  control never comes back
 *
 * The `b` back changes no register and no flag.
 */
#include <errno.h>

#include "arch/aarch64/insn.h"

void arch_xol_window(const struct arch_insn *ai, uint64_t *lo, uint64_t *hi)
{
	uint64_t back = ai->addr + 4;

	/* b at slot+4 reaches back when back - (slot+4) is in [-2^27, 2^27 - 4]. */
	*lo = back >= ARCH_B_REACH ? back - ARCH_B_REACH : 0;
	*hi = back <= UINT64_MAX - ARCH_B_REACH ? back + ARCH_B_REACH - 4 : UINT64_MAX;
	if (ai->op == ARCH_OP_NO_RETURN) {
		*lo = 0;
		*hi = UINT64_MAX;
	}
}

static void put32(uint8_t *out, uint32_t w)
{
	out[0] = w;
	out[1] = w >> 8;
	out[2] = w >> 16;
	out[3] = w >> 24;
}

int arch_xol_build(const struct arch_insn *ai, uint64_t slot, uint8_t *out)
{
	uint64_t lo, hi;
	int64_t rel;

	if (arch_insn_can_emulate(ai))
		return -EINVAL;
	put32(out, ai->insn);
	if (ai->op == ARCH_OP_NO_RETURN)
		return 4;
	arch_xol_window(ai, &lo, &hi);
	if (slot < lo || slot > hi || (slot & 3))
		return -ERANGE;
	rel = (int64_t)(ai->addr + 4 - (slot + 4));
	put32(out + 4, 0x14000000u | ((uint64_t)rel >> 2 & 0x3ffffff)); /* b back */
	return 8;
}
