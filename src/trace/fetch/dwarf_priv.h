/* SPDX-License-Identifier: MIT */
/*
 * Private to trace/fetch. DWARF fetch-args (dwarf.c): what its location half
 * (dwarf_loc.c) shares with it.
 */
#ifndef UPROBES_TRACE_FETCH_DWARF_PRIV_H
#define UPROBES_TRACE_FETCH_DWARF_PRIV_H

#include <elfutils/libdw.h>
#include <stdbool.h>
#include <stdint.h>

#include "uprobes_trace.h"
#include "util/lazylibs.h"

/* What is known of one spec's binary while its args are resolved. */
struct dw_ctx {
	struct sym_file *sym; /* the binary: symbols, segments, .eh_frame */
	Dwarf *dw;
	Elf *debug_elf; /* a separate debug file, or NULL */
	int debug_fd;
	uint64_t pc;		/* the probe's virtual address */
	char where[160];	/* "parse_request+0x4" for messages */
	Dwarf_Die cu;
	Dwarf_Die *scopes;
	int n_scopes;
	int func;		/* index in scopes of the innermost function or inline */
	int subprogram;		/* index of the out-of-line function holding pc */
	struct trace_error *err;
	const struct trace_arg *arg; /* being resolved */
};

/*
 * A value being walked: either the object is in memory and the fetch's last
 * dereference loads it (in_mem), or the fetch's value is the object itself
 * (a register or a constant: scalars only).
 */
struct dw_val {
	struct trace_fetch f;
	bool in_mem;
	Dwarf_Die type;
	bool has_type;
	unsigned int bit_size, bit_off; /* a bitfield member: bits in the loaded container */
	unsigned int container;		/* its bytes */
};

/*
 * Refuse the current arg: the full message goes to uprobe_last_error(), a
 * short one and the offending token to the spec's trace_error. Returns -err_no.
 */
__attribute__((format(printf, 4, 5))) int dw_fail(struct dw_ctx *cx, int err_no,
						  const char *token, const char *fmt, ...);
/* The probe is at the first instruction of its function. */
bool dw_at_entry(struct dw_ctx *cx);
bool dw_is_aggregate(Dwarf_Die *type);
bool dw_int_type(Dwarf_Die *t, enum trace_type *out, bool *is_char);
/* Where variable VAR (named NAME in messages) is at the probe address. */
int dw_locate(struct dw_ctx *cx, Dwarf_Die *var, const char *name, struct dw_val *v);

#endif
