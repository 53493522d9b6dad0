/* SPDX-License-Identifier: MIT */
/* Emitters for general-purpose integer instructions: alu, shift, mulbit, mov. */
#include <Zydis/Zydis.h>
#include "gen_int.h"

uint64_t gen_sbx_addr;

static const ZydisMnemonic binops[] = {
	ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB,
	ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_OR,	ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP,
};
static const ZydisMnemonic unops[] = {
	ZYDIS_MNEMONIC_INC,
	ZYDIS_MNEMONIC_DEC,
	ZYDIS_MNEMONIC_NEG,
	ZYDIS_MNEMONIC_NOT,
};
static const ZydisMnemonic cmovs[] = {
	ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB,  ZYDIS_MNEMONIC_CMOVNB,
	ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
	ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP,  ZYDIS_MNEMONIC_CMOVNP,
	ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE,
};
static const ZydisMnemonic setccs[] = {
	ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB,	 ZYDIS_MNEMONIC_SETNB,
	ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
	ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP,	 ZYDIS_MNEMONIC_SETNP,
	ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE,
};

#define PICK(g, arr) ((arr)[rnd((g), sizeof(arr) / sizeof((arr)[0]))])

static bool writes(ZydisMnemonic m)
{
	return m != ZYDIS_MNEMONIC_CMP && m != ZYDIS_MNEMONIC_TEST && m != ZYDIS_MNEMONIC_BT;
}

/* A register (most of the time) or a memory operand of width bytes. */
static void add_rm(struct gen *g, ZydisEncoderRequest *r, int width, bool dst, bool store)
{
	if (chance(g, 65))
		add_reg(r, dst ? dst_reg(g, width) : src_reg(g, width));
	else
		add_mem(r, pick_mem(g, width, 1, store));
}

/* ---- alu ------------------------------------------------------------------- */

static void alu_rr(struct gen *g)
{
	int w = rand_width(g);
	ZydisMnemonic m = chance(g, 12) ? ZYDIS_MNEMONIC_TEST : PICK(g, binops);
	ZydisRegister d = writes(m) ? dst_reg(g, w) : src_reg(g, w);

	e_rr(g, m, d, chance(g, 10) ? d : src_reg(g, w));
}

static void alu_ri(struct gen *g)
{
	int w = rand_width(g);
	ZydisMnemonic m = chance(g, 12) ? ZYDIS_MNEMONIC_TEST : PICK(g, binops);

	e_ri(g, m, writes(m) ? dst_reg(g, w) : src_reg(g, w), rand_imm(g, w));
}

static void alu_rm(struct gen *g)
{
	int w = rand_width(g);
	ZydisMnemonic m = PICK(g, binops);
	ZydisEncoderRequest r = rq(m);

	add_reg(&r, writes(m) ? dst_reg(g, w) : src_reg(g, w));
	add_mem(&r, pick_mem(g, w, 1, false));
	emit(g, &r);
}

static void alu_mr(struct gen *g)
{
	int w = rand_width(g);
	ZydisMnemonic m = chance(g, 12) ? ZYDIS_MNEMONIC_TEST : PICK(g, binops);
	ZydisEncoderRequest r = rq(m);

	add_mem(&r, pick_mem(g, w, 1, writes(m)));
	add_reg(&r, src_reg(g, w));
	emit(g, &r);
}

static void alu_mi(struct gen *g)
{
	int w = rand_width(g);
	ZydisMnemonic m = chance(g, 12) ? ZYDIS_MNEMONIC_TEST : PICK(g, binops);
	ZydisEncoderRequest r = rq(m);

	add_mem(&r, pick_mem(g, w, 1, writes(m)));
	add_imm(&r, rand_imm(g, w));
	emit(g, &r);
}

static void alu_unary(struct gen *g)
{
	ZydisEncoderRequest r = rq(PICK(g, unops));

	add_rm(g, &r, rand_width(g), true, true);
	emit(g, &r);
}

static void alu_zero(struct gen *g)
{
	int d = pick_dst(g), w = chance(g, 70) ? 4 : 8;

	e_rr(g, chance(g, 70) ? ZYDIS_MNEMONIC_XOR : ZYDIS_MNEMONIC_SUB, gpr(d, w), gpr(d, w));
}

static void alu_cf(struct gen *g)
{
	static const ZydisMnemonic m[] = {ZYDIS_MNEMONIC_STC, ZYDIS_MNEMONIC_CLC,
					  ZYDIS_MNEMONIC_CMC};

	e0(g, PICK(g, m));
}

/* ---- shift ------------------------------------------------------------------ */

static void add_count(struct gen *g, ZydisEncoderRequest *r, int w)
{
	switch (rnd(g, 4)) {
	case 0:
		add_imm(r, 1);
		break;
	case 1:
		add_reg(r, ZYDIS_REGISTER_CL);
		break;
	case 2:
		add_imm(r, (int64_t)rnd(g, 256)); /* the CPU masks it */
		break;
	default:
		add_imm(r, (int64_t)rnd(g, (uint32_t)w * 8 + 2));
	}
}

static void shift(struct gen *g)
{
	static const ZydisMnemonic m[] = {
		ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_SHR, ZYDIS_MNEMONIC_SAR, ZYDIS_MNEMONIC_ROL,
		ZYDIS_MNEMONIC_ROR, ZYDIS_MNEMONIC_RCL, ZYDIS_MNEMONIC_RCR,
	};
	int w = rand_width(g);
	ZydisEncoderRequest r = rq(PICK(g, m));

	add_rm(g, &r, w, true, true);
	add_count(g, &r, w);
	emit(g, &r);
}

static void shift_double(struct gen *g)
{
	int w = rand_width_nobyte(g);
	ZydisEncoderRequest r = rq(chance(g, 50) ? ZYDIS_MNEMONIC_SHLD : ZYDIS_MNEMONIC_SHRD);

	add_rm(g, &r, w, true, true);
	add_reg(&r, src_reg(g, w));
	if (chance(g, 50))
		add_reg(&r, ZYDIS_REGISTER_CL);
	else
		add_imm(&r, (int64_t)rnd(g, 64));
	emit(g, &r);
}

/* ---- mulbit ------------------------------------------------------------------ */

static void imul2(struct gen *g)
{
	int w = rand_width_nobyte(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_IMUL);

	add_reg(&r, dst_reg(g, w));
	add_rm(g, &r, w, false, false);
	emit(g, &r);
}

static void imul3(struct gen *g)
{
	int w = rand_width_nobyte(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_IMUL);

	add_reg(&r, dst_reg(g, w));
	add_rm(g, &r, w, false, false);
	add_imm(&r, rand_imm(g, chance(g, 50) ? 1 : (w == 2 ? 2 : 4)));
	emit(g, &r);
}

static void mul1(struct gen *g)
{
	ZydisEncoderRequest r = rq(chance(g, 50) ? ZYDIS_MNEMONIC_MUL : ZYDIS_MNEMONIC_IMUL);

	add_rm(g, &r, rand_width(g), false, false);
	emit(g, &r);
}

/* A divisor other than rax/rdx that may be written. */
static int divisor(struct gen *g)
{
	int x;

	g->forbid |= 1u << RAX | 1u << RDX;
	x = pick_dst(g);
	g->forbid &= ~(1u << RAX | 1u << RDX);
	return x;
}

/*
 * div never faults here: the high half of the dividend is zero and the divisor
 * is odd, so the quotient is at most the low half and fits.
 */
static void div_safe(struct gen *g)
{
	int w = rand_width(g), x = divisor(g);

	if (w == 1)
		e_rr(g, ZYDIS_MNEMONIC_MOVZX, ZYDIS_REGISTER_EAX, ZYDIS_REGISTER_AL);
	else
		e_rr(g, ZYDIS_MNEMONIC_XOR, ZYDIS_REGISTER_EDX, ZYDIS_REGISTER_EDX);
	e_ri(g, ZYDIS_MNEMONIC_OR, gpr(x, 4), 1);
	e_r(g, ZYDIS_MNEMONIC_DIV, gpr(x, w));
}

/* idiv: the dividend is sign-extended and the divisor in [2, 0x7fff]: no overflow. */
static void idiv_safe(struct gen *g)
{
	static const ZydisMnemonic ext[] = {ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWD,
					    ZYDIS_MNEMONIC_CDQ, ZYDIS_MNEMONIC_CQO};
	int w = rand_width(g), x = divisor(g);

	e0(g, ext[w == 1 ? 0 : w == 2 ? 1 : w == 4 ? 2 : 3]);
	e_ri(g, ZYDIS_MNEMONIC_AND, gpr(x, 4), w == 1 ? 0x7f : 0x7fff);
	e_ri(g, ZYDIS_MNEMONIC_OR, gpr(x, 4), 2);
	e_r(g, ZYDIS_MNEMONIC_IDIV, gpr(x, w));
}

static const ZydisMnemonic btops[] = {
	ZYDIS_MNEMONIC_BT,
	ZYDIS_MNEMONIC_BTS,
	ZYDIS_MNEMONIC_BTR,
	ZYDIS_MNEMONIC_BTC,
};

static void bt_reg(struct gen *g)
{
	int w = rand_width_nobyte(g);
	ZydisMnemonic m = PICK(g, btops);
	ZydisRegister d = writes(m) ? dst_reg(g, w) : src_reg(g, w);

	if (chance(g, 50))
		e_rr(g, m, d, src_reg(g, w));
	else
		e_ri(g, m, d, (int64_t)rnd(g, 256));
}

/* bt m, r addresses up to offset/8 bytes away: keep the offset below 32. */
static void bt_mem(struct gen *g)
{
	int w = rand_width_nobyte(g), x = pick_dst(g);
	ZydisMnemonic m = PICK(g, btops);
	ZydisEncoderRequest r = rq(m);

	g->avoid |= 1u << x;
	add_mem(&r, pick_mem(g, w < 8 ? 8 : w, 1, writes(m)));
	r.operands[0].mem.size = (ZyanU16)w; /* the bytes past it stay inside too */
	if (chance(g, 50)) {
		add_imm(&r, (int64_t)rnd(g, 256));
	} else {
		e_ri(g, ZYDIS_MNEMONIC_AND, gpr(x, 4), 31);
		add_reg(&r, gpr(x, w));
	}
	emit(g, &r);
}

static void bitscan_m(struct gen *g, ZydisMnemonic m)
{
	int w = rand_width_nobyte(g);
	ZydisEncoderRequest r = rq(m);

	add_reg(&r, dst_reg(g, w));
	add_rm(g, &r, w, false, false);
	emit(g, &r);
}

static void bsf_bsr(struct gen *g)
{
	bitscan_m(g, chance(g, 50) ? ZYDIS_MNEMONIC_BSF : ZYDIS_MNEMONIC_BSR);
}

static void popcnt(struct gen *g)
{
	bitscan_m(g, ZYDIS_MNEMONIC_POPCNT);
}

static void lzcnt(struct gen *g)
{
	bitscan_m(g, ZYDIS_MNEMONIC_LZCNT);
}

static void tzcnt(struct gen *g)
{
	bitscan_m(g, ZYDIS_MNEMONIC_TZCNT);
}

/* VEX-encoded GPR instructions: dst, src1, r/m (and a trailing reg or imm). */
static void vex_gpr(struct gen *g, ZydisMnemonic m, int shape)
{
	int w = chance(g, 50) ? 4 : 8;
	ZydisEncoderRequest r = rq(m);

	add_reg(&r, gpr(pick_dst(g), w));
	if (shape == 0) { /* dst, reg, r/m; mulx writes both registers */
		add_reg(&r, gpr(m == ZYDIS_MNEMONIC_MULX ? pick_dst(g) : pick_src(g), w));
		add_rm(g, &r, w, false, false);
	} else if (shape == 1) { /* dst, r/m, reg */
		add_rm(g, &r, w, false, false);
		add_reg(&r, gpr(pick_src(g), w));
	} else if (shape == 2) { /* dst, r/m */
		add_rm(g, &r, w, false, false);
	} else { /* dst, r/m, imm */
		add_rm(g, &r, w, false, false);
		add_imm(&r, (int64_t)rnd(g, 64));
	}
	emit(g, &r);
}

static void bmi1(struct gen *g)
{
	switch (rnd(g, 5)) {
	case 0:
		vex_gpr(g, ZYDIS_MNEMONIC_ANDN, 0);
		break;
	case 1:
		vex_gpr(g, ZYDIS_MNEMONIC_BEXTR, 1);
		break;
	case 2:
		vex_gpr(g, ZYDIS_MNEMONIC_BLSI, 2);
		break;
	case 3:
		vex_gpr(g, ZYDIS_MNEMONIC_BLSMSK, 2);
		break;
	default:
		vex_gpr(g, ZYDIS_MNEMONIC_BLSR, 2);
	}
}

static void bmi2(struct gen *g)
{
	static const ZydisMnemonic sh[] = {ZYDIS_MNEMONIC_SARX, ZYDIS_MNEMONIC_SHLX,
					   ZYDIS_MNEMONIC_SHRX, ZYDIS_MNEMONIC_BZHI};
	static const ZydisMnemonic d3[] = {ZYDIS_MNEMONIC_PDEP, ZYDIS_MNEMONIC_PEXT,
					   ZYDIS_MNEMONIC_MULX};

	switch (rnd(g, 3)) {
	case 0:
		vex_gpr(g, PICK(g, sh), 1);
		break;
	case 1:
		vex_gpr(g, PICK(g, d3), 0);
		break;
	default:
		vex_gpr(g, ZYDIS_MNEMONIC_RORX, 3);
	}
}

static void adx(struct gen *g)
{
	int w = chance(g, 50) ? 4 : 8;
	ZydisEncoderRequest r = rq(chance(g, 50) ? ZYDIS_MNEMONIC_ADCX : ZYDIS_MNEMONIC_ADOX);

	add_reg(&r, gpr(pick_dst(g), w));
	add_rm(g, &r, w, false, false);
	emit(g, &r);
}

static void crc32(struct gen *g)
{
	int dw = chance(g, 50) ? 4 : 8, sw = dw == 8 ? (chance(g, 50) ? 1 : 8) : rand_width(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_CRC32);

	if (sw == 8 && dw == 4)
		sw = 4;
	add_reg(&r, gpr(pick_dst(g), dw));
	add_rm(g, &r, sw, false, false);
	emit(g, &r);
}

static void movbe(struct gen *g)
{
	int w = rand_width_nobyte(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOVBE);

	if (chance(g, 50)) {
		add_reg(&r, gpr(pick_dst(g), w));
		add_mem(&r, pick_mem(g, w, 1, false));
	} else {
		add_mem(&r, pick_mem(g, w, 1, true));
		add_reg(&r, gpr(pick_src(g), w));
	}
	emit(g, &r);
}

static void xadd_cmpxchg_rr(struct gen *g)
{
	int w = rand_width(g);

	e_rr(g, chance(g, 50) ? ZYDIS_MNEMONIC_XADD : ZYDIS_MNEMONIC_CMPXCHG, dst_reg(g, w),
	     dst_reg(g, w));
}

/* ---- mov ---------------------------------------------------------------------- */

static void mov_rr(struct gen *g)
{
	int w = rand_width(g);

	e_rr(g, ZYDIS_MNEMONIC_MOV, dst_reg(g, w), src_reg(g, w));
}

static void mov_ri(struct gen *g)
{
	int w = rand_width(g);
	ZydisRegister d = dst_reg(g, w);

	if (w == 8 && chance(g, 50))
		e_ri(g, ZYDIS_MNEMONIC_MOV, d, (int64_t)rand_value(g)); /* movabs */
	else
		e_ri(g, ZYDIS_MNEMONIC_MOV, d, rand_imm(g, w));
}

static void mov_rm(struct gen *g)
{
	int w = rand_width(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);

	add_reg(&r, dst_reg(g, w));
	add_mem(&r, pick_mem(g, w, 1, false));
	emit(g, &r);
}

static void mov_mr(struct gen *g)
{
	int w = rand_width(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);

	add_mem(&r, pick_mem(g, w, 1, true));
	add_reg(&r, src_reg(g, w));
	emit(g, &r);
}

static void mov_mi(struct gen *g)
{
	int w = rand_width(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);

	add_mem(&r, pick_mem(g, w, 1, true));
	add_imm(&r, rand_imm(g, w));
	emit(g, &r);
}

static void movx(struct gen *g)
{
	int sw = chance(g, 60) ? 1 : 2,
	    dw = sw == 1 ? rand_width_nobyte(g) : (chance(g, 50) ? 4 : 8);
	ZydisEncoderRequest r = rq(chance(g, 50) ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOVSX);

	if (chance(g, 15)) {
		r = rq(ZYDIS_MNEMONIC_MOVSXD);
		sw = 4;
		dw = 8;
	}
	add_reg(&r, dst_reg(g, dw));
	add_rm(g, &r, sw, false, false);
	emit(g, &r);
}

/* lea computes without touching memory: any base, index, scale, displacement. */
static void lea(struct gen *g)
{
	int aw = chance(g, 20) ? 4 : 8, dw = rand_width_nobyte(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_LEA);
	ZydisEncoderOperand m = mem_abs(0, ZYDIS_REGISTER_NONE, aw);

	if (chance(g, 85))
		m.mem.base = gpr(chance(g, 10) ? RSP : pick_src(g), aw);
	if (chance(g, 50) || m.mem.base == ZYDIS_REGISTER_NONE) {
		m.mem.index = gpr(pick_src(g), aw);
		m.mem.scale = (ZyanU8)(1 << rnd(g, 4));
	}
	m.mem.displacement = chance(g, 30) ? 0 : rand_imm(g, chance(g, 50) ? 1 : 4);
	add_reg(&r, dst_reg(g, dw));
	add_mem(&r, m);
	emit(g, &r);
}

static void cmov(struct gen *g)
{
	int w = rand_width_nobyte(g);
	ZydisEncoderRequest r = rq(PICK(g, cmovs));

	add_reg(&r, dst_reg(g, w));
	add_rm(g, &r, w, false, false);
	emit(g, &r);
}

static void setcc(struct gen *g)
{
	ZydisEncoderRequest r = rq(PICK(g, setccs));

	add_rm(g, &r, 1, true, true);
	emit(g, &r);
}

static void xchg_rr(struct gen *g)
{
	int w = rand_width(g);

	e_rr(g, ZYDIS_MNEMONIC_XCHG, dst_reg(g, w), dst_reg(g, w));
}

static void bswap(struct gen *g)
{
	e_r(g, ZYDIS_MNEMONIC_BSWAP, gpr(pick_dst(g), chance(g, 50) ? 4 : 8));
}

static void convert(struct gen *g)
{
	static const ZydisMnemonic m[] = {
		ZYDIS_MNEMONIC_CBW, ZYDIS_MNEMONIC_CWDE, ZYDIS_MNEMONIC_CDQE,
		ZYDIS_MNEMONIC_CWD, ZYDIS_MNEMONIC_CDQ,	 ZYDIS_MNEMONIC_CQO,
	};

	e0(g, PICK(g, m));
}

/* fs:[0] is the thread pointer, fs:[0x28] the stack protector canary. */
static void fs_load(struct gen *g)
{
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);
	int w = chance(g, 50) ? 8 : 4;

	r.prefixes = ZYDIS_ATTRIB_HAS_SEGMENT_FS;
	add_reg(&r, gpr(pick_dst(g), w));
	add_mem(&r, mem_abs(chance(g, 50) ? 0 : 0x28, ZYDIS_REGISTER_NONE, w));
	emit(g, &r);
}

/* mov al/ax/eax/rax, [abs64] and back: the moffs forms with a 64-bit address. */
static void moffs(struct gen *g)
{
	int w = rand_width(g), store = chance(g, 50);
	int off = (store ? PTR_RESERVED : 0) + (int)rnd(g, 1024);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);
	ZydisEncoderOperand m = mem_abs(0, ZYDIS_REGISTER_NONE, w);

	m.mem.displacement = (ZyanI64)(gen_sbx_addr + (uint64_t)off);
	if (store) {
		add_mem(&r, m);
		add_reg(&r, gpr(RAX, w));
	} else {
		add_reg(&r, gpr(RAX, w));
		add_mem(&r, m);
	}
	emit(g, &r);
}

static void nop(struct gen *g)
{
	uint8_t b[16];
	int len = 1 + (int)rnd(g, 9);

	if (!ZYAN_SUCCESS(ZydisEncoderNopFill(b, (ZyanUSize)len))) {
		g->failed = true;
		return;
	}
	emit_raw(g, b, len);
}

static void fence(struct gen *g)
{
	static const ZydisMnemonic m[] = {ZYDIS_MNEMONIC_LFENCE, ZYDIS_MNEMONIC_SFENCE,
					  ZYDIS_MNEMONIC_MFENCE, ZYDIS_MNEMONIC_PAUSE};

	e0(g, PICK(g, m));
}

const struct emitter emit_gpr[] = {
	{"alu r,r", FAM_ALU, 10, 0, FT_NONE, alu_rr},
	{"alu r,imm", FAM_ALU, 10, 0, FT_NONE, alu_ri},
	{"alu r,m", FAM_ALU, 6, 0, FT_NONE, alu_rm},
	{"alu m,r", FAM_ALU, 6, 0, FT_NONE, alu_mr},
	{"alu m,imm", FAM_ALU, 6, 0, FT_NONE, alu_mi},
	{"unary", FAM_ALU, 6, 0, FT_NONE, alu_unary},
	{"zero idiom", FAM_ALU, 2, 0, FT_NONE, alu_zero},
	{"stc/clc/cmc", FAM_ALU, 2, 0, FT_NONE, alu_cf},
	{"shift", FAM_SHIFT, 12, 0, FT_NONE, shift},
	{"shld/shrd", FAM_SHIFT, 5, 0, FT_NONE, shift_double},
	{"imul r,rm", FAM_MULBIT, 5, 0, FT_NONE, imul2},
	{"imul r,rm,imm", FAM_MULBIT, 5, 0, FT_NONE, imul3},
	{"mul/imul rm", FAM_MULBIT, 4, 0, FT_NONE, mul1},
	{"div", FAM_MULBIT, 3, 0, FT_NONE, div_safe},
	{"idiv", FAM_MULBIT, 3, 0, FT_NONE, idiv_safe},
	{"bt r", FAM_MULBIT, 5, 0, FT_NONE, bt_reg},
	{"bt m", FAM_MULBIT, 4, 0, FT_NONE, bt_mem},
	{"bsf/bsr", FAM_MULBIT, 4, 0, FT_NONE, bsf_bsr},
	{"popcnt", FAM_MULBIT, 3, 0, FT_POPCNT, popcnt},
	{"lzcnt", FAM_MULBIT, 2, 0, FT_LZCNT, lzcnt},
	{"tzcnt", FAM_MULBIT, 2, 0, FT_BMI1, tzcnt},
	{"bmi1", FAM_MULBIT, 3, 0, FT_BMI1, bmi1},
	{"bmi2", FAM_MULBIT, 3, 0, FT_BMI2, bmi2},
	{"adcx/adox", FAM_MULBIT, 2, 0, FT_ADX, adx},
	{"crc32", FAM_MULBIT, 2, 0, FT_SSE42, crc32},
	{"movbe", FAM_MULBIT, 2, 0, FT_MOVBE, movbe},
	{"xadd/cmpxchg r", FAM_MULBIT, 3, 0, FT_NONE, xadd_cmpxchg_rr},
	{"mov r,r", FAM_MOV, 8, 0, FT_NONE, mov_rr},
	{"mov r,imm", FAM_MOV, 6, 0, FT_NONE, mov_ri},
	{"mov r,m", FAM_MOV, 6, 0, FT_NONE, mov_rm},
	{"mov m,r", FAM_MOV, 6, 0, FT_NONE, mov_mr},
	{"mov m,imm", FAM_MOV, 4, 0, FT_NONE, mov_mi},
	{"movzx/movsx", FAM_MOV, 6, 0, FT_NONE, movx},
	{"lea", FAM_MOV, 6, 0, FT_NONE, lea},
	{"cmov", FAM_MOV, 6, 0, FT_NONE, cmov},
	{"setcc", FAM_MOV, 4, 0, FT_NONE, setcc},
	{"xchg r,r", FAM_MOV, 3, 0, FT_NONE, xchg_rr},
	{"bswap", FAM_MOV, 2, 0, FT_NONE, bswap},
	{"cbw..cqo", FAM_MOV, 2, 0, FT_NONE, convert},
	{"fs: load", FAM_MOV, 1, 0, FT_NONE, fs_load},
	{"moffs", FAM_MOV, 2, 0, FT_NONE, moffs},
	{"nop", FAM_MOV, 2, 0, FT_NONE, nop},
	{"fence/pause", FAM_MOV, 1, 0, FT_NONE, fence},
};
const int n_emit_gpr = sizeof(emit_gpr) / sizeof(emit_gpr[0]);
