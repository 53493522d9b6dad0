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

#include "sym/sym_priv.h"

#define DW_EH_PE_omit 0xff

struct eh_reader {
	const uint8_t *p, *end;
	uint64_t vaddr; /* address of p in the file's address space */
};

static int rd_bytes(struct eh_reader *r, void *out, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return -EINVAL;
	memcpy(out, r->p, n);
	r->p += n;
	r->vaddr += n;
	return 0;
}

/* LEB128; a signed one is sign-extended from its last byte's bit 6. */
static int rd_leb(struct eh_reader *r, bool is_signed, uint64_t *out)
{
	uint64_t v = 0;
	unsigned shift = 0;
	uint8_t b;

	do {
		if (rd_bytes(r, &b, 1) || shift > 63)
			return -EINVAL;
		v |= (uint64_t)(b & 0x7f) << shift;
		shift += 7;
	} while (b & 0x80);
	if (is_signed && shift < 64 && (b & 0x40))
		v |= ~0ull << shift;
	*out = v;
	return 0;
}

static int rd_uleb(struct eh_reader *r, uint64_t *out)
{
	return rd_leb(r, false, out);
}

static int rd_sleb(struct eh_reader *r, int64_t *out)
{
	return rd_leb(r, true, (uint64_t *)out);
}

/* A DW_EH_PE_* encoded pointer: absolute and pc-relative bases are supported. */
static int rd_encoded(struct eh_reader *r, uint8_t enc, uint64_t *out)
{
	uint64_t pc = r->vaddr, u = 0;
	int64_t s = 0;
	int err;

	switch (enc & 0x0f) {
	case 0x00: err = rd_bytes(r, &u, 8); break;
	case 0x01: err = rd_uleb(r, &u); break;
	case 0x02: { uint16_t v = 0; err = rd_bytes(r, &v, 2); u = v; break; }
	case 0x03: { uint32_t v = 0; err = rd_bytes(r, &v, 4); u = v; break; }
	case 0x04: err = rd_bytes(r, &u, 8); break;
	case 0x09: err = rd_sleb(r, &s); u = s; break;
	case 0x0a: { int16_t v = 0; err = rd_bytes(r, &v, 2); u = (uint64_t)(int64_t)v; break; }
	case 0x0b: { int32_t v = 0; err = rd_bytes(r, &v, 4); u = (uint64_t)(int64_t)v; break; }
	case 0x0c: err = rd_bytes(r, &u, 8); break;
	default: return -EINVAL;
	}
	if (err)
		return err;
	switch (enc & 0x70) {
	case 0x00: break;
	case 0x10: u += pc; break;
	default: return -EINVAL;
	}
	*out = u;
	return 0;
}

/* The allocated section holding vaddr, as a reader positioned there. */
static int section_at(Elf *elf, uint64_t vaddr, struct eh_reader *r)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(elf, scn))) {
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

	if (section_at(elf, lsda, &r) || rd_bytes(&r, &lp_enc, 1))
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

struct eh_cie {
	uint8_t fde_enc, lsda_enc;
	int has_z;
	bool signal; /* 'S': the FDEs are signal frames (a sigreturn trampoline) */
	uint64_t code_align, ra_reg;
	int64_t data_align;
	struct eh_reader insns; /* the initial instructions */
};

static int cie_parse(struct eh_reader r, struct eh_cie *c)
{
	const char *aug;
	uint64_t u, aug_len = 0;
	uint8_t version, b;

	c->fde_enc = 0;
	c->lsda_enc = DW_EH_PE_omit;
	if (rd_bytes(&r, &version, 1))
		return -EINVAL;
	aug = (const char *)r.p;
	while (r.p < r.end && *r.p)
		r.p++, r.vaddr++;
	if (rd_bytes(&r, &b, 1) || strstr(aug, "eh"))
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
	void (*fde)(Elf *elf, struct eh_reader r, const struct eh_cie *c, struct eh_visit *v);
	void (*fn)(uint64_t, void *);		/* landing pads */
	void (*range)(const struct sym_fde *, void *); /* FDE bounds */
	void *arg;
};

/* One FDE: its LSDA, if any, lists landing pads. */
static void fde_visit(Elf *elf, struct eh_reader r, const struct eh_cie *c, struct eh_visit *v)
{
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
static void fde_range(Elf *elf, struct eh_reader r, const struct eh_cie *c, struct eh_visit *v)
{
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

static int eh_walk(struct sym_file *f, struct eh_visit *v)
{
	Elf *elf = sym_file_elf(f);
	Elf_Scn *scn = NULL;
	size_t shstrndx;

	if (elf_getshdrstrndx(elf, &shstrndx))
		return -EINVAL;
	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || !(name = elf_strptr(elf, shstrndx, sh.sh_name)) ||
		    strcmp(name, ".eh_frame") || !(d = elf_getdata(scn, NULL)) || !d->d_buf)
			continue;
		const uint8_t *base = d->d_buf;

		for (size_t pos = 0; pos + 8 <= d->d_size;) {
			uint32_t len32, id;
			struct eh_reader r;
			struct eh_cie cie;

			memcpy(&len32, base + pos, 4);
			if (!len32 || len32 == 0xffffffff || pos + 4 + len32 > d->d_size)
				break;
			memcpy(&id, base + pos + 4, 4);
			if (id && id <= pos + 4) {
				size_t cie_pos = pos + 4 - id;
				uint32_t cie_len;

				memcpy(&cie_len, base + cie_pos, 4);
				r = (struct eh_reader){ base + cie_pos + 8, base + cie_pos + 4 + cie_len,
							sh.sh_addr + cie_pos + 8 };
				if (!cie_parse(r, &cie)) {
					r = (struct eh_reader){ base + pos + 8, base + pos + 4 + len32,
								sh.sh_addr + pos + 8 };
					v->fde(elf, r, &cie, v);
				}
			}
			pos += 4 + len32;
		}
		return 0;
	}
	return -ENOENT;
}

int sym_landing_pads(struct sym_file *f, void (*fn)(uint64_t vaddr, void *arg), void *arg)
{
	struct eh_visit v = { .fde = fde_visit, .fn = fn, .arg = arg };

	return eh_walk(f, &v);
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
	struct eh_visit v = { .fde = fde_range, .range = fde_add };
	struct fde_collect c = { 0 };
	size_t m = 0;

	if (!f->fdes_read) {
		f->fdes_read = true;
		v.arg = &c;
		eh_walk(f, &v);
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
static const struct sym_fde *fde_containing(struct sym_file *f, uint64_t vaddr)
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
	const struct sym_fde *fde = fde_containing(f, vaddr);

	if (!fde)
		return -ESRCH;
	out->name[0] = '\0';
	out->vaddr = fde->start;
	out->size = fde->size;
	out->ifunc = false;
	return 0;
}

/*
 * The CFI row at an address: the CIE's initial instructions, then the FDE's
 * up to the address. Only what sym_cfi_at() reports is kept: the CFA rule and
 * the return address column's rule; other registers are skipped. A rule the
 * instructions never set is unknown (RA_OTHER, cfa_known false), not undefined.
 */
enum { RA_OTHER, RA_OFFSET, RA_UNDEFINED };

struct cfi_rule {
	uint64_t cfa_reg;
	int64_t cfa_off;
	bool cfa_known; /* register + offset (not an expression, not unset) */
	int ra;
};

#define CFI_STATES 8 /* DW_CFA_remember_state nesting kept */

struct cfi_run {
	const struct eh_cie *cie;
	struct cfi_rule now, init, saved[CFI_STATES];
	unsigned nsaved;
	uint64_t loc, stop; /* stop: the address whose row is wanted */
};

static int rd_skip(struct eh_reader *r, uint64_t n)
{
	if (n > (uint64_t)(r->end - r->p))
		return -EINVAL;
	r->p += n;
	r->vaddr += n;
	return 0;
}

/* A DWARF expression block (DW_CFA_*expression): uleb length, bytes. */
static int rd_skip_block(struct eh_reader *r)
{
	uint64_t len;

	return rd_uleb(r, &len) ?: rd_skip(r, len);
}

/* Register reg gets a rule: only the return address column's is kept. */
static void cfi_reg(struct cfi_run *x, uint64_t reg, int rule)
{
	if (reg == x->cie->ra_reg)
		x->now.ra = rule == -1 ? x->init.ra : rule;
}

static int cfi_def_cfa(struct cfi_run *x, uint64_t reg, int64_t off)
{
	x->now.cfa_reg = reg;
	x->now.cfa_off = off;
	x->now.cfa_known = true;
	return 0;
}

/* One instruction with its operand in the low 6 bits: advance_loc, offset, restore. */
static int cfi_short(struct cfi_run *x, struct eh_reader *r, uint8_t op)
{
	uint64_t u;

	switch (op & 0xc0) {
	case 0x40: /* advance_loc */
		x->loc += (op & 0x3f) * x->cie->code_align;
		return 0;
	case 0x80: /* offset */
		cfi_reg(x, op & 0x3f, RA_OFFSET);
		return rd_uleb(r, &u);
	default: /* restore */
		cfi_reg(x, op & 0x3f, -1);
		return 0;
	}
}

/* The register rules of the extended set: 0, or -EINVAL. */
static int cfi_reg_op(struct cfi_run *x, struct eh_reader *r, uint8_t op)
{
	uint64_t reg, u;
	int64_t s;
	int err = rd_uleb(r, &reg);

	if (err)
		return err;
	switch (op) {
	case 0x05: case 0x2f: /* offset_extended, GNU_negative_offset_extended */
		cfi_reg(x, reg, RA_OFFSET);
		return rd_uleb(r, &u);
	case 0x11: /* offset_extended_sf */
		cfi_reg(x, reg, RA_OFFSET);
		return rd_sleb(r, &s);
	case 0x14: case 0x09: /* val_offset, register */
		cfi_reg(x, reg, RA_OTHER);
		return rd_uleb(r, &u);
	case 0x15: /* val_offset_sf */
		cfi_reg(x, reg, RA_OTHER);
		return rd_sleb(r, &s);
	case 0x06: /* restore_extended */
		cfi_reg(x, reg, -1);
		return 0;
	case 0x07: /* undefined */
		cfi_reg(x, reg, RA_UNDEFINED);
		return 0;
	case 0x08: /* same_value */
		cfi_reg(x, reg, RA_OTHER);
		return 0;
	default: /* 0x10 expression, 0x16 val_expression */
		cfi_reg(x, reg, RA_OTHER);
		return rd_skip_block(r);
	}
}

/* One instruction of the extended set: 0, or -EINVAL (unknown or truncated). */
static int cfi_long(struct cfi_run *x, struct eh_reader *r, uint8_t op)
{
	uint32_t d = 0;
	uint64_t reg, u;
	int64_t s;

	switch (op) {
	case 0x00: /* nop */
		return 0;
	case 0x01: /* set_loc */
		return rd_encoded(r, x->cie->fde_enc, &x->loc);
	case 0x02: case 0x03: case 0x04: /* advance_loc1, 2, 4 */
		if (rd_bytes(r, &d, op == 0x02 ? 1 : op == 0x03 ? 2 : 4))
			return -EINVAL;
		x->loc += d * x->cie->code_align;
		return 0;
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09:
	case 0x10: case 0x11: case 0x14: case 0x15: case 0x16: case 0x2f:
		return cfi_reg_op(x, r, op);
	case 0x0a: /* remember_state */
		if (x->nsaved == CFI_STATES)
			return -EINVAL;
		x->saved[x->nsaved++] = x->now;
		return 0;
	case 0x0b: /* restore_state */
		if (!x->nsaved)
			return -EINVAL;
		x->now = x->saved[--x->nsaved];
		return 0;
	case 0x0c: /* def_cfa */
		return rd_uleb(r, &reg) ?: rd_uleb(r, &u) ?: cfi_def_cfa(x, reg, (int64_t)u);
	case 0x12: /* def_cfa_sf */
		return rd_uleb(r, &reg) ?: rd_sleb(r, &s) ?:
		       cfi_def_cfa(x, reg, s * x->cie->data_align);
	case 0x0d: /* def_cfa_register */
		return rd_uleb(r, &reg) ?: cfi_def_cfa(x, reg, x->now.cfa_off);
	case 0x0e: /* def_cfa_offset */
		return rd_uleb(r, &u) ?: cfi_def_cfa(x, x->now.cfa_reg, (int64_t)u);
	case 0x13: /* def_cfa_offset_sf */
		return rd_sleb(r, &s) ?: cfi_def_cfa(x, x->now.cfa_reg, s * x->cie->data_align);
	case 0x0f: /* def_cfa_expression */
		x->now.cfa_known = false;
		return rd_skip_block(r);
	case 0x2e: /* GNU_args_size */
		return rd_uleb(r, &u);
	default:
		return -EINVAL;
	}
}

/* Run r's instructions until the location passes x->stop. */
static int cfi_exec(struct cfi_run *x, struct eh_reader r)
{
	uint8_t op;
	int err;

	while (r.p < r.end && x->loc <= x->stop) {
		if (rd_bytes(&r, &op, 1))
			return -EINVAL;
		err = op & 0xc0 ? cfi_short(x, &r, op) : cfi_long(x, &r, op);
		if (err)
			return err;
	}
	return 0;
}

/*
 * The FDE record whose initial location is at vaddr record: its instructions
 * in insns, its CIE in cie, its initial location in start.
 */
static int cfi_fde(Elf *elf, uint64_t record, struct eh_cie *cie, struct eh_reader *insns,
		   uint64_t *start)
{
	struct eh_reader r, c;
	uint32_t len, id, cie_len;
	uint64_t size, aug_len;

	if (section_at(elf, record - 8, &r) || rd_bytes(&r, &len, 4) || rd_bytes(&r, &id, 4) ||
	    len < 4 || len - 4 > (uint64_t)(r.end - r.p) || !id)
		return -EINVAL;
	r.end = r.p + (len - 4);
	if (section_at(elf, record - 4 - id, &c) || rd_bytes(&c, &cie_len, 4) ||
	    cie_len < 4 || cie_len > (uint64_t)(c.end - c.p))
		return -EINVAL;
	c.end = c.p + cie_len;
	if (rd_skip(&c, 4) || cie_parse(c, cie))
		return -EINVAL;
	if (rd_encoded(&r, cie->fde_enc, start) || rd_encoded(&r, cie->fde_enc & 0x0f, &size))
		return -EINVAL;
	if (cie->has_z && (rd_uleb(&r, &aug_len) || rd_skip(&r, aug_len)))
		return -EINVAL;
	*insns = r;
	return 0;
}

int sym_cfi_at(struct sym_file *f, uint64_t vaddr, struct sym_cfi_row *out)
{
	const struct sym_fde *fde = fde_containing(f, vaddr);
	struct cfi_run x = { .stop = vaddr };
	struct eh_reader insns;
	struct eh_cie cie;

	if (!fde)
		return -ESRCH;
	if (cfi_fde(sym_file_elf(f), fde->record, &cie, &insns, &x.loc))
		return -EINVAL;
	x.cie = &cie;
	if (cfi_exec(&x, cie.insns))
		return -EINVAL;
	x.init = x.now;
	x.nsaved = 0;
	if (cfi_exec(&x, insns))
		return -EINVAL;
	out->signal = cie.signal;
	out->cfa_rsp = x.now.cfa_known && x.now.cfa_reg == 7;
	out->cfa_off = x.now.cfa_off;
	out->ra_undefined = x.now.ra == RA_UNDEFINED;
	return 0;
}
