/* SPDX-License-Identifier: MIT */
/*
 * An ELF file's headers read with pread, without libelf: what opening a file
 * needs when the symbol cache (symcache.c) answers — the ELF header, the
 * program headers, the section headers and their names, the build-id note, a
 * .gnu_debuglink. A traced image probing libc needs no more, and libelf (with
 * libz) is then never loaded into it (util/lazylibs.h; ~14 page faults per
 * image on this VM, docs/benchmarks.md). Everything is bounds-checked against
 * the file's size: the file is the traced program's, or one a hostile
 * .gnu_debuglink names (tests/hostile). pread, not mmap: a file cut short is
 * an error, not a SIGBUS.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/arch.h"
#include "sym/sym_priv.h"

/* More sections than this is not a file this library reads (libc has ~70). */
#define ELFHDR_MAX_SECTIONS 65536u
/* A note section larger than this holds no build-id worth reading. */
#define ELFHDR_MAX_NOTES (64u << 10)

static bool read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = pread(fd, (char *)buf + done, len - done, (off_t)(off + done));

		if (n <= 0)
			return false;
		done += (size_t)n;
	}
	return true;
}

/* [off, off + len) inside the file. */
static bool in_file(const struct elf_hdrs *h, uint64_t off, uint64_t len)
{
	return off <= h->size && len <= h->size - off;
}

/* The NT_GNU_BUILD_ID note in notes (align: 4 or 8, as the section's sh_addralign says). */
static void build_id_in(struct elf_hdrs *h, const uint8_t *notes, size_t len, size_t align)
{
	size_t off = 0;

	while (len - off >= sizeof(Elf64_Nhdr)) {
		Elf64_Nhdr nh;
		size_t name, desc;

		memcpy(&nh, notes + off, sizeof(nh));
		name = off + sizeof(nh);
		if (nh.n_namesz > len - name)
			return;
		desc = (name + nh.n_namesz + align - 1) & ~(align - 1);
		if (desc > len || nh.n_descsz > len - desc)
			return;
		if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
		    !memcmp(notes + name, "GNU", 4) && nh.n_descsz &&
		    nh.n_descsz <= sizeof(h->build_id)) {
			memcpy(h->build_id, notes + desc, nh.n_descsz);
			h->build_id_len = nh.n_descsz;
			return;
		}
		off = (desc + nh.n_descsz + align - 1) & ~(align - 1);
	}
}

int elf_hdrs_read(int fd, uint64_t size, struct elf_hdrs *h)
{
	uint64_t shoff;
	size_t shnum, shstrndx;

	memset(h, 0, sizeof(*h));
	h->size = size;
	if (size < sizeof(h->eh) || !read_exact(fd, &h->eh, sizeof(h->eh), 0) ||
	    memcmp(h->eh.e_ident, ELFMAG, SELFMAG))
		return -ENOEXEC;
	h->elf = true;
	if (h->eh.e_ident[EI_CLASS] != ELFCLASS64 || h->eh.e_machine != ARCH_ELF_MACHINE)
		return -ENOEXEC;
	h->machine_ok = true;
	/* Program headers (PN_XNUM: their count in section 0's sh_info, read below). */
	h->nphdrs = h->eh.e_phnum;
	shoff = h->eh.e_shoff;
	shnum = h->eh.e_shnum;
	shstrndx = h->eh.e_shstrndx;
	if (shoff && h->eh.e_shentsize == sizeof(Elf64_Shdr) && in_file(h, shoff, sizeof(Elf64_Shdr)) &&
	    (!shnum || shstrndx == SHN_XINDEX || h->nphdrs == PN_XNUM)) {
		Elf64_Shdr s0;

		if (!read_exact(fd, &s0, sizeof(s0), shoff))
			return -ENOENT;
		if (!shnum)
			shnum = s0.sh_size;
		if (shstrndx == SHN_XINDEX)
			shstrndx = s0.sh_link;
		if (h->nphdrs == PN_XNUM)
			h->nphdrs = s0.sh_info;
	}
	if (h->nphdrs) {
		if (h->eh.e_phentsize != sizeof(Elf64_Phdr) || h->nphdrs > ELFHDR_MAX_SECTIONS ||
		    !in_file(h, h->eh.e_phoff, h->nphdrs * sizeof(Elf64_Phdr)) ||
		    !(h->phdrs = malloc(h->nphdrs * sizeof(Elf64_Phdr))) ||
		    !read_exact(fd, h->phdrs, h->nphdrs * sizeof(Elf64_Phdr), h->eh.e_phoff))
			return -ENOENT;
	}
	/* Section headers that cannot be read are none (as libelf finds no section then). */
	if (!shoff || !shnum || h->eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    shnum > ELFHDR_MAX_SECTIONS || !in_file(h, shoff, shnum * sizeof(Elf64_Shdr)) ||
	    !(h->sh = malloc(shnum * sizeof(Elf64_Shdr))))
		return 0;
	if (!read_exact(fd, h->sh, shnum * sizeof(Elf64_Shdr), shoff)) {
		free(h->sh);
		h->sh = NULL;
		return 0;
	}
	h->shnum = shnum;
	if (shstrndx && shstrndx < shnum && h->sh[shstrndx].sh_type != SHT_NOBITS &&
	    h->sh[shstrndx].sh_size && h->sh[shstrndx].sh_size <= ELFHDR_MAX_NOTES * 16 &&
	    in_file(h, h->sh[shstrndx].sh_offset, h->sh[shstrndx].sh_size)) {
		h->shstr_len = h->sh[shstrndx].sh_size;
		h->shstr = malloc(h->shstr_len + 1);
		if (h->shstr && !read_exact(fd, h->shstr, h->shstr_len, h->sh[shstrndx].sh_offset)) {
			free(h->shstr);
			h->shstr = NULL;
		}
		if (h->shstr)
			h->shstr[h->shstr_len] = 0; /* a name running off the end stops there */
	}
	for (size_t i = 0; i < shnum && !h->build_id_len; i++) {
		const Elf64_Shdr *s = &h->sh[i];
		uint8_t *notes;

		if (s->sh_type != SHT_NOTE || !s->sh_size || s->sh_size > ELFHDR_MAX_NOTES ||
		    !in_file(h, s->sh_offset, s->sh_size) || !(notes = malloc(s->sh_size)))
			continue;
		if (read_exact(fd, notes, s->sh_size, s->sh_offset))
			build_id_in(h, notes, s->sh_size, s->sh_addralign == 8 ? 8 : 4);
		free(notes);
	}
	return 0;
}

void elf_hdrs_free(struct elf_hdrs *h)
{
	free(h->phdrs);
	free(h->sh);
	free(h->shstr);
	h->phdrs = NULL;
	h->sh = NULL;
	h->shstr = NULL;
}

const char *elf_hdrs_name(const struct elf_hdrs *h, size_t i)
{
	size_t off = h->sh[i].sh_name;

	return h->shstr && off < h->shstr_len ? h->shstr + off : NULL;
}

const Elf64_Shdr *elf_hdrs_section(const struct elf_hdrs *h, const char *name)
{
	for (size_t i = 1; i < h->shnum; i++) {
		const char *n = elf_hdrs_name(h, i);

		if (h->sh[i].sh_type != SHT_NOBITS && n && !strcmp(n, name))
			return &h->sh[i];
	}
	return NULL;
}

void *elf_hdrs_section_data(int fd, const struct elf_hdrs *h, const char *name, size_t max,
			    size_t *len)
{
	const Elf64_Shdr *s = elf_hdrs_section(h, name);
	void *buf;

	if (!s || !s->sh_size || s->sh_size > max || !in_file(h, s->sh_offset, s->sh_size) ||
	    !(buf = malloc(s->sh_size)))
		return NULL;
	if (!read_exact(fd, buf, s->sh_size, s->sh_offset)) {
		free(buf);
		return NULL;
	}
	*len = s->sh_size;
	return buf;
}
