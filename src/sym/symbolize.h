/* SPDX-License-Identifier: MIT */
/*
 * Inside the sym layer: what symbolize.c (processes, mappings, symbols) and
 * symbolize_lines.c (DWARF: source lines and inlined calls) share. The
 * public API is uprobe_symbolizer_* in uprobes_stack.h.
 */
#ifndef UPROBES_SYM_SYMBOLIZE_H
#define UPROBES_SYM_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uprobes_stack.h"

struct sym_file;

/* Strings that live as long as the symbolizer. */
struct sz_pool {
	struct sz_chunk *chunks;
};

/* n bytes, 8-aligned; NULL without memory. */
void *sz_alloc(struct sz_pool *p, size_t n);
const char *sz_strndup(struct sz_pool *p, const char *s, size_t n);
void sz_pool_free(struct sz_pool *p);

/* A file some process maps, opened once per symbolizer. */
struct sz_file {
	struct sz_file *next;
	const char *path;
	uint64_t dev, ino;
	bool tried;	       /* opened, or failed to */
	struct sym_file *f;    /* NULL: cannot be read, or another file has that path now */
	bool dw_tried;
	struct sz_dwarf *dw;   /* symbolize_lines.c */
};

/*
 * symbolize_lines.c: the DWARF frames at file address vaddr, innermost first:
 * the calls inlined there (inlined = 1, func from DWARF), then the function
 * itself (func left NULL: the caller names it from its symbols), each with
 * file and line. Returns how many (0: no DWARF covers vaddr).
 */
int sz_lines(struct sz_file *file, struct sz_pool *pool, uint64_t vaddr, struct uprobe_frame *out,
	     unsigned int max);
void sz_dwarf_free(struct sz_dwarf *dw);

#endif
