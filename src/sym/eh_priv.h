/* SPDX-License-Identifier: MIT */
/*
 * Inside the sym layer: reading .eh_frame and .debug_frame, shared by eh.c
 * (FDE bounds, landing pads) and cfi.c (the CFI rows: the interpreter of the
 * call frame instructions). Byte readers that never read past their end, the
 * CIE, and a walk over every FDE of one section.
 */
#ifndef UPROBES_SYM_EH_PRIV_H
#define UPROBES_SYM_EH_PRIV_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <libelf.h>

#define DW_EH_PE_omit 0xff

struct eh_reader {
	const uint8_t *p, *end;
	uint64_t vaddr; /* address of p in the file's address space */
};

static inline int rd_bytes(struct eh_reader *r, void *out, size_t n)
{
	if ((size_t)(r->end - r->p) < n)
		return -EINVAL;
	memcpy(out, r->p, n);
	r->p += n;
	r->vaddr += n;
	return 0;
}

/* LEB128; a signed one is sign-extended from its last byte's bit 6. */
static inline int rd_leb(struct eh_reader *r, bool is_signed, uint64_t *out)
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

static inline int rd_uleb(struct eh_reader *r, uint64_t *out)
{
	return rd_leb(r, false, out);
}

static inline int rd_sleb(struct eh_reader *r, int64_t *out)
{
	return rd_leb(r, true, (uint64_t *)out);
}

/* A DW_EH_PE_* encoded pointer: absolute and pc-relative bases are supported. */
static inline int rd_encoded(struct eh_reader *r, uint8_t enc, uint64_t *out)
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

struct eh_cie {
	uint8_t fde_enc, lsda_enc;
	int has_z;
	bool signal; /* 'S': the FDEs are signal frames (a sigreturn trampoline) */
	uint64_t code_align, ra_reg;
	int64_t data_align;
	struct eh_reader insns; /* the initial instructions */
};

static inline int rd_skip(struct eh_reader *r, uint64_t n)
{
	if (n > (uint64_t)(r->end - r->p))
		return -EINVAL;
	r->p += n;
	r->vaddr += n;
	return 0;
}

/* The CIE whose body (after its length and id) r covers: 0 or -EINVAL. */
int eh_cie_parse(struct eh_reader r, struct eh_cie *c);

/*
 * Every FDE of the section called name (".eh_frame", or ".debug_frame",
 * whose CIE pointers count from the section's start and whose addresses are
 * absolute): fde() gets the FDE's body after its CIE pointer (its initial
 * location first) and its CIE. 0, or -ENOENT when elf has no such section.
 */
int eh_frames_walk(Elf *elf, const char *name,
		   void (*fde)(Elf *elf, struct eh_reader r, const struct eh_cie *c, void *arg),
		   void *arg);

/* The allocated section holding vaddr, as a reader positioned there: 0, -ENOENT or -EINVAL. */
int eh_section_at(Elf *elf, uint64_t vaddr, struct eh_reader *r);

/* The FDE of .eh_frame containing vaddr (the table sym_fdes() reads), or NULL. */
struct sym_file;
struct sym_fde;
const struct sym_fde *eh_fde_containing(struct sym_file *f, uint64_t vaddr);

#endif
