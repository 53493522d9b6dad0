/* SPDX-License-Identifier: MIT */
/*
 * Equality of two parsed specs, for the round trip parse(format(x)) == x
 * (tests/trace_spec and fuzz/fuzz_spec.c). The fields that record how the
 * line was written (event_given, type_given, text) are not compared: the
 * canonical text writes every default out and normalises the fetch-args.
 */
#ifndef TRACE_SPEC_CMP_H
#define TRACE_SPEC_CMP_H

#include <stdio.h>
#include <string.h>

#include "uprobes_trace.h"

static inline int spec_cmp_str(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

static inline int spec_cmp_fetch(const struct trace_fetch *a, const struct trace_fetch *b)
{
	if (a->base != b->base || a->imm != b->imm || a->n_deref != b->n_deref)
		return 1;
	if (a->base == TRACE_B_REG && a->reg != b->reg)
		return 1;
	if (spec_cmp_str(a->str, b->str))
		return 1;
	for (int i = 0; i < a->n_deref && i <= TRACE_MAX_DEREF; i++)
		if (a->deref[i] != b->deref[i])
			return 1;
	return 0;
}

static inline int spec_cmp_arg(const struct trace_arg *a, const struct trace_arg *b)
{
	return strcmp(a->name, b->name) || spec_cmp_fetch(&a->fetch, &b->fetch) ||
	       a->type != b->type || a->is_bitfield != b->is_bitfield ||
	       a->bf_width != b->bf_width || a->bf_offset != b->bf_offset ||
	       a->array_len != b->array_len;
}

/* 0 when equal; else 1 with the first differing field named in why. */
static inline int spec_cmp(const struct trace_spec *a, const struct trace_spec *b, char *why,
			   size_t len)
{
	const char *f = NULL;

	if (a->kind != b->kind)
		f = "kind";
	else if (strcmp(a->group, b->group))
		f = "group";
	else if (strcmp(a->event, b->event))
		f = "event";
	else if (spec_cmp_str(a->path, b->path))
		f = "path";
	else if (spec_cmp_str(a->symbol, b->symbol))
		f = "symbol";
	else if (a->offset != b->offset)
		f = "offset";
	else if (a->has_ref_ctr != b->has_ref_ctr || a->ref_ctr_offset != b->ref_ctr_offset)
		f = "ref_ctr";
	else if (a->bpftrace_style != b->bpftrace_style)
		f = "bpftrace_style";
	else if (a->n_args != b->n_args)
		f = "n_args";
	for (int i = 0; !f && i < a->n_args; i++)
		if (spec_cmp_arg(&a->args[i], &b->args[i])) {
			snprintf(why, len, "args[%d]", i);
			return 1;
		}
	if (f)
		snprintf(why, len, "%s", f);
	return f != NULL;
}

#endif
