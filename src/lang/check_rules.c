// SPDX-License-Identifier: MIT
/*
 * bpftrace 0.17's rules that the checker applies with bpftrace's own words
 * (tests/lang_uconf, tests/lang/cases): printf's conversions, lhist's bounds,
 * the warnings on operands of different signs and on signed / and %, and the
 * type names its messages use. Split from check.c, which walks the tree.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "lang/lang.h"

/* A value's type as bpftrace 0.17's messages name it. */
const char *lang_type_name(const struct lang_node *n, char *buf, size_t len)
{
	if (n->type == T_STR) {
		snprintf(buf, len, "string[%d]", n->size);
		return buf;
	}
	if (n->type == T_AGG)
		return "count";
	if (n->type == T_USTACK)
		return "ustack";
	if (n->type == T_PROBE)
		return "probe";
	if (n->type == T_NONE)
		return "none";
	return n->is_signed ? "int64" : "unsigned int64";
}

/*
 * printf's conversions as bpftrace 0.17 finds them: "%[-][width][.prec][h|hh|l|ll|z|j]"
 * and one of c s d u x X o p; any other '%' is text ("%i", "%+d" are not
 * conversions there).
 */
int lang_printf_conv(const char *p)
{
	if (p[0] != '%')
		return 0;
	int i = 1;
	if (p[i] == '-')
		i++;
	while (p[i] >= '0' && p[i] <= '9')
		i++;
	if (p[i] == '.') {
		if (p[i + 1] < '0' || p[i + 1] > '9')
			return 0;
		for (i++; p[i] >= '0' && p[i] <= '9'; i++)
			;
	}
	if (p[i] == 'h' || p[i] == 'l')
		i += p[i + 1] == p[i] ? 2 : 1;
	else if (p[i] == 'z' || p[i] == 'j')
		i++;
	return p[i] && strchr("csduxXop", p[i]) ? i + 1 : 0;
}

int lang_printf_convs(const char *fmt, size_t len, enum lang_type *types, int max)
{
	int n = 0;
	for (size_t i = 0; i < len; i++) {
		if (fmt[i] != '%')
			continue;
		if (fmt[i + 1] == '%') {
			i++;
			continue;
		}
		int c = lang_printf_conv(fmt + i);
		if (!c)
			continue;
		if (n < max)
			types[n] = fmt[i + (size_t)c - 1] == 's' ? T_STR : T_INT;
		n++;
		i += (size_t)c - 1;
	}
	return n;
}

/* Conversion i of a format as bpftrace names it: '%', then what follows flags and width. */
void lang_printf_conv_text(const char *fmt, size_t len, int i, char out[16])
{
	for (size_t j = 0; j < len; j++) {
		int c = fmt[j] == '%' && fmt[j + 1] != '%' ? lang_printf_conv(fmt + j) : 0;
		if (fmt[j] == '%' && fmt[j + 1] == '%')
			j++;
		if (!c)
			continue;
		if (i-- == 0) {
			size_t k = 1;
			while (fmt[j + k] == '-' || fmt[j + k] == '.' ||
			       (fmt[j + k] >= '0' && fmt[j + k] <= '9'))
				k++;
			snprintf(out, 16, "%%%.*s", (int)((size_t)c - k), fmt + j + k);
			return;
		}
		j += (size_t)c - 1;
	}
	snprintf(out, 16, "%%");
}

/* An integer literal or its negation (lhist's bounds); -(-2^63) is -2^63, as bpftrace's. */
int64_t lang_literal_value(const struct lang_node *n)
{
	return n->kind == N_INT ? n->ival : (int64_t)(0 - (uint64_t)n->kids[0]->ival);
}

/* a - b wrapped to 64 bits, as bpftrace's bounds checks compute it (not UB here) */
static int64_t wrap_sub(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

/* lhist's literal bounds, with bpftrace 0.17's messages: each broken rule is said. */
bool lang_lhist_bounds_bad(struct lang_src *src, struct lang_pos pos, int64_t mn, int64_t mx,
			   int64_t st)
{
	bool bad = st < 1;
	if (bad)
		lang_error(src, pos, "lhist() step must be >= 1 (%" PRId64 " provided)", st);
	if (st >= 1 && wrap_sub(mx, mn) / st > 1000) {
		lang_error(src, pos,
			   "lhist() too many buckets, must be <= 1000 (would need %" PRId64 ")",
			   wrap_sub(mx, mn) / st);
		bad = true;
	}
	if (mn < 0) {
		lang_error(src, pos, "lhist() min must be non-negative (provided min %" PRId64 ")",
			   mn);
		bad = true;
	}
	if (mn > mx) {
		lang_error(src, pos,
			   "lhist() min must be less than max (provided min %" PRId64
			   " and max %" PRId64 ")",
			   mn, mx);
		bad = true;
	}
	if (wrap_sub(mx, mn) < st) {
		lang_error(src, pos,
			   "lhist() step is too large for the given range (provided step %" PRId64
			   " for range %" PRId64 ")",
			   st, wrap_sub(mx, mn));
		bad = true;
	}
	return bad;
}

static bool nonneg_literal(const struct lang_node *n)
{
	return n->kind == N_INT || (n->kind == N_UNOP && n->op == '-' &&
				    n->kids[0]->kind == N_INT && !n->kids[0]->ival);
}

/* bpftrace 0.17's warnings on integer operands of different signs, and on signed / and %. */
void lang_sign_warnings(struct lang_src *src, const struct lang_node *n, const struct lang_node *l,
			const struct lang_node *r)
{
	bool ls = l->is_signed, rs = r->is_signed,
	     cmp = n->op == OP_EQ || n->op == OP_NE || n->op == OP_LE || n->op == OP_GE ||
		   n->op == OP_LT || n->op == OP_GT;
	bool arith = n->op == OP_ADD || n->op == OP_SUB || n->op == OP_MUL || n->op == OP_DIV ||
		     n->op == OP_MOD;
	char a[32], b[32];
	if (ls && !rs && nonneg_literal(l))
		ls = false;
	else if (!ls && rs && nonneg_literal(r))
		rs = false;
	else if (ls != rs && (cmp || arith))
		lang_warning(src, n->op_pos,
			     "%s integers of different signs: '%s' and '%s' can lead to undefined "
			     "behavior",
			     cmp ? "comparison of" : "arithmetic on",
			     lang_type_name(l, a, sizeof(a)), lang_type_name(r, b, sizeof(b)));
	if (n->op != OP_DIV && n->op != OP_MOD)
		return;
	if ((ls && !nonneg_literal(l)) || (rs && !nonneg_literal(r)))
		lang_warning(src, n->op_pos,
			     "signed operands for '%s' can lead to undefined behavior (cast to "
			     "unsigned to silence warning)",
			     lang_op_name(n->op));
}
