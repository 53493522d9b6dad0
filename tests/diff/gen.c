/* SPDX-License-Identifier: MIT */
/*
 * Sequence generator core: randomness, registers, memory operands that stay in
 * the sandbox, emission, branch resolution, and the two-pass encoder that lays
 * out the plain and the snapshot variant (see gen.h).
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "gen_int.h"

const char *const fam_names[FAM_COUNT + 1] = {
	"alu", "shift", "mulbit", "mov", "stack", "mem", "riprel", "branch", "sse", "frame",
};

bool gen_feat[FT_COUNT];

/* All emitters with their encode statistics (debug output only). */
#define MAX_EMITTERS 256
static const struct emitter *all_emit[MAX_EMITTERS];
static unsigned long emit_tries[MAX_EMITTERS], emit_fails[MAX_EMITTERS];
static int n_all;
static int gen_debug;

/* ---- randomness ---------------------------------------------------------- */

uint64_t rng_next(uint64_t *s)
{
	/* splitmix64: any seed, including 0, gives a good stream */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t rnd64(struct gen *g)
{
	return rng_next(g->rng);
}

uint32_t rnd(struct gen *g, uint32_t n)
{
	return (uint32_t)(rng_next(g->rng) % n);
}

bool chance(struct gen *g, uint32_t pct)
{
	return rnd(g, 100) < pct;
}

/* Values that make flags interesting: 0, ±1, sign boundaries, random. */
uint64_t rand_value(struct gen *g)
{
	static const uint64_t special[] = {
		0,
		1,
		2,
		0xff,
		0x7f,
		0x80,
		0x7fff,
		0x8000,
		0xffff,
		0x7fffffff,
		0x80000000,
		0xffffffff,
		0x100000000ull,
		0x7fffffffffffffffull,
		0x8000000000000000ull,
		0xffffffffffffffffull,
		0xfffffffffffffffeull,
		0x3f,
		0x40,
		0x41,
	};

	switch (rnd(g, 4)) {
	case 0:
		return special[rnd(g, sizeof(special) / sizeof(special[0]))];
	case 1:
		return rnd(g, 64);
	default:
		return rnd64(g);
	}
}

int64_t rand_imm(struct gen *g, int width)
{
	int64_t v = (int64_t)rand_value(g);

	if (chance(g, 30))
		v = (int64_t)rnd(g, 256) - 128;
	switch (width) {
	case 1:
		return (int8_t)v;
	case 2:
		return (int16_t)v;
	default:
		return (int32_t)v;
	}
}

int rand_width(struct gen *g)
{
	static const int w[] = {1, 1, 2, 4, 4, 4, 8, 8, 8, 8};

	return w[rnd(g, 10)];
}

int rand_width_nobyte(struct gen *g)
{
	static const int w[] = {2, 4, 4, 4, 8, 8, 8, 8};

	return w[rnd(g, 8)];
}

/* ---- registers ----------------------------------------------------------- */

static const ZydisRegister r64[16] = {
	ZYDIS_REGISTER_RAX, ZYDIS_REGISTER_RCX, ZYDIS_REGISTER_RDX, ZYDIS_REGISTER_RBX,
	ZYDIS_REGISTER_RSP, ZYDIS_REGISTER_RBP, ZYDIS_REGISTER_RSI, ZYDIS_REGISTER_RDI,
	ZYDIS_REGISTER_R8,  ZYDIS_REGISTER_R9,	ZYDIS_REGISTER_R10, ZYDIS_REGISTER_R11,
	ZYDIS_REGISTER_R12, ZYDIS_REGISTER_R13, ZYDIS_REGISTER_R14, ZYDIS_REGISTER_R15,
};
static const ZydisRegister r32[16] = {
	ZYDIS_REGISTER_EAX,  ZYDIS_REGISTER_ECX,  ZYDIS_REGISTER_EDX,  ZYDIS_REGISTER_EBX,
	ZYDIS_REGISTER_ESP,  ZYDIS_REGISTER_EBP,  ZYDIS_REGISTER_ESI,  ZYDIS_REGISTER_EDI,
	ZYDIS_REGISTER_R8D,  ZYDIS_REGISTER_R9D,  ZYDIS_REGISTER_R10D, ZYDIS_REGISTER_R11D,
	ZYDIS_REGISTER_R12D, ZYDIS_REGISTER_R13D, ZYDIS_REGISTER_R14D, ZYDIS_REGISTER_R15D,
};
static const ZydisRegister r16[16] = {
	ZYDIS_REGISTER_AX,   ZYDIS_REGISTER_CX,	  ZYDIS_REGISTER_DX,   ZYDIS_REGISTER_BX,
	ZYDIS_REGISTER_SP,   ZYDIS_REGISTER_BP,	  ZYDIS_REGISTER_SI,   ZYDIS_REGISTER_DI,
	ZYDIS_REGISTER_R8W,  ZYDIS_REGISTER_R9W,  ZYDIS_REGISTER_R10W, ZYDIS_REGISTER_R11W,
	ZYDIS_REGISTER_R12W, ZYDIS_REGISTER_R13W, ZYDIS_REGISTER_R14W, ZYDIS_REGISTER_R15W,
};
static const ZydisRegister r8[16] = {
	ZYDIS_REGISTER_AL,   ZYDIS_REGISTER_CL,	  ZYDIS_REGISTER_DL,   ZYDIS_REGISTER_BL,
	ZYDIS_REGISTER_SPL,  ZYDIS_REGISTER_BPL,  ZYDIS_REGISTER_SIL,  ZYDIS_REGISTER_DIL,
	ZYDIS_REGISTER_R8B,  ZYDIS_REGISTER_R9B,  ZYDIS_REGISTER_R10B, ZYDIS_REGISTER_R11B,
	ZYDIS_REGISTER_R12B, ZYDIS_REGISTER_R13B, ZYDIS_REGISTER_R14B, ZYDIS_REGISTER_R15B,
};
static const ZydisRegister hi8[4] = {
	ZYDIS_REGISTER_AH,
	ZYDIS_REGISTER_CH,
	ZYDIS_REGISTER_DH,
	ZYDIS_REGISTER_BH,
};

ZydisRegister gpr(int idx, int width)
{
	switch (width) {
	case 1:
		return r8[idx];
	case 2:
		return r16[idx];
	case 4:
		return r32[idx];
	default:
		return r64[idx];
	}
}

ZydisRegister xmm(int idx)
{
	return (ZydisRegister)(ZYDIS_REGISTER_XMM0 + idx);
}

static uint32_t writable(const struct gen *g)
{
	return 0xffffu & ~(1u << RSP | 1u << R15 | g->forbid);
}

static int pick_in(struct gen *g, uint32_t set)
{
	int n = __builtin_popcount(set), k;

	if (!n) {
		g->failed = true;
		return RAX;
	}
	k = (int)rnd(g, (uint32_t)n);
	for (int i = 0; i < 16; i++)
		if ((set >> i & 1) && k-- == 0)
			return i;
	return RAX;
}

int pick_dst(struct gen *g)
{
	return pick_in(g, writable(g));
}

int pick_src(struct gen *g)
{
	return pick_in(g, 0xffffu & ~(1u << RSP));
}

ZydisRegister dst_reg(struct gen *g, int width)
{
	int r = pick_dst(g);

	/* ah..bh alias rax..rbx bits 8..15 and cannot be encoded with a REX prefix */
	if (width == 1 && r < 4 && chance(g, 30))
		return hi8[r];
	return gpr(r, width);
}

ZydisRegister src_reg(struct gen *g, int width)
{
	int r = pick_src(g);

	if (width == 1 && r < 4 && chance(g, 30))
		return hi8[r];
	return gpr(r, width);
}

/* ---- requests ------------------------------------------------------------- */

ZydisEncoderRequest rq(ZydisMnemonic m)
{
	ZydisEncoderRequest r;

	memset(&r, 0, sizeof(r));
	r.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
	r.mnemonic = m;
	return r;
}

void add_reg(ZydisEncoderRequest *r, ZydisRegister reg)
{
	ZydisEncoderOperand *o = &r->operands[r->operand_count++];

	o->type = ZYDIS_OPERAND_TYPE_REGISTER;
	o->reg.value = reg;
}

void add_imm(ZydisEncoderRequest *r, int64_t v)
{
	ZydisEncoderOperand *o = &r->operands[r->operand_count++];

	o->type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
	o->imm.s = v;
}

void add_mem(ZydisEncoderRequest *r, ZydisEncoderOperand m)
{
	r->operands[r->operand_count++] = m;
}

ZydisEncoderOperand mem_abs(int32_t disp, ZydisRegister base, int size)
{
	ZydisEncoderOperand o;

	memset(&o, 0, sizeof(o));
	o.type = ZYDIS_OPERAND_TYPE_MEMORY;
	o.mem.base = base;
	o.mem.displacement = disp;
	o.mem.size = (ZyanU16)size;
	return o;
}

/* ---- memory operands ------------------------------------------------------ */

ZydisEncoderOperand mem_rip(struct gen *g, int size, int align, bool store)
{
	int lo = store ? PTR_RESERVED : 0, hi = DATA_SIZE - size;
	int off = lo + (int)rnd(g, (uint32_t)(hi - lo + 1));

	off &= ~(align - 1);
	if (off < lo)
		off += align;
	g->rip_target = DATA_OFF + off;
	return mem_abs(0, ZYDIS_REGISTER_RIP, size);
}

static int64_t pick_disp(struct gen *g, int64_t dmin, int64_t dmax, int align)
{
	int64_t d;

	if (chance(g, 15) && dmin <= 0 && dmax >= 0)
		return 0;
	if (chance(g, 40) && dmin <= 127 && dmax >= -128) {
		int64_t a = dmin > -128 ? dmin : -128, b = dmax < 127 ? dmax : 127;

		d = a + (int64_t)rnd(g, (uint32_t)(b - a + 1));
	} else {
		d = dmin + (int64_t)rnd(g, (uint32_t)(dmax - dmin + 1));
	}
	d &= ~(int64_t)(align - 1); /* base offsets are multiples of 64 */
	if (d < dmin)
		d += align;
	return d;
}

ZydisEncoderOperand mem_sbx(struct gen *g, int size, int align, bool store)
{
	static const uint32_t masks[] = {0x7, 0xf, 0x1f, 0x3f, 0xff};
	int lo = store ? PTR_RESERVED : 0, base = R15, base_off = SBX_BASE_OFF;
	int64_t imax = 0;
	ZydisEncoderOperand o = mem_abs(0, ZYDIS_REGISTER_R15, size);
	uint32_t saved = g->forbid;

	g->forbid |= g->avoid;
	if (chance(g, 30)) { /* a derived base: lea B, [r15 + d0] */
		int d0 = ((int)rnd(g, 49) - 24) * 64;
		ZydisEncoderRequest r = rq(ZYDIS_MNEMONIC_LEA);

		base = pick_dst(g);
		add_reg(&r, gpr(base, 8));
		add_mem(&r, mem_abs(d0, ZYDIS_REGISTER_R15, 8));
		emit(g, &r);
		base_off += d0;
		o.mem.base = gpr(base, 8);
		g->forbid |= 1u << base;
	}
	if (chance(g, 50)) { /* an index, masked so it stays small: and X32, m */
		int x = pick_dst(g), scale = 1 << rnd(g, 4);
		uint32_t m = masks[rnd(g, 5)];

		if (align > scale)
			m &= ~(uint32_t)(align / scale - 1);
		e_ri(g, ZYDIS_MNEMONIC_AND, gpr(x, 4), m);
		o.mem.index = gpr(x, 8);
		o.mem.scale = (ZyanU8)scale;
		imax = (int64_t)m * scale;
	}
	g->forbid = saved;
	o.mem.displacement = pick_disp(g, lo - base_off, SBX_SIZE - size - imax - base_off, align);
	return o;
}

ZydisEncoderOperand pick_mem(struct gen *g, int size, int align, bool store)
{
	if (g->fam == FAM_RIPREL || (g->fam != FAM_MEM && chance(g, 10)))
		return mem_rip(g, size, align, store);
	return mem_sbx(g, size, align, store);
}

/* ---- emission ------------------------------------------------------------- */

int encode_req(const ZydisEncoderRequest *r, uint8_t *out)
{
	ZyanUSize len = 15;

	if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(r, out, &len)))
		return -1;
	return (int)len;
}

static struct ginsn *emit_slot(struct gen *g)
{
	struct gseq *s = g->s;
	struct ginsn *in;

	if (g->failed || s->n >= MAX_INSNS - 24) { /* keep room for closers, exit, sub */
		g->failed = true;
		return NULL;
	}
	in = &s->insn[s->n];
	memset(in, 0, sizeof(*in));
	in->fam = (uint8_t)g->fam;
	in->region = (uint8_t)g->region;
	in->group = g->group_next;
	in->depth = (int8_t)g->depth;
	in->what = g->what;
	in->target = -1;
	return in;
}

void emit(struct gen *g, const ZydisEncoderRequest *r)
{
	struct ginsn *in = emit_slot(g);
	uint8_t buf[16];

	if (!in)
		return;
	in->req = *r;
	for (int i = 0; i < r->operand_count; i++) {
		if (r->operands[i].type == ZYDIS_OPERAND_TYPE_MEMORY &&
		    r->operands[i].mem.base == ZYDIS_REGISTER_RIP) {
			in->kind = GK_RIPREL;
			in->rel_op = (uint8_t)i;
			in->target = g->rip_target;
		}
	}
	if (encode_req(r, buf) < 0) {
		g->failed = true;
		return;
	}
	g->group_next = false;
	g->s->n++;
}

void emit_raw(struct gen *g, const uint8_t *bytes, int len)
{
	struct ginsn *in = emit_slot(g);

	if (!in)
		return;
	in->kind = GK_RAW;
	memcpy(in->raw, bytes, (size_t)len);
	in->raw_len = (uint8_t)len;
	g->group_next = false;
	g->s->n++;
}

void emit_branch(struct gen *g, ZydisMnemonic m, bool short_br, int target,
		 ZydisInstructionAttributes prefixes)
{
	ZydisEncoderRequest r = rq(m);
	struct ginsn *in;
	uint8_t buf[16];

	r.prefixes = prefixes;
	r.branch_type = short_br ? ZYDIS_BRANCH_TYPE_SHORT : ZYDIS_BRANCH_TYPE_NEAR;
	r.branch_width = short_br ? ZYDIS_BRANCH_WIDTH_8 : ZYDIS_BRANCH_WIDTH_32;
	add_imm(&r, 0);
	in = emit_slot(g);
	if (!in)
		return;
	in->req = r;
	in->kind = GK_BRANCH;
	in->rel_op = 0;
	in->short_br = short_br;
	in->target = target;
	if (encode_req(&r, buf) < 0) {
		g->failed = true;
		return;
	}
	g->group_next = false;
	g->s->n++;
}

void e0(struct gen *g, ZydisMnemonic m)
{
	ZydisEncoderRequest r = rq(m);

	emit(g, &r);
}

void e_r(struct gen *g, ZydisMnemonic m, ZydisRegister a)
{
	ZydisEncoderRequest r = rq(m);

	add_reg(&r, a);
	emit(g, &r);
}

void e_rr(struct gen *g, ZydisMnemonic m, ZydisRegister a, ZydisRegister b)
{
	ZydisEncoderRequest r = rq(m);

	add_reg(&r, a);
	add_reg(&r, b);
	emit(g, &r);
}

void e_ri(struct gen *g, ZydisMnemonic m, ZydisRegister a, int64_t imm)
{
	ZydisEncoderRequest r = rq(m);

	add_reg(&r, a);
	add_imm(&r, imm);
	emit(g, &r);
}

void e_m(struct gen *g, ZydisMnemonic m, ZydisEncoderOperand a)
{
	ZydisEncoderRequest r = rq(m);

	add_mem(&r, a);
	emit(g, &r);
}

void pair_open(struct gen *g, int kind, int size)
{
	if (g->npairs >= MAX_PAIRS) {
		g->failed = true;
		return;
	}
	g->pairs[g->npairs].kind = (uint8_t)kind;
	g->pairs[g->npairs].size = (uint8_t)size;
	g->npairs++;
	g->depth++;
	if (kind == PK_FRAME || kind == PK_ENTER)
		g->forbid |= 1u << RBP;
}

struct pair *pair_top(struct gen *g)
{
	return g->npairs ? &g->pairs[g->npairs - 1] : NULL;
}

/* ---- items ----------------------------------------------------------------- */

static bool emitter_ok(const struct gen *g, const struct emitter *e)
{
	if (!gen_feat[e->feat])
		return false;
	if ((e->flags & E_NOSUB) && g->region == REG_SUB)
		return false;
	if ((e->flags & E_DEPTH0) && g->depth)
		return false;
	if ((e->flags & E_OPEN) && g->npairs >= MAX_PAIRS - 1)
		return false;
	if ((e->flags & E_INPAIR) && !g->npairs)
		return false;
	return true;
}

static const struct emitter *pick_emitter(struct gen *g, int fam)
{
	unsigned total = 0, k;

	for (int i = 0; i < n_all; i++)
		if ((fam < 0 || all_emit[i]->fam == fam) && emitter_ok(g, all_emit[i]))
			total += all_emit[i]->weight;
	if (!total)
		return NULL;
	k = rnd(g, total);
	for (int i = 0; i < n_all; i++) {
		const struct emitter *e = all_emit[i];

		if ((fam < 0 || e->fam == fam) && emitter_ok(g, e)) {
			if (k < e->weight)
				return e;
			k -= e->weight;
		}
	}
	return NULL;
}

static int emitter_index(const struct emitter *e)
{
	for (int i = 0; i < n_all; i++)
		if (all_emit[i] == e)
			return i;
	return 0;
}

/* Emit one item; on failure roll the sequence and the pair state back. */
static bool run_item(struct gen *g, const struct emitter *e)
{
	struct gen saved = *g;
	int start = g->s->n, idx = emitter_index(e);

	g->failed = false;
	g->group_next = true;
	g->avoid = 0;
	g->what = e->name;
	g->fam = e->fam;
	e->fn(g);
	emit_tries[idx]++;
	if (g->failed || g->s->n == start) {
		emit_fails[idx]++;
		*g = saved;
		g->s->n = start;
		return false;
	}
	return true;
}

static void gen_items(struct gen *g, int theme, int want)
{
	int guard = 0;

	while (g->s->n < want && guard++ < 200) {
		const struct emitter *e;

		if (g->npairs && chance(g, 30)) {
			close_pair(g);
			continue;
		}
		e = pick_emitter(g, theme >= 0 && chance(g, 60) ? theme : -1);
		if (e)
			run_item(g, e);
	}
	while (g->npairs)
		close_pair(g);
}

/* ---- branch targets -------------------------------------------------------- */

/*
 * A forward branch from i may land on t only if it skips whole items and whole
 * push/pop pairs: every instruction in between is at least as deep and t is
 * exactly as deep, and t starts an item (never between `and idx` and its use).
 */
static bool target_ok(const struct gseq *s, int i, int t)
{
	int d = s->insn[i].depth;

	for (int j = i + 1; j < t && j < s->n_main; j++)
		if (s->insn[j].depth < d)
			return false;
	if (t == s->exit_idx)
		return d == 0;
	return s->insn[t].group && s->insn[t].depth == d;
}

static int resolve_one(struct gseq *s, uint64_t *rng, int i)
{
	struct ginsn *in = &s->insn[i];
	int cand[MAX_INSNS], nc = 0;
	uint64_t bound;
	bool can_near = in->req.mnemonic != ZYDIS_MNEMONIC_LOOP &&
			in->req.mnemonic != ZYDIS_MNEMONIC_LOOPE &&
			in->req.mnemonic != ZYDIS_MNEMONIC_LOOPNE &&
			in->req.mnemonic != ZYDIS_MNEMONIC_JRCXZ &&
			in->req.mnemonic != ZYDIS_MNEMONIC_JECXZ;

	for (int t = i + 1; t <= s->exit_idx; t++) {
		if (t == s->exit_idx && in->short_br)
			continue; /* exit is far away */
		if (t >= s->n_main && t != s->exit_idx)
			continue;
		if (in->short_br && t - i > 4)
			continue;
		if (target_ok(s, i, t))
			cand[nc++] = t;
	}
	if (!nc && in->short_br && can_near) {
		in->short_br = 0;
		in->req.branch_type = ZYDIS_BRANCH_TYPE_NEAR;
		in->req.branch_width = ZYDIS_BRANCH_WIDTH_32;
		return resolve_one(s, rng, i);
	}
	if (!nc)
		return -1;
	/* prefer near targets: skipping little keeps more of the sequence live */
	bound = nc < 3 ? (uint64_t)nc : 3 + rng_next(rng) % (uint64_t)(nc - 2);
	in->target = cand[rng_next(rng) % bound];
	return 0;
}

static int resolve_branches(struct gseq *s, uint64_t *rng, int sub_idx)
{
	for (int i = 0; i < s->n_main; i++) {
		struct ginsn *in = &s->insn[i];

		if (in->kind != GK_BRANCH)
			continue;
		if (in->target == TARGET_SUB) {
			if (sub_idx < 0)
				return -1;
			in->target = sub_idx;
		} else if (in->target == TARGET_FWD && resolve_one(s, rng, i)) {
			return -1;
		}
	}
	return 0;
}

/* ---- initial state ----------------------------------------------------------- */

static void init_state(struct gen *g, struct gseq *s)
{
	static const uint64_t arith[] = {0x1, 0x4, 0x10, 0x40, 0x80, 0x800};

	for (int i = 0; i < 16; i++)
		s->init.gpr[i] = rand_value(g);
	s->init.gpr[RSP] = 0;
	s->init.gpr[R15] = 0; /* the sandbox base, set by the harness */
	s->init.rflags = 0x202;
	for (int i = 0; i < 6; i++)
		if (chance(g, 50))
			s->init.rflags |= arith[i];
	if (chance(g, 20))
		s->init.rflags |= 0x400; /* DF: the probe machinery must not rely on it */
	s->init.mxcsr = 0x1f80;
	if (chance(g, 25))
		s->init.mxcsr |= rnd(g, 4) << 13; /* rounding control */
	for (int i = 0; i < 16; i++)
		for (int j = 0; j < 32; j += 8) {
			uint64_t v = rand_value(g);

			memcpy(&s->init.xmm[i][j], &v, 8);
		}
	for (int i = 0; i < SBX_SIZE; i += 8) {
		uint64_t v = rand_value(g);

		memcpy(&s->sandbox[i], &v, 8);
	}
	for (int i = 0; i < DATA_SIZE; i += 8) {
		uint64_t v = rand_value(g);

		memcpy(&s->data[i], &v, 8);
	}
}

/* ---- a sequence ---------------------------------------------------------------- */

static void emit_fixed(struct gen *g, int region, ZydisEncoderRequest *r)
{
	g->region = region;
	g->fam = FAM_FRAME;
	g->what = region == REG_EXIT ? "exit" : "ret";
	g->group_next = true;
	g->failed = false;
	emit(g, r);
}

int gen_sequence(struct gseq *s, uint64_t *rng, int theme)
{
	struct gen g;
	ZydisEncoderRequest r;
	int sub_idx = -1;

	memset(s, 0, offsetof(struct gseq, init));
	memset(&g, 0, sizeof(g));
	g.rng = rng;
	g.s = s;
	g.sub_ret8 = chance(&g, 25);
	s->theme = theme;
	init_state(&g, s);

	g.region = REG_MAIN;
	gen_items(&g, theme, 3 + (int)rnd(&g, 6));
	/* main ends with jmp exit; exit is `ret` back to frame.S */
	g.fam = FAM_FRAME;
	g.what = "jmp exit";
	g.group_next = true;
	g.failed = false;
	emit_branch(&g, ZYDIS_MNEMONIC_JMP, false, 0, 0);
	s->n_main = s->n;
	s->exit_idx = s->n;
	s->insn[s->n_main - 1].target = s->exit_idx;
	r = rq(ZYDIS_MNEMONIC_RET);
	emit_fixed(&g, REG_EXIT, &r);
	if (g.failed)
		return -1;

	if (g.calls) {
		g.region = REG_SUB;
		g.forbid = g.sub_keeps_rbp ? 1u << RBP : 0;
		sub_idx = s->n;
		gen_items(&g, -1, s->n + 1 + (int)rnd(&g, 3));
		r = rq(ZYDIS_MNEMONIC_RET);
		if (g.sub_ret8)
			add_imm(&r, 8);
		emit_fixed(&g, REG_SUB, &r);
		if (g.failed)
			return -1;
	}
	return resolve_branches(s, rng, sub_idx);
}

/* ---- setup and statistics ---------------------------------------------------------- */

static void add_table(const struct emitter *t, int n)
{
	for (int i = 0; i < n && n_all < MAX_EMITTERS; i++)
		all_emit[n_all++] = &t[i];
}

void gen_setup(const struct gen_features *f, int debug)
{
	gen_debug = debug;
	gen_feat[FT_NONE] = true;
	gen_feat[FT_SSE3] = f->sse3;
	gen_feat[FT_SSSE3] = f->ssse3;
	gen_feat[FT_SSE41] = f->sse41;
	gen_feat[FT_SSE42] = f->sse42;
	gen_feat[FT_POPCNT] = f->popcnt;
	gen_feat[FT_LZCNT] = f->lzcnt;
	gen_feat[FT_BMI1] = f->bmi1;
	gen_feat[FT_BMI2] = f->bmi2;
	gen_feat[FT_ADX] = f->adx;
	gen_feat[FT_MOVBE] = f->movbe;
	gen_feat[FT_AVX] = f->avx;
	gen_feat[FT_AVX2] = f->avx2;
	gen_feat[FT_AVX512] = f->avx512;
	n_all = 0;
	add_table(emit_gpr, n_emit_gpr);
	add_table(emit_ctl, n_emit_ctl);
	add_table(emit_sse, n_emit_sse);
}

void gen_print_stats(void)
{
	for (int i = 0; i < n_all; i++) {
		if (!gen_debug && emit_fails[i] * 2 <= emit_tries[i])
			continue;
		printf("  emitter %-7s %-16s tries %6lu  encode failures %6lu\n",
		       fam_names[all_emit[i]->fam], all_emit[i]->name, emit_tries[i],
		       emit_fails[i]);
	}
	if (gen_debug)
		gen_sse_stats();
}
