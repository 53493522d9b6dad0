/* SPDX-License-Identifier: MIT */
/*
 * A thread's identity as the hot paths that claim per-thread resources keep
 * it (the rings' owners, the maps' shards): pid << 32 | tid, read with raw
 * system calls (no libc: these run in probe handlers, signal handlers
 * included), and whether the owner of such a token has exited. Inline: the
 * tests and benches link their own copies of ring.c and map_update.c.
 */
#ifndef UPROBES_UTIL_THREAD_TOKEN_H
#define UPROBES_UTIL_THREAD_TOKEN_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/syscall.h>

#include "arch/raw_syscall.h"

static inline long util_syscall3(long nr, long a, long b, long c)
{
	return raw_syscall6(nr, a, b, c, 0, 0, 0);
}

/* The calling thread's pid << 32 | tid (two system calls: callers cache it). */
static inline uint64_t util_thread_token(void)
{
	uint64_t pid = (uint64_t)util_syscall3(SYS_getpid, 0, 0, 0);

	return pid << 32 | (uint32_t)util_syscall3(SYS_gettid, 0, 0, 0);
}

/* The thread of token has exited (tgkill with signal 0 says ESRCH). */
static inline bool util_thread_gone(uint64_t token)
{
	return util_syscall3(SYS_tgkill, (long)(token >> 32), (long)(uint32_t)token, 0) == -ESRCH;
}

#endif
