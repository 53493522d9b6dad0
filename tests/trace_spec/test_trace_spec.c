/* SPDX-License-Identifier: MIT */
/*
 * The spec parser against golden data: every line of golden.txt is
 * "INPUT<TAB>CANONICAL" or "INPUT<TAB>error<TAB>COLUMN<TAB>ERRNO<TAB>MESSAGE[<TAB>TOKEN]"
 * ('#' lines and blank lines are comments). Each line is one case: the parse
 * must give exactly that, and a valid line must also survive the round trip
 * parse(format(x)) == x with format() a fixed point. Then the parsed fields
 * of representative lines, the API's edge cases, the limits that make lines
 * too long for the golden file, and a replay of the fuzz corpus.
 *
 * TRACE_SPEC_REBASE=1 rewrites golden.txt with what the parser says now;
 * review every changed line (git diff) before keeping it.
 */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "uprobes_trace.h"
#include "trace_spec/spec_cmp.h"

#ifndef SPEC_GOLDEN
#error "build with -DSPEC_GOLDEN=\"/path/to/golden.txt\""
#endif
#ifndef SPEC_CORPUS
#error "build with -DSPEC_CORPUS=\"/path/to/fuzz/corpus/spec\""
#endif

TL_DEFINE("trace_spec");

static const char *errno_name(int e)
{
	static char buf[16];

	switch (e) {
	case EINVAL: return "EINVAL";
	case E2BIG: return "E2BIG";
	case ENOMEM: return "ENOMEM";
	}
	snprintf(buf, sizeof(buf), "%d", e);
	return buf;
}

/* The canonical text of s in a new buffer (the length checked against the return). */
static char *format_new(const struct trace_spec *s)
{
	int n = trace_spec_format(s, NULL, 0);
	char *buf;

	CHECK(n > 0);
	if (n <= 0)
		return NULL;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return NULL;
	CHECK_EQ_INT(trace_spec_format(s, buf, (size_t)n + 1), n);
	CHECK_EQ_INT(strlen(buf), n);
	return buf;
}

/* What the golden file says for a line: the canonical text, or the error. */
static char *outcome(const char *input, struct trace_spec **out)
{
	struct trace_error err;
	struct trace_spec *s;
	char *text;

	errno = 0;
	s = trace_spec_parse(input, &err);
	*out = s;
	if (s)
		return format_new(s);
	if (asprintf(&text, "error\t%d\t%s\t%s%s%s", err.column, errno_name(errno), err.msg,
		     err.token[0] ? "\t" : "", err.token) < 0)
		return NULL;
	return text;
}

/* parse(format(x)) == x, and format is a fixed point. */
static void check_round_trip(const struct trace_spec *s, const char *canon)
{
	struct trace_error err;
	struct trace_spec *s2 = trace_spec_parse(canon, &err);
	char why[64] = "", *again;

	if (!s2) {
		TL_FAIL("canonical '%s' does not parse: col %d: %s", canon, err.column, err.msg);
		return;
	}
	if (spec_cmp(s, s2, why, sizeof(why)))
		TL_FAIL("round trip of '%s' differs in %s", canon, why);
	again = format_new(s2);
	CHECK_STR(again, canon);
	free(again);
	trace_spec_free(s2);
}

static void golden_line(int lineno, const char *input, const char *expected, FILE *rebase)
{
	struct trace_spec *s;
	char name[32], *got;

	tl_begin();
	got = outcome(input, &s);
	if (!got) {
		TL_FAIL("out of memory");
	} else if (rebase) {
		fprintf(rebase, "%s\t%s\n", input, got);
	} else if (strcmp(got, expected)) {
		TL_FAIL("input    '%s'\n    expected '%s'\n    got      '%s'", input, expected,
			got);
	}
	if (s && got)
		check_round_trip(s, got);
	free(got);
	trace_spec_free(s);
	snprintf(name, sizeof(name), "line_%03d", lineno);
	tl_end(name);
}

static void run_golden(void)
{
	const char *rebase_env = getenv("TRACE_SPEC_REBASE");
	char *line = NULL, *tmp_path = NULL;
	FILE *in = fopen(SPEC_GOLDEN, "r"), *rebase = NULL;
	int lineno = 0, cases = 0, typos = 0;
	size_t cap = 0;
	ssize_t n;

	if (rebase_env && *rebase_env == '1' && asprintf(&tmp_path, "%s.new", SPEC_GOLDEN) > 0)
		rebase = fopen(tmp_path, "w");
	while (in && (n = getline(&line, &cap, in)) >= 0) {
		char *tab;

		lineno++;
		if (n && line[n - 1] == '\n')
			line[--n] = 0;
		tab = strchr(line, '\t');
		if (!n || line[0] == '#' || !tab) {
			if (n && line[0] != '#') /* a case without its TAB is a typo */
				printf("  %s:%d: no TAB\n", SPEC_GOLDEN, lineno), typos++;
			if (rebase)
				fprintf(rebase, "%s\n", line);
			continue;
		}
		*tab = 0;
		golden_line(lineno, line, tab + 1, rebase);
		cases++;
	}
	tl_begin();
	CHECK(in != NULL);
	CHECK_EQ_INT(typos, 0);
	CHECK(cases >= 180);
	if (rebase) {
		fclose(rebase);
		CHECK_EQ_INT(rename(tmp_path, SPEC_GOLDEN), 0);
		printf("  rebased %s: review the diff\n", SPEC_GOLDEN);
	}
	tl_end("golden_file");
	free(line);
	free(tmp_path);
	if (in)
		fclose(in);
}

/* ---- parsed fields of representative lines ------------------------------------------ */

static struct trace_spec *parse_ok(const char *line)
{
	struct trace_error err;
	struct trace_spec *s = trace_spec_parse(line, &err);

	if (!s)
		TL_FAIL("'%s': col %d: %s", line, err.column, err.msg);
	return s;
}

static void fields_nested_deref_array(void)
{
	struct trace_spec *s = parse_ok("p:grp/ev /bin/x:0x10 a=+8(+0x10(-4(%di))):u32[4] %sp");
	const struct trace_arg *a;

	if (!s)
		return;
	CHECK_EQ_INT(s->kind, TRACE_PROBE);
	CHECK_STR(s->group, "grp");
	CHECK_STR(s->event, "ev");
	CHECK_EQ_INT(s->event_given, 1);
	CHECK_STR(s->path, "/bin/x");
	CHECK(s->symbol == NULL);
	CHECK_EQ_U64(s->offset, 0x10);
	CHECK_EQ_INT(s->n_args, 2);
	a = &s->args[0];
	CHECK_STR(a->name, "a");
	CHECK_STR(a->text, "+8(+0x10(-4(%di)))");
	CHECK_EQ_INT(a->fetch.base, TRACE_B_REG);
	CHECK_EQ_INT(a->fetch.reg, TRACE_R_DI);
	CHECK_EQ_INT(a->fetch.n_deref, 3);
	CHECK_EQ_INT(a->fetch.deref[0], -4); /* innermost first */
	CHECK_EQ_INT(a->fetch.deref[1], 0x10);
	CHECK_EQ_INT(a->fetch.deref[2], 8);
	CHECK_EQ_INT(a->type, TRACE_T_U32);
	CHECK_EQ_INT(a->array_len, 4);
	CHECK_EQ_INT(a->type_given, 1);
	CHECK_EQ_INT(a->is_bitfield, 0);
	a = &s->args[1];
	CHECK_STR(a->name, "arg2");
	CHECK_EQ_INT(a->fetch.reg, TRACE_R_SP);
	CHECK_EQ_INT(a->fetch.n_deref, 0);
	CHECK_EQ_INT(a->type, TRACE_T_X64);
	CHECK_EQ_INT(a->type_given, 0);
	trace_spec_free(s);
}

static void fields_bases(void)
{
	struct trace_spec *s = parse_ok("r /lib/libc.so.6:0x9a0%return(0x20) \\-5 \\0x10 @0x601000 "
					"@+0x1000:u8 $stack3 $retval:s32 $comm x=\\\"hi\" $stack");
	const struct trace_arg *a;

	if (!s)
		return;
	a = s->args;
	CHECK_EQ_INT(s->kind, TRACE_RETPROBE);
	CHECK_STR(s->group, "uprobes");
	CHECK_STR(s->event, "p_libc_0x9a0"); /* 'p' for return probes too, as the kernel */
	CHECK_EQ_INT(s->event_given, 0);
	CHECK_EQ_INT(s->has_ref_ctr, 1);
	CHECK_EQ_U64(s->ref_ctr_offset, 0x20);
	CHECK_EQ_U64(s->offset, 0x9a0);
	CHECK_EQ_INT(s->n_args, 9);
	CHECK_EQ_INT(a[0].fetch.base, TRACE_B_IMM);
	CHECK_EQ_U64(a[0].fetch.imm, (uint64_t)-5);
	CHECK_EQ_INT(a[0].fetch.n_deref, 0);
	CHECK_EQ_U64(a[1].fetch.imm, 16);
	CHECK_EQ_INT(a[2].fetch.base, TRACE_B_ADDR);
	CHECK_EQ_U64(a[2].fetch.imm, 0x601000);
	CHECK_EQ_INT(a[2].fetch.n_deref, 1);
	CHECK_EQ_INT(a[2].fetch.deref[0], 0);
	CHECK_EQ_INT(a[3].fetch.base, TRACE_B_FILEOFF);
	CHECK_EQ_U64(a[3].fetch.imm, 0x1000);
	CHECK_EQ_INT(a[3].fetch.n_deref, 1);
	CHECK_EQ_INT(a[3].type, TRACE_T_U8);
	CHECK_EQ_INT(a[4].fetch.base, TRACE_B_STACKN);
	CHECK_EQ_U64(a[4].fetch.imm, 3);
	CHECK_EQ_INT(a[4].fetch.n_deref, 0);
	CHECK_EQ_INT(a[5].fetch.base, TRACE_B_RETVAL);
	CHECK_EQ_INT(a[5].type, TRACE_T_S32);
	CHECK_EQ_INT(a[6].fetch.base, TRACE_B_COMM);
	CHECK_EQ_INT(a[6].type, TRACE_T_STRING); /* the default of $comm */
	CHECK_EQ_INT(a[6].type_given, 0);
	CHECK_EQ_INT(a[7].fetch.base, TRACE_B_IMMSTR);
	CHECK_STR(a[7].fetch.str, "hi");
	CHECK_STR(a[7].text, "\\\"hi\"");
	CHECK_EQ_INT(a[7].type, TRACE_T_STRING);
	CHECK_EQ_INT(a[8].fetch.base, TRACE_B_STACK);
	trace_spec_free(s);
}

static void fields_bitfields(void)
{
	struct trace_spec *s = parse_ok("p /bin/x:1 f=+2(%ax):b3@5/16 g=+0(%bx):b0x4@0/010[2]");

	if (!s)
		return;
	CHECK_EQ_INT(s->args[0].is_bitfield, 1);
	CHECK_EQ_INT(s->args[0].type, TRACE_T_U16);
	CHECK_EQ_INT(s->args[0].bf_width, 3);
	CHECK_EQ_INT(s->args[0].bf_offset, 5);
	CHECK_EQ_INT(s->args[0].array_len, 0);
	CHECK_EQ_INT(s->args[1].is_bitfield, 1);
	CHECK_EQ_INT(s->args[1].type, TRACE_T_U8); /* /010 is octal 8, as kstrtoul reads it */
	CHECK_EQ_INT(s->args[1].bf_width, 4);
	CHECK_EQ_INT(s->args[1].bf_offset, 0);
	CHECK_EQ_INT(s->args[1].array_len, 2);
	trace_spec_free(s);
}

static void fields_symbols(void)
{
	struct trace_spec *s = parse_ok("uretprobe:/bin/bash:readline +0($retval):string");

	if (s) {
		CHECK_EQ_INT(s->kind, TRACE_RETPROBE);
		CHECK_EQ_INT(s->bpftrace_style, 1);
		CHECK_STR(s->path, "/bin/bash");
		CHECK_STR(s->symbol, "readline");
		CHECK_EQ_U64(s->offset, 0);
		CHECK_STR(s->event, "readline__return");
		CHECK_EQ_INT(s->args[0].fetch.base, TRACE_B_RETVAL);
		CHECK_EQ_INT(s->args[0].fetch.n_deref, 1);
		CHECK_EQ_INT(s->args[0].type, TRACE_T_STRING);
		trace_spec_free(s);
	}
	s = parse_ok("p libc:memcpy@GLIBC_2.14+4 $arg1 $arg7:s32");
	if (s) {
		CHECK_EQ_INT(s->bpftrace_style, 0);
		CHECK_STR(s->path, "libc");
		CHECK_STR(s->symbol, "memcpy@GLIBC_2.14");
		CHECK_EQ_U64(s->offset, 4);
		CHECK_STR(s->event, "memcpy_GLIBC_2_14_4");
		CHECK_EQ_INT(s->args[0].fetch.base, TRACE_B_ARGN);
		CHECK_EQ_U64(s->args[0].fetch.imm, 1);
		CHECK_EQ_U64(s->args[1].fetch.imm, 7);
		trace_spec_free(s);
	}
}

/* \IMM:string is the text at IMM for the kernel: the struct says @IMM. */
static void fields_imm_string(void)
{
	struct trace_spec *s = parse_ok("p /bin/x:0 s=\\0x1000:string");

	if (!s)
		return;
	CHECK_EQ_INT(s->args[0].fetch.base, TRACE_B_ADDR);
	CHECK_EQ_U64(s->args[0].fetch.imm, 0x1000);
	CHECK_EQ_INT(s->args[0].fetch.n_deref, 1);
	CHECK_EQ_INT(s->args[0].fetch.deref[0], 0);
	CHECK_STR(s->args[0].text, "\\0x1000");
	trace_spec_free(s);
}

static void fields_delete(void)
{
	struct trace_spec *s = parse_ok("-:grp/ev");

	if (s) {
		CHECK_EQ_INT(s->kind, TRACE_DELETE);
		CHECK_STR(s->group, "grp");
		CHECK_STR(s->event, "ev");
		CHECK_EQ_INT(s->event_given, 1);
		CHECK(s->path == NULL);
		trace_spec_free(s);
	}
	s = parse_ok("-:ev");
	if (s) {
		CHECK_STR(s->group, ""); /* any group */
		CHECK_STR(s->event, "ev");
		trace_spec_free(s);
	}
	s = parse_ok("-:grp/");
	if (s) {
		CHECK_STR(s->group, "grp");
		CHECK_STR(s->event, ""); /* every event of the group */
		CHECK_EQ_INT(s->event_given, 0);
		trace_spec_free(s);
	}
}

static void fields_error(void)
{
	struct trace_error err;
	struct trace_spec *s;

	memset(&err, 0x55, sizeof(err));
	errno = 0;
	s = trace_spec_parse("p /bin/x:0 a=+0(+8(%eax)):u8", &err);
	CHECK(s == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK_EQ_INT(err.column, 19);
	CHECK_STR(err.token, "%eax");
	CHECK_STR(err.msg, "Invalid register name");
}

/* ---- the API's edges ------------------------------------------------------------------ */

static void api_null_and_empty(void)
{
	struct trace_error err;
	struct trace_spec *s;

	errno = 0;
	CHECK(trace_spec_parse(NULL, &err) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK_STR(err.msg, "Empty probe definition");
	errno = 0;
	CHECK(trace_spec_parse("bogus", NULL) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	s = trace_spec_parse("p /bin/ls:0x10", NULL);
	CHECK(s != NULL);
	trace_spec_free(s);
	trace_spec_free(NULL);
	errno = 0;
	CHECK(trace_spec_parse("# a comment only", &err) == NULL);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK_STR(err.msg, "Empty probe definition");
	CHECK(trace_spec_parse(" \t\n", &err) == NULL);
	CHECK_STR(err.msg, "Empty probe definition");
}

static void check_canon(const char *line, const char *want)
{
	struct trace_spec *s = parse_ok(line);
	char *got;

	if (!s)
		return;
	got = format_new(s);
	CHECK_STR(got, want);
	free(got);
	trace_spec_free(s);
}

/* White space is any of " \t\n\v\f\r"; '#' starts a comment, as the kernel reads the file. */
static void api_whitespace_comments(void)
{
	check_canon("\tp\t/bin/ls:0x10\va=%ax\r\n", "p:uprobes/p_ls_0x10 /bin/ls:0x10 a=%ax:x64");
	check_canon("p /bin/ls:0x10 %ax # %bx", "p:uprobes/p_ls_0x10 /bin/ls:0x10 arg1=%ax:x64");
	check_canon("p /bin/ls:0x10#%bx", "p:uprobes/p_ls_0x10 /bin/ls:0x10");
}

static void api_format_buffer(void)
{
	struct trace_spec *s = parse_ok("p /bin/ls:0x10 %ax");
	const char *full = "p:uprobes/p_ls_0x10 /bin/ls:0x10 arg1=%ax:x64";
	char buf[64];

	if (!s)
		return;
	CHECK_EQ_INT(trace_spec_format(NULL, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(trace_spec_format(s, NULL, 5), -EINVAL);
	CHECK_EQ_INT(trace_spec_format(s, NULL, 0), strlen(full));
	memset(buf, 'X', sizeof(buf));
	CHECK_EQ_INT(trace_spec_format(s, buf, 8), strlen(full));
	CHECK_STR(buf, "p:uprob");
	CHECK_EQ_INT(buf[8], 'X');
	CHECK_EQ_INT(trace_spec_format(s, buf, 1), strlen(full));
	CHECK_STR(buf, "");
	CHECK_EQ_INT(trace_spec_format(s, buf, sizeof(buf)), strlen(full));
	CHECK_STR(buf, full);
	trace_spec_free(s);
}

/* ---- limits too long for the golden file ------------------------------------------------ */

static char *args_line(int n)
{
	size_t cap = 64 + (size_t)n * 8;
	char *line = malloc(cap);
	size_t pos;

	if (!line)
		return NULL;
	pos = (size_t)snprintf(line, cap, "p /bin/ls:0x10");
	for (int i = 0; i < n; i++)
		pos += (size_t)snprintf(line + pos, cap - pos, " %%r%d", 8 + i % 8);
	return line;
}

static void limit_args(void)
{
	char *ok = args_line(TRACE_MAX_ARGS), *over = args_line(TRACE_MAX_ARGS + 1);
	struct trace_error err;
	struct trace_spec *s;
	char *canon;

	if (!ok || !over) {
		TL_FAIL("out of memory");
		goto out;
	}
	s = parse_ok(ok);
	if (s) {
		CHECK_EQ_INT(s->n_args, TRACE_MAX_ARGS);
		CHECK_STR(s->args[TRACE_MAX_ARGS - 1].name, "arg128");
		CHECK_EQ_INT(s->args[TRACE_MAX_ARGS - 1].fetch.reg, TRACE_R_R15);
		canon = format_new(s);
		if (canon)
			check_round_trip(s, canon);
		free(canon);
		trace_spec_free(s);
	}
	errno = 0;
	CHECK(trace_spec_parse(over, &err) == NULL);
	CHECK_EQ_INT(errno, E2BIG);
	CHECK_STR(err.msg, "Too many arguments are specified");
	CHECK_EQ_INT(err.column, strlen(ok) + 1); /* the 129th word */
	CHECK_STR(err.token, "%r8");
out:
	free(ok);
	free(over);
}

static void limit_string_and_names(void)
{
	static char line[8192], sym[5000];
	struct trace_error err;
	struct trace_spec *s;
	int n;

	n = snprintf(line, sizeof(line), "p /bin/x:0 s=\\\"");
	memset(line + n, 'a', TRACE_MAX_STRING - 1);
	strcpy(line + n + TRACE_MAX_STRING - 1, "\"");
	s = parse_ok(line);
	if (s)
		CHECK_EQ_INT(strlen(s->args[0].fetch.str), TRACE_MAX_STRING - 1);
	trace_spec_free(s);
	strcpy(line + n + TRACE_MAX_STRING - 1, "a\"");
	errno = 0;
	CHECK(trace_spec_parse(line, &err) == NULL);
	CHECK_EQ_INT(errno, E2BIG);
	CHECK_STR(err.msg, "Immediate string is too long");
	CHECK_EQ_INT(err.column, 13);
	/* A long symbol: the default event name is cut to 63 characters. */
	memset(sym, 'f', sizeof(sym) - 1);
	snprintf(line, sizeof(line), "p /bin/x:%s", sym);
	s = parse_ok(line);
	if (s) {
		char *canon = format_new(s);

		CHECK_EQ_INT(strlen(s->event), TRACE_MAX_EVENT_NAME - 1);
		if (canon)
			check_round_trip(s, canon);
		free(canon);
	}
	trace_spec_free(s);
}

/* ---- the fuzz corpus ------------------------------------------------------------------ */

static int replay_one(const char *path)
{
	static char data[1 << 16];
	struct trace_error err;
	struct trace_spec *s;
	FILE *f = fopen(path, "rb");
	size_t n;
	char *canon;

	if (!f)
		return 0;
	n = fread(data, 1, sizeof(data) - 1, f);
	fclose(f);
	data[n] = 0;
	errno = 0;
	s = trace_spec_parse(data, &err);
	if (!s) {
		if ((errno != EINVAL && errno != E2BIG) || !err.msg[0] || err.column < 0 ||
		    (size_t)err.column > strlen(data))
			TL_FAIL("%s: errno %d column %d msg '%s'", path, errno, err.column,
				err.msg);
		return 1;
	}
	canon = format_new(s);
	if (canon)
		check_round_trip(s, canon);
	free(canon);
	trace_spec_free(s);
	return 1;
}

static void corpus_replay(void)
{
	DIR *d = opendir(SPEC_CORPUS);
	struct dirent *de;
	char path[4096];
	int files = 0;

	CHECK(d != NULL);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", SPEC_CORPUS, de->d_name);
		files += replay_one(path);
	}
	if (d)
		closedir(d);
	CHECK(files >= 100); /* the minimised corpus holds some 500 files */
}

int main(void)
{
	run_golden();
	RUN(fields_nested_deref_array);
	RUN(fields_bases);
	RUN(fields_bitfields);
	RUN(fields_symbols);
	RUN(fields_imm_string);
	RUN(fields_delete);
	RUN(fields_error);
	RUN(api_null_and_empty);
	RUN(api_whitespace_comments);
	RUN(api_format_buffer);
	RUN(limit_args);
	RUN(limit_string_and_names);
	RUN(corpus_replay);
	TL_EXIT();
}
