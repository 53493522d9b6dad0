/* SPDX-License-Identifier: MIT */
/*
 * struct uprobe_regs as an array of 64-bit slots, and the mapping from the
 * hardware register numbers (Zydis and ucontext) onto it.
 */
#ifndef UPROBES_ARCH_REGS_H
#define UPROBES_ARCH_REGS_H

#include <stdint.h>
#include <ucontext.h>

#include <Zydis/Register.h>

#include "uprobes.h"

#include <stddef.h>

#define REGS_IDX(field) (offsetof(struct uprobe_regs, field) / sizeof(uint64_t))
#define REGS_NR (sizeof(struct uprobe_regs) / sizeof(uint64_t))

static inline uint64_t *regs_slot(struct uprobe_regs *regs, unsigned idx)
{
	return &((uint64_t *)regs)[idx];
}

/* Index into struct uprobe_regs of a 64-bit GPR, or -1. */
int regs_index(ZydisRegister reg);

/* Signal context: copy between the kernel's signal frame and uprobe_regs. */
void regs_from_ucontext(struct uprobe_regs *regs, const ucontext_t *uc);
void regs_to_ucontext(const struct uprobe_regs *regs, ucontext_t *uc);

#endif
