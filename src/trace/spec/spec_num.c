/* SPDX-License-Identifier: MIT */
/*
 * The spec parser's small parts: its error table, numbers read the way the
 * kernel's kstrto*() and simple_strtoul() read them (so that a line the
 * kernel accepts means the same here), names, and snprintf-style output.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "trace/spec/parse.h"

struct spec_err_desc {
	const char *msg;
	int err; /* positive errno */
};

static const struct spec_err_desc spec_errs[SE_COUNT] = {
	[SE_NO_GROUP_NAME] = { "Group name is not specified", EINVAL },
	[SE_GROUP_TOO_LONG] = { "Group name is too long", E2BIG },
	[SE_BAD_GROUP_NAME] = { "Group name must follow the same rules as C identifiers", EINVAL },
	[SE_NO_EVENT_NAME] = { "Event name is not specified", EINVAL },
	[SE_EVENT_TOO_LONG] = { "Event name is too long", E2BIG },
	[SE_BAD_EVENT_NAME] = { "Event name must follow the same rules as C identifiers", EINVAL },
	[SE_BAD_REFCNT] = { "Invalid reference counter offset", EINVAL },
	[SE_REFCNT_OPEN_BRACE] = { "Reference counter brace is not closed", EINVAL },
	[SE_BAD_REFCNT_SUFFIX] = { "Reference counter has wrong suffix", EINVAL },
	[SE_BAD_UPROBE_OFFS] = { "Invalid uprobe offset", EINVAL },
	[SE_BAD_PROBE_ADDR] = { "Invalid probed address or symbol", EINVAL },
	[SE_BAD_RETPROBE] = { "Retprobe address must be an function entry", EINVAL },
	[SE_BAD_ADDR_SUFFIX] = { "Invalid probed address suffix", EINVAL },
	[SE_RETVAL_ON_PROBE] = { "$retval is not available on probe", EINVAL },
	[SE_BAD_STACK_NUM] = { "Invalid stack number", EINVAL },
	[SE_BAD_ARG_NUM] = { "Invalid argument number", EINVAL },
	[SE_BAD_VAR] = { "Invalid $-valiable specified", EINVAL }, /* sic, as the kernel */
	[SE_BAD_REG_NAME] = { "Invalid register name", EINVAL },
	[SE_BAD_MEM_ADDR] = { "Invalid memory address", EINVAL },
	[SE_BAD_IMM] = { "Invalid immediate value", EINVAL },
	[SE_IMMSTR_NO_CLOSE] = { "String is not closed with '\"'", EINVAL },
	[SE_BAD_FILE_OFFS] = { "Invalid file offset value", EINVAL },
	[SE_SYM_ON_UPROBE] = { "Symbol is not available with uprobe", EINVAL },
	[SE_TOO_MANY_OPS] = { "Dereference is too much nested", E2BIG },
	[SE_DEREF_NEED_BRACE] = { "Dereference needs a brace", EINVAL },
	[SE_BAD_DEREF_OFFS] = { "Invalid dereference offset", EINVAL },
	[SE_DEREF_OPEN_BRACE] = { "Dereference brace is not closed", EINVAL },
	[SE_COMM_CANT_DEREF] = { "$comm can not be dereferenced", EINVAL },
	[SE_BAD_FETCH_ARG] = { "Invalid fetch argument", EINVAL },
	[SE_ARRAY_NO_CLOSE] = { "Array is not closed", EINVAL },
	[SE_BAD_ARRAY_SUFFIX] = { "Array has wrong suffix", EINVAL },
	[SE_BAD_ARRAY_NUM] = { "Invalid array size", EINVAL },
	[SE_ARRAY_TOO_BIG] = { "Array number is too big", E2BIG },
	[SE_BAD_TYPE] = { "Unknown type is specified", EINVAL },
	[SE_BAD_STRING] = { "String accepts only memory argument", EINVAL },
	[SE_BAD_BITFIELD] = { "Invalid bitfield", EINVAL },
	[SE_ARG_NAME_TOO_LONG] = { "Argument name is too long", E2BIG },
	[SE_NO_ARG_NAME] = { "Argument name is not specified", EINVAL },
	[SE_BAD_ARG_NAME] = { "Argument name must follow the same rules as C identifiers", EINVAL },
	[SE_USED_ARG_NAME] = { "This argument name is already used", EINVAL },
	[SE_NO_ARG_BODY] = { "No argument expression", EINVAL },
	[SE_NOSUP_BTFARG] = { "BTF is not available or not supported", EINVAL },
	[SE_NEED_STRING_TYPE] = { "$comm and immediate-string only accepts string type", EINVAL },
	[SE_TOO_MANY_ARGS] = { "Too many arguments are specified", E2BIG },
	[SE_EMPTY] = { "Empty probe definition", EINVAL },
	[SE_BAD_PROBE_TYPE] = { "Unknown probe type (expected p, r, -, uprobe: or uretprobe:)",
				EINVAL },
	[SE_NO_PROBE_POINT] = { "Probe point is not specified", EINVAL },
	[SE_BAD_PROBE_POINT] = { "Probe point must be PATH:OFFSET or PATH:SYMBOL[+OFF]", EINVAL },
	[SE_NO_PATH] = { "File path is not specified", EINVAL },
	[SE_REG_NOT_USER] = { "Register is not available to user-space probes", EINVAL },
	[SE_ARGN_ON_RETPROBE] = { "$argN is only available at function entry", EINVAL },
	[SE_BAD_DELETE] = { "Delete must be -:[GRP/]EVENT", EINVAL },
	[SE_DELETE_ARGS] = { "Delete takes no other argument", EINVAL },
	[SE_IMMSTR_TOO_LONG] = { "Immediate string is too long", E2BIG },
	[SE_DWARF_BAD_EXPR] = { "Invalid DWARF expression (NAME, NAME->MEMBER, NAME.MEMBER)",
				EINVAL },
	[SE_DWARF_ON_RETPROBE] = { "DWARF variables are not available on a return probe",
				   EINVAL },
	[SE_DWARF_DEREF] = { "A DWARF variable can not be dereferenced; use -> or .", EINVAL },
	[SE_BAD_SDT] = { "SDT marker must be sdt:PROVIDER:NAME or usdt:PATH:PROVIDER:NAME",
			 EINVAL },
	[SE_SDT_RETPROBE] = { "An SDT marker has no return probe", EINVAL },
	[SE_BAD_USTACK_NUM] = { "$ustackN takes 1 to 127 frames", EINVAL },
	[SE_USTACK_TYPE] = { "$ustack has no type", EINVAL },
	[SE_USTACK_DEREF] = { "$ustack can not be dereferenced", EINVAL },
};

int spec_fail(struct spec_ctx *cx, enum spec_err code, const char *at, size_t len)
{
	const struct spec_err_desc *d = &spec_errs[code];
	struct trace_error *e = cx->err;
	size_t col = at && at >= cx->buf ? (size_t)(at - cx->buf) : 0;

	if (col > cx->len)
		col = cx->len;
	if (len > cx->len - col)
		len = cx->len - col;
	if (len > sizeof(e->token) - 1)
		len = sizeof(e->token) - 1;
	e->column = (int)col;
	memcpy(e->token, cx->line + col, len);
	e->token[len] = 0;
	snprintf(e->msg, sizeof(e->msg), "%s", d->msg);
	return -d->err;
}

int spec_fail_str(struct spec_ctx *cx, enum spec_err code, const char *at)
{
	return spec_fail(cx, code, at, strlen(at));
}

static int digit_value(char c)
{
	if (spec_is_digit(c))
		return c - '0';
	if ((c | 0x20) >= 'a' && (c | 0x20) <= 'f')
		return (c | 0x20) - 'a' + 10;
	return 99;
}

/* The kernel's _parse_integer_fixup_radix(). */
static const char *fixup_radix(const char *s, unsigned int *base)
{
	bool hex_prefix = s[0] == '0' && (s[1] | 0x20) == 'x';

	if (*base == 0) {
		if (hex_prefix && digit_value(s[2]) < 16)
			*base = 16;
		else if (s[0] == '0')
			*base = 8;
		else
			*base = 10;
	}
	if (*base == 16 && hex_prefix)
		s += 2;
	return s;
}

/* Digits of s in base: their count, the value in *out, *overflow when it did not fit. */
static size_t parse_digits(const char *s, unsigned int base, uint64_t *out, bool *overflow)
{
	uint64_t v = 0;
	size_t n = 0;

	*overflow = false;
	for (; s[n]; n++) {
		unsigned int d = (unsigned int)digit_value(s[n]);

		if (d >= base)
			break;
		if (v > (UINT64_MAX - d) / base)
			*overflow = true;
		v = v * base + d;
	}
	*out = v;
	return n;
}

int spec_strtoull_nosign(const char *s, unsigned int base, uint64_t *out)
{
	bool overflow;
	uint64_t v;
	size_t n;

	s = fixup_radix(s, &base);
	n = parse_digits(s, base, &v, &overflow);
	if (overflow)
		return -ERANGE;
	if (!n || s[n])
		return -EINVAL;
	*out = v;
	return 0;
}

int spec_kstrtoull(const char *s, unsigned int base, uint64_t *out)
{
	if (s[0] == '+')
		s++;
	return spec_strtoull_nosign(s, base, out);
}

int spec_kstrtoll(const char *s, unsigned int base, int64_t *out)
{
	uint64_t v;
	int ret;

	if (s[0] == '-') {
		ret = spec_strtoull_nosign(s + 1, base, &v);
		if (ret)
			return ret;
		if (v > (uint64_t)INT64_MAX + 1)
			return -ERANGE;
		*out = (int64_t)(0 - v);
		return 0;
	}
	ret = spec_kstrtoull(s, base, &v);
	if (ret)
		return ret;
	if (v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*out = (int64_t)v;
	return 0;
}

uint64_t spec_simple_strtoull(const char *s, unsigned int base, const char **end)
{
	bool overflow;
	uint64_t v;
	size_t n;

	s = fixup_radix(s, &base);
	n = parse_digits(s, base, &v, &overflow);
	*end = s + n;
	return overflow ? UINT64_MAX : v;
}

bool spec_good_name(const char *s)
{
	if (!spec_is_alpha(*s) && *s != '_')
		return false;
	while (*++s)
		if (!spec_is_alpha(*s) && !spec_is_digit(*s) && *s != '_')
			return false;
	return true;
}

void spec_out_printf(struct spec_out *o, const char *fmt, ...)
{
	size_t room = o->pos < o->len ? o->len - o->pos : 0;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->pos : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->pos += (size_t)n;
}
