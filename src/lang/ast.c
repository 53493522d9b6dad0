// SPDX-License-Identifier: MIT
/*
 * The AST: nodes, their dump in the shape of bpftrace's `-d` ("AST after:
 * parser", without its types), and diagnostics in bpftrace's shape:
 *   stdin:1:14-17: ERROR: Unknown function: foo
 *   BEGIN { @x = foo(1); }
 *                ~~~
 */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

struct lang_node *node_new(enum lang_kind kind, struct lang_pos pos)
{
	struct lang_node *n = calloc(1, sizeof(*n));
	if (!n)
		abort(); /* the tracer's front end: no way to go on without memory */
	n->kind = kind;
	n->pos = pos;
	return n;
}

void node_add(struct lang_node *n, struct lang_node *kid)
{
	if (!kid)
		return;
	if (!(n->nkids & (n->nkids - 1)) || !n->kids) {
		size_t cap = n->nkids ? (size_t)n->nkids * 2 : 2;
		n->kids = realloc(n->kids, cap * sizeof(*n->kids));
		if (!n->kids)
			abort();
	}
	n->kids[n->nkids++] = kid;
}

void node_free(struct lang_node *n)
{
	if (!n)
		return;
	for (int i = 0; i < n->nkids; i++)
		node_free(n->kids[i]);
	free(n->kids);
	free(n->str);
	free(n);
}

struct lang_node *node_clone(const struct lang_node *n)
{
	struct lang_node *c = node_new(n->kind, n->pos);
	c->op = n->op;
	c->ival = n->ival;
	if (n->str) {
		size_t len = n->kind == N_STR ? (size_t)n->ival : strlen(n->str);
		c->str = malloc(len + 1);
		memcpy(c->str, n->str, len + 1);
	}
	for (int i = 0; i < n->nkids; i++)
		node_add(c, node_clone(n->kids[i]));
	return c;
}

const char *lang_op_name(int op)
{
	switch (op) {
	case OP_EQ:
		return "==";
	case OP_NE:
		return "!=";
	case OP_LE:
		return "<=";
	case OP_GE:
		return ">=";
	case OP_SHL:
		return "<<";
	case OP_SHR:
		return ">>";
	case OP_LAND:
		return "&&";
	case OP_LOR:
		return "||";
	case OP_ADD:
		return "+";
	case OP_SUB:
		return "-";
	case OP_MUL:
		return "*";
	case OP_DIV:
		return "/";
	case OP_MOD:
		return "%";
	case OP_LT:
		return "<";
	case OP_GT:
		return ">";
	case OP_AND:
		return "&";
	case OP_OR:
		return "|";
	case OP_XOR:
		return "^";
	case OP_NOT:
		return "!";
	case OP_BNOT:
		return "~";
	default:
		return "?";
	}
}

static void put_escaped(const char *s, size_t len, FILE *out)
{
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '"')
			fputs("\\\"", out);
		else if (c == '\\')
			fputs("\\\\", out);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\x%02x", c);
		else
			fputc(c, out);
	}
}

static void dump(const struct lang_node *n, int depth, FILE *out);

static void dump_kids(const struct lang_node *n, int from, int depth, FILE *out)
{
	for (int i = from; i < n->nkids; i++)
		dump(n->kids[i], depth, out);
}

static void dump(const struct lang_node *n, int depth, FILE *out)
{
	if (n->kind == N_INCDEC && !n->ival) { /* the operand, the operator below it */
		dump(n->kids[0], depth, out);
		fprintf(out, "%*s%c%c\n", depth + 1, "", n->op, n->op);
		return;
	}
	fprintf(out, "%*s", depth, "");
	switch (n->kind) {
	case N_PROGRAM:
		fputs("Program\n", out);
		return dump_kids(n, 0, depth + 1, out);
	case N_PROBE:
		for (int i = 0; i < n->nkids && n->kids[i]->kind == N_STR; i++)
			fprintf(out, "%*s%s\n", i ? depth : 0, "", n->kids[i]->str);
		for (int i = 0; i < n->nkids; i++) {
			const struct lang_node *k = n->kids[i];
			if (k->kind == N_PRED)
				dump(k, depth + 1, out);
			else if (k->kind == N_BLOCK)
				dump_kids(k, 0, depth + 1, out);
		}
		return;
	case N_PRED:
		fputs("pred\n", out);
		return dump_kids(n, 0, depth + 1, out);
	case N_IF:
		fputs("if\n", out);
		dump(n->kids[0], depth + 1, out);
		fprintf(out, "%*sthen\n", depth + 1, "");
		if (n->nkids > 1)
			dump_kids(n->kids[1], 0, depth + 2, out);
		if (n->nkids > 2) {
			fprintf(out, "%*selse\n", depth + 1, "");
			dump_kids(n->kids[2], 0, depth + 2, out);
		}
		return;
	case N_BLOCK:
		fputs("block\n", out);
		return dump_kids(n, 0, depth + 1, out);
	case N_ASSIGN:
		fputs("=\n", out);
		return dump_kids(n, 0, depth + 1, out);
	case N_INT:
		fprintf(out, "int: %lld\n", (long long)n->ival);
		return;
	case N_STR:
		fputs("string: ", out);
		put_escaped(n->str, (size_t)n->ival, out);
		fputc('\n', out);
		return;
	case N_BUILTIN: /* ustack(...) (op 1) was a call, its mode (op 2) a stack_mode */
		fprintf(out, "%s: %s\n", n->op == 1 ? "call" : n->op == 2 ? "stack_mode" : "builtin",
			n->str);
		if (n->op == 1)
			return dump_kids(n, 0, depth + 1, out);
		return;
	case N_VAR:
		fprintf(out, "variable: %s\n", n->str);
		return;
	case N_MAP:
		fprintf(out, "map: %s\n", n->str);
		return dump_kids(n, 0, depth + 1, out);
	case N_CALL:
		fprintf(out, "call: %s\n", n->str);
		return dump_kids(n, 0, depth + 1, out);
	case N_BINOP:
	case N_UNOP:
		fprintf(out, "%s\n", lang_op_name(n->op));
		return dump_kids(n, 0, depth + 1, out);
	case N_INCDEC:
		if (n->ival) {
			fprintf(out, "%c%c\n", n->op, n->op);
			return dump_kids(n, 0, depth + 1, out);
		}
		return; /* postfix: above */
	case N_TERNARY:
		fputs("?:\n", out);
		return dump_kids(n, 0, depth + 1, out);
	case N_CAST:
		fprintf(out, "(%s)\n", n->str);
		return dump_kids(n, 0, depth + 1, out);
	case N_FIELD:
		fputs(".\n", out);
		dump_kids(n, 0, depth + 1, out);
		fprintf(out, "%*s%s\n", depth + 1, "", n->str);
		return;
	case N_DEREF:
		fputs("dereference\n", out);
		return dump_kids(n, 0, depth + 1, out);
	}
}

void lang_ast_dump(const struct lang_node *n, FILE *out)
{
	dump(n, 0, out);
}

/* The smallest power of two >= n (n >= 1). */
static size_t pow2_at_least(size_t n)
{
	size_t c = 64;
	while (c < n)
		c *= 2;
	return c;
}

/*
 * The buffer's size is always pow2_at_least(diag_len + 1), so it grows by
 * doubling: a message's '~' and ' ' go in one byte at a time, and a realloc
 * for each made a long line's messages quadratic (fuzz_lang: 750 bytes of
 * bad strings took 0.8 s and 400 MB under ASan).
 */
static void diag_append(struct lang_src *src, const char *s, size_t len)
{
	size_t want = pow2_at_least(src->diag_len + len + 1);
	char *d = src->diag;
	if (!d || want != pow2_at_least(src->diag_len + 1))
		d = realloc(src->diag, want);
	if (!d)
		abort();
	memcpy(d + src->diag_len, s, len);
	src->diag_len += len;
	d[src->diag_len] = 0;
	src->diag = d;
}

/* Line `line` (1-based) of the source, without its newline. */
static const char *source_line(const struct lang_src *src, int line, size_t *len)
{
	const char *p = src->text;
	for (int i = 1; i < line && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		p = "";
	*len = strcspn(p, "\n");
	return p;
}

static void diag(struct lang_src *src, const char *kind, struct lang_pos pos, const char *fmt,
		 va_list ap)
{
	char msg[512];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	for (char *c = msg; *c;
	     c++) /* a message is one line: names from the input may hold any byte */
		if ((unsigned char)*c < 0x20)
			*c = '?';
	if (pos.line < 1)
		pos.line = 1;
	if (pos.col < 1)
		pos.col = 1;
	if (pos.end <= pos.col) /* at least one ~ */
		pos.end = pos.col + 1;
	char *head = NULL;
	int n = asprintf(&head, "%s:%d:%d-%d: %s: %s\n", src->name, pos.line, pos.col, pos.end,
			 kind, msg);
	if (n < 0)
		abort();
	diag_append(src, head, (size_t)n);
	free(head);
	size_t len;
	const char *line = source_line(src, pos.line, &len);
	diag_append(src, line, len);
	diag_append(src, "\n", 1);
	for (int i = 1; i < pos.col && i <= (int)len + 1; i++)
		diag_append(src, line[i - 1] == '\t' ? "\t" : " ", 1);
	for (int i = pos.col; i < pos.end; i++)
		diag_append(src, "~", 1);
	diag_append(src, "\n", 1);
}

void lang_error(struct lang_src *src, struct lang_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag(src, "ERROR", pos, fmt, ap);
	va_end(ap);
	src->nerrors++;
}

void lang_warning(struct lang_src *src, struct lang_pos pos, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag(src, "WARNING", pos, fmt, ap);
	va_end(ap);
}
