/* SPDX-License-Identifier: MIT */
/*
 * The bpftrace language for user-space probes (docs/language.md), a layer of
 * its own. Passes, one file each, in the order they run:
 *   lexer.c   text -> tokens (attach points are read raw by the parser)
 *   parser.c  tokens -> AST (struct lang_node), syntax errors with positions
 *   ast.c     the AST's dump (bpftrace's -d shape), free, diagnostics
 *   check.c   semantic checks: probe kinds, builtins, functions, variables,
 *             map kinds; types (int or string) and signedness of every node
 *   plan.c    AST -> plan (bytecode), plan_verify() at load
 *   eval.c    the plan at a hit (hot path: signal context, no libc)
 *   print.c   the tracer's output: printf, maps as bpftrace prints them
 *   store.c   the tracer-side stand-in for maps (BEGIN/END/interval, tests)
 * Above trace/spec and trace/fetch; nothing below includes this header.
 */
#ifndef UPROBES_LANG_LANG_H
#define UPROBES_LANG_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "uprobes_lang.h"

/* bpftrace's defaults: BPFTRACE_STRLEN, map key/value limits. */
#define LANG_STRLEN   64
#define LANG_MAX_KEYS 8
#define LANG_MAX_ARGS 8 /* printf arguments */

struct lang_pos {
	int line, col, end; /* 1-based; end exclusive (bpftrace's "line:col-end") */
};

enum lang_kind {
	N_PROGRAM,
	N_PROBE,
	N_PRED,
	N_IF,
	N_ASSIGN, /* kids[0] target (N_MAP or N_VAR), kids[1] value */
	N_INT,
	N_STR,
	N_BUILTIN,
	N_VAR,
	N_MAP,	/* kids: keys */
	N_CALL, /* kids: arguments */
	N_BINOP,
	N_UNOP,
	N_INCDEC, /* op: '+' or '-'; ival 1 = prefix; kids[0] the operand */
	N_TERNARY,
	N_CAST,	 /* str: type name; kids[0] */
	N_FIELD, /* str: field; kids[0] (args->x is a field of a dereference) */
	N_DEREF,
	N_BLOCK,
};

/* Binary and unary operators: one code each (multi-character ones below 'A'). */
enum lang_op {
	OP_NONE = 0,
	OP_EQ = 1,
	OP_NE,
	OP_LE,
	OP_GE,
	OP_SHL,
	OP_SHR,
	OP_LAND,
	OP_LOR,
	OP_ADD = '+',
	OP_SUB = '-',
	OP_MUL = '*',
	OP_DIV = '/',
	OP_MOD = '%',
	OP_LT = '<',
	OP_GT = '>',
	OP_AND = '&',
	OP_OR = '|',
	OP_XOR = '^',
	OP_NOT = '!',
	OP_BNOT = '~',
};

/* Types found by check.c. */
enum lang_type {
	T_NONE,
	T_INT,
	T_STR,
	T_AGG,
	T_USTACK, /* a map key only: a word */
	T_PROBE,  /* probe (a key, a value, printf or print argument): its id, the tracer names it */
};

struct lang_node {
	enum lang_kind kind;
	int op;
	int64_t ival;
	char *str; /* name, string literal (unescaped), type or attach point */
	struct lang_pos pos;
	struct lang_pos op_pos; /* a binary operator's own token (warnings) */
	struct lang_node **kids;
	int nkids;
	/* set by check.c */
	enum lang_type type;
	bool is_signed;
	int size; /* string length bound, cast size */
	int id;	  /* variable or map index; function id */
};

/* Attach point kinds. */
enum lang_probe_kind {
	P_UPROBE,
	P_URETPROBE,
	P_USDT,
	P_BEGIN,
	P_END,
	P_INTERVAL,
};

struct lang_attach {
	enum lang_probe_kind kind;
	char *text;   /* as written */
	char *target; /* path or library short name ("" with -p/-c: the command) */
	char *func;   /* symbol, glob or "" */
	uint64_t offset;
	char *provider; /* usdt */
	uint64_t interval_ns;
	struct lang_pos pos;
};

/* The source and its diagnostics. */
struct lang_src {
	const char *name; /* "stdin" for -e */
	const char *text;
	char *diag; /* every message so far, bpftrace's shape */
	size_t diag_len;
	int nerrors;
};

void lang_error(struct lang_src *src, struct lang_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The same shape with "WARNING:"; not counted as an error. */
void lang_warning(struct lang_src *src, struct lang_pos pos, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* lexer.c */
enum lang_tok {
	TK_EOF,
	TK_INT,
	TK_STR,
	TK_IDENT,
	TK_MAP,	  /* @name or @ */
	TK_VAR,	  /* $name */
	TK_PUNCT, /* text holds it: "{", "+=", "->", ... */
	TK_ERROR,
};

struct lang_token {
	enum lang_tok kind;
	char text[LANG_STRLEN * 4];
	int64_t ival;
	struct lang_pos pos;
};

struct lang_lexer {
	struct lang_src *src;
	const char *p;
	int line;
	const char *line_start;
	const char *step; /* where the last white space ended */
};

void lexer_init(struct lang_lexer *lx, struct lang_src *src);
void lexer_next(struct lang_lexer *lx, struct lang_token *t);
/* An attach point's text, raw, up to white space, '{' or ','; "" at its end. */
void lexer_attach(struct lang_lexer *lx, struct lang_token *t);
void lexer_skip_space(struct lang_lexer *lx);

/* parser.c: NULL after errors (in src->diag). */
struct lang_node *lang_parse(struct lang_src *src);

/* ast.c */
struct lang_node *node_new(enum lang_kind kind, struct lang_pos pos);
void node_add(struct lang_node *n, struct lang_node *kid);
void node_free(struct lang_node *n);
struct lang_node *node_clone(const struct lang_node *n);
bool lang_is_builtin(const char *s);
bool lang_is_call(const char *s);
/* The length of the printf conversion at p (bpftrace's set), or 0. */
int lang_printf_conv(const char *p);
/* check_rules.c: bpftrace 0.17's rules with its messages */
int lang_printf_convs(const char *fmt, size_t len, enum lang_type *types, int max);
void lang_printf_conv_text(const char *fmt, size_t len, int i, char out[16]);
const char *lang_type_name(const struct lang_node *n, char *buf, size_t len);
int64_t lang_literal_value(const struct lang_node *n);
bool lang_lhist_bounds_bad(struct lang_src *src, struct lang_pos pos, int64_t mn, int64_t mx,
			   int64_t st);
void lang_sign_warnings(struct lang_src *src, const struct lang_node *n, const struct lang_node *l,
			const struct lang_node *r);
void lang_ast_dump(const struct lang_node *n, FILE *out);
const char *lang_op_name(int op);

/* check.c */
#define LANG_MAX_MAPS	64
#define LANG_MAX_VARS	32
#define LANG_MAX_ATTACH 64

enum lang_map_kind {
	MK_NONE,
	MK_INT,
	MK_STR,
	MK_COUNT,
	MK_SUM,
	MK_AVG,
	MK_MIN,
	MK_MAX,
	MK_STATS,
	MK_HIST,
	MK_LHIST,
};

struct lang_map_info {
	char name[64];
	enum lang_map_kind kind;
	bool value_signed;
	bool value_probe; /* MK_INT whose values are probe ids (@x = probe): printed by name */
	int nkeys; /* -1 until first used */
	enum lang_type key[LANG_MAX_KEYS];
	bool key_signed[LANG_MAX_KEYS];
	uint8_t key_stack[LANG_MAX_KEYS]; /* T_USTACK keys: 1 bpftrace mode, 2 perf */
	int64_t lmin, lmax, lstep; /* lhist */
	/*
	 * Counted by the count stub (docs/maps.md): keyless count() written only
	 * by `= count()` in uprobe, uretprobe and usdt probes, else only print()ed:
	 * nothing resets or deletes it (its dense word has no generation).
	 */
	bool count_stub;
	struct lang_pos pos;
};

struct lang_var_info {
	char name[64];
	enum lang_type type;
	bool is_signed;
};

struct lang_probe_info {
	struct lang_node *node; /* N_PROBE */
	struct lang_attach at[LANG_MAX_ATTACH];
	int nat;
	struct lang_var_info vars[LANG_MAX_VARS];
	int nvars;
};

struct lang_checked {
	struct lang_map_info maps[LANG_MAX_MAPS];
	int nmaps;
	struct lang_probe_info *probes;
	int nprobes;
};

/* Builtins (node->id of N_BUILTIN) and functions (node->id of N_CALL). */
enum lang_builtin {
	B_ARG0,
	B_ARG1,
	B_ARG2,
	B_ARG3,
	B_ARG4,
	B_ARG5,
	B_RETVAL,
	B_PID,
	B_TID,
	B_NSECS,
	B_ELAPSED,
	B_CPU,
	B_COMM,
	B_FUNC,
	B_PROBE,
	B_UID,
	B_GID,
	B_USTACK,
	/*
	 * arg6, arg7: where ARCH_ARG_REGS is 8 (aarch64: x6, x7). Last, so that
	 * the ids before keep their values (krun.c's slots are arg0..retval).
	 */
	B_ARG6,
	B_ARG7,
};

/* N of the builtin argN (B_ARG0..B_ARG7), else -1. */
static inline int lang_arg_index(int b)
{
	if (b >= B_ARG0 && b <= B_ARG5)
		return b - B_ARG0;
	return b == B_ARG6 ? 6 : b == B_ARG7 ? 7 : -1;
}
enum lang_func {
	F_COUNT,
	F_SUM,
	F_AVG,
	F_MIN,
	F_MAX,
	F_STATS,
	F_HIST,
	F_LHIST,
	F_DELETE,
	F_EXIT,
	F_STR,
	F_PRINT,
	F_CLEAR,
	F_ZERO,
	F_PRINTF,
};

/* 0 or the number of errors (in src->diag). */
int lang_check(struct lang_src *src, struct lang_node *prog, struct lang_checked *out);
void lang_checked_free(struct lang_checked *c);
/* An attach point's text parsed; 0 or an error reported at pos. */
int lang_attach_parse(struct lang_src *src, const char *text, struct lang_pos pos,
		      struct lang_attach *at);
void lang_attach_free(struct lang_attach *at);

#endif
