/* SPDX-License-Identifier: MIT */
/*
 * The analysis of a probe kept per file (the cache, util/cache.h), so that an
 * image whose probes were analysed before needs no instruction decoder: the
 * probed instruction (arch_insn_analyze) and its function's window plan
 * (arch_window_plan) are a pure function of the function's bytes and of where
 * the probe is in it. A memo holds those bytes, and is used only when they are
 * the bytes this process has mapped now (see jump_memo.c).
 *
 * Caller holds registry_lock (one memo slot per process).
 */
#ifndef UPROBES_CORE_JUMP_MEMO_H
#define UPROBES_CORE_JUMP_MEMO_H

#include <stddef.h>
#include <stdint.h>

#include "arch/arch.h"
#include "core/resolve.h"

/*
 * The probed instruction of t from its memo: 0 (ai filled, addresses this
 * process's), or -ENOENT (no memo, or one that does not hold t's bytes).
 */
int jump_memo_insn(const struct probe_target *t, struct arch_insn *ai);

/* ai was analysed (decoded) for t: kept until the window's plan is stored with it. */
void jump_memo_note_insn(const struct probe_target *t, const struct arch_insn *ai);

/*
 * arch_window_plan for t's function, whose bytes (as read now) are func[0..len),
 * then pad bytes of padding: from the memo when it holds exactly these bytes
 * and pad is 0, else decoded (and, pad 0, kept to be stored by
 * jump_memo_branches).
 */
int jump_memo_plan(const struct probe_target *t, const uint8_t *func, size_t len, size_t pad,
		   struct arch_window *w, char *why, size_t whylen);

/*
 * branches_into for t's window [lo, hi) planned by jump_memo_plan: the memo's
 * answer when it was stored for this mapping of this very file (dev, inode,
 * size, mtime, build-id: what keys the branch index), so that the index (libc:
 * 0.5 MB, its checksum read whole) is not mapped. A window found clear is
 * stored with its instruction (jump_memo_note_insn) and this answer.
 */
int jump_memo_branches(const struct probe_target *t, uint64_t lo, uint64_t hi, uint64_t *src,
		       uint64_t *target);

#endif
