/* SPDX-License-Identifier: MIT */
/* Emitters for the stack, memory, RIP-relative and branch families. */
#include <string.h>
#include <Zydis/Zydis.h>
#include "gen_int.h"

#define PICK(g, arr) ((arr)[rnd((g), sizeof(arr) / sizeof((arr)[0]))])

static const ZydisMnemonic binops[] = {
	ZYDIS_MNEMONIC_ADD, ZYDIS_MNEMONIC_SUB, ZYDIS_MNEMONIC_ADC, ZYDIS_MNEMONIC_SBB,
	ZYDIS_MNEMONIC_AND, ZYDIS_MNEMONIC_OR,	ZYDIS_MNEMONIC_XOR, ZYDIS_MNEMONIC_CMP,
};

static ZydisEncoderOperand rsp_mem(int disp, int size)
{
	return mem_abs(disp, ZYDIS_REGISTER_RSP, size);
}

/* ---- stack: pairs ----------------------------------------------------------- */

static void push_open(struct gen *g)
{
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_PUSH);
	int kind = PK_PUSH, size = 8;

	switch (rnd(g, 6)) {
	case 0:
		add_imm(&r, rand_imm(g, chance(g, 50) ? 1 : 4));
		break;
	case 1:
		add_mem(&r, pick_mem(g, 8, 1, false));
		break;
	case 2:
		add_reg(&r, gpr(pick_src(g), 2)); /* push r16 moves rsp by 2 */
		kind = PK_PUSH16;
		size = 2;
		break;
	default:
		add_reg(&r, gpr(pick_src(g), 8));
	}
	emit(g, &r);
	pair_open(g, kind, size);
}

static void pushfq_open(struct gen *g)
{
	e0(g, ZYDIS_MNEMONIC_PUSHFQ);
	pair_open(g, PK_FLAGS, 8);
}

static void frame_open(struct gen *g)
{
	if (g->forbid & 1u << RBP) {
		g->failed = true;
		return;
	}
	if (chance(g, 25)) {
		ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_ENTER);

		add_imm(&r, chance(g, 50) ? 0 : 16);
		add_imm(&r, 0);
		emit(g, &r);
		pair_open(g, PK_ENTER, 0);
		return;
	}
	e_r(g, ZYDIS_MNEMONIC_PUSH, ZYDIS_REGISTER_RBP);
	e_rr(g, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSP);
	pair_open(g, PK_FRAME, 8);
}

/* sub rsp, N and initialise every slot at once: nothing reads stale stack. */
static void sub_open(struct gen *g)
{
	int n = 8 << rnd(g, 3);

	if (chance(g, 70)) {
		e_ri(g, ZYDIS_MNEMONIC_SUB, ZYDIS_REGISTER_RSP, n);
	} else {
		ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_LEA);

		add_reg(&r, ZYDIS_REGISTER_RSP);
		add_mem(&r, rsp_mem(-n, 8));
		emit(g, &r);
	}
	for (int k = 0; k < n; k += 8) {
		ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);

		add_mem(&r, rsp_mem(k, 8));
		if (chance(g, 70))
			add_reg(&r, gpr(pick_src(g), 8));
		else
			add_imm(&r, rand_imm(g, 4));
		emit(g, &r);
	}
	pair_open(g, PK_SUB, n);
}

/* Inside a pair: read or write the bytes it holds at [rsp]. */
static void rsp_access(struct gen *g)
{
	struct pair *p = pair_top(g);
	int w, k;
	ZydisEncoderRequest r;

	if (!p || !p->size || p->kind == PK_ENTER) {
		g->failed = true;
		return;
	}
	do
		w = rand_width(g);
	while (w > p->size);
	k = (int)rnd(g, (uint32_t)(p->size - w + 1));
	if (p->kind == PK_FLAGS || chance(g, 40)) { /* flags image: read only */
		r = rq(ZYDIS_MNEMONIC_MOV);
		add_reg(&r, dst_reg(g, w));
		add_mem(&r, rsp_mem(k, w));
	} else if (chance(g, 50)) {
		r = rq(ZYDIS_MNEMONIC_MOV);
		add_mem(&r, rsp_mem(k, w));
		add_reg(&r, src_reg(g, w));
	} else {
		r = rq(PICK(g, binops));
		add_mem(&r, rsp_mem(k, w));
		add_imm(&r, rand_imm(g, w));
	}
	emit(g, &r);
}

static void close_one(struct gen *g, const struct pair *p, bool simple)
{
	ZydisEncoderRequest r;

	switch (p->kind) {
	case PK_PUSH:
		if (simple || chance(g, 60)) {
			e_r(g, ZYDIS_MNEMONIC_POP, gpr(pick_dst(g), 8));
		} else if (chance(g, 60)) {
			r = rq(ZYDIS_MNEMONIC_POP);
			add_mem(&r, pick_mem(g, 8, 1, true));
			emit(g, &r);
		} else {
			r = rq(ZYDIS_MNEMONIC_LEA);
			add_reg(&r, ZYDIS_REGISTER_RSP);
			add_mem(&r, rsp_mem(8, 8));
			emit(g, &r);
		}
		break;
	case PK_PUSH16:
		e_r(g, ZYDIS_MNEMONIC_POP, gpr(pick_dst(g), 2));
		break;
	case PK_FLAGS:
		e0(g, ZYDIS_MNEMONIC_POPFQ);
		break;
	case PK_FRAME:
		if (simple || chance(g, 60)) {
			e0(g, ZYDIS_MNEMONIC_LEAVE);
		} else {
			e_rr(g, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RBP);
			e_r(g, ZYDIS_MNEMONIC_POP, ZYDIS_REGISTER_RBP);
		}
		break;
	case PK_ENTER:
		e0(g, ZYDIS_MNEMONIC_LEAVE);
		break;
	default: /* PK_SUB */
		if (simple || chance(g, 60)) {
			e_ri(g, ZYDIS_MNEMONIC_ADD, ZYDIS_REGISTER_RSP, p->size);
		} else {
			r = rq(ZYDIS_MNEMONIC_LEA);
			add_reg(&r, ZYDIS_REGISTER_RSP);
			add_mem(&r, rsp_mem(p->size, 8));
			emit(g, &r);
		}
	}
}

void close_pair(struct gen *g)
{
	struct pair p = g->pairs[g->npairs - 1];
	int start = g->s->n;

	g->what = "close pair";
	g->fam = FAM_STACK;
	g->avoid = 0;
	for (int simple = 0; simple < 2; simple++) {
		g->failed = false;
		g->group_next = true;
		g->s->n = start;
		close_one(g, &p, simple);
		if (!g->failed)
			break;
	}
	g->npairs--;
	g->depth--;
	if (p.kind == PK_FRAME || p.kind == PK_ENTER)
		g->forbid &= ~(1u << RBP);
}

/* ---- stack: balanced groups -------------------------------------------------- */

static void flags_read(struct gen *g)
{
	e0(g, ZYDIS_MNEMONIC_PUSHFQ);
	e_r(g, ZYDIS_MNEMONIC_POP, gpr(pick_dst(g), 8));
}

/* Flip arithmetic flags and DF through the stack: pushfq/pop/xor/push/popfq. */
static void flags_write(struct gen *g)
{
	static const uint32_t bits[] = {0x1, 0x4, 0x10, 0x40, 0x80, 0x400, 0x800};
	int x = pick_dst(g);
	uint32_t m = 0;

	for (int i = 0; i < 7; i++)
		if (chance(g, 40))
			m |= bits[i];
	e0(g, ZYDIS_MNEMONIC_PUSHFQ);
	e_r(g, ZYDIS_MNEMONIC_POP, gpr(x, 8));
	e_ri(g, ZYDIS_MNEMONIC_XOR, gpr(x, 4), m);
	e_r(g, ZYDIS_MNEMONIC_PUSH, gpr(x, 8));
	e0(g, ZYDIS_MNEMONIC_POPFQ);
}

static void flags_misc(struct gen *g)
{
	static const ZydisMnemonic m[] = {ZYDIS_MNEMONIC_LAHF, ZYDIS_MNEMONIC_SAHF,
					  ZYDIS_MNEMONIC_STD, ZYDIS_MNEMONIC_CLD};

	e0(g, PICK(g, m));
}

static void push_pop(struct gen *g)
{
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_PUSH);

	if (chance(g, 30))
		add_mem(&r, pick_mem(g, 8, 1, false));
	else if (chance(g, 30))
		add_imm(&r, rand_imm(g, 4));
	else
		add_reg(&r, gpr(pick_src(g), 8));
	emit(g, &r);
	r = rq(ZYDIS_MNEMONIC_POP);
	if (chance(g, 25))
		add_mem(&r, pick_mem(g, 8, 1, true));
	else
		add_reg(&r, gpr(pick_dst(g), 8));
	emit(g, &r);
}

static void rsp_read(struct gen *g)
{
	ZydisEncoderRequest r;

	if (chance(g, 50)) {
		e_rr(g, ZYDIS_MNEMONIC_MOV, gpr(pick_dst(g), 8), ZYDIS_REGISTER_RSP);
		return;
	}
	r = rq(ZYDIS_MNEMONIC_LEA);
	add_reg(&r, gpr(pick_dst(g), 8));
	add_mem(&r, rsp_mem(rand_imm(g, 1), 8));
	emit(g, &r);
}

/*
 * Values kept in the red zone below rsp across a few register-only
 * instructions: nothing the probe machinery does may touch those 128 bytes.
 */
static void red_zone(struct gen *g)
{
	int n = 1 + (int)rnd(g, 3), slot[3], w[3];

	for (int i = 0; i < n; i++) {
		ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);

		slot[i] = -8 * (1 + (int)rnd(g, 16));
		w[i] = rand_width(g);
		add_mem(&r, rsp_mem(slot[i], w[i]));
		if (chance(g, 70))
			add_reg(&r, src_reg(g, w[i]));
		else
			add_imm(&r, rand_imm(g, w[i]));
		emit(g, &r);
	}
	for (int k = (int)rnd(g, 3); k > 0; k--) {
		int fw = rand_width(g);

		e_rr(g, PICK(g, binops), dst_reg(g, fw), src_reg(g, fw));
	}
	for (int i = n - 1; i >= 0; i--) {
		ZydisEncoderRequest r = rq(chance(g, 70) ? ZYDIS_MNEMONIC_MOV : ZYDIS_MNEMONIC_ADD);

		add_reg(&r, dst_reg(g, w[i]));
		add_mem(&r, rsp_mem(slot[i], w[i]));
		emit(g, &r);
	}
}

/* ---- memory --------------------------------------------------------------------- */

static void mem_load(struct gen *g)
{
	int w = rand_width(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);

	if (w < 4 && chance(g, 50)) {
		r = rq(chance(g, 50) ? ZYDIS_MNEMONIC_MOVZX : ZYDIS_MNEMONIC_MOVSX);
		add_reg(&r, gpr(pick_dst(g), chance(g, 50) ? 4 : 8));
	} else {
		add_reg(&r, dst_reg(g, w));
	}
	add_mem(&r, pick_mem(g, w, 1, false));
	emit(g, &r);
}

static void mem_store(struct gen *g)
{
	int w = rand_width(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_MOV);

	add_mem(&r, pick_mem(g, w, 1, true));
	if (chance(g, 60))
		add_reg(&r, src_reg(g, w));
	else
		add_imm(&r, rand_imm(g, w));
	emit(g, &r);
}

static void mem_alu(struct gen *g)
{
	int w = rand_width(g);
	ZydisMnemonic m = PICK(g, binops);
	ZydisEncoderRequest r = rq(m);

	if (chance(g, 50)) {
		add_reg(&r, m == ZYDIS_MNEMONIC_CMP ? src_reg(g, w) : dst_reg(g, w));
		add_mem(&r, pick_mem(g, w, 1, false));
	} else {
		add_mem(&r, pick_mem(g, w, 1, m != ZYDIS_MNEMONIC_CMP));
		if (chance(g, 50))
			add_reg(&r, src_reg(g, w));
		else
			add_imm(&r, rand_imm(g, w));
	}
	emit(g, &r);
}

static void lock_op(struct gen *g)
{
	static const ZydisMnemonic un[] = {ZYDIS_MNEMONIC_INC, ZYDIS_MNEMONIC_DEC,
					   ZYDIS_MNEMONIC_NOT, ZYDIS_MNEMONIC_NEG};
	static const ZydisMnemonic bt[] = {ZYDIS_MNEMONIC_BTS, ZYDIS_MNEMONIC_BTR,
					   ZYDIS_MNEMONIC_BTC};
	int w = rand_width(g), kind = (int)rnd(g, 5);
	ZydisEncoderRequest r;

	switch (kind) {
	case 0:
		r = rq(PICK(g, un));
		add_mem(&r, pick_mem(g, w, 1, true));
		break;
	case 1:
		r = rq(chance(g, 50) ? ZYDIS_MNEMONIC_XADD : ZYDIS_MNEMONIC_CMPXCHG);
		add_mem(&r, pick_mem(g, w, 1, true));
		add_reg(&r, dst_reg(g, w)); /* xadd writes it */
		break;
	case 2:
		w = w == 1 ? 4 : w;
		r = rq(PICK(g, bt));
		add_mem(&r, pick_mem(g, w, 1, true));
		add_imm(&r, (int64_t)rnd(g, 256));
		break;
	default:
		do
			r = rq(PICK(g, binops));
		while (r.mnemonic == ZYDIS_MNEMONIC_CMP);
		add_mem(&r, pick_mem(g, w, 1, true));
		if (chance(g, 50))
			add_reg(&r, src_reg(g, w));
		else
			add_imm(&r, rand_imm(g, w));
	}
	r.prefixes = ZYDIS_ATTRIB_HAS_LOCK;
	emit(g, &r);
}

static void xchg_m(struct gen *g)
{
	int w = rand_width(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_XCHG);

	add_mem(&r, pick_mem(g, w, 1, true));
	add_reg(&r, dst_reg(g, w));
	emit(g, &r);
}

static void cmpxchg_nb(struct gen *g)
{
	bool wide = chance(g, 50);
	ZydisEncoderRequest r = rq(wide ? ZYDIS_MNEMONIC_CMPXCHG16B : ZYDIS_MNEMONIC_CMPXCHG8B);

	add_mem(&r, pick_mem(g, wide ? 16 : 8, wide ? 16 : 1, true));
	if (chance(g, 50))
		r.prefixes = ZYDIS_ATTRIB_HAS_LOCK;
	emit(g, &r);
}

static void prefetch(struct gen *g)
{
	static const ZydisMnemonic m[] = {ZYDIS_MNEMONIC_PREFETCHT0, ZYDIS_MNEMONIC_PREFETCHT1,
					  ZYDIS_MNEMONIC_PREFETCHT2, ZYDIS_MNEMONIC_PREFETCHNTA};

	e_m(g, PICK(g, m), pick_mem(g, 1, 1, false));
}

/*
 * A string instruction with rsi/rdi in the middle of the sandbox, far enough
 * from either end that up to 16 elements fit whichever way DF points.
 */
static void string_op(struct gen *g)
{
	static const ZydisMnemonic ops[5][4] = {
		{ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD,
		 ZYDIS_MNEMONIC_MOVSQ},
		{ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD,
		 ZYDIS_MNEMONIC_STOSQ},
		{ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD,
		 ZYDIS_MNEMONIC_LODSQ},
		{ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD,
		 ZYDIS_MNEMONIC_CMPSQ},
		{ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD,
		 ZYDIS_MNEMONIC_SCASQ},
	};
	int op = (int)rnd(g, 5), sz = (int)rnd(g, 4), margin = 17 * 8 + PTR_RESERVED;
	bool rep = chance(g, 60);
	ZydisEncoderRequest r;

	if (g->forbid & (1u << RSI | 1u << RDI | 1u << RCX)) {
		g->failed = true;
		return;
	}
	for (int i = 0; i < 2; i++) {
		int off = margin + (int)rnd(g, SBX_SIZE - 2 * margin);

		r = rq(ZYDIS_MNEMONIC_LEA);
		add_reg(&r, i ? ZYDIS_REGISTER_RDI : ZYDIS_REGISTER_RSI);
		add_mem(&r, mem_abs(off - SBX_BASE_OFF, ZYDIS_REGISTER_R15, 8));
		emit(g, &r);
	}
	if (rep)
		e_ri(g, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_ECX, (int64_t)rnd(g, 17));
	r = rq(ops[op][sz]);
	if (rep)
		r.prefixes =
			op < 3 ? ZYDIS_ATTRIB_HAS_REP :
				 (chance(g, 50) ? ZYDIS_ATTRIB_HAS_REPE : ZYDIS_ATTRIB_HAS_REPNE);
	emit(g, &r);
}

/* ---- RIP-relative extras ---------------------------------------------------------- */

/* lea of any address within ±1 GiB: computed, never accessed. */
static void lea_rip(struct gen *g)
{
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_LEA);

	add_reg(&r, gpr(pick_dst(g), chance(g, 80) ? 8 : 4));
	add_mem(&r, mem_abs(0, ZYDIS_REGISTER_RIP, 8));
	g->rip_target = chance(g, 50) ? DATA_OFF + (int)rnd(g, DATA_SIZE) :
					(int32_t)((int64_t)rnd(g, 1u << 31) - (1 << 30));
	emit(g, &r);
}

/* Forms with an immediate after the displacement, the classic fixup trap. */
static void rip_imm(struct gen *g)
{
	static const ZydisMnemonic sh[] = {ZYDIS_MNEMONIC_SHL, ZYDIS_MNEMONIC_ROR,
					   ZYDIS_MNEMONIC_SAR};
	int w = rand_width(g);
	ZydisEncoderRequest r;

	switch (rnd(g, 4)) {
	case 0:
		w = w == 1 ? 2 : w;
		r = rq(ZYDIS_MNEMONIC_IMUL);
		add_reg(&r, gpr(pick_dst(g), w));
		add_mem(&r, pick_mem(g, w, 1, false));
		add_imm(&r, rand_imm(g, chance(g, 50) ? 1 : w == 2 ? 2 : 4));
		break;
	case 1:
		r = rq(PICK(g, sh));
		add_mem(&r, pick_mem(g, w, 1, true));
		add_imm(&r, (int64_t)rnd(g, 64));
		break;
	case 2:
		w = w == 1 ? 2 : w;
		r = rq(ZYDIS_MNEMONIC_BT);
		add_mem(&r, pick_mem(g, w, 1, false));
		add_imm(&r, (int64_t)rnd(g, 256));
		break;
	default:
		r = rq(chance(g, 50) ? ZYDIS_MNEMONIC_CMP : ZYDIS_MNEMONIC_TEST);
		add_mem(&r, pick_mem(g, w, 1, false));
		add_imm(&r, rand_imm(g, w));
	}
	emit(g, &r);
}

/* ---- branches -------------------------------------------------------------------------- */

static const ZydisMnemonic jccs[] = {
	ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB,  ZYDIS_MNEMONIC_JNB,
	ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
	ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP,  ZYDIS_MNEMONIC_JNP,
	ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE,
};

static void jcc(struct gen *g)
{
	ZydisInstructionAttributes pfx = 0;

	if (chance(g, 10))
		pfx = chance(g, 50) ? ZYDIS_ATTRIB_HAS_BRANCH_TAKEN :
				      ZYDIS_ATTRIB_HAS_BRANCH_NOT_TAKEN;
	emit_branch(g, PICK(g, jccs), chance(g, 60), TARGET_FWD, pfx);
}

static void jmp(struct gen *g)
{
	emit_branch(g, ZYDIS_MNEMONIC_JMP, chance(g, 50), TARGET_FWD,
		    chance(g, 10) ? ZYDIS_ATTRIB_HAS_BND : 0);
}

/* Sometimes make rcx 0 or 1 first so that both outcomes happen. */
static void rcx_setup(struct gen *g)
{
	if (chance(g, 20))
		e_rr(g, ZYDIS_MNEMONIC_XOR, ZYDIS_REGISTER_ECX, ZYDIS_REGISTER_ECX);
	else if (chance(g, 20))
		e_ri(g, ZYDIS_MNEMONIC_MOV, ZYDIS_REGISTER_ECX, 1);
}

static void loop(struct gen *g)
{
	static const ZydisMnemonic m[] = {ZYDIS_MNEMONIC_LOOP, ZYDIS_MNEMONIC_LOOPE,
					  ZYDIS_MNEMONIC_LOOPNE};

	rcx_setup(g);
	emit_branch(g, PICK(g, m), true, TARGET_FWD, 0);
	if (!g->failed && chance(g, 15)) /* 0x67: count in ecx */
		g->s->insn[g->s->n - 1].req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_32;
}

static void jrcxz(struct gen *g)
{
	rcx_setup(g);
	emit_branch(g, chance(g, 75) ? ZYDIS_MNEMONIC_JRCXZ : ZYDIS_MNEMONIC_JECXZ, true,
		    TARGET_FWD, 0);
}

/* sub may end with `ret 8`: then every call pushes the argument it pops. */
static void push_arg(struct gen *g)
{
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_PUSH);

	if (!g->sub_ret8)
		return;
	if (chance(g, 50))
		add_reg(&r, gpr(pick_src(g), 8));
	else
		add_imm(&r, rand_imm(g, 4));
	emit(g, &r);
}

static void note_call(struct gen *g)
{
	g->calls++;
	if (g->forbid & 1u << RBP)
		g->sub_keeps_rbp = true;
}

static void call_rel(struct gen *g)
{
	push_arg(g);
	emit_branch(g, ZYDIS_MNEMONIC_CALL, false, TARGET_SUB, 0);
	note_call(g);
}

static void call_reg(struct gen *g)
{
	int x = pick_dst(g);
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_LEA);

	add_reg(&r, gpr(x, 8));
	add_mem(&r, mem_abs(0, ZYDIS_REGISTER_RIP, 8));
	g->rip_target = SUB_OFF;
	emit(g, &r);
	push_arg(g);
	e_r(g, ZYDIS_MNEMONIC_CALL, gpr(x, 8));
	note_call(g);
}

static void call_mem(struct gen *g)
{
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_CALL);

	push_arg(g);
	if (chance(g, 50)) {
		g->rip_target = DATA_OFF + PTR_SUB;
		add_mem(&r, mem_abs(0, ZYDIS_REGISTER_RIP, 8));
	} else {
		add_mem(&r, mem_abs(PTR_SUB - SBX_BASE_OFF, ZYDIS_REGISTER_R15, 8));
	}
	emit(g, &r);
	note_call(g);
}

/* Indirect jumps can only go to exit (the same address in both variants). */
static void jmp_exit(struct gen *g)
{
	ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_JMP);

	switch (rnd(g, 3)) {
	case 0: {
		int x = pick_dst(g);
		ZydisEncoderRequest l = rq(ZYDIS_MNEMONIC_LEA);

		add_reg(&l, gpr(x, 8));
		add_mem(&l, mem_abs(0, ZYDIS_REGISTER_RIP, 8));
		g->rip_target = EXIT_OFF;
		emit(g, &l);
		add_reg(&r, gpr(x, 8));
		break;
	}
	case 1:
		g->rip_target = DATA_OFF + PTR_EXIT;
		add_mem(&r, mem_abs(0, ZYDIS_REGISTER_RIP, 8));
		break;
	default:
		add_mem(&r, mem_abs(PTR_EXIT - SBX_BASE_OFF, ZYDIS_REGISTER_R15, 8));
	}
	if (chance(g, 20))
		r.prefixes = ZYDIS_ATTRIB_HAS_NOTRACK;
	emit(g, &r);
}

const struct emitter emit_ctl[] = {
	{"push (pair)", FAM_STACK, 8, E_OPEN, FT_NONE, push_open},
	{"pushfq (pair)", FAM_STACK, 4, E_OPEN, FT_NONE, pushfq_open},
	{"frame (pair)", FAM_STACK, 3, E_OPEN | E_NOSUB, FT_NONE, frame_open},
	{"sub rsp (pair)", FAM_STACK, 3, E_OPEN, FT_NONE, sub_open},
	{"[rsp] access", FAM_STACK, 8, E_INPAIR, FT_NONE, rsp_access},
	{"pushfq;pop", FAM_STACK, 3, 0, FT_NONE, flags_read},
	{"flags write", FAM_STACK, 3, 0, FT_NONE, flags_write},
	{"lahf/sahf/std/cld", FAM_STACK, 3, 0, FT_NONE, flags_misc},
	{"push;pop", FAM_STACK, 4, 0, FT_NONE, push_pop},
	{"rsp read", FAM_STACK, 1, 0, FT_NONE, rsp_read},
	{"red zone", FAM_STACK, 4, 0, FT_NONE, red_zone},
	{"load", FAM_MEM, 8, 0, FT_NONE, mem_load},
	{"store", FAM_MEM, 8, 0, FT_NONE, mem_store},
	{"alu mem", FAM_MEM, 6, 0, FT_NONE, mem_alu},
	{"lock", FAM_MEM, 5, 0, FT_NONE, lock_op},
	{"xchg m", FAM_MEM, 3, 0, FT_NONE, xchg_m},
	{"cmpxchg8b/16b", FAM_MEM, 2, 0, FT_NONE, cmpxchg_nb},
	{"prefetch", FAM_MEM, 1, 0, FT_NONE, prefetch},
	{"string", FAM_MEM, 5, 0, FT_NONE, string_op},
	{"rip load", FAM_RIPREL, 8, 0, FT_NONE, mem_load},
	{"rip store", FAM_RIPREL, 8, 0, FT_NONE, mem_store},
	{"rip alu", FAM_RIPREL, 6, 0, FT_NONE, mem_alu},
	{"rip lock", FAM_RIPREL, 3, 0, FT_NONE, lock_op},
	{"rip xchg", FAM_RIPREL, 2, 0, FT_NONE, xchg_m},
	{"rip cmpxchg8b", FAM_RIPREL, 1, 0, FT_NONE, cmpxchg_nb},
	{"rip lea", FAM_RIPREL, 5, 0, FT_NONE, lea_rip},
	{"rip +imm", FAM_RIPREL, 6, 0, FT_NONE, rip_imm},
	{"rip push;pop", FAM_RIPREL, 3, 0, FT_NONE, push_pop},
	{"rip prefetch", FAM_RIPREL, 1, 0, FT_NONE, prefetch},
	{"jcc", FAM_BRANCH, 10, E_NOSUB, FT_NONE, jcc},
	{"jmp", FAM_BRANCH, 4, E_NOSUB, FT_NONE, jmp},
	{"loop", FAM_BRANCH, 3, E_NOSUB, FT_NONE, loop},
	{"jrcxz", FAM_BRANCH, 3, E_NOSUB, FT_NONE, jrcxz},
	{"call rel32", FAM_BRANCH, 4, E_NOSUB, FT_NONE, call_rel},
	{"call reg", FAM_BRANCH, 2, E_NOSUB, FT_NONE, call_reg},
	{"call [mem]", FAM_BRANCH, 2, E_NOSUB, FT_NONE, call_mem},
	{"jmp exit indirect", FAM_BRANCH, 1, E_NOSUB | E_DEPTH0, FT_NONE, jmp_exit},
};
const int n_emit_ctl = sizeof(emit_ctl) / sizeof(emit_ctl[0]);
