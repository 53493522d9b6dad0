/* SPDX-License-Identifier: MIT */
/* Probe locations: parse, resolve to this process, prove instruction boundaries. */
#ifndef UPROBES_CORE_RESOLVE_H
#define UPROBES_CORE_RESOLVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"
#include "sym/sym.h"

#define RESOLVE_KEEP_SYMBOL (1u << 31) /* internal: keep t's symbol fields */
#define RESOLVE_FILE_IMAGE (1u << 30)  /* internal: not mapped? analyse the file itself */
#define RESOLVE_RETURN (1u << 29)      /* internal: a return probe: fill ret_refusal */
#define RESOLVE_FILE_ONLY (1u << 28)   /* internal: the file itself, never this process's
					  mapping of it (the kernel backend: no maps read) */

struct probe_target {
	uint64_t addr;	       /* runtime address */
	uint64_t map_start;    /* its mapping (reads stop at map_end) */
	uint64_t map_end;
	ino_t map_ino;
	/*
	 * Analysis of a file this process has not mapped (uprobe_analyze only):
	 * addresses are the file's virtual addresses and text comes from image.
	 */
	const uint8_t *image;
	size_t image_size;
	int64_t image_delta; /* file offset - virtual address in the code segment */
	uint64_t bias;	     /* runtime (or virtual) address - virtual address */
	struct sym_load loads[8]; /* the file's PT_LOADs: what data reads may touch */
	unsigned nloads;
	uint64_t file_offset;
	uint64_t func_start;   /* runtime start of the containing function, 0 if unknown */
	uint64_t func_size;
	uint64_t symbol_offset;
	bool go;	       /* the file is a Go binary */
	int ret_refusal;       /* RESOLVE_RETURN: why no return probe (enum sym_ret_refusal) */
	char ret_why[256];     /* ... in a sentence */
	char path[256];
	char symbol[128];
};

/* The same in the file f, opened already (the caller resolves many locations of one file). */
int resolve_location_in(struct sym_file *f, const char *location, unsigned flags,
			struct probe_target *t);
/* path NULL: the main executable. 0 or -errno with log_error set. */
int resolve_location(const char *path, const char *location, unsigned flags,
		     struct probe_target *t);
int resolve_address(uint64_t addr, unsigned flags, struct probe_target *t);

/*
 * Is a direct branch of t's mapping aimed into (lo, hi)? 1 (source and target
 * set), 0, or -ENOMEM. Caller holds registry_lock.
 */
int branches_into(const struct probe_target *t, uint64_t lo, uint64_t hi, uint64_t *src,
		  uint64_t *target);

/* Original text of t's code at [addr, addr + len) (memory, or the file image). */
void target_read(const struct probe_target *t, uint64_t addr, uint8_t *buf, size_t len);

/*
 * The padding after t's function, which ends at end: the bytes up to the next
 * 16 (where compilers start functions), or to the end of its section, when no
 * symbol or FDE of f (t's file) covers end and they are in t's mapping; 0
 * when a function starts right at end (unaligned code, -Os). What those bytes are (nops, int3: no function
 * starts with them) is the caller's to check. One symbol lookup: a failed
 * one scans the FDEs, ~90,000 instructions.
 */
size_t resolve_padding_after(const struct probe_target *t, struct sym_file *f, uint64_t end);

/*
 * Data of t's file at address addr (runtime, or virtual for an image): 0, or
 * -EFAULT when [addr, addr + len) is not inside one of its PT_LOAD segments.
 */
int target_read_data(const struct probe_target *t, uint64_t addr, void *buf, size_t len);

/* Release what resolve_* acquired (the file image). */
void resolve_release(struct probe_target *t);

/* Decode from the function start to t->addr. Caller holds registry_lock. */
int resolve_check_boundary(struct probe_target *t, unsigned flags);

#endif
