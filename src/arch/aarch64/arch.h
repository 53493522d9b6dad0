/* SPDX-License-Identifier: MIT */
/* aarch64's side of the arch interface (arch/arch.h says what each name means). */
#ifndef UPROBES_ARCH_A64_ARCH_H
#define UPROBES_ARCH_A64_ARCH_H

#include <elf.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <ucontext.h>

#include "uprobes.h"
#include "arch/aarch64/insn.h"
#include "arch/aarch64/jump.h"
#include "arch/aarch64/raw_syscall.h"
#include "arch/aarch64/regs.h"
#include "arch/aarch64/trampoline.h"
#include "arch/safe_read.h"

#define ARCH_NAME "aarch64"
/* The ELF files this build probes: e_machine, and its name in messages. */
#define ARCH_ELF_MACHINE EM_AARCH64
#define ARCH_ELF_DESC "aarch64"
/* AAPCS64: x0..x7; then the stack, from sp at the entry (no return address there). */
#define ARCH_ARG_REGS 8
#define ARCH_STACK_ARG_SLOT(n) ((n) - ARCH_ARG_REGS - 1)
#define ARCH_TRACE_R_RETVAL TRACE_R_X0
#define ARCH_TRACE_R_PC TRACE_R_PC
#define ARCH_TRACE_R_FLAGS TRACE_R_PSTATE

static inline uint64_t arch_regs_pc(const struct uprobe_regs *r)
{
	return r->pc;
}

static inline uint64_t arch_regs_sp(const struct uprobe_regs *r)
{
	return r->sp;
}

static inline uint64_t arch_regs_retval(const struct uprobe_regs *r)
{
	return r->x[0];
}

/* Integer argument i (0-based, i < ARCH_ARG_REGS) at the function's entry. */
static inline uint64_t arch_regs_arg(const struct uprobe_regs *r, unsigned int i)
{
	return r->x[i & 7];
}

/* Integer arguments 1..ARCH_ARG_REGS at the function's entry, into args[0..]. */
static inline void arch_regs_args(const struct uprobe_regs *r, uint64_t *args)
{
	for (unsigned int i = 0; i < ARCH_ARG_REGS; i++)
		args[i] = r->x[i];
}

static inline void arch_regs_set_pc_sp(struct uprobe_regs *r, uint64_t pc, uint64_t sp)
{
	r->pc = pc;
	r->sp = sp;
}

/*
 * The generic timer's virtual counter (cntvct_el0, readable at EL0 on Linux), and
 * the same ordered with the loads around it (isb on both sides).
 * ARCH_TICKS_CLOCKSOURCE: the kernel's name of that counter as a clocksource.
 */
#define ARCH_TICKS_CLOCKSOURCE "arch_sys_counter"

static inline uint64_t arch_ticks(void)
{
	uint64_t v;

	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v;
}

static inline uint64_t arch_ticks_fenced(void)
{
	uint64_t v;

	__asm__ volatile("isb; mrs %0, cntvct_el0; isb" : "=r"(v) : : "memory");
	return v;
}

/*
 * arch_ticks() and the cpu the thread runs on (getcpu: aarch64 has no counter that
 * names the cpu; the thread may move between the two reads, as on x86 after rdtscp).
 */
static inline uint64_t arch_ticks_cpu(uint32_t *cpu)
{
	unsigned int c = 0;

	raw_syscall6(SYS_getcpu, (long)&c, 0, 0, 0, 0, 0);
	*cpu = c;
	return arch_ticks();
}

/* In a spin loop: a hint to the core (yield). */
static inline void arch_cpu_relax(void)
{
	__asm__ volatile("yield" ::: "memory");
}

static inline uint64_t arch_uc_pc(const ucontext_t *uc)
{
	return uc->uc_mcontext.pc;
}

static inline void arch_uc_set_pc(ucontext_t *uc, uint64_t pc)
{
	uc->uc_mcontext.pc = pc;
}

#endif
