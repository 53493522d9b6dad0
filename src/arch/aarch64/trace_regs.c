/* SPDX-License-Identifier: MIT */
/*
 * aarch64's registers in the trace grammar (arch/arch.h): the kernel's arm64
 * names (regs_query_register_offset): %x0..%x30, %sp, %pc, %pstate. enum
 * trace_reg is here the word index in struct uprobe_regs.
 */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"

const struct arch_trace_reg arch_trace_regs[TRACE_R_COUNT] = {
	[TRACE_R_X0] = { "x0", "x0", 0 },
	[TRACE_R_X1] = { "x1", "x1", 1 },
	[TRACE_R_X2] = { "x2", "x2", 2 },
	[TRACE_R_X3] = { "x3", "x3", 3 },
	[TRACE_R_X4] = { "x4", "x4", 4 },
	[TRACE_R_X5] = { "x5", "x5", 5 },
	[TRACE_R_X6] = { "x6", "x6", 6 },
	[TRACE_R_X7] = { "x7", "x7", 7 },
	[TRACE_R_X8] = { "x8", "x8", 8 },
	[TRACE_R_X9] = { "x9", "x9", 9 },
	[TRACE_R_X10] = { "x10", "x10", 10 },
	[TRACE_R_X11] = { "x11", "x11", 11 },
	[TRACE_R_X12] = { "x12", "x12", 12 },
	[TRACE_R_X13] = { "x13", "x13", 13 },
	[TRACE_R_X14] = { "x14", "x14", 14 },
	[TRACE_R_X15] = { "x15", "x15", 15 },
	[TRACE_R_X16] = { "x16", "x16", 16 },
	[TRACE_R_X17] = { "x17", "x17", 17 },
	[TRACE_R_X18] = { "x18", "x18", 18 },
	[TRACE_R_X19] = { "x19", "x19", 19 },
	[TRACE_R_X20] = { "x20", "x20", 20 },
	[TRACE_R_X21] = { "x21", "x21", 21 },
	[TRACE_R_X22] = { "x22", "x22", 22 },
	[TRACE_R_X23] = { "x23", "x23", 23 },
	[TRACE_R_X24] = { "x24", "x24", 24 },
	[TRACE_R_X25] = { "x25", "x25", 25 },
	[TRACE_R_X26] = { "x26", "x26", 26 },
	[TRACE_R_X27] = { "x27", "x27", 27 },
	[TRACE_R_X28] = { "x28", "x28", 28 },
	[TRACE_R_X29] = { "x29", "x29", 29 },
	[TRACE_R_X30] = { "x30", "x30", 30 },
	[TRACE_R_SP] = { "sp", "sp", 31 },
	[TRACE_R_PC] = { "pc", "pc", 32 },
	[TRACE_R_PSTATE] = { "pstate", "pstate", 33 },
};

_Static_assert(sizeof(struct uprobe_regs) == 34 * 8, "struct uprobe_regs: x0-x30 sp pc pstate");

const enum trace_reg arch_arg_regs[ARCH_ARG_REGS] = {
	TRACE_R_X0, TRACE_R_X1, TRACE_R_X2, TRACE_R_X3,
	TRACE_R_X4, TRACE_R_X5, TRACE_R_X6, TRACE_R_X7,
};

/* arm64 pt_regs has orig_x0 and syscallno, which a user probe does not see. */
const char *const arch_kernel_only_regs[] = { "orig_x0", "syscallno", NULL };

/* DWARF for the Arm 64-bit architecture: 0-30 x0-x30, 31 sp (64-95 are v0-v31). */
int arch_dwarf_trace_reg(unsigned int regno, enum trace_reg *out)
{
	if (regno > 31)
		return -ENOTSUP;
	*out = regno == 31 ? TRACE_R_SP : (enum trace_reg)regno;
	return 0;
}

int arch_trace_reg_by_name(const char *name)
{
	for (int i = 0; i < TRACE_R_COUNT; i++)
		if (!strcmp(name, arch_trace_regs[i].name))
			return i;
	return -1;
}
