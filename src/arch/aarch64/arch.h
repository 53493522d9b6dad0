/* SPDX-License-Identifier: MIT */
/* aarch64's side of the arch interface (arch/arch.h says what each name means). */
#ifndef UPROBES_ARCH_A64_ARCH_H
#define UPROBES_ARCH_A64_ARCH_H

#include <elf.h>
#include <errno.h>
#include <signal.h>
#include <stddef.h>
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

static inline void arch_regs_set_pc(struct uprobe_regs *r, uint64_t pc)
{
	r->pc = pc;
}

/* The flags register (NZCV in pstate). */
static inline uint64_t arch_regs_flags(const struct uprobe_regs *r)
{
	return r->pstate;
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

/* The core's hooks (src/core/dispatch.c, probe.c, jump.c): see arch/arch.h. */

/* Where an out-of-line slot or a trampoline must lie, for messages. */
#define ARCH_XOL_REACH "±128 MiB"

/* A SIGTRAP: brk #0x5a1 at pc (the probe's address), a trampoline's redirect brk. */
static inline enum arch_trap arch_trap_decode(const siginfo_t *si, const ucontext_t *uc,
					      uint64_t *addr)
{
	uint64_t pc = uc->uc_mcontext.pc;

	uint32_t w;

	if (si->si_code != TRAP_BRKPT || (pc & 3))
		return ARCH_TRAP_OTHER;
	w = *(const volatile uint32_t *)(uintptr_t)pc;
	if (w == ARCH_BRK_REDIRECT)
		return ARCH_TRAP_REDIRECT;
	/* another brk (__builtin_trap's #0x3e8, a debugger's #0) is the program's */
	if ((w & 0xffe0001fu) == 0xd4200000u && w != ARCH_BREAKPOINT)
		return ARCH_TRAP_OTHER;
	/* ours, or the original word back already (a trap racing a removal: replayed) */
	*addr = pc;
	return ARCH_TRAP_BREAKPOINT;
}

/*
 * The instruction would have faulted (a literal that cannot be read): the thread
 * takes SIGSEGV at the probed instruction once the trap handler returns (pending
 * meanwhile: blocked here, unblocked by the frame's mask at sigreturn, as the
 * kernel forces a fault's signal).
 */
static inline void arch_deliver_fault(ucontext_t *uc)
{
	uint64_t segv = 1ull << (SIGSEGV - 1);

	raw_syscall6(SYS_rt_sigprocmask, SIG_BLOCK, (long)&segv, 0, 8, 0, 0);
	((uint64_t *)&uc->uc_sigmask)[0] &= ~segv;
	raw_syscall6(SYS_tgkill, raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0),
		     raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0), SIGSEGV, 0, 0, 0);
}

/* Perform ai on regs in the trap handler (the SIMD literals in uc's records). */
static inline void arch_trap_emulate(const struct arch_insn *ai, struct uprobe_regs *regs,
				     ucontext_t *uc)
{
	struct arch_vregs vr;

	regs_vregs(uc, &vr);
	if (arch_emulate(ai, regs, &vr) == -EFAULT)
		arch_deliver_fault(uc);
}

/* The trampoline's redirect brk: the frame's registers, the instruction executed. */
static inline void arch_redirect(ucontext_t *uc, const struct arch_window *w, uint64_t addr,
				 uint64_t copy)
{
	(void)w, (void)addr, (void)copy; /* the trampoline's own data says it all */
	if (arch_jump_redirect(uc) == -EFAULT)
		arch_deliver_fault(uc);
}

/* No single-step on aarch64: every instruction is emulated or runs out of line. */
static inline bool arch_insn_needs_singlestep(const struct arch_insn *ai)
{
	(void)ai;
	return false;
}

static inline bool arch_insn_can_singlestep(const struct arch_insn *ai)
{
	(void)ai;
	return false;
}

static inline bool arch_step_trap(const siginfo_t *si)
{
	(void)si;
	return false;
}

static inline uint64_t arch_step_begin(struct uprobe_regs *regs, uint64_t slot)
{
	regs->pc = slot;
	return 0;
}

static inline bool arch_step_end(const struct arch_insn *ai, uint64_t slot, uint64_t tf,
				 struct uprobe_regs *regs)
{
	(void)ai, (void)slot, (void)tf, (void)regs;
	return true;
}

/* The out-of-line slot (no single-step variant). */
static inline int arch_xol_make(const struct arch_insn *ai, uint64_t slot, bool singlestep,
				uint8_t *out)
{
	int len = arch_xol_build(ai, slot, out);

	(void)singlestep;
	return len == -EINVAL ? -ENOTSUP : len; /* -EINVAL: a PC-relative class, emulated */
}

/*
 * Can the instruction at code[off] (address base + off) be probed among its
 * neighbours (ARCH_SITE_BEFORE bytes before it, _AFTER after it, at most)? Not
 * inside an exclusive sequence: -ENOTSUP, why names the load-exclusive.
 */
#define ARCH_SITE_BEFORE 64
#define ARCH_SITE_AFTER 64

static inline int arch_insn_check_site(const uint8_t *code, size_t len, size_t off,
				       uint64_t base, char *why, size_t whylen)
{
	return arch_insn_in_exclusive(code, len, off, base, why, whylen) ? -ENOTSUP : 0;
}

/*
 * Does a hit read memory through the fault-safe loads (arch/safe_read.h), so
 * that the SIGSEGV hook must be installed? The literal loads (emulated).
 */
static inline bool arch_insn_reads_safe(const struct arch_insn *ai)
{
	return ai->op == ARCH_OP_LDR_LIT || ai->op == ARCH_OP_LDR_LIT_FP;
}

/* The patch: one 4-byte word, brk or b; nothing behind it. */
#define ARCH_PATCH_HEAD_LEN 4

static inline void arch_breakpoint_bytes(uint8_t *out)
{
	uint32_t w = ARCH_BREAKPOINT;

	__builtin_memcpy(out, &w, 4);
}

/* The b at addr to the trampoline at tramp; false when out of reach. */
static inline bool arch_jump_bytes(uint64_t addr, uint64_t tramp, uint8_t *out)
{
	uint32_t w = arch_jump_insn(addr, tramp);

	__builtin_memcpy(out, &w, 4);
	return w != 0;
}

/*
 * Make text written at [addr, addr + len) visible to instruction fetch: cache
 * maintenance (dc cvau, ic ivau, dsb ish, isb), and, for qemu-user, whose
 * translations of a page are dropped only when the page's protection gains
 * PROT_WRITE (a write through /proc/self/mem goes unseen, and the old
 * instruction would keep running), the page made writable and back to r-x
 * (text.c: raw system calls). Not in signal context.
 */
void arch_text_sync(uint64_t addr, size_t len);

/*
 * The unwinder (stack/unwind.c): no CFI tables for aarch64 yet (stack/cfi_table.c
 * compiles x86-64 rules; an aarch64 .eh_frame is not read): frame records only,
 * x29 -> [the caller's x29][x30]. At a function's entry the return address is
 * in x30 and the caller's sp is sp. Stored return addresses carry a PAC
 * signature in their upper bits (paciasp): stripped.
 */
#define ARCH_UNWIND_CFI 0
#define ARCH_DW_FP 29
#define ARCH_DW_SP 31
#define ARCH_ENTRY_CFA_OFF 0

static inline uint64_t arch_regs_fp(const struct uprobe_regs *r)
{
	return r->x[29];
}

static inline uint64_t arch_regs_entry_ra(const struct uprobe_regs *r)
{
	return r->x[30];
}

/* The PAC bits off (48-bit user addresses; no tagged code pointers). */
static inline uint64_t arch_ra_strip(uint64_t ra)
{
	return ra & ((1ull << 48) - 1);
}

static inline int arch_dwarf_reg_word(unsigned int n)
{
	return n <= 31 ? (int)n : -1; /* x0..x30, sp: the words of struct uprobe_regs */
}

static inline int arch_uc_dwarf_off(unsigned int n)
{
	if (n <= 30)
		return (int)(offsetof(ucontext_t, uc_mcontext.regs) + 8 * n);
	return n == 31 ? (int)offsetof(ucontext_t, uc_mcontext.sp) : -1;
}

#define ARCH_UC_PC_OFF offsetof(ucontext_t, uc_mcontext.pc)

/* The stack walk's loads (x86-64 has them inline): the routines of safe_read.S. */
static inline struct safe_word safe_load8_inline(uint64_t addr)
{
	return uprobes_safe_load8(addr);
}

static inline struct safe_word safe_load16_inline(uint64_t addr)
{
	return uprobes_safe_load16(addr);
}

#endif
