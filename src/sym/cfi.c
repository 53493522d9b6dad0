/* SPDX-License-Identifier: MIT */
/*
 * The call frame instructions of .eh_frame (and .debug_frame) interpreted
 * into rows: at each address, how the caller's frame is found (DWARF 5,
 * section 6.4). The CIE's initial instructions set the rules every FDE of it
 * starts from; the FDE's own instructions change them, address by address.
 *
 * Two users: sym_cfi_at() runs one FDE up to one address (return probes'
 * refusals, retsafe.c); sym_cfi_rows() runs every FDE to its end and reports
 * each row (the stack layer compiles them into its lookup table, once per
 * file). Only what an unwinder of x86-64 code needs is kept: the CFA rule,
 * the return address's rule and rbp's rule (a caller's CFA may be rbp-based).
 * The expressions the compilers emit are recognized by their bytes (the PLT's,
 * GCC's stack realignment, a register saved at a register plus an offset);
 * any other expression is kept as "an expression", never evaluated.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "sym/eh_priv.h"
#include "sym/sym_priv.h"

#define DW_REG_RBP 6
#define DW_REG_RSP 7
#define DW_OP_BREG0 0x70
#define DW_OP_BREG31 0x8f
#define DW_OP_DEREF 0x06
#define CFI_STATES 8 /* DW_CFA_remember_state nesting kept */

struct cfi_rule {
	uint8_t cfa, cfa_reg, plt_k; /* enum sym_cfa */
	uint8_t ra, bp, bp_reg;	     /* enum sym_rule */
	int64_t cfa_off, ra_off, bp_off;
};

struct cfi_run {
	const struct eh_cie *cie;
	struct cfi_rule now, init, saved[CFI_STATES];
	unsigned nsaved;
	uint64_t loc, stop, end; /* stop: the address whose row is wanted; end: the FDE's */
	void (*fn)(const struct sym_cfi *row, void *arg); /* rows mode: each row */
	void *arg;
};

/* A rule never set: the CFA unknown, the return address unknown, rbp unchanged. */
static const struct cfi_rule cfi_default = { .cfa = SYM_CFA_NONE, .ra = SYM_RULE_OTHER,
					     .bp = SYM_RULE_SAME };

/* The row [x->loc, to) with the rules now in force, in rows mode. */
static void cfi_emit(struct cfi_run *x, uint64_t to)
{
	const struct cfi_rule *n = &x->now;
	struct sym_cfi row = {
		.start = x->loc, .end = to < x->end ? to : x->end, .signal = x->cie->signal,
		.cfa = n->cfa, .cfa_reg = n->cfa_reg, .plt_k = n->plt_k, .cfa_off = n->cfa_off,
		.ra = n->ra, .bp = n->bp, .bp_reg = n->bp_reg, .ra_off = n->ra_off,
		.bp_off = n->bp_off,
	};

	if (x->fn && row.start < row.end)
		x->fn(&row, x->arg);
}

static void cfi_advance(struct cfi_run *x, uint64_t to)
{
	if (to > x->loc)
		cfi_emit(x, to);
	x->loc = to;
}

/* Register reg gets a rule (-1: DW_CFA_restore); only rbp's and the return address's are kept. */
static void cfi_reg(struct cfi_run *x, uint64_t reg, int rule, uint8_t base, int64_t off)
{
	struct cfi_rule *n = &x->now;

	if (reg == x->cie->ra_reg) {
		n->ra = rule < 0 ? x->init.ra : (uint8_t)rule;
		n->ra_off = rule < 0 ? x->init.ra_off : off;
	}
	if (reg == DW_REG_RBP) {
		n->bp = rule < 0 ? x->init.bp : (uint8_t)rule;
		n->bp_reg = rule < 0 ? x->init.bp_reg : base;
		n->bp_off = rule < 0 ? x->init.bp_off : off;
	}
}

static int cfi_def_cfa(struct cfi_run *x, uint64_t reg, int64_t off)
{
	x->now.cfa = reg < 256 ? SYM_CFA_REG : SYM_CFA_EXPR;
	x->now.cfa_reg = (uint8_t)reg;
	x->now.cfa_off = off;
	return 0;
}

/* What a DWARF expression is, by its bytes. */
enum cfi_expr_kind { EXPR_OTHER, EXPR_BREG, EXPR_BREG_DEREF, EXPR_PLT };

struct cfi_expr {
	int kind;
	uint8_t reg, plt_k;
	int64_t off;
};

/*
 * The PLT's CFA after DW_OP_breg7 (rsp) 8: rsp + 8, and 8 more once the
 * stub has pushed (from byte plt_k of its 16 on):
 *   DW_OP_breg16 (rip) 0; lit15; and; lit<k>; ge; lit3; shl; plus
 */
static bool expr_plt_tail(const uint8_t *p, size_t n, uint8_t *k)
{
	static const uint8_t head[] = { 0x80, 0x00, 0x3f, 0x1a }, tail[] = { 0x2a, 0x33, 0x24, 0x22 };

	if (n != 9 || memcmp(p, head, 4) || p[4] < 0x30 || p[4] > 0x4f || memcmp(p + 5, tail, 4))
		return false;
	*k = p[4] - 0x30;
	return true;
}

/* A uleb length and the expression's bytes: what it is (never evaluated). */
static int cfi_expr_read(struct eh_reader *r, struct cfi_expr *out)
{
	struct eh_reader e;
	uint64_t len;
	uint8_t op;

	if (rd_uleb(r, &len) || len > (uint64_t)(r->end - r->p))
		return -EINVAL;
	e = (struct eh_reader){ r->p, r->p + len, r->vaddr };
	rd_skip(r, len);
	out->kind = EXPR_OTHER;
	if (rd_bytes(&e, &op, 1) || op < DW_OP_BREG0 || op > DW_OP_BREG31 || rd_sleb(&e, &out->off))
		return 0;
	out->reg = op - DW_OP_BREG0;
	if (e.p == e.end)
		out->kind = EXPR_BREG;
	else if (e.end - e.p == 1 && *e.p == DW_OP_DEREF)
		out->kind = EXPR_BREG_DEREF;
	else if (out->reg == DW_REG_RSP && expr_plt_tail(e.p, (size_t)(e.end - e.p), &out->plt_k))
		out->kind = EXPR_PLT;
	return 0;
}

static int cfi_def_cfa_expr(struct cfi_run *x, struct eh_reader *r)
{
	struct cfi_expr e;

	if (cfi_expr_read(r, &e))
		return -EINVAL;
	x->now.cfa = e.kind == EXPR_BREG_DEREF ? SYM_CFA_DEREF :
		     e.kind == EXPR_PLT	       ? SYM_CFA_PLT :
		     e.kind == EXPR_BREG       ? SYM_CFA_REG :
						 SYM_CFA_EXPR;
	x->now.cfa_reg = e.reg;
	x->now.cfa_off = e.off;
	x->now.plt_k = e.plt_k;
	return 0;
}

/* One instruction with its operand in the low 6 bits: advance_loc, offset, restore. */
static int cfi_short(struct cfi_run *x, struct eh_reader *r, uint8_t op)
{
	uint64_t u;

	switch (op & 0xc0) {
	case 0x40: /* advance_loc */
		cfi_advance(x, x->loc + (op & 0x3f) * x->cie->code_align);
		return 0;
	case 0x80: /* offset */
		if (rd_uleb(r, &u))
			return -EINVAL;
		cfi_reg(x, op & 0x3f, SYM_RULE_CFA, 0, (int64_t)u * x->cie->data_align);
		return 0;
	default: /* restore */
		cfi_reg(x, op & 0x3f, -1, 0, 0);
		return 0;
	}
}

/* The register rules of the extended set: 0, or -EINVAL. */
static int cfi_reg_op(struct cfi_run *x, struct eh_reader *r, uint8_t op)
{
	int64_t align = x->cie->data_align, s;
	struct cfi_expr e;
	uint64_t reg, u;

	if (rd_uleb(r, &reg))
		return -EINVAL;
	switch (op) {
	case 0x05: case 0x2f: /* offset_extended, GNU_negative_offset_extended */
		if (rd_uleb(r, &u))
			return -EINVAL;
		cfi_reg(x, reg, SYM_RULE_CFA, 0, (op == 0x05 ? 1 : -1) * (int64_t)u * align);
		return 0;
	case 0x11: /* offset_extended_sf */
		if (rd_sleb(r, &s))
			return -EINVAL;
		cfi_reg(x, reg, SYM_RULE_CFA, 0, s * align);
		return 0;
	case 0x14: case 0x09: /* val_offset, register */
		cfi_reg(x, reg, SYM_RULE_OTHER, 0, 0);
		return rd_uleb(r, &u);
	case 0x15: /* val_offset_sf */
		cfi_reg(x, reg, SYM_RULE_OTHER, 0, 0);
		return rd_sleb(r, &s);
	case 0x06: /* restore_extended */
		cfi_reg(x, reg, -1, 0, 0);
		return 0;
	case 0x07: /* undefined */
		cfi_reg(x, reg, SYM_RULE_UNDEFINED, 0, 0);
		return 0;
	case 0x08: /* same_value */
		cfi_reg(x, reg, SYM_RULE_SAME, 0, 0);
		return 0;
	case 0x10: /* expression: saved at the address it computes */
		if (cfi_expr_read(r, &e))
			return -EINVAL;
		cfi_reg(x, reg, e.kind == EXPR_BREG ? SYM_RULE_REG : SYM_RULE_OTHER, e.reg, e.off);
		return 0;
	default: /* 0x16 val_expression */
		cfi_reg(x, reg, SYM_RULE_OTHER, 0, 0);
		return cfi_expr_read(r, &e);
	}
}

static int cfi_state(struct cfi_run *x, bool remember)
{
	if (remember) {
		if (x->nsaved == CFI_STATES)
			return -EINVAL;
		x->saved[x->nsaved++] = x->now;
		return 0;
	}
	if (!x->nsaved)
		return -EINVAL;
	x->now = x->saved[--x->nsaved];
	return 0;
}

/* One instruction of the extended set: 0, or -EINVAL (unknown or truncated). */
static int cfi_long(struct cfi_run *x, struct eh_reader *r, uint8_t op)
{
	uint64_t reg, u, loc;
	uint32_t d = 0;
	int64_t s;

	switch (op) {
	case 0x00: /* nop */
		return 0;
	case 0x01: /* set_loc */
		if (rd_encoded(r, x->cie->fde_enc, &loc))
			return -EINVAL;
		cfi_advance(x, loc);
		return 0;
	case 0x02: case 0x03: case 0x04: /* advance_loc1, 2, 4 */
		if (rd_bytes(r, &d, op == 0x02 ? 1 : op == 0x03 ? 2 : 4))
			return -EINVAL;
		cfi_advance(x, x->loc + d * x->cie->code_align);
		return 0;
	case 0x05: case 0x06: case 0x07: case 0x08: case 0x09:
	case 0x10: case 0x11: case 0x14: case 0x15: case 0x16: case 0x2f:
		return cfi_reg_op(x, r, op);
	case 0x0a: case 0x0b: /* remember_state, restore_state */
		return cfi_state(x, op == 0x0a);
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
		return cfi_def_cfa_expr(x, r);
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
 * An FDE's body r (after its CIE pointer): its range, then past its
 * augmentation data to its instructions. 0 or -EINVAL.
 */
static int fde_head(struct eh_reader *r, const struct eh_cie *cie, uint64_t *start, uint64_t *size)
{
	uint64_t aug_len;

	if (rd_encoded(r, cie->fde_enc, start) || rd_encoded(r, cie->fde_enc & 0x0f, size))
		return -EINVAL;
	if (cie->has_z && (rd_uleb(r, &aug_len) || rd_skip(r, aug_len)))
		return -EINVAL;
	return 0;
}

/* The CIE's instructions: the rules every row of the FDE starts from (restore's target). */
static int cfi_begin(struct cfi_run *x, const struct eh_cie *cie, uint64_t start, uint64_t end)
{
	x->cie = cie;
	x->loc = start;
	x->end = end;
	x->now = x->init = cfi_default;
	if (cfi_exec(x, cie->insns))
		return -EINVAL;
	x->init = x->now;
	x->nsaved = 0;
	return 0;
}

/*
 * The FDE record whose initial location is at vaddr record: its instructions
 * in insns, its CIE in cie, its range in start and size.
 */
static int cfi_fde(Elf *elf, uint64_t record, struct eh_cie *cie, struct eh_reader *insns,
		   uint64_t *start, uint64_t *size)
{
	struct eh_reader r, c;
	uint32_t len, id, cie_len;

	if (eh_section_at(elf, record - 8, &r) || rd_bytes(&r, &len, 4) || rd_bytes(&r, &id, 4) ||
	    len < 4 || len - 4 > (uint64_t)(r.end - r.p) || !id)
		return -EINVAL;
	r.end = r.p + (len - 4);
	if (eh_section_at(elf, record - 4 - id, &c) || rd_bytes(&c, &cie_len, 4) ||
	    cie_len < 4 || cie_len > (uint64_t)(c.end - c.p))
		return -EINVAL;
	c.end = c.p + cie_len;
	if (rd_skip(&c, 4) || eh_cie_parse(c, cie) || fde_head(&r, cie, start, size))
		return -EINVAL;
	*insns = r;
	return 0;
}

int sym_cfi_at(struct sym_file *f, uint64_t vaddr, struct sym_cfi_row *out)
{
	const struct sym_fde *fde = eh_fde_containing(f, vaddr);
	struct cfi_run x = { .stop = vaddr };
	uint64_t start, size;
	struct eh_reader insns;
	struct eh_cie cie;

	if (!fde)
		return -ESRCH;
	if (cfi_fde(sym_file_elf(f), fde->record, &cie, &insns, &start, &size) ||
	    cfi_begin(&x, &cie, start, start + size) || cfi_exec(&x, insns))
		return -EINVAL;
	out->signal = cie.signal;
	out->cfa_rsp = x.now.cfa == SYM_CFA_REG && x.now.cfa_reg == DW_REG_RSP;
	out->cfa_off = x.now.cfa_off;
	out->ra_undefined = x.now.ra == SYM_RULE_UNDEFINED;
	return 0;
}

struct rows_ctx {
	void (*fn)(const struct sym_cfi *row, void *arg);
	void *arg;
};

/* One FDE run to its end, each row reported (those before an instruction it cannot read too). */
static void fde_rows(Elf *elf, struct eh_reader r, const struct eh_cie *cie, void *arg)
{
	struct rows_ctx *rc = arg;
	struct cfi_run x = { .stop = UINT64_MAX };
	uint64_t start, size;

	(void)elf;
	if (fde_head(&r, cie, &start, &size) || !start || !size || start + size < start ||
	    cfi_begin(&x, cie, start, start + size))
		return;
	x.fn = rc->fn;
	x.arg = rc->arg;
	if (!cfi_exec(&x, r))
		cfi_emit(&x, x.end);
}

int sym_cfi_rows(struct sym_file *f, void (*fn)(const struct sym_cfi *row, void *arg), void *arg)
{
	struct rows_ctx rc = { fn, arg };
	Elf *elf = sym_file_elf(f);
	bool eh = !eh_frames_walk(elf, ".eh_frame", fde_rows, &rc);
	bool debug = !eh_frames_walk(elf, ".debug_frame", fde_rows, &rc);

	if (!eh && !debug && sym_aux_elf(f)) /* a stripped file: its debug file's */
		debug = !eh_frames_walk(sym_aux_elf(f), ".debug_frame", fde_rows, &rc);
	return eh || debug ? 0 : -ENOENT;
}
