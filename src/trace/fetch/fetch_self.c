/* SPDX-License-Identifier: MIT */
/*
 * The calling thread's cache of its ids and name (fetch_self.h, which the
 * handlers include; this file does not, so that the header's inline reader
 * and its filler are not each other's). Hot path: raw system calls only.
 */
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "arch/raw_syscall.h"
#include "trace/fetch/fetch.h"

__thread struct fetch_thread fetch_self_cache __attribute__((tls_model("initial-exec")));

/*
 * A thread's first event costs three system calls (its ids and its name);
 * after fork the child's forking thread starts over (fetch_thread_reset).
 */
struct fetch_thread *fetch_self_fill(void)
{
	fetch_self_cache.pid = (uint32_t)raw_syscall6(SYS_getpid, 0, 0, 0, 0, 0, 0);
	fetch_self_cache.comm[0] = 0;
	raw_syscall6(SYS_prctl, PR_GET_NAME, (long)fetch_self_cache.comm, 0, 0, 0, 0);
	fetch_self_cache.comm[15] = 0;
	fetch_self_cache.comm_sent = NULL;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	fetch_self_cache.tid = (uint32_t)raw_syscall6(SYS_gettid, 0, 0, 0, 0, 0, 0);
	return &fetch_self_cache;
}
