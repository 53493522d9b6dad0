/* SPDX-License-Identifier: MIT */
/*
 * Fault-safe reads of this process's memory (each arch's safe_read.S and
 * safe_fault.c; this contract is the same on x86-64 and aarch64): a bad address
 * returns -EFAULT instead of faulting, once SIGSEGV and SIGBUS are owned with
 * arch_safe_read_fault() as the handler's hook (ubp_fault_install). Users:
 * fetch-args (trace/fetch) and the stack unwinder (stack/).
 */
#ifndef UPROBES_ARCH_SAFE_READ_H
#define UPROBES_ARCH_SAFE_READ_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

/* size 1, 2, 4 or 8; *out zero-extended; 0 or -EFAULT. */
int uprobes_safe_load(uint64_t addr, unsigned int size, uint64_t *out);
/* 0 or -EFAULT (dst partly written). */
int uprobes_safe_copy(void *dst, uint64_t src, size_t len);
/* Length of the text before its NUL, at most max; or -EFAULT. */
long uprobes_safe_strnlen(uint64_t src, size_t max);

/* The word at addr (fault 0), or fault 1: one call a frame for stack walks. */
struct safe_word {
	uint64_t v, fault;
};
struct safe_word uprobes_safe_load8(uint64_t addr);
/* The words at addr (v) and addr + 8 (fault); after a fault, fault is 1. */
struct safe_word uprobes_safe_load16(uint64_t addr);

/*
 * A fault in one of the routines above: resume at their fixup (they return
 * -EFAULT) and return true; any other fault: false. For ubp_fault_install().
 */
bool arch_safe_read_fault(siginfo_t *si, ucontext_t *uc);

#endif
