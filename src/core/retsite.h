/* SPDX-License-Identifier: MIT */
/*
 * Return sites per probe (issue 18): can a return probe at this function
 * entry catch its returns where they happen (the function's exits patched)
 * instead of swapping the return address (retprobe.c, the fallback)?
 * The decoding is the arch layer's (arch/x86_64/retsite.h); this layer reads
 * the function's bytes, says what a jump target is from the file's symbols,
 * and words the verdict for uprobe_info.
 */
#ifndef UPROBES_CORE_RETSITE_H
#define UPROBES_CORE_RETSITE_H

#include <stddef.h>

#include "arch/x86_64/retsite.h"
#include "core/resolve.h"

/*
 * Analyse the function that starts at t->addr (t->func_start, t->func_size).
 * 0 when every exit can be patched (rs->exit[] has them), -ENOTSUP with
 * rs->why when not (also when its extent or symbols are unknown), -ENOMEM.
 * Caller holds registry_lock (the text is read with our breakpoints undone).
 */
int retsite_check(const struct probe_target *t, struct arch_retsites *rs);

/* "3 return sites: 2 ret, 1 tail jump; 1 no-return call" of an eligible rs. */
void retsite_summary(const struct arch_retsites *rs, char *buf, size_t len);

/*
 * The path a return probe at t would use, in v (uprobe_analyze): return
 * sites when eligible and UPROBE_RET_PATH is not "hijack", the reason either
 * way. entry_why: why the entry would not be jump-optimized, NULL if it
 * would (a ret under its jump is patched in its trampoline only then). An
 * attach decides with retpatch_prepare() (it may still fall back). Caller
 * holds registry_lock.
 */
void retsite_decide(const struct probe_target *t, const char *entry_why,
		    struct retsite_verdict *v);

/* The refusal of a ret under the entry's jump (+off) when the entry is not jump-optimized. */
void retsite_in_entry_why(char *buf, size_t len, uint64_t off, const char *entry_why);

/* Does the function named name (NAME, NAME@plt, NAME@VERSION) never return? */
bool retsite_noreturn_name(const char *name);

#endif
