/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: a probe whose symbol is a wildcard ('p:./prog:ns::Foo::*',
 * 'p:/lib/x86_64-linux-gnu/libc.so.6:str*cmp') becomes one probe per
 * matching function, here in the tracer: it computes each probe's record
 * layout before the probe text goes to the agent, so the agent must receive
 * the probes one by one. Each is sent by its ELF name (mangled, with its
 * @VERSION), which needs no demangler in the target, under its own event
 * name: the one given plus _2, _3 ... for the later ones, else the demangled
 * name with one '_' per run of other characters (ns::Foo::bar(int) ->
 * ns_Foo_bar_int), also made unique with _2, _3 ...
 *
 * A return probe skips the functions it would be refused on (setjmp and the
 * others that return twice; those no call enters, like the ELF entry point),
 * with a note on stderr naming them: a glob means "every function that can
 * be probed so", and one refusal would stop the whole trace. So does any
 * glob skip, with a note, a function no symbol size nor .eh_frame FDE bounds
 * (gcc's crt code: _init, register_tm_clones, frame_dummy ...): its start
 * cannot be proved an instruction boundary, and the attach would refuse it
 * (uprobe_analyze says so: EILSEQ).
 *
 * A glob of uprobe -e (as_bpftrace) matches the functions bpftrace's does,
 * those of the symbol tables: not the PLT stubs (NAME@plt) unless the
 * pattern names one ('*@plt'), nor the functions only an .eh_frame FDE
 * bounds (fn_<hex>) unless it begins with fn_. `uprobe trace`'s globs, as
 * perf probe's, match those too.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "uprobes_trace.h"

struct match {
	uint64_t vaddr;
	char *location, *name;
};

/* Functions a return probe skipped, for the note. */
struct skipped {
	unsigned n;
	char names[200]; /* the first ones, ", "-separated, then "..." */
};

struct expand_ctx {
	struct match *v;
	size_t n, cap;
	int oom;
	int ret; /* a return probe */
	bool no_plt, no_eh; /* skip PLT stubs, FDE-only functions (as_bpftrace) */
	unsigned plt_eh;    /* how many it skipped */
	struct skipped twice, not_called, unbounded, vdso;
	const char *path;
	uint64_t skipped_vaddr; /* the last one skipped (its aliases follow) */
};

static void skip(struct skipped *sk, const char *name)
{
	size_t len = strlen(sk->names);

	if (len + strlen(name) + 6 < sizeof(sk->names))
		snprintf(sk->names + len, sizeof(sk->names) - len, "%s%s", len ? ", " : "", name);
	else if (!strstr(sk->names, "..."))
		snprintf(sk->names + len, sizeof(sk->names) - len, ", ...");
	sk->n++;
}

/* "uprobe: PROBE: skipped N functions that WHAT: NAMES": a note (cli_probe_note). */
static void skip_note(const struct skipped *sk, const char *event, const char *text,
		      const char *one, const char *many)
{
	if (sk->n)
		cli_probe_note(event, text, "skipped %u function%s that %s: %s", sk->n,
			       sk->n == 1 ? "" : "s", sk->n == 1 ? one : many, sk->names);
}

bool cli_symbol_is_wildcard(const char *symbol)
{
	return symbol && strpbrk(symbol, "*?[");
}

/* One function per address: aliases come one after another. */
static int on_sym(const struct uprobe_sym *s, void *arg)
{
	struct expand_ctx *cx = arg;

	if ((cx->no_plt && (s->flags & UPROBE_SYM_PLT)) || (cx->no_eh && (s->flags & UPROBE_SYM_EH))) {
		cx->plt_eh++;
		return 0;
	}
	for (size_t i = 0; i < cx->n; i++)
		if (cx->v[i].vaddr == s->vaddr)
			return 0;
	if (cx->twice.n + cx->not_called.n + cx->unbounded.n + cx->vdso.n &&
	    cx->skipped_vaddr == s->vaddr)
		return 0; /* an alias of the function skipped last */
	if (cx->ret && (s->flags & (UPROBE_SYM_RETURNS_TWICE | UPROBE_SYM_NOT_CALLED))) {
		cx->skipped_vaddr = s->vaddr;
		skip(s->flags & UPROBE_SYM_RETURNS_TWICE ? &cx->twice : &cx->not_called, s->name);
		return 0;
	}
	if (!s->size && !(s->flags & (UPROBE_SYM_PLT | UPROBE_SYM_EH))) {
		struct uprobe_info info = { .sz = sizeof(info) };

		if (uprobe_analyze(cx->path, s->location, 0, &info) == -EILSEQ) {
			cx->skipped_vaddr = s->vaddr;
			skip(&cx->unbounded, s->name);
			return 0;
		}
	}
	if (s->flags & UPROBE_SYM_IFUNC) { /* the dynamic linker's choice may be the vDSO's */
		struct uprobe_info info = { .sz = sizeof(info) };

		if (uprobe_analyze(cx->path, s->location, 0, &info) == -ENOTSUP &&
		    strstr(uprobe_last_error(), "in the vDSO")) {
			cx->skipped_vaddr = s->vaddr;
			skip(&cx->vdso, s->name);
			return 0;
		}
	}
	if (cx->n == cx->cap) {
		size_t cap = cx->cap ? 2 * cx->cap : 64;
		struct match *nv = realloc(cx->v, cap * sizeof(*nv));

		if (!nv)
			return cx->oom = 1;
		cx->v = nv;
		cx->cap = cap;
	}
	cx->v[cx->n] = (struct match){ s->vaddr, strdup(s->location), strdup(s->short_name) };
	if (!cx->v[cx->n].location || !cx->v[cx->n].name)
		return cx->oom = 1;
	cx->n++;
	return 0;
}

/* ns::Foo::bar(int, int) -> ns_Foo_bar_int_int, at most max - 1 characters. */
static void event_name_of(const char *name, char *out, size_t max)
{
	char *o = out;
	int repl = 0;

	for (const char *p = name; *p && o < out + max - 1; p++) {
		int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
			 (*p >= '0' && *p <= '9') || *p == '_';

		if (ok)
			*o++ = *p;
		else if (!repl)
			*o++ = '_';
		repl = !ok;
	}
	if (repl && o > out + 1)
		o--;
	*o = 0;
	if (out[0] >= '0' && out[0] <= '9')
		out[0] = '_';
}

static int name_taken(const char (*names)[TRACE_MAX_EVENT_NAME], size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(names[i], name))
			return 1;
	return 0;
}

/* A unique event name for match i: base, else base_2, base_3 ... */
static void unique_name(char (*names)[TRACE_MAX_EVENT_NAME], size_t i, const char *base)
{
	char trimmed[TRACE_MAX_EVENT_NAME];

	snprintf(names[i], TRACE_MAX_EVENT_NAME, "%s", base);
	for (unsigned k = 2; name_taken(names, i, names[i]); k++) {
		snprintf(trimmed, TRACE_MAX_EVENT_NAME - 8, "%s", base);
		snprintf(names[i], TRACE_MAX_EVENT_NAME, "%s_%u", trimmed, k);
	}
}

/* The spec of match m as a line: event name, symbol by its ELF name. */
static int emit(struct trace_spec *s, const struct match *m, const char *event,
		int (*add)(void *ctx, const char *line), void *ctx)
{
	char *line, *sym = s->symbol;
	int len, ret;

	snprintf(s->event, sizeof(s->event), "%s", event);
	s->event_given = 1;
	s->bpftrace_style = 0; /* that form has no place for the event name */
	s->symbol = m->location;
	len = trace_spec_format(s, NULL, 0);
	line = malloc((size_t)len + 1);
	if (!line) {
		s->symbol = sym;
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	}
	trace_spec_format(s, line, (size_t)len + 1);
	s->symbol = sym;
	ret = add(ctx, line);
	free(line);
	return ret;
}

int cli_expand_wildcard(struct trace_spec *s, const char *text, bool as_bpftrace,
			int (*add)(void *ctx, const char *line), void *ctx)
{
	struct expand_ctx cx = { .ret = s->kind == TRACE_RETPROBE, .path = s->path,
				 .no_plt = as_bpftrace && !strstr(s->symbol, "@plt"),
				 .no_eh = as_bpftrace && strncmp(s->symbol, "fn_", 3) };
	char given[TRACE_MAX_EVENT_NAME], base[TRACE_MAX_EVENT_NAME];
	char (*names)[TRACE_MAX_EVENT_NAME] = NULL;
	int ret = 0, n, event_given = s->event_given;

	char head[PATH_MAX + 16];

	snprintf(head, sizeof(head), "probe '%s'", text);
	n = uprobe_symbols(s->path, s->symbol, on_sym, &cx);
	if (n < 0)
		ret = cli_probe_error(CLI_EXIT_FAIL, s->event, head, "%s", uprobe_last_error());
	else if (cx.oom)
		ret = cli_error(CLI_EXIT_FAIL, "out of memory");
	if (!ret) {
		skip_note(&cx.twice, s->event, text, "returns twice", "return twice");
		skip_note(&cx.not_called, s->event, text, "no call enters (no return address to swap)",
			  "no call enters (no return address to swap)");
		skip_note(&cx.vdso, s->event, text,
			  "the dynamic linker resolves into the vDSO (no file: no probe can go "
			  "there)", "the dynamic linker resolves into the vDSO (no file: no probe "
			  "can go there)");
		skip_note(&cx.unbounded, s->event, text,
			  "nothing bounds (no symbol size, no .eh_frame FDE: its start cannot "
			  "be proved an instruction boundary)",
			  "nothing bounds (no symbol size, no .eh_frame FDE: their start cannot "
			  "be proved an instruction boundary)");
	}
	if (!ret && !cx.n)
		ret = cli_probe_error(CLI_EXIT_FAIL, s->event, head, "no function of %s matches "
				      "'%s'%s", s->path, s->symbol,
				cx.twice.n + cx.not_called.n ? " that a return probe can follow"
				: cx.unbounded.n ? " that can be probed"
				: cx.plt_eh ? " but PLT stubs or functions without a symbol, which a "
					      "glob matches when it names them ('*@plt', 'fn_*')"
					    : "");
	if (!ret && !(names = calloc(cx.n, sizeof(*names))))
		ret = cli_error(CLI_EXIT_FAIL, "out of memory");
	snprintf(given, sizeof(given), "%s", s->event);
	for (size_t i = 0; !ret && i < cx.n; i++) {
		if (event_given && i) { /* the given name, then NAME_2, NAME_3 ...: no search */
			snprintf(base, TRACE_MAX_EVENT_NAME - 12, "%s", given);
			snprintf(names[i], TRACE_MAX_EVENT_NAME, "%s_%zu", base, i + 1);
		} else {
			if (event_given)
				snprintf(base, sizeof(base), "%s", given);
			else
				event_name_of(cx.v[i].name, base, sizeof(base) - 8);
			unique_name(names, i, base);
		}
		ret = emit(s, &cx.v[i], names[i], add, ctx);
	}
	for (size_t i = 0; i < cx.n; i++) {
		free(cx.v[i].location);
		free(cx.v[i].name);
	}
	free(cx.v);
	free(names);
	return ret;
}
