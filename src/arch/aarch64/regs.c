// SPDX-License-Identifier: MIT
#include <stddef.h>

#include "arch/aarch64/regs.h"

#define FPSIMD_RECORD_MAGIC 0x46508001u
#define SVE_RECORD_MAGIC 0x53564501u

/* The records of __reserved: {magic, size} headers, a zero magic ends them. */
struct frame_record {
	uint32_t magic;
	uint32_t size;
};

_Static_assert(offsetof(struct uprobe_regs, pc) == 32 * 8, "uprobe_regs layout");
_Static_assert(offsetof(struct arch_fpsimd, v) == 16, "fpsimd_context layout");

void regs_from_ucontext(struct uprobe_regs *regs, const ucontext_t *uc)
{
	for (unsigned i = 0; i < 31; i++)
		regs->x[i] = uc->uc_mcontext.regs[i];
	regs->sp = uc->uc_mcontext.sp;
	regs->pc = uc->uc_mcontext.pc;
	regs->pstate = uc->uc_mcontext.pstate;
}

void regs_to_ucontext(const struct uprobe_regs *regs, ucontext_t *uc)
{
	for (unsigned i = 0; i < 31; i++)
		uc->uc_mcontext.regs[i] = regs->x[i];
	uc->uc_mcontext.sp = regs->sp;
	uc->uc_mcontext.pc = regs->pc;
	uc->uc_mcontext.pstate = regs->pstate;
}

/* struct sve_context: header, vl, flags, then the registers at offset 16. */
struct sve_record {
	uint32_t magic, size;
	uint16_t vl, flags, reserved[2];
};

/* Bytes of a live SVE record: Z0-Z31, P0-P15 and FFR after the header. */
static uint32_t sve_live_size(unsigned vq)
{
	return 16 + 32 * vq * 16 + 17 * vq * 2;
}

static void note_record(struct arch_vregs *vr, struct frame_record *r)
{
	struct sve_record *sve = (struct sve_record *)r;

	if (r->magic == FPSIMD_RECORD_MAGIC && r->size >= sizeof(struct arch_fpsimd))
		vr->fpsimd = (struct arch_fpsimd *)r;
	if (r->magic == SVE_RECORD_MAGIC && sve->vl >= 16 && sve->vl % 16 == 0 &&
	    r->size >= sve_live_size(sve->vl / 16)) {
		vr->vq = sve->vl / 16;
		vr->sve_z = (uint8_t *)r + 16;
	}
}

void regs_vregs(ucontext_t *uc, struct arch_vregs *vr)
{
	uint8_t *p = (uint8_t *)uc->uc_mcontext.__reserved;
	uint8_t *end = p + sizeof(uc->uc_mcontext.__reserved);

	vr->fpsimd = NULL;
	vr->sve_z = NULL;
	vr->vq = 0;
	while (p + sizeof(struct frame_record) <= end) {
		struct frame_record *r = (struct frame_record *)p;

		if (!r->magic || r->size < sizeof(*r) || r->size > (size_t)(end - p))
			return;
		note_record(vr, r);
		p += r->size;
	}
}

void arch_vreg_write(const struct arch_vregs *vr, unsigned n, __uint128_t v)
{
	if (vr->fpsimd)
		vr->fpsimd->v[n] = v;
	if (vr->sve_z) {
		uint8_t *z = vr->sve_z + (size_t)n * vr->vq * 16;

		for (unsigned i = 0; i < vr->vq * 16; i++)
			z[i] = i < 16 ? (uint8_t)(v >> (8 * i)) : 0;
	}
}
