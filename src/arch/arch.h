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
 * The core's hooks (core/dispatch.c, probe.c, jump.c), so that the trap path,
 * the modes and the patch protocol are written once:
 *
 *   arch_regs_set_pc, _flags      the pc to resume at; the flags register
 *   arch_trap_decode              a SIGTRAP: a probe's breakpoint (and its address),
 *                                 a trampoline's redirect trap, a single-step, other
 *   arch_trap_emulate             an emulated instruction performed in the trap handler
 *   arch_redirect                 the redirect trap: the registers the handler left
 *   arch_step_begin/_end,         single-step out of line (x86-64's trap flag; none
 *   arch_insn_(needs|can)_singlestep  on aarch64)
 *   arch_xol_make                 the out-of-line slot
 *   arch_insn_check_site          an instruction among its neighbours (ARCH_SITE_BEFORE,
 *                                 _AFTER bytes): aarch64's exclusive sequences
 *   arch_insn_reads_safe          a hit reads through arch/safe_read.h (the SIGSEGV hook)
 *   arch_emulate_reason,          the words of a probe's mode
 *   arch_xol_reason
 *   ARCH_XOL_REACH                how near a slot or trampoline must be ("±2 GiB")
 *   ARCH_PATCH_HEAD_LEN           what the breakpoint covers (1 byte; the 4-byte word);
 *   arch_breakpoint_bytes,        the rest of the ARCH_JMP_LEN bytes of the jump is its
 *   arch_jump_bytes               tail (4 bytes on x86-64, none on aarch64)
 *   arch_tramp_begin/_finish,     a probe's trampoline (struct arch_tramp_req)
 *   arch_tramp_entry
 *   arch_text_sync                written text made visible to instruction fetch
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

/* What a SIGTRAP is to the core (arch_trap_decode). */
enum arch_trap { ARCH_TRAP_OTHER, ARCH_TRAP_BREAKPOINT, ARCH_TRAP_REDIRECT, ARCH_TRAP_STEP };

struct arch_window;

/*
 * A trampoline for the probe at addr whose window is planned (arch_window_plan):
 * arch_tramp_begin() says how many bytes to allocate, where ([lo, hi]), and may
 * write code; arch_tramp_finish() completes code for the trampoline's address.
 */
struct arch_tramp_req {
	struct arch_window *win; /* its copy offsets are filled */
	uint64_t addr;
	void *rec;	  /* the dispatch function's argument */
	bool simd;	  /* the handler may use SIMD registers */
	bool at_entry;	  /* a function's first instruction */
	bool entry_full;  /* UPROBE_ENTRY_PATH=full */
	bool no_flags;	  /* UPROBE_F_HANDLER_NO_FLAGS */
	bool count;	  /* the record's first consumer asked for the count stub */
	bool fence;	  /* srcu readers fence themselves (no membarrier): no inline lean entry */
	bool no_inline;	  /* UPROBE_INLINE=off: the lean stub, not the inline entry */
	int32_t self_tls;   /* %fs offsets of srcu_tls.self and ret_cur_cookie (initial-exec) */
	int32_t cookie_tls;
	bool lean;	  /* out: the lean entry trampoline */
	bool count_stub;  /* out: the count stub (TRAMP_KIND_COUNT, core's count_slot) */
	int off;	  /* the arch's own: where the copy starts */
	int entry_off;	  /* out: where the jump enters the trampoline, 0: the arch's default */
	bool inline_body; /* out: the lean fast path is in the trampoline itself */
};

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
