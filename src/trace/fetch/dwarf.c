/* SPDX-License-Identifier: MIT */
/*
 * DWARF fetch-args: "req->hdr.len" at a probe address becomes a plain
 * fetch-arg ("+0x8(+0x10(%di)):u32") from the binary's debug info, the way
 * perf probe does it. Runs where the spec is written (the tracer, or a
 * library user before trace_event_attach), never at a hit.
 *
 * The steps, for each DWARF arg of a spec:
 *  1. the probe's virtual address: SYMBOL + OFF through the symbol table,
 *     or a file offset through the PT_LOAD segments;
 *  2. the scopes containing it (dwarf_getscopes): lexical blocks, inlined
 *     instances, the function, and the CU for globals;
 *  3. the variable's location at that address (a location list picks the
 *     entry that covers it) turned into a value (register, constant) or an
 *     object in memory (+OFF(%reg), @+FILEOFF): struct dw_val, dwarf_loc.c;
 *  4. each ->MEMBER and .MEMBER through the struct types: a dereference or
 *     an offset added to the last one;
 *  5. the final type: the fetch type (unless :TYPE was written).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sym/sym.h"
#include "trace/fetch/dwarf_priv.h"
#include "trace/spec/spec.h"
#include "util/log.h"

/*
 * Refuse the current arg: the full message goes to uprobe_last_error(), a
 * short one and the offending token to err. Returns -err_no.
 */
int dw_fail(struct dw_ctx *cx, int err_no, const char *token, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (cx->err) {
		memset(cx->err, 0, sizeof(*cx->err));
		snprintf(cx->err->token, sizeof(cx->err->token), "%s", token ? token : "");
		snprintf(cx->err->msg, sizeof(cx->err->msg), "%s", msg);
	}
	if (cx->arg)
		return log_error(err_no, "fetch-arg '%s' (%s) at %s: %s", cx->arg->name,
				 cx->arg->fetch.str, cx->where, msg);
	return log_error(err_no, "%s", msg);
}

static const char *die_name(Dwarf_Die *die)
{
	Dwarf_Attribute a;

	return dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &a));
}

/* ---- the debug info: in the binary, or in a separate debug file ------------------------- */

static int open_debug_file(struct dw_ctx *cx)
{
	char path[4096];

	if (sym_debug_path(cx->sym, path, sizeof(path)))
		return -ENODATA;
	cx->debug_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (cx->debug_fd < 0)
		return -ENODATA;
	cx->debug_elf = elf_begin(cx->debug_fd, ELF_C_READ_MMAP, NULL);
	cx->dw = cx->debug_elf ? dwarf_begin_elf(cx->debug_elf, DWARF_C_READ, NULL) : NULL;
	return cx->dw ? 0 : -ENODATA;
}

static int open_dwarf(struct dw_ctx *cx, const char *path)
{
	Elf *elf;
	int err;

	cx->debug_fd = -1;
	if (!lazy_dw(&err))
		return dw_fail(cx, -err, path, "%s: %s", path, uprobe_last_error());
	cx->sym = sym_file_open(path);
	if (!cx->sym)
		return dw_fail(cx, errno, path, "%s: %s", path, uprobe_last_error());
	elf = sym_file_elf(cx->sym);
	cx->dw = dwarf_begin_elf(elf, DWARF_C_READ, NULL);
	if (cx->dw)
		return 0;
	if (!open_debug_file(cx))
		return 0;
	return dw_fail(cx, ENODATA, path,
		       "%s has no debug info (no .debug_info, nor a separate debug file by "
		       "build-id or .gnu_debuglink)", path);
}

static void close_dwarf(struct dw_ctx *cx)
{
	free(cx->scopes);
	cx->scopes = NULL;
	if (cx->dw)
		dwarf_end(cx->dw);
	if (cx->debug_elf)
		elf_end(cx->debug_elf);
	if (cx->debug_fd >= 0)
		close(cx->debug_fd);
	if (cx->sym)
		sym_file_close(cx->sym);
}

/* ---- the probe address and its scopes --------------------------------------------------- */

static int probe_pc(struct dw_ctx *cx, const struct trace_spec *spec)
{
	struct sym_func fn;

	if (!spec->symbol) {
		snprintf(cx->where, sizeof(cx->where), "0x%" PRIx64, spec->offset);
		if (sym_off_to_vaddr(cx->sym, spec->offset, &cx->pc))
			return dw_fail(cx, EINVAL, "", "file offset 0x%" PRIx64
				       " is in no executable segment", spec->offset);
		return 0;
	}
	if (spec->offset)
		snprintf(cx->where, sizeof(cx->where), "%s+0x%" PRIx64, spec->symbol, spec->offset);
	else
		snprintf(cx->where, sizeof(cx->where), "%s", spec->symbol);
	if (sym_find(cx->sym, spec->symbol, &fn))
		return dw_fail(cx, ENOENT, spec->symbol, "no function '%s' in %s", spec->symbol,
			       spec->path);
	cx->pc = fn.vaddr + spec->offset;
	return 0;
}

/* The CU holding pc: through .debug_aranges, else by each CU's ranges. */
static int find_cu(struct dw_ctx *cx)
{
	Dwarf_Off off = 0, next;
	size_t hsize;

	if (dwarf_addrdie(cx->dw, cx->pc, &cx->cu))
		return 0;
	while (dwarf_nextcu(cx->dw, off, &next, &hsize, NULL, NULL, NULL) == 0) {
		if (dwarf_offdie(cx->dw, off + hsize, &cx->cu) && dwarf_haspc(&cx->cu, cx->pc) > 0)
			return 0;
		off = next;
	}
	return dw_fail(cx, ENODATA, cx->where, "no debug info covers %s (0x%" PRIx64 ")",
		       cx->where, cx->pc);
}

static int find_scopes(struct dw_ctx *cx)
{
	int ret = find_cu(cx);

	if (ret)
		return ret;
	cx->n_scopes = dwarf_getscopes(&cx->cu, cx->pc, &cx->scopes);
	cx->func = cx->subprogram = -1;
	for (int i = 0; i < cx->n_scopes; i++) {
		int tag = dwarf_tag(&cx->scopes[i]);

		if (cx->func < 0 && (tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine))
			cx->func = i;
		if (tag == DW_TAG_subprogram) {
			cx->subprogram = i;
			break;
		}
	}
	if (cx->func < 0 || cx->subprogram < 0)
		return dw_fail(cx, ENODATA, cx->where, "no function in the debug info covers %s",
			       cx->where);
	return 0;
}

/* pc is the first instruction of the out-of-line function (not inside an inline). */
bool dw_at_entry(struct dw_ctx *cx)
{
	Dwarf_Addr low;

	return cx->func == cx->subprogram &&
	       dwarf_lowpc(&cx->scopes[cx->subprogram], &low) == 0 && low == cx->pc;
}

/* ---- finding a variable by name --------------------------------------------------------- */

static bool is_var(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_variable || tag == DW_TAG_formal_parameter;
}

/*
 * Calls fn for each variable of scope i (fn returns non-zero to stop). The
 * scopes searched are those up to the innermost function (C scoping; an
 * inline's caller is not visible in it), then the CU's globals.
 */
static int each_var(struct dw_ctx *cx, int (*fn)(Dwarf_Die *var, void *arg), void *arg)
{
	int last = cx->n_scopes - 1;

	for (int i = 0; i <= last; i++) {
		Dwarf_Die child;
		int ret;

		if (i > cx->func && i != last)
			continue;
		if (dwarf_child(&cx->scopes[i], &child) != 0)
			continue;
		do {
			if (is_var(&child) && die_name(&child) && (ret = fn(&child, arg)))
				return ret;
		} while (dwarf_siblingof(&child, &child) == 0);
	}
	return 0;
}

struct name_match {
	const char *name;
	Dwarf_Die found;
};

static int match_name(Dwarf_Die *var, void *arg)
{
	struct name_match *m = arg;

	if (strcmp(die_name(var), m->name))
		return 0;
	m->found = *var;
	return 1;
}

struct name_list {
	char buf[600];
	size_t len;
};

static void list_add(struct name_list *l, const char *name)
{
	if (l->len >= sizeof(l->buf) - 1)
		return;
	l->len += (size_t)snprintf(l->buf + l->len, sizeof(l->buf) - l->len, "%s%s",
				   l->len ? ", " : "", name);
	if (l->len >= sizeof(l->buf) - 4)
		strcpy(l->buf + sizeof(l->buf) - 4, "...");
}

static int list_var(Dwarf_Die *var, void *arg)
{
	Dwarf_Attribute a;

	/* Skip declarations of globals defined elsewhere, and the CU's functions. */
	if (!dwarf_attr_integrate(var, DW_AT_declaration, &a))
		list_add(arg, die_name(var));
	return 0;
}

static int find_var(struct dw_ctx *cx, const char *name, const char *token, Dwarf_Die *var)
{
	struct name_match m = { .name = name };
	struct name_list l = { .len = 0 };

	if (each_var(cx, match_name, &m)) {
		*var = m.found;
		return 0;
	}
	each_var(cx, list_var, &l);
	return dw_fail(cx, ENOENT, token, "no variable '%s' here; in scope: %s", name,
		       l.len ? l.buf : "(none)");
}

/* ---- members -------------------------------------------------------------------------- */

static const char *type_name(Dwarf_Die *type, char *buf, size_t len)
{
	const char *n = dwarf_diename(type);
	const char *kind = "";

	switch (dwarf_tag(type)) {
	case DW_TAG_structure_type: kind = "struct "; break;
	case DW_TAG_union_type: kind = "union "; break;
	case DW_TAG_enumeration_type: kind = "enum "; break;
	case DW_TAG_class_type: kind = "class "; break;
	case DW_TAG_pointer_type: return "a pointer";
	case DW_TAG_array_type: return "an array";
	}
	snprintf(buf, len, "%s%s", kind, n ? n : "(anonymous)");
	return buf;
}

bool dw_is_aggregate(Dwarf_Die *type)
{
	int tag = dwarf_tag(type);

	return tag == DW_TAG_structure_type || tag == DW_TAG_union_type ||
	       tag == DW_TAG_class_type;
}

/* DW_AT_data_member_location: a constant, or DW_OP_plus_uconst (DWARF 2). */
static int member_offset(Dwarf_Die *m, Dwarf_Word *off)
{
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	size_t n;

	*off = 0;
	if (!dwarf_attr(m, DW_AT_data_member_location, &a))
		return 0; /* a union member, or a bitfield with DW_AT_data_bit_offset */
	if (dwarf_formudata(&a, off) == 0)
		return 0;
	if (dwarf_getlocation(&a, &ops, &n) == 0 && n == 1 && ops[0].atom == DW_OP_plus_uconst) {
		*off = ops[0].number;
		return 0;
	}
	return -ENOTSUP;
}

/*
 * The member called name in type (searching anonymous structs and unions
 * inside it), its byte offset added to *off. 1 found, 0 not, -errno.
 */
static int find_member(Dwarf_Die *type, const char *name, Dwarf_Die *out, Dwarf_Word *off)
{
	Dwarf_Die m, inner;

	if (dwarf_child(type, &m) != 0)
		return 0;
	do {
		const char *mn = dwarf_diename(&m);
		Dwarf_Attribute a;
		Dwarf_Word o;
		int ret;

		if (dwarf_tag(&m) != DW_TAG_member || member_offset(&m, &o))
			continue;
		if (mn && !strcmp(mn, name)) {
			*out = m;
			*off += o;
			return 1;
		}
		if (mn || !dwarf_formref_die(dwarf_attr(&m, DW_AT_type, &a), &inner) ||
		    dwarf_peel_type(&inner, &inner) || !dw_is_aggregate(&inner))
			continue;
		ret = find_member(&inner, name, out, off);
		if (ret) {
			*off += o;
			return ret;
		}
	} while (dwarf_siblingof(&m, &m) == 0);
	return 0;
}

static void list_members(Dwarf_Die *type, struct name_list *l)
{
	Dwarf_Die m;

	if (dwarf_child(type, &m) != 0)
		return;
	do {
		if (dwarf_tag(&m) == DW_TAG_member && dwarf_diename(&m))
			list_add(l, dwarf_diename(&m));
	} while (dwarf_siblingof(&m, &m) == 0);
}

static int add_deref(struct dw_ctx *cx, struct dw_val *v, int64_t off, const char *token)
{
	if (v->f.n_deref > TRACE_MAX_DEREF)
		return dw_fail(cx, E2BIG, token, "more than %d dereferences", TRACE_MAX_DEREF + 1);
	v->f.deref[v->f.n_deref++] = off;
	v->in_mem = true;
	return 0;
}

/* The object is in memory: move its address by off. */
static void add_offset(struct dw_val *v, int64_t off)
{
	if ((v->f.base == TRACE_B_FILEOFF || v->f.base == TRACE_B_ADDR) && v->f.n_deref == 1)
		v->f.imm += (uint64_t)off; /* the implicit dereference is not written */
	else
		v->f.deref[v->f.n_deref - 1] += off;
}

/* The bits of a bitfield member: the smallest load that holds them. */
static int bitfield(struct dw_ctx *cx, Dwarf_Die *m, Dwarf_Word byte_off, struct dw_val *v,
		    int64_t *load_off)
{
	Dwarf_Attribute a;
	Dwarf_Word size, dbo, old, unit;

	if (!dwarf_attr(m, DW_AT_bit_size, &a) || dwarf_formudata(&a, &size) || !size || size > 64)
		return dw_fail(cx, ENOTSUP, dwarf_diename(m), "bitfield '%s' has no usable size",
			       dwarf_diename(m));
	if (dwarf_attr(m, DW_AT_data_bit_offset, &a) && dwarf_formudata(&a, &dbo) == 0) {
		dbo += 8 * byte_off;
	} else if (dwarf_attr(m, DW_AT_bit_offset, &a) && dwarf_formudata(&a, &old) == 0 &&
		   dwarf_attr(m, DW_AT_byte_size, &a) && dwarf_formudata(&a, &unit) == 0) {
		dbo = 8 * byte_off + 8 * unit - old - size; /* DWARF 2/3 count from the top */
	} else {
		return dw_fail(cx, ENOTSUP, dwarf_diename(m), "bitfield '%s' has no bit offset",
			       dwarf_diename(m));
	}
	for (unsigned int c = 1; c <= 8; c *= 2)
		if (dbo % 8 + size <= 8 * c) {
			*load_off = (int64_t)(dbo / 8);
			v->container = c;
			v->bit_off = (unsigned int)(dbo % 8);
			v->bit_size = (unsigned int)size;
			return 0;
		}
	return dw_fail(cx, ENOTSUP, dwarf_diename(m), "bitfield '%s' spans more than 8 bytes",
		       dwarf_diename(m));
}

/* One "->name" (arrow) or ".name" step. */
static int member(struct dw_ctx *cx, struct dw_val *v, bool arrow, const char *name,
		  const char *prev)
{
	Dwarf_Die t = v->type, m;
	Dwarf_Attribute a;
	Dwarf_Word off = 0;
	char tn[96];
	int64_t load_off;
	int ret;

	if (v->bit_size)
		return dw_fail(cx, EINVAL, name, "'%s' is a bitfield, not a struct", prev);
	if (dwarf_peel_type(&t, &t))
		return dw_fail(cx, ENOTSUP, name, "the type of '%s' is not known", prev);
	if (arrow) {
		if (dwarf_tag(&t) != DW_TAG_pointer_type)
			return dw_fail(cx, EINVAL, name, "'%s' is not a pointer (it is %s); use "
				       "'.' for a member", prev, type_name(&t, tn, sizeof(tn)));
		if (!dwarf_formref_die(dwarf_attr(&t, DW_AT_type, &a), &t) ||
		    dwarf_peel_type(&t, &t))
			return dw_fail(cx, EINVAL, name, "'%s' is a pointer to void", prev);
	} else if (dwarf_tag(&t) == DW_TAG_pointer_type) {
		return dw_fail(cx, EINVAL, name, "'%s' is a pointer; use '->' for a member", prev);
	}
	if (!dw_is_aggregate(&t))
		return dw_fail(cx, EINVAL, name, "'%s'%s is %s, not a struct or union", prev,
			       arrow ? " points to what" : "", type_name(&t, tn, sizeof(tn)));
	ret = find_member(&t, name, &m, &off);
	if (ret <= 0) {
		struct name_list l = { .len = 0 };

		list_members(&t, &l);
		return dw_fail(cx, ENOENT, name, "%s has no member '%s'; members: %s",
			       type_name(&t, tn, sizeof(tn)), name, l.len ? l.buf : "(none)");
	}
	if (!arrow && !v->in_mem)
		return dw_fail(cx, ENOTSUP, name, "'%s' is a struct held in registers here, "
			       "which fetch-args cannot take apart", prev);
	load_off = (int64_t)off;
	ret = 0;
	if (dwarf_attr(&m, DW_AT_bit_size, &a) && (ret = bitfield(cx, &m, off, v, &load_off)))
		return ret;
	if (arrow)
		ret = add_deref(cx, v, load_off, name);
	else
		add_offset(v, load_off);
	if (ret)
		return ret;
	v->has_type = dwarf_formref_die(dwarf_attr_integrate(&m, DW_AT_type, &a), &v->type);
	return 0;
}

/* ---- the final type ------------------------------------------------------------------- */

static const enum trace_type uns[9] = {
	[1] = TRACE_T_U8, [2] = TRACE_T_U16, [4] = TRACE_T_U32, [8] = TRACE_T_U64,
};
static const enum trace_type sig[9] = {
	[1] = TRACE_T_S8, [2] = TRACE_T_S16, [4] = TRACE_T_S32, [8] = TRACE_T_S64,
};

/* An integer type of 1, 2, 4 or 8 bytes: its fetch type. */
bool dw_int_type(Dwarf_Die *t, enum trace_type *out, bool *is_char)
{
	Dwarf_Attribute a;
	Dwarf_Word size, enc = DW_ATE_unsigned;
	Dwarf_Die under;

	if (dwarf_peel_type(t, t) || dwarf_aggregate_size(t, &size) || size > 8 || !size ||
	    (size & (size - 1)))
		return false;
	if (dwarf_tag(t) == DW_TAG_enumeration_type) {
		if (dwarf_formref_die(dwarf_attr(t, DW_AT_type, &a), &under))
			return dw_int_type(&under, out, is_char);
	} else if (dwarf_tag(t) != DW_TAG_base_type || !dwarf_attr(t, DW_AT_encoding, &a) ||
		   dwarf_formudata(&a, &enc)) {
		return false;
	}
	if (enc == DW_ATE_float || enc == DW_ATE_complex_float || enc == DW_ATE_decimal_float)
		return false;
	*is_char = size == 1 && (enc == DW_ATE_signed_char || enc == DW_ATE_unsigned_char);
	*out = enc == DW_ATE_signed || enc == DW_ATE_signed_char ? sig[size] : uns[size];
	return true;
}

/* A pointer to char (text) or to another integer. */
static bool points_to_char(Dwarf_Die *ptr)
{
	Dwarf_Attribute a;
	Dwarf_Die to;
	enum trace_type t;
	bool is_char = false;

	return dwarf_formref_die(dwarf_attr(ptr, DW_AT_type, &a), &to) && dw_int_type(&to, &t, &is_char) &&
	       is_char;
}

/* An array with one dimension of integers: element type and count. */
static bool int_array(Dwarf_Die *arr, enum trace_type *elem, bool *is_char, Dwarf_Word *count)
{
	Dwarf_Attribute a;
	Dwarf_Die et, sub;
	Dwarf_Word size, esize;

	if (!dwarf_formref_die(dwarf_attr(arr, DW_AT_type, &a), &et) ||
	    !dw_int_type(&et, elem, is_char) || dwarf_aggregate_size(&et, &esize) ||
	    dwarf_aggregate_size(arr, &size) || !esize || dwarf_child(arr, &sub) != 0 ||
	    dwarf_siblingof(&sub, &sub) == 0)
		return false;
	*count = size / esize;
	return *count > 0;
}

static void set_scalar(struct trace_arg *out, enum trace_type t)
{
	out->type = t;
	out->array_len = 0;
	out->is_bitfield = 0;
}

/* The fetch type from the variable's type, when :TYPE was not written. */
static int default_type(struct dw_ctx *cx, struct dw_val *v, struct trace_arg *out)
{
	Dwarf_Die t = v->type;
	enum trace_type et;
	Dwarf_Word count;
	bool is_char = false;
	char tn[96];

	if (v->bit_size) {
		out->type = uns[v->container];
		out->is_bitfield = 1;
		out->bf_width = (uint8_t)v->bit_size;
		out->bf_offset = (uint8_t)v->bit_off;
		return 0;
	}
	if (!v->has_type || dwarf_peel_type(&t, &t))
		return dw_fail(cx, ENOTSUP, out->fetch.str, "its type is not known; give one "
			       "with :TYPE");
	if (dwarf_tag(&t) == DW_TAG_pointer_type) {
		set_scalar(out, TRACE_T_X64);
		if (points_to_char(&t)) { /* the text it points to */
			out->type = TRACE_T_STRING;
			return add_deref(cx, v, 0, out->fetch.str);
		}
		return 0;
	}
	if (dw_int_type(&t, &et, &is_char)) {
		set_scalar(out, et);
		return 0;
	}
	if (dwarf_tag(&t) == DW_TAG_array_type && v->in_mem && int_array(&t, &et, &is_char, &count)) {
		if (is_char) {
			set_scalar(out, TRACE_T_STRING);
			return 0;
		}
		if (count <= TRACE_MAX_ARRAY) {
			set_scalar(out, et);
			out->array_len = (unsigned int)count;
			return 0;
		}
	}
	if (dw_is_aggregate(&t))
		return dw_fail(cx, ENOTSUP, out->fetch.str, "'%s' is %s: name a member with "
			       "-> or ., or give a :TYPE", out->fetch.str, type_name(&t, tn, sizeof(tn)));
	return dw_fail(cx, ENOTSUP, out->fetch.str, "'%s' is of a type fetch-args cannot show "
		       "(%s); give a :TYPE", out->fetch.str, type_name(&t, tn, sizeof(tn)));
}

/*
 * :TYPE written: a string or an array reads what a pointer points to, or
 * the array or object itself when it is in memory; a scalar reads the object.
 */
static int given_type(struct dw_ctx *cx, struct dw_val *v, struct trace_arg *out)
{
	Dwarf_Die t = v->type;
	bool ptr = v->has_type && !dwarf_peel_type(&t, &t) && dwarf_tag(&t) == DW_TAG_pointer_type;

	if (v->bit_size)
		return dw_fail(cx, ENOTSUP, out->fetch.str, "'%s' is a bitfield: it takes no "
			       ":TYPE", out->fetch.str);
	if (!trace_type_is_string(out->type) && !out->array_len)
		return 0;
	if (ptr)
		return add_deref(cx, v, 0, out->fetch.str);
	if (!v->in_mem)
		return dw_fail(cx, EINVAL, out->fetch.str, "'%s' is not a pointer nor in memory: "
			       "a string or an array needs one", out->fetch.str);
	return 0;
}

/* ---- one arg -------------------------------------------------------------------------- */

/* Split a copy of "a->b.c" into names and the operator before each. */
static int split_expr(char *s, char **names, bool *arrows, int max)
{
	int n = 0;

	names[n] = s;
	arrows[n++] = false;
	for (char *p = s; *p; p++) {
		bool arrow = p[0] == '-' && p[1] == '>';

		if (!arrow && p[0] != '.')
			continue;
		if (n == max)
			return -E2BIG;
		*p = 0;
		p += arrow;
		arrows[n] = arrow;
		names[n++] = p + 1;
	}
	return n;
}

static int resolve_arg(struct dw_ctx *cx, struct trace_arg *out)
{
	char expr[512], *names[TRACE_MAX_DEREF + 8];
	bool arrows[TRACE_MAX_DEREF + 8];
	struct dw_val v;
	Dwarf_Die var;
	Dwarf_Attribute a;
	int n, ret;

	snprintf(expr, sizeof(expr), "%s", out->fetch.str);
	n = split_expr(expr, names, arrows, TRACE_MAX_DEREF + 8);
	if (n < 0)
		return dw_fail(cx, E2BIG, out->fetch.str, "too many members");
	ret = find_var(cx, names[0], names[0], &var);
	if (!ret)
		ret = dw_locate(cx, &var, names[0], &v);
	if (ret)
		return ret;
	if (v.f.base == TRACE_B_IMM && n > 1)
		return dw_fail(cx, ENOTSUP, names[1], "'%s' is a constant here", names[0]);
	v.has_type = dwarf_formref_die(dwarf_attr_integrate(&var, DW_AT_type, &a), &v.type);
	for (int i = 1; i < n && !ret; i++)
		ret = member(cx, &v, arrows[i], names[i], names[i - 1]);
	if (!ret)
		ret = out->type_given ? given_type(cx, &v, out) : default_type(cx, &v, out);
	if (ret)
		return ret;
	free(out->fetch.str);
	out->fetch = v.f;
	out->fetch.str = NULL;
	return 0;
}

static bool has_dwarf(const struct trace_spec *spec)
{
	for (int i = 0; i < spec->n_args; i++)
		if (spec->args[i].fetch.base == TRACE_B_DWARF)
			return true;
	return false;
}

/*
 * Resolve into copies and commit them all at the end, so that a refused arg
 * leaves the spec as it was. The copies own their expression text until then.
 */
static int resolve_all(struct dw_ctx *cx, struct trace_spec *spec, struct trace_arg *tmp)
{
	int ret = 0, i;

	for (i = 0; i < spec->n_args; i++) {
		if (spec->args[i].fetch.base != TRACE_B_DWARF)
			continue;
		tmp[i] = spec->args[i];
		tmp[i].fetch.str = strdup(spec->args[i].fetch.str);
		cx->arg = &spec->args[i];
		ret = tmp[i].fetch.str ? resolve_arg(cx, &tmp[i]) : -ENOMEM;
		if (ret) {
			free(tmp[i].fetch.str);
			break;
		}
	}
	for (int j = 0; j < i; j++) {
		if (spec->args[j].fetch.base != TRACE_B_DWARF)
			continue;
		if (ret) {
			free(tmp[j].fetch.str);
			continue;
		}
		free(spec->args[j].fetch.str);
		spec->args[j] = tmp[j];
	}
	return ret;
}

UPROBE_API int trace_spec_resolve_dwarf(struct trace_spec *spec, const char *path,
					 struct trace_error *err)
{
	struct dw_ctx cx = { .err = err, .debug_fd = -1 };
	struct trace_arg *tmp;
	int ret;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!spec || !has_dwarf(spec))
		return 0;
	if (!path)
		path = spec->path;
	if (spec->kind != TRACE_PROBE)
		return dw_fail(&cx, EINVAL, "", "DWARF variables are only available in entry probes");
	ret = open_dwarf(&cx, path);
	if (!ret)
		ret = probe_pc(&cx, spec);
	if (!ret)
		ret = find_scopes(&cx);
	if (!ret) {
		tmp = calloc((size_t)spec->n_args, sizeof(*tmp));
		ret = tmp ? resolve_all(&cx, spec, tmp) : -ENOMEM;
		free(tmp);
	}
	close_dwarf(&cx);
	return log_report(ret);
}
