/* SPDX-License-Identifier: MIT */
/*
 * Source lines and inlined calls for the symbolizer, from DWARF: the file's
 * separate debug file (build-id, debuglink) when it has one, else the file
 * itself. At an address, the innermost function scope that contains it
 * (dwarf_getscopes), then outwards through the DIE tree (dwarf_getscopes_die,
 * as eu-addr2line -i does: dwarf_getscopes itself goes on into an inlined
 * function's abstract definition): each DW_TAG_inlined_subroutine is a call
 * inlined there (its name from its abstract origin, its line the current one;
 * the caller's line is its DW_AT_call_file:DW_AT_call_line), up to the
 * DW_TAG_subprogram that holds them all: the function the address is in, at
 * the line reached.
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sym/sym_priv.h"
#include "sym/symbolize.h"
#include "util/lazylibs.h"

struct sz_dwarf {
	int fd;
	Dwarf *dw;
};

void sz_dwarf_free(struct sz_dwarf *d)
{
	if (!d)
		return;
	dwarf_end(d->dw);
	close(d->fd);
	free(d);
}

static struct sz_dwarf *dwarf_of(struct sz_file *file)
{
	char path[4096];
	struct sz_dwarf *d;
	int err;

	if (file->dw_tried)
		return file->dw;
	file->dw_tried = true;
	if (!file->f || !lazy_dw(&err) || !(d = calloc(1, sizeof(*d))))
		return NULL;
	if (sym_debug_path(file->f, path, sizeof(path)))
		snprintf(path, sizeof(path), "%s", file->path);
	d->fd = open(path, O_RDONLY | O_CLOEXEC);
	d->dw = d->fd < 0 ? NULL : dwarf_begin(d->fd, DWARF_C_READ);
	if (!d->dw) {
		if (d->fd >= 0)
			close(d->fd);
		free(d);
		return NULL;
	}
	return file->dw = d;
}

/* A scope's name: its linkage name demangled (C++), else its name, through abstract origins. */
static const char *scope_name(struct sz_pool *pool, Dwarf_Die *die)
{
	Dwarf_Attribute a;
	const char *name = NULL;
	size_t qoff, qlen;
	char *d;

	if (dwarf_attr_integrate(die, DW_AT_linkage_name, &a) ||
	    dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &a))
		name = dwarf_formstring(&a);
	if (name && (d = sym_demangle(name, &qoff, &qlen))) {
		name = sz_strndup(pool, d + qoff, qlen);
		free(d);
		return name;
	}
	if (dwarf_attr_integrate(die, DW_AT_name, &a))
		name = dwarf_formstring(&a);
	return name ? sz_strndup(pool, name, strlen(name)) : NULL;
}

/* The call site of an inlined call: its file and line. */
static void call_site(Dwarf_Die *cu, Dwarf_Die *die, const char **file, int *line)
{
	Dwarf_Attribute a;
	Dwarf_Files *files;
	Dwarf_Word idx, ln;
	size_t n;

	*file = NULL;
	*line = 0;
	if (dwarf_attr(die, DW_AT_call_line, &a) && !dwarf_formudata(&a, &ln))
		*line = (int)ln;
	if (dwarf_attr(die, DW_AT_call_file, &a) && !dwarf_formudata(&a, &idx) &&
	    !dwarf_getsrcfiles(cu, &files, &n) && idx < n)
		*file = dwarf_filesrc(files, idx, NULL, NULL);
}

static bool is_function(Dwarf_Die *die)
{
	int tag = dwarf_tag(die);

	return tag == DW_TAG_inlined_subroutine || tag == DW_TAG_subprogram;
}

/* The function scope holding die: the next inlined call or function out (0), or -1. */
static int outer_function(Dwarf_Die *die, Dwarf_Die *out)
{
	Dwarf_Die *scopes = NULL;
	int n = dwarf_getscopes_die(die, &scopes), ret = -1;

	for (int i = 1; i < n && ret; i++)
		if (is_function(&scopes[i])) {
			*out = scopes[i];
			ret = 0;
		}
	free(scopes);
	return ret;
}

int sz_lines(struct sz_file *file, struct sz_pool *pool, uint64_t vaddr, struct uprobe_frame *out,
	     unsigned int max)
{
	struct sz_dwarf *d = dwarf_of(file);
	const char *src = NULL;
	Dwarf_Die cu, die, *scopes = NULL;
	Dwarf_Line *l;
	unsigned int k = 0;
	int line = 0, n, found = -1;

	if (!d || !dwarf_addrdie(d->dw, vaddr, &cu))
		return 0;
	if ((l = dwarf_getsrc_die(&cu, vaddr))) {
		src = dwarf_linesrc(l, NULL, NULL);
		dwarf_lineno(l, &line);
	}
	n = dwarf_getscopes(&cu, vaddr, &scopes);
	for (int i = 0; i < n && found; i++)
		if (is_function(&scopes[i])) {
			die = scopes[i];
			found = 0;
		}
	free(scopes);
	for (; !found && k < max; found = outer_function(&die, &die)) {
		bool inlined = dwarf_tag(&die) == DW_TAG_inlined_subroutine;

		out[k] = (struct uprobe_frame){
			.file = src ? sz_strndup(pool, src, strlen(src)) : NULL,
			.line = line > 0 ? (unsigned int)line : 0,
			.inlined = inlined,
		};
		k++;
		if (!inlined)
			break;
		out[k - 1].func = out[k - 1].short_func = scope_name(pool, &die);
		call_site(&cu, &die, &src, &line);
	}
	if (!k && src && max) /* a line but no function scope (assembly): the line alone */
		out[k++] = (struct uprobe_frame){ .file = sz_strndup(pool, src, strlen(src)),
						  .line = line > 0 ? (unsigned int)line : 0 };
	return (int)k;
}
