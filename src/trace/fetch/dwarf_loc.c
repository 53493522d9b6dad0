/* SPDX-License-Identifier: MIT */
/*
 * DWARF fetch-args, step 3 (see dwarf.c): a variable's location at the probe
 * address (DW_AT_location: an expression, or the location-list entry that
 * covers the address) turned into a register, a constant, or an object in
 * memory the fetch can reach (+OFF(%reg), the CFA, @+FILEOFF).
 */
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "sym/sym.h"
#include "trace/fetch/dwarf_priv.h"
#include "trace/spec/spec.h"
#include "util/log.h"

/* ---- locations ---------------------------------------------------------------------- */

static int dw_reg(struct dw_ctx *cx, unsigned int regno, enum trace_reg *out)
{
	/* The arch's DWARF register numbers (arch/<arch>/trace_regs.c). */
	if (!arch_dwarf_trace_reg(regno, out))
		return 0;
	return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
		       "its value is in DWARF register %u (a vector or x87 register), which "
		       "fetch-args cannot read", regno);
}

/* Memory at %reg + off: the object is loaded by "+off(%reg)". */
static void mem_at_reg(struct dw_val *v, enum trace_reg reg, int64_t off)
{
	v->f.base = TRACE_B_REG;
	v->f.reg = reg;
	v->f.n_deref = 1;
	v->f.deref[0] = off;
	v->in_mem = true;
}

/*
 * The CFA at pc as register + offset, from .debug_frame or .eh_frame (the
 * Dwarf_CFI of the latter is ours to end; the former belongs to cx->dw).
 */
static int cfa_at(struct dw_ctx *cx, enum trace_reg *reg, int64_t *off)
{
	Dwarf_CFI *cfis[2] = { dwarf_getcfi(cx->dw), dwarf_getcfi_elf(sym_file_elf(cx->sym)) };
	int ret = -1;

	for (int i = 0; i < 2 && ret; i++) {
		Dwarf_Frame *frame;
		Dwarf_Op *ops;
		size_t n;

		if (!cfis[i] || dwarf_cfi_addrframe(cfis[i], cx->pc, &frame))
			continue;
		if (dwarf_frame_cfa(frame, &ops, &n) == 0 && n == 1) {
			if (ops[0].atom == DW_OP_bregx) {
				ret = dw_reg(cx, (unsigned int)ops[0].number, reg);
				*off = (int64_t)ops[0].number2;
			} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
				ret = dw_reg(cx, ops[0].atom - DW_OP_breg0, reg);
				*off = (int64_t)ops[0].number;
			}
		}
		free(frame);
	}
	if (cfis[1])
		dwarf_cfi_end(cfis[1]);
	if (ret == 0)
		return 0;
	return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
		       "its frame base is the CFA, which the call frame info does not give as "
		       "register + offset at this address");
}

/* DW_OP_fbreg off: memory at the function's frame base + off. */
static int frame_base(struct dw_ctx *cx, int64_t off, struct dw_val *v)
{
	Dwarf_Attribute a;
	Dwarf_Op *ops;
	size_t n;
	enum trace_reg reg = TRACE_R_SP;
	int64_t base = 0;
	int ret;

	if (!dwarf_attr(&cx->scopes[cx->subprogram], DW_AT_frame_base, &a) ||
	    dwarf_getlocation_addr(&a, cx->pc, &ops, &n, 1) != 1 || n != 1)
		return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
			       "its function's frame base is not known at this address");
	if (ops[0].atom == DW_OP_call_frame_cfa) {
		ret = cfa_at(cx, &reg, &base);
	} else if (ops[0].atom >= DW_OP_breg0 && ops[0].atom <= DW_OP_breg31) {
		ret = dw_reg(cx, ops[0].atom - DW_OP_breg0, &reg);
		base = (int64_t)ops[0].number;
	} else if (ops[0].atom >= DW_OP_reg0 && ops[0].atom <= DW_OP_reg31) {
		ret = dw_reg(cx, ops[0].atom - DW_OP_reg0, &reg);
	} else {
		return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
			       "its function's frame base (DW_OP 0x%x) is not register-based",
			       ops[0].atom);
	}
	if (!ret)
		mem_at_reg(v, reg, base + off);
	return ret;
}

/* DW_OP_addr: a static object, read through its file offset (@+FILEOFF). */
static int static_addr(struct dw_ctx *cx, uint64_t vaddr, struct dw_val *v)
{
	struct sym_load seg[16];
	unsigned int n = sym_loads(cx->sym, seg, 16);

	for (unsigned int i = 0; i < n; i++)
		if (vaddr >= seg[i].vaddr && vaddr < seg[i].vaddr + seg[i].filesz) {
			v->f.base = TRACE_B_FILEOFF;
			v->f.imm = vaddr - seg[i].vaddr + seg[i].offset;
			v->f.n_deref = 1;
			v->f.deref[0] = 0;
			v->in_mem = true;
			return 0;
		}
	return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
		       "it is a static at 0x%" PRIx64 " with no bytes in the file (.bss); "
		       "fetch-args address statics through the file (@+FILEOFF)", vaddr);
}

static void imm_val(struct dw_val *v, uint64_t value)
{
	v->f.base = TRACE_B_IMM;
	v->f.imm = value;
	v->f.n_deref = 0;
	v->in_mem = false;
}

/*
 * DW_OP_entry_value(DW_OP_regN): the register's value when the function was
 * entered. Known only at the entry itself, where it is the register.
 */
static int entry_value(struct dw_ctx *cx, Dwarf_Attribute *loc, Dwarf_Op *op, struct dw_val *v)
{
	Dwarf_Attribute inner;
	Dwarf_Op *ops;
	size_t n;
	enum trace_reg reg = TRACE_R_SP;
	int ret;

	if (dwarf_getlocation_attr(loc, op, &inner) || dwarf_getlocation(&inner, &ops, &n) ||
	    n != 1 || ops[0].atom < DW_OP_reg0 || ops[0].atom > DW_OP_reg31)
		return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
			       "its location is an entry value that is not a register");
	if (!dw_at_entry(cx))
		return dw_fail(cx, ENODATA, cx->arg->fetch.str,
			       "only its value at the function's entry is known here (the "
			       "register holding it was reused); probe the entry instead");
	ret = dw_reg(cx, ops[0].atom - DW_OP_reg0, &reg);
	if (!ret) {
		v->f.base = TRACE_B_REG;
		v->f.reg = reg;
		v->f.n_deref = 0;
		v->in_mem = false;
	}
	return ret;
}

/* A constant pushed by the first op, if it is one. */
static bool const_op(const Dwarf_Op *op, uint64_t *value)
{
	if (op->atom >= DW_OP_lit0 && op->atom <= DW_OP_lit31) {
		*value = op->atom - DW_OP_lit0;
		return true;
	}
	switch (op->atom) {
	case DW_OP_const1u: case DW_OP_const2u: case DW_OP_const4u: case DW_OP_const8u:
	case DW_OP_const1s: case DW_OP_const2s: case DW_OP_const4s: case DW_OP_const8s:
	case DW_OP_constu: case DW_OP_consts:
		*value = op->number;
		return true;
	}
	return false;
}

/* One location expression (ops[0..n)) of the variable, at pc. */
static int eval_expr(struct dw_ctx *cx, Dwarf_Attribute *loc, Dwarf_Op *ops, size_t n,
		     struct dw_val *v)
{
	bool value = n == 2 && ops[1].atom == DW_OP_stack_value;
	unsigned int a = ops[0].atom;
	enum trace_reg reg = TRACE_R_SP;
	uint64_t c;
	int ret;

	if (n == 1 && a >= DW_OP_reg0 && a <= DW_OP_reg31) {
		ret = dw_reg(cx, a - DW_OP_reg0, &v->f.reg);
		v->f.base = TRACE_B_REG;
		return ret;
	}
	if (n == 1 && a == DW_OP_regx) {
		ret = dw_reg(cx, (unsigned int)ops[0].number, &v->f.reg);
		v->f.base = TRACE_B_REG;
		return ret;
	}
	if (n == 1 && a >= DW_OP_breg0 && a <= DW_OP_breg31) {
		ret = dw_reg(cx, a - DW_OP_breg0, &reg);
		if (!ret)
			mem_at_reg(v, reg, (int64_t)ops[0].number);
		return ret;
	}
	if (n == 1 && a == DW_OP_fbreg)
		return frame_base(cx, (int64_t)ops[0].number, v);
	if (n == 1 && a == DW_OP_addr)
		return static_addr(cx, ops[0].number, v);
	if (value && const_op(&ops[0], &c)) {
		imm_val(v, c);
		return 0;
	}
	if (value && (a == DW_OP_entry_value || a == DW_OP_GNU_entry_value))
		return entry_value(cx, loc, &ops[0], v);
	if (value && a >= DW_OP_breg0 && a <= DW_OP_breg31 && ops[0].number == 0) {
		ret = dw_reg(cx, a - DW_OP_breg0, &v->f.reg);
		v->f.base = TRACE_B_REG;
		return ret;
	}
	if (n == 1 && a == DW_OP_implicit_value && ops[0].number <= 8) {
		Dwarf_Block b;

		if (dwarf_getlocation_implicit_value(loc, &ops[0], &b) == 0) {
			c = 0;
			memcpy(&c, b.data, b.length); /* little-endian */
			imm_val(v, c);
			return 0;
		}
	}
	for (size_t i = 0; i < n; i++)
		if (ops[i].atom == DW_OP_piece || ops[i].atom == DW_OP_bit_piece)
			return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
				       "it is split into pieces (DW_OP_piece) here, which "
				       "fetch-args cannot put together");
	return dw_fail(cx, ENOTSUP, cx->arg->fetch.str,
		       "its location here (DW_OP 0x%x, %zu operations) is not a register, "
		       "register + offset, frame base + offset, static or constant", a, n);
}

/*
 * At a function's entry, the System V slot of parameter var: for the -O0
 * code whose parameters' single location is the stack slot the prologue is
 * about to fill. Only when every parameter before it is an integer or a
 * pointer (a struct by value moves the others in ways we do not follow).
 */
static int abi_param(struct dw_ctx *cx, Dwarf_Die *var, struct dw_val *v)
{
	Dwarf_Die *fn = &cx->scopes[cx->subprogram], child, type;
	int k = 0;

	Dwarf_Attribute a;

	/* A struct returned in memory takes %rdi for its address. */
	if (dwarf_formref_die(dwarf_attr_integrate(fn, DW_AT_type, &a), &type) &&
	    (dwarf_peel_type(&type, &type) || dw_is_aggregate(&type)))
		goto refuse;
	if (dwarf_child(fn, &child) != 0)
		goto refuse;
	do {
		enum trace_type t;
		bool is_char;

		if (dwarf_tag(&child) != DW_TAG_formal_parameter)
			continue;
		if (!dwarf_formref_die(dwarf_attr_integrate(&child, DW_AT_type, &a), &type) ||
		    dwarf_peel_type(&type, &type))
			goto refuse;
		/* An integer or a pointer takes the next integer register. */
		if (dwarf_tag(&type) != DW_TAG_pointer_type && !dw_int_type(&type, &t, &is_char))
			goto refuse;
		if (child.addr == var->addr) {
			if (k < ARCH_ARG_REGS) {
				v->f.base = TRACE_B_REG;
				v->f.reg = arch_arg_regs[k];
				v->f.n_deref = 0;
				v->in_mem = false;
			} else {
				mem_at_reg(v, TRACE_R_SP, 8 * ARCH_STACK_ARG_SLOT(k + 1));
			}
			return 0;
		}
		k++;
	} while (dwarf_siblingof(&child, &child) == 0);
refuse:
	return dw_fail(cx, ENODATA, cx->arg->fetch.str,
		       "it is not stored yet at the function's entry (its location is valid "
		       "after the prologue only); probe an address after the prologue");
}

/*
 * True when pc is in the function's prologue as the line table tells it:
 * before the second row of the function (gcc -O0 starts the body there).
 */
static bool in_prologue(struct dw_ctx *cx)
{
	Dwarf_Addr low, high, body = 0;
	Dwarf_Lines *lines;
	size_t n;

	if (dwarf_lowpc(&cx->scopes[cx->subprogram], &low) ||
	    dwarf_highpc(&cx->scopes[cx->subprogram], &high) ||
	    dwarf_getsrclines(&cx->cu, &lines, &n))
		return cx->pc == low;
	for (size_t i = 0; i < n; i++) {
		Dwarf_Addr a;

		if (dwarf_lineaddr(dwarf_onesrcline(lines, i), &a) == 0 && a > low && a < high &&
		    (!body || a < body))
			body = a;
	}
	return cx->pc < (body ? body : low + 1);
}

int dw_locate(struct dw_ctx *cx, Dwarf_Die *var, const char *name, struct dw_val *v)
{
	Dwarf_Attribute loc;
	Dwarf_Op *ops;
	size_t n;
	int cnt, ret;

	memset(v, 0, sizeof(*v));
	if (dwarf_attr_integrate(var, DW_AT_const_value, &loc)) {
		Dwarf_Word c;

		if (dwarf_formudata(&loc, &c))
			return dw_fail(cx, ENOTSUP, name, "'%s' is a constant we cannot read", name);
		imm_val(v, c);
		return 0;
	}
	if (!dwarf_attr(var, DW_AT_location, &loc))
		return dw_fail(cx, ENODATA, name, "'%s' is optimized out (it has no location)",
			       name);
	cnt = dwarf_getlocation_addr(&loc, cx->pc, &ops, &n, 1);
	if (cnt <= 0 || !n)
		return dw_fail(cx, ENODATA, name, "'%s' is optimized out at this address", name);
	ret = eval_expr(cx, &loc, ops, n, v);
	if (ret || !v->in_mem || v->f.base != TRACE_B_REG)
		return ret;
	/*
	 * A single location for the whole function, in memory, is where -O0 code
	 * keeps the variable once its prologue stored it there.
	 */
	if (dwarf_whatform(&loc) == DW_FORM_exprloc && in_prologue(cx)) {
		if (dwarf_tag(var) == DW_TAG_formal_parameter && dw_at_entry(cx))
			return abi_param(cx, var, v);
		return dw_fail(cx, ENODATA, name, "'%s' is not stored yet in the prologue; "
			       "probe after it", name);
	}
	return 0;
}
