// SPDX-License-Identifier: MIT
/*
 * Emulation of the instructions that read the PC, in signal context: no libc,
 * no SIMD (built with -mgeneral-regs-only); the saved registers, a literal read
 * fault-safe, and the PAC calls' pointers authenticated with this process's keys.
 *
 * PSTATE.BTYPE (bits 11:10) is what the hardware leaves after the instruction:
 * 0b10 after blr and its PAC forms (a guarded target must then start with
 * `bti c` or `paciasp`, as without the probe), 0 after anything else.
 */
#include <errno.h>

#include "arch/aarch64/insn.h"
#include "arch/safe_read.h"

#define PSTATE_BTYPE (3ull << 10)
#define BTYPE_CALL (2ull << 10)

static uint64_t reg_read(const struct uprobe_regs *regs, unsigned r)
{
	return r == 31 ? 0 : regs->x[r]; /* xzr */
}

static void reg_write(struct uprobe_regs *regs, unsigned r, uint64_t v)
{
	if (r != 31)
		regs->x[r] = v;
}

bool arch_cond_holds(unsigned cond, uint64_t pstate)
{
	bool n = pstate >> 31 & 1, z = pstate >> 30 & 1, c = pstate >> 29 & 1,
	     v = pstate >> 28 & 1;
	bool r;

	switch (cond >> 1) {
	case 0: r = z; break;		  /* eq */
	case 1: r = c; break;		  /* cs */
	case 2: r = n; break;		  /* mi */
	case 3: r = v; break;		  /* vs */
	case 4: r = c && !z; break;	  /* hi */
	case 5: r = n == v; break;	  /* ge */
	case 6: r = n == v && !z; break; /* gt */
	default: return true;		  /* al, nv: always */
	}
	return (cond & 1) ? !r : r;
}

/*
 * Authenticate an instruction address as blraa/blrab would: autia/autib (or
 * the zero-modifier autiza/autizb) run here with the process's own keys.
 * Encoded with .inst: the assembler needs no ARMv8.3 option for them.
 */
static uint64_t pac_auth(uint64_t ptr, uint64_t mod, bool key_b, bool zero)
{
	register uint64_t p asm("x16") = ptr;
	register uint64_t m asm("x17") = mod;

	if (zero && key_b)
		asm volatile(".inst 0xdac137f0" : "+r"(p)); /* autizb x16 */
	else if (zero)
		asm volatile(".inst 0xdac133f0" : "+r"(p)); /* autiza x16 */
	else if (key_b)
		asm volatile(".inst 0xdac11630" : "+r"(p) : "r"(m)); /* autib x16, x17 */
	else
		asm volatile(".inst 0xdac11230" : "+r"(p) : "r"(m)); /* autia x16, x17 */
	return p;
}

/* A literal of size 4, 8 or 16 bytes, read fault-safe: 0 or -EFAULT. */
int arch_read_literal(uint64_t addr, unsigned size, uint64_t *lo, uint64_t *hi)
{
	*hi = 0;
	if (uprobes_safe_load(addr, size == 16 ? 8 : size, lo))
		return -EFAULT;
	return size == 16 && uprobes_safe_load(addr + 8, 8, hi) ? -EFAULT : 0;
}

static int load_literal(const struct arch_insn *ai, struct uprobe_regs *regs,
			const struct arch_vregs *vr)
{
	uint64_t lo, hi;

	if (ai->op == ARCH_OP_LDR_LIT_FP && (!vr || !vr->fpsimd))
		return -EFAULT;
	if (arch_read_literal(ai->target, ai->size, &lo, &hi))
		return -EFAULT;
	if (ai->op == ARCH_OP_LDR_LIT) {
		reg_write(regs, ai->rt, ai->sign ? (uint64_t)(int64_t)(int32_t)lo : lo);
		return 0;
	}
	/* A scalar load clears the rest of the vector register. */
	arch_vreg_write(vr, ai->rt, (__uint128_t)hi << 64 | lo);
	return 0;
}

static uint64_t next_pc(const struct arch_insn *ai, struct uprobe_regs *regs)
{
	uint64_t next = ai->addr + 4;
	uint64_t t;

	switch (ai->op) {
	case ARCH_OP_B:
		return ai->target;
	case ARCH_OP_BL:
		regs->x[30] = next;
		return ai->target;
	case ARCH_OP_BCOND:
		return arch_cond_holds(ai->cond, regs->pstate) ? ai->target : next;
	case ARCH_OP_CBZ:
		t = reg_read(regs, ai->rt);
		if (!ai->wide)
			t = (uint32_t)t;
		return (t == 0) != ai->neg ? ai->target : next;
	case ARCH_OP_TBZ:
		t = reg_read(regs, ai->rt) >> ai->bit & 1;
		return (t == 0) != ai->neg ? ai->target : next;
	case ARCH_OP_BLR:
		t = reg_read(regs, ai->rn); /* read before x30 changes: blr x30 */
		regs->x[30] = next;
		return t;
	case ARCH_OP_BLR_PAC:
		t = pac_auth(reg_read(regs, ai->rn), ai->rm == 31 ? regs->sp : regs->x[ai->rm],
			     ai->key_b, ai->zero_mod);
		regs->x[30] = next;
		return t;
	case ARCH_OP_ADR:
		reg_write(regs, ai->rt, ai->target);
		return next;
	}
	return next; /* nop, bti, prfm, literal loads */
}

int arch_emulate(const struct arch_insn *ai, struct uprobe_regs *regs,
		 const struct arch_vregs *vr)
{
	int err = 0;

	if (ai->op == ARCH_OP_LDR_LIT || ai->op == ARCH_OP_LDR_LIT_FP)
		err = load_literal(ai, regs, vr);
	if (err)
		return err;
	regs->pc = next_pc(ai, regs);
	regs->pstate &= ~PSTATE_BTYPE;
	if (ai->op == ARCH_OP_BLR || ai->op == ARCH_OP_BLR_PAC)
		regs->pstate |= BTYPE_CALL;
	return 0;
}
