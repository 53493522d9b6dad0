/* SPDX-License-Identifier: MIT */
/*
 * stack — user stacks at a hit, in the traced process. Above sym (CFI rows,
 * mappings), beside core (whose return probes put the trampoline's address
 * in return address slots: the unwinder asks for the real one), below the
 * users of a hit (trace/fetch's $ustack, the language's ustack):
 *
 *   cfi_table.c  a file's CFI compiled once into a sorted lookup table
 *                (the kernel's ORC idea: the hit only looks rules up), and
 *                cached on disk by build-id (cfi_cache.c): format in cfi_table.h
 *   modules.c    the executable mappings of this process, each with its
 *                table; refreshed when libraries come and go (not hot)
 *   unwind.c     the unwinder (hot path: signal-safe, fault-safe, no libc)
 *   table.c      the shared stack table: each distinct stack interned once,
 *                lock-free, in a memfd the tracer maps (hot path); the
 *                tracer's reader is in table_read.c (uprobes_stack.h)
 *
 * Memory is read only with the fault-safe loads of safe_read.S: a bad frame
 * ends the stack, it never faults the target. stack_setup() owns SIGSEGV and
 * SIGBUS for them (as fetch-args do).
 */
#ifndef UPROBES_STACK_STACK_H
#define UPROBES_STACK_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uprobes.h"

/* bpftrace's cap: ustack() walks at most 127 frames. */
#define STACK_MAX_DEPTH 127

/*
 * Make stacks work in this process (not signal context): own SIGSEGV/SIGBUS
 * for the fault-safe loads (from then on), compile (or map from the cache)
 * the tables of every file mapped executable, and watch the dynamic loader
 * for libraries that come later (a probe on its r_brk). Each success is one
 * user, to stack_release() when done: the last release takes the loader's
 * probe out. 0 or -errno.
 */
int stack_setup(void);
void stack_release(void);

/*
 * Read the mappings again (after dlopen/dlclose): files new to this process
 * get their table. Not signal context; cheap when nothing changed.
 * Returns 1 if the set changed, 0 if not, or -errno.
 */
int stack_modules_refresh(void);

/*
 * The user stack at a hit: frames[0] is regs->rip, then each caller's
 * return address, up to max (<= STACK_MAX_DEPTH) frames. at_entry: regs
 * are at a function's first instruction (its return address is at rsp even
 * where no CFI says so; with CFI the table knows it anyway). Signal-safe,
 * no system call, no libc call; stops at a frame it cannot follow (the
 * last one found is kept). Returns the number of frames (>= 1).
 */
unsigned stack_unwind(const struct uprobe_regs *regs, bool at_entry, uint64_t *frames,
		      unsigned max);

/* ---- the stack table (table.c): stacks interned once, shared with the tracer ------- */

struct stack_table;

struct stack_table_opts {
	size_t sz;		/* sizeof(struct stack_table_opts) */
	unsigned int max_stacks; /* distinct stacks kept (default 16384) */
	unsigned int max_frames; /* frames kept in all (default 64 per stack) */
};

/* A table in a new sealed memfd ("uprobes-stacks"). NULL + errno. */
struct stack_table *stack_table_new(const struct stack_table_opts *opts);
void stack_table_free(struct stack_table *t);
/*
 * The table of memfd fd, made by the tracer (its header checked against the
 * file; fd dup'ed). NULL + errno.
 */
struct stack_table *stack_table_attach(int fd);
/*
 * This process's executable mappings (after stack_setup()) into the table's
 * mappings area, under pid, for the tracer to name frames after the process
 * exited; and again after each change of them (dlopen, dlclose: the loader's
 * r_brk probe) until the table is freed. Not signal context. 0, -ENOENT
 * (none known) or -ENOSPC (area full).
 */
int stack_table_put_maps(struct stack_table *t, uint32_t pid);
/*
 * The process image whose mappings name this process's frames, the word a
 * ustack key carries beside the stack id: pid | n << STACK_IMAGE_SHIFT, n
 * counting the images that pid had in this table before (0 for the first; a
 * forked child's own pid, and once it execs, that pid's next n), so that
 * frames of an exec'd image are never named from the image before it, nor a
 * forked child's from nothing. pid until stack_table_put_maps() ran; a child
 * forked without fork()'s handlers (a raw clone) keeps its parent's, whose
 * mappings it shares. Signal-safe (a load).
 */
#define STACK_IMAGE_SHIFT 22 /* pids are below 2^22 (PID_MAX_LIMIT) */
#define STACK_IMAGE_PID_MASK ((1u << STACK_IMAGE_SHIFT) - 1)
uint32_t stack_table_image(const struct stack_table *t, uint32_t pid);
/*
 * The tracer's side: the records of the table's mappings area from byte
 * *since on given to s (uprobe_stack_reader_maps() from 0); *since moves past
 * them, so that a reader called again takes only the new ones. How many.
 */
struct uprobe_stack_reader;
struct uprobe_symbolizer;
int stack_reader_maps_since(struct uprobe_stack_reader *r, struct uprobe_symbolizer *s,
			    uint64_t *since);
/* The memfd to hand to the tracer (uprobe_stack_reader_new()). */
int stack_table_fd(const struct stack_table *t);

/*
 * The id of frames[0 .. n) in t, interned at its first sight (1..): equal
 * stacks, from any thread, get the same id. Signal-safe, lock-free, no
 * system call. -ENOSPC when the table is full (a new stack is dropped and
 * counted; known ones are still found), -EINVAL for n == 0 or too deep.
 */
int stack_table_intern(struct stack_table *t, const uint64_t *frames, unsigned n, uint64_t *id);

/*
 * What a plan evaluator calls at a hit: stack_unwind() up to max_depth
 * frames (0: STACK_MAX_DEPTH), then stack_table_intern(). Returns 0 with
 * *id, or -ENOSPC.
 */
int stack_capture(struct stack_table *t, const struct uprobe_regs *regs, bool at_entry,
		  unsigned max_depth, uint64_t *id);

#endif
