/* SPDX-License-Identifier: MIT */
/*
 * The arch interface: what the generic layers (core, ubp, xol, trace, lang, stack,
 * agent) include instead of an architecture's own headers. The compiler's target
 * picks the layer (src/arch/x86_64/ or src/arch/aarch64/); each provides arch.h
 * with the same names:
 *
 *   ARCH_NAME                     "x86_64", "aarch64"
 *   ARCH_ELF_MACHINE, _DESC       the ELF e_machine probed (EM_X86_64, ...), its name
 *   ARCH_ARG_REGS                 integer arguments passed in registers (6, 8)
 *   ARCH_STACK_ARG_SLOT(n)        8-byte slot above sp at the function's entry that
 *                                 holds integer argument n > ARCH_ARG_REGS (1-based)
 *   ARCH_TRACE_R_RETVAL, _PC      the registers of $retval and of the probed address
 *   ARCH_TRACE_R_FLAGS            the flags register (what UPROBE_F_HANDLER_NO_FLAGS spares)
 *   arch_regs_pc/sp/retval/arg    struct uprobe_regs read by meaning, not by name;
 *   arch_regs_args                the ARCH_ARG_REGS argument registers at once
 *   arch_regs_set_pc_sp           (a frame that did not return: where and which sp)
 *   arch_uc_pc/arch_uc_set_pc     the same in a signal frame (ucontext_t)
 *   arch_ticks, arch_ticks_fenced the cycle counter (rdtsc, cntvct_el0), and its
 *   ARCH_TICKS_CLOCKSOURCE        name as the kernel's clocksource ("tsc", ...)
 *   arch_ticks_cpu                the counter and the cpu (rdtscp; getcpu)
 *   raw_syscall6                  a system call without libc
 *   arch_cpu_relax                a spin loop's pause
 *
 * and the headers of its instruction analysis, trampolines and signal frame, and the
 * register tables below (trace_regs.c), which the trace grammar, the fetch-arg
 * compiler, DWARF locations and the kernel backend's translation read.
 */
#ifndef UPROBES_ARCH_ARCH_H
#define UPROBES_ARCH_ARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "uprobes_trace.h"

#if defined(__aarch64__)
#include "arch/aarch64/arch.h"
#elif defined(__x86_64__)
#include "arch/x86_64/arch.h"
#else
#error "uprobes: no arch layer for this target (src/arch/ has x86_64 and aarch64)"
#endif

/* One register of the trace grammar (%NAME), in enum trace_reg order. */
struct arch_trace_reg {
	const char *name;  /* as written after %: "di", "x0" */
	const char *kname; /* the kernel's uprobe_events name (the same on aarch64) */
	uint8_t word;	   /* its 64-bit word in struct uprobe_regs */
};

extern const struct arch_trace_reg arch_trace_regs[TRACE_R_COUNT];

/* Integer arguments 1..ARCH_ARG_REGS: their registers. */
extern const enum trace_reg arch_arg_regs[ARCH_ARG_REGS];

/* Register names of the kernel's pt_regs that a user probe cannot read, NULL-ended. */
extern const char *const arch_kernel_only_regs[];

/* DWARF register regno as a trace register: 0, or -ENOTSUP (vector, x87, ...). */
int arch_dwarf_trace_reg(unsigned int regno, enum trace_reg *out);

/* The register named name (without %), or -1. */
int arch_trace_reg_by_name(const char *name);

#endif
