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
#include "arch/x86_64/emit.h"
#include "arch/x86_64/insn.h"
#include "arch/x86_64/regs.h"

#define REL32_SLACK 64 /* the slot's own length never pushes a rel32 out of range */

void arch_xol_window(const struct arch_insn *ai, uint64_t *lo, uint64_t *hi)
{
	*lo = 0;
	*hi = UINT64_MAX;
	emit_reach_clip(ai->addr, REL32_SLACK, lo, hi);
	if (ai->riprel_off)
		emit_reach_clip(ai->riprel_addr, REL32_SLACK, lo, hi);
	if (ai->op >= ARCH_OP_JMP_REL && ai->op <= ARCH_OP_JRCXZ)
		emit_reach_clip(ai->target, REL32_SLACK, lo, hi);
}

int arch_xol_build(const struct arch_insn *ai, uint64_t slot, bool singlestep, uint8_t *out)
{
	uint64_t next = ai->addr + ai->len;
	int pos;

	switch (ai->op) {
	case ARCH_OP_JMP_REL:
		return emit_jmp(out, 0, slot, ai->target);
	case ARCH_OP_JCC_REL:
		pos = emit_jcc(out, 0, slot, ai->cond, ai->target);
		return pos < 0 ? pos : emit_jmp(out, pos, slot, next);
	case ARCH_OP_CALL_REL:
		return emit_jmp(out, emit_push_ret(out, 0, next), slot, ai->target);
	case ARCH_OP_CALL_REG:
		/* jmp *%rsp after the push would see rsp - 8: leave it to emulation. */
		if (ai->reg == REGS_IDX(rsp))
			return -ENOTSUP;
		return emit_call_indirect(ai, out, 0, slot);
	case ARCH_OP_LOOP:
	case ARCH_OP_JRCXZ:
		pos = emit_loop(ai, out, 0, slot);
		return pos < 0 ? pos : emit_jmp(out, pos, slot, next);
	default:
		break;
	}
	pos = emit_insn(ai, out, 0, slot);
	if (pos < 0 || singlestep || ai->op == ARCH_OP_NO_RETURN)
		return pos;
	return emit_jmp(out, pos, slot, next);
}
