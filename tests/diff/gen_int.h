/* SPDX-License-Identifier: MIT */
/* Generator internals shared by gen*.c. Not used by the test harness. */
#ifndef DIFF_GEN_INT_H
#define DIFF_GEN_INT_H

#include <stdbool.h>
#include "gen.h"

/* What a push/pop pair left open on the stack allows its body to do. */
enum pair_kind {
	PK_PUSH,   /* push r64/imm/m64: [rsp] holds 8 readable bytes */
	PK_PUSH16, /* push r16: closed by pop r16 */
	PK_FLAGS,  /* pushfq: closed by popfq; [rsp] is read-only */
	PK_FRAME,  /* push rbp; mov rbp, rsp: closed by leave; rbp reserved */
	PK_SUB,	   /* sub rsp, N + stores initialising it: closed by add/lea */
	PK_ENTER,  /* enter N, 0: closed by leave; rbp reserved, [rsp] unread */
};

struct pair {
	uint8_t kind; /* enum pair_kind */
	uint8_t size; /* bytes readable at [rsp] while this pair is on top */
};

#define MAX_PAIRS 6

struct gen {
	uint64_t *rng;
	struct gseq *s;
	int region;
	int fam; /* family of the item being emitted */
	const char *what;
	bool group_next; /* the next instruction starts an item */
	bool failed;	 /* an instruction of the current item did not encode */
	int depth;
	uint32_t forbid; /* registers that must not be written (bit per register) */
	uint32_t avoid;	 /* registers pick_mem must not use (operands already chosen) */
	struct pair pairs[MAX_PAIRS];
	int npairs;
	bool sub_ret8; /* sub ends with ret 8: each call pushes an argument */
	int calls;
	bool sub_keeps_rbp; /* sub is called inside a frame: it must not write rbp */
	int32_t rip_target; /* buffer offset for the next RIP-relative operand */
};

enum efl {
	E_NOSUB = 1u << 0,  /* not inside the subroutine */
	E_DEPTH0 = 1u << 1, /* only with no pair open */
	E_OPEN = 1u << 2,   /* opens a pair */
	E_INPAIR = 1u << 3, /* needs an open pair */
};

enum feat {
	FT_NONE,
	FT_SSE3,
	FT_SSSE3,
	FT_SSE41,
	FT_SSE42,
	FT_POPCNT,
	FT_LZCNT,
	FT_BMI1,
	FT_BMI2,
	FT_ADX,
	FT_MOVBE,
	FT_AVX,
	FT_AVX2,
	FT_AVX512, /* AVX-512 F + VL, EVEX encodings of xmm instructions */
	FT_COUNT,
};

struct emitter {
	const char *name;
	uint8_t fam;
	uint8_t weight;
	uint8_t flags; /* enum efl */
	uint8_t feat;  /* enum feat */
	void (*fn)(struct gen *g);
};

extern bool gen_feat[FT_COUNT];

/* Random numbers. */
uint64_t rnd64(struct gen *g);
uint32_t rnd(struct gen *g, uint32_t n); /* [0, n) */
bool chance(struct gen *g, uint32_t pct);
int64_t rand_imm(struct gen *g, int width); /* fits a sign-extended imm of width */
uint64_t rand_value(struct gen *g);
int rand_width(struct gen *g);	      /* 1, 2, 4 or 8 */
int rand_width_nobyte(struct gen *g); /* 2, 4 or 8 */

/* Registers. */
ZydisRegister gpr(int idx, int width);
ZydisRegister xmm(int idx);
int pick_dst(struct gen *g);			 /* a writable GPR */
int pick_src(struct gen *g);			 /* any GPR but rsp */
ZydisRegister dst_reg(struct gen *g, int width); /* with ah..bh sometimes */
ZydisRegister src_reg(struct gen *g, int width);

/* Requests. */
ZydisEncoderRequest rq(ZydisMnemonic m);
void add_reg(ZydisEncoderRequest *r, ZydisRegister reg);
void add_imm(ZydisEncoderRequest *r, int64_t v);
void add_mem(ZydisEncoderRequest *r, ZydisEncoderOperand m);

/*
 * A memory operand of `size` bytes aligned to `align` that stays inside the
 * sandbox (or the data area, for RIP-relative) for any value the registers may
 * hold: it emits the `lea base` / `and index` it needs first. Stores never touch
 * the pointer slots.
 */
ZydisEncoderOperand pick_mem(struct gen *g, int size, int align, bool store);
ZydisEncoderOperand mem_rip(struct gen *g, int size, int align, bool store);
ZydisEncoderOperand mem_sbx(struct gen *g, int size, int align, bool store);
ZydisEncoderOperand mem_abs(int32_t base_reg_disp, ZydisRegister base, int size);

/* Encode one request into out (15 bytes); returns its length or -1. */
int encode_req(const ZydisEncoderRequest *r, uint8_t *out);

/* Emission into the sequence. */
void emit(struct gen *g, const ZydisEncoderRequest *r);
void emit_raw(struct gen *g, const uint8_t *bytes, int len);
/* A relative branch; target < 0 is resolved later (TARGET_*). */
void emit_branch(struct gen *g, ZydisMnemonic m, bool short_br, int target,
		 ZydisInstructionAttributes prefixes);
#define TARGET_FWD (-1) /* a forward target chosen after generation */
#define TARGET_SUB (-2) /* the subroutine */

/* Shorthands. */
void e0(struct gen *g, ZydisMnemonic m);
void e_r(struct gen *g, ZydisMnemonic m, ZydisRegister a);
void e_rr(struct gen *g, ZydisMnemonic m, ZydisRegister a, ZydisRegister b);
void e_ri(struct gen *g, ZydisMnemonic m, ZydisRegister a, int64_t imm);
void e_m(struct gen *g, ZydisMnemonic m, ZydisEncoderOperand a);

void pair_open(struct gen *g, int kind, int size);
struct pair *pair_top(struct gen *g);

extern const struct emitter emit_gpr[], emit_ctl[], emit_sse[];
extern const int n_emit_gpr, n_emit_ctl, n_emit_sse;

void gen_sse_stats(void);

/* Emit the closing instruction(s) of the innermost pair. */
void close_pair(struct gen *g);

#endif
