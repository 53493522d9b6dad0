/* SPDX-License-Identifier: MIT */
/*
 * The payload layout of an event's records, derived from its spec alone so
 * that producer and consumer agree without exchanging it (see the diagram in
 * include/uprobes_trace.h).
 */
#include <errno.h>
#include <string.h>

#include "trace/spec/spec.h"

UPROBE_API int trace_layout_of(const struct trace_spec *spec, struct trace_layout *layout)
{
	unsigned int off;

	if (!spec || !layout || spec->n_args < 0 || spec->n_args > TRACE_MAX_ARGS)
		return -EINVAL;
	memset(layout, 0, sizeof(*layout));
	layout->n_fields = spec->n_args;
	layout->bitmap_len = spec->n_args ? (unsigned int)(spec->n_args + 63) / 64 * 8 : 0;
	off = layout->bitmap_len;
	for (int i = 0; i < spec->n_args; i++) {
		const struct trace_arg *a = &spec->args[i];
		struct trace_field *f = &layout->fields[i];

		if (a->array_len > TRACE_MAX_ARRAY)
			return -EINVAL;
		memcpy(f->name, a->name, sizeof(f->name));
		f->name[sizeof(f->name) - 1] = 0;
		f->type = a->type;
		f->is_bitfield = a->is_bitfield;
		f->count = a->array_len ? a->array_len : 1;
		f->array_len = a->array_len;
		if (trace_type_is_dynamic(a->type))
			f->elem_size = 8; /* u32 offset, u32 length per string or stack */
		else if (a->array_len)
			f->elem_size = trace_type_size(a->type);
		else
			f->elem_size = 8;
		f->offset = off;
		off += (f->elem_size * f->count + 7) & ~7u;
	}
	layout->fixed_len = off;
	return 0;
}
