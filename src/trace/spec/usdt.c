/* SPDX-License-Identifier: MIT */
/*
 * sdt:/usdt: specs made plain: find the marker's file among the files a
 * process maps (or that an executable will load), and write the probe at
 * its place with its semaphore and its arguments:
 *
 *   sdt:python:gc__start  ->
 *   p:python/gc__start /usr/bin/python3.11:0x4287f3(0x68326e) arg1=+0x70(%sp):s32
 *
 * The result is text the agent of a traced process parses again, so the
 * tracer, which lays out records from the spec, and the agent, which writes
 * them, agree on every arg. Markers are read by src/sym/sdt.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gelf.h>
#include <libelf.h>

#include "arch/arch.h"
#include "sym/maps.h"
#include "sym/sdt.h"
#include "trace/spec/parse.h"
#include "util/lazylibs.h"
#include "util/log.h"

#define MAX_FILES 256

/* The files to look in, as real paths, without duplicates. */
struct file_set {
	char *path[MAX_FILES];
	int n;
};

static void files_free(struct file_set *fs)
{
	for (int i = 0; i < fs->n; i++)
		free(fs->path[i]);
	fs->n = 0;
}

static bool files_has(const struct file_set *fs, const char *real)
{
	for (int i = 0; i < fs->n; i++)
		if (!strcmp(fs->path[i], real))
			return true;
	return false;
}

/* 1 if added, 0 if already there or not a file, -ENOMEM. */
static int files_add(struct file_set *fs, const char *path)
{
	char real[PATH_MAX];

	if (!realpath(path, real) || files_has(fs, real) || fs->n == MAX_FILES)
		return 0;
	fs->path[fs->n] = strdup(real);
	if (!fs->path[fs->n])
		return -ENOMEM;
	fs->n++;
	return 1;
}

/* Report a failure in err (short) and uprobe_last_error() (in full); returns -code. */
static int fail(struct trace_error *err, int code, const char *token, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct trace_error *err, int code, const char *token, const char *fmt, ...)
{
	char msg[PATH_MAX + 512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	memset(err, 0, sizeof(*err));
	snprintf(err->token, sizeof(err->token), "%s", token);
	snprintf(err->msg, sizeof(err->msg), "%s", msg);
	return log_error(-code, "%s", msg);
}

/* ---- the files of a process --------------------------------------------------------- */

static int files_of_pid(struct file_set *fs, pid_t pid)
{
	char maps[64], line[PATH_MAX + 128];
	FILE *f;
	int ret = 0;

	if (pid)
		snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)pid);
	else
		snprintf(maps, sizeof(maps), "/proc/self/maps");
	f = fopen(maps, "re");
	if (!f)
		return -errno;
	while (ret >= 0 && fgets(line, sizeof(line), f)) {
		char perms[8], *path = strchr(line, '/');

		line[strcspn(line, "\n")] = 0;
		if (!path || sscanf(line, "%*x-%*x %7s", perms) != 1 || !strchr(perms, 'x') ||
		    strstr(path, " (deleted)"))
			continue;
		ret = files_add(fs, path);
	}
	fclose(f);
	return ret < 0 ? ret : 0;
}

/* ---- the files an executable will load ----------------------------------------------- */

static const char *const default_dirs[] = {
	"/usr/local/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
	"/usr/local/lib", "/lib64", "/usr/lib64", "/lib", "/usr/lib",
};

static bool is_arch_elf(const char *path)
{
	unsigned char h[20];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && read(fd, h, sizeof(h)) == sizeof(h) && !memcmp(h, ELFMAG, SELFMAG) &&
		  h[EI_CLASS] == ELFCLASS64 && h[18] == ARCH_ELF_MACHINE;

	if (fd >= 0)
		close(fd);
	return ok;
}

/* name in the ':'-separated dirs (with $ORIGIN = origin); 0 and out, or -ENOENT. */
static int search_dirs(const char *dirs, const char *origin, const char *name, char *out,
		       size_t len)
{
	const char *p = dirs;

	while (p && *p) {
		size_t n = strcspn(p, ":");
		char dir[PATH_MAX];

		if (n >= 7 && !strncmp(p, "$ORIGIN", 7))
			snprintf(dir, sizeof(dir), "%s%.*s", origin, (int)(n - 7), p + 7);
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
		snprintf(out, len, "%s/%s", dir, name);
		if (n && is_arch_elf(out))
			return 0;
		p += n + (p[n] == ':');
	}
	return -ENOENT;
}

static int find_needed(const char *name, const char *rpath, const char *runpath,
		       const char *origin, char *out, size_t len)
{
	if (strchr(name, '/')) {
		snprintf(out, len, "%s", name);
		return 0;
	}
	if (!runpath && rpath && !search_dirs(rpath, origin, name, out, len))
		return 0;
	if (!search_dirs(secure_getenv("LD_LIBRARY_PATH"), origin, name, out, len)) /* as ld.so */
		return 0;
	if (runpath && !search_dirs(runpath, origin, name, out, len))
		return 0;
	for (size_t i = 0; i < sizeof(default_dirs) / sizeof(default_dirs[0]); i++)
		if (!search_dirs(default_dirs[i], origin, name, out, len))
			return 0;
	return -ENOENT;
}

/* Add the DT_NEEDED libraries of fs->path[i] (not found ones are skipped, as ldd shows). */
static int add_needed(struct file_set *fs, int i)
{
	const char *rpath = NULL, *runpath = NULL, *needed[256];
	char origin[PATH_MAX], found[PATH_MAX];
	int fd = open(fs->path[i], O_RDONLY | O_CLOEXEC), n = 0, ret = 0;
	Elf_Scn *scn = NULL;
	Elf *elf;

	if (fd < 0)
		return 0;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		Elf_Data *d = elf_getdata(scn, NULL);
		GElf_Shdr sh;
		GElf_Dyn dyn;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNAMIC || !d)
			continue;
		for (int k = 0; gelf_getdyn(d, k, &dyn) && dyn.d_tag != DT_NULL; k++) {
			const char *s = elf_strptr(elf, sh.sh_link, dyn.d_un.d_val);

			if (dyn.d_tag == DT_NEEDED && s && n < 256)
				needed[n++] = s;
			else if (dyn.d_tag == DT_RPATH)
				rpath = s;
			else if (dyn.d_tag == DT_RUNPATH)
				runpath = s;
		}
	}
	snprintf(origin, sizeof(origin), "%s", fs->path[i]);
	*strrchr(origin, '/') = 0;
	for (int k = 0; k < n && ret >= 0; k++)
		if (!find_needed(needed[k], rpath, runpath, origin, found, sizeof(found)))
			ret = files_add(fs, found);
	elf_end(elf);
	close(fd);
	return ret < 0 ? ret : 0;
}

static int find_exe(const char *exe, char *out, size_t len);

/* The interpreter of a "#!" script ("#!/usr/bin/env NAME": NAME on PATH), or the file. */
static void script_interpreter(const char *path, char *out, size_t len)
{
	char line[PATH_MAX];
	FILE *f = fopen(path, "re");

	snprintf(out, len, "%s", path);
	if (!f)
		return;
	if (fgets(line, sizeof(line), f) && !strncmp(line, "#!", 2)) {
		char *p = line + 2, *arg;

		p += strspn(p, " \t");
		arg = p + strcspn(p, " \t\n");
		if (*arg && *arg != '\n')
			*arg++ = 0;
		arg += strspn(arg, " \t");
		arg[strcspn(arg, " \t\n")] = 0;
		p[strcspn(p, "\n")] = 0;
		if (!strcmp(p, "/usr/bin/env") && *arg && *arg != '-')
			find_exe(arg, out, len);
		else if (*p == '/')
			snprintf(out, len, "%s", p);
	}
	fclose(f);
}

/* The executable as execvp() would find it. */
static int find_exe(const char *exe, char *out, size_t len)
{
	const char *p = getenv("PATH");

	if (strchr(exe, '/')) {
		snprintf(out, len, "%s", exe);
		return access(out, X_OK) ? -errno : 0;
	}
	while (p && *p) {
		size_t n = strcspn(p, ":");

		snprintf(out, len, "%.*s%s%s", (int)n, p, n ? "/" : "", exe);
		if (!access(out, X_OK))
			return 0;
		p += n + (p[n] == ':');
	}
	return -ENOENT;
}

static int files_of_exe(struct file_set *fs, const char *exe, struct trace_error *err)
{
	char path[PATH_MAX], interp[PATH_MAX];
	int ret = find_exe(exe, path, sizeof(path));

	if (ret)
		return fail(err, ret, exe, "'%s': %s", exe, strerror(-ret));
	script_interpreter(path, interp, sizeof(interp));
	ret = files_add(fs, interp);
	if (ret <= 0)
		return fail(err, ret ? ret : -ENOENT, exe, "'%s': cannot read it", interp);
	if (!lazy_elf(&ret))
		return fail(err, ret, exe, "'%s': %s", exe, uprobe_last_error());
	for (int i = 0; i < fs->n && ret >= 0; i++) /* fs grows: breadth first */
		ret = add_needed(fs, i);
	return ret < 0 ? fail(err, ret, exe, "out of memory") : 0;
}

/* ---- the marker ---------------------------------------------------------------------- */

/* "the files PID 42 maps" or "'prog' (/usr/bin/prog) and the 3 libraries it needs". */
static void where_text(const struct trace_sdt_where *w, const struct file_set *fs, char *buf,
		       size_t len)
{
	if (w->exe)
		snprintf(buf, len, "'%s' (%s) and the %d libraries it needs", w->exe,
			 fs->n ? fs->path[0] : "?", fs->n ? fs->n - 1 : 0);
	else if (w->pid)
		snprintf(buf, len, "the files PID %d maps", (int)w->pid);
	else
		snprintf(buf, len, "the files this process maps");
}

/* Narrow fs to the file spec->path names. */
static int pick_path(struct file_set *fs, const struct trace_spec *spec,
		     const struct trace_sdt_where *w, struct trace_error *err)
{
	char real[PATH_MAX], where[PATH_MAX + 64];
	int keep = -1;

	where_text(w, fs, where, sizeof(where));
	if (strchr(spec->path, '/')) {
		if (!realpath(spec->path, real))
			return fail(err, -errno, spec->path, "'%s': %s", spec->path, strerror(errno));
		if (!w->exe && !files_has(fs, real))
			return fail(err, -ENOENT, spec->path, "'%s' is not loaded (not in %s)",
				    spec->path, where);
		files_free(fs);
		return files_add(fs, real) < 0 ? -ENOMEM : 0;
	}
	for (int i = 0; i < fs->n && keep < 0; i++)
		if (maps_short_name(strrchr(fs->path[i], '/') + 1, spec->path))
			keep = i;
	if (keep < 0)
		return fail(err, -ENOENT, spec->path, "'%s': no file of that name in %s", spec->path,
			    where);
	snprintf(real, sizeof(real), "%s", fs->path[keep]);
	files_free(fs);
	return files_add(fs, real) < 0 ? -ENOMEM : 0;
}

/* The marker's argument n (1-based) as FETCH and TYPE, cut from its fetchargs. */
static int marker_arg(const struct trace_sdt_marker *m, unsigned long n, char *fetch, size_t flen,
		      char *type, size_t tlen)
{
	char key[32];
	const char *p, *eq, *end, *colon;

	snprintf(key, sizeof(key), " arg%lu=", n);
	p = strstr(m->fetchargs, key);
	if (!p)
		return -ENOENT;
	eq = p + strlen(key);
	end = eq + strcspn(eq, " ");
	for (colon = end; colon > eq && *colon != ':'; colon--)
		;
	snprintf(fetch, flen, "%.*s", (int)(colon - eq), eq);
	snprintf(type, tlen, "%.*s", (int)(end - colon - 1), colon + 1);
	return 0;
}

/*
 * One of the spec's own fetch-args in canonical text, its $argN (always its
 * base, so written once) replaced by the marker's Nth argument; a bare $argN
 * without a type takes the argument's type too.
 */
static int user_arg(const struct trace_arg *a, const struct trace_sdt_marker *m, char *buf,
		    size_t len, struct trace_error *err)
{
	char text[1024], fetch[128], type[16], key[32], *at;
	struct spec_out o = { text, sizeof(text), 0 };
	unsigned long n = (unsigned long)a->fetch.imm;

	spec_format_arg(&o, a);
	if (o.pos >= sizeof(text))
		return fail(err, -E2BIG, a->name, "fetch-arg '%s' is too long", a->name);
	if (a->fetch.base != TRACE_B_ARGN) {
		snprintf(buf, len, "%s", text);
		return 0;
	}
	if (marker_arg(m, n, fetch, sizeof(fetch), type, sizeof(type)))
		return fail(err, -EINVAL, a->text, "fetch-arg '%s': $arg%lu: marker %s:%s has no "
			    "argument %lu (its arguments: '%s')", a->name, n, m->provider, m->name,
			    n, m->args);
	if (!a->type_given && !a->fetch.n_deref && !a->array_len) {
		snprintf(buf, len, " %s=%s:%s", a->name, fetch, type);
		return 0;
	}
	snprintf(key, sizeof(key), "$arg%lu", n);
	at = strstr(text, key);
	if (!at)
		return fail(err, -EINVAL, a->text, "fetch-arg '%s': cannot place $arg%lu", a->name, n);
	snprintf(buf, len, "%.*s%s%s", (int)(at - text), text, fetch, at + strlen(key));
	return 0;
}

/* The plain probe for marker m of file path. */
static struct trace_spec *plain_spec(const struct trace_spec *spec, const char *path,
				     const struct trace_sdt_marker *m, struct trace_error *err)
{
	char *line = NULL, arg[1400];
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	struct trace_spec *out = NULL;
	int ret = 0;

	if (!f)
		return NULL;
	/* provider "*": the marker's own names the group, as a given provider does */
	fprintf(f, "p:%s/%s %s:0x%" PRIx64,
		strcmp(spec->sdt_provider, "*") ? spec->group : m->provider, spec->event, path,
		m->offset);
	if (m->semaphore_offset)
		fprintf(f, "(0x%" PRIx64 ")", m->semaphore_offset);
	if (!spec->n_args)
		fputs(m->fetchargs, f);
	for (int i = 0; i < spec->n_args && !ret; i++) {
		ret = user_arg(&spec->args[i], m, arg, sizeof(arg), err);
		fputs(arg, f);
	}
	fclose(f);
	if (!ret && line) {
		out = trace_spec_parse(line, err);
		if (!out)
			log_error(-errno, "%s: %s (in '%s')", err->token, err->msg, line);
	}
	free(line);
	return out;
}

/* Marker m is spec's: its name, and its provider or any ("*"). */
static bool marker_is(const struct trace_sdt_marker *m, const struct trace_spec *spec)
{
	return !strcmp(m->name, spec->sdt_name) &&
	       (!strcmp(spec->sdt_provider, "*") || !strcmp(m->provider, spec->sdt_provider));
}

/*
 * Provider "*": the providers of the name in m[0..n) must be one. 0, or
 * -EEXIST with err set, naming them.
 */
static int one_provider(const struct trace_spec *spec, const char *path,
			const struct trace_sdt_marker *m, int n, struct trace_error *err)
{
	char names[256] = "";
	const char *first = NULL;
	int providers = 0;

	for (int k = 0; k < n; k++) {
		bool seen = false;

		if (!marker_is(&m[k], spec))
			continue;
		for (int j = 0; j < k && !seen; j++)
			seen = marker_is(&m[j], spec) && !strcmp(m[j].provider, m[k].provider);
		if (seen)
			continue;
		if (!first)
			first = m[k].provider;
		providers++;
		snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s",
			 providers > 1 ? ", " : "", m[k].provider);
	}
	if (providers < 2)
		return 0;
	return fail(err, -EEXIST, spec->sdt_name, "SDT marker %s is in %d providers of %s (%s): "
		    "name one, usdt:PATH:PROVIDER:%s", spec->sdt_name, providers, path, names,
		    spec->sdt_name);
}

struct found {
	const char *path; /* the file with the marker */
	struct trace_sdt_marker *m;
	int n_m;
	int hits;
};

/* The file of fs that has the marker; exactly one must. */
static int find_marker(const struct file_set *fs, const struct trace_spec *spec,
		       const struct trace_sdt_where *w, struct found *fd, struct trace_error *err)
{
	char where[PATH_MAX + 64], token[TRACE_MAX_EVENT_NAME * 2 + 2];

	if (strcmp(spec->sdt_provider, "*"))
		snprintf(token, sizeof(token), "%s:%s", spec->sdt_provider, spec->sdt_name);
	else /* any provider */
		snprintf(token, sizeof(token), "%s", spec->sdt_name);
	for (int i = 0; i < fs->n; i++) {
		struct trace_sdt_marker *m;
		int n = sdt_read(fs->path[i], &m), hits = 0;

		for (int k = 0; k < n; k++)
			hits += marker_is(&m[k], spec);
		if (!hits) {
			sdt_free(m, n > 0 ? n : 0);
			continue;
		}
		if (fd->hits) {
			sdt_free(m, n);
			return fail(err, -EEXIST, token, "SDT marker %s is in %s and in %s: name "
				    "the file with usdt:PATH:%s", token, fd->path, fs->path[i], token);
		}
		*fd = (struct found){ fs->path[i], m, n, hits };
		if (one_provider(spec, fs->path[i], m, n, err))
			return -EEXIST; /* fd's markers: freed by the caller */
	}
	if (fd->hits)
		return 0;
	if (fs->n == 1)
		snprintf(where, sizeof(where), "%s", fs->path[0]);
	else
		where_text(w, fs, where, sizeof(where));
	return fail(err, -ENOENT, token, "no SDT marker %s in %s", token, where);
}

static int make_specs(const struct trace_spec *spec, const struct found *fd,
		      struct trace_spec **out, int max, struct trace_error *err)
{
	int n = 0;

	for (int k = 0; k < fd->n_m; k++) {
		const struct trace_sdt_marker *m = &fd->m[k];

		if (!marker_is(m, spec))
			continue;
		if (m->error) {
			n = fail(err, -ENOTSUP, spec->sdt_name, "SDT marker %s:%s in %s: %s",
				 m->provider, m->name, fd->path, m->error);
		} else if (n == max) {
			n = fail(err, -E2BIG, spec->sdt_name, "SDT marker %s:%s has more than %d "
				 "places", m->provider, m->name, max);
		} else {
			out[n] = plain_spec(spec, fd->path, m, err);
			n = out[n] ? n + 1 : -EINVAL;
		}
		if (n < 0)
			break;
	}
	return n;
}

static int resolve(const struct trace_spec *spec, const struct trace_sdt_where *w,
		   struct trace_spec **out, int max, struct trace_error *err)
{
	struct file_set fs = { .n = 0 };
	struct found fd = { 0 };
	int ret;

	if (w->exe)
		ret = files_of_exe(&fs, w->exe, err);
	else if ((ret = files_of_pid(&fs, w->pid)))
		fail(err, ret, "", "cannot read the mappings of %s%d: %s",
		     w->pid ? "PID " : "this process", (int)w->pid, strerror(-ret));
	if (!ret && spec->path)
		ret = pick_path(&fs, spec, w, err);
	if (!ret)
		ret = find_marker(&fs, spec, w, &fd, err);
	if (!ret)
		ret = make_specs(spec, &fd, out, max, err);
	if (ret < 0)
		for (int i = 0; i < max && out[i]; i++) {
			trace_spec_free(out[i]);
			out[i] = NULL;
		}
	sdt_free(fd.m, fd.n_m);
	files_free(&fs);
	return ret;
}

UPROBE_API int trace_spec_resolve_sdt(const struct trace_spec *spec,
				      const struct trace_sdt_where *where, struct trace_spec **out,
				      int max, struct trace_error *err)
{
	struct trace_sdt_where w = { .sz = sizeof(w) };
	struct trace_error scratch;
	char text[16384];
	int ret;

	err = err ? err : &scratch;
	memset(err, 0, sizeof(*err));
	if (!spec || !out || max < 1 || (where && where->sz < sizeof(*where)))
		return fail(err, -EINVAL, "", "trace_spec_resolve_sdt: bad arguments");
	if (where)
		w = *where;
	memset(out, 0, (size_t)max * sizeof(*out));
	if (spec->sdt_name) {
		ret = resolve(spec, &w, out, max, err);
		return log_report(ret);
	}
	/* Not a marker: a copy, through the canonical text. */
	if (trace_spec_format(spec, text, sizeof(text)) >= (int)sizeof(text))
		return fail(err, -E2BIG, "", "spec too long to copy");
	out[0] = trace_spec_parse(text, err);
	return out[0] ? 1 : -errno;
}

UPROBE_API int trace_sdt_list(const char *path, struct trace_sdt_marker **out)
{
	if (!path || !out)
		return log_error(EINVAL, "trace_sdt_list: no path or out");
	return log_report(sdt_read(path, out));
}

UPROBE_API void trace_sdt_list_free(struct trace_sdt_marker *m, int n)
{
	sdt_free(m, n);
}
