/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace and uprobe -e, launch mode: the probed files looked for before
 * the command starts. The command's agent waits for a file it does not map
 * (a library loaded later by dlopen, a program exec'd later), so a file that
 * exists nowhere would only be "never attached" in the summary, and uprobe -e
 * would print its maps as if the probe had not been hit (bpftrace: "uprobe
 * target file '...' does not exist", exit 1). Refused here instead, by name:
 *
 *   - a path ("/opt/x/lib.so", "./prog") that stat() does not find;
 *   - a short name ("libfoo") that names no file the command could map: not
 *     the command, not a library this process maps, nothing in the command's
 *     DT_RPATH/DT_RUNPATH, LD_LIBRARY_PATH, the loader's directories or on
 *     PATH. A library that the command loads by dlopen from such a directory
 *     is found; one loaded from elsewhere is named by its path (a path that
 *     exists is waited for).
 *
 * -p looks in the process (the agent refuses what it does not map) and the
 * kernel backend resolves every file before it attaches: neither comes here.
 */
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"
#include "uprobes_kernel.h"

/* Where the loader looks when nothing else names a directory (Debian's, as usdt.c's). */
static const char loader_dirs[] = "/usr/local/lib/x86_64-linux-gnu:/lib/x86_64-linux-gnu:"
				   "/usr/lib/x86_64-linux-gnu:/usr/local/lib:/lib64:/usr/lib64:"
				   "/lib:/usr/lib:/usr/local/lib/aarch64-linux-gnu:"
				   "/lib/aarch64-linux-gnu:/usr/lib/aarch64-linux-gnu";

/* The file base names name: "libc", "c", "libc.so.6" (as the agent's mappings lookup). */
static bool short_name_of(const char *base, const char *name)
{
	size_t n = strlen(name);

	if (!strcmp(base, name))
		return true;
	if (!strncmp(base, name, n) && !strncmp(base + n, ".so", 3))
		return true;
	return !strncmp(base, "lib", 3) && !strncmp(base + 3, name, n) &&
	       !strncmp(base + 3 + n, ".so", 3);
}

/*
 * A file in dir whose base name name is short for. With out (a glob's file,
 * whose functions are read): an ELF file, the shortest name of those there
 * (libc.so.6, not the linker script libc.so nor libc.so.6.1), its path in out.
 */
static bool in_dir(const char *dir, const char *name, char *out, size_t len)
{
	DIR *d = opendir(*dir ? dir : ".");
	char path[PATH_MAX], best[NAME_MAX + 1] = "";
	struct dirent *e;
	bool found = false;

	while (d && (out || !found) && (e = readdir(d))) {
		if (!short_name_of(e->d_name, name) || e->d_type == DT_DIR)
			continue;
		if (!out) {
			found = true;
			continue;
		}
		snprintf(path, sizeof(path), "%s/%s", *dir ? dir : ".", e->d_name);
		if ((!best[0] || strlen(e->d_name) < strlen(best) ||
		     (strlen(e->d_name) == strlen(best) && strcmp(e->d_name, best) < 0)) &&
		    cli_is_elf_file(path))
			snprintf(best, sizeof(best), "%s", e->d_name);
	}
	if (d)
		closedir(d);
	if (out && best[0]) {
		snprintf(out, len, "%s/%s", *dir ? dir : ".", best);
		found = true;
	}
	return found;
}

/* In one of the ':'-separated dirs ($ORIGIN: origin's); out as in_dir's. */
static bool in_dirs(const char *dirs, const char *origin, const char *name, char *out, size_t len)
{
	char dir[PATH_MAX];

	for (const char *p = dirs; p && *p; p += strcspn(p, ":"), p += *p == ':') {
		size_t n = strcspn(p, ":");

		if (n >= 7 && !strncmp(p, "$ORIGIN", 7))
			snprintf(dir, sizeof(dir), "%s%.*s", origin, (int)(n - 7), p + 7);
		else
			snprintf(dir, sizeof(dir), "%.*s", (int)n, p);
		if (n && in_dir(dir, name, out, len))
			return true;
	}
	return false;
}

/* Under qemu-user (docs/aarch64.md), the loader's directories below QEMU_LD_PREFIX. */
static bool in_qemu_prefix(const char *name, char *out, size_t len)
{
	const char *prefix = getenv("QEMU_LD_PREFIX");
	char dirs[sizeof(loader_dirs) + 16 * 256], *o = dirs; /* 11 dirs, a prefix < 256 each */

	if (!prefix || !*prefix || strlen(prefix) >= 256)
		return false;
	for (const char *p = loader_dirs; *p; p += strcspn(p, ":"), p += *p == ':')
		o += snprintf(o, (size_t)(dirs + sizeof(dirs) - o), "%s%.*s:", prefix,
			      (int)strcspn(p, ":"), p);
	return in_dirs(dirs, "", name, out, len);
}

/*
 * A file that maps (/proc/self/maps: the same libc the command will map;
 * /proc/PID/maps: -p's process) maps; out as in_dir's (the first ELF file).
 */
static bool in_maps(const char *maps, const char *name, char *out, size_t len)
{
	char line[PATH_MAX + 128], *path, *base;
	FILE *f = fopen(maps, "re");
	bool found = false;

	while (f && !found && fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		path = strchr(line, '/');
		base = path ? strrchr(path, '/') + 1 : NULL;
		found = base && short_name_of(base, name) && (!out || cli_is_elf_file(path));
		if (found && out)
			snprintf(out, len, "%s", path);
	}
	if (f)
		fclose(f);
	return found;
}

/* The file offset of virtual address vaddr in the loads of fd's program headers. */
static bool vaddr_offset(int fd, const Elf64_Ehdr *eh, uint64_t vaddr, uint64_t *off)
{
	Elf64_Phdr ph;

	for (unsigned i = 0; i < eh->e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh->e_phoff + i * sizeof(ph))) != sizeof(ph))
			return false;
		if (ph.p_type == PT_LOAD && vaddr >= ph.p_vaddr &&
		    vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

/* The DT_RUNPATH (else DT_RPATH) string of the ELF file fd, in out ("" when none). */
static void dyn_search_path(int fd, char *out, size_t len)
{
	uint64_t strtab = 0, path_at = 0, str_off;
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	Elf64_Dyn dyn;
	ssize_t got;

	out[0] = 0;
	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(ph))
		return;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof(ph), (off_t)(eh.e_phoff + i * sizeof(ph))) != sizeof(ph))
			return;
		if (ph.p_type != PT_DYNAMIC)
			continue;
		/* bounded: the file is anyone's, its p_filesz too */
		for (uint64_t at = 0; at + sizeof(dyn) <= ph.p_filesz && at < 4096 * sizeof(dyn);
		     at += sizeof(dyn)) {
			off_t where = (off_t)(ph.p_offset + at);

			if (pread(fd, &dyn, sizeof(dyn), where) != sizeof(dyn) || dyn.d_tag == DT_NULL)
				break;
			if (dyn.d_tag == DT_STRTAB)
				strtab = dyn.d_un.d_ptr;
			else if (dyn.d_tag == DT_RUNPATH || (dyn.d_tag == DT_RPATH && !path_at))
				path_at = dyn.d_un.d_val + 1; /* +1: 0 is "none" */
		}
	}
	if (!path_at || !vaddr_offset(fd, &eh, strtab, &str_off))
		return;
	got = pread(fd, out, len - 1, (off_t)(str_off + path_at - 1));
	out[got > 0 ? got : 0] = 0;
	out[strnlen(out, len - 1)] = 0;
}

/*
 * Could the command (cmd: as given after "--" or to -c) map a file of that
 * short name? With out, an ELF file of that name, its path in out.
 */
static bool short_name_found(const char *cmd, const char *name, char *out, size_t len)
{
	char exe[PATH_MAX], origin[PATH_MAX], rpath[PATH_MAX], *slash;
	int fd;

	if (strchr(cmd, '/'))
		snprintf(exe, sizeof(exe), "%s", cmd);
	else if (cli_find_on_path(cmd, exe, sizeof(exe)))
		exe[0] = 0;
	slash = strrchr(exe, '/');
	if (slash && short_name_of(slash + 1, name) && (!out || cli_is_elf_file(exe))) {
		if (out)
			snprintf(out, len, "%s", exe);
		return true;
	}
	if (in_maps("/proc/self/maps", name, out, len))
		return true;
	snprintf(origin, sizeof(origin), "%.*s", slash ? (int)(slash - exe) : 0, exe);
	fd = exe[0] ? open(exe, O_RDONLY | O_CLOEXEC | O_NONBLOCK) : -1;
	rpath[0] = 0;
	if (fd >= 0) {
		dyn_search_path(fd, rpath, sizeof(rpath));
		close(fd);
	}
	return in_dirs(rpath, origin, name, out, len) ||
	       in_dirs(getenv("LD_LIBRARY_PATH"), origin, name, out, len) ||
	       in_dirs(loader_dirs, origin, name, out, len) || in_qemu_prefix(name, out, len) ||
	       in_dirs(getenv("PATH"), origin, name, out, len);
}

int tracer_check_file(struct tracer *t, const struct trace_spec *s)
{
	static char last_ok[PATH_MAX]; /* a glob's thousands of probes: one file, one look */
	char loc[PATH_MAX + 160], head[PATH_MAX + 240];
	struct stat st;

	if (!t->exe || t->pid || t->all || !s->path || !strcmp(s->path, last_ok))
		return 0;
	snprintf(head, sizeof(head), "cannot attach %s/%s (%s)", s->group, s->event,
		 tracer_location(s, loc, sizeof(loc)));
	if (strchr(s->path, '/') && stat(s->path, &st))
		return cli_probe_error(CLI_EXIT_FAIL, s->event, head, "'%s': %s", s->path,
				       strerror(errno));
	if (!strchr(s->path, '/') && !short_name_found(t->exe, s->path, NULL, 0))
		return cli_probe_error(CLI_EXIT_FAIL, s->event, head, "'%s': no file of that "
				       "name: not the command, not in its library path (RUNPATH, "
				       "LD_LIBRARY_PATH, the loader's directories) nor on PATH (a "
				       "library loaded from elsewhere: name it by its path)",
				       s->path);
	snprintf(last_ok, sizeof(last_ok), "%s", s->path);
	return 0;
}

/*
 * A glob on a short name ("uprobe:libc:str*", as bpftrace takes it): its
 * functions are read from one file, so the name becomes that file's path, as
 * bpftrace resolves it: with -p, a file the process maps; with -a, the
 * kernel backend's search (trace_kernel_path); in launch mode, the file the
 * command would map (tracer_check_file's search, an ELF file). Each probe of
 * the glob then names that file. 0, or a CLI error code after saying why.
 */
int tracer_glob_file(struct tracer *t, struct trace_spec *s, const char *text)
{
	char path[PATH_MAX], maps[64], head[PATH_MAX + 16], *copy;
	bool found;

	if (!s->path || strchr(s->path, '/'))
		return 0;
	if (t->pid) {
		snprintf(maps, sizeof(maps), "/proc/%d/maps", (int)t->pid);
		found = in_maps(maps, s->path, path, sizeof(path));
	} else if (t->all) {
		found = !trace_kernel_path(s->path, path, sizeof(path));
	} else {
		found = t->exe && short_name_found(t->exe, s->path, path, sizeof(path));
	}
	snprintf(head, sizeof(head), "probe '%s'", text);
	if (!found)
		return cli_probe_error(CLI_EXIT_FAIL, s->event, head, "no ELF file named '%s' %s; "
				       "a glob reads the functions of one file: name it by its path",
				       s->path,
				 t->pid ? "that the process maps"
				 : t->all ? "loaded here, in the loader's directories or on PATH"
					  : "that the command could map (the command, its library "
					    "path, the loader's directories, PATH)");
	copy = strdup(path);
	if (!copy)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	free(s->path);
	s->path = copy;
	return 0;
}
