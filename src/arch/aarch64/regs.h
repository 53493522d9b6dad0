/* SPDX-License-Identifier: MIT */
/* struct uprobe_regs and the SIMD&FP registers <-> the aarch64 signal frame. */
#ifndef UPROBES_ARCH_A64_REGS_H
#define UPROBES_ARCH_A64_REGS_H

#include <stdint.h>
#include <ucontext.h>

#include "arch/aarch64/insn.h"

/* Signal context: copy between the kernel's signal frame and uprobe_regs. */
void regs_from_ucontext(struct uprobe_regs *regs, const ucontext_t *uc);
void regs_to_ucontext(const struct uprobe_regs *regs, ucontext_t *uc);

/*
 * Signal context: where the frame keeps v0-v31 (the fpsimd record, the SVE
 * record's Z registers when live), for arch_emulate(). Writes through vr take
 * effect at sigreturn.
 */
void regs_vregs(ucontext_t *uc, struct arch_vregs *vr);

#endif
