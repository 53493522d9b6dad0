/* SPDX-License-Identifier: MIT */
/*
 * Signal context only: emulation and single-step fixups. No libc calls, no
 * SIMD (built with -mgeneral-regs-only -fno-builtin): this code runs while the
 * program may be inside any libc function, including ones we probe.
 */
#include "arch/x86_64/insn.h"
#include "arch/x86_64/regs.h"

#define FL_CF (1u << 0)
#define FL_PF (1u << 2)
#define FL_ZF (1u << 6)
#define FL_SF (1u << 7)
#define FL_OF (1u << 11)

/* The condition of jcc/setcc/cmovcc number cc (low opcode nibble). */
static int cond_holds(unsigned cc, uint64_t fl)
{
	int cf = !!(fl & FL_CF), zf = !!(fl & FL_ZF), sf = !!(fl & FL_SF);
	int of = !!(fl & FL_OF), pf = !!(fl & FL_PF);
	int r;

	switch (cc >> 1) {
	case 0: r = of; break;			/* o / no */
	case 1: r = cf; break;			/* b / ae */
	case 2: r = zf; break;			/* e / ne */
	case 3: r = cf | zf; break;		/* be / a */
	case 4: r = sf; break;			/* s / ns */
	case 5: r = pf; break;			/* p / np */
	case 6: r = sf != of; break;		/* l / ge */
	default: r = zf | (sf != of); break;	/* le / g */
	}
	return (cc & 1) ? !r : r;
}

/*
 * The red zone is free to use: the kernel put the signal frame below it, and
 * push/call write exactly where the CPU would have.
 */
static void push64(struct uprobe_regs *regs, uint64_t val)
{
	regs->rsp -= 8;
	*(volatile uint64_t *)regs->rsp = val;
}

static int loop_taken(const struct arch_insn *ai, struct uprobe_regs *regs)
{
	int zf = !!(regs->rflags & FL_ZF);

	regs->rcx -= 1; /* loop does not touch the flags */
	if (!regs->rcx)
		return 0;
	return ai->cond == ARCH_LOOP || (ai->cond == ARCH_LOOPE ? zf : !zf);
}

void arch_emulate(const struct arch_insn *ai, struct uprobe_regs *regs)
{
	uint64_t next = ai->addr + ai->len, target;

	switch (ai->op) {
	case ARCH_OP_PUSH_REG:
		/* push %rsp stores the value before the decrement. */
		push64(regs, *regs_slot(regs, ai->reg));
		regs->rip = next;
		break;
	case ARCH_OP_JMP_REL:
		regs->rip = ai->target;
		break;
	case ARCH_OP_JCC_REL:
		regs->rip = cond_holds(ai->cond, regs->rflags) ? ai->target : next;
		break;
	case ARCH_OP_CALL_REL:
		push64(regs, next);
		regs->rip = ai->target;
		break;
	case ARCH_OP_CALL_REG:
		target = *regs_slot(regs, ai->reg);
		push64(regs, next);
		regs->rip = target;
		break;
	case ARCH_OP_LOOP:
		regs->rip = loop_taken(ai, regs) ? ai->target : next;
		break;
	case ARCH_OP_JRCXZ:
		target = ai->addr32 ? (uint32_t)regs->rcx : regs->rcx;
		regs->rip = target ? next : ai->target;
		break;
	default: /* ARCH_OP_NOP */
		regs->rip = next;
		break;
	}
}

bool arch_singlestep_fixup(const struct arch_insn *ai, uint64_t slot, uint64_t prog_tf,
			   struct uprobe_regs *regs)
{
	uint64_t slot_next = slot + ai->len, next = ai->addr + ai->len;

	if (regs->rip == slot)
		return false;
	if (regs->rip == slot_next)
		regs->rip = next;
	if (ai->op == ARCH_OP_CALL_MEM && *(volatile uint64_t *)regs->rsp == slot_next)
		*(volatile uint64_t *)regs->rsp = next;
	/* pushf/pushfq store the low 16 bits first: TF (bit 8) is in that word. */
	if (ai->pushes_flags && !prog_tf)
		*(volatile uint16_t *)regs->rsp &= ~(1u << 8);
	return true;
}
