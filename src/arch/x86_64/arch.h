/* SPDX-License-Identifier: MIT */
/* x86-64's side of the arch interface (arch/arch.h says what each name means). */
#ifndef UPROBES_ARCH_X86_64_ARCH_H
#define UPROBES_ARCH_X86_64_ARCH_H

#include <elf.h>
#include <stdint.h>
#include <ucontext.h>

#include "uprobes.h"
#include "arch/x86_64/insn.h"
#include "arch/x86_64/optimize.h"
#include "arch/x86_64/raw_syscall.h"
#include "arch/x86_64/regs.h"
#include "arch/x86_64/safe_read.h"
#include "arch/x86_64/trampoline.h"

#define ARCH_NAME "x86_64"
/* The ELF files this build probes: e_machine, and its name in messages. */
#define ARCH_ELF_MACHINE EM_X86_64
#define ARCH_ELF_DESC "x86-64"
/* System V: rdi, rsi, rdx, rcx, r8, r9; then the stack above the return address. */
#define ARCH_ARG_REGS 6
#define ARCH_STACK_ARG_SLOT(n) ((n) - ARCH_ARG_REGS)
#define ARCH_TRACE_R_RETVAL TRACE_R_AX
#define ARCH_TRACE_R_PC TRACE_R_IP
#define ARCH_TRACE_R_FLAGS TRACE_R_FLAGS

static inline uint64_t arch_regs_pc(const struct uprobe_regs *r)
{
	return r->rip;
}

static inline uint64_t arch_regs_sp(const struct uprobe_regs *r)
{
	return r->rsp;
}

static inline uint64_t arch_regs_retval(const struct uprobe_regs *r)
{
	return r->rax;
}

/* Integer argument i (0-based, i < ARCH_ARG_REGS) at the function's entry. */
static inline uint64_t arch_regs_arg(const struct uprobe_regs *r, unsigned int i)
{
	switch (i) {
	case 0: return r->rdi;
	case 1: return r->rsi;
	case 2: return r->rdx;
	case 3: return r->rcx;
	case 4: return r->r8;
	default: return r->r9;
	}
}

/* Integer arguments 1..ARCH_ARG_REGS at the function's entry, into args[0..]. */
static inline void arch_regs_args(const struct uprobe_regs *r, uint64_t *args)
{
	args[0] = r->rdi;
	args[1] = r->rsi;
	args[2] = r->rdx;
	args[3] = r->rcx;
	args[4] = r->r8;
	args[5] = r->r9;
}

static inline void arch_regs_set_pc_sp(struct uprobe_regs *r, uint64_t pc, uint64_t sp)
{
	r->rip = pc;
	r->rsp = sp;
}

/*
 * The cycle counter the hot paths stamp events with (rdtsc), and the same ordered
 * with the loads around it (lfence on both sides), for calibrations against
 * clock_gettime. ARCH_TICKS_CLOCKSOURCE: the kernel's name of that counter as a
 * clocksource.
 */
#define ARCH_TICKS_CLOCKSOURCE "tsc"

static inline uint64_t arch_ticks(void)
{
	uint32_t lo, hi;

	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return (uint64_t)hi << 32 | lo;
}

static inline uint64_t arch_ticks_fenced(void)
{
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
}

/* arch_ticks() and the cpu it was read on (rdtscp's TSC_AUX: Linux puts the cpu in its low 12 bits). */
static inline uint64_t arch_ticks_cpu(uint32_t *cpu)
{
	uint32_t lo, hi, aux;

	__asm__ volatile("rdtscp" : "=a"(lo), "=d"(hi), "=c"(aux));
	*cpu = aux & 0xfff;
	return (uint64_t)hi << 32 | lo;
}

/* In a spin loop: let the sibling hyperthread run. */
static inline void arch_cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static inline uint64_t arch_uc_pc(const ucontext_t *uc)
{
	return (uint64_t)uc->uc_mcontext.gregs[REG_RIP];
}

static inline void arch_uc_set_pc(ucontext_t *uc, uint64_t pc)
{
	uc->uc_mcontext.gregs[REG_RIP] = (greg_t)pc;
}

#endif
