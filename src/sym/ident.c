/* SPDX-License-Identifier: MIT */
/* A file's identity for caches keyed by file: its build-id, else dev, inode, size, mtime. */
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sym/sym.h"

/* The NT_GNU_BUILD_ID note of f, else its identity on disk. */
void sym_file_ident(struct sym_file *f, struct sym_ident *id)
{
	Elf *elf = sym_file_elf(f);
	Elf_Scn *scn = NULL;

	memset(id, 0, sizeof(*id));
	while ((scn = elf_nextscn(elf, scn)) && !id->build_id_len) {
		GElf_Shdr sh;
		GElf_Nhdr nh;
		Elf_Data *d;
		size_t off = 0, name_off, desc_off;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_NOTE || !(d = elf_getdata(scn, NULL)))
			continue;
		while ((off = gelf_getnote(d, off, &nh, &name_off, &desc_off)) > 0)
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp((char *)d->d_buf + name_off, "GNU", 4) && nh.n_descsz &&
			    nh.n_descsz <= sizeof(id->build_id)) {
				memcpy(id->build_id, (char *)d->d_buf + desc_off, nh.n_descsz);
				id->build_id_len = nh.n_descsz;
				break;
			}
	}
	if (id->build_id_len)
		return;
	id->size = sym_file_size(f);
	id->ino = sym_file_ino(f);
	id->dev = sym_file_dev(f);
	id->mtime_ns = sym_file_mtime_ns(f);
}

void sym_ident_name(const struct sym_ident *id, const char *prefix, const char *suffix, char *out,
		    size_t len)
{
	int n = snprintf(out, len, "%s", prefix);

	for (uint32_t i = 0; i < id->build_id_len && n + 3 < (int)len; i++)
		n += snprintf(out + n, len - n, "%02x", id->build_id[i]);
	if (!id->build_id_len && n < (int)len)
		n += snprintf(out + n, len - n, "%" PRIx64 "-%" PRIx64 "-%" PRIx64 "-%" PRIx64,
			      id->dev, id->ino, id->size, id->mtime_ns);
	if (n < (int)len)
		snprintf(out + n, len - n, "%s", suffix);
}
