/* SPDX-License-Identifier: MIT */
/*
 * PLT stubs as functions named NAME@plt (objdump's names). Each stub jumps
 * through a GOT slot, and the relocation of that slot names the function:
 *
 *   .plt      PLT0, then per import:  ff 25 <disp32>   jmp *GOT[n](%rip)
 *                                     68 <n>            push n
 *                                     e9 <rel32>        jmp PLT0
 *   .plt.sec  (IBT) f3 0f 1e fa endbr64; f2 ff 25 <disp32> bnd jmp *GOT[n](%rip)
 *   .plt.got  ff 25 <disp32> (+ padding): imports also taken by address
 *
 * So a stub is found by decoding its jmp, not by counting entries: the GOT
 * address it reads is matched with a R_X86_64_JUMP_SLOT (.rela.plt) or
 * R_X86_64_GLOB_DAT (.rela.dyn) relocation, whose symbol gives the name.
 * Stubs of IRELATIVE slots (no symbol) get no name.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sym/sym_priv.h"

struct got_name {
	uint64_t got;
	const char *name;
};

/* The dynamic symbol's name of every JUMP_SLOT / GLOB_DAT relocation. */
static struct got_name *got_names(Elf *elf, size_t *n)
{
	struct got_name *v = NULL;
	Elf_Scn *scn = NULL;

	*n = 0;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh, symsh;
		Elf_Scn *symscn;
		Elf_Data *d, *syms;
		size_t cnt;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_RELA || !sh.sh_entsize ||
		    !(d = elf_getdata(scn, NULL)) || !(symscn = elf_getscn(elf, sh.sh_link)) ||
		    !gelf_getshdr(symscn, &symsh) || !(syms = elf_getdata(symscn, NULL)))
			continue;
		cnt = sh.sh_size / sh.sh_entsize;
		if (!cnt) /* realloc(v, 0) would free v */
			continue;
		struct got_name *grown = realloc(v, (*n + cnt) * sizeof(*v));

		if (!grown)
			break;
		v = grown;
		for (size_t i = 0; i < cnt; i++) {
			GElf_Rela r;
			GElf_Sym s;
			const char *name;
			unsigned type;

			if (!gelf_getrela(d, (int)i, &r))
				continue;
			type = GELF_R_TYPE(r.r_info);
			if ((type != R_X86_64_JUMP_SLOT && type != R_X86_64_GLOB_DAT) ||
			    !GELF_R_SYM(r.r_info) || !gelf_getsym(syms, (int)GELF_R_SYM(r.r_info), &s))
				continue;
			name = elf_strptr(elf, symsh.sh_link, s.st_name);
			if (name && *name)
				v[(*n)++] = (struct got_name){ r.r_offset, name };
		}
	}
	return v;
}

/* The GOT slot a stub at vaddr jumps through (its first jmp *disp32(%rip)), or 0. */
static uint64_t stub_got(const uint8_t *p, size_t len, uint64_t vaddr)
{
	for (size_t i = 0; i + 6 <= len; i++) {
		int32_t disp;

		if (p[i] != 0xff || p[i + 1] != 0x25)
			continue;
		memcpy(&disp, p + i + 2, 4);
		return vaddr + i + 6 + (int64_t)disp;
	}
	return 0;
}

static int plt_add(struct sym_file *f, const char *name, uint64_t vaddr, uint64_t size)
{
	char buf[256];
	int n = snprintf(buf, sizeof(buf), "%s@plt", name);
	struct sym_entry *grown = realloc(f->syms, (f->nsyms + 1) * sizeof(*grown));

	if (!grown)
		return -ENOMEM;
	f->syms = grown;
	f->syms[f->nsyms] = (struct sym_entry){
		.vaddr = vaddr, .size = size, .bind = STB_LOCAL, .src = SYM_SRC_PLT,
		.name = sym_pool_strndup(f, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1),
	};
	if (!f->syms[f->nsyms].name)
		return -ENOMEM;
	f->nsyms++;
	return 0;
}

/* One of .plt / .plt.sec / .plt.got: its stubs, entsize bytes each. */
static int plt_section(struct sym_file *f, Elf_Scn *scn, const GElf_Shdr *sh,
		       const struct got_name *gn, size_t ngn)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	uint64_t step = sh->sh_entsize >= 8 ? sh->sh_entsize : 16;

	if (!d || !d->d_buf)
		return 0;
	for (uint64_t off = 0; off + step <= d->d_size; off += step) {
		uint64_t got = stub_got((const uint8_t *)d->d_buf + off, step, sh->sh_addr + off);

		for (size_t i = 0; got && i < ngn; i++) {
			if (gn[i].got != got)
				continue;
			if (plt_add(f, gn[i].name, sh->sh_addr + off, step))
				return -ENOMEM;
			break;
		}
	}
	return 0;
}

int sym_load_plt(struct sym_file *f)
{
	Elf *elf = sym_file_elf(f);
	Elf_Scn *scn = NULL;
	struct got_name *gn;
	size_t ngn, shstrndx;
	int err = 0;

	if (!elf || elf_getshdrstrndx(elf, &shstrndx))
		return 0;
	gn = got_names(elf, &ngn);
	while (ngn && !err && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
		    !(name = elf_strptr(elf, shstrndx, sh.sh_name)))
			continue;
		if (!strcmp(name, ".plt") || !strcmp(name, ".plt.sec") || !strcmp(name, ".plt.got"))
			err = plt_section(f, scn, &sh, gn, ngn);
	}
	free(gn);
	return err;
}
