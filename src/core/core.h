/* SPDX-License-Identifier: MIT */
/*
 * Probe registry and dispatch.
 *
 * A probe_rec describes one probed address: the analysed instruction, how a
 * hit executes it, its out-of-line slot, and the list of consumers (struct
 * uprobe, one per attach). Records are immutable once published and never
 * freed, so the trap path can use any record it finds without a lock; a
 * change of instruction bytes or execution flags at an address publishes a
 * new record. Consumers are unlinked under registry_lock and freed only after
 * srcu_synchronize().
 */
#ifndef UPROBES_CORE_H
#define UPROBES_CORE_H

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "arch/arch.h"
#include "core/srcu.h"
#include "uprobes.h"

/*
 * The most bytes a patch covers: a jump's window ends with the instruction
 * holding the jump's last byte, which starts before it (x86-64: 4 + 15 = 19
 * bytes; a breakpoint covers ARCH_PATCH_HEAD_LEN).
 */
#define REC_ORIG_MAX (ARCH_JMP_LEN - 1 + ARCH_INSN_MAX)

struct probe_rec {
	/*
	 * What a jump-optimized hit reads (dispatch_entry_lean): one cache line.
	 * With thousands of probes (every function of a server) a hit's lines
	 * are rarely cached, and each line it touches is a miss.
	 */
	uint64_t addr;
	struct uprobe *consumers;  /* RCU list, written under registry_lock */
	int active;		   /* hits are handled; cleared after the int3 is gone */
	enum uprobe_mode mode;
	/*
	 * The count stub's switch (count_stub records; tramp_templates.S reads
	 * it at offset 24): the byte offset from a thread's count base of the
	 * word its hits add 1 to, while the record's only consumer has its count
	 * enabled (uprobe_count_enable); 0: every hit takes the handler's path.
	 * Written under registry_lock (rec_count_update).
	 */
	uint64_t count_slot;
	struct arch_insn insn;
	unsigned flags;		   /* execution flags every consumer shares */
	char reason[128];	   /* why that mode */
	uint64_t slot;		   /* out-of-line slot, 0 when emulated */
	/* jump optimization (mode UPROBE_MODE_OPTIMIZED) */
	struct arch_window win;
	uint64_t tramp;		   /* trampoline start */
	uint64_t copy;		   /* relocated window copy inside it */
	unsigned tramp_size;	   /* what xol_alloc gave it */
	bool at_entry;		   /* function entry: flags are dead, not restored */
	bool lean;		   /* its trampoline is the lean one (dispatch_entry_lean) */
	bool lean_inline;	   /* ... with the lean fast path in it (x86-64's LEAN_INLINE) */
	bool tramp_deferred;	   /* its trampoline waits in xol_defer_end() (registry_lock) */
	bool tramp_lost;	   /* ... which could not write it: never armed, never reused */
	bool count_want;	   /* its first consumer asked for the count stub */
	bool count_stub;	   /* its trampoline is the count stub (count_slot) */
	char opt_reason[128];	   /* why not optimized */
	/*
	 * The original bytes the patch covers: a jump's whole window, whose
	 * last instruction starts within the jump's first ARCH_JMP_LEN - 1
	 * bytes and may be ARCH_INSN_MAX long (x86-64: 19 bytes). Sized for one
	 * instruction, a 16- to 19-byte window (mov + a 13-byte lock or) wrote
	 * past it into orig_len, and into installed when the fields before it
	 * moved: tests/diff's fn modes failed from sequence 1855 on.
	 */
	uint8_t orig[REC_ORIG_MAX];
	uint8_t orig_len;
	int installed;		   /* REC_* patch state in the text (registry_lock) */
	int pending;		   /* taken by the batch being attached (registry_lock) */
	bool ret_exit;		   /* a return site of a return probe (core/retpatch.c) */
	uint64_t jmp_to;	   /* the jump's target when not tramp's code (ret_exit) */
};

/*
 * The text at a record (rec->installed), one step at a time. Every patch goes
 * in and out through a breakpoint at its head (ARCH_PATCH_HEAD_LEN bytes), so
 * that a thread arriving meanwhile traps instead of running half-written bytes.
 * x86-64 (int3 over the first byte, the jump's rel32 its tail):
 *
 *   xx xx xx xx xx   REC_CLEAN     the original instruction(s)
 *   cc xx xx xx xx   REC_INT3      breakpoint
 *   cc r0 r1 r2 r3   REC_JMP_TAIL  the jump's rel32 behind the breakpoint
 *   e9 r0 r1 r2 r3   REC_JMP       jump to the trampoline
 *
 * aarch64 (one word; nothing behind the breakpoint, REC_JMP_TAIL writes nothing):
 *
 *   <insn>           REC_CLEAN
 *   brk #0x5a1       REC_INT3, REC_JMP_TAIL
 *   b tramp          REC_JMP
 *
 * In every state but REC_CLEAN a hit is handled (the trap path resumes an
 * optimized record in its copy of the window).
 */
enum { REC_CLEAN = 0, REC_INT3 = 1, REC_JMP_TAIL = 2, REC_JMP = 3 };

/*
 * Hits of the first CORE_FAST_IDS threads (by srcu slot id) are counted in a
 * cache line each, with a plain increment: only that thread writes it. Others
 * use an atomic add on hits. A locked add on every hit cost more than the
 * rest of the trampoline.
 */
#define CORE_FAST_IDS 16

struct hit_line {
	uint64_t n;   /* entry handler calls */
	uint64_t ret; /* return handler calls */
} __attribute__((aligned(64)));

/* How a return probe catches its returns (core/retsite.c). */
struct retsite_verdict {
	uint8_t path;	 /* enum uprobe_ret_path */
	uint8_t ok;	 /* every exit of the function can be patched */
	uint32_t sites;	 /* exits with a window */
	char why[192];	 /* the exits, or why not */
};

struct uprobe {
	/* what a hit reads: one cache line (probe_new aligns it) */
	struct uprobe *next; /* in rec->consumers */
	struct hit_line *fast_hits; /* [CORE_FAST_IDS] */
	struct probe_rec *rec;
	uprobe_handler_fn handler;
	uprobe_ret_handler_fn ret_handler;
	void *ctx;
	unsigned flags;
	uint64_t id; /* unique for the process's life: shadow entries name it */
	bool attached;
	bool retired; /* counted into core_stats.retired_* */
	uint64_t hits, skipped, singlesteps;
	uint64_t ret_hits, ret_unwound, ret_missed; /* atomics */
	uint64_t *skipped_also; /* uprobe_opts.skipped_counter, or NULL */
	uint64_t count_off;	/* uprobe_count_enable's offset, 0: off (registry_lock) */
	/* where the probe is, for uprobe_get_info */
	char path[256];
	char symbol[128];
	uint64_t symbol_offset;
	uint64_t file_offset;
	struct retsite_verdict ret_site; /* return probes */
	/* core_batch_each.skipped_too: a second event's, whose returns a skip loses too */
	uint64_t *skipped_too;
};

extern pthread_mutex_t registry_lock;

/* A hit not recursed into (signal context): counted in c, and where the attacher asked. */
static inline void probe_count_skipped(struct uprobe *c)
{
	if (srcu_tls.quiet) /* the library's own hit (core_quiet): not the program's */
		return;
	__atomic_fetch_add(&c->skipped, 1, __ATOMIC_RELAXED);
	if (c->skipped_also)
		__atomic_fetch_add(c->skipped_also, 1, __ATOMIC_RELAXED);
	if (c->skipped_too)
		__atomic_fetch_add(c->skipped_too, 1, __ATOMIC_RELAXED);
}

/* Lock-free lookup (signal context): the current record for addr, or NULL. */
struct probe_rec *registry_lookup(uint64_t addr);

/* Mark rec as taken by the batch being attached; forget all at its end. registry_lock. */
void rec_set_pending(struct probe_rec *rec);
void recs_clear_pending(void);
/*
 * The batch's held trampolines were written (xol_defer_end), or lost: each
 * record the batch took that held one says so, also one no probe kept (its
 * return probe's set-up failed after rec_get), which a later batch may reuse.
 */
void recs_pending_settle(bool lost);

/* Publish rec as the record for rec->addr (replacing any). Caller holds registry_lock. */
int registry_publish(struct probe_rec *rec);

/*
 * Copy text from memory with the original byte in place of every int3 we
 * installed. Caller holds registry_lock and knows [addr, addr+len) is mapped.
 */
void registry_read_text(uint64_t addr, uint8_t *buf, size_t len);

/* Signal context: the SIGTRAP entry point of the core (see ubp_trap_fn). */
bool dispatch_trap(siginfo_t *si, ucontext_t *uc);

/* Called by every trampoline (tramp_dispatch_fn) but the lean ones. */
int dispatch_optimized(void *rec, struct uprobe_regs *regs);

/* Called by the lean trampolines at function entries (rflags not read). */
int dispatch_entry_lean(void *rec, struct uprobe_regs *regs);

/* uprobes_lean_body (x86-64) found the handler moved rip or rsp: rec's redirect follows. */
void dispatch_lean_redirect(void *rec);
/* ... and at a return probe's entry, read section held: the call followed, the hit counted. */
void dispatch_lean_ret_enter(void *rec, struct uprobe *c, struct uprobe_regs *regs, int id);

/* Called by trampolines that restore and redirect by themselves (aarch64). */
void dispatch_jump(void *rec, struct uprobe_regs *regs);

/* Process-wide counters. */
/* Per-probe counts, summed over probes. */
struct hit_sums {
	uint64_t hits, skipped, ret_hits, ret_unwound, ret_missed;
};

struct core_stats {
	uint64_t stale_traps, singlesteps; /* atomics, from the trap path */
	uint64_t threads_moved;		   /* atomic, from quiescence */
	uint64_t ret_orphaned;		   /* atomic: returns after the probe's detach */
	uint64_t ret_site_probes;	   /* return probes attached on the site path (registry_lock) */
	uint64_t ret_hijack_fallbacks;	   /* ... on the hijack though eligible or asked (registry_lock) */
	uint64_t probes_attached;	   /* registry_lock */
	struct hit_sums retired;	   /* of probes detached since (registry_lock) */
};

/* A probe's entry (ret = false) or return handler calls, over its per-thread lines. */
uint64_t probe_hits(const struct uprobe *p, bool ret);

/* Add p's counts to sums. */
void probe_sum(const struct uprobe *p, struct hit_sums *sums);

/* Sum the counts of the attached probes plus the retired ones. registry_lock. */
void registry_sum_hits(struct hit_sums *sums);
extern struct core_stats core_stats;

#endif
