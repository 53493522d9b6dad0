// SPDX-License-Identifier: MIT
/*
 * A spec (uprobes_trace.h) as a line of the kernel's dynamic_events:
 *
 *   p:uprobes_4242/e3 /usr/lib/x86_64-linux-gnu/libc.so.6:0x9a0d0 size=%di:u64 __comm=$comm:string
 *
 * The kernel takes what our grammar takes, except what only the agent does:
 * symbols (the kernel wants a file offset: resolved and proved an instruction
 * boundary by core/resolve.c, as for the agent), short names ("libc"),
 * $argN (the System V registers, then the stack words above the return
 * address), DWARF names (resolved by trace/fetch before this) and $ustack.
 * Everything is written out explicitly (types too), so that the event's
 * format holds exactly the fields trace_layout_of() expects; an immediate
 * string (\"text") is a placeholder "\0:u8" that the reader replaces.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "core/resolve.h"
#include "kernel/kernel.h"
#include "sym/maps.h"
#include "trace/spec/spec.h"
#include "util/log.h"

static const char *const ktype_names[] = {
	[TRACE_T_U8] = "u8",   [TRACE_T_U16] = "u16", [TRACE_T_U32] = "u32", [TRACE_T_U64] = "u64",
	[TRACE_T_S8] = "s8",   [TRACE_T_S16] = "s16", [TRACE_T_S32] = "s32", [TRACE_T_S64] = "s64",
	[TRACE_T_X8] = "x8",   [TRACE_T_X16] = "x16", [TRACE_T_X32] = "x32", [TRACE_T_X64] = "x64",
	[TRACE_T_CHAR] = "char", [TRACE_T_STRING] = "string", [TRACE_T_USTRING] = "ustring",
};

static int kfail(struct trace_error *err, int code, const char *token, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int kfail(struct trace_error *err, int code, const char *token, const char *fmt, ...)
{
	char msg[512]; /* uprobe_last_error()'s room: err->msg (128) would cut it */
	va_list ap;

	if (err) {
		memset(err, 0, sizeof(*err));
		snprintf(err->token, sizeof(err->token), "%s", token ? token : "");
		va_start(ap, fmt);
		vsnprintf(msg, sizeof(msg), fmt, ap);
		va_end(ap);
		snprintf(err->msg, sizeof(err->msg), "%s", msg);
		return log_error(code, "%s", msg);
	}
	va_start(ap, fmt);
	vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	return -code;
}

/* name in dirs (':'-separated): the first regular file that maps_short_name() takes. */
static int search_dir(const char *dir, const char *name, char *out, size_t len)
{
	char try[PATH_MAX];
	static const char *const forms[] = { "%s/%s", "%s/%s.so", "%s/lib%s.so", "%s/%s.so.6",
					     "%s/lib%s.so.6", "%s/lib%s.so.1", "%s/lib%s.so.0" };
	struct stat st;

	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(try, sizeof(try), forms[i], dir, name);
		if (!stat(try, &st) && S_ISREG(st.st_mode) && realpath(try, out) && strlen(out) < len)
			return 0;
	}
	return -ENOENT;
}

static int search_dirs(const char *dirs, const char *name, char *out, size_t len)
{
	char *copy = strdup(dirs), *save = NULL, *d;
	int ret = -ENOENT;

	if (!copy)
		return -ENOMEM;
	for (d = strtok_r(copy, ":", &save); d && ret; d = strtok_r(NULL, ":", &save))
		ret = search_dir(d, name, out, len);
	free(copy);
	return ret;
}

/* A library this process has loaded, by its short name. */
static int search_maps(const char *name, char *out, size_t len)
{
	struct maps_entry *m;
	int n = maps_read(&m), ret = -ENOENT;

	for (int i = 0; i < n && ret; i++) {
		const char *base = strrchr(m[i].path, '/');

		if (m[i].path[0] == '/' && strchr(m[i].perms, 'x') && base &&
		    maps_short_name(base + 1, name) && strlen(m[i].path) < len) {
			snprintf(out, len, "%s", m[i].path);
			ret = 0;
		}
	}
	if (n >= 0)
		free(m);
	return ret;
}

#define LOADER_DIRS "/lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:/lib:/usr/lib"

int trace_kernel_path(const char *name, char *out, size_t len)
{
	char real[PATH_MAX];
	const char *path = getenv("PATH");

	log_clear_error();
	if (!name || !*name)
		return log_error(EINVAL, "empty path");
	if (strchr(name, '/')) {
		if (!realpath(name, real))
			return log_error(errno, "'%s': %s", name, strerror(errno));
		if (strlen(real) >= len)
			return log_error(ENAMETOOLONG, "'%s': path too long", name);
		snprintf(out, len, "%s", real);
		return 0;
	}
	if (!search_maps(name, out, len) || !search_dirs(LOADER_DIRS, name, out, len) ||
	    !search_dirs(path ? path : "/usr/bin:/bin", name, out, len))
		return 0;
	return log_error(ENOENT, "'%s': no library of that name is loaded here or in %s, and no "
			 "program of that name is on PATH", name, LOADER_DIRS);
}

/*
 * The last file resolved in, kept open: its symbol table is what costs (libc:
 * ~20 ms to load and sort), and a glob gives hundreds of probes in one file.
 * Checked by identity (device, inode, size, mtime) at each use. registry_lock.
 */
static struct {
	struct sym_file *f;
	struct stat st;
} cache;

void kline_cache_drop(void)
{
	pthread_mutex_lock(&registry_lock);
	if (cache.f)
		sym_file_close(cache.f);
	cache.f = NULL;
	pthread_mutex_unlock(&registry_lock);
}

static struct sym_file *cached_file(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return NULL;
	if (cache.f && (strcmp(sym_file_path(cache.f), path) || st.st_dev != cache.st.st_dev ||
			st.st_ino != cache.st.st_ino || st.st_size != cache.st.st_size ||
			st.st_mtim.tv_sec != cache.st.st_mtim.tv_sec ||
			st.st_mtim.tv_nsec != cache.st.st_mtim.tv_nsec)) {
		sym_file_close(cache.f);
		cache.f = NULL;
	}
	if (!cache.f && (cache.f = sym_file_open(path)))
		cache.st = st;
	return cache.f;
}

/* The file offset of the probe, proved an instruction boundary (as the agent does). */
static int probe_offset(const struct trace_spec *spec, const char *path, uint64_t *off,
			struct trace_error *err)
{
	struct probe_target t;
	struct sym_file *f;
	char loc[600];
	int ret;

	if (!spec->symbol)
		snprintf(loc, sizeof(loc), "0x%" PRIx64, spec->offset);
	else if (spec->offset)
		snprintf(loc, sizeof(loc), "%s+0x%" PRIx64, spec->symbol, spec->offset);
	else
		snprintf(loc, sizeof(loc), "%s", spec->symbol);
	pthread_mutex_lock(&registry_lock);
	f = cached_file(path);
	ret = f ? resolve_location_in(f, loc, RESOLVE_FILE_IMAGE | RESOLVE_FILE_ONLY, &t)
		: resolve_location(path, loc, RESOLVE_FILE_IMAGE, &t); /* says why */
	if (!ret)
		*off = t.file_offset;
	if (!ret)
		resolve_release(&t);
	pthread_mutex_unlock(&registry_lock);
	if (ret && strstr(uprobe_last_error(), path)) /* "symbol 'f' not found in PATH" */
		return kfail(err, -ret, spec->symbol ? spec->symbol : loc, "%s",
			     uprobe_last_error());
	if (ret)
		return kfail(err, -ret, spec->symbol ? spec->symbol : loc, "%s: %s", path,
			     uprobe_last_error());
	return 0;
}

static int format_base(struct spec_out *o, const struct trace_arg *a, struct trace_error *err)
{
	const struct trace_fetch *f = &a->fetch;

	switch (f->base) {
	case TRACE_B_REG:
		spec_out_printf(o, "%%%s", arch_trace_regs[f->reg % TRACE_R_COUNT].kname);
		return 0;
	case TRACE_B_ADDR:
		spec_out_printf(o, "@0x%" PRIx64, f->imm);
		return 0;
	case TRACE_B_FILEOFF:
		spec_out_printf(o, "@+0x%" PRIx64, f->imm);
		return 0;
	case TRACE_B_STACKN:
		spec_out_printf(o, "$stack%" PRIu64, f->imm);
		return 0;
	case TRACE_B_STACK:
		spec_out_printf(o, "$stack");
		return 0;
	case TRACE_B_RETVAL:
		spec_out_printf(o, "$retval");
		return 0;
	case TRACE_B_COMM:
		spec_out_printf(o, "$comm");
		return 0;
	case TRACE_B_ARGN:
		/* The integer argument registers, then the stack (arch/arch.h). */
		if (f->imm >= 1 && f->imm <= ARCH_ARG_REGS)
			spec_out_printf(o, "%%%s", arch_trace_regs[arch_arg_regs[f->imm - 1]].kname);
		else
			spec_out_printf(o, "$stack%" PRIu64,
					(uint64_t)ARCH_STACK_ARG_SLOT(f->imm));
		return 0;
	case TRACE_B_IMM:
		spec_out_printf(o, "\\0x%" PRIx64, f->imm);
		return 0;
	case TRACE_B_IMMSTR:
		/*
		 * The kernel's uprobe events read an immediate string as user memory
		 * (6.18: always a fault). It is the spec's own text: the line holds a
		 * one-byte placeholder, and kread.c fills the text in.
		 */
		spec_out_printf(o, "\\0:u8");
		return 1;
	case TRACE_B_DWARF:
		return kfail(err, EINVAL, a->text, "%s: DWARF name '%s' not resolved "
			     "(trace_spec_resolve_dwarf() first)", a->name, a->text);
	case TRACE_B_USTACK:
		return kfail(err, ENOTSUP, a->text, "%s: the kernel's uprobe events cannot fetch "
			     "a user stack ($ustack): use the agent backend", a->name);
	}
	return kfail(err, EINVAL, a->text, "%s: unknown fetch-arg base", a->name);
}

/* deref[0] is innermost; @ADDR / @+FILEOFF carry the first one implicitly. */
static int format_arg(struct spec_out *o, const struct trace_arg *a, struct trace_error *err)
{
	const struct trace_fetch *f = &a->fetch;
	int first = f->base == TRACE_B_ADDR || f->base == TRACE_B_FILEOFF, ret;

	if (f->n_deref > TRACE_MAX_DEREF + 1)
		return kfail(err, E2BIG, a->text, "%s: too many dereferences", a->name);
	spec_out_printf(o, " %s=", a->name);
	for (int i = f->n_deref - 1; i >= first; i--)
		spec_out_printf(o, "%+" PRId64 "(", f->deref[i]);
	ret = format_base(o, a, err);
	if (ret)
		return ret < 0 ? ret : 0; /* 1: complete as it is */
	for (int i = f->n_deref - 1; i >= first; i--)
		spec_out_printf(o, ")");
	if (a->is_bitfield)
		spec_out_printf(o, ":b%u@%u/%u", a->bf_width, a->bf_offset, 8 * trace_type_size(a->type));
	else if ((unsigned int)a->type < sizeof(ktype_names) / sizeof(ktype_names[0]) &&
		 ktype_names[a->type])
		spec_out_printf(o, ":%s", ktype_names[a->type]);
	else
		return kfail(err, ENOTSUP, a->text, "%s: a type the kernel does not have", a->name);
	if (a->array_len)
		spec_out_printf(o, "[%u]", a->array_len);
	return 0;
}

int kline_place(const struct trace_spec *spec, char *path, size_t len, uint64_t *off,
		struct trace_error *err)
{
	int ret;

	if (spec->kind == TRACE_DELETE)
		return kfail(err, EINVAL, "-:", "'-:' deletes an event: nothing to probe");
	if (spec->sdt_name)
		return kfail(err, EINVAL, spec->sdt_name, "sdt marker '%s' not resolved "
			     "(trace_spec_resolve_sdt() first)", spec->sdt_name);
	ret = trace_kernel_path(spec->path, path, len);
	if (ret)
		return kfail(err, -ret, spec->path, "%s", uprobe_last_error());
	if (strpbrk(path, " \t\n"))
		return kfail(err, EINVAL, path, "'%s': the kernel splits its lines at blanks", path);
	return probe_offset(spec, path, off, err);
}

int trace_kernel_line(const struct trace_spec *spec, const char *group, const char *event,
		      int comm, char *buf, size_t len, struct trace_error *err)
{
	struct spec_out o = { .buf = buf, .len = len };
	char path[PATH_MAX];
	uint64_t off = 0;
	int ret;

	log_clear_error();
	if (!spec || !group || !event)
		return kfail(err, EINVAL, "", "no spec, group or event");
	ret = kline_place(spec, path, sizeof(path), &off, err);
	if (ret)
		return ret;
	spec_out_printf(&o, "%c:%s/%s %s:0x%" PRIx64, spec->kind == TRACE_RETPROBE ? 'r' : 'p', group,
		    event, path, off);
	if (spec->has_ref_ctr)
		spec_out_printf(&o, "(0x%" PRIx64 ")", spec->ref_ctr_offset);
	for (int i = 0; i < spec->n_args; i++) {
		ret = format_arg(&o, &spec->args[i], err);
		if (ret)
			return ret;
	}
	if (comm && spec->n_args < TRACE_MAX_ARGS)
		spec_out_printf(&o, " " KERNEL_COMM_FIELD "=$comm:string");
	return o.pos > INT_MAX ? kfail(err, E2BIG, "", "line too long") : (int)o.pos;
}
