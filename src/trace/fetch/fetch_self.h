/* SPDX-License-Identifier: MIT */
/*
 * The calling thread's identity and name (struct fetch_thread, fetch.h),
 * filled on first use, out of line (fetch_eval.c); signal-safe. Inline: the
 * hot path of every handler that reads pid or tid asks for it.
 */
#ifndef UPROBES_TRACE_FETCH_FETCH_SELF_H
#define UPROBES_TRACE_FETCH_FETCH_SELF_H

#include "trace/fetch/fetch.h"

extern __thread struct fetch_thread fetch_self_cache __attribute__((tls_model("initial-exec")));
struct fetch_thread *fetch_self_fill(void);

static inline struct fetch_thread *fetch_self(void)
{
	if (__builtin_expect(fetch_self_cache.tid != 0, 1))
		return &fetch_self_cache;
	return fetch_self_fill();
}

#endif
