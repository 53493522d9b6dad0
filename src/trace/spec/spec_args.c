/* SPDX-License-Identifier: MIT */
/*
 * Fetch-args of the uprobe_events language: [NAME=]FETCHARG[:TYPE], parsed
 * in the kernel's order (traceprobe_parse_probe_arg): the name, then the
 * type and array suffix, then the fetch expression, then the checks that
 * tie the two (a string or an array needs memory, a bitfield must fit).
 * Error columns are those of the kernel's error_log caret.
 *
 * Where we differ from the kernel, on purpose:
 *  - a name has at most TRACE_MAX_ARG_NAME - 1 = 31 characters (the kernel
 *    allows 32; our field holds the NUL);
 *  - the kernel's 63-character limit on one fetch-arg (MAX_ARGSTR_LEN) is
 *    not applied: the canonical text of a valid arg (explicit type, hex
 *    offsets) may be longer than what was written, and must parse again.
 *    TRACE_MAX_DEREF bounds the nesting instead;
 *  - "$retval" must be exact (the kernel takes any "$retval..." prefix),
 *    text after the closing ')' of a dereference is refused (the kernel
 *    ignores it), "\"" alone is an unclosed string (the kernel reads the
 *    byte before it), a negative @+FILEOFF is refused;
 *  - $argN (System V argument N, 1 <= N <= SPEC_MAX_ARGN) is accepted in
 *    entry probes; the kernel allows it only on kernel function entries;
 *  - "\IMM:string" (the text at address IMM, for the kernel) becomes the
 *    same as "@IMM:string", whose struct says exactly that; an array of such
 *    strings is refused.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "trace/spec/parse.h"
#include "trace/spec/spec.h"

/* struct trace_arg's enum order. */
static const char *const type_names[] = {
	[TRACE_T_U8] = "u8",	 [TRACE_T_U16] = "u16",	 [TRACE_T_U32] = "u32",
	[TRACE_T_U64] = "u64",	 [TRACE_T_S8] = "s8",	 [TRACE_T_S16] = "s16",
	[TRACE_T_S32] = "s32",	 [TRACE_T_S64] = "s64",	 [TRACE_T_X8] = "x8",
	[TRACE_T_X16] = "x16",	 [TRACE_T_X32] = "x32",	 [TRACE_T_X64] = "x64",
	[TRACE_T_CHAR] = "char", [TRACE_T_STRING] = "string", [TRACE_T_USTRING] = "ustring",
};

/* Field names every kernel probe event already has (reserved_field_names[]). */
static const char *const reserved_names[] = {
	"common_type", "common_flags", "common_preempt_count", "common_pid",
	"common_tgid", "__probe_ip", "__probe_ret_ip", "__probe_func",
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

/* ---- the fetch expression ------------------------------------------------------------ */

static int parse_fetch(struct spec_ctx *cx, struct trace_fetch *f, char *arg, int depth);

static int parse_reg(struct spec_ctx *cx, struct trace_fetch *f, char *arg)
{
	/* The kernel's pt_regs names of this architecture (arch/<arch>/trace_regs.c). */
	int r = arch_trace_reg_by_name(arg + 1);

	if (r >= 0) {
		f->base = TRACE_B_REG;
		f->reg = (enum trace_reg)r;
		return 0;
	}
	for (size_t i = 0; arch_kernel_only_regs[i]; i++)
		if (!strcmp(arg + 1, arch_kernel_only_regs[i]))
			return spec_fail_str(cx, SE_REG_NOT_USER, arg);
	return spec_fail_str(cx, SE_BAD_REG_NAME, arg);
}

/* $stack, $stackN, $argN: N read in decimal, as the kernel does. */
static int parse_var_num(struct spec_ctx *cx, struct trace_fetch *f, char *arg)
{
	uint64_t n;

	if (!strcmp(arg, "$stack")) {
		f->base = TRACE_B_STACK;
		return 0;
	}
	if (!strncmp(arg, "$stack", 6)) {
		if (!spec_is_digit(arg[6]) || spec_kstrtoull(arg + 6, 10, &n))
			return spec_fail_str(cx, SE_BAD_VAR, arg);
		if (n > UINT32_MAX) /* the kernel keeps an unsigned int */
			return spec_fail_str(cx, SE_BAD_STACK_NUM, arg);
		f->base = TRACE_B_STACKN;
		f->imm = n;
		return 0;
	}
	if (spec_kstrtoull(arg + 4, 10, &n))
		return spec_fail_str(cx, SE_BAD_VAR, arg);
	if (n == 0 || n > SPEC_MAX_ARGN)
		return spec_fail_str(cx, SE_BAD_ARG_NUM, arg);
	if (cx->spec->kind == TRACE_RETPROBE)
		return spec_fail_str(cx, SE_ARGN_ON_RETPROBE, arg);
	f->base = TRACE_B_ARGN;
	f->imm = n;
	return 0;
}

/* $ustack, $ustackN (extension): the user stack, N frames at most (bpftrace's ustack(N)). */
static int parse_ustack(struct spec_ctx *cx, struct trace_fetch *f, char *arg)
{
	uint64_t n = TRACE_MAX_USTACK;

	if (arg[7] && (!spec_is_digit(arg[7]) || spec_kstrtoull(arg + 7, 10, &n)))
		return spec_fail_str(cx, SE_BAD_VAR, arg);
	if (n < 1 || n > TRACE_MAX_USTACK)
		return spec_fail_str(cx, SE_BAD_USTACK_NUM, arg);
	f->base = TRACE_B_USTACK;
	f->imm = n;
	return 0;
}

static int parse_var(struct spec_ctx *cx, struct trace_fetch *f, char *arg)
{
	if (!strcmp(arg, "$retval")) {
		if (cx->spec->kind != TRACE_RETPROBE)
			return spec_fail_str(cx, SE_RETVAL_ON_PROBE, arg);
		f->base = TRACE_B_RETVAL;
		return 0;
	}
	if (!strcmp(arg, "$comm") || !strcmp(arg, "$COMM")) {
		f->base = TRACE_B_COMM;
		return 0;
	}
	if (!strncmp(arg, "$ustack", 7))
		return parse_ustack(cx, f, arg);
	if (!strncmp(arg, "$stack", 6) || !strncmp(arg, "$arg", 4))
		return parse_var_num(cx, f, arg);
	return spec_fail_str(cx, SE_BAD_VAR, arg);
}

/* @ADDR, @+FILEOFF: both read memory, so both carry one dereference at offset 0. */
static int parse_at(struct spec_ctx *cx, struct trace_fetch *f, char *arg)
{
	int64_t off;

	if (spec_is_digit(arg[1])) {
		if (spec_kstrtoull(arg + 1, 0, &f->imm))
			return spec_fail_str(cx, SE_BAD_MEM_ADDR, arg);
		f->base = TRACE_B_ADDR;
	} else if (arg[1] == '+') {
		if (spec_kstrtoll(arg + 2, 0, &off) || off < 0)
			return spec_fail_str(cx, SE_BAD_FILE_OFFS, arg);
		f->base = TRACE_B_FILEOFF;
		f->imm = (uint64_t)off;
	} else {
		return spec_fail_str(cx, SE_SYM_ON_UPROBE, arg);
	}
	f->deref[f->n_deref++] = 0;
	return 0;
}

/*
 * +|-[u]OFF(FETCHARG). The inner expression ends at the last ')'; the 'u'
 * (user-space dereference) changes nothing for a user probe.
 */
static int parse_deref(struct spec_ctx *cx, struct trace_fetch *f, char *arg, int depth)
{
	char *start = arg, *open, *inner, *close;
	int64_t off;
	int ret;

	if (arg[1] == 'u') { /* shift the sign over the 'u', as the kernel does */
		arg[1] = arg[0];
		arg++;
	}
	if (arg[0] == '+')
		arg++;
	open = strchr(arg, '(');
	if (!open)
		return spec_fail_str(cx, SE_DEREF_NEED_BRACE, start);
	*open = 0;
	if (spec_kstrtoll(arg, 0, &off))
		return spec_fail(cx, SE_BAD_DEREF_OFFS, start, (size_t)(open - start));
	inner = open + 1;
	close = strrchr(inner, ')');
	if (!close)
		return spec_fail(cx, SE_DEREF_OPEN_BRACE, inner + strlen(inner), 0);
	if (close[1])
		return spec_fail_str(cx, SE_BAD_FETCH_ARG, close + 1);
	*close = 0;
	if (depth >= TRACE_MAX_DEREF)
		return spec_fail_str(cx, SE_TOO_MANY_OPS, inner);
	ret = parse_fetch(cx, f, inner, depth + 1);
	if (ret)
		return ret;
	if (f->base == TRACE_B_COMM || f->base == TRACE_B_IMMSTR)
		return spec_fail_str(cx, SE_COMM_CANT_DEREF, inner);
	if (f->base == TRACE_B_USTACK)
		return spec_fail_str(cx, SE_USTACK_DEREF, inner);
	f->deref[f->n_deref++] = off;
	return 0;
}

/* \IMM (decimal, 0x hex, 0 octal, signed) or \"text". */
static int parse_imm(struct spec_ctx *cx, struct trace_fetch *f, char *arg)
{
	char *s = arg + 2;
	size_t len;
	int64_t v;
	int ret;

	if (arg[1] == '"') {
		len = strlen(s);
		if (!len || s[len - 1] != '"')
			return spec_fail(cx, SE_IMMSTR_NO_CLOSE, s + len, 0);
		if (len - 1 > TRACE_MAX_STRING - 1)
			return spec_fail_str(cx, SE_IMMSTR_TOO_LONG, arg);
		f->str = strndup(s, len - 1);
		if (!f->str)
			return -ENOMEM;
		f->base = TRACE_B_IMMSTR;
		return 0;
	}
	s = arg + 1;
	if (spec_is_digit(s[0])) {
		ret = spec_kstrtoull(s, 0, &f->imm);
	} else if (s[0] == '-' || s[0] == '+') {
		ret = spec_kstrtoll(s[0] == '+' ? s + 1 : s, 0, &v);
		f->imm = (uint64_t)v;
	} else {
		ret = -EINVAL;
	}
	if (ret)
		return spec_fail_str(cx, SE_BAD_IMM, s);
	f->base = TRACE_B_IMM;
	return 0;
}

static bool is_ident_char(char c)
{
	return spec_is_alpha(c) || spec_is_digit(c) || c == '_';
}

/*
 * A DWARF expression (extension, perf probe's syntax): NAME, then any number
 * of ->MEMBER and .MEMBER. It stays text until trace_spec_resolve_dwarf()
 * (src/trace/dwarf.c) finds the variable in the binary's debug info.
 */
static int parse_dwarf(struct spec_ctx *cx, struct trace_fetch *f, char *arg, int depth)
{
	char *p = arg;

	if (depth)
		return spec_fail_str(cx, SE_DWARF_DEREF, arg);
	for (;;) {
		if (spec_is_digit(*p) || !is_ident_char(*p))
			return spec_fail_str(cx, SE_DWARF_BAD_EXPR, p);
		while (is_ident_char(*p))
			p++;
		if (!*p)
			break;
		if (p[0] == '-' && p[1] == '>')
			p += 2;
		else if (p[0] == '.')
			p++;
		else
			return spec_fail_str(cx, SE_DWARF_BAD_EXPR, p);
	}
	if (cx->spec->kind == TRACE_RETPROBE)
		return spec_fail_str(cx, SE_DWARF_ON_RETPROBE, arg);
	f->str = strdup(arg);
	if (!f->str)
		return -ENOMEM;
	f->base = TRACE_B_DWARF;
	return 0;
}

static int parse_fetch(struct spec_ctx *cx, struct trace_fetch *f, char *arg, int depth)
{
	switch (arg[0]) {
	case '$':
		return parse_var(cx, f, arg);
	case '%':
		return parse_reg(cx, f, arg);
	case '@':
		return parse_at(cx, f, arg);
	case '+':
	case '-':
		return parse_deref(cx, f, arg, depth);
	case '\\':
		return parse_imm(cx, f, arg);
	}
	/* A bare identifier is a BTF variable for the kernel; for us a DWARF one. */
	if (spec_is_alpha(arg[0]) || arg[0] == '_')
		return parse_dwarf(cx, f, arg, depth);
	return spec_fail_str(cx, SE_BAD_FETCH_ARG, arg);
}

/* ---- name, type and the checks between type and expression --------------------------- */

/* The type text t (NULL: none) and the body it was cut from, both in cx->buf. */
struct arg_type {
	char *body;
	char *t;
	bool comm_or_str;
};

/* TYPE[N]: cuts "[N]" off t and sets array_len (kernel: parse_probe_arg_type). */
static int parse_array(struct spec_ctx *cx, struct trace_arg *a, char *t)
{
	char *open = strchr(t, '['), *close;
	uint64_t n;

	if (!open)
		return 0;
	*open++ = 0;
	close = strchr(open, ']');
	if (!close)
		return spec_fail(cx, SE_ARRAY_NO_CLOSE, open + strlen(open), 0);
	if (close[1])
		return spec_fail_str(cx, SE_BAD_ARRAY_SUFFIX, close + 1);
	*close = 0;
	if (spec_kstrtoull(open, 0, &n) || n == 0 || n > UINT32_MAX)
		return spec_fail_str(cx, SE_BAD_ARRAY_NUM, open);
	if (n > TRACE_MAX_ARRAY)
		return spec_fail_str(cx, SE_ARRAY_TOO_BIG, open);
	a->array_len = (unsigned int)n;
	return 0;
}

/* b<width>@<offset>/<container>: only the container is checked here, as the kernel does. */
static bool lookup_type(const char *t, enum trace_type *out)
{
	uint64_t bits;

	if (t[0] == 'b') {
		const char *slash = strchr(t, '/');

		if (!slash || spec_kstrtoull(slash + 1, 0, &bits))
			return false;
		switch (bits) {
		case 8: *out = TRACE_T_U8; return true;
		case 16: *out = TRACE_T_U16; return true;
		case 32: *out = TRACE_T_U32; return true;
		case 64: *out = TRACE_T_U64; return true;
		}
		return false;
	}
	for (size_t i = 0; i < ARRAY_LEN(type_names); i++)
		if (!strcmp(t, type_names[i])) {
			*out = (enum trace_type)i;
			return true;
		}
	return false;
}

/* Cut ":TYPE[N]" off body and resolve it; $comm and \"str" are strings only. */
static int parse_type(struct spec_ctx *cx, struct trace_arg *a, char *body, struct arg_type *at)
{
	char *t = strchr(body, ':');
	int ret;

	if (t) {
		*t++ = 0;
		ret = parse_array(cx, a, t);
		if (ret)
			return ret;
		a->type_given = 1;
	}
	at->body = body;
	at->t = t;
	at->comm_or_str = false;
	if (!strncmp(body, "$ustack", 7)) { /* a stack is a stack: no :TYPE, no [N] */
		if (t)
			return spec_fail_str(cx, SE_USTACK_TYPE, t);
		a->type = TRACE_T_USTACK;
		return 0;
	}
	at->comm_or_str = !strcmp(body, "$comm") || !strcmp(body, "$COMM") ||
			  !strncmp(body, "\\\"", 2);
	if (at->comm_or_str) {
		if (a->array_len || (t && strcmp(t, "string")))
			return spec_fail_str(cx, SE_NEED_STRING_TYPE, t ? t : body);
		a->type = TRACE_T_STRING;
		return 0;
	}
	if (!t) {
		a->type = TRACE_T_X64;
		return 0;
	}
	if (!lookup_type(t, &a->type))
		return spec_fail_str(cx, SE_BAD_TYPE, t);
	a->is_bitfield = t[0] == 'b';
	return 0;
}

static int parse_bitfield(struct spec_ctx *cx, struct trace_arg *a, const char *t)
{
	const char *tail, *bo_text;
	uint64_t bw, bo;

	bw = spec_simple_strtoull(t + 1, 0, &tail);
	if (bw == 0 || *tail != '@')
		return spec_fail_str(cx, SE_BAD_BITFIELD, t);
	bo_text = tail + 1;
	bo = spec_simple_strtoull(bo_text, 0, &tail);
	if (tail == bo_text || *tail != '/')
		return spec_fail_str(cx, SE_BAD_BITFIELD, t);
	if (bw > 64 || bo > 64 || bw + bo > (8 * trace_type_size(a->type)))
		return spec_fail_str(cx, SE_BAD_BITFIELD, t);
	a->bf_width = (uint8_t)bw;
	a->bf_offset = (uint8_t)bo;
	return 0;
}

/*
 * The kernel's finalize_fetch_insn(): a string reads memory (a dereference,
 * @ADDR, @+FILEOFF, an address given as \IMM, $comm, \"str"); an array
 * needs a dereference; a bitfield must fit its container.
 */
static int finalize(struct spec_ctx *cx, struct trace_arg *a, const struct arg_type *at)
{
	struct trace_fetch *f = &a->fetch;
	char *where = at->t ? at->t : at->body;
	int ret;

	if (f->base == TRACE_B_DWARF) /* the resolver checks the rest, knowing the type */
		return a->is_bitfield ? parse_bitfield(cx, a, at->t) : 0;

	if (trace_type_is_string(a->type)) {
		bool imm = f->base == TRACE_B_IMM && !f->n_deref;

		if (!f->n_deref && !imm && !at->comm_or_str)
			return spec_fail_str(cx, SE_BAD_STRING, where);
		if (imm && a->array_len)
			return spec_fail_str(cx, SE_BAD_STRING, where);
		if (imm) { /* the text at address IMM is what @IMM says */
			f->base = TRACE_B_ADDR;
			f->deref[f->n_deref++] = 0;
		}
	}
	if (a->is_bitfield) {
		ret = parse_bitfield(cx, a, at->t);
		if (ret)
			return ret;
	}
	if (a->array_len && !f->n_deref)
		return spec_fail_str(cx, SE_BAD_STRING, where);
	return 0;
}

static bool name_used(const struct trace_spec *spec, const char *name, int n)
{
	for (size_t i = 0; i < ARRAY_LEN(reserved_names); i++)
		if (!strcmp(name, reserved_names[i]))
			return true;
	for (int i = 0; i < n; i++)
		if (!strcmp(name, spec->args[i].name))
			return true;
	return false;
}

/* NAME= (or the default argN); returns the body. */
static int parse_name(struct spec_ctx *cx, struct trace_arg *a, char *tok, int idx, char **body)
{
	char *eq = strchr(tok, '=');

	if (eq) {
		size_t n = (size_t)(eq - tok);

		if (n > TRACE_MAX_ARG_NAME - 1)
			return spec_fail(cx, SE_ARG_NAME_TOO_LONG, tok, n);
		if (!n)
			return spec_fail(cx, SE_NO_ARG_NAME, tok, 1);
		memcpy(a->name, tok, n);
		a->name[n] = 0;
		*body = eq + 1;
		if (!spec_good_name(a->name))
			return spec_fail(cx, SE_BAD_ARG_NAME, tok, n);
	} else if (!strncmp(tok, "$ustack", 7)) {
		snprintf(a->name, sizeof(a->name), "ustack");
		*body = tok;
	} else {
		snprintf(a->name, sizeof(a->name), "arg%d", idx + 1);
		*body = tok;
		if (spec_is_alpha(tok[0]) || tok[0] == '_')
			return 0; /* a DWARF expression names itself: dwarf_name() */
	}
	if (name_used(cx->spec, a->name, idx))
		return spec_fail(cx, SE_USED_ARG_NAME, tok, eq ? (size_t)(eq - tok) : strlen(tok));
	if (!**body)
		return spec_fail(cx, SE_NO_ARG_BODY, *body, 0);
	return 0;
}

/*
 * The default name of a DWARF fetch-arg: its expression with "->" and "."
 * turned into "_" (req->hdr.len: req_hdr_len), perf probe's way.
 */
static int dwarf_name(struct spec_ctx *cx, struct trace_arg *a, char *tok, int idx)
{
	const char *e = a->fetch.str;
	size_t n = 0;

	for (; *e; e++) {
		if (n == TRACE_MAX_ARG_NAME - 1)
			return spec_fail(cx, SE_ARG_NAME_TOO_LONG, tok, strcspn(tok, ":"));
		if (*e == '-')
			e++;
		a->name[n++] = *e == '>' || *e == '.' ? '_' : *e;
	}
	a->name[n] = 0;
	if (name_used(cx->spec, a->name, idx))
		return spec_fail(cx, SE_USED_ARG_NAME, tok, strcspn(tok, ":"));
	return 0;
}

int spec_parse_arg(struct spec_ctx *cx, char *tok)
{
	struct trace_spec *spec = cx->spec;
	int idx = spec->n_args;
	struct trace_arg *a = &spec->args[idx];
	struct arg_type at;
	char *body = NULL;
	int ret;

	spec->n_args++; /* from now on trace_spec_free() releases what the arg holds */
	ret = parse_name(cx, a, tok, idx, &body);
	if (!ret)
		ret = parse_type(cx, a, body, &at);
	if (ret)
		return ret;
	a->text = strdup(body);
	if (!a->text)
		return -ENOMEM;
	ret = parse_fetch(cx, &a->fetch, body, 0);
	if (!ret && a->fetch.base == TRACE_B_DWARF && body == tok)
		ret = dwarf_name(cx, a, tok, idx);
	if (!ret)
		ret = finalize(cx, a, &at);
	return ret;
}

/* ---- canonical text -------------------------------------------------------------------- */

static void format_base(struct spec_out *o, const struct trace_fetch *f)
{
	switch (f->base) {
	case TRACE_B_REG:
		spec_out_printf(o, "%%%s",
				(unsigned int)f->reg < TRACE_R_COUNT ? arch_trace_regs[f->reg].name : "?");
		return;
	case TRACE_B_ADDR:
		spec_out_printf(o, "@0x%" PRIx64, f->imm);
		return;
	case TRACE_B_FILEOFF:
		spec_out_printf(o, "@+0x%" PRIx64, f->imm);
		return;
	case TRACE_B_STACKN:
		spec_out_printf(o, "$stack%" PRIu64, f->imm);
		return;
	case TRACE_B_STACK:
		spec_out_printf(o, "$stack");
		return;
	case TRACE_B_RETVAL:
		spec_out_printf(o, "$retval");
		return;
	case TRACE_B_COMM:
		spec_out_printf(o, "$comm");
		return;
	case TRACE_B_ARGN:
		spec_out_printf(o, "$arg%" PRIu64, f->imm);
		return;
	case TRACE_B_IMM:
		spec_out_printf(o, "\\0x%" PRIx64, f->imm);
		return;
	case TRACE_B_IMMSTR:
		spec_out_printf(o, "\\\"%s\"", f->str ? f->str : "");
		return;
	case TRACE_B_DWARF:
		spec_out_printf(o, "%s", f->str ? f->str : "");
		return;
	case TRACE_B_USTACK:
		spec_out_printf(o, "$ustack%" PRIu64, f->imm);
		return;
	}
	spec_out_printf(o, "?");
}

/* deref[0] is innermost; the implicit one of @ADDR / @+FILEOFF is not written. */
static void format_fetch(struct spec_out *o, const struct trace_fetch *f)
{
	int first = f->base == TRACE_B_ADDR || f->base == TRACE_B_FILEOFF;
	int n = f->n_deref;

	if (n > TRACE_MAX_DEREF + 1)
		n = TRACE_MAX_DEREF + 1;
	for (int i = n - 1; i >= first; i--) {
		int64_t d = f->deref[i];

		if (d < 0)
			spec_out_printf(o, "-0x%" PRIx64 "(", 0 - (uint64_t)d);
		else
			spec_out_printf(o, "+0x%" PRIx64 "(", (uint64_t)d);
	}
	format_base(o, f);
	for (int i = n - 1; i >= first; i--)
		spec_out_printf(o, ")");
}

void spec_format_arg(struct spec_out *o, const struct trace_arg *a)
{
	spec_out_printf(o, " %.*s=", TRACE_MAX_ARG_NAME - 1, a->name);
	format_fetch(o, &a->fetch);
	/* Unresolved DWARF: a type written out would override the variable's own. */
	if ((a->fetch.base == TRACE_B_DWARF && !a->type_given) || a->type == TRACE_T_USTACK)
		return;
	if (a->is_bitfield)
		spec_out_printf(o, ":b%u@%u/%u", a->bf_width, a->bf_offset, (8 * trace_type_size(a->type)));
	else if ((unsigned int)a->type < ARRAY_LEN(type_names))
		spec_out_printf(o, ":%s", type_names[a->type]);
	else
		spec_out_printf(o, ":?");
	if (a->array_len)
		spec_out_printf(o, "[%u]", a->array_len);
}
