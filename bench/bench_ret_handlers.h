/* SPDX-License-Identifier: MIT */
/*
 * The handlers bench_ret attaches, in their own file built with
 * -mgeneral-regs-only: they are registered with UPROBE_F_HANDLER_NO_SIMD, so
 * their code must not touch SIMD/x87 state (gcc may otherwise merge the two
 * 8-byte stores of a ring entry into one SSE store).
 */
#ifndef BENCH_RET_HANDLERS_H
#define BENCH_RET_HANDLERS_H

#include <stdint.h>

#include "uprobes.h"

#define RET_RING_LEN 256 /* a power of two */

/*
 * What the cookie/rax pair of handlers records (single-threaded use): one
 * entry per return, overwritten in turn.
 */
struct ret_ring {
	uint64_t head;	    /* returns recorded since the last reset */
	uint64_t no_cookie; /* entry handler calls where uprobe_cookie() was NULL */
	struct {
		uint64_t cookie, rax;
	} e[RET_RING_LEN];
};

/* Do nothing: the cost of the entry hit and of the return hit themselves. */
void bench_ret_entry_empty(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
void bench_ret_ret_empty(struct uprobe *probe, struct uprobe_regs *regs,
			 const struct uprobe_ret *ret, void *ctx);

/* Entry: the call's cookie = its first argument (rdi); ctx is a struct ret_ring. */
void bench_ret_entry_cookie(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);

/* Return: stores the cookie and the result (rax) into the ret_ring at ctx. */
void bench_ret_ret_rax(struct uprobe *probe, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		       void *ctx);

#endif
