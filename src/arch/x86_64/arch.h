/* SPDX-License-Identifier: MIT */
/* x86-64's side of the arch interface (arch/arch.h says what each name means). */
#ifndef UPROBES_ARCH_X86_64_ARCH_H
#define UPROBES_ARCH_X86_64_ARCH_H

#include <elf.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
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

static inline void arch_regs_set_pc(struct uprobe_regs *r, uint64_t pc)
{
	r->rip = pc;
}

static inline uint64_t arch_regs_flags(const struct uprobe_regs *r)
{
	return r->rflags;
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

/* The core's hooks (src/core/dispatch.c, probe.c, jump.c): see arch/arch.h. */

/* Where an out-of-line slot or a trampoline must lie, for messages. */
#define ARCH_XOL_REACH "±2 GiB"
#define ARCH_FL_TF (1ull << 8)

/*
 * int3 traps with rip past it (SI_KERNEL); a single-step with TRAP_TRACE, or
 * with TRAP_BRKPT and the trap flag set: a #DB whose DR6 read back empty,
 * which the kernel reports as an icebp's. Seen in a KVM guest under load
 * (tests/threads, about one run in ten, each of ~10^6 steps): taken for
 * anything but a step, it killed the program with SIGTRAP. The core then
 * checks that a step of its own is in flight (else the program's trap).
 */
static inline enum arch_trap arch_trap_decode(const siginfo_t *si, const ucontext_t *uc,
					      uint64_t *addr)
{
	uint64_t at = (uint64_t)uc->uc_mcontext.gregs[REG_RIP] - 1;

	if (si->si_code == SI_KERNEL) {
		if (at == arch_redirect_trap_addr())
			return ARCH_TRAP_REDIRECT;
		*addr = at;
		return ARCH_TRAP_BREAKPOINT;
	}
	if (si->si_code == TRAP_TRACE ||
	    (si->si_code == TRAP_BRKPT && (uc->uc_mcontext.gregs[REG_EFL] & ARCH_FL_TF)))
		return ARCH_TRAP_STEP;
	return ARCH_TRAP_OTHER;
}

static inline void arch_trap_emulate(const struct arch_insn *ai, struct uprobe_regs *regs,
				     ucontext_t *uc)
{
	(void)uc;
	arch_emulate(ai, regs);
}

/*
 * The redirect trap: rsp points at the uprobe_regs the handler edited. An
 * address inside w's window (now a jump) maps to the same instruction of the
 * copy; w is NULL when the trap's record is not known.
 */
static inline void arch_redirect(ucontext_t *uc, const struct arch_window *w, uint64_t addr,
				 uint64_t copy)
{
	struct uprobe_regs regs = *(struct uprobe_regs *)uc->uc_mcontext.gregs[REG_RSP];

	if (w && regs.rip >= addr && regs.rip < addr + w->len)
		for (unsigned k = 0; k < w->n; k++)
			if (regs.rip == addr + w->orig_off[k]) {
				regs.rip = copy + w->copy_off[k];
				break;
			}
	regs_to_ucontext(&regs, uc);
}

/* Step the slot under the trap flag; returns the program's own trap flag. */
static inline uint64_t arch_step_begin(struct uprobe_regs *regs, uint64_t slot)
{
	uint64_t tf = regs->rflags & ARCH_FL_TF;

	regs->rflags |= ARCH_FL_TF;
	regs->rip = slot;
	return tf;
}

/* After the step: back to the original code; false when it must step again (rep). */
static inline bool arch_step_end(const struct arch_insn *ai, uint64_t slot, uint64_t tf,
				 struct uprobe_regs *regs)
{
	if (!arch_singlestep_fixup(ai, slot, tf, regs))
		return false;
	regs->rflags = (regs->rflags & ~ARCH_FL_TF) | tf;
	return true;
}

static inline int arch_xol_make(const struct arch_insn *ai, uint64_t slot, bool singlestep,
				uint8_t *out)
{
	return arch_xol_build(ai, slot, singlestep, out);
}

/* Every instruction can be probed whatever its neighbours: no context read. */
#define ARCH_SITE_BEFORE 0
#define ARCH_SITE_AFTER 0

static inline int arch_insn_check_site(const uint8_t *code, size_t len, size_t off,
				       uint64_t base, char *why, size_t whylen)
{
	(void)code, (void)len, (void)off, (void)base, (void)why, (void)whylen;
	return 0;
}

/* Does a hit read memory through the fault-safe loads? No: emulation reads none. */
static inline bool arch_insn_reads_safe(const struct arch_insn *ai)
{
	(void)ai;
	return false;
}

/* The patch: int3 over the first byte; the jump's rel32 is its tail. */
#define ARCH_PATCH_HEAD_LEN 1

static inline void arch_breakpoint_bytes(uint8_t *out)
{
	out[0] = ARCH_BREAKPOINT;
}

/* jmp rel32 at addr to tramp (xol_alloc placed it within reach). */
static inline bool arch_jump_bytes(uint64_t addr, uint64_t tramp, uint8_t *out)
{
	int32_t rel = (int32_t)(tramp - (addr + ARCH_JMP_LEN));

	out[0] = 0xe9;
	memcpy(out + 1, &rel, 4);
	return true;
}

/* The code after the trampoline's data words. */
static inline uint64_t arch_tramp_entry(uint64_t tramp)
{
	return tramp + TRAMP_DATA_WORDS * 8;
}

#define ARCH_TRAMP_BUF (TRAMP_MAX + ARCH_WINDOW_COPY_MAX)
#define ARCH_TRAMP_REGS_BELOW_SP TRAMP_REGS_BELOW_RSP

int arch_tramp_begin(struct arch_tramp_req *r, uint8_t *code, uint64_t *lo, uint64_t *hi,
		     const char **why);
int arch_tramp_finish(struct arch_tramp_req *r, uint8_t *code, uint64_t tramp, uint64_t *copy,
		      const char **why);

/* Instruction fetch sees stores to text (cross-modifying code: the core synchronises). */
static inline void arch_text_sync(uint64_t addr, size_t len)
{
	(void)addr, (void)len;
}

/* The words of a probe's mode (core/probe.c). */
const char *arch_emulate_reason(const struct arch_insn *ai);
void arch_xol_reason(const struct arch_insn *ai, bool emulable, char *why, size_t len);

/*
 * The unwinder (stack/unwind.c): CFI tables (stack/cfi_table.c) for this
 * architecture's .eh_frame; the frame pointer and the stack pointer as DWARF
 * registers; at a function's entry the return address on top of the stack
 * (the caller's CFA 8 above); return addresses stored as they are.
 */
#define ARCH_UNWIND_CFI 1
#define ARCH_DW_FP 6
#define ARCH_DW_SP 7
#define ARCH_ENTRY_CFA_OFF 8

static inline uint64_t arch_regs_fp(const struct uprobe_regs *r)
{
	return r->rbp;
}

/* At a function's entry: the return address if a register holds it, else 0 (memory). */
static inline uint64_t arch_regs_entry_ra(const struct uprobe_regs *r)
{
	(void)r;
	return 0;
}

static inline uint64_t arch_ra_strip(uint64_t ra)
{
	return ra;
}

/* DWARF register n (0-15): its word in struct uprobe_regs, or -1. */
static inline int arch_dwarf_reg_word(unsigned int n)
{
	static const uint8_t word[16] = { 10, 12, 11, 5, 13, 14, 4, 17, 9, 8, 7, 6, 3, 2, 1, 0 };

	return n < 16 ? word[n] : -1;
}

/* DWARF register n in a ucontext: its offset, or -1. */
static inline int arch_uc_dwarf_off(unsigned int n)
{
	static const uint8_t greg[16] = { REG_RAX, REG_RDX, REG_RCX, REG_RBX, REG_RSI, REG_RDI,
					  REG_RBP, REG_RSP, REG_R8,  REG_R9,  REG_R10, REG_R11,
					  REG_R12, REG_R13, REG_R14, REG_R15 };

	return n < 16 ? (int)(offsetof(ucontext_t, uc_mcontext.gregs) + 8 * greg[n]) : -1;
}

/* The pc's offset in a ucontext. */
#define ARCH_UC_PC_OFF (offsetof(ucontext_t, uc_mcontext.gregs) + 8 * REG_RIP)

#endif
