/* SPDX-License-Identifier: MIT */
/*
 * The handlers bench_probe attaches, in their own file built with
 * -mgeneral-regs-only: a handler registered with UPROBE_F_HANDLER_NO_SIMD must
 * not touch SIMD/x87 state, and without the flag gcc may merge the two 8-byte
 * stores of bench_args_handler into one SSE store.
 */
#ifndef BENCH_HANDLERS_H
#define BENCH_HANDLERS_H

#include <stdint.h>

#include "uprobes.h"

#define ARG_RING_LEN 256 /* a power of two */

/* What the two-argument handler records: one entry per call, overwritten in turn. */
struct arg_ring {
	uint64_t head; /* calls recorded since the last reset */
	struct {
		uint64_t rdi, rsi;
	} e[ARG_RING_LEN];
};

/* Does nothing: the cost of a hit itself. */
void bench_empty_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);

/* Stores the first two integer arguments (rdi, rsi) into the arg_ring at ctx. */
void bench_args_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);

#endif
