// SPDX-License-Identifier: MIT
/*
 * The public face of the language layer (include/uprobes_lang.h): a program
 * parsed, checked and compiled once, its diagnostics, its dumps.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stack/stack.h"
#include "lang/lang.h"
#include "lang/program.h"
#include "uprobes.h"
#include "uprobes_trace.h"

struct lang_program *lang_program_new(const char *name, const char *text)
{
	struct lang_program *p = calloc(1, sizeof(*p));
	if (!p)
		return NULL;
	size_t len = text ? strnlen(text, LANG_MAX_TEXT + 1) : 0;
	size_t quote = len > LANG_MAX_TEXT ? strcspn(text, "\n") : 0;
	p->name = strdup(name ? name : "stdin");
	/* past the bound only (80 bytes of) the first line is kept: the message's quote */
	p->text = len > LANG_MAX_TEXT ? strndup(text, quote < 80 ? quote : 80) :
					strdup(text ? text : "");
	if (!p->name || !p->text) {
		lang_program_free(p);
		errno = ENOMEM;
		return NULL;
	}
	p->src.name = p->name;
	p->src.text = p->text;
	if (len > LANG_MAX_TEXT) {
		lang_error(&p->src, (struct lang_pos){1, 1, 2},
			   "program too large: more than %u bytes", LANG_MAX_TEXT);
		return p;
	}
	p->ast = lang_parse(&p->src);
	if (!p->ast)
		return p;
	if (lang_check(&p->src, p->ast, &p->checked))
		return p;
	plan_compile(p);
	return p;
}

void lang_program_free(struct lang_program *p)
{
	if (!p)
		return;
	node_free(p->ast);
	lang_checked_free(&p->checked);
	plan_free(p);
	stack_table_free(p->stacks);
	lang_probe_names_free(&p->probe_names);
	free(p->src.diag);
	free(p->name);
	free(p->text);
	free(p);
}

int lang_program_errors(const struct lang_program *p, const char **diag)
{
	if (diag)
		*diag = p->src.diag ? p->src.diag : "";
	return p->src.nerrors;
}

void lang_program_dump(const struct lang_program *p, FILE *out)
{
	if (p->ast)
		lang_ast_dump(p->ast, out);
}

void lang_program_dump_plan(const struct lang_program *p, FILE *out)
{
	if (!p->compiled)
		return;
	plan_dump(&p->plan, out);
	for (int i = 0; i < p->checked.nmaps; i++)
		if (p->checked.maps[i].count_stub)
			fprintf(out, "map %s: count stub\n", p->checked.maps[i].name);
}

int lang_program_target_probes(const struct lang_program *p)
{
	int n = 0;
	for (int i = 0; i < p->checked.nprobes; i++)
		for (int a = 0; a < p->checked.probes[i].nat; a++)
			n += p->checked.probes[i].at[a].kind != P_BEGIN &&
			     p->checked.probes[i].at[a].kind != P_END &&
			     p->checked.probes[i].at[a].kind != P_INTERVAL;
	return n;
}

int lang_program_target_check(const struct lang_program *p, char *why, size_t len)
{
	if (!p->compiled) {
		snprintf(why, len, "the program has errors");
		return -EINVAL;
	}
	return 0; /* nothing the agent cannot run (usdt:PATH:NAME: any provider, usdt.c) */
}

/* "p:lang/pN_aM PATH:FUNC[+OFF]", "r:..." or "p:lang/pN_aM usdt:PATH:PROVIDER:NAME". */
static char *spec_line(const struct lang_attach *at, int i, int a, const char *exe)
{
	const char *path = at->target && at->target[0] ? at->target : exe;
	char *line = NULL, off[32] = "";
	int n;
	if (at->offset)
		snprintf(off, sizeof(off), "+%llu", (unsigned long long)at->offset);
	if (at->kind == P_USDT) /* usdt:PATH:NAME: any provider (one only, usdt.c) */
		n = asprintf(&line, "p:lang/p%d_a%d usdt:%s:%s:%s", i, a, path,
			     at->provider && at->provider[0] ? at->provider : "*", at->func);
	else
		n = asprintf(&line, "%c:lang/p%d_a%d %s:%s%s", at->kind == P_URETPROBE ? 'r' : 'p',
			     i, a, path, at->func, off);
	return n < 0 ? NULL : line;
}

int lang_program_specs(const struct lang_program *p, const char *exe, char ***lines)
{
	const struct lang_checked *ck = &p->checked;
	int n = lang_program_target_probes(p), k = 0;
	*lines = calloc((size_t)n + 1, sizeof(char *));
	if (!*lines)
		return -ENOMEM;
	for (int i = 0; i < ck->nprobes; i++) {
		for (int a = 0; a < ck->probes[i].nat; a++) {
			const struct lang_attach *at = &ck->probes[i].at[a];
			if (at->kind != P_UPROBE && at->kind != P_URETPROBE && at->kind != P_USDT)
				continue;
			if (!(at->target && at->target[0]) && !exe) {
				lang_program_specs_free(*lines);
				*lines = NULL;
				return -ENOENT;
			}
			(*lines)[k] = spec_line(at, i, a, exe);
			if (!(*lines)[k++]) {
				lang_program_specs_free(*lines);
				*lines = NULL;
				return -ENOMEM;
			}
		}
	}
	return n;
}

void lang_program_specs_free(char **lines)
{
	for (int i = 0; lines && lines[i]; i++)
		free(lines[i]);
	free(lines);
}

int lang_program_define_maps(const struct lang_program *p, struct trace_maps *m, char *why,
			     size_t len)
{
	return lang_target_define(p, (struct map_region *)m, why, len);
}

/* ---- probe keys' names (program.h) --------------------------------------------------- */

static uint64_t names_add(struct lang_probe_names *t, char *name)
{
	if (!name)
		return 0;
	if (t->n == t->cap) {
		uint32_t cap = t->cap ? 2 * t->cap : 16;
		char **v = realloc(t->names, cap * sizeof(*v));
		if (!v) {
			free(name);
			return 0;
		}
		t->names = v;
		t->cap = cap;
	}
	t->names[t->n++] = name;
	return t->n;
}

uint64_t lang_probe_id(struct lang_probe_names *t, const char *name)
{
	for (uint32_t i = 0; i < t->n; i++)
		if (!strcmp(t->names[i], name))
			return i + 1;
	return names_add(t, strdup(name));
}

/*
 * The library's uprobe_analyze, weak: the language alone (fuzz_lang, the
 * corpus test) links without the core, and names no function by offset.
 */
extern int uprobe_analyze(const char *path, const char *location, unsigned int flags,
			  struct uprobe_info *info) __attribute__((weak));

/*
 * The function a PATH:OFFSET line starts (a glob's probe on a name several
 * functions share: symexpand.c), malloc'd, or NULL: none starts there.
 */
static char *func_at_offset(const struct trace_spec *spec)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	char loc[32];

	snprintf(loc, sizeof(loc), "0x%" PRIx64, spec->offset);
	if (!uprobe_analyze || !spec->path || uprobe_analyze(spec->path, loc, 0, &info) ||
	    !info.symbol[0] || info.symbol_offset)
		return NULL;
	return strdup(info.symbol);
}

char *lang_spec_func(const struct trace_spec *spec)
{
	return spec->symbol ? lang_func_name(spec->symbol) : func_at_offset(spec);
}

char *lang_probe_line_name(const struct trace_spec *spec)
{
	char *text = NULL, *at = spec->symbol ? NULL : func_at_offset(spec);
	int n = asprintf(&text, "%s:%s:%s", spec->kind == TRACE_RETPROBE ? "uretprobe" : "uprobe",
			 spec->path, spec->symbol ? spec->symbol : at ? at : "");

	free(at);
	return n < 0 ? NULL : text;
}

char *lang_func_name(const char *symbol)
{
	char *func = strdup(symbol), *ver = func ? strchr(func, '@') : NULL;

	if (ver && strcmp(ver, "@plt"))
		*ver = 0;
	return func;
}

char *lang_program_probe_diag(const struct lang_program *p, const char *event, int warning,
			      const char *msg)
{
	const struct lang_checked *ck = &p->checked;
	unsigned i, a;
	int end = 0;
	if (!strncmp(event, "lang/", 5))
		event += 5;
	if (!p->compiled || sscanf(event, "p%u_a%u%n", &i, &a, &end) != 2 || event[end] ||
	    i >= (unsigned)ck->nprobes || a >= (unsigned)ck->probes[i].nat)
		return NULL;
	struct lang_src src = { .name = p->src.name, .text = p->src.text };
	if (warning)
		lang_warning(&src, ck->probes[i].at[a].pos, "%s", msg);
	else
		lang_error(&src, ck->probes[i].at[a].pos, "%s", msg);
	return src.diag;
}

/* usdt: bpftrace's "usdt:PATH:PROVIDER:NAME" (the line is the resolved address's). */
char *lang_probe_event_name(const struct lang_checked *ck, const struct trace_spec *spec)
{
	unsigned i, a;
	const char *ev = spec->event;
	if (!strncmp(ev, "lang/", 5))
		ev += 5;
	if (ck && sscanf(ev, "p%u_a%u", &i, &a) == 2 && i < (unsigned)ck->nprobes &&
	    a < (unsigned)ck->probes[i].nat && ck->probes[i].at[a].kind == P_USDT) {
		const struct lang_attach *at = &ck->probes[i].at[a];
		char *text = NULL;
		/* usdt:PATH:NAME: the marker's provider, the resolved line's group (usdt.c) */
		if (asprintf(&text, "usdt:%s:%s:%s", spec->path,
			     at->provider && at->provider[0] ? at->provider : spec->group,
			     at->func) < 0)
			return NULL;
		return text;
	}
	return lang_probe_line_name(spec);
}

int lang_probe_names_events(struct lang_probe_names *t, const struct lang_checked *ck,
			    const char *text, size_t len)
{
	size_t o = 0;
	while (o < len) {
		const char *nl = memchr(text + o, '\n', len - o);
		size_t l = nl ? (size_t)(nl - (text + o)) : len - o;
		char *line = strndup(text + o, l);
		struct trace_error err;
		struct trace_spec *spec = line ? trace_spec_parse(line, &err) : NULL;
		/* a line the agent would not take: named "" (never hit) */
		uint64_t id = names_add(t, spec ? lang_probe_event_name(ck, spec) : strdup(""));
		trace_spec_free(spec);
		free(line);
		if (!id)
			return -ENOMEM;
		o += l + 1;
	}
	return 0;
}

const char *lang_probe_name(const struct lang_probe_names *t, uint64_t id)
{
	return t && id && id <= t->n ? t->names[id - 1] : "";
}

void lang_probe_names_free(struct lang_probe_names *t)
{
	for (uint32_t i = 0; i < t->n; i++)
		free(t->names[i]);
	free(t->names);
	*t = (struct lang_probe_names){0};
}

uint64_t lang_probe_attach_id(struct lang_program *p, int i, int a)
{
	if (!p->compiled || !(p->plan.probes[i].uses & 1u << B_PROBE))
		return 0;
	return lang_probe_id(&p->probe_names, p->checked.probes[i].at[a].text);
}

int lang_program_name_events(struct lang_program *p, const char *text, size_t len)
{
	return lang_probe_names_events(&p->probe_names, p->compiled ? &p->checked : NULL, text,
				       len);
}
