/* SPDX-License-Identifier: MIT */
/*
 * Private to trace/spec: shared by the parser's files (spec.c: the probe
 * line; spec_args.c: the fetch-args; spec_num.c: numbers and errors;
 * spec_sdt.c, usdt.c: SDT markers). Other layers include trace/spec/spec.h.
 */
#ifndef UPROBES_TRACE_SPEC_PARSE_H
#define UPROBES_TRACE_SPEC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trace/spec/spec.h"
#include "uprobes_trace.h"

/* PARAM_MAX_STACK of the kernel (THREAD_SIZE / sizeof(long) on x86-64): the largest $argN. */
#define SPEC_MAX_ARGN 2048

/*
 * Every error the parser reports. The first group carries the kernel's
 * wording (kernel/trace/trace_probe.h, ERRORS()); the second is ours, for
 * what the kernel refuses silently or what only our extensions can get wrong.
 */
enum spec_err {
	SE_NO_GROUP_NAME,
	SE_GROUP_TOO_LONG,
	SE_BAD_GROUP_NAME,
	SE_NO_EVENT_NAME,
	SE_EVENT_TOO_LONG,
	SE_BAD_EVENT_NAME,
	SE_BAD_REFCNT,
	SE_REFCNT_OPEN_BRACE,
	SE_BAD_REFCNT_SUFFIX,
	SE_BAD_UPROBE_OFFS,
	SE_BAD_PROBE_ADDR,
	SE_BAD_RETPROBE,
	SE_BAD_ADDR_SUFFIX,
	SE_RETVAL_ON_PROBE,
	SE_BAD_STACK_NUM,
	SE_BAD_ARG_NUM,
	SE_BAD_VAR,
	SE_BAD_REG_NAME,
	SE_BAD_MEM_ADDR,
	SE_BAD_IMM,
	SE_IMMSTR_NO_CLOSE,
	SE_BAD_FILE_OFFS,
	SE_SYM_ON_UPROBE,
	SE_TOO_MANY_OPS,
	SE_DEREF_NEED_BRACE,
	SE_BAD_DEREF_OFFS,
	SE_DEREF_OPEN_BRACE,
	SE_COMM_CANT_DEREF,
	SE_BAD_FETCH_ARG,
	SE_ARRAY_NO_CLOSE,
	SE_BAD_ARRAY_SUFFIX,
	SE_BAD_ARRAY_NUM,
	SE_ARRAY_TOO_BIG,
	SE_BAD_TYPE,
	SE_BAD_STRING,
	SE_BAD_BITFIELD,
	SE_ARG_NAME_TOO_LONG,
	SE_NO_ARG_NAME,
	SE_BAD_ARG_NAME,
	SE_USED_ARG_NAME,
	SE_NO_ARG_BODY,
	SE_NOSUP_BTFARG,
	SE_NEED_STRING_TYPE,
	SE_TOO_MANY_ARGS,
	/* ours */
	SE_EMPTY,
	SE_BAD_PROBE_TYPE,
	SE_NO_PROBE_POINT,
	SE_BAD_PROBE_POINT,
	SE_NO_PATH,
	SE_REG_NOT_USER,
	SE_ARGN_ON_RETPROBE,
	SE_BAD_DELETE,
	SE_DELETE_ARGS,
	SE_IMMSTR_TOO_LONG,
	SE_DWARF_BAD_EXPR,
	SE_DWARF_ON_RETPROBE,
	SE_DWARF_DEREF,
	SE_BAD_SDT,
	SE_SDT_RETPROBE,
	SE_BAD_USTACK_NUM,
	SE_USTACK_TYPE,
	SE_USTACK_DEREF,
	SE_COUNT
};

/*
 * One parse. buf is a writable copy of line: the parser cuts it with NULs
 * the way the kernel cuts its argv, and a pointer into buf minus buf is the
 * column of the same character in line (which keeps the original text for
 * error tokens).
 */
struct spec_ctx {
	const char *line;
	char *buf;
	size_t len; /* strlen(line) */
	struct trace_error *err;
	struct trace_spec *spec;
};

/* Fill cx->err for the text [at, at + len) of buf; returns -EINVAL or -E2BIG. */
int spec_fail(struct spec_ctx *cx, enum spec_err code, const char *at, size_t len);
/* Same, the token being the rest of the NUL-terminated piece of buf at at. */
int spec_fail_str(struct spec_ctx *cx, enum spec_err code, const char *at);

/*
 * Numbers as the kernel's kstrto*() read them (0/-EINVAL/-ERANGE): base 0
 * means "0x" hex, leading-0 octal, else decimal; the whole string must be
 * digits. spec_kstrtoull takes one leading '+', spec_kstrtoll a '+' or '-'.
 */
int spec_strtoull_nosign(const char *s, unsigned int base, uint64_t *out);
int spec_kstrtoull(const char *s, unsigned int base, uint64_t *out);
int spec_kstrtoll(const char *s, unsigned int base, int64_t *out);
/* simple_strtoul(): digits up to the first non-digit, *end after them; saturates. */
uint64_t spec_simple_strtoull(const char *s, unsigned int base, const char **end);

/* ASCII classes (no locale: a spec means the same everywhere). */
static inline bool spec_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline bool spec_is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool spec_is_space(char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

/* The kernel's is_good_name(): a C identifier. */
bool spec_good_name(const char *s);

/* sdt:PROVIDER:NAME or usdt:PATH:PROVIDER:NAME (spec_sdt.c); word is cut in place. */
bool spec_is_sdt(const char *word);
int spec_parse_sdt(struct spec_ctx *cx, char *word);

/* Parse the fetch-arg token tok ([NAME=]FETCHARG[:TYPE]) into a new arg of cx->spec. */
int spec_parse_arg(struct spec_ctx *cx, char *tok);

/* " NAME=FETCHARG:TYPE[N]" */
void spec_format_arg(struct spec_out *o, const struct trace_arg *a);

#endif
