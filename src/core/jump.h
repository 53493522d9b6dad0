/* SPDX-License-Identifier: MIT */
/* Jump-optimized probes: deciding, building and installing. Callers hold registry_lock. */
#ifndef UPROBES_CORE_JUMP_H
#define UPROBES_CORE_JUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "core/resolve.h"

/* The optimized record (installed or pending) whose jump covers addr, other than at addr. */
struct probe_rec *jump_covering(uint64_t addr);

/* Can rec (its flags set) be jump-optimized? Fills rec->win, or rec->opt_reason. */
bool jump_plan(struct probe_rec *rec, const struct probe_target *t);

/* The function around t as jump_plan reads it, up to max bytes (malloc'd), or NULL. */
uint8_t *jump_read_function(const struct probe_target *t, size_t max, size_t *len);

/*
 * How probes at a function entry are optimized, from UPROBE_ENTRY_PATH (read at
 * each attach): "lean" or unset, the lean trampoline (rflags neither saved nor
 * restored); "full", the trampoline that saves rflags for the handler (for
 * side-by-side measurement); "lean-strict", lean, and an entry probe that
 * cannot be jump-optimized is refused instead of taking the breakpoint (for
 * running the tests with the fallback off).
 */
enum jump_entry_path { JUMP_ENTRY_LEAN, JUMP_ENTRY_FULL, JUMP_ENTRY_STRICT };
enum jump_entry_path jump_entry_path(void);

/*
 * UPROBE_INLINE=off (a test switch, read at each trampoline's build): no
 * inline fast path; function entries take the lean stub and its shared body,
 * the exits of a ret the EXIT template and its C side (retpatch_exit).
 */
bool jump_inline_off(void);

/* A thread-local's offset from the thread pointer (initial-exec: the same in every thread). */
int32_t jump_tls_off(const void *p);

/* Plan and build the trampoline; on success rec is in UPROBE_MODE_OPTIMIZED. */
bool jump_build(struct probe_rec *rec, const struct probe_target *t);

/*
 * Move rec one patch step (REC_* in core.h) to `to`: 0 once its bytes are in
 * the text, else -errno with a message, rec->installed still true to the text.
 */
int rec_patch(struct probe_rec *rec, int to);

/*
 * rec_patch(to) for every record of recs (distinct) in state `from`, those
 * on one page in one write; the first error in *err.
 */
size_t recs_patch(struct probe_rec **recs, size_t n, int from, int to, int *err);

/* int3 is at every head and synchronised: quiesce, write the tails, then the heads. */
void jump_install(struct probe_rec **recs, size_t n);

#endif
