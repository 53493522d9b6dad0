// SPDX-License-Identifier: MIT
/*
 * Differential test of the aarch64 arch layer under qemu-aarch64: generated
 * sequences of 1-6 instructions (ALU, flags, loads and stores, SIMD, and every
 * PC-relative class with random registers, conditions, bits and offsets) run
 * in the sandbox natively and with a probe on a random instruction of each;
 * registers, nzcv, v0-v31, the pad reached and memory must be equal.
 * DIFF_SEQS sequences (default 10,000), DIFF_SEED the first seed.
 *
 * Register roles: x20 points at SB_DATA (loads and stores), x21 and x30 hold
 * pads (br, blr, ret); no generated instruction writes them or sp, except
 * stp/ldp on sp and the branches, which leave the sequence.
 */
#include <stdlib.h>

#include "arch/aarch64/insn.h"
#include "enc.h"
#include "sandbox.h"
#include "testlib.h"

TL_DEFINE("aarch64_diff");

#define MAXSEQ 8

struct gen {
	uint64_t rng;
	uint32_t w[MAXSEQ];
	int n;
	int sp_depth;	/* stp pushes not yet popped */
	int first_exit; /* the first instruction that may leave the sequence */
};

static uint32_t rnd(struct gen *g, uint32_t n)
{
	return (uint32_t)(sb_rng(&g->rng) % n);
}

/* A register a generated instruction may write: not x20, x21, x30. */
static unsigned dst(struct gen *g)
{
	unsigned r;

	do
		r = rnd(g, 31);
	while (r == 20 || r == 21 || r == 30);
	return r;
}

static unsigned src(struct gen *g)
{
	return rnd(g, 32); /* 31: xzr (or sp for add immediate) */
}

static int64_t to_pad(struct gen *g)
{
	return (int64_t)(sb_pad(rnd(g, SB_NPADS)) - sb_addr(SB_CODE + 4 * g->n));
}

static void put(struct gen *g, uint32_t w)
{
	if (g->n < MAXSEQ)
		g->w[g->n++] = w;
}

/* Put a branch: instructions after it may never run, so none is probed. */
static void put_exit(struct gen *g, uint32_t w)
{
	if (g->first_exit < 0)
		g->first_exit = g->n;
	put(g, w);
}

static void gen_alu(struct gen *g)
{
	unsigned sf = rnd(g, 2);

	switch (rnd(g, 9)) {
	case 0:
		put(g, enc_addsub_imm(sf, rnd(g, 2), rnd(g, 2), dst(g), rnd(g, 31), rnd(g, 4096)));
		break;
	case 1:
		put(g, enc_addsub_reg(sf, rnd(g, 2), rnd(g, 2), dst(g), src(g), src(g), rnd(g, 3),
				      rnd(g, sf ? 64 : 32)));
		break;
	case 2:
		put(g, enc_logic_reg(sf, rnd(g, 4), dst(g), src(g), src(g), rnd(g, 4),
				     rnd(g, sf ? 64 : 32)));
		break;
	case 3:
		put(g, (rnd(g, 2) ? enc_movz : enc_movk)(sf, dst(g), rnd(g, 65536),
							 rnd(g, sf ? 4 : 2)));
		break;
	case 4:
		put(g, enc_csel(sf, rnd(g, 2), dst(g), src(g), src(g), rnd(g, 16)));
		break;
	case 5:
		put(g, enc_ccmp(sf, src(g), src(g), rnd(g, 16), rnd(g, 16)));
		break;
	case 6:
		put(g, enc_madd(sf, dst(g), src(g), src(g), src(g)));
		break;
	case 7:
		put(g, rnd(g, 2) ? enc_mrs_nzcv(dst(g)) : enc_msr_nzcv(src(g)));
		break;
	default:
		put(g, enc_add_v2d(rnd(g, 32), rnd(g, 32), rnd(g, 32)));
	}
}

static void gen_mem(struct gen *g)
{
	switch (rnd(g, 4)) {
	case 0:
		put(g, enc_ldr_x(dst(g), 20, rnd(g, 512)));
		break;
	case 1:
		put(g, enc_str_x(src(g), 20, rnd(g, 512)));
		break;
	case 2:
		put(g, enc_stp_pre(src(g), src(g), 31, -2));
		g->sp_depth++;
		break;
	default:
		if (g->sp_depth) {
			unsigned a = dst(g), b;

			do
				b = dst(g);
			while (b == a); /* ldp with rt == rt2 is unpredictable */
			put(g, enc_ldp_post(a, b, 31, 2));
			g->sp_depth--;
		}
	}
}

/* A literal in SB_LIT..SB_STACK (readable): offset from the instruction. */
static int64_t to_lit(struct gen *g)
{
	unsigned off = SB_LIT + 4 * rnd(g, (SB_STACK - SB_LIT) / 4 - 4);

	return (int64_t)(sb_addr(off) - sb_addr(SB_CODE + 4 * g->n));
}

static void gen_pcrel(struct gen *g)
{
	switch (rnd(g, 16)) {
	case 0:
		put(g, enc_adr(rnd(g, 2) ? dst(g) : 31, (int64_t)rnd(g, 1u << 21) - (1 << 20)));
		break;
	case 1:
		put(g, enc_adrp(dst(g), (int64_t)rnd(g, 1u << 21) - (1 << 20)));
		break;
	case 2: {
		unsigned opc = rnd(g, 4), v = opc < 3 ? rnd(g, 2) : 0;

		put(g, enc_ldr_lit(opc, v, v ? rnd(g, 32) : opc == 3 ? rnd(g, 32) : dst(g),
				   to_lit(g)));
		break;
	}
	case 3:
		put_exit(g, enc_b(to_pad(g)));
		break;
	case 4:
		put_exit(g, enc_bl(to_pad(g)));
		break;
	case 5:
	case 6:
		put_exit(g, enc_bcond(rnd(g, 16), to_pad(g)));
		break;
	case 7:
		put_exit(g, enc_cbz(rnd(g, 2), rnd(g, 2), src(g), to_pad(g)));
		break;
	case 8:
		put_exit(g, enc_tbz(rnd(g, 2), src(g), rnd(g, 64), to_pad(g)));
		break;
	case 9:
		put_exit(g, rnd(g, 2) ? enc_br(21) : enc_blr(21));
		break;
	case 10:
		put_exit(g, rnd(g, 2) ? enc_ret(30) : enc_ret(21));
		break;
	case 11: /* the PAC pairs of Debian's libc, and the call forms */
		put(g, ENC_PACIASP);
		if (rnd(g, 2))
			put(g, ENC_AUTIASP);
		else
			put_exit(g, ENC_RETAA);
		break;
	case 12: {
		unsigned m = dst(g);

		put(g, enc_pacia(21, m));
		put_exit(g, rnd(g, 2) ? enc_blraa(21, m) : enc_braa(21, m));
		break;
	}
	case 13:
		put(g, enc_paciza(21));
		put_exit(g, enc_blraaz(21));
		break;
	default:
		put(g, rnd(g, 2) ? ENC_NOP : ENC_BTI_C);
	}
}

static void generate(struct gen *g)
{
	int len = 1 + rnd(g, 6);

	g->n = 0;
	g->sp_depth = 0;
	g->first_exit = -1;
	while (g->n < len) {
		unsigned k = rnd(g, 10);

		if (k < 4)
			gen_pcrel(g);
		else if (k < 7)
			gen_alu(g);
		else
			gen_mem(g);
	}
}

static void state_for(struct sb_state *st, uint64_t seed)
{
	sb_state_random(st, seed);
	st->x[20] = sb_addr(SB_DATA);
	st->x[21] = sb_pad((unsigned)(seed % SB_NPADS));
	st->x[30] = sb_pad((unsigned)((seed >> 8) % SB_NPADS));
}

static void sequences(void)
{
	const char *env = getenv("DIFF_SEQS");
	long nseq = env ? atol(env) : 10000;
	uint64_t seed0 = getenv("DIFF_SEED") ? strtoull(getenv("DIFF_SEED"), NULL, 0) : 1;
	unsigned long per_op[ARCH_OP_PRFM_LIT + 1] = { 0 };
	long diffs = 0, emulated = 0, slow = 0;

	for (long i = 0; i < nseq; i++) {
		struct gen g = { .rng = seed0 + (uint64_t)i * 7919 };
		struct sb_state in;
		struct sb_probe pr;
		char name[64];
		int probe;

		generate(&g);
		/* an instruction that runs: up to the first branch */
		probe = (int)rnd(&g, (uint32_t)(g.first_exit < 0 ? g.n : g.first_exit + 1));
		state_for(&in, g.rng);
		snprintf(name, sizeof(name), "seed %#llx probe %d",
			 (unsigned long long)(seed0 + (uint64_t)i * 7919), probe);
		if (sb_compare(name, g.w, g.n, probe, &in, g.rng, &pr, NULL)) {
			if (diffs++ < 20) {
				for (int k = 0; k < g.n; k++) {
					char txt[64];

					arch_insn_format((const uint8_t *)&g.w[k], 4,
							 sb_addr(SB_CODE + 4 * k), txt, sizeof(txt));
					printf("    %s%08x %s\n", k == probe ? "-> " : "   ", g.w[k],
					       txt);
				}
			}
			continue;
		}
		per_op[pr.op]++;
		emulated += pr.emulated;
		slow += sb_mode == SB_JUMP && !pr.fast;
	}
	printf("  %s: %ld sequences, %ld diffs; probes emulated %ld, out of line %ld",
	       sb_mode == SB_JUMP ? "jump" : "brk", nseq, diffs, emulated,
	       nseq - diffs - emulated);
	printf(sb_mode == SB_JUMP ? "; trampolines leaving through brk %ld\n" : "\n", slow);
	for (int op = 0; op <= ARCH_OP_PRFM_LIT; op++) {
		printf("  op %d: %lu probes\n", op, per_op[op]);
		if (per_op[op] < (unsigned long)nseq / 500)
			TL_FAIL("class %d probed only %lu times", op, per_op[op]);
	}
	CHECK_EQ_INT(diffs, 0);
}

/* The probe a brk: emulation or an out-of-line slot. */
static void test_sequences_brk(void)
{
	sb_mode = SB_BRK;
	sequences();
}

/* The same sequences, the probe a b to a trampoline. */
static void test_sequences_jump(void)
{
	sb_mode = SB_JUMP;
	sequences();
}

int main(void)
{
	sb_init();
	RUN(test_sequences_brk);
	RUN(test_sequences_jump);
	TL_EXIT();
}
