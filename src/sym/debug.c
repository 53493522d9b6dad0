/* SPDX-License-Identifier: MIT */
/*
 * Symbols a stripped file keeps elsewhere, looked for as gdb does:
 *
 *   1. by build-id:  ROOT/.build-id/xx/yyyy….debug   (xx = first byte in hex),
 *      accepted only if that file carries the same build-id note;
 *   2. by .gnu_debuglink (NAME, then a CRC32 of the whole debug file):
 *      ROOT/DIR/NAME, DIR/NAME, DIR/.debug/NAME  (DIR = the file's directory),
 *      accepted if both files have the same build-id, else if the CRC32
 *      matches (a file is read whole only when a build-id is missing);
 *   3. MiniDebugInfo (Fedora): .gnu_debugdata holds an xz-compressed ELF whose
 *      .symtab lists the functions .dynsym does not.
 *
 * ROOT is /usr/lib/debug, or $UPROBE_DEBUG_DIR. A debug file's symbols carry
 * the same virtual addresses as the stripped file's (its sections are NOBITS
 * placeholders at the same addresses); only its .symtab is read.
 *
 * The names come from the file, which the tracer may not trust (the traced
 * program's directory, its .gnu_debuglink): this runs inside the traced
 * program, before its main. So a name that is a FIFO, a device, a directory,
 * a socket or a file of more than DEBUG_FILE_MAX bytes is refused without
 * being opened for reading (no wait, no driver's open, no 4 GiB to read),
 * and a refusal is said once through the log callback (a warning: "PATH:
 * debug file FILE refused: WHY") and at the end of a "symbol not found".
 */
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "arch/arch.h"
#include "sym/sym_priv.h"
#include "util/lazylibs.h"
#include "util/log.h"

#define DEBUG_ROOT "/usr/lib/debug"
#define DEBUGDATA_MAX (256u << 20) /* decompressed MiniDebugInfo: more is not a symbol table */
/*
 * A debug file larger than this is refused: libc's is 5 MB, a large C++
 * program's some hundreds; reading (or checksumming) more, inside the
 * traced program, is not worth its time.
 */
#define DEBUG_FILE_MAX (2ull << 30)

/* One search for f's debug file: found into a, or the first candidate refused and why. */
struct debug_search {
	const struct sym_file *f;
	struct sym_aux *a;
	char refused[512]; /* "debug file PATH refused: WHY" */
};

static const char *debug_root(void)
{
	const char *env = secure_getenv("UPROBE_DEBUG_DIR"); /* not a setuid program's caller's */

	return env && *env ? env : DEBUG_ROOT;
}

/* The reason why a candidate was refused, as "debug file PATH refused: WHY". */
static void refuse(struct debug_search *ds, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void refuse(struct debug_search *ds, const char *path, const char *fmt, ...)
{
	char why[256];
	va_list ap;

	if (ds->refused[0]) /* the first one tells: the others are often the same file */
		return;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	snprintf(ds->refused, sizeof(ds->refused), "debug file %s refused: %s", path, why);
}

static const char *file_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFDIR:
		return "a directory";
	case S_IFSOCK:
		return "a socket";
	default:
		return "a file of unknown type";
	}
}

/*
 * A candidate debug file: the fd of a regular file of at most DEBUG_FILE_MAX
 * bytes, -ENOENT when there is nothing (not worth a word), or -EPERM with
 * the reason in ds. The name is resolved with O_PATH, which opens no device
 * and waits on no FIFO; only a regular file is then opened for reading,
 * through /proc/self/fd (the same inode, whatever the name means by then).
 */
static int debug_file_open(struct debug_search *ds, const char *path, struct stat *st)
{
	char proc[64];
	int pfd = open(path, O_PATH | O_CLOEXEC), fd;

	if (pfd < 0)
		return -ENOENT;
	if (fstat(pfd, st)) {
		refuse(ds, path, "cannot stat it: %s", strerror(errno));
		fd = -EPERM;
	} else if (!S_ISREG(st->st_mode)) {
		refuse(ds, path, "%s, not a regular file", file_kind(st->st_mode));
		fd = -EPERM;
	} else if ((uint64_t)st->st_size > DEBUG_FILE_MAX) {
		refuse(ds, path, "%lld bytes, over the %llu GiB limit",
		       (long long)st->st_size, DEBUG_FILE_MAX >> 30);
		fd = -EPERM;
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", pfd);
		fd = open(proc, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd < 0) {
			refuse(ds, path, "cannot open it: %s", strerror(errno));
			fd = -EPERM;
		}
	}
	close(pfd);
	return fd;
}

/* CRC-32 of the whole file (as .gnu_debuglink has it: zlib's), read with pread. */
static int file_crc32(struct debug_search *ds, const char *path, int fd, uint64_t size,
		      uint32_t *crc)
{
	size_t chunk = 1u << 20;
	uint8_t *buf;
	uint64_t off = 0;
	ssize_t n = 0;
	uLong c;
	int err;

	if (!lazy_z(&err)) {
		refuse(ds, path, "no CRC32 to check it with: %s", uprobe_last_error());
		return -ENOTSUP;
	}
	if (!(buf = malloc(chunk)))
		return -ENOMEM;
	c = crc32_z(0, NULL, 0);
	while (off < size && (n = pread(fd, buf, chunk, (off_t)off)) > 0) {
		c = crc32_z(c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	if (n < 0 || off != size) {
		refuse(ds, path, "cannot read it: %s", n < 0 ? strerror(errno) : "it shrank");
		return -EIO;
	}
	*crc = (uint32_t)c;
	return 0;
}

/*
 * Is the candidate (its headers: theirs) the debug file of ds->f? Build-ids
 * decide when both files have one (no need to read a large file whole); else
 * the CRC32 .gnu_debuglink gives (crc), which only the debuglink search has.
 * 0, or -EPERM with the reason.
 */
static int debug_file_matches(struct debug_search *ds, const char *path, int fd, uint64_t size,
			      const struct elf_hdrs *theirs, const uint32_t *crc)
{
	const struct elf_hdrs *ours = &ds->f->hdrs;
	uint32_t c;

	if (ours->build_id_len && theirs->build_id_len) {
		if (ours->build_id_len == theirs->build_id_len &&
		    !memcmp(ours->build_id, theirs->build_id, ours->build_id_len))
			return 0;
		refuse(ds, path, "its build-id is not the one of %s", ds->f->path);
		return -EPERM;
	}
	if (!crc) { /* the build-id path, and the file there has none */
		refuse(ds, path, "it has no build-id");
		return -EPERM;
	}
	if (file_crc32(ds, path, fd, size, &c))
		return -EPERM;
	if (c != *crc) {
		refuse(ds, path, "its CRC32 is 0x%08x, .gnu_debuglink asks for 0x%08x", c, *crc);
		return -EPERM;
	}
	return 0;
}

/*
 * Open path into ds->a as the debug file of ds->f: a regular x86-64 ELF file
 * other than f itself, of f's build (debug_file_matches). 0, -ENOENT when
 * there is no such file, -EPERM when it was refused (the reason in ds). Its
 * headers are read here with pread (elfhdr.c); libelf opens it only when its
 * symbols or CFI are read (sym_aux_elf): not when the cache has them.
 */
static int aux_open(struct debug_search *ds, const char *path, const uint32_t *crc)
{
	struct sym_aux *a = ds->a;
	struct elf_hdrs theirs;
	struct stat st;
	int err;

	a->fd = debug_file_open(ds, path, &st);
	if (a->fd < 0)
		return a->fd;
	err = -ENOENT; /* f itself, found by its own .gnu_debuglink: nothing to say */
	if (st.st_dev == ds->f->st.st_dev && st.st_ino == ds->f->st.st_ino)
		goto fail;
	err = -EPERM;
	if (elf_hdrs_read(a->fd, (uint64_t)st.st_size, &theirs) == -ENOEXEC) {
		elf_hdrs_free(&theirs);
		refuse(ds, path, "not an " ARCH_ELF_DESC " ELF file");
		goto fail;
	}
	err = debug_file_matches(ds, path, a->fd, (uint64_t)st.st_size, &theirs, crc);
	elf_hdrs_free(&theirs);
	if (err)
		goto fail;
	snprintf(a->path, sizeof(a->path), "%s", path);
	return 0;
fail:
	sym_aux_close(a);
	return err;
}

static int find_by_build_id(struct debug_search *ds)
{
	const uint8_t *id = ds->f->hdrs.build_id;
	size_t n = ds->f->hdrs.build_id_len;
	char path[4096];
	int len;

	if (n < 2)
		return -ENOENT;
	len = snprintf(path, sizeof(path), "%s/.build-id/%02x/", debug_root(), id[0]);
	for (size_t i = 1; i < n && len < (int)sizeof(path) - 8; i++)
		len += snprintf(path + len, sizeof(path) - len, "%02x", id[i]);
	snprintf(path + len, sizeof(path) - len, ".debug");
	return aux_open(ds, path, NULL);
}

/*
 * The directory of f, absolute, as DIR in the paths of a .gnu_debuglink
 * (ROOT/DIR/NAME needs it so; "prog" is in the current directory, not "/").
 */
static void file_dir(const char *path, char *out, size_t len)
{
	const char *slash = strrchr(path, '/');
	int dlen = slash ? (int)(slash - path) : 0;
	char cwd[4096];

	if (path[0] == '/')
		snprintf(out, len, "%.*s", dlen, path);
	else if (getcwd(cwd, sizeof(cwd)))
		snprintf(out, len, "%s%s%.*s", cwd, slash ? "/" : "", dlen, path);
	else
		snprintf(out, len, "%.*s", slash ? dlen : 1, slash ? path : ".");
}

static int find_by_debuglink(struct debug_search *ds)
{
	size_t len = 0, nlen, crc_off;
	char *name = elf_hdrs_section_data(ds->f->fd, &ds->f->hdrs, ".gnu_debuglink", 4096, &len);
	char dir[4096], path[4096];
	uint32_t crc;
	int ret = -ENOENT;

	if (!name || len < 8)
		goto out;
	nlen = strnlen(name, len);
	crc_off = (nlen + 4) & ~(size_t)3;
	if (!nlen || crc_off + 4 > len || strchr(name, '/'))
		goto out;
	memcpy(&crc, name + crc_off, 4);
	file_dir(ds->f->path, dir, sizeof(dir));
	snprintf(path, sizeof(path), "%s%s%s/%s", debug_root(), dir[0] == '/' ? "" : "/", dir, name);
	if (!(ret = aux_open(ds, path, &crc)))
		goto out;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!(ret = aux_open(ds, path, &crc)))
		goto out;
	snprintf(path, sizeof(path), "%s/.debug/%s", dir, name);
	ret = aux_open(ds, path, &crc);
out:
	free(name);
	return ret;
}

/*
 * A refusal is worth one warning per file and process, not one per open of
 * the file (uprobe list opens it three times, by two names; a program
 * attaching probes once per batch): the last files warned of, by inode.
 * Two threads may both warn.
 */
static void warn_once(const struct sym_file *f, const char *msg)
{
	static uint64_t seen[16];
	static unsigned next;
	uint64_t key = ((uint64_t)f->st.st_dev * 0x9e3779b97f4a7c15ull) ^ f->st.st_ino;

	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
		if (__atomic_load_n(&seen[i], __ATOMIC_RELAXED) == key)
			return;
	__atomic_store_n(&seen[__atomic_fetch_add(&next, 1, __ATOMIC_RELAXED) % 16], key,
			 __ATOMIC_RELAXED);
	log_msg(UPROBE_LOG_WARN, "%s: %s", f->path, msg);
}

/* By build-id, else by .gnu_debuglink, into a: 0 or -ENOENT (a refusal warned, kept in f). */
static int find_debug_file(struct sym_file *f, struct sym_aux *a)
{
	struct debug_search ds = { .f = f, .a = a };

	if (!find_by_build_id(&ds) || !find_by_debuglink(&ds))
		return 0;
	if (ds.refused[0]) {
		snprintf(f->aux.refused, sizeof(f->aux.refused), "%s", ds.refused);
		warn_once(f, ds.refused);
	}
	return -ENOENT;
}

/* xz -> a buffer the caller frees: 0 or -errno. */
static int xz_decode(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t cap = in_len * 4 + 4096;
	uint8_t *buf;
	lzma_ret r;
	int err;

	if (!lazy_xz(&err))
		return err ? err : -ENOTSUP;
	if (!(buf = malloc(cap)))
		return -ENOMEM;
	if (lzma_stream_decoder(&s, DEBUGDATA_MAX, 0) != LZMA_OK) {
		free(buf);
		return -EINVAL;
	}
	s.next_in = in;
	s.avail_in = in_len;
	s.next_out = buf;
	s.avail_out = cap;
	while ((r = lzma_code(&s, LZMA_FINISH)) == LZMA_OK) {
		uint8_t *grown;

		if (s.avail_out || cap >= DEBUGDATA_MAX)
			break;
		grown = realloc(buf, cap * 2);
		if (!grown)
			break;
		buf = grown;
		s.next_out = buf + cap;
		s.avail_out = cap;
		cap *= 2;
	}
	*out_len = (size_t)s.total_out;
	lzma_end(&s);
	if (r != LZMA_STREAM_END) {
		free(buf);
		return -EINVAL;
	}
	*out = buf;
	return 0;
}

static int find_debugdata(struct sym_file *f)
{
	struct sym_aux *a = &f->aux;
	size_t in_len = 0, len;
	uint8_t *in = elf_hdrs_section_data(f->fd, &f->hdrs, ".gnu_debugdata", DEBUGDATA_MAX,
					    &in_len);
	uint8_t *buf;
	GElf_Ehdr eh;
	int err, bad;

	bad = !in || xz_decode(in, in_len, &buf, &len);
	free(in);
	if (bad)
		return -ENOENT;
	if (!lazy_elf(&err)) {
		free(buf);
		return -ENOENT;
	}
	a->buf = buf;
	a->elf = elf_memory((char *)buf, len);
	if (!a->elf || elf_kind(a->elf) != ELF_K_ELF || !gelf_getehdr(a->elf, &eh) ||
	    eh.e_machine != ARCH_ELF_MACHINE) {
		sym_aux_close(a);
		return -ENOENT;
	}
	snprintf(a->path, sizeof(a->path), "%s:.gnu_debugdata", f->path);
	return 0;
}

int sym_debug_open(struct sym_file *f)
{
	if (!find_debug_file(f, &f->aux))
		return SYM_SRC_DEBUG;
	return find_debugdata(f) ? -1 : SYM_SRC_DEBUGDATA;
}

Elf *sym_aux_elf(struct sym_file *f)
{
	struct sym_aux *a = &f->aux;
	Elf *elf = __atomic_load_n(&a->elf, __ATOMIC_ACQUIRE);
	int err;

	if (elf || a->fd < 0 || !lazy_elf(&err))
		return elf; /* MiniDebugInfo's is made with its buffer */
	pthread_mutex_lock(&f->elf_lock);
	elf = a->elf;
	if (!elf) {
		/* ELF_C_READ: pread on demand, so that a file cut short is an error, not a SIGBUS. */
		elf = elf_begin(a->fd, ELF_C_READ, NULL);
		if (elf && elf_kind(elf) != ELF_K_ELF) {
			elf_end(elf);
			elf = NULL;
		}
		__atomic_store_n(&a->elf, elf, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&f->elf_lock);
	return elf;
}

void sym_load_debug(struct sym_file *f, int src)
{
	Elf *elf = sym_aux_elf(f);
	Elf_Scn *scn = NULL;

	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB &&
		    !sym_load_table(f, elf, scn, &sh, src))
			f->has_symtab = true;
	}
}

void sym_aux_close(struct sym_aux *a)
{
	if (a->elf)
		elf_end(a->elf);
	if (a->fd >= 0)
		close(a->fd);
	free(a->buf);
	a->elf = NULL;
	a->fd = -1;
	a->buf = NULL;
}

int sym_debug_path(struct sym_file *f, char *path, size_t len)
{
	struct sym_aux a = { .fd = -1 };

	if (f->aux.fd >= 0) { /* found already, for its symbols */
		snprintf(path, len, "%s", f->aux.path);
		return 0;
	}
	if (find_debug_file(f, &a))
		return -ENOENT;
	snprintf(path, len, "%s", a.path);
	sym_aux_close(&a);
	return 0;
}
