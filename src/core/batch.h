/* SPDX-License-Identifier: MIT */
/*
 * uprobe_attach_many() for the library's own batch callers (trace/session's
 * trace_event_attach_many): what differs from probe to probe beyond struct
 * uprobe_spec, and each failure reported as it happens, message and all.
 */
#ifndef UPROBES_CORE_BATCH_H
#define UPROBES_CORE_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uprobes.h"

struct core_batch_each {
	/* Optional: skipped[i] (may be NULL) is spec i's uprobe_opts.skipped_counter. */
	uint64_t *const *skipped;
	/* Optional: skipped_too[i] (may be NULL) counts spec i's skipped hits as well. */
	uint64_t *const *skipped_too;
	/*
	 * Optional: called once per spec that fails, in order, while
	 * uprobe_last_error() is its message. Called with the registry locked:
	 * it must not attach or detach.
	 */
	void (*on_error)(size_t i, int err, void *ctx);
	void *ctx;
};

/*
 * The calling thread's hits are the library's own (the agent's thread, its
 * work in a program's thread), not the program's: while on, they run no
 * handler and count nothing, not even as skipped. Its srcu slot and the count
 * stub's base are set aside (both NULL: every hit takes the C path, whose
 * srcu_read_lock_first finds the thread quiet and makes the section nested);
 * no section is held, so a detach does not wait for a quiet thread. Calls
 * do not nest (a second on is a no-op); not in signal context.
 */
void core_quiet(bool on);

/* uprobe_attach_many() with each (NULL: as uprobe_attach_many). */
int core_attach_many(const struct uprobe_spec *specs, size_t n, struct uprobe **probes,
		     const struct uprobe_batch_opts *opts, const struct core_batch_each *each);

/*
 * Where path:location is (uprobe_analyze()'s addr and file_offset), without
 * analysing the instruction there: attaching does that. 0 or -errno with a
 * message, as uprobe_analyze.
 */
/* uprobe_get_info(p).mode alone (no disassembly, no copies): for a status per probe. */
enum uprobe_mode core_probe_mode(const struct uprobe *p);

/*
 * uprobe_get_info(p)'s ret_path, ret_site_ok and ret_reason alone
 * (UPROBE_RET_NONE for a probe without a return handler); why points into p.
 */
enum uprobe_ret_path core_probe_ret_path(const struct uprobe *p, bool *site_ok, const char **why);

int core_locate(const char *path, const char *location, unsigned int flags, uint64_t *addr,
		uint64_t *file_offset);

#endif
