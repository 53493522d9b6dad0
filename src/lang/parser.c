// SPDX-License-Identifier: MIT
/*
 * The parser: bpftrace 0.17's grammar (its parser.yy) for the subset in
 * docs/language.md, by recursive descent with bpftrace's operator precedence.
 * The first syntax error stops it, worded as bison words it ("syntax error,
 * unexpected map, expecting }") at the offending token's position.
 */
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

struct parser {
	struct lang_src *src;
	struct lang_lexer lx;
	struct lang_token tok;
	bool failed;
	int no_div; /* inside a predicate's slashes, outside parentheses */
	int depth;
	struct lang_pos prev; /* the token before: bison's place for end of file */
};

/* Nesting bound: a hostile program of 10,000 '(' must not exhaust the stack. */
#define PARSE_MAX_DEPTH 200

static const char *const calls[] = {
	"printf",  "count",    "sum",	   "avg",   "min",    "max",   "stats",	   "hist",
	"lhist",   "delete",   "exit",	   "str",   "print",  "clear", "zero",	   "time",
	"join",	   "ksym",     "usym",	   "kaddr", "uaddr",  "reg",   "system",   "cat",
	"signal",  "strncmp",  "override", "buf",   "sizeof", "ntop",  "cgroupid", "macaddr",
	"unwatch", "strftime", "path",	   "uptr",  "kptr",   NULL,
};
static const char *const builtins[] = {
	"pid",	    "tid",    "uid",	"gid",	"nsecs",  "elapsed", "cpu",  "comm",
	"kstack",   "ustack", "retval", "func", "probe",  "curtask", "rand", "ctx",
	"username", "args",   "cgroup", "cpid", "numaid", NULL,
};

static bool in_list(const char *const *l, const char *s)
{
	for (; *l; l++)
		if (!strcmp(*l, s))
			return true;
	return false;
}

bool lang_is_builtin(const char *s)
{
	if ((!strncmp(s, "arg", 3) || !strncmp(s, "sarg", 4)) && s[s[0] == 's' ? 4 : 3] >= '0' &&
	    s[s[0] == 's' ? 4 : 3] <= '9' && !s[(s[0] == 's' ? 4 : 3) + 1])
		return true;
	return in_list(builtins, s);
}

bool lang_is_call(const char *s)
{
	return in_list(calls, s);
}

static void next(struct parser *ps)
{
	ps->prev = ps->tok.pos;
	lexer_next(&ps->lx, &ps->tok);
	if (ps->tok.kind == TK_ERROR)
		ps->failed = true;
}

static const char *tok_name(const struct lang_token *t, char *buf, size_t len)
{
	switch (t->kind) {
	case TK_EOF:
		return "end of file";
	case TK_INT:
		return "integer";
	case TK_STR:
		return "string";
	case TK_MAP:
		return "map";
	case TK_VAR:
		return "variable";
	case TK_IDENT:
		if (lang_is_builtin(t->text))
			return "builtin";
		if (lang_is_call(t->text))
			return "call";
		if (!strcmp(t->text, "if") || !strcmp(t->text, "else") ||
		    !strcmp(t->text, "unroll") || !strcmp(t->text, "return") ||
		    !strcmp(t->text, "while"))
			return t->text;
		return "identifier";
	default:
		if (!strcmp(t->text, ","))
			return "\",\"";
		snprintf(buf, len, "%s", t->text);
		return buf;
	}
}

/* bison's message; `expect` may be NULL. */
static void syntax_error(struct parser *ps, const char *expect)
{
	if (ps->failed)
		return;
	ps->failed = true;
	char buf[16];
	struct lang_pos pos = ps->tok.pos;
	if (ps->tok.kind == TK_EOF)
		pos = ps->prev.line ? ps->prev : (struct lang_pos){1, 1, 2};
	if (expect)
		lang_error(ps->src, pos, "syntax error, unexpected %s, expecting %s",
			   tok_name(&ps->tok, buf, sizeof(buf)), expect);
	else
		lang_error(ps->src, pos, "syntax error, unexpected %s",
			   tok_name(&ps->tok, buf, sizeof(buf)));
}

static bool is(const struct parser *ps, const char *punct)
{
	return ps->tok.kind == TK_PUNCT && !strcmp(ps->tok.text, punct);
}

static bool is_word(const struct parser *ps, const char *w)
{
	return ps->tok.kind == TK_IDENT && !strcmp(ps->tok.text, w);
}

static bool expect(struct parser *ps, const char *punct, const char *hint)
{
	if (!is(ps, punct)) {
		syntax_error(ps, hint);
		return false;
	}
	next(ps);
	return true;
}

static struct lang_pos span(struct lang_pos a, struct lang_pos b)
{
	if (b.line == a.line && b.end > a.end)
		a.end = b.end;
	return a;
}

static struct lang_node *expr(struct parser *ps, int min_prec);

/* bpftrace's precedence (parser.yy), higher binds tighter. */
static int binop_prec(const struct parser *ps, int *op)
{
	static const struct {
		const char *text;
		int op, prec;
	} ops[] = {
		{"||", OP_LOR, 2}, {"&&", OP_LAND, 3}, {"|", OP_OR, 4},	  {"^", OP_XOR, 5},
		{"&", OP_AND, 6},  {"==", OP_EQ, 7},   {"!=", OP_NE, 7},  {"<", OP_LT, 8},
		{">", OP_GT, 8},   {"<=", OP_LE, 8},   {">=", OP_GE, 8},  {"<<", OP_SHL, 9},
		{">>", OP_SHR, 9}, {"+", OP_ADD, 10},  {"-", OP_SUB, 10}, {"*", OP_MUL, 11},
		{"/", OP_DIV, 11}, {"%", OP_MOD, 11},
	};
	if (ps->tok.kind != TK_PUNCT)
		return -1;
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (!strcmp(ps->tok.text, ops[i].text)) {
			if (ops[i].op == OP_DIV && ps->no_div)
				return -1;
			*op = ops[i].op;
			return ops[i].prec;
		}
	}
	return -1;
}

static const char *const cast_types[] = {
	"int8",	  "int16", "int32", "int64", "uint8", "uint16",	  "uint32",
	"uint64", "int",   "char",  "short", "long",  "unsigned", NULL,
};

/* "(" TYPE ")" ahead? Looks without consuming. */
static bool cast_ahead(struct parser *ps)
{
	struct lang_lexer save = ps->lx;
	struct lang_token t;
	lexer_next(&save, &t);
	if (t.kind != TK_IDENT || !in_list(cast_types, t.text))
		return false;
	lexer_next(&save, &t);
	return t.kind == TK_PUNCT && !strcmp(t.text, ")");
}

static struct lang_node *call_args(struct parser *ps, struct lang_node *n, const char *close)
{
	if (is(ps, close)) {
		n->pos = span(n->pos, ps->tok.pos);
		next(ps);
		return n;
	}
	for (;;) {
		struct lang_node *a = expr(ps, 0);
		if (!a)
			return n;
		node_add(n, a);
		if (is(ps, ",")) {
			next(ps);
			continue;
		}
		if (!is(ps, close)) {
			syntax_error(ps, !strcmp(close, "]") ? "] or \",\"" : ") or \",\"");
			return n;
		}
		n->pos = span(n->pos, ps->tok.pos);
		next(ps);
		return n;
	}
}

static struct lang_node *primary(struct parser *ps)
{
	struct lang_token t = ps->tok;
	struct lang_node *n;
	switch (t.kind) {
	case TK_INT:
		n = node_new(N_INT, t.pos);
		n->ival = t.ival;
		next(ps);
		return n;
	case TK_STR:
		n = node_new(N_STR, t.pos);
		n->str = malloc((size_t)t.ival + 1);
		memcpy(n->str, t.text, (size_t)t.ival + 1);
		n->ival = t.ival; /* length: the text may hold NULs */
		next(ps);
		return n;
	case TK_VAR:
		n = node_new(N_VAR, t.pos);
		n->str = strdup(t.text);
		next(ps);
		return n;
	case TK_MAP:
		n = node_new(N_MAP, t.pos);
		n->str = strdup(t.text);
		next(ps);
		if (is(ps, "[")) {
			next(ps);
			if (is(ps, "]")) {
				syntax_error(ps, NULL);
				return n;
			}
			call_args(ps, n, "]");
		}
		return n;
	case TK_IDENT:
		next(ps);
		if (is(ps, "(")) {
			n = node_new(N_CALL, t.pos);
			n->str = strdup(t.text);
			next(ps);
			return call_args(ps, n, ")");
		}
		if (lang_is_call(t.text)) { /* exit, print... without arguments */
			n = node_new(N_CALL, t.pos);
			n->str = strdup(t.text);
			return n;
		}
		if (!lang_is_builtin(t.text) && !strcmp(t.text, "if")) {
			ps->tok = t;
			syntax_error(ps, NULL);
			return NULL;
		}
		n = node_new(N_BUILTIN, t.pos);
		n->str = strdup(t.text);
		return n;
	default:
		break;
	}
	if (is(ps, "(")) {
		int no_div = ps->no_div;
		ps->no_div = 0;
		next(ps);
		n = expr(ps, 0);
		ps->no_div = no_div;
		if (n && !expect(ps, ")", NULL))
			return n;
		return n;
	}
	syntax_error(ps, NULL);
	return NULL;
}

static struct lang_node *postfix(struct parser *ps, struct lang_node *n)
{
	while (n && !ps->failed) {
		if (is(ps, "++") || is(ps, "--")) {
			struct lang_node *u = node_new(N_INCDEC, span(n->pos, ps->tok.pos));
			u->op = ps->tok.text[0];
			node_add(u, n);
			n = u;
			next(ps);
		} else if (is(ps, ".") || is(ps, "->")) {
			bool arrow = is(ps, "->");
			next(ps);
			if (ps->tok.kind != TK_IDENT) {
				syntax_error(ps, "identifier");
				return n;
			}
			if (arrow) {
				struct lang_node *d = node_new(N_DEREF, n->pos);
				node_add(d, n);
				n = d;
			}
			struct lang_node *f = node_new(N_FIELD, span(n->pos, ps->tok.pos));
			f->str = strdup(ps->tok.text);
			node_add(f, n);
			n = f;
			next(ps);
		} else {
			return n;
		}
	}
	return n;
}

static struct lang_node *unary(struct parser *ps)
{
	struct lang_pos pos = ps->tok.pos;
	if (++ps->depth > PARSE_MAX_DEPTH) {
		struct lang_pos at = {pos.line, pos.end - (int)strlen(ps->tok.text), pos.end};
		if (!ps->failed) /* the token itself, not bpftrace's start of a run of them */
			lang_error(ps->src, at, "expression nested too deeply");
		ps->failed = true;
		return NULL;
	}
	struct lang_node *n = NULL;
	if (is(ps, "!") || is(ps, "~") || is(ps, "-") || is(ps, "*")) {
		int op = ps->tok.text[0];
		next(ps);
		struct lang_node *a = unary(ps);
		if (a) {
			n = node_new(op == '*' ? N_DEREF : N_UNOP, span(pos, a->pos));
			n->op = op;
			node_add(n, a);
		}
	} else if (is(ps, "++") || is(ps, "--")) {
		int op = ps->tok.text[0];
		next(ps);
		struct lang_node *a = unary(ps);
		if (a) {
			n = node_new(N_INCDEC, span(pos, a->pos));
			n->op = op;
			n->ival = 1;
			node_add(n, a);
		}
	} else if (is(ps, "(") && cast_ahead(ps)) {
		next(ps);
		n = node_new(N_CAST, pos);
		n->str = strdup(ps->tok.text);
		next(ps);
		next(ps);
		struct lang_node *a = unary(ps);
		if (a) {
			n->pos = span(pos, a->pos);
			node_add(n, a);
		}
	} else {
		n = postfix(ps, primary(ps));
	}
	ps->depth--;
	return n;
}

static struct lang_node *expr(struct parser *ps, int min_prec)
{
	struct lang_node *l = unary(ps);
	while (l && !ps->failed) {
		int op;
		if (min_prec <= 1 && is(ps, "?")) {
			next(ps);
			struct lang_node *t = expr(ps, 0);
			if (!t || !expect(ps, ":", NULL)) {
				node_free(t);
				break;
			}
			struct lang_node *f = expr(ps, 1);
			struct lang_node *n = node_new(N_TERNARY, l->pos);
			node_add(n, l);
			node_add(n, t);
			if (!f)
				return n;
			n->pos = span(n->pos, f->pos);
			node_add(n, f);
			l = n;
			continue;
		}
		int prec = binop_prec(ps, &op);
		if (prec < 0 || prec < min_prec)
			break;
		struct lang_pos op_pos = ps->tok.pos;
		next(ps);
		struct lang_node *r = expr(ps, prec + 1);
		struct lang_node *n = node_new(N_BINOP, l->pos);
		n->op = op;
		n->op_pos = op_pos;
		node_add(n, l);
		if (!r)
			return n;
		n->pos = span(n->pos, r->pos);
		node_add(n, r);
		l = n;
	}
	return l;
}

static struct lang_node *block(struct parser *ps, bool probe_body);

/* "@x += e" is "@x = @x + e", as bpftrace desugars it. */
static struct lang_node *compound(struct lang_node *target, int op, struct lang_node *v,
				  struct lang_pos op_pos)
{
	struct lang_node *b = node_new(N_BINOP, span(target->pos, v->pos));
	b->op = op;
	b->op_pos = op_pos;
	node_add(b, node_clone(target));
	node_add(b, v);
	return b;
}

static struct lang_node *statement(struct parser *ps)
{
	struct lang_pos pos = ps->tok.pos;
	if (is_word(ps, "if")) {
		next(ps);
		if (!expect(ps, "(", "("))
			return NULL;
		struct lang_node *n = node_new(N_IF, pos);
		struct lang_node *c = expr(ps, 0);
		if (!c)
			return n;
		node_add(n, c);
		if (!expect(ps, ")", NULL))
			return n;
		struct lang_node *b = block(ps, false);
		if (!b)
			return n;
		node_add(n, b);
		if (is_word(ps, "else")) {
			next(ps);
			struct lang_node *e;
			if (is_word(ps, "if")) {
				e = node_new(N_BLOCK, ps->tok.pos);
				struct lang_node *s = statement(ps);
				if (s)
					node_add(e, s);
			} else {
				e = block(ps, false);
			}
			if (e)
				node_add(n, e);
		}
		return n;
	}
	if (is_word(ps, "unroll") || is_word(ps, "while") || is_word(ps, "return")) {
		if (!ps->failed)
			lang_error(ps->src, ps->tok.pos,
				   "%s is not supported: a probe's plan has no loops",
				   ps->tok.text);
		ps->failed = true;
		return NULL;
	}
	struct lang_node *e = expr(ps, 0);
	if (!e || ps->failed)
		return e;
	static const char *const assign_ops[] = {
		"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>=", NULL};
	for (int i = 0; assign_ops[i]; i++) {
		if (!is(ps, assign_ops[i]))
			continue;
		if (e->kind != N_MAP && e->kind != N_VAR) {
			syntax_error(ps, "}");
			return e;
		}
		int op = i == 0 ? 0 : i == 9 ? OP_SHL : i == 10 ? OP_SHR : assign_ops[i][0];
		struct lang_pos eq = ps->tok.pos; /* bpftrace's place for a variable's type error */
		next(ps);
		struct lang_node *v = expr(ps, 0);
		if (!v)
			return e;
		struct lang_node *n = node_new(N_ASSIGN, eq);
		node_add(n, e);
		node_add(n, op ? compound(e, op, v, eq) : v);
		return n;
	}
	return e;
}

/* A probe's body ends the probe: the next attach point is read raw, not lexed. */
static struct lang_node *block(struct parser *ps, bool probe_body)
{
	struct lang_node *b = node_new(N_BLOCK, ps->tok.pos);
	if (!expect(ps, "{", "{"))
		return b;
	while (!ps->failed && !is(ps, "}")) {
		if (is(ps, ";")) {
			next(ps);
			continue;
		}
		if (ps->tok.kind == TK_EOF) {
			syntax_error(ps, "}");
			break;
		}
		struct lang_node *s = statement(ps);
		if (!s)
			break;
		node_add(b, s);
		if (ps->failed)
			break;
		if (s->kind != N_IF && !is(ps, ";") && !is(ps, "}"))
			syntax_error(ps, "}");
	}
	if (!ps->failed && !probe_body)
		next(ps);
	return b;
}

static struct lang_node *probe(struct parser *ps)
{
	struct lang_node *p = node_new(N_PROBE, ps->tok.pos);
	for (;;) {
		struct lang_pos before = ps->tok.pos;
		lexer_attach(&ps->lx, &ps->tok);
		/* bison's location of an attach point starts where the token before ended */
		if (before.line == ps->tok.pos.line && before.end && before.end < ps->tok.pos.col)
			ps->tok.pos.col = before.end;
		if (ps->tok.kind == TK_EOF) {
			next(ps);
			syntax_error(ps, NULL);
			return p;
		}
		struct lang_node *a = node_new(N_STR, ps->tok.pos);
		a->str = strdup(ps->tok.text);
		node_add(p, a);
		next(ps);
		if (!is(ps, ","))
			break;
	}
	if (is(ps, "/")) {
		struct lang_node *pred = node_new(N_PRED, ps->tok.pos);
		ps->no_div = 1;
		next(ps);
		struct lang_node *e = expr(ps, 0);
		ps->no_div = 0;
		if (e)
			node_add(pred, e);
		node_add(p, pred);
		if (!e || !expect(ps, "/", NULL))
			return p;
	}
	struct lang_node *b = block(ps, true);
	node_add(p, b);
	return p;
}

struct lang_node *lang_parse(struct lang_src *src)
{
	struct parser ps = {.src = src};
	lexer_init(&ps.lx, src);
	struct lang_node *prog = node_new(N_PROGRAM, (struct lang_pos){1, 1, 1});
	lexer_skip_space(&ps.lx);
	if (!*ps.lx.p) {
		next(&ps);
		syntax_error(&ps, NULL);
	}
	while (!ps.failed) {
		lexer_skip_space(&ps.lx);
		if (!*ps.lx.p)
			break;
		if (*ps.lx.p == '#') { /* #include, #define: no C preprocessor here */
			const char *e = strchrnul(ps.lx.p, '\n');
			int col = (int)(ps.lx.p - ps.lx.line_start) + 1;
			struct lang_pos pos = {ps.lx.line, col, col + (int)(e - ps.lx.p)};
			lang_error(src, pos, "preprocessor directives are not supported");
			break;
		}
		node_add(prog, probe(&ps));
	}
	if (ps.failed || src->nerrors) {
		node_free(prog);
		return NULL;
	}
	return prog;
}
