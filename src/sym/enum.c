/* SPDX-License-Identifier: MIT */
/*
 * uprobe_symbols(): the functions of a file as the resolver sees them, for
 * `uprobe list` and for the tracer's expansion of wildcards and C++ names.
 */
#include <errno.h>
#include <fnmatch.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym/sym_priv.h"
#include "uprobes.h"
#include "util/log.h"

struct enum_ctx {
	struct sym_file *f;
	const char *pattern;
	uprobe_sym_fn fn;
	void *arg;
	int count, stop;
	uint64_t ret_vaddr; /* the last address checked for return probes (aliases follow) */
	unsigned ret_flags; /* ... and its UPROBE_SYM_RETURNS_TWICE / UPROBE_SYM_NOT_CALLED */
};

/* Would a return probe be refused at vaddr (sym_ret_check)? Its UPROBE_SYM_* flag, or 0. */
static unsigned ret_flags(struct enum_ctx *cx, uint64_t vaddr)
{
	char why[256];
	int kind;

	if (cx->ret_vaddr == vaddr)
		return cx->ret_flags;
	kind = sym_ret_check(cx->f, vaddr, why, sizeof(why));
	cx->ret_vaddr = vaddr;
	cx->ret_flags = kind == SYM_RET_TWICE	    ? UPROBE_SYM_RETURNS_TWICE :
			kind == SYM_RET_NOT_CALLED ? UPROBE_SYM_NOT_CALLED :
						     0;
	return cx->ret_flags;
}

static bool matches(const char *pattern, const struct sym_entry *e, const char *shown)
{
	char q[1024];

	if (!pattern || !fnmatch(pattern, shown, 0) || !fnmatch(pattern, e->name, 0))
		return true;
	if (!e->demangled)
		return false;
	snprintf(q, sizeof(q), "%.*s", (int)e->qlen, e->demangled + e->qoff);
	if (!fnmatch(pattern, q, 0))
		return true;
	/* "ns::Foo::bar(int,int)" written without the demangler's blanks */
	return !fnmatch(pattern, e->demangled + e->qoff, 0);
}

static void emit(struct enum_ctx *cx, struct uprobe_sym *s)
{
	if (cx->stop)
		return;
	if (sym_vaddr_to_off(cx->f, s->vaddr, &s->file_offset))
		s->file_offset = 0;
	s->flags |= ret_flags(cx, s->vaddr);
	cx->count++;
	cx->stop = cx->fn(s, cx->arg);
}

static void emit_entry(struct enum_ctx *cx, const struct sym_entry *e)
{
	struct sym_func fn;
	uint64_t off;
	char loc[1024];
	const char *shown = e->demangled ? e->demangled : e->name;
	struct uprobe_sym s = {
		.name = shown, .short_name = e->demangled ? e->demangled + e->qoff : shown,
		.location = loc, .version = e->version, .vaddr = e->vaddr,
		.size = e->size, .bind = e->bind,
		.flags = (e->ifunc ? UPROBE_SYM_IFUNC : 0) | (e->src == SYM_SRC_PLT ? UPROBE_SYM_PLT : 0) |
			 (e->src == SYM_SRC_DEBUG || e->src == SYM_SRC_DEBUGDATA ? UPROBE_SYM_DEBUG : 0),
	};

	snprintf(loc, sizeof(loc), "%s%s%s", e->name,
		 e->version ? (e->ver_default ? "@@" : "@") : "", e->version ? e->version : "");
	/* A version a plain name does not mean is shown: memcpy@GLIBC_2.2.5. */
	if (e->version && !e->ver_default && !e->demangled)
		s.name = s.short_name = shown = loc;
	if (!matches(cx->pattern, e, shown))
		return;
	/*
	 * A name that is not this function's alone (static functions of several
	 * files: glibc's 14 free_mem; a local beside a global of its name): its
	 * file offset names exactly it.
	 */
	if (e->bind == STB_LOCAL && !e->ifunc) {
		int found = sym_find(cx->f, loc, &fn);

		if ((found == -EINVAL || (!found && !fn.ifunc && fn.vaddr != e->vaddr)) &&
		    !sym_vaddr_to_off(cx->f, e->vaddr, &off) && off) {
			snprintf(loc, sizeof(loc), "0x%" PRIx64, off);
			if (s.name == loc) /* shown as NAME@VERSION, named by offset */
				s.name = s.short_name = e->name;
		}
		log_clear_error();
	}
	emit(cx, &s);
}

/* An FDE that no symbol covers: a function of a stripped file. */
static void emit_fde(uint64_t start, uint64_t size, void *arg)
{
	struct enum_ctx *cx = arg;
	struct sym_func fn;
	char name[32];
	struct uprobe_sym s = { .name = name, .short_name = name, .location = name, .vaddr = start, .size = size,
				.bind = STB_LOCAL, .flags = UPROBE_SYM_EH };

	if (!sym_func_at(cx->f, start, &fn) && fn.name[0])
		return;
	snprintf(name, sizeof(name), "fn_%" PRIx64, start);
	if (cx->pattern && fnmatch(cx->pattern, name, 0))
		return;
	emit(cx, &s);
}

static bool has_functions(const struct sym_file *f)
{
	size_t n;
	const struct sym_entry *e = sym_entries(f, &n);

	for (size_t i = 0; i < n; i++)
		if (e[i].src != SYM_SRC_PLT)
			return true;
	return false;
}

/*
 * Symbols in address order; then, in a file with no function symbol but its
 * PLT stubs, the FDEs, in address order too.
 */
UPROBE_API int uprobe_symbols(const char *path, const char *pattern, uprobe_sym_fn fn, void *ctx)
{
	struct enum_ctx cx = { .pattern = pattern, .fn = fn, .arg = ctx, .ret_vaddr = UINT64_MAX };
	const struct sym_entry *e;
	size_t n;

	if (!path || !fn)
		return log_report(log_error(EINVAL, "uprobe_symbols: %s", path ? "no callback" : "no path"));
	cx.f = sym_file_open(path);
	if (!cx.f)
		return log_report(-errno);
	sym_demangle_all(cx.f);
	e = sym_entries(cx.f, &n);
	for (size_t i = 0; i < n && !cx.stop; i++)
		emit_entry(&cx, &e[i]);
	if (!has_functions(cx.f))
		sym_fdes(cx.f, emit_fde, &cx);
	sym_file_close(cx.f);
	return cx.count;
}
