/* SPDX-License-Identifier: MIT */
/*
 * Symbols a stripped file keeps elsewhere, looked for as gdb does:
 *
 *   1. by build-id:  ROOT/.build-id/xx/yyyy….debug   (xx = first byte in hex),
 *      accepted only if that file carries the same build-id note;
 *   2. by .gnu_debuglink (NAME, then a CRC32 of the whole debug file):
 *      ROOT/DIR/NAME, DIR/NAME, DIR/.debug/NAME  (DIR = the file's directory),
 *      accepted only if the CRC32 matches;
 *   3. MiniDebugInfo (Fedora): .gnu_debugdata holds an xz-compressed ELF whose
 *      .symtab lists the functions .dynsym does not.
 *
 * ROOT is /usr/lib/debug, or $UPROBE_DEBUG_DIR. A debug file's symbols carry
 * the same virtual addresses as the stripped file's (its sections are NOBITS
 * placeholders at the same addresses); only its .symtab is read.
 */
#include <errno.h>
#include <fcntl.h>
#include <lzma.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sym/sym_priv.h"

#define DEBUG_ROOT "/usr/lib/debug"
#define DEBUGDATA_MAX (256u << 20) /* decompressed MiniDebugInfo: more is not a symbol table */

static const char *debug_root(void)
{
	const char *env = secure_getenv("UPROBE_DEBUG_DIR"); /* not a setuid program's caller's */

	return env && *env ? env : DEBUG_ROOT;
}

/* The section of elf called name, with its data. */
static Elf_Data *section_data(Elf *elf, const char *name)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return NULL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *n;

		if (gelf_getshdr(scn, &sh) && sh.sh_type != SHT_NOBITS &&
		    (n = elf_strptr(elf, shstrndx, sh.sh_name)) && !strcmp(n, name))
			return elf_getdata(scn, NULL);
	}
	return NULL;
}

/* The NT_GNU_BUILD_ID of elf: its length (0 when none). */
static size_t build_id(Elf *elf, const uint8_t **id)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		GElf_Nhdr nh;
		Elf_Data *d;
		size_t off = 0, noff, doff;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(d, off, &nh, &noff, &doff)) > 0) {
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((const char *)d->d_buf + noff, "GNU", 4) && nh.n_descsz) {
				*id = (const uint8_t *)d->d_buf + doff;
				return nh.n_descsz;
			}
		}
	}
	return 0;
}

/* CRC-32 (IEEE 802.3, reflected, as .gnu_debuglink uses), bytewise with a table. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
	static uint32_t table[256];

	if (!table[1]) {
		for (uint32_t i = 0; i < 256; i++) {
			uint32_t c = i;

			for (int k = 0; k < 8; k++)
				c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
			table[i] = c;
		}
	}
	crc = ~crc;
	while (n--)
		crc = table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
	return ~crc;
}

static int file_crc32(int fd, uint32_t *crc)
{
	struct stat st;
	void *m;

	if (fstat(fd, &st) || !st.st_size)
		return -EINVAL;
	m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (m == MAP_FAILED)
		return -errno;
	*crc = crc32_update(0, m, (size_t)st.st_size);
	munmap(m, (size_t)st.st_size);
	return 0;
}

/*
 * Open path into a as the debug file of f: an x86-64 ELF other than f itself,
 * passing check (build-id or CRC, whichever found it).
 */
static int aux_open(const struct sym_file *f, struct sym_aux *a, const char *path,
		    const uint8_t *id, size_t idlen, const uint32_t *crc)
{
	struct stat st;
	const uint8_t *their;
	uint32_t c = 0;
	GElf_Ehdr eh;

	a->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (a->fd < 0)
		return -ENOENT;
	if (fstat(a->fd, &st) || (st.st_dev == f->st.st_dev && st.st_ino == f->st.st_ino))
		goto fail;
	if (crc && (file_crc32(a->fd, &c) || c != *crc))
		goto fail;
	a->elf = elf_begin(a->fd, ELF_C_READ_MMAP, NULL);
	if (!a->elf || elf_kind(a->elf) != ELF_K_ELF || !gelf_getehdr(a->elf, &eh) ||
	    eh.e_machine != EM_X86_64)
		goto fail;
	if (id && (build_id(a->elf, &their) != idlen || memcmp(their, id, idlen)))
		goto fail;
	snprintf(a->path, sizeof(a->path), "%s", path);
	return 0;
fail:
	sym_aux_close(a);
	return -ENOENT;
}

static int find_by_build_id(const struct sym_file *f, struct sym_aux *a)
{
	const uint8_t *id;
	size_t n = build_id(f->elf, &id);
	char path[4096];
	int len;

	if (n < 2)
		return -ENOENT;
	len = snprintf(path, sizeof(path), "%s/.build-id/%02x/", debug_root(), id[0]);
	for (size_t i = 1; i < n && len < (int)sizeof(path) - 8; i++)
		len += snprintf(path + len, sizeof(path) - len, "%02x", id[i]);
	snprintf(path + len, sizeof(path) - len, ".debug");
	return aux_open(f, a, path, id, n, NULL);
}

static int find_by_debuglink(const struct sym_file *f, struct sym_aux *a)
{
	Elf_Data *d = section_data(f->elf, ".gnu_debuglink");
	const char *name, *slash = strrchr(f->path, '/');
	size_t nlen, crc_off;
	uint32_t crc;
	char path[4096];
	int dlen = slash ? (int)(slash - f->path) : 0;

	if (!d || !d->d_buf || d->d_size < 8)
		return -ENOENT;
	name = d->d_buf;
	nlen = strnlen(name, d->d_size);
	crc_off = (nlen + 4) & ~(size_t)3;
	if (!nlen || crc_off + 4 > d->d_size || strchr(name, '/'))
		return -ENOENT;
	memcpy(&crc, (const char *)d->d_buf + crc_off, 4);
	snprintf(path, sizeof(path), "%s%s%.*s/%s", debug_root(), f->path[0] == '/' ? "" : "/",
		 dlen, f->path, name);
	if (!aux_open(f, a, path, NULL, 0, &crc))
		return 0;
	snprintf(path, sizeof(path), "%.*s/%s", dlen, f->path, name);
	if (!aux_open(f, a, path, NULL, 0, &crc))
		return 0;
	snprintf(path, sizeof(path), "%.*s/.debug/%s", dlen, f->path, name);
	return aux_open(f, a, path, NULL, 0, &crc);
}

/* xz -> a buffer the caller frees: 0 or -errno. */
static int xz_decode(const uint8_t *in, size_t in_len, uint8_t **out, size_t *out_len)
{
	lzma_stream s = LZMA_STREAM_INIT;
	size_t cap = in_len * 4 + 4096;
	uint8_t *buf = malloc(cap);
	lzma_ret r;

	if (!buf)
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
	Elf_Data *d = section_data(f->elf, ".gnu_debugdata");
	struct sym_aux *a = &f->aux;
	uint8_t *buf;
	size_t len;
	GElf_Ehdr eh;

	if (!d || !d->d_buf || xz_decode(d->d_buf, d->d_size, &buf, &len))
		return -ENOENT;
	a->buf = buf;
	a->elf = elf_memory((char *)buf, len);
	if (!a->elf || elf_kind(a->elf) != ELF_K_ELF || !gelf_getehdr(a->elf, &eh) ||
	    eh.e_machine != EM_X86_64) {
		sym_aux_close(a);
		return -ENOENT;
	}
	snprintf(a->path, sizeof(a->path), "%s:.gnu_debugdata", f->path);
	return 0;
}

void sym_load_debug(struct sym_file *f)
{
	int src = SYM_SRC_DEBUG;
	Elf_Scn *scn = NULL;

	if (find_by_build_id(f, &f->aux) && find_by_debuglink(f, &f->aux)) {
		if (find_debugdata(f))
			return;
		src = SYM_SRC_DEBUGDATA;
	}
	while ((scn = elf_nextscn(f->aux.elf, scn))) {
		GElf_Shdr sh;

		if (gelf_getshdr(scn, &sh) && sh.sh_type == SHT_SYMTAB &&
		    !sym_load_table(f, f->aux.elf, scn, &sh, src))
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

	if (f->aux.fd >= 0 && f->aux.elf) { /* found already, for its symbols */
		snprintf(path, len, "%s", f->aux.path);
		return 0;
	}
	if (find_by_build_id(f, &a) && find_by_debuglink(f, &a))
		return -ENOENT;
	snprintf(path, len, "%s", a.path);
	sym_aux_close(&a);
	return 0;
}
