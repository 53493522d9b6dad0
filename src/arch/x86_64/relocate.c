/* SPDX-License-Identifier: MIT */
/*
 * Out-of-line slots. A slot is ARCH_XOL_SLOT_SIZE bytes near the probed code
 * (within rel32 reach of everything the copy refers to):
 *
 *   generic     [insn, disp32 re-targeted if RIP-relative][e9 <addr+len>]
 *   ret, jmp *x [insn]                      control never comes back
 *   single-step [insn]                      the trap flag stops after it
 *   jmp rel     [e9 <target>]
 *   jcc rel     [0f 8x <target>][e9 <addr+len>]
 *   call rel    [68 <lo32 of addr+len>]          push sign-extended low half
 *               [c7 44 24 04 <hi32 of addr+len>] fix the high half
 *               [e9 <target>]
 *   call *%reg  [68 lo32][c7 44 24 04 hi32][insn with ModRM /2 -> /4: jmp *%reg]
 *   loop/jrcxz  [e2|e1|e0|(67) e3 02][eb 05][e9 <target>][e9 <addr+len>]
 *
 * The call forms change no register and no flag besides rsp, as a call would.
 */
#include <errno.h>
#include <string.h>

#include "arch/x86_64/insn.h"
#include "arch/x86_64/regs.h"

#define REL32_SLACK 64 /* the slot's own length never pushes a rel32 out of range */
#define REL32_REACH ((int64_t)INT32_MAX - REL32_SLACK)

static void window_clip(uint64_t x, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = x > (uint64_t)REL32_REACH ? x - REL32_REACH : 0;
	uint64_t h = x + REL32_REACH < x ? UINT64_MAX : x + REL32_REACH;

	if (l > *lo)
		*lo = l;
	if (h < *hi)
		*hi = h;
}

void arch_xol_window(const struct arch_insn *ai, uint64_t *lo, uint64_t *hi)
{
	*lo = 0;
	*hi = UINT64_MAX;
	window_clip(ai->addr, lo, hi);
	if (ai->riprel_off)
		window_clip(ai->riprel_addr, lo, hi);
	if (ai->op >= ARCH_OP_JMP_REL && ai->op <= ARCH_OP_JRCXZ)
		window_clip(ai->target, lo, hi);
}

static int put_rel32(uint8_t *at, uint64_t next_ip, uint64_t target)
{
	int64_t rel = (int64_t)(target - next_ip);
	int32_t r32 = (int32_t)rel;

	if (rel != r32)
		return -ERANGE;
	memcpy(at, &r32, 4);
	return 0;
}

/* e9 rel32 at out[pos] (slot address slot), jumping to target. */
static int put_jmp(uint8_t *out, int pos, uint64_t slot, uint64_t target)
{
	out[pos] = 0xe9;
	if (put_rel32(out + pos + 1, slot + pos + 5, target))
		return -ERANGE;
	return pos + 5;
}

/* push the 64-bit return address without touching a register or a flag. */
static int put_push_ret(uint8_t *out, uint64_t ret)
{
	uint32_t lo = (uint32_t)ret, hi = (uint32_t)(ret >> 32);

	out[0] = 0x68;
	memcpy(out + 1, &lo, 4);
	memcpy(out + 5, "\xc7\x44\x24\x04", 4);
	memcpy(out + 9, &hi, 4);
	return 13;
}

static int put_copy(const struct arch_insn *ai, uint64_t slot, int pos, uint8_t *out)
{
	memcpy(out + pos, ai->bytes, ai->len);
	if (ai->riprel_off &&
	    put_rel32(out + pos + ai->riprel_off, slot + pos + ai->len, ai->riprel_addr))
		return -ERANGE;
	return pos + ai->len;
}

int arch_xol_build(const struct arch_insn *ai, uint64_t slot, bool singlestep, uint8_t *out)
{
	uint64_t next = ai->addr + ai->len;
	int pos;

	switch (ai->op) {
	case ARCH_OP_JMP_REL:
		return put_jmp(out, 0, slot, ai->target);
	case ARCH_OP_JCC_REL:
		out[0] = 0x0f;
		out[1] = 0x80 | ai->cond;
		if (put_rel32(out + 2, slot + 6, ai->target))
			return -ERANGE;
		return put_jmp(out, 6, slot, next);
	case ARCH_OP_CALL_REL:
		pos = put_push_ret(out, next);
		return put_jmp(out, pos, slot, ai->target);
	case ARCH_OP_CALL_REG:
		/* jmp *%rsp after the push would see rsp - 8: leave it to emulation. */
		if (ai->reg == REGS_IDX(rsp))
			return -ENOTSUP;
		pos = put_push_ret(out, next);
		memcpy(out + pos, ai->bytes, ai->len);
		out[pos + ai->modrm_off] = (out[pos + ai->modrm_off] & ~0x38) | (4 << 3);
		return pos + ai->len;
	case ARCH_OP_LOOP:
	case ARCH_OP_JRCXZ:
		memcpy(out, ai->bytes, ai->len);
		out[ai->len - 1] = 2;
		out[ai->len] = 0xeb;
		out[ai->len + 1] = 5;
		pos = put_jmp(out, ai->len + 2, slot, ai->target);
		return pos < 0 ? pos : put_jmp(out, pos, slot, next);
	default:
		break;
	}
	pos = put_copy(ai, slot, 0, out);
	if (pos < 0 || singlestep || ai->op == ARCH_OP_NO_RETURN)
		return pos;
	return put_jmp(out, pos, slot, next);
}
