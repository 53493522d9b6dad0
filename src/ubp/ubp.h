/* SPDX-License-Identifier: MIT */
/*
 * User breakpoints: writing this process's text (its private copy-on-write
 * pages only), synchronising the instruction stream of every core, and owning
 * SIGTRAP (the program's own SIGTRAP handler is chained behind ours).
 */
#ifndef UPROBES_UBP_H
#define UPROBES_UBP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <ucontext.h>

#include "uprobes.h"

/*
 * The real-time signal used for quiescence requests. Like SIGTRAP it is owned
 * by the library: the program's disposition is chained behind ours and it is
 * never blocked. It is UPROBE_QUIESCE_SIGNAL (SIGRTMAX) unless the environment
 * names another (UPROBE_QUIESCE_SIGNAL=N, SIGRTMIN..SIGRTMAX) or SIGRTMAX
 * cannot be had (valgrind keeps it): then the highest real-time signal below
 * it that can. Fixed by ubp_signal_install; ubp_quiesce_sig() reads it.
 */
#define UBP_QUIESCE_SIG_DEFAULT UPROBE_QUIESCE_SIGNAL
_Static_assert(UPROBE_QUIESCE_SIGNAL == _NSIG - 1, "the quiescence signal is SIGRTMAX");

/* The quiescence signal in use (UBP_QUIESCE_SIG_DEFAULT before the install). */
int ubp_quiesce_sig(void);

/*
 * Write len bytes at addr, whatever the page protection, through
 * /proc/self/mem (checked before every write, reopened when the program
 * closed or replaced it; mprotect when it cannot be had). The mapping stays
 * private: the file and other processes never change. Caller serialises
 * writers. Returns 0 once the bytes are in the text (read back), else
 * -errno.
 */
int ubp_text_write(uint64_t addr, const void *buf, size_t len);

/* One write of ubp_text_write_many(). */
struct ubp_patch {
	uint64_t addr;
	const uint8_t *bytes;
	uint32_t len;
	int err; /* out: 0 once the bytes are in the text, else -errno */
};

/*
 * Write n patches (in any order, none overlapping another) as ubp_text_write
 * would, but the patches that fall within one page in one write: the bytes
 * between them are read from the text and written back as they are, so
 * nothing else may write that text meanwhile (the caller serialises writers,
 * as for ubp_text_write). A run whose write fails is written again patch by
 * patch. Each patch's result in its err (read back, as ubp_text_write);
 * ubp_text_error() tells the last failure. Returns how many failed.
 */
size_t ubp_text_write_many(struct ubp_patch *p, size_t n);

/* Why the last ubp_text_write failed ("/proc/self/mem: ...; mprotect: ..."). */
const char *ubp_text_error(void);

/* Make every core of this process see the text written so far (serialise). */
void ubp_sync_cores(void);

/* Full memory barrier on every running thread (for srcu). 0, or -ENOSYS. */
int ubp_membarrier(void);

/*
 * The breakpoint handler: return true if the trap was ours (the context has
 * been updated), false to pass it to the program's own SIGTRAP disposition.
 * Called in signal context.
 */
typedef bool (*ubp_trap_fn)(siginfo_t *si, ucontext_t *uc);

/* Install our SIGTRAP handler (idempotent). Returns 0 or -errno. */
int ubp_signal_install(ubp_trap_fn fn);

/*
 * Take back each owned signal (SIGTRAP, the quiescence signal, and SIGSEGV,
 * SIGBUS once owned) whose handler the program replaced with the raw
 * rt_sigaction system call; its handler is chained behind ours. Not for
 * signal context. Returns the signals taken back, bit (sig - 1) each.
 */
uint64_t ubp_signal_reclaim(void);

/* Signal context: inspect (and change) another thread's interrupted context. */
typedef void (*ubp_fixup_fn)(ucontext_t *uc, void *arg);

/*
 * Run fn in every other running thread of the process, on its interrupted
 * context, and wait for all of them. Caller serialises. Returns 0 or -errno.
 */
int ubp_quiesce(ubp_fixup_fn fn, void *arg);

/* Signal context: was this SIGTRAP a quiescence request? (handled if so) */
bool ubp_quiesce_signal(siginfo_t *si, ucontext_t *uc);

/*
 * Own SIGSEGV and SIGBUS too (idempotent): fn sees every fault first and
 * returns true when it fixed the context (a fault-safe read), false to pass
 * the signal to the program's own disposition, exactly as for SIGTRAP.
 */
int ubp_fault_install(ubp_trap_fn fn);

/* Number of SIGTRAPs passed on to the program. */
uint64_t ubp_foreign_traps(void);

#endif
