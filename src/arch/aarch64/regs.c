// SPDX-License-Identifier: MIT
#include <stddef.h>

#include "arch/aarch64/regs.h"

#define FPSIMD_RECORD_MAGIC 0x46508001u

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

struct arch_fpsimd *regs_fpsimd(ucontext_t *uc)
{
	uint8_t *p = (uint8_t *)uc->uc_mcontext.__reserved;
	uint8_t *end = p + sizeof(uc->uc_mcontext.__reserved);

	while (p + sizeof(struct frame_record) <= end) {
		struct frame_record *r = (struct frame_record *)p;

		if (r->magic == FPSIMD_RECORD_MAGIC && r->size >= sizeof(struct arch_fpsimd) &&
		    p + r->size <= end)
			return (struct arch_fpsimd *)p;
		if (!r->magic || r->size < sizeof(*r) || r->size > (size_t)(end - p))
			return NULL;
		p += r->size;
	}
	return NULL;
}
