/* SPDX-License-Identifier: MIT */
/* Facts about fetch-arg types that the parser, layout, fetch and formatters share. */
#ifndef UPROBES_TRACE_TYPES_H
#define UPROBES_TRACE_TYPES_H

#include <stdbool.h>

#include "uprobes_trace.h"

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

static inline bool trace_type_is_signed(enum trace_type t)
{
	return t == TRACE_T_S8 || t == TRACE_T_S16 || t == TRACE_T_S32 || t == TRACE_T_S64;
}

#endif
