/* SPDX-License-Identifier: MIT */
/*
 * One line of the kernel's uprobe_events language, parsed into a struct
 * trace_spec, and the canonical text of a spec.
 *
 * Grammar (kernel/trace/trace_uprobe.c, Documentation/trace/uprobetracer.rst):
 *
 *   p|r[:[GRP/][EVENT]] LOCATION [FETCHARGS]      probe, return probe
 *   p|r:LOCATION [FETCHARGS]                       perf-tools style (p:libc:malloc)
 *   -:[GRP/]EVENT | -:GRP/                         delete (one event, a group)
 *   uprobe:LOCATION [FETCHARGS]                    bpftrace style (also u:)
 *   uretprobe:LOCATION [FETCHARGS]                 bpftrace style (also ur:)
 *   LOCATION [FETCHARGS]                           extension: "p" implied
 *
 *   LOCATION := PATH:OFFSET[%return][(REF_CTR_OFFSET)]
 *             | PATH:SYMBOL[+OFF][%return][(REF_CTR_OFFSET)]     (extension)
 *             | sdt:PROVIDER:NAME | usdt:PATH:PROVIDER:NAME      (spec_sdt.c)
 *
 * Words are separated by white space and '#' starts a comment, as when the
 * kernel reads the file. PATH is everything before the last ':' of the
 * word; one without '/' is a short name ("libc") that the attacher
 * resolves. OFFSET, OFF and REF_CTR_OFFSET are read like the kernel's
 * kstrtoul(): decimal, 0x hex or 0-prefixed octal. A SYMBOL starts with a
 * letter, '_' or '.', and goes on with those, digits, '@' (symbol versions,
 * memcpy@GLIBC_2.14) and '$', and for C++ names and globs ':' '<' '>' '('
 * ')' ',' '~' '&' '*' '?' '[' ']' ("ns::Foo::bar(int,int)", "Foo::*"; no
 * blanks: the resolver ignores the demangler's). PATH then ends at the last
 * ':' that is not half of a "::", and "(...)" is a reference counter only when
 * it holds a number. GRP/EVENT may also be written GRP.EVENT, as newer
 * kernels allow.
 *
 * Defaults: group "uprobes"; event p_<file>_0x<offset> with <file> the
 * path's base name up to its first '.', '-' or '_' (the kernel's naming,
 * 'p' for return probes too), or <symbol>[_<off in decimal>] and
 * <symbol>__return (perf-probe's); characters an event name cannot hold
 * become '_' and the name is cut to 63 characters. A reference counter of
 * 0 means none, as in the kernel. A delete without GRP/ matches its event
 * in any group (spec->group is ""); "-:GRP/" (event "", event_given 0)
 * matches every event of the group.
 *
 * Refused although the kernel takes it: a probe type letter followed by
 * anything but ':' ("pfoo" is "p" for the kernel), words after a delete
 * (the kernel uses them to narrow the match), a return probe on SYMBOL+OFF
 * with OFF != 0 (not a function entry). See spec_args.c for fetch-args.
 *
 * Canonical text (trace_spec_format): every default written out,
 *   p:GRP/EVENT PATH:0xOFFSET[(0xREF)] NAME=FETCHARG:TYPE ...
 *   r:GRP/EVENT PATH:SYMBOL[+0xOFF] ...          (a return probe is "r:",
 *                                                 never "%return")
 *   -:GRP/EVENT
 * with numbers in hex, dereferences as +0xOFF( / -0xOFF(, immediates as
 * \0x..., $COMM as $comm, "+u" as "+". A bpftrace-style spec keeps its
 * form (uprobe:PATH:LOC / uretprobe:PATH:LOC, then the args in full) since
 * that form has no place for GRP/EVENT, which are then its defaults.
 * Parsing the canonical text gives back the same spec, except for the
 * fields that record what was written: event_given, type_given and text.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/spec/parse.h"

/* The next white-space separated word of *pos, NUL-terminated in place. */
static char *next_word(char **pos)
{
	char *p = *pos, *start;

	while (*p && spec_is_space(*p))
		p++;
	if (!*p) {
		*pos = p;
		return NULL;
	}
	start = p;
	while (*p && !spec_is_space(*p))
		p++;
	if (*p)
		*p++ = 0;
	*pos = p;
	return start;
}

/* The n-th (0-based) word from pos on, without cutting anything; NULL if fewer. */
static const char *peek_word(const char *p, int n)
{
	for (;;) {
		while (*p && spec_is_space(*p))
			p++;
		if (!*p)
			return NULL;
		if (n-- == 0)
			return p;
		while (*p && !spec_is_space(*p))
			p++;
	}
}

/* The kernel's is_good_system_name(): a C identifier that may also hold '-'. */
static bool good_group_name(const char *s)
{
	if (!spec_is_alpha(*s) && *s != '_' && *s != '-')
		return false;
	while (*++s)
		if (!spec_is_alpha(*s) && !spec_is_digit(*s) && *s != '_' && *s != '-')
			return false;
	return true;
}

/* [GRP/][EVENT] or [GRP.][EVENT] at ev (traceprobe_parse_event_name()). */
static int parse_event_name(struct spec_ctx *cx, char *ev)
{
	struct trace_spec *spec = cx->spec;
	char *slash = strchr(ev, '/');
	size_t n;

	if (!slash)
		slash = strchr(ev, '.');
	if (slash) {
		n = (size_t)(slash - ev);
		if (!n)
			return spec_fail_str(cx, SE_NO_GROUP_NAME, ev);
		if (n + 1 > TRACE_MAX_EVENT_NAME)
			return spec_fail(cx, SE_GROUP_TOO_LONG, ev, n);
		memcpy(spec->group, ev, n);
		spec->group[n] = 0;
		if (!good_group_name(spec->group))
			return spec_fail(cx, SE_BAD_GROUP_NAME, ev, n);
		ev = slash + 1;
	}
	n = strlen(ev);
	if (!n)
		return slash ? 0 : spec_fail(cx, SE_NO_EVENT_NAME, ev, 0);
	if (n >= TRACE_MAX_EVENT_NAME)
		return spec_fail(cx, SE_EVENT_TOO_LONG, ev, n);
	if (!spec_good_name(ev))
		return spec_fail(cx, SE_BAD_EVENT_NAME, ev, n);
	memcpy(spec->event, ev, n + 1);
	spec->event_given = 1;
	return 0;
}

/* "(REF)" at the end of the location; the kernel reads it before anything else there. */
static int parse_ref_ctr(struct spec_ctx *cx, char *loc)
{
	char *open = strrchr(loc, '('), *close;
	uint64_t v;

	/* A C++ parameter list, "ns::f(int)": a reference counter is a number. */
	if (open && !spec_is_digit(loc[0]) && !spec_is_digit(open[1]))
		return 0;
	if (open && spec_is_digit(loc[0]))
		open = strchr(loc, '(');
	if (!open)
		return 0;
	close = strchr(open, ')');
	if (!close)
		return spec_fail(cx, SE_REFCNT_OPEN_BRACE, open + strlen(open), 0);
	if (close[1])
		return spec_fail_str(cx, SE_BAD_REFCNT_SUFFIX, close + 1);
	*open = 0;
	*close = 0;
	if (spec_kstrtoull(open + 1, 0, &v))
		return spec_fail_str(cx, SE_BAD_REFCNT, open + 1);
	cx->spec->has_ref_ctr = v != 0;
	cx->spec->ref_ctr_offset = v;
	return 0;
}

static bool symbol_char(char c, bool first)
{
	if (spec_is_alpha(c) || c == '_' || c == '.' || c == '*' || c == '?' || c == '[')
		return true;
	if (!first && c && strchr("@$:<>(),~&]", c)) /* versions, C++ names, globs */
		return true;
	return !first && spec_is_digit(c);
}

/* SYMBOL[+OFF] */
static int parse_symbol(struct spec_ctx *cx, char *loc)
{
	size_t len = strlen(loc);
	char *p = loc;
	uint64_t off = 0;
	int depth = 0;

	if (!symbol_char(*p, true))
		return spec_fail(cx, SE_BAD_PROBE_ADDR, loc, len);
	/*
	 * A C++ parameter list closes every '(' it opens, and never starts
	 * with a digit: "(NUMBER)" is a reference counter.
	 */
	while (*++p && *p != '+') {
		depth += (*p == '(') - (*p == ')');
		if (!symbol_char(*p, false) || depth < 0 || (*p == '(' && spec_is_digit(p[1])))
			return spec_fail(cx, SE_BAD_PROBE_ADDR, loc, len);
	}
	if (depth)
		return spec_fail(cx, SE_BAD_PROBE_ADDR, loc, len);
	if (*p == '+') {
		*p = 0;
		if (spec_strtoull_nosign(p + 1, 0, &off))
			return spec_fail(cx, SE_BAD_PROBE_ADDR, loc, len);
	}
	cx->spec->symbol = strdup(loc);
	if (!cx->spec->symbol)
		return -ENOMEM;
	cx->spec->offset = off;
	if (off && cx->spec->kind == TRACE_RETPROBE)
		return spec_fail(cx, SE_BAD_RETPROBE, loc, len);
	return 0;
}

/* The part after PATH's ':': (REF), then %return, then OFFSET or SYMBOL[+OFF]. */
static int parse_loc(struct spec_ctx *cx, char *loc)
{
	char *pct;
	int ret = parse_ref_ctr(cx, loc);

	if (ret)
		return ret;
	pct = strchr(loc, '%');
	if (pct) {
		if (strcmp(pct, "%return"))
			return spec_fail_str(cx, SE_BAD_ADDR_SUFFIX, pct);
		*pct = 0;
		cx->spec->kind = TRACE_RETPROBE;
	}
	if (!spec_is_digit(loc[0]))
		return parse_symbol(cx, loc);
	if (spec_kstrtoull(loc, 0, &cx->spec->offset))
		return spec_fail_str(cx, SE_BAD_UPROBE_OFFS, loc);
	return 0;
}

/* The ':' that ends PATH: the last one that is not half of a C++ "::". */
static char *path_colon(char *word)
{
	for (char *p = word + strlen(word); p-- > word;)
		if (*p == ':' && (p == word || p[-1] != ':') && p[1] != ':')
			return p;
	return strrchr(word, ':');
}

static int parse_location(struct spec_ctx *cx, char *word)
{
	char *colon = path_colon(word);
	int ret;

	if (spec_is_sdt(word))
		return spec_parse_sdt(cx, word);
	if (!colon)
		return spec_fail_str(cx, SE_BAD_PROBE_POINT, word);
	if (colon == word)
		return spec_fail_str(cx, SE_NO_PATH, word);
	*colon = 0;
	ret = parse_loc(cx, colon + 1);
	if (ret)
		return ret;
	cx->spec->path = strdup(word);
	return cx->spec->path ? 0 : -ENOMEM;
}

/*
 * A C++ name or a glob: one '_' per run of characters an event name cannot
 * hold, none at the end ("ns::Foo::bar(int)" -> "ns_Foo_bar_int").
 */
static void tidy_cxx_name(const char *sym, char *out, size_t sz)
{
	char *o = out;
	bool repl = false;

	for (const char *p = sym; *p && o < out + sz - 1; p++) {
		bool ok = spec_is_alpha(*p) || spec_is_digit(*p) || *p == '_';

		if (ok)
			*o++ = *p;
		else if (!repl)
			*o++ = '_';
		repl = !ok;
	}
	if (repl && o > out + 1)
		o--;
	*o = 0;
}

/* Default event name (see the top of the file). */
static void auto_event_name(struct trace_spec *spec)
{
	char *e = spec->event, tidy[TRACE_MAX_EVENT_NAME];
	const char *sym = spec->symbol;
	size_t sz = sizeof(spec->event);

	if (sym && strpbrk(sym, ":()<>,*?[]~&")) {
		tidy_cxx_name(sym, tidy, sizeof(tidy));
		sym = tidy;
	}
	if (spec->sdt_name) {
		snprintf(e, sz, "%s", spec->sdt_name);
	} else if (sym && spec->kind == TRACE_RETPROBE) {
		snprintf(e, sz, "%s__return", sym);
	} else if (sym && spec->offset) {
		snprintf(e, sz, "%s_%" PRIu64, sym, spec->offset);
	} else if (sym) {
		snprintf(e, sz, "%s", sym);
	} else {
		const char *base = strrchr(spec->path, '/');

		base = base ? base + 1 : spec->path;
		snprintf(e, sz, "p_%.*s_0x%" PRIx64, (int)strcspn(base, ".-_"), base, spec->offset);
	}
	for (; *e; e++)
		if (!spec_is_alpha(*e) && !spec_is_digit(*e) && *e != '_')
			*e = '_';
}

/*
 * p|r[:[GRP/][EVENT]] LOCATION, or perf-tools' p|r:LOCATION (an event name
 * never holds ':', so a ':' after "p:" means a location). The location is
 * read before the event name, as the kernel does, so that a bad location
 * is reported first.
 */
static int parse_head(struct spec_ctx *cx, char *w0, char **pos)
{
	struct trace_spec *spec = cx->spec;
	char *word;
	int ret;

	spec->kind = w0[0] == 'r' ? TRACE_RETPROBE : TRACE_PROBE;
	snprintf(spec->group, sizeof(spec->group), "%s", TRACE_DEFAULT_GROUP);
	if (w0[1] == ':' && strchr(w0 + 2, ':'))
		return parse_location(cx, w0 + 2);
	word = next_word(pos);
	if (!word)
		return spec_fail(cx, SE_NO_PROBE_POINT, w0 + strlen(w0), 0);
	ret = parse_location(cx, word);
	if (!ret && w0[1] == ':')
		ret = parse_event_name(cx, w0 + 2);
	return ret;
}

/* A head that is only a location: bpftrace's uprobe:LOC, uretprobe:LOC, or LOC alone. */
static int parse_bare_head(struct spec_ctx *cx, char *loc, enum trace_kind kind, bool bpftrace)
{
	struct trace_spec *spec = cx->spec;

	spec->kind = kind;
	spec->bpftrace_style = bpftrace;
	snprintf(spec->group, sizeof(spec->group), "%s", TRACE_DEFAULT_GROUP);
	return parse_location(cx, loc);
}

static int parse_delete(struct spec_ctx *cx, char *w0, char **pos)
{
	char *extra;
	int ret;

	cx->spec->kind = TRACE_DELETE;
	if (w0[1] != ':')
		return spec_fail_str(cx, SE_BAD_DELETE, w0);
	ret = parse_event_name(cx, w0 + 2);
	if (ret)
		return ret;
	extra = next_word(pos);
	return extra ? spec_fail_str(cx, SE_DELETE_ARGS, extra) : 0;
}

static int parse_args(struct spec_ctx *cx, char **pos)
{
	const char *over = peek_word(*pos, TRACE_MAX_ARGS);
	char *word;
	int ret;

	if (over)
		return spec_fail(cx, SE_TOO_MANY_ARGS, over, strcspn(over, " \t\n\v\f\r"));
	while ((word = next_word(pos))) {
		ret = spec_parse_arg(cx, word);
		if (ret)
			return ret;
	}
	return 0;
}

static bool has_prefix(const char *s, const char *prefix, size_t *len)
{
	*len = strlen(prefix);
	return !strncmp(s, prefix, *len);
}

static int parse_line(struct spec_ctx *cx)
{
	char *pos = cx->buf, *hash = strchr(cx->buf, '#'), *w0;
	size_t n;
	int ret;

	if (hash)
		*hash = 0;
	w0 = next_word(&pos);
	if (!w0)
		return spec_fail(cx, SE_EMPTY, cx->buf, 0);
	if (w0[0] == '-')
		return parse_delete(cx, w0, &pos);
	if ((w0[0] == 'p' || w0[0] == 'r') && (!w0[1] || w0[1] == ':'))
		ret = parse_head(cx, w0, &pos);
	else if (has_prefix(w0, "uprobe:", &n) || has_prefix(w0, "u:", &n))
		ret = parse_bare_head(cx, w0 + n, TRACE_PROBE, true);
	else if (has_prefix(w0, "uretprobe:", &n) || has_prefix(w0, "ur:", &n))
		ret = parse_bare_head(cx, w0 + n, TRACE_RETPROBE, true);
	else if (strchr(w0, ':'))
		ret = parse_bare_head(cx, w0, TRACE_PROBE, false);
	else
		return spec_fail_str(cx, SE_BAD_PROBE_TYPE, w0);
	if (ret)
		return ret;
	if (!cx->spec->event_given)
		auto_event_name(cx->spec);
	return parse_args(cx, &pos);
}

UPROBE_API struct trace_spec *trace_spec_parse(const char *line, struct trace_error *err)
{
	struct trace_error scratch;
	struct spec_ctx cx = { .line = line ? line : "", .err = err ? err : &scratch };
	int ret = -ENOMEM;

	memset(cx.err, 0, sizeof(*cx.err));
	cx.len = strlen(cx.line);
	cx.buf = strdup(cx.line);
	cx.spec = calloc(1, sizeof(*cx.spec));
	if (cx.buf && cx.spec)
		ret = parse_line(&cx);
	free(cx.buf);
	if (!ret)
		return cx.spec;
	if (ret == -ENOMEM)
		snprintf(cx.err->msg, sizeof(cx.err->msg), "Out of memory");
	trace_spec_free(cx.spec);
	errno = -ret;
	return NULL;
}

UPROBE_API void trace_spec_free(struct trace_spec *spec)
{
	int n;

	if (!spec)
		return;
	n = spec->n_args < 0 ? 0 : spec->n_args > TRACE_MAX_ARGS ? TRACE_MAX_ARGS : spec->n_args;
	for (int i = 0; i < n; i++) {
		free(spec->args[i].text);
		free(spec->args[i].fetch.str);
	}
	free(spec->path);
	free(spec->symbol);
	free(spec->sdt_provider);
	free(spec->sdt_name);
	free(spec);
}

static void format_location(struct spec_out *o, const struct trace_spec *spec)
{
	if (spec->sdt_name) {
		spec_out_printf(o, "%s%s%s%s:%s", spec->path ? "usdt:" : "sdt:",
				spec->path ? spec->path : "", spec->path ? ":" : "",
				spec->sdt_provider, spec->sdt_name);
		return;
	}
	spec_out_printf(o, "%s:", spec->path ? spec->path : "");
	if (!spec->symbol)
		spec_out_printf(o, "0x%" PRIx64, spec->offset);
	else if (spec->offset)
		spec_out_printf(o, "%s+0x%" PRIx64, spec->symbol, spec->offset);
	else
		spec_out_printf(o, "%s", spec->symbol);
	if (spec->has_ref_ctr)
		spec_out_printf(o, "(0x%" PRIx64 ")", spec->ref_ctr_offset);
}

UPROBE_API int trace_spec_format(const struct trace_spec *spec, char *buf, size_t len)
{
	const int name_max = TRACE_MAX_EVENT_NAME - 1;
	struct spec_out o = { buf, len, 0 };
	bool ret = spec && spec->kind == TRACE_RETPROBE;
	int n;

	if (!spec || (!buf && len))
		return -EINVAL;
	if (len)
		buf[0] = 0;
	if (spec->kind == TRACE_DELETE) {
		spec_out_printf(&o, "-:%.*s%s%.*s", name_max, spec->group,
				spec->group[0] ? "/" : "", name_max, spec->event);
		return o.pos > INT_MAX ? -E2BIG : (int)o.pos;
	}
	if (spec->bpftrace_style)
		spec_out_printf(&o, "%s", ret ? "uretprobe:" : "uprobe:");
	else
		spec_out_printf(&o, "%c:%.*s/%.*s ", ret ? 'r' : 'p', name_max, spec->group,
				name_max, spec->event);
	format_location(&o, spec);
	n = spec->n_args < 0 ? 0 : spec->n_args > TRACE_MAX_ARGS ? TRACE_MAX_ARGS : spec->n_args;
	for (int i = 0; i < n; i++)
		spec_format_arg(&o, &spec->args[i]);
	return o.pos > INT_MAX ? -E2BIG : (int)o.pos;
}
