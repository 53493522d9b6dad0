/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for ELF files as the sym layer reads them: the input is
 * written to a file and read the way `uprobe list` and the probe resolver
 * read a probe's file, through the layer's own calls: the symbols (.symtab,
 * .dynsym and versions, a separate debug file by build-id or
 * .gnu_debuglink, MiniDebugInfo), the PLT stubs, the .eh_frame FDEs and
 * landing pads, the SDT notes; every function listed is looked up again by
 * name and by address.
 *
 * The input's directory, which is also $UPROBE_DEBUG_DIR, holds what the
 * seeds' debug links name (fuzz/elf/seeds.sh): real.debug (the debug file of
 * the prog seeds), fifo.debug (a FIFO), zero.debug (-> /dev/zero), big.debug
 * (3 GiB, sparse), dir.debug (a directory), and a FIFO at the build-id path of
 * the prog_buildid seed. A lookup that waits on the FIFO hangs the fuzzer
 * (run it with -timeout).
 *
 * Checked beyond the sanitizers: a refused file, name or address comes back
 * with an errno and a message; an address found is inside what was found;
 * a marker has its strings and either fetch-args or an error. Any breach
 * abort()s. Built by `make fuzz` (see fuzz/README.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sym/sdt.h"
#include "sym/sym_priv.h"
#include "uprobes.h"

#define LOOKUPS 48 /* functions looked up again per input: enough to cover each kind */

static char dir[64], input[96];

static void check(int ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "fuzz_elf: %s (last error: '%s')\n", what, uprobe_last_error());
		abort();
	}
}

static void make_file(const char *name, const void *data, size_t len, off_t size)
{
	char path[128];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	check(fd >= 0 && write(fd, data, len) == (ssize_t)len && !ftruncate(fd, size) && !close(fd),
	      "cannot make a file of the fuzz directory");
}

/* real.debug from the corpus, when it is there (FUZZ_ELF_CORPUS: fuzz/corpus/elf). */
static void copy_real_debug(void)
{
	static char buf[1 << 20];
	FILE *in = fopen(FUZZ_ELF_CORPUS "/prog.debug", "rbe");
	size_t n;

	if (!in)
		return;
	n = fread(buf, 1, sizeof(buf), in);
	fclose(in);
	make_file("real.debug", buf, n, (off_t)n);
}

static void remove_dir(void)
{
	static const char *const names[] = {
		"input",     "real.debug", "fifo.debug", "zero.debug", "big.debug",
		"dir.debug", ".build-id/b1/d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0.debug",
		".build-id/b1", ".build-id",
	};
	char path[160];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (unlink(path))
			rmdir(path);
	}
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[160];

	(void)argc;
	(void)argv;
	snprintf(dir, sizeof(dir), "/tmp/fuzz_elf.XXXXXX");
	check(mkdtemp(dir) != NULL, "mkdtemp");
	snprintf(input, sizeof(input), "%s/input", dir);
	copy_real_debug();
	make_file("big.debug", "\177ELF", 4, (off_t)3 << 30);
	snprintf(path, sizeof(path), "%s/fifo.debug", dir);
	check(!mkfifo(path, 0644), "mkfifo");
	snprintf(path, sizeof(path), "%s/zero.debug", dir);
	check(!symlink("/dev/zero", path), "symlink");
	snprintf(path, sizeof(path), "%s/dir.debug", dir);
	check(!mkdir(path, 0755), "mkdir");
	snprintf(path, sizeof(path), "%s/.build-id", dir);
	check(!mkdir(path, 0755), "mkdir .build-id");
	snprintf(path, sizeof(path), "%s/.build-id/b1", dir);
	check(!mkdir(path, 0755), "mkdir .build-id/b1");
	snprintf(path, sizeof(path), "%s/.build-id/b1/d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0.debug", dir);
	check(!mkfifo(path, 0644), "mkfifo at the build-id path");
	setenv("UPROBE_DEBUG_DIR", dir, 1);
	atexit(remove_dir);
	return 0;
}

struct list_ctx {
	struct sym_file *f;
	int n;
};

/* One function of uprobe_symbols(): found again by name and by address. */
static int on_sym(const struct uprobe_sym *s, void *arg)
{
	struct list_ctx *cx = arg;
	struct sym_func fn;
	uint64_t off, vaddr;
	int err;

	check(s->name && s->short_name && s->location, "a function without a name");
	if (cx->n++ >= LOOKUPS)
		return 0;
	err = sym_find(cx->f, s->location, &fn);
	check(!err || ((err == -ESRCH || err == -EINVAL || err == -ENOTSUP) && uprobe_last_error()[0]),
	      "sym_find: an error without a message");
	err = sym_func_at(cx->f, s->vaddr, &fn);
	check(!err || err == -ESRCH, "sym_func_at: not 0 or -ESRCH");
	check(err || (fn.vaddr <= s->vaddr && (!fn.size || s->vaddr - fn.vaddr < fn.size)),
	      "sym_func_at: a function that does not contain the address");
	if (!sym_vaddr_to_off(cx->f, s->vaddr, &off))
		check(!sym_off_to_vaddr(cx->f, off, &vaddr), "an offset of an address has no address");
	return 0;
}

static void on_fde(uint64_t start, uint64_t size, void *arg)
{
	struct sym_file *f = arg;
	struct sym_func fn;

	(void)size;
	sym_func_at(f, start, &fn);
}

static void on_pad(uint64_t vaddr, void *arg)
{
	(void)vaddr;
	(void)arg;
}

static void read_markers(void)
{
	struct trace_sdt_marker *m;
	int n = sdt_read(input, &m);

	check(n >= 0 || uprobe_last_error()[0], "sdt_read: an error without a message");
	for (int i = 0; i < n; i++)
		check(m[i].provider && m[i].name && m[i].args && (m[i].fetchargs || m[i].error),
		      "a marker without its strings, fetch-args or error");
	if (n > 0)
		sdt_free(m, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct list_ctx cx = { 0 };
	char path[4096];
	int fd = open(input, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	check(fd >= 0 && write(fd, data, size) == (ssize_t)size && !close(fd), "cannot write the input");
	sym_batch_begin(); /* one reading of the file for all the calls below */
	cx.f = sym_file_open(input);
	if (!cx.f) {
		check(errno && uprobe_last_error()[0], "sym_file_open: an error without a message");
		sym_batch_end();
		return 0;
	}
	check(uprobe_symbols(input, NULL, on_sym, &cx) >= 0, "uprobe_symbols failed on an open file");
	sym_fdes(cx.f, on_fde, cx.f);
	sym_landing_pads(cx.f, on_pad, NULL);
	sym_debug_path(cx.f, path, sizeof(path));
	read_markers();
	sym_file_close(cx.f);
	sym_batch_end();
	return 0;
}
