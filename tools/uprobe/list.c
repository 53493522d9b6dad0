/* SPDX-License-Identifier: MIT */
/*
 * uprobe list: the function symbols of an ELF file (or of every file a
 * process maps executable) and how a probe at each entry would run:
 * jump-optimized, through the int3 breakpoint, or refused. Decided by
 * uprobe_analyze(), which reads files this process has not mapped.
 */
#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <fcntl.h>
#include <elf.h>
#include <getopt.h>
#include <glob.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "uprobes.h"
#include "uprobes_trace.h"

#define NAME_COLS 40 /* names longer than this push their line's later columns */

static const char list_usage[] =
	"usage: uprobe list [OPTIONS] BINARY|PID [PATTERN]\n"
	"\n"
	"List the functions (one name per address, in address order) and how a probe\n"
	"at each entry would run:\n"
	"  ADDRESS  NAME  optimized|int3|refused  REASON\n"
	"and on stderr 'N functions: X optimized, Y int3, Z refused'. REASON ends\n"
	"with '; no r: (returns twice)' or '; no r: (no call enters it)' where a\n"
	"return probe is refused: setjmp, vfork, getcontext ...; the ELF entry point,\n"
	"signal frames, code a jump enters (with the agent; the kernel's return\n"
	"probes are its own). With -b, each line ends with '  [backends: B]': which\n"
	"backends of 'uprobe trace' take an entry probe there: 'agent kernel',\n"
	"'kernel' (an instruction only the kernel may probe, by its own rules) or\n"
	"'none' (not an instruction boundary ...). SDT markers are taken by both.\n"
	"\n"
	"BINARY is a path; a name without '/' is looked up on PATH (python3), then as\n"
	"a library in /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib64,\n"
	"/usr/lib64 as NAME, NAME.so.* or NAME.so (libc -> libc.so.6). A number that\n"
	"is not a file is a PID: every ELF file it maps executable is listed under a\n"
	"'PATH:' header line. PATTERN is a shell glob on the name ('PyObject_*',\n"
	"'ns::Foo::*').\n"
	"\n"
	"Functions come from .symtab and .dynsym, a separate debug file (by build-id\n"
	"or .gnu_debuglink under /usr/lib/debug, or $UPROBE_DEBUG_DIR; one that is not\n"
	"a regular file, is over 2 GiB or is of another build is refused with a warning\n"
	"on stderr), MiniDebugInfo (.gnu_debugdata) and the PLT (NAME@plt); C++ names\n"
	"are shown demangled. A file with no function symbol at all (strip --strip-all)\n"
	"shows its .eh_frame functions as fn_<hex address>.\n"
	"A file's symbols and branch targets are read once and kept by its build-id in\n"
	"$UPROBE_CACHE_DIR (else $XDG_CACHE_HOME/uprobes or ~/.cache/uprobes; empty: off).\n"
	"\n"
	"Then the file's SDT markers (.note.stapsdt), probed as sdt:PROVIDER:NAME:\n"
	"  ADDRESS  sdt:PROVIDER:NAME  sdt  offset 0xOFF  semaphore 0xOFF|none  args: ARGS\n"
	"(file offsets; PATTERN matches PROVIDER:NAME or NAME too).\n"
	"\n"
	"options:\n"
	"  -q, --names   print only the names (no headers)\n"
	"  -b, --backends  say which backends (agent, kernel) take each probe\n"
	"  -r, --ret     say whether a return probe's returns can be caught at the\n"
	"                function's return sites (every exit patchable: [r: sites ...])\n"
	"                or only by swapping the return address ([r: hijack: WHY])\n"
	"  -h, --help    this text\n"
	"\n"
	"exit status: 0; 1 if a file or process is missing or not an x86-64 ELF file;\n"
	"2 for bad usage.\n";

static const char *const lib_dirs[] = { "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu",
					"/lib64", "/usr/lib64" };

struct func {
	uint64_t addr;
	uint64_t offset; /* file offset, the location handed to uprobe_analyze */
	int rank;	 /* which alias of an address to show: lower wins */
	unsigned flags;	 /* UPROBE_SYM_RETURNS_TWICE, UPROBE_SYM_NOT_CALLED */
	char *name;
};

struct totals {
	unsigned optimized, int3, refused;
	unsigned sdt; /* SDT markers listed */
	unsigned ret_sites, ret_hijack; /* --ret: functions of each return path */
};

static int names_only, show_backends, show_ret;
static unsigned headers; /* header lines printed */

int cli_is_elf_file(const char *path)
{
	char magic[4];
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	int ok = fd >= 0 && read(fd, magic, 4) == 4 && !memcmp(magic, ELFMAG, 4);

	if (fd >= 0)
		close(fd);
	return ok;
}

int cli_find_on_path(const char *name, char *out, size_t len)
{
	const char *path = getenv("PATH");
	struct stat st;

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(out, len, "%.*s/%s", (int)n, n ? path : ".", name);
		if (!stat(out, &st) && S_ISREG(st.st_mode) && !access(out, X_OK))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

/*
 * A library short name: DIR/NAME, DIR/NAME.so.* (the shortest: libc.so.6
 * before libc.so.6.1), DIR/NAME.so -- only ELF files, as libc.so is often a
 * linker script.
 */
static int find_library(const char *name, char *out, size_t len)
{
	for (size_t d = 0; d < sizeof(lib_dirs) / sizeof(lib_dirs[0]); d++) {
		char pat[PATH_MAX];
		glob_t g;

		snprintf(out, len, "%s/%s", lib_dirs[d], name);
		if (cli_is_elf_file(out))
			return 0;
		snprintf(pat, sizeof(pat), "%s/%s.so.*", lib_dirs[d], name);
		if (!glob(pat, 0, NULL, &g)) {
			const char *best = NULL;

			for (size_t i = 0; i < g.gl_pathc; i++)
				if (cli_is_elf_file(g.gl_pathv[i]) &&
				    (!best || strlen(g.gl_pathv[i]) < strlen(best)))
					best = g.gl_pathv[i];
			if (best)
				snprintf(out, len, "%s", best);
			globfree(&g);
			if (best)
				return 0;
		}
		snprintf(out, len, "%s/%s.so", lib_dirs[d], name);
		if (cli_is_elf_file(out))
			return 0;
	}
	return -ENOENT;
}

/*
 * Check the file: 0, or an error message already printed and CLI_EXIT_FAIL.
 * Its ELF header read here, not with libelf: the command (the tracer of every
 * launch) does not load libelf for this (the library opens it when it reads
 * sections).
 */
static int check_elf(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf64_Ehdr eh;
	ssize_t n;

	if (fd < 0)
		return cli_error(CLI_EXIT_FAIL, "%s: %s", path, strerror(errno));
	n = pread(fd, &eh, sizeof(eh), 0);
	close(fd);
	if (n < EI_NIDENT || memcmp(eh.e_ident, ELFMAG, SELFMAG))
		return cli_error(CLI_EXIT_FAIL, "%s: not an ELF file", path);
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || n != (ssize_t)sizeof(eh) ||
	    eh.e_machine != cli_elf_machine)
		return cli_error(CLI_EXIT_FAIL, "%s: not an %s ELF file", path, cli_arch_name);
	return 0;
}

/* Prefer global names, then ones without leading '_', then shorter; PLT stubs and FDEs last. */
static int alias_rank(const struct uprobe_sym *s)
{
	size_t len = strlen(s->name);

	if (s->flags & (UPROBE_SYM_PLT | UPROBE_SYM_EH))
		return 3 * 4096;
	return (s->bind == STB_GLOBAL ? 0 : s->bind == STB_WEAK ? 1 : 2) * 4096 +
	       (s->name[0] == '_') * 2048 + (int)(len < 2047 ? len : 2047);
}

static int push(struct func **v, size_t *n, size_t *cap, const struct func *f)
{
	if (*n == *cap) {
		size_t c = *cap ? *cap * 2 : 256;
		struct func *nv = realloc(*v, c * sizeof(*nv));

		if (!nv)
			return -ENOMEM;
		*v = nv;
		*cap = c;
	}
	(*v)[(*n)++] = *f;
	return 0;
}

struct collect_ctx {
	struct func *v;
	size_t n, cap;
	int err;
};

/* One function from uprobe_symbols(). */
static int collect_one(const struct uprobe_sym *s, void *arg)
{
	struct collect_ctx *cx = arg;
	struct func f = { .addr = s->vaddr, .offset = s->file_offset, .rank = alias_rank(s),
			  .flags = s->flags, .name = strdup(s->name) };

	if (!f.name || push(&cx->v, &cx->n, &cx->cap, &f)) {
		free(f.name);
		cx->err = -ENOMEM;
		return 1;
	}
	return 0;
}

static int func_cmp(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	if (x->rank != y->rank)
		return x->rank < y->rank ? -1 : 1;
	return strcmp(x->name, y->name);
}

/*
 * Sorted by address, one (the best-ranked alias) per address: every function
 * the library can resolve (uprobe_symbols: .symtab, .dynsym, debug files,
 * MiniDebugInfo, PLT stubs; .eh_frame FDEs for a stripped file).
 */
static size_t collect(const char *path, const char *pattern, struct func **out)
{
	struct collect_ctx cx = { 0 };
	struct func *v;
	size_t n, m = 0;

	uprobe_symbols(path, pattern, collect_one, &cx);
	v = cx.v;
	n = cx.n;
	if (n)
		qsort(v, n, sizeof(*v), func_cmp);
	for (size_t i = 0; i < n; i++) {
		if (m && v[m - 1].addr == v[i].addr) {
			free(v[i].name);
			continue;
		}
		v[m++] = v[i];
	}
	*out = v;
	return m;
}

/* "path:location: why" -> "why": the location is on the line already. */
static const char *strip_prefix(const char *msg, const char *path, const char *loc)
{
	size_t lp = strlen(path), ll = strlen(loc);

	if (!strncmp(msg, path, lp) && msg[lp] == ':' && !strncmp(msg + lp + 1, loc, ll) &&
	    msg[lp + 1 + ll] == ':')
		return msg + lp + ll + 2 + (msg[lp + ll + 2] == ' ');
	return msg;
}

static void print_func(const char *path, const struct func *f, int aw, int width,
		       struct totals *t)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	char loc[64];
	const char *mode, *why, *backends;
	int err;

	if (f->offset)
		snprintf(loc, sizeof(loc), "0x%" PRIx64, f->offset);
	else
		snprintf(loc, sizeof(loc), "%s", f->name);
	err = uprobe_analyze(path, loc, show_ret ? UPROBE_F_ANALYZE_RET : 0, &info);
	if (err) {
		t->refused++;
		mode = "refused";
		why = info.reason[0] ? info.reason : strip_prefix(uprobe_last_error(), path, loc);
	} else if (info.mode == UPROBE_MODE_OPTIMIZED) {
		t->optimized++;
		mode = "optimized";
		why = info.reason;
	} else {
		t->int3++;
		mode = "int3";
		why = info.opt_reason[0] ? info.opt_reason : info.reason;
	}
	/*
	 * The kernel backend takes what is an instruction boundary: an instruction
	 * the agent cannot run elsewhere (-ENOTSUP) is the kernel's to judge.
	 */
	backends = !err ? "agent kernel" : err == -ENOTSUP ? "kernel" : "none";
	if (names_only)
		printf("%s\n", f->name);
	else
		printf("0x%0*" PRIx64 "  %-*s  %-9s  %s%s%s%s%s", aw, f->addr, width, f->name,
		       mode, why, f->flags & UPROBE_SYM_RETURNS_TWICE ? "; no r: (returns twice)" :
		       f->flags & UPROBE_SYM_NOT_CALLED ? "; no r: (no call enters it)" : "",
		       show_backends ? "  [backends: " : "", show_backends ? backends : "",
		       show_backends ? "]" : "");
	if (show_ret && !err && info.ret_path != UPROBE_RET_NONE) {
		if (info.ret_site_ok)
			t->ret_sites++;
		else
			t->ret_hijack++;
		if (!names_only)
			printf("  [r: %s: %s]", info.ret_site_ok ? "sites" : "hijack",
			       info.ret_reason);
	}
	if (!names_only)
		putchar('\n');
}

/* Does PATTERN select the marker: as PROVIDER:NAME, NAME or sdt:PROVIDER:NAME? */
static int marker_matches(const struct trace_sdt_marker *m, const char *pattern)
{
	char full[300];

	if (!pattern)
		return 1;
	snprintf(full, sizeof(full), "sdt:%s:%s", m->provider, m->name);
	return !fnmatch(pattern, full, 0) || !fnmatch(pattern, full + 4, 0) ||
	       !fnmatch(pattern, m->name, 0);
}

/*
 * The SDT markers after the functions, one line each:
 *   ADDRESS  sdt:PROVIDER:NAME  sdt  offset 0xOFF  semaphore 0xOFF|none  args: ARGS
 * (file offsets, as probes name them). Markers whose arguments cannot be
 * fetched say why.
 */
static void print_markers(const struct trace_sdt_marker *m, int n, const char *pattern, int aw,
			  int width, struct totals *t)
{
	char name[300], sem[32];

	for (int i = 0; i < n; i++) {
		if (!marker_matches(&m[i], pattern))
			continue;
		t->sdt++;
		snprintf(name, sizeof(name), "sdt:%s:%s", m[i].provider, m[i].name);
		if (names_only) {
			printf("%s\n", name);
			continue;
		}
		snprintf(sem, sizeof(sem), m[i].semaphore ? "0x%" PRIx64 : "none",
			 m[i].semaphore_offset);
		printf("0x%0*" PRIx64 "  %-*s  %-9s  offset 0x%" PRIx64 "  semaphore %s  args: %s%s%s\n",
		       aw, m[i].pc, width, name, "sdt", m[i].offset, sem, m[i].args,
		       m[i].error ? "  " : "", m[i].error ? m[i].error : "");
	}
}

static size_t count_markers(const struct trace_sdt_marker *m, int n, const char *pattern)
{
	size_t k = 0;

	for (int i = 0; i < n; i++)
		k += marker_matches(&m[i], pattern);
	return k;
}

/* One file: its functions, analysed, then its SDT markers. 0 or CLI_EXIT_FAIL. */
static int list_file(const char *path, const char *pattern, int header, struct totals *t)
{
	struct trace_sdt_marker *markers = NULL;
	struct func *funcs = NULL;
	size_t n, n_sdt;
	int err, width = 1, aw = 4, n_m;

	err = check_elf(path);
	if (err)
		return err;
	n = collect(path, pattern, &funcs);
	n_m = trace_sdt_list(path, &markers);
	if (n_m < 0)
		n_m = 0;
	n_sdt = count_markers(markers, n_m, pattern);
	for (size_t i = 0; i < n; i++)
		if ((int)strlen(funcs[i].name) > width)
			width = (int)strlen(funcs[i].name);
	for (int i = 0; i < n_m; i++) /* "sdt:" + PROVIDER + ":" + NAME */
		if (marker_matches(&markers[i], pattern) &&
		    (int)(strlen(markers[i].provider) + strlen(markers[i].name) + 5) > width)
			width = (int)(strlen(markers[i].provider) + strlen(markers[i].name) + 5);
	if (width > NAME_COLS)
		width = NAME_COLS;
	/* Hex digits of the highest address: the list is sorted. */
	while (n && aw < 16 && funcs[n - 1].addr >> (4 * aw))
		aw++;
	for (int i = 0; i < n_m; i++)
		while (aw < 16 && markers[i].pc >> (4 * aw))
			aw++;
	/* PID mode: headers only over files with matches, a blank line between. */
	if (header && (n || n_sdt) && !names_only)
		printf("%s%s:\n", headers++ ? "\n" : "", path);
	uprobe_batch_begin(); /* the file's symbols are read once, not once per function */
	for (size_t i = 0; i < n; i++) {
		print_func(path, &funcs[i], aw, width, t);
		free(funcs[i].name);
	}
	uprobe_batch_end();
	free(funcs);
	print_markers(markers, n_m, pattern, aw, width, t);
	trace_sdt_list_free(markers, n_m);
	return 0;
}

static int seen_before(char **paths, size_t n, const char *p)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(paths[i], p))
			return 1;
	return 0;
}

/*
 * Every file the process maps executable, in maps order. Files that vanished
 * ("(deleted)") or are not x86-64 ELF are reported and skipped.
 */
static int list_pid(const char *pid, const char *pattern, struct totals *t)
{
	char maps[64], line[PATH_MAX + 256];
	char *paths[512];
	size_t npaths = 0;
	FILE *f;

	snprintf(maps, sizeof(maps), "/proc/%s/maps", pid);
	f = fopen(maps, "re");
	if (!f)
		return errno == ENOENT ? cli_error(CLI_EXIT_FAIL, "no process %s", pid) :
					 cli_error(CLI_EXIT_FAIL, "%s: %s", maps, strerror(errno));
	while (fgets(line, sizeof(line), f) && npaths < sizeof(paths) / sizeof(paths[0])) {
		char perms[8], *path = strchr(line, '/');

		line[strcspn(line, "\n")] = 0;
		if (!path || sscanf(line, "%*s %7s", perms) != 1 || perms[2] != 'x' ||
		    seen_before(paths, npaths, path))
			continue;
		paths[npaths] = strdup(path);
		if (paths[npaths])
			npaths++;
	}
	fclose(f);
	if (!npaths)
		return cli_error(CLI_EXIT_FAIL, "no process %s (or it maps no files)", pid);
	for (size_t i = 0; i < npaths; i++) {
		list_file(paths[i], pattern, 1, t);
		free(paths[i]);
	}
	return 0;
}

static int all_digits(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

static int list_target(const char *what, const char *pattern, struct totals *t)
{
	char path[PATH_MAX];

	if (strchr(what, '/') || !access(what, F_OK))
		return list_file(what, pattern, 0, t);
	if (all_digits(what))
		return list_pid(what, pattern, t);
	if (!cli_find_on_path(what, path, sizeof(path)) || !find_library(what, path, sizeof(path)))
		return list_file(path, pattern, 0, t);
	return cli_error(CLI_EXIT_FAIL, "%s: no such file, program on PATH or library", what);
}

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = { { "names", no_argument, NULL, 'q' },
					      { "backends", no_argument, NULL, 'b' },
					      { "ret", no_argument, NULL, 'r' },
					      { "help", no_argument, NULL, 'h' },
					      { NULL, 0, NULL, 0 } };
	struct totals t = { 0 };
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "qbrh", opts, NULL)) != -1) {
		switch (c) {
		case 'q':
			names_only = 1;
			break;
		case 'b':
			show_backends = 1;
			break;
		case 'r':
			show_ret = 1;
			break;
		case 'h':
			fputs(list_usage, stdout);
			return CLI_EXIT_OK;
		default:
			return cli_error(CLI_EXIT_USAGE, "bad option (uprobe list --help)");
		}
	}
	if (argc - optind < 1 || argc - optind > 2)
		return cli_error(CLI_EXIT_USAGE, "usage: uprobe list BINARY|PID [PATTERN] "
						 "(uprobe list --help)");
	err = list_target(argv[optind], argc - optind == 2 ? argv[optind + 1] : NULL, &t);
	if (err)
		return err;
	fprintf(stderr, "%u functions: %u optimized, %u int3, %u refused\n",
		t.optimized + t.int3 + t.refused, t.optimized, t.int3, t.refused);
	if (show_ret && t.ret_sites + t.ret_hijack)
		fprintf(stderr, "return probes: %u by return sites, %u by hijack (%.1f%% sites)\n",
			t.ret_sites, t.ret_hijack,
			100.0 * t.ret_sites / (t.ret_sites + t.ret_hijack));
	if (t.sdt)
		fprintf(stderr, "%u SDT markers\n", t.sdt);
	return CLI_EXIT_OK;
}
