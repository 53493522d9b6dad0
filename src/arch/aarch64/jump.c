// SPDX-License-Identifier: MIT
/*
 * Jump trampolines on aarch64: see jump.h and tramp.S. arch_jump_finish runs
 * on every optimized hit and arch_jump_redirect in signal context: both are
 * built like the trap path (no libc calls, no SIMD registers).
 */
#include <asm/hwcap.h>
#include <errno.h>
#include <string.h>
#include <sys/auxv.h>

#include "arch/aarch64/jump.h"
#include "arch/aarch64/regs.h"

extern const uint8_t a64_tramp_template[], a64_tramp_tail_pre[], a64_tramp_tail[];
extern const uint8_t a64_tramp_redirect[], a64_tramp_lits[], a64_tramp_template_end[];

#define OFF(sym) ((size_t)((sym) - a64_tramp_template))
#define NZCV_MASK 0xf0000000ull

enum { LIT_REC, LIT_FN, LIT_FINISH, LIT_ADDR, LIT_DATA, LIT_SVE, LIT_COUNT };

static bool b_reaches(uint64_t from, uint64_t to)
{
	int64_t d = (int64_t)(to - from);

	return !(d & 3) && d >= -(int64_t)ARCH_B_REACH && d < (int64_t)ARCH_B_REACH;
}

static uint32_t enc_b(uint64_t from, uint64_t to)
{
	return 0x14000000u | (uint32_t)((to - from) >> 2 & 0x3ffffff);
}

uint32_t arch_jump_insn(uint64_t addr, uint64_t tramp)
{
	return b_reaches(addr, tramp) ? enc_b(addr, tramp) : 0;
}

/* A conditional branch re-targeted to +8: imm19 (b.cond, cbz) or imm14 (tbz). */
static uint32_t to_plus8(const struct arch_insn *ai)
{
	if (ai->op == ARCH_OP_TBZ)
		return (ai->insn & ~(0x3fffu << 5)) | 2u << 5;
	return (ai->insn & ~(0x7ffffu << 5)) | 2u << 5;
}

/* ldr s/d/q<rt>, [sp, #ARCH_JUMP_LIT_OFF] */
static uint32_t ldr_fp_frame(const struct arch_insn *ai)
{
	uint32_t base = ai->size == 4 ? 0xbd400000u : ai->size == 8 ? 0xfd400000u : 0x3dc00000u;

	return base | (ARCH_JUMP_LIT_OFF / ai->size) << 10 | 31u << 5 | ai->rt;
}

/* The tail's words at address t; false when it cannot be built (slow). */
static bool build_tail(const struct arch_insn *ai, uint64_t t, uint32_t *w, uint32_t *pre)
{
	uint64_t back = ai->addr + 4;

	switch (ai->op) {
	case ARCH_OP_XOL:
		w[0] = ai->insn;
		w[1] = enc_b(t + 4, back);
		return b_reaches(t + 4, back);
	case ARCH_OP_NO_RETURN:
		w[0] = ai->insn;
		return true;
	case ARCH_OP_B:
	case ARCH_OP_BL:
		w[0] = enc_b(t, ai->target);
		return b_reaches(t, ai->target);
	case ARCH_OP_BCOND:
	case ARCH_OP_CBZ:
	case ARCH_OP_TBZ:
		w[0] = to_plus8(ai);
		w[1] = enc_b(t + 4, back);
		w[2] = enc_b(t + 8, ai->target);
		return b_reaches(t + 4, back) && b_reaches(t + 8, ai->target);
	case ARCH_OP_BLR:
		w[0] = 0xd61f0000u | (uint32_t)ai->rn << 5; /* br xn */
		return ai->rn != 30;
	case ARCH_OP_BLR_PAC:
		return false;
	case ARCH_OP_LDR_LIT_FP:
		*pre = ldr_fp_frame(ai);
		break;
	}
	w[0] = enc_b(t, back); /* nop, bti, prfm, adr, ldr literal */
	return b_reaches(t, back);
}

int arch_jump_build(const struct arch_insn *ai, uint64_t tramp, arch_jump_fn fn, void *rec,
		    bool simd, uint8_t *out, bool *fast)
{
	size_t len = OFF(a64_tramp_template_end);
	uint64_t lits[LIT_COUNT] = { (uintptr_t)rec, (uintptr_t)fn, (uintptr_t)arch_jump_finish,
				     ai->addr, tramp + len,
				     simd && (getauxval(AT_HWCAP) & HWCAP_SVE) };
	struct arch_jump_data d = { .ai = *ai, .tail = tramp + OFF(a64_tramp_tail) };
	uint32_t tail[3] = { 0xd4200000u | 0x5a3u << 5, 0xd4200000u | 0x5a3u << 5,
			     0xd4200000u | 0x5a3u << 5 };
	uint32_t pre = 0xd503201fu; /* nop */

	if (!arch_jump_insn(ai->addr, tramp))
		return -ERANGE;
	if (tramp & 7)
		return -EINVAL;
	d.slow = !build_tail(ai, d.tail, tail, &pre);
	if (d.slow && ai->op == ARCH_OP_XOL)
		return -ERANGE; /* the copy could not come back, nor can the redirect */
	memcpy(out, a64_tramp_template, len);
	memcpy(out + OFF(a64_tramp_tail_pre), &pre, 4);
	memcpy(out + OFF(a64_tramp_tail), tail, sizeof(tail));
	memcpy(out + OFF(a64_tramp_lits), lits, sizeof(lits));
	memcpy(out + len, &d, sizeof(d));
	if (fast)
		*fast = !d.slow;
	return (int)(len + sizeof(d));
}

int arch_jump_finish(uint8_t *frame, const struct arch_jump_data *d)
{
	struct uprobe_regs *regs = (struct uprobe_regs *)frame;
	const struct arch_insn *ai = &d->ai;
	uint64_t lo, hi;
	int err;

	if (regs->pc != ai->addr || regs->sp != (uintptr_t)frame + ARCH_JUMP_FRAME || d->slow)
		return 1;
	switch (ai->op) {
	case ARCH_OP_BL:
	case ARCH_OP_BLR:
	case ARCH_OP_ADR:
	case ARCH_OP_LDR_LIT:
		/* its pc is not used: the tail branches; a faulting literal: redirect */
		err = arch_emulate(ai, regs, NULL);
		regs->pc = ai->addr;
		return err ? 1 : 0;
	case ARCH_OP_LDR_LIT_FP:
		if (arch_read_literal(ai->target, ai->size, &lo, &hi))
			return 1;
		((uint64_t *)(frame + ARCH_JUMP_LIT_OFF))[0] = lo; /* 16-aligned */
		((uint64_t *)(frame + ARCH_JUMP_LIT_OFF))[1] = hi;
		return 0;
	}
	return 0;
}

int arch_jump_redirect(ucontext_t *uc)
{
	uint64_t pc = uc->uc_mcontext.pc, frame = uc->uc_mcontext.sp;
	const struct arch_jump_data *d;
	struct uprobe_regs regs;
	struct arch_vregs vr;
	int err = 0;

	if (*(const volatile uint32_t *)(uintptr_t)pc != ARCH_BRK_REDIRECT)
		return 0;
	d = (const struct arch_jump_data *)(uintptr_t)(pc - OFF(a64_tramp_redirect) +
						       OFF(a64_tramp_template_end));
	regs = *(const struct uprobe_regs *)(uintptr_t)frame;
	regs.pstate = (uc->uc_mcontext.pstate & ~NZCV_MASK) | (regs.pstate & NZCV_MASK);
	if (regs.pc == d->ai.addr) {
		if (arch_insn_can_emulate(&d->ai)) {
			regs_vregs(uc, &vr);
			err = arch_emulate(&d->ai, &regs, &vr);
		} else {
			regs.pc = d->tail; /* [insn][b back] or [insn] */
		}
	}
	regs_to_ucontext(&regs, uc);
	return err ? err : 1;
}
