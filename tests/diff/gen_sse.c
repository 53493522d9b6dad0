/* SPDX-License-Identifier: MIT */
/*
 * SSE, VEX (128 and 256) and EVEX.128 emitters, table-driven. ymm0..15 (xmm0..15
 * without AVX) and MXCSR are loaded before and stored after every run, so every
 * result is compared; stores also land in the sandbox. Legacy 16-byte memory
 * operands are aligned unless the instruction is an unaligned one (movdqu,
 * lddqu, VEX). EVEX forms only use xmm0..15 and k0: other AVX-512 state is
 * neither loaded nor compared.
 */
#include <stdio.h>
#include <Zydis/Zydis.h>
#include "gen_int.h"

enum sform {
	F_XX,	 /* xmm, xmm/m */
	F_XXI,	 /* xmm, xmm/m, imm8 */
	F_VXXX,	 /* xmm, xmm, xmm/m */
	F_VXXXI, /* xmm, xmm, xmm/m, imm8 */
	F_VXI,	 /* xmm, xmm, imm8 (VEX shifts) */
	F_VXG,	 /* xmm, xmm, r/m */
	F_VXGI,	 /* xmm, xmm, r/m, imm8 */
	F_XI,	 /* xmm, imm8 */
	F_XG,	 /* xmm, r/m */
	F_XGI,	 /* xmm, r/m, imm8 */
	F_GX,	 /* r, xmm (or m when msize) */
	F_GXI,	 /* r/m, xmm, imm8 */
	F_MX,	 /* m, xmm */
	F_XM,	 /* xmm, m */
	F_M,	 /* m */
	F_MG,	 /* m, r */
	F_0,	 /* no operand */
};

#define U 1u /* no alignment requirement */
#define Y 2u /* ymm registers, 32-byte memory */
#define E 4u /* EVEX: {k0} after the destination */
#define B 8u /* EVEX: memory form is a dword broadcast {1to4} */

struct sse_op {
	ZydisMnemonic m;
	uint8_t form, msize, gw, flags, feat;
};

/* clang-format off */
#define OP(mn, f, ms, gw, fl, ft) {ZYDIS_MNEMONIC_##mn, f, ms, gw, fl, ft}
#define XX(mn) OP(mn, F_XX, 16, 0, 0, FT_NONE)
#define XXF(mn, ft) OP(mn, F_XX, 16, 0, 0, ft)
#define XS(mn, ms) OP(mn, F_XX, ms, 0, 0, FT_NONE)
#define XXI(mn, ft) OP(mn, F_XXI, 16, 0, 0, ft)
#define XI(mn) OP(mn, F_XI, 0, 0, 0, FT_NONE)
#define VX(mn, ft) OP(mn, F_VXXX, 16, 0, U, ft)

static const struct sse_op sse_ops[] = {
	OP(MOVAPS, F_XX, 16, 0, 0, FT_NONE), OP(MOVUPS, F_XX, 16, 0, U, FT_NONE),
	OP(MOVAPD, F_XX, 16, 0, 0, FT_NONE), OP(MOVUPD, F_XX, 16, 0, U, FT_NONE),
	OP(MOVDQA, F_XX, 16, 0, 0, FT_NONE), OP(MOVDQU, F_XX, 16, 0, U, FT_NONE),
	XX(PADDB), XX(PADDW), XX(PADDD), XX(PADDQ), XX(PSUBB), XX(PSUBW), XX(PSUBD), XX(PSUBQ),
	XX(PADDUSB), XX(PADDSW), XX(PMULLW), XX(PMULHW), XX(PMULUDQ), XX(PMADDWD), XX(PAND),
	XX(PANDN), XX(POR), XX(PXOR), XX(PCMPEQB), XX(PCMPEQW), XX(PCMPEQD), XX(PCMPGTB),
	XX(PCMPGTW), XX(PCMPGTD), XX(PUNPCKLBW), XX(PUNPCKHWD), XX(PUNPCKLDQ), XX(PUNPCKHQDQ),
	XX(PACKSSWB), XX(PACKUSWB), XX(PSADBW), XX(PAVGB), XX(PMAXUB), XX(PMINSW), XX(PSLLW),
	XX(PSRAD), XX(ADDPS), XX(SUBPS), XX(MULPS), XX(DIVPS), XX(MINPS), XX(MAXPS), XX(SQRTPS),
	XX(RCPPS), XX(ANDPS), XX(ORPS), XX(XORPS), XX(UNPCKLPS), XX(ADDPD), XX(MULPD), XX(SUBPD),
	XX(SQRTPD), XX(CVTDQ2PS), XX(CVTTPS2DQ), XX(CVTPD2PS), XS(CVTPS2PD, 8), XS(ADDSS, 4),
	XS(MULSD, 8), XS(SUBSS, 4), XS(DIVSD, 8), XS(MINSS, 4), XS(MAXSD, 8), XS(SQRTSS, 4),
	XS(CVTSS2SD, 4), XS(CVTSD2SS, 8), XS(MOVSS, 4), XS(MOVSD, 8), XS(MOVQ, 8),
	XS(UCOMISS, 4), XS(COMISD, 8),
	OP(MOVDDUP, F_XX, 8, 0, 0, FT_SSE3), XXF(MOVSHDUP, FT_SSE3), XXF(HADDPS, FT_SSE3),
	XXF(ADDSUBPS, FT_SSE3), OP(LDDQU, F_XM, 16, 0, U, FT_SSE3),
	XXF(PSHUFB, FT_SSSE3), XXF(PABSB, FT_SSSE3), XXF(PHADDW, FT_SSSE3),
	XXF(PMADDUBSW, FT_SSSE3), XXF(PMULHRSW, FT_SSSE3),
	XXF(PMINSD, FT_SSE41), XXF(PMAXUD, FT_SSE41), XXF(PMULLD, FT_SSE41),
	XXF(PMULDQ, FT_SSE41), XXF(PTEST, FT_SSE41), OP(PMOVZXBW, F_XX, 8, 0, 0, FT_SSE41),
	OP(PMOVSXWD, F_XX, 8, 0, 0, FT_SSE41), XXF(PACKUSDW, FT_SSE41), XXF(PCMPEQQ, FT_SSE41),
	XXF(PCMPGTQ, FT_SSE42),
	XXI(PSHUFD, FT_NONE), XXI(PSHUFLW, FT_NONE), XXI(PSHUFHW, FT_NONE), XXI(SHUFPS, FT_NONE),
	XXI(SHUFPD, FT_NONE), XXI(CMPPS, FT_NONE), OP(CMPSD, F_XXI, 8, 0, 0, FT_NONE),
	XXI(PALIGNR, FT_SSSE3), XXI(PBLENDW, FT_SSE41), XXI(ROUNDPS, FT_SSE41),
	XXI(DPPS, FT_SSE41), OP(INSERTPS, F_XXI, 4, 0, 0, FT_SSE41), XXI(MPSADBW, FT_SSE41),
	XXI(BLENDPS, FT_SSE41),
	XI(PSLLW), XI(PSRLW), XI(PSRAW), XI(PSLLD), XI(PSRLD), XI(PSRAD), XI(PSLLQ), XI(PSRLQ),
	XI(PSLLDQ), XI(PSRLDQ),
	OP(MOVD, F_XG, 4, 4, 0, FT_NONE), OP(MOVQ, F_XG, 8, 8, 0, FT_NONE),
	OP(CVTSI2SD, F_XG, 0, 0, 0, FT_NONE), OP(CVTSI2SS, F_XG, 0, 0, 0, FT_NONE),
	OP(PINSRW, F_XGI, 2, 4, 0, FT_NONE), OP(PINSRB, F_XGI, 1, 4, 0, FT_SSE41),
	OP(PINSRD, F_XGI, 4, 4, 0, FT_SSE41), OP(PINSRQ, F_XGI, 8, 8, 0, FT_SSE41),
	OP(MOVD, F_GX, 0, 4, 0, FT_NONE), OP(MOVQ, F_GX, 0, 8, 0, FT_NONE),
	OP(PMOVMSKB, F_GX, 0, 4, 0, FT_NONE), OP(MOVMSKPS, F_GX, 0, 4, 0, FT_NONE),
	OP(CVTTSD2SI, F_GX, 8, 0, 0, FT_NONE), OP(CVTSS2SI, F_GX, 4, 0, 0, FT_NONE),
	OP(CVTTSS2SI, F_GX, 4, 0, 0, FT_NONE),
	OP(PEXTRW, F_GXI, 2, 4, 0, FT_SSE41), OP(PEXTRB, F_GXI, 1, 4, 0, FT_SSE41),
	OP(PEXTRD, F_GXI, 4, 4, 0, FT_SSE41), OP(PEXTRQ, F_GXI, 8, 8, 0, FT_SSE41),
	OP(EXTRACTPS, F_GXI, 4, 4, 0, FT_SSE41),
	OP(MOVAPS, F_MX, 16, 0, 0, FT_NONE), OP(MOVDQA, F_MX, 16, 0, 0, FT_NONE),
	OP(MOVUPS, F_MX, 16, 0, U, FT_NONE), OP(MOVDQU, F_MX, 16, 0, U, FT_NONE),
	OP(MOVD, F_MX, 4, 0, 0, FT_NONE), OP(MOVQ, F_MX, 8, 0, 0, FT_NONE),
	OP(MOVSS, F_MX, 4, 0, 0, FT_NONE), OP(MOVSD, F_MX, 8, 0, 0, FT_NONE),
	OP(MOVLPS, F_MX, 8, 0, 0, FT_NONE), OP(MOVHPS, F_MX, 8, 0, 0, FT_NONE),
	OP(MOVLPD, F_MX, 8, 0, 0, FT_NONE), OP(MOVHPD, F_MX, 8, 0, 0, FT_NONE),
	OP(MOVNTDQ, F_MX, 16, 0, 0, FT_NONE), OP(MOVNTPS, F_MX, 16, 0, 0, FT_NONE),
	OP(MOVLPS, F_XM, 8, 0, 0, FT_NONE), OP(MOVHPS, F_XM, 8, 0, 0, FT_NONE),
	OP(MOVLPD, F_XM, 8, 0, 0, FT_NONE), OP(MOVHPD, F_XM, 8, 0, 0, FT_NONE),
	OP(STMXCSR, F_M, 4, 0, 0, FT_NONE), OP(MOVNTI, F_MG, 0, 0, 0, FT_NONE),
	VX(VPADDD, FT_AVX), VX(VPXOR, FT_AVX), VX(VPSHUFB, FT_AVX), VX(VADDPS, FT_AVX),
	VX(VMULPD, FT_AVX), VX(VPMINSD, FT_AVX), VX(VPCMPEQB, FT_AVX), VX(VANDNPS, FT_AVX),
	VX(VUNPCKHPD, FT_AVX), OP(VPERMILPS, F_XXI, 16, 0, U, FT_AVX),
	OP(VPBLENDD, F_VXXXI, 16, 0, U, FT_AVX2), OP(VSHUFPS, F_VXXXI, 16, 0, U, FT_AVX),
	OP(VMOVDQU, F_XX, 16, 0, U, FT_AVX), OP(VMOVDQA, F_XX, 16, 0, 0, FT_AVX),
	OP(VMOVDQU, F_MX, 16, 0, U, FT_AVX), OP(VMOVUPS, F_MX, 16, 0, U, FT_AVX),
	OP(VBROADCASTSS, F_XM, 4, 0, 0, FT_AVX), OP(VPBROADCASTB, F_XX, 1, 0, 0, FT_AVX2),
	OP(VPTEST, F_XX, 16, 0, U, FT_AVX), OP(VPINSRD, F_VXGI, 4, 4, 0, FT_AVX),
	OP(VPEXTRQ, F_GXI, 8, 8, 0, FT_AVX), OP(VMOVD, F_XG, 4, 4, 0, FT_AVX),
	OP(VCVTSI2SD, F_VXG, 0, 0, 0, FT_AVX), OP(VPSLLD, F_VXI, 0, 0, 0, FT_AVX),
	OP(VPSRLDQ, F_VXI, 0, 0, 0, FT_AVX), OP(VPSRAW, F_VXXX, 16, 0, U, FT_AVX),
	OP(VPADDD, F_VXXX, 32, 0, U | Y, FT_AVX2), OP(VPXOR, F_VXXX, 32, 0, U | Y, FT_AVX2),
	OP(VADDPS, F_VXXX, 32, 0, U | Y, FT_AVX), OP(VMULPD, F_VXXX, 32, 0, U | Y, FT_AVX),
	OP(VPSHUFB, F_VXXX, 32, 0, U | Y, FT_AVX2), OP(VMOVDQU, F_XX, 32, 0, U | Y, FT_AVX),
	OP(VMOVDQA, F_XX, 32, 0, Y, FT_AVX), OP(VMOVDQU, F_MX, 32, 0, U | Y, FT_AVX),
	OP(VMOVAPS, F_MX, 32, 0, Y, FT_AVX), OP(VPERMQ, F_XXI, 32, 0, U | Y, FT_AVX2),
	OP(VBROADCASTSD, F_XM, 8, 0, Y, FT_AVX), OP(VPTEST, F_XX, 32, 0, U | Y, FT_AVX),
	OP(VPSLLQ, F_VXI, 0, 0, Y, FT_AVX2), OP(VZEROUPPER, F_0, 0, 0, 0, FT_AVX),
	OP(VPTERNLOGD, F_VXXXI, 16, 0, U | E, FT_AVX512),
	OP(VPROLD, F_XXI, 16, 0, U | E, FT_AVX512),
	OP(VPRORQ, F_XXI, 16, 0, U | E, FT_AVX512), OP(VPSRAQ, F_XXI, 16, 0, U | E, FT_AVX512),
	OP(VPMAXSQ, F_VXXX, 16, 0, U | E, FT_AVX512), OP(VPMINUQ, F_VXXX, 16, 0, U | E, FT_AVX512),
	OP(VPABSQ, F_XX, 16, 0, U | E, FT_AVX512), OP(VPADDD, F_VXXX, 16, 0, E | B, FT_AVX512),
	OP(VPMULLD, F_VXXX, 16, 0, E | B, FT_AVX512),
};
/* clang-format on */

#define N_OPS (sizeof(sse_ops) / sizeof(sse_ops[0]))

static unsigned long op_tries[N_OPS], op_fails[N_OPS];

/* A vector register of the instruction's width. */
static ZydisRegister vr(struct gen *g, const struct sse_op *op)
{
	int i = (int)rnd(g, 16);

	return op->flags & Y ? (ZydisRegister)(ZYDIS_REGISTER_YMM0 + i) : xmm(i);
}

static int align_of(const struct sse_op *op)
{
	return op->msize >= 16 && !(op->flags & U) ? op->msize : 1;
}

/* RIP-relative items always take the memory form; others half of the time. */
static bool use_mem(struct gen *g, const struct sse_op *op)
{
	return op->msize && (g->fam == FAM_RIPREL || chance(g, 45));
}

static void add_xm(struct gen *g, ZydisEncoderRequest *r, const struct sse_op *op, bool mem)
{
	if (mem && (op->flags & B)) {
		add_mem(r, pick_mem(g, 4, 1, false));
		r->evex.broadcast = ZYDIS_BROADCAST_MODE_1_TO_4;
	} else if (mem) {
		add_mem(r, pick_mem(g, op->msize, align_of(op), false));
	} else {
		add_reg(r, vr(g, op));
	}
}

/* EVEX destinations carry a write mask: always k0 (no masking). */
static void add_k0(ZydisEncoderRequest *r)
{
	for (int i = r->operand_count; i > 1; i--)
		r->operands[i] = r->operands[i - 1];
	r->operands[1].type = ZYDIS_OPERAND_TYPE_REGISTER;
	r->operands[1].reg.value = ZYDIS_REGISTER_K0;
	r->operand_count++;
}

/* A GPR or memory source of op->gw bytes (or 4/8 when gw is 0). */
static void add_gm(struct gen *g, ZydisEncoderRequest *r, const struct sse_op *op, bool mem)
{
	int w = op->gw ? op->gw : (chance(g, 50) ? 4 : 8);

	if (mem)
		add_mem(r, pick_mem(g, op->msize ? op->msize : w, 1, false));
	else
		add_reg(r, gpr(pick_src(g), w));
}

static void build(struct gen *g, const struct sse_op *op, ZydisEncoderRequest *r)
{
	bool mem = use_mem(g, op);
	int w = op->gw ? op->gw : (chance(g, 50) ? 4 : 8);

	if (g->fam == FAM_RIPREL && (!op->msize || op->form == F_GX || op->form == F_0)) {
		g->failed = true; /* no RIP-relative form */
		return;
	}
	switch (op->form) {
	case F_XX:
	case F_XXI:
		add_reg(r, vr(g, op));
		add_xm(g, r, op, mem);
		break;
	case F_VXXX:
	case F_VXXXI:
		add_reg(r, vr(g, op));
		add_reg(r, vr(g, op));
		add_xm(g, r, op, mem);
		break;
	case F_VXI:
		add_reg(r, vr(g, op));
		add_reg(r, vr(g, op));
		break;
	case F_VXG:
	case F_VXGI:
		add_reg(r, vr(g, op));
		add_reg(r, vr(g, op));
		add_gm(g, r, op, mem);
		break;
	case F_XI:
		add_reg(r, vr(g, op));
		break;
	case F_XG:
	case F_XGI:
		add_reg(r, vr(g, op));
		add_gm(g, r, op, mem);
		break;
	case F_GX:
		add_reg(r, gpr(pick_dst(g), w));
		if (mem)
			add_mem(r, pick_mem(g, op->msize, 1, false));
		else
			add_reg(r, vr(g, op));
		break;
	case F_GXI:
		if (mem)
			add_mem(r, pick_mem(g, op->msize, 1, true));
		else
			add_reg(r, gpr(pick_dst(g), w));
		add_reg(r, vr(g, op));
		break;
	case F_MX:
		add_mem(r, pick_mem(g, op->msize, align_of(op), true));
		add_reg(r, vr(g, op));
		break;
	case F_XM:
		add_reg(r, vr(g, op));
		add_mem(r, pick_mem(g, op->msize, align_of(op), false));
		break;
	case F_M:
		add_mem(r, pick_mem(g, op->msize, 1, true));
		break;
	case F_MG:
		add_mem(r, pick_mem(g, w, 1, true));
		add_reg(r, gpr(pick_src(g), w));
		break;
	default: /* F_0 */
		break;
	}
	if (op->flags & E)
		add_k0(r);
	if (op->form == F_XXI || op->form == F_VXXXI || op->form == F_XGI || op->form == F_GXI ||
	    op->form == F_VXGI || op->form == F_XI || op->form == F_VXI)
		add_imm(r, (int64_t)rnd(g, 256));
}

static void sse(struct gen *g)
{
	const struct sse_op *op;
	ZydisEncoderRequest r;
	unsigned i;

	do
		i = rnd(g, N_OPS);
	while (!gen_feat[sse_ops[i].feat]);
	op = &sse_ops[i];
	r = rq(op->m);
	build(g, op, &r);
	if (g->failed)
		return;
	/* CMPPS/CMPSD take predicates 0..7 only in their legacy encoding */
	if (op->m == ZYDIS_MNEMONIC_CMPPS || op->m == ZYDIS_MNEMONIC_CMPSD ||
	    op->m == ZYDIS_MNEMONIC_ROUNDPS)
		r.operands[r.operand_count - 1].imm.s &= op->m == ZYDIS_MNEMONIC_ROUNDPS ? 15 : 7;
	emit(g, &r);
	op_tries[i]++;
	if (g->failed)
		op_fails[i]++;
}

void gen_sse_stats(void)
{
	for (unsigned i = 0; i < N_OPS; i++)
		if (op_fails[i] * 2 > op_tries[i] || !op_tries[i])
			printf("  sse op %-12s form %d: tries %lu encode failures %lu\n",
			       ZydisMnemonicGetString(sse_ops[i].m), sse_ops[i].form, op_tries[i],
			       op_fails[i]);
}

const struct emitter emit_sse[] = {
	{"sse", FAM_SSE, 30, 0, FT_NONE, sse},
	{"rip sse", FAM_RIPREL, 6, 0, FT_NONE, sse},
};
const int n_emit_sse = sizeof(emit_sse) / sizeof(emit_sse[0]);
