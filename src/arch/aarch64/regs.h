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
 * Signal context: the frame's fpsimd_context (FPSIMD_MAGIC record in
 * __reserved), or NULL. Writes to it take effect at sigreturn.
 */
struct arch_fpsimd *regs_fpsimd(ucontext_t *uc);

#endif
