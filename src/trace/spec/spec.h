/* SPDX-License-Identifier: MIT */
/*
 * trace/spec — the uprobe_events language, the lowest sub-layer of trace/.
 *
 * Text <-> struct trace_spec: trace_spec_parse() and trace_spec_format()
 * (spec.c, spec_args.c, spec_num.c; their shared parser state is parse.h),
 * sdt:/usdt: markers parsed (spec_sdt.c) and resolved against a file's
 * .note.stapsdt into plain probes (usdt.c). The API is public, in
 * uprobes_trace.h; it touches no target memory and attaches nothing.
 *
 * This header holds what the layers above (fetch, output) share of the
 * language: facts about fetch-arg types.
 */
#ifndef UPROBES_TRACE_SPEC_H
#define UPROBES_TRACE_SPEC_H

#include <stdbool.h>
#include <stddef.h>

#include "uprobes_trace.h"

/*
 * Text output with snprintf semantics (pos counts what the full text needs):
 * the canonical spec text here, the kernel's lines in kernel/kline.c.
 */
struct spec_out {
	char *buf;
	size_t len;
	size_t pos;
};

void spec_out_printf(struct spec_out *o, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Bytes of one value (strings: of the address they are read from). */
static inline unsigned int trace_type_size(enum trace_type t)
{
	switch (t) {
	case TRACE_T_U8: case TRACE_T_S8: case TRACE_T_X8: case TRACE_T_CHAR:
		return 1;
	case TRACE_T_U16: case TRACE_T_S16: case TRACE_T_X16:
		return 2;
	case TRACE_T_U32: case TRACE_T_S32: case TRACE_T_X32:
		return 4;
	default:
		return 8;
	}
}

static inline bool trace_type_is_string(enum trace_type t)
{
	return t == TRACE_T_STRING || t == TRACE_T_USTRING;
}

/* A string or a stack: an offset and a length in the fixed part, the bytes after it. */
static inline bool trace_type_is_dynamic(enum trace_type t)
{
	return trace_type_is_string(t) || t == TRACE_T_USTACK;
}

static inline bool trace_type_is_signed(enum trace_type t)
{
	return t == TRACE_T_S8 || t == TRACE_T_S16 || t == TRACE_T_S32 || t == TRACE_T_S64;
}

#endif
