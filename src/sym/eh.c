/* SPDX-License-Identifier: MIT */
/*
 * Exception landing pads: the addresses the C++ unwinder may resume at. They
 * are listed per function in the LSDA (.gcc_except_table) that the FDE of
 * the function points to through its 'L' augmentation:
 *
 *   .eh_frame   CIE "zPLR": personality, LSDA encoding, FDE encoding
 *               FDE: initial location, range, augmentation data = LSDA pointer
 *   LSDA        lpstart encoding [lpstart], ttype encoding [ttype offset],
 *               call-site encoding, call-site table length, then per call
 *               site: start, length, landing pad (relative to lpstart), action
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <gelf.h>

#include "sym/eh_priv.h"
#include "sym/sym_priv.h"

/* The allocated section holding vaddr, as a reader positioned there. */
int eh_section_at(Elf *elf, uint64_t vaddr, struct eh_reader *r)
{
	Elf_Scn *scn = NULL;

	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS || !(sh.sh_flags & SHF_ALLOC))
			continue;
		if (vaddr < sh.sh_addr || vaddr >= sh.sh_addr + sh.sh_size)
			continue;
		d = elf_getdata(scn, NULL);
		if (!d || !d->d_buf)
			return -EINVAL;
		r->p = (const uint8_t *)d->d_buf + (vaddr - sh.sh_addr);
		r->end = (const uint8_t *)d->d_buf + d->d_size;
		r->vaddr = vaddr;
		return 0;
	}
	return -ENOENT;
}

static int lsda_walk(Elf *elf, uint64_t lsda, uint64_t func, void (*fn)(uint64_t, void *),
		     void *arg)
{
	struct eh_reader r;
	uint64_t lpstart = func, cs_len, skip;
	uint8_t lp_enc, tt_enc, cs_enc;
	const uint8_t *end;

	if (eh_section_at(elf, lsda, &r) || rd_bytes(&r, &lp_enc, 1))
		return -EINVAL;
	if (lp_enc != DW_EH_PE_omit && rd_encoded(&r, lp_enc, &lpstart))
		return -EINVAL;
	if (rd_bytes(&r, &tt_enc, 1) || (tt_enc != DW_EH_PE_omit && rd_uleb(&r, &skip)))
		return -EINVAL;
	if (rd_bytes(&r, &cs_enc, 1) || rd_uleb(&r, &cs_len) || cs_len > (uint64_t)(r.end - r.p))
		return -EINVAL;
	for (end = r.p + cs_len; r.p < end;) {
		uint64_t start, len, lp, action;

		if (rd_encoded(&r, cs_enc, &start) || rd_encoded(&r, cs_enc, &len) ||
		    rd_encoded(&r, cs_enc, &lp) || rd_uleb(&r, &action))
			return -EINVAL;
		if (lp)
			fn(lpstart + lp, arg);
	}
	return 0;
}

/*
 * A CIE, from its version on. Version 1 and 3 are .eh_frame's and
 * .debug_frame's; version 4 (.debug_frame) adds the address and segment
 * selector sizes after the augmentation.
 */
int eh_cie_parse(struct eh_reader r, struct eh_cie *c)
{
	const char *aug;
	uint64_t u, aug_len = 0;
	uint8_t version, b, sizes[2];

	c->fde_enc = 0;
	c->lsda_enc = DW_EH_PE_omit;
	if (rd_bytes(&r, &version, 1))
		return -EINVAL;
	aug = (const char *)r.p;
	while (r.p < r.end && *r.p)
		r.p++, r.vaddr++;
	if (rd_bytes(&r, &b, 1) || strstr(aug, "eh"))
		return -EINVAL;
	if (version == 4 && (rd_bytes(&r, sizes, 2) || sizes[0] != 8 || sizes[1]))
		return -EINVAL;
	if (rd_uleb(&r, &c->code_align) || rd_sleb(&r, &c->data_align))
		return -EINVAL;
	c->ra_reg = 0;
	if (version == 1 ? rd_bytes(&r, &c->ra_reg, 1) : rd_uleb(&r, &c->ra_reg))
		return -EINVAL;
	c->has_z = aug[0] == 'z';
	c->signal = strchr(aug, 'S');
	c->insns = r;
	if (!c->has_z)
		return 0;
	if (rd_uleb(&r, &aug_len) || aug_len > (uint64_t)(r.end - r.p))
		return -EINVAL;
	c->insns = (struct eh_reader){ r.p + aug_len, r.end, r.vaddr + aug_len };
	for (const char *a = aug + 1; *a; a++) {
		uint8_t enc;

		if (*a == 'L' && rd_bytes(&r, &c->lsda_enc, 1))
			return -EINVAL;
		if (*a == 'R' && rd_bytes(&r, &c->fde_enc, 1))
			return -EINVAL;
		if (*a == 'P' && (rd_bytes(&r, &enc, 1) || rd_encoded(&r, enc & 0x7f, &u)))
			return -EINVAL;
	}
	return 0;
}

struct eh_visit {
	void (*fn)(uint64_t, void *);		/* landing pads */
	void (*range)(const struct sym_fde *, void *); /* FDE bounds */
	void *arg;
};

/* One FDE: its LSDA, if any, lists landing pads. */
static void fde_visit(Elf *elf, struct eh_reader r, const struct eh_cie *c, void *arg)
{
	struct eh_visit *v = arg;
	uint64_t start, range, aug_len, lsda = 0;

	if (rd_encoded(&r, c->fde_enc, &start) || rd_encoded(&r, c->fde_enc & 0x0f, &range))
		return;
	if (!c->has_z || c->lsda_enc == DW_EH_PE_omit || rd_uleb(&r, &aug_len) || !aug_len)
		return;
	if (!rd_encoded(&r, c->lsda_enc, &lsda) && lsda)
		lsda_walk(elf, lsda, start, v->fn, v->arg);
}

/*
 * One FDE: its bounds. A signal frame's FDE starts one byte before the code
 * (glibc's __restore_rt), as unwinders look up the return address - 1: the
 * function starts a byte later.
 */
static void fde_range(Elf *elf, struct eh_reader r, const struct eh_cie *c, void *arg)
{
	struct eh_visit *v = arg;
	struct sym_fde fde = { .record = r.vaddr };

	(void)elf;
	if (rd_encoded(&r, c->fde_enc, &fde.start) || rd_encoded(&r, c->fde_enc & 0x0f, &fde.size))
		return;
	if (c->signal && fde.size) {
		fde.start++;
		fde.size--;
	}
	if (fde.start && fde.size)
		v->range(&fde, v->arg);
}

/* The section of elf called name, with data: 0 or -ENOENT. */
static int frame_section(Elf *elf, const char *name, GElf_Shdr *sh, Elf_Data **d)
{
	Elf_Scn *scn = NULL;
	size_t shstrndx;
	const char *n;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -ENOENT;
	while ((scn = elf_nextscn(elf, scn)))
		if (gelf_getshdr(scn, sh) && sh->sh_type == SHT_PROGBITS &&
		    (n = elf_strptr(elf, shstrndx, sh->sh_name)) && !strcmp(n, name) &&
		    (*d = elf_getdata(scn, NULL)) && (*d)->d_buf)
			return 0;
	return -ENOENT;
}

/*
 * The entry at pos: its length and CIE pointer (or CIE id). .eh_frame's CIE
 * id is 0 and its pointers count back from the pointer's own place;
 * .debug_frame's id is 0xffffffff and its pointers are section offsets. The
 * 64-bit DWARF format (length 0xffffffff) is not read.
 */
static bool entry_at(const uint8_t *base, size_t size, size_t pos, uint32_t *len, size_t *cie_pos,
		     bool debug)
{
	uint32_t id;

	if (pos + 8 > size)
		return false;
	memcpy(len, base + pos, 4);
	if (!*len || *len == 0xffffffff || *len < 4 || *len > size - pos - 4)
		return false;
	memcpy(&id, base + pos + 4, 4);
	if (debug)
		*cie_pos = id == 0xffffffff ? SIZE_MAX : id;
	else
		*cie_pos = !id ? SIZE_MAX : id <= pos + 4 ? pos + 4 - id : SIZE_MAX - 1;
	return true;
}

int eh_frames_walk(Elf *elf, const char *name,
		   void (*fde)(Elf *elf, struct eh_reader r, const struct eh_cie *c, void *arg),
		   void *arg)
{
	bool debug = !strcmp(name, ".debug_frame");
	size_t pos, cie_pos, last_cie = SIZE_MAX;
	uint32_t len, cie_len;
	struct eh_cie cie;
	const uint8_t *base;
	GElf_Shdr sh;
	Elf_Data *d;

	if (!elf || frame_section(elf, name, &sh, &d)) /* NULL: libelf unusable (sym_file_elf) */
		return -ENOENT;
	base = d->d_buf;
	for (pos = 0; entry_at(base, d->d_size, pos, &len, &cie_pos, debug); pos += 4 + len) {
		struct eh_reader r;
		size_t unused;

		if (cie_pos >= SIZE_MAX - 1) /* a CIE, or a pointer before the section */
			continue;
		if (cie_pos != last_cie) { /* FDEs of one CIE come in runs: parse it once a run */
			last_cie = SIZE_MAX;
			if (!entry_at(base, d->d_size, cie_pos, &cie_len, &unused, debug))
				continue;
			r = (struct eh_reader){ base + cie_pos + 8, base + cie_pos + 4 + cie_len,
						sh.sh_addr + cie_pos + 8 };
			if (eh_cie_parse(r, &cie))
				continue;
			last_cie = cie_pos;
		}
		r = (struct eh_reader){ base + pos + 8, base + pos + 4 + len, sh.sh_addr + pos + 8 };
		fde(elf, r, &cie, arg);
	}
	return 0;
}

int sym_landing_pads(struct sym_file *f, void (*fn)(uint64_t vaddr, void *arg), void *arg)
{
	struct eh_visit v = { .fn = fn, .arg = arg };

	return eh_frames_walk(sym_file_elf(f), ".eh_frame", fde_visit, &v);
}

struct fde_collect {
	struct sym_fde *v;
	size_t n, cap;
	bool oom;
};

static void fde_add(const struct sym_fde *fde, void *arg)
{
	struct fde_collect *c = arg;

	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct sym_fde *v = c->oom ? NULL : realloc(c->v, cap * sizeof(*v));

		if (!v) {
			c->oom = true;
			return;
		}
		c->v = v;
		c->cap = cap;
	}
	c->v[c->n++] = *fde;
}

static int fde_cmp(const void *a, const void *b)
{
	const struct sym_fde *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->size > y->size ? -1 : x->size < y->size;
}

/*
 * f->fdes: every FDE's [initial_location, + address_range), sorted, one per
 * start (the longest), read once. The FDE, not a CFI row: a row ends at the
 * next advance (after the first push), and its start is no function.
 */
static const struct sym_fde *fde_table(struct sym_file *f, size_t *n)
{
	struct eh_visit v = { .range = fde_add };
	struct fde_collect c = { 0 };
	size_t m = 0;

	if (!f->fdes_read) {
		f->fdes_read = true;
		v.arg = &c;
		eh_frames_walk(sym_file_elf(f), ".eh_frame", fde_range, &v);
		if (c.n)
			qsort(c.v, c.n, sizeof(*c.v), fde_cmp);
		for (size_t i = 0; i < c.n; i++)
			if (!m || c.v[i].start != c.v[m - 1].start)
				c.v[m++] = c.v[i];
		f->fdes = c.v;
		f->nfdes = c.oom ? 0 : m;
	}
	*n = f->nfdes;
	return f->fdes;
}

int sym_fdes(struct sym_file *f, void (*fn)(uint64_t start, uint64_t size, void *arg), void *arg)
{
	size_t n;
	const struct sym_fde *t = fde_table(f, &n);

	for (size_t i = 0; i < n; i++)
		fn(t[i].start, t[i].size, arg);
	return n ? 0 : -ENOENT;
}

#define FDE_NESTED 16 /* FDEs inside another one looked past when searching back */

/* The FDE containing vaddr, or NULL. */
const struct sym_fde *eh_fde_containing(struct sym_file *f, uint64_t vaddr)
{
	size_t n, lo = 0, hi;
	const struct sym_fde *t = fde_table(f, &n);

	/* The first FDE starting after vaddr, then back to the one containing it. */
	for (hi = n; lo < hi;) {
		size_t mid = (lo + hi) / 2;

		if (t[mid].start <= vaddr)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i-- > 0 && lo - i <= FDE_NESTED;)
		if (vaddr - t[i].start < t[i].size)
			return &t[i];
	return NULL;
}

int sym_fde_at(struct sym_file *f, uint64_t vaddr, struct sym_func *out)
{
	const struct sym_fde *fde = eh_fde_containing(f, vaddr);

	if (!fde)
		return -ESRCH;
	out->name[0] = '\0';
	out->vaddr = fde->start;
	out->size = fde->size;
	out->ifunc = false;
	return 0;
}
