/* SPDX-License-Identifier: MIT */
/*
 * Byte emitters shared by the out-of-line slots (relocate.c) and the
 * trampoline copies of jump windows (optimize.c). out[pos] is at address
 * base + pos; each returns the new pos, or -ERANGE when a rel32 cannot reach.
 */
#ifndef UPROBES_ARCH_EMIT_H
#define UPROBES_ARCH_EMIT_H

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "arch/x86_64/insn.h"

/* Narrow [lo, hi] to the addresses from which a rel32 reaches x (minus slack). */
static inline void emit_reach_clip(uint64_t x, int64_t slack, uint64_t *lo, uint64_t *hi)
{
	int64_t reach = (int64_t)INT32_MAX - slack;
	uint64_t l = x > (uint64_t)reach ? x - reach : 0;
	uint64_t h = x + reach < x ? UINT64_MAX : x + reach;

	if (l > *lo)
		*lo = l;
	if (h < *hi)
		*hi = h;
}

static inline int emit_rel32(uint8_t *at, uint64_t next_ip, uint64_t target)
{
	int64_t rel = (int64_t)(target - next_ip);
	int32_t r32 = (int32_t)rel;

	if (rel != r32)
		return -ERANGE;
	memcpy(at, &r32, 4);
	return 0;
}

/* e9 <rel32 to target> */
static inline int emit_jmp(uint8_t *out, int pos, uint64_t base, uint64_t target)
{
	out[pos] = 0xe9;
	return emit_rel32(out + pos + 1, base + pos + 5, target) ? -ERANGE : pos + 5;
}

/* 0f 8x <rel32 to target> */
static inline int emit_jcc(uint8_t *out, int pos, uint64_t base, unsigned cond, uint64_t target)
{
	out[pos] = 0x0f;
	out[pos + 1] = 0x80 | cond;
	return emit_rel32(out + pos + 2, base + pos + 6, target) ? -ERANGE : pos + 6;
}

/*
 * Push a 64-bit return address without touching a register or a flag:
 * 68 <lo32> (pushes it sign-extended), c7 44 24 04 <hi32> (fixes the top half).
 */
static inline int emit_push_ret(uint8_t *out, int pos, uint64_t ret)
{
	uint32_t lo = (uint32_t)ret, hi = (uint32_t)(ret >> 32);

	out[pos] = 0x68;
	memcpy(out + pos + 1, &lo, 4);
	memcpy(out + pos + 5, "\xc7\x44\x24\x04", 4);
	memcpy(out + pos + 9, &hi, 4);
	return pos + 13;
}

/* The instruction itself, its RIP-relative displacement re-targeted. */
static inline int emit_insn(const struct arch_insn *ai, uint8_t *out, int pos, uint64_t base)
{
	memcpy(out + pos, ai->bytes, ai->len);
	if (ai->riprel_off &&
	    emit_rel32(out + pos + ai->riprel_off, base + pos + ai->len, ai->riprel_addr))
		return -ERANGE;
	return pos + ai->len;
}

/* loop/jrcxz rel8 re-aimed: [insn with rel8 = 2][eb 05][e9 <target>], then falls through. */
static inline int emit_loop(const struct arch_insn *ai, uint8_t *out, int pos, uint64_t base)
{
	memcpy(out + pos, ai->bytes, ai->len);
	out[pos + ai->len - 1] = 2;
	out[pos + ai->len] = 0xeb;
	out[pos + ai->len + 1] = 5;
	return emit_jmp(out, pos + ai->len + 2, base, ai->target);
}

/* call *x as push <return address>; jmp *x (ModRM reg field /2 -> /4). */
static inline int emit_call_indirect(const struct arch_insn *ai, uint8_t *out, int pos,
				     uint64_t base)
{
	pos = emit_insn(ai, out, emit_push_ret(out, pos, ai->addr + ai->len), base);
	if (pos > 0)
		out[pos - ai->len + ai->modrm_off] =
			(out[pos - ai->len + ai->modrm_off] & ~0x38) | (4 << 3);
	return pos;
}

#endif
