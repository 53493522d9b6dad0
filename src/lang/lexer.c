// SPDX-License-Identifier: MIT
/*
 * The lexer: bpftrace's tokens, with positions as bpftrace reports them
 * (1-based line and columns, the end exclusive). Attach points are not
 * tokenized: the parser asks for them raw (lexer_attach), since a path holds
 * '/', '.', '-' and a glob '*'.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"

void lexer_init(struct lang_lexer *lx, struct lang_src *src)
{
	lx->src = src;
	lx->p = src->text;
	lx->line = 1;
	lx->line_start = src->text;
	lx->step = src->text;
}

static int col_of(const struct lang_lexer *lx, const char *p)
{
	return (int)(p - lx->line_start) + 1;
}

static void newline(struct lang_lexer *lx, const char *p)
{
	lx->line++;
	lx->line_start = p + 1;
}

/* White space and comments (// to the end of the line, C block comments). */
void lexer_skip_space(struct lang_lexer *lx)
{
	const char *from = lx->p;
	for (;;) {
		const char *p = lx->p;
		if (*p == '\n') {
			newline(lx, p);
			lx->p++;
		} else if (isspace((unsigned char)*p)) {
			lx->p++;
		} else if (p[0] == '/' && p[1] == '/') {
			while (*lx->p && *lx->p != '\n')
				lx->p++;
		} else if (p[0] == '/' && p[1] == '*') {
			lx->p += 2;
			while (*lx->p && !(lx->p[0] == '*' && lx->p[1] == '/')) {
				if (*lx->p == '\n')
					newline(lx, lx->p);
				lx->p++;
			}
			if (*lx->p)
				lx->p += 2;
		} else {
			if (lx->p != from)
				lx->step = lx->p;
			return;
		}
	}
}

/*
 * bpftrace 0.17's lexer moves a location's start on white space only: a token
 * right after others (`@[str(`, `1 +foo`, `print($z)`) starts where they did.
 */
static void finish(struct lang_lexer *lx, struct lang_token *t, const char *start)
{
	t->pos.line = lx->line;
	t->pos.col = col_of(lx, lx->step >= lx->line_start && lx->step < start ? lx->step : start);
	t->pos.end = col_of(lx, lx->p);
}

static bool ident_char(char c)
{
	return isalnum((unsigned char)c) || c == '_';
}

void lexer_attach(struct lang_lexer *lx, struct lang_token *t)
{
	lexer_skip_space(lx);
	const char *start = lx->p;
	bool path = false; /* in a component that began with '/' or '.' */
	size_t n = 0;
	for (;;) {
		char c = *lx->p;
		if (!c || isspace((unsigned char)c) || c == '{' || c == ',')
			break;
		if (c == ':')
			path = false;
		else if ((c == '/' || c == '.') && (lx->p == start || lx->p[-1] == ':'))
			path = true;
		if (c == '/' && !path)
			break;
		if (n + 1 < sizeof(t->text))
			t->text[n++] = c;
		lx->p++;
	}
	t->text[n] = 0;
	t->kind = n ? TK_IDENT : TK_EOF;
	finish(lx, t, start);
}

static int escape(char c)
{
	switch (c) {
	case 'n':
		return '\n';
	case 't':
		return '\t';
	case 'r':
		return '\r';
	case '\\':
		return '\\';
	case '"':
		return '"';
	case '0':
		return 0;
	default:
		return -1;
	}
}

static void lex_string(struct lang_lexer *lx, struct lang_token *t, const char *start)
{
	size_t n = 0;
	lx->p++;
	while (*lx->p && *lx->p != '"' && *lx->p != '\n') {
		int c = (unsigned char)*lx->p++;
		if (c == '\\' && *lx->p && *lx->p != '\n') {
			c = escape(*lx->p);
			if (c < 0) {
				struct lang_pos pos = {lx->line, col_of(lx, start),
						       col_of(lx, lx->p + 1)};
				if (isprint((unsigned char)*lx->p))
					lang_error(lx->src, pos, "invalid escape character '\\%c'",
						   *lx->p);
				else
					lang_error(lx->src, pos,
						   "invalid escape character '\\x%02x'",
						   (unsigned char)*lx->p);
				c = *lx->p;
			}
			lx->p++;
		}
		if (n + 1 < sizeof(t->text))
			t->text[n++] = (char)c;
	}
	t->text[n] = 0;
	t->ival = (int64_t)n;
	if (*lx->p != '"') {
		t->kind = TK_ERROR;
		finish(lx, t, start);
		lang_error(lx->src, t->pos, "unterminated string");
		return;
	}
	lx->p++;
	t->kind = TK_STR;
	finish(lx, t, start);
}

/* bpftrace 0.17's {int}: [0-9]([0-9_]*[0-9])? then u, l, ul, ll, ull (any case); its end. */
static const char *scan_int(const char *p)
{
	const char *q = p + 1;
	while (isdigit((unsigned char)*q) || (*q == '_' && (isdigit((unsigned char)q[1]) ||
							       q[1] == '_')))
		q++;
	while (q > p + 1 && q[-1] == '_')
		q--;
	if (*q == 'u' || *q == 'U')
		q++;
	if (*q == 'l' || *q == 'L')
		q += q[1] == 'l' || q[1] == 'L' ? 2 : 1;
	return q;
}

/* The digits of [s, e) without '_' into buf: 0, or -1 with *why (bpftrace's std::stoull). */
static int parse_uint(const char *s, const char *e, int base, uint64_t *v, const char **why)
{
	char buf[64], *end;
	size_t n = 0, lead = 0; /* lead: the "0" or "0x" before the digits */
	for (; s < e && n + 1 < sizeof(buf); s++) {
		if (*s == '_')
			continue;
		/* Leading zeros change no value: one is kept (it says octal), others dropped. */
		if (*s == '0' && n > lead && buf[n - 1] == '0' && n - 1 == lead)
			continue;
		buf[n++] = *s;
		if (n == 2 && buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
			lead = 2;
	}
	if (s < e) { /* more digits than any 64-bit value has */
		*why = "stoull";
		return -1;
	}
	buf[n] = 0;
	errno = 0;
	*v = strtoull(buf, &end, base);
	if (errno == ERANGE || end == buf) {
		*why = "stoull";
		return -1;
	}
	for (const char *x = end; *x; x++)
		if (!strchr("uUlL", *x)) {
			*why = "Found trailing non-numeric characters";
			return -1;
		}
	return 0;
}

/*
 * A number as bpftrace 0.17 reads one: hex, an integer with '_' and a size suffix,
 * or C e E (C 0 to 9, E up to 16). A bad one is said and skipped, as bpftrace's lexer
 * does: the parser then sees the next token, from the number's start (false).
 */
static bool lex_number(struct lang_lexer *lx, struct lang_token *t, const char *start)
{
	const char *end, *why = NULL;
	uint64_t v = 0, e = 0;
	char msg[160];
	if (start[0] == '0' && (start[1] == 'x' || start[1] == 'X') && isxdigit((unsigned char)start[2])) {
		for (end = start + 2; isxdigit((unsigned char)*end); end++)
			;
		if (parse_uint(start, end, 16, &v, &why))
			snprintf(msg, sizeof(msg), "%s", why);
	} else {
		end = scan_int(start);
		const char *mant_end = end;
		bool exp = (*end == 'e' || *end == 'E') && isdigit((unsigned char)end[1]);
		if (exp)
			end = scan_int(end + 1);
		if (parse_uint(start, mant_end, exp ? 10 : 0, &v, &why)) {
			snprintf(msg, sizeof(msg), exp ? "Coefficient part of scientific literal is not "
							 "a valid number: %.*s: %s" : "%.*s%s",
				 exp ? (int)(mant_end - start) : 0, start, why);
		} else if (exp && parse_uint(mant_end + 1, end, 10, &e, &why)) {
			snprintf(msg, sizeof(msg),
				 "Exponent part of scientific literal is not a valid number: %.*s: %s",
				 (int)(end - mant_end - 1), mant_end + 1, why);
		} else if (exp && v > 9) {
			why = "";
			snprintf(msg, sizeof(msg),
				 "Coefficient part of scientific literal must be in range (0,9), got: "
				 "%" PRIu64,
				 v);
		} else if (exp && e > 16) {
			char digits[64];
			size_t k = 0;
			for (const char *x = mant_end + 1; x < end && k + 1 < sizeof(digits); x++)
				if (*x != '_')
					digits[k++] = *x;
			digits[k] = 0;
			why = "";
			snprintf(msg, sizeof(msg), "Exponent will overflow integer range: %s", digits);
		}
		while (exp && !why && e--)
			v *= 10;
	}
	lx->p = end;
	size_t n = (size_t)(end - start) < sizeof(t->text) - 1 ? (size_t)(end - start) :
								 sizeof(t->text) - 1;
	memcpy(t->text, start, n);
	t->text[n] = 0;
	t->kind = TK_INT;
	t->ival = (int64_t)v;
	finish(lx, t, start);
	if (!why)
		return true;
	lang_error(lx->src, t->pos, "%s", msg);
	/* skipped once (bpftrace's next error follows); then the parse stops here, so that
	 * a long run of bad numbers cannot make a message of each with its whole line */
	t->kind = TK_ERROR;
	return lx->src->nerrors > 1;
}

static const char *const puncts[] = {
	"<<=", ">>=", "->", "++", "--", "==", "!=", "<=", ">=", "<<", ">>",
	"&&",  "||",  "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", NULL,
};

/* One token into t; false when a bad number was said and skipped (then the next one). */
static bool lex_one(struct lang_lexer *lx, struct lang_token *t)
{
	lexer_skip_space(lx);
	const char *start = lx->p;
	t->ival = 0;
	t->text[0] = 0;
	if (!*start) {
		t->kind = TK_EOF;
		finish(lx, t, start);
		return true;
	}
	if (*start == '"') {
		lex_string(lx, t, start);
		return true;
	}
	if (isdigit((unsigned char)*start))
		return lex_number(lx, t, start);
	if (*start == '@' || *start == '$' || ident_char(*start)) {
		lx->p++;
		while (ident_char(*lx->p))
			lx->p++;
		size_t n = (size_t)(lx->p - start);
		if (n >= sizeof(t->text))
			n = sizeof(t->text) - 1;
		memcpy(t->text, start, n);
		t->text[n] = 0;
		t->kind = *start == '@' ? TK_MAP : *start == '$' ? TK_VAR : TK_IDENT;
		finish(lx, t, start);
		if (t->kind == TK_VAR && n == 1) {
			t->kind = TK_ERROR;
			lang_error(lx->src, t->pos, "syntax error, unexpected $");
		}
		return true;
	}
	for (int i = 0; puncts[i]; i++) {
		size_t n = strlen(puncts[i]);
		if (!strncmp(start, puncts[i], n)) {
			memcpy(t->text, start, n);
			t->text[n] = 0;
			lx->p += n;
			t->kind = TK_PUNCT;
			finish(lx, t, start);
			return true;
		}
	}
	lx->p++;
	t->kind = strchr("{}()[];,/?:+-*%<>=!~&|^.", *start) ? TK_PUNCT : TK_ERROR;
	t->text[0] = *start;
	t->text[1] = 0;
	finish(lx, t, start);
	if (t->kind == TK_ERROR)
		lang_error(lx->src, t->pos, "invalid character '%c'",
			   isprint((unsigned char)*start) ? *start : '?');
	return true;
}

void lexer_next(struct lang_lexer *lx, struct lang_token *t)
{
	while (!lex_one(lx, t))
		;
}
