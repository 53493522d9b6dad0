/* SPDX-License-Identifier: MIT */
/* x86-64's registers in the trace grammar (arch/arch.h): the kernel's pt_regs names. */
#include <errno.h>
#include <string.h>

#include "arch/arch.h"

#define W(field) ((uint8_t)REGS_IDX(field))

const struct arch_trace_reg arch_trace_regs[TRACE_R_COUNT] = {
	[TRACE_R_AX] = { "ax", "ax", W(rax) },	   [TRACE_R_BX] = { "bx", "bx", W(rbx) },
	[TRACE_R_CX] = { "cx", "cx", W(rcx) },	   [TRACE_R_DX] = { "dx", "dx", W(rdx) },
	[TRACE_R_SI] = { "si", "si", W(rsi) },	   [TRACE_R_DI] = { "di", "di", W(rdi) },
	[TRACE_R_BP] = { "bp", "bp", W(rbp) },	   [TRACE_R_SP] = { "sp", "sp", W(rsp) },
	[TRACE_R_R8] = { "r8", "r8", W(r8) },	   [TRACE_R_R9] = { "r9", "r9", W(r9) },
	[TRACE_R_R10] = { "r10", "r10", W(r10) },  [TRACE_R_R11] = { "r11", "r11", W(r11) },
	[TRACE_R_R12] = { "r12", "r12", W(r12) },  [TRACE_R_R13] = { "r13", "r13", W(r13) },
	[TRACE_R_R14] = { "r14", "r14", W(r14) },  [TRACE_R_R15] = { "r15", "r15", W(r15) },
	[TRACE_R_IP] = { "ip", "ip", W(rip) },	   [TRACE_R_FLAGS] = { "flags", "flags", W(rflags) },
};

const enum trace_reg arch_arg_regs[ARCH_ARG_REGS] = {
	TRACE_R_DI, TRACE_R_SI, TRACE_R_DX, TRACE_R_CX, TRACE_R_R8, TRACE_R_R9,
};

/* x86-64 pt_regs and 32-bit segments. */
const char *const arch_kernel_only_regs[] = {
	"orig_ax", "cs", "ss", "ds", "es", "fs", "gs", "fs_base", "gs_base", NULL,
};

/* DWARF register numbers of x86-64 (System V psABI, figure 3.36). */
static const enum trace_reg dw_regs[] = {
	TRACE_R_AX, TRACE_R_DX, TRACE_R_CX, TRACE_R_BX, TRACE_R_SI, TRACE_R_DI,
	TRACE_R_BP, TRACE_R_SP, TRACE_R_R8, TRACE_R_R9, TRACE_R_R10, TRACE_R_R11,
	TRACE_R_R12, TRACE_R_R13, TRACE_R_R14, TRACE_R_R15, TRACE_R_IP,
};

int arch_dwarf_trace_reg(unsigned int regno, enum trace_reg *out)
{
	if (regno >= sizeof(dw_regs) / sizeof(dw_regs[0]))
		return -ENOTSUP;
	*out = dw_regs[regno];
	return 0;
}

int arch_trace_reg_by_name(const char *name)
{
	for (int i = 0; i < TRACE_R_COUNT; i++)
		if (!strcmp(name, arch_trace_regs[i].name))
			return i;
	return -1;
}
