/* SPDX-License-Identifier: MIT */
/*
 * Per-instruction-class tests. Each case is a routine in targets.S that loads
 * every GPR, rflags and a stack window from a struct cpu_state, runs a short
 * snippet holding the instruction under test at p_<case>, and stores it all
 * back. For every input variant the case runs natively, then with a probe on
 * p_<case> (default flags, UPROBE_F_NO_EMULATE, UPROBE_F_SINGLESTEP), and the
 * two final states must be identical: GPRs, rflags, stack window, scratch
 * memory, path marker. The handler must run once, at p_<case>, with the
 * registers SNAP recorded just before it.
 *
 * Every (case, mode) pair runs in a forked child so that one crash does not
 * hide the other results. INSN_NOFORK=1 runs everything in one process;
 * INSN_ONLY=<substring> restricts the cases, INSN_VARIANT=<n> the input
 * variants; INSN_VERBOSE=1 prints the mode the library chose for each case.
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <uprobes.h>

#include "../testlib.h"
#include "insn_state.h"

TL_DEFINE("insn");

#define FL_CF 0x001
#define FL_PF 0x004
#define FL_AF 0x010
#define FL_ZF 0x040
#define FL_SF 0x080
#define FL_DF 0x400
#define FL_OF 0x800
#define FL_STATUS (FL_CF | FL_PF | FL_AF | FL_ZF | FL_SF | FL_OF)
#define FL_BASE 0x202 /* IF and the always-one bit */

#define MAXV 16

/* The state every routine runs on (targets.S addresses it RIP-relatively). */
struct cpu_state g_work;
/* Registers at the probe point, written by SNAP in targets.S. */
struct cpu_state g_snap;

/*
 * Expected mode in default mode (see mode_ok() for the other flags): XOL,
 * EMULATE, SINGLESTEP, EMULATE or XOL, or anything but refused.
 */
enum emode { MX, ME, MS, MEX, MANY };

struct insn_case;
typedef void (*setup_fn)(const struct insn_case *c, struct cpu_state *s, int v);
typedef void (*check_fn)(const struct insn_case *c, const struct cpu_state *in,
			 const struct cpu_state *out);

enum { NEED_AVX2 = 1, NEED_AVX512 = 2 };

struct insn_case {
	const char *name;
	void (*fn)(struct cpu_state *);
	const char *probe; /* p_<case> */
	const char *end;   /* e_<case>: the next instruction */
	enum emode emode;
	setup_fn setup;
	int nvar;
	uint64_t want_seen; /* union of native marks over the variants (0: unchecked) */
	const void *target; /* indirect transfer target for the setup */
	int rsp_adj;	    /* handler rsp minus SNAP rsp */
	int want_len;	    /* instruction length, 0: e_ - p_ */
	unsigned need;
	const char *sym;      /* attach by "sym+off" instead of by address */
	const char *func;     /* containing function (default ins_<case>) */
	const void *func_addr;
	check_fn check; /* absolute checks on the native result */
};

static const char *const gpr_names[16] = {
	"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
	"r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15",
};

/* ---- handler ---- */

struct hstate {
	volatile int hits;
	int bad_ctx;
	uint64_t df_in_handler;
	struct uprobe_regs regs; /* first hit */
	/* what the handler changes */
	int set_rax;
	uint64_t rax;
	int set_rip;
	uint64_t rip;
	uint64_t flags_set, flags_clear;
};

static struct hstate g_h;
static int g_has_avx;

static void handler(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	uint64_t fl;

	(void)p;
	if (ctx != &g_h)
		g_h.bad_ctx = 1;
	__asm__ volatile("pushfq; pop %0" : "=r"(fl));
	g_h.df_in_handler |= fl & FL_DF;
	if (g_h.hits++ == 0)
		g_h.regs = *regs;
	if (g_h.set_rax)
		regs->rax = g_h.rax;
	if (g_h.set_rip)
		regs->rip = g_h.rip;
	regs->rflags = (regs->rflags | g_h.flags_set) & ~g_h.flags_clear;
	/* Like a handler calling glibc's AVX2 memcpy: live SIMD state must survive. */
	if (g_has_avx)
		__asm__ volatile("vzeroall" ::: "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5",
				 "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12",
				 "xmm13", "xmm14", "xmm15");
	else
		__asm__ volatile("pxor %%xmm0, %%xmm0; pxor %%xmm1, %%xmm1; pxor %%xmm2, %%xmm2;"
				 "pxor %%xmm3, %%xmm3; pxor %%xmm12, %%xmm12" ::: "xmm0", "xmm1",
				 "xmm2", "xmm3", "xmm12");
}

static uint64_t hregs_gpr(const struct uprobe_regs *r, int i)
{
	switch (i) {
	case R_RAX: return r->rax;
	case R_RCX: return r->rcx;
	case R_RDX: return r->rdx;
	case R_RBX: return r->rbx;
	case R_RSP: return r->rsp;
	case R_RBP: return r->rbp;
	case R_RSI: return r->rsi;
	case R_RDI: return r->rdi;
	case R_R8: return r->r8;
	case R_R9: return r->r9;
	case R_R10: return r->r10;
	case R_R11: return r->r11;
	case R_R12: return r->r12;
	case R_R13: return r->r13;
	case R_R14: return r->r14;
	default: return r->r15;
	}
}

/* ---- running a routine ---- */

/*
 * Native and probed runs both go through here from the same caller frame, so
 * rsp_base (and every stack address a snippet pushes) is the same in both.
 */
static __attribute__((noinline)) void exec(void (*fn)(struct cpu_state *),
					   const struct cpu_state *in, struct cpu_state *out,
					   struct cpu_state *snap)
{
	g_work = *in;
	memset(&g_snap, 0xee, sizeof(g_snap));
	fn(&g_work);
	__asm__ volatile("" ::: "memory");
	*out = g_work;
	*snap = g_snap;
}

static int g_msgs;

#define REPORT(...)                                   \
	do {                                          \
		if (g_msgs++ < 30)                    \
			TL_FAIL(__VA_ARGS__);         \
		else                                  \
			tl_case_failed = 1;           \
	} while (0)

#define DIFF(ctx, what, a, b)                                                                \
	REPORT("%s: %s native=0x%" PRIx64 " probed=0x%" PRIx64, ctx, what, (uint64_t)(a), \
	       (uint64_t)(b))

static void compare_regs(const char *ctx, const struct cpu_state *n, uint64_t n_base,
			 const struct cpu_state *p, uint64_t p_base)
{
	for (int i = 0; i < 16; i++) {
		uint64_t a = n->gpr[i], b = p->gpr[i];

		if (i == R_RSP) {
			a -= n_base;
			b -= p_base;
			if (a != b)
				DIFF(ctx, "rsp-rsp_base", a, b);
			continue;
		}
		if (a != b)
			DIFF(ctx, gpr_names[i], a, b);
	}
	if (n->rflags != p->rflags)
		DIFF(ctx, "rflags", n->rflags, p->rflags);
}

static void compare_state(const char *ctx, const struct cpu_state *n, const struct cpu_state *p)
{
	char what[64];

	if (n->rsp_base != p->rsp_base)
		DIFF(ctx, "harness: rsp_base", n->rsp_base, p->rsp_base);
	compare_regs(ctx, n, n->rsp_base, p, p->rsp_base);
	if (n->mark != p->mark)
		DIFF(ctx, "path marker", n->mark, p->mark);
	for (int i = 0; i < ST_STK_WORDS; i++) {
		if (n->stk[i] != p->stk[i]) {
			snprintf(what, sizeof(what), "stack[rsp_base%+d]", -64 + 8 * i);
			DIFF(ctx, what, n->stk[i], p->stk[i]);
		}
	}
	for (int i = 0; i < ST_MEM_SIZE; i += 8) {
		uint64_t a, b;

		memcpy(&a, n->mem + i, 8);
		memcpy(&b, p->mem + i, 8);
		if (a != b) {
			snprintf(what, sizeof(what), "mem[%d..%d]", i, i + 7);
			DIFF(ctx, what, a, b);
		}
	}
}

/* ---- input setups ---- */

static void su_base(struct cpu_state *s, int v)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < 16; i++) {
		uint64_t x = 0xa000000000000000ull | ((uint64_t)(i + 1) << 48) |
			     (0x1111ull * (uint64_t)(i + 1));

		s->gpr[i] = v % 3 == 1 ? ~x : v % 3 == 2 ? (uint64_t)i * 3 : x;
	}
	s->gpr[R_RSP] = 0;
	s->gpr[R_RSI] = (uintptr_t)g_work.mem;
	s->rflags = FL_BASE | (v % 3 == 1 ? FL_STATUS : v % 3 == 2 ? FL_CF | FL_ZF : 0);
	for (int i = 0; i < ST_STK_WORDS; i++)
		s->stk[i] = 0x57ac000000000000ull | ((uint64_t)v << 16) | (uint64_t)i;
	for (int j = 0; j < ST_MEM_SIZE; j++)
		s->mem[j] = (uint8_t)(j * 37 + 11 + v);
}

static uint64_t mem_q(const struct cpu_state *s, int off)
{
	uint64_t x;

	memcpy(&x, s->mem + off, 8);
	return x;
}

static void set_mem_q(struct cpu_state *s, int off, uint64_t x)
{
	memcpy(s->mem + off, &x, 8);
}

static void su_gen(const struct insn_case *c, struct cpu_state *s, int v)
{
	(void)c;
	su_base(s, v);
}

/* Every condition code both ways. */
static const uint64_t flag_sets[] = {
	0,     FL_CF, FL_PF,	     FL_ZF,	    FL_SF,		FL_OF,
	FL_SF | FL_OF, FL_ZF | FL_CF, FL_ZF | FL_SF, FL_ZF | FL_OF, FL_STATUS,
};
#define NFLAGS ((int)(sizeof(flag_sets) / sizeof(flag_sets[0])))

static void su_flags(const struct insn_case *c, struct cpu_state *s, int v)
{
	(void)c;
	su_base(s, v);
	s->rflags = FL_BASE | flag_sets[v];
}

/* rcx 0, 1, 2, 2^32, 2^32+1, 2^32-1, each with ZF clear and set. */
static void su_loop(const struct insn_case *c, struct cpu_state *s, int v)
{
	static const uint64_t rcx[] = { 0, 1, 2, 1ull << 32, (1ull << 32) + 1, 0xffffffff };

	(void)c;
	su_base(s, 0);
	s->gpr[R_RCX] = rcx[v / 2];
	s->rflags = FL_BASE | (v & 1 ? FL_ZF : 0);
}

/* cmpxchg: rax equal to the memory operand (mem[0]) or not. */
static void su_cmpxchg(const struct insn_case *c, struct cpu_state *s, int v)
{
	(void)c;
	su_base(s, v);
	s->gpr[R_RAX] = mem_q(s, 0) + (uint64_t)(v & 1);
}

static void su_cmpxchg16b(const struct insn_case *c, struct cpu_state *s, int v)
{
	(void)c;
	su_base(s, v);
	s->gpr[R_RAX] = mem_q(s, 0);
	s->gpr[R_RDX] = mem_q(s, 8) + (uint64_t)(v & 1);
}

/* Indirect transfers through a register. */
static void su_treg(const struct insn_case *c, struct cpu_state *s, int v)
{
	su_base(s, v);
	s->gpr[R_RAX] = (uintptr_t)c->target;
	s->gpr[R_R11] = (uintptr_t)c->target;
}

/* Through memory: mem q1/q2 and the stack at rsp_base, rsp_base+8 hold the target. */
static void su_tmem(const struct insn_case *c, struct cpu_state *s, int v)
{
	su_base(s, v);
	s->gpr[R_RAX] = (uintptr_t)g_work.mem;
	s->gpr[R_R12] = (uintptr_t)g_work.mem;
	set_mem_q(s, 8, (uintptr_t)c->target);
	set_mem_q(s, 16, (uintptr_t)c->target);
	s->stk[8] = (uintptr_t)c->target;
	s->stk[9] = (uintptr_t)c->target;
}

/* popfq: values at rsp_base (never TF or AC). */
static void su_popf(const struct insn_case *c, struct cpu_state *s, int v)
{
	static const uint64_t vals[] = { FL_BASE, FL_BASE | FL_STATUS, FL_BASE | FL_DF | FL_ZF | FL_CF,
					 FL_BASE | FL_DF | FL_SF | FL_OF };

	(void)c;
	su_base(s, v);
	s->stk[8] = vals[v];
}

static void su_div(const struct insn_case *c, struct cpu_state *s, int v)
{
	(void)c;
	su_base(s, v);
	s->gpr[R_RDX] = (uint64_t)v;
	s->gpr[R_RBX] = 0x123456789ull + (uint64_t)v;
}

static uint64_t memp(int off)
{
	return (uintptr_t)(g_work.mem + off);
}

/* String instructions: source, destination, counts, DF. */
struct str_setup {
	int rsi, rdi, df;
	int al_from; /* -1: none, else al = mem[al_from] */
	uint64_t rcx[4];
	int n;
};

static void su_str(const struct str_setup *t, struct cpu_state *s, int v)
{
	su_base(s, v % 3);
	s->gpr[R_RSI] = memp(t->rsi);
	s->gpr[R_RDI] = memp(t->rdi);
	s->gpr[R_RCX] = t->rcx[v];
	if (t->df)
		s->rflags |= FL_DF;
	if (t->al_from >= 0)
		s->gpr[R_RAX] = (s->gpr[R_RAX] & ~0xffull) | s->mem[t->al_from];
	/* repe cmpsb: make the two buffers differ at byte 20. */
	s->mem[256 + 20] ^= 0xff;
}

#define STR_SETUP(fname, ...)                                                         \
	static const struct str_setup fname##_t = { __VA_ARGS__ };                    \
	static void fname(const struct insn_case *c, struct cpu_state *s, int v)      \
	{                                                                              \
		(void)c;                                                               \
		su_str(&fname##_t, s, v);                                             \
	}

STR_SETUP(su_rep_movsb, 0, 64, 0, -1, { 17, 0, 1, 64 }, 4)
STR_SETUP(su_rep_movsb_df, 100, 200, 1, -1, { 9, 0, 1 }, 3)
STR_SETUP(su_rep_movsq, 0, 128, 0, -1, { 5, 0, 1 }, 3)
STR_SETUP(su_rep_stosq, 0, 128, 0, -1, { 5, 0, 1 }, 3)
STR_SETUP(su_rep_stosq_df, 0, 200, 1, -1, { 5, 0, 3 }, 3)
STR_SETUP(su_rep_stosb, 0, 10, 0, -1, { 33, 0, 1 }, 3)
STR_SETUP(su_repne_scasb, 0, 0, 0, 10, { 32, 5, 0, 11 }, 4)
STR_SETUP(su_repne_scasb_df, 0, 50, 1, 20, { 40, 10, 0, 31 }, 4)
STR_SETUP(su_repe_cmpsb, 0, 256, 0, -1, { 32, 10, 0, 21 }, 4)

/* One string op without rep: DF clear and set. */
static void su_str1(const struct insn_case *c, struct cpu_state *s, int v)
{
	(void)c;
	su_base(s, v);
	s->gpr[R_RSI] = memp(5);
	s->gpr[R_RDI] = memp(72);
	if (v & 1)
		s->rflags |= FL_DF;
}

/* ---- absolute checks on the native run (the harness checking itself) ---- */

static void chk_callee(const struct insn_case *c, const struct cpu_state *in,
		       const struct cpu_state *out)
{
	(void)in;
	if (mem_q(out, MEM_CALLEE_MARK) != 0xca11ee)
		REPORT("%s native: callee did not run", c->name);
	if (mem_q(out, MEM_CALLEE_RET) != (uintptr_t)c->end)
		REPORT("%s native: return address 0x%" PRIx64 ", want e_%s", c->name,
		       mem_q(out, MEM_CALLEE_RET), c->name);
	if (mem_q(out, MEM_CALLEE_RSP) != out->rsp_base - 8)
		REPORT("%s native: callee rsp 0x%" PRIx64 ", want rsp_base-8", c->name,
		       mem_q(out, MEM_CALLEE_RSP));
}

static void chk_call_next(const struct insn_case *c, const struct cpu_state *in,
			  const struct cpu_state *out)
{
	(void)in;
	if (out->gpr[R_RAX] != (uintptr_t)c->end || out->gpr[R_RSP] != out->rsp_base)
		REPORT("%s native: rax 0x%" PRIx64 " rsp-base %" PRId64, c->name, out->gpr[R_RAX],
		       (int64_t)(out->gpr[R_RSP] - out->rsp_base));
}

static void chk_push_rsp(const struct insn_case *c, const struct cpu_state *in,
			 const struct cpu_state *out)
{
	(void)in;
	if (out->stk[7] != out->rsp_base || out->gpr[R_RSP] != out->rsp_base - 8)
		REPORT("%s native: pushed 0x%" PRIx64 ", want rsp_base", c->name, out->stk[7]);
}

static void chk_rep_movsb(const struct insn_case *c, const struct cpu_state *in,
			  const struct cpu_state *out)
{
	uint64_t n = in->gpr[R_RCX];

	if (out->gpr[R_RCX] != 0 || memcmp(out->mem + 64, in->mem, n) ||
	    memcmp(out->mem + 64 + n, in->mem + 64 + n, 8))
		REPORT("%s native: rep movsb of %" PRIu64 " bytes wrong", c->name, n);
}

static void chk_simd_live(const struct insn_case *c, const struct cpu_state *in,
			  const struct cpu_state *out)
{
	int n = c->need & NEED_AVX512 ? 64 : c->need & NEED_AVX2 ? 32 : 16;

	if (memcmp(out->mem + MEM_SIMD_LOUT, in->mem + MEM_SIMD_LIVE, n))
		REPORT("%s native: live SIMD register changed", c->name);
}

static void chk_fs_canary(const struct insn_case *c, const struct cpu_state *in,
			  const struct cpu_state *out)
{
	uint64_t canary;

	(void)in;
	__asm__("mov %%fs:0x28, %0" : "=r"(canary));
	if (out->gpr[R_RAX] != canary)
		REPORT("%s native: rax 0x%" PRIx64 ", want the canary", c->name, out->gpr[R_RAX]);
}

/* ---- the case table ---- */

#define CASE_LIST(X)                                                                     \
	X(riprel_load, MX, su_gen, 3, 0)                                                 \
	X(riprel_load_r12, MX, su_gen, 3, 0)                                             \
	X(riprel_load_b, MX, su_gen, 3, 0)                                               \
	X(riprel_add, MX, su_gen, 3, 0)                                                  \
	X(riprel_cmp_imm, MX, su_gen, 3, 0)                                              \
	X(riprel_store, MX, su_gen, 3, 0)                                                \
	X(riprel_store_rax, MX, su_gen, 3, 0)                                            \
	X(riprel_store_imm32, MX, su_gen, 3, 0)                                          \
	X(riprel_store_imm16, MX, su_gen, 3, 0)                                          \
	X(riprel_store_imm8, MX, su_gen, 3, 0)                                           \
	X(riprel_load_16, MX, su_gen, 3, 0)                                              \
	X(riprel_bts_imm, MX, su_gen, 3, 0)                                              \
	X(riprel_prefetch, MX, su_gen, 3, 0)                                             \
	X(riprel_cmpxchg, MX, su_cmpxchg, 4, 0)                                          \
	X(riprel_xchg, MX, su_gen, 3, 0)                                                 \
	X(riprel_lea, MX, su_gen, 3, 0)                                                  \
	X(riprel_lea_r15, MX, su_gen, 3, 0)                                              \
	X(riprel_lea_code, MX, su_gen, 3, 0)                                             \
	X(riprel_push, MX, su_gen, 3, 0)                                                 \
	X(riprel_pop, MX, su_gen, 3, 0)                                                  \
	X(riprel_inc, MX, su_gen, 3, 0)                                                  \
	X(sse_movdqu_load, MX, su_gen, 3, 0, .check = chk_simd_live)                     \
	X(sse_movdqu_load_x12, MX, su_gen, 3, 0, .check = chk_simd_live)                 \
	X(sse_paddd, MX, su_gen, 3, 0, .check = chk_simd_live)                           \
	X(sse_pshufd_imm, MX, su_gen, 3, 0, .check = chk_simd_live)                      \
	X(sse_cvtsi2sdq, MX, su_gen, 3, 0, .check = chk_simd_live)                       \
	X(sse_movups_store, MX, su_gen, 3, 0, .check = chk_simd_live)                    \
	X(avx_vmovdqu_load, MX, su_gen, 3, 0, .need = NEED_AVX2, .check = chk_simd_live) \
	X(avx_vpaddd, MX, su_gen, 3, 0, .need = NEED_AVX2, .check = chk_simd_live)       \
	X(avx_vpaddd_hi, MX, su_gen, 3, 0, .need = NEED_AVX2, .check = chk_simd_live)    \
	X(avx_vpblendd_imm, MX, su_gen, 3, 0, .need = NEED_AVX2, .check = chk_simd_live) \
	X(avx_vbroadcastss, MX, su_gen, 3, 0, .need = NEED_AVX2, .check = chk_simd_live) \
	X(avx_vmovdqu_store, MX, su_gen, 3, 0, .need = NEED_AVX2, .check = chk_simd_live) \
	X(avx512_vpaddd, MX, su_gen, 3, 0, .need = NEED_AVX512, .check = chk_simd_live)  \
	X(jmp_8, ME, su_gen, 3, 2, .want_len = 2)                                        \
	X(jmp_32, ME, su_gen, 3, 2, .want_len = 5)                                       \
	X(jmp_back_8, ME, su_gen, 3, 2, .want_len = 2)                                   \
	X(jmp_back_32, ME, su_gen, 3, 2, .want_len = 5)                                  \
	JCC(X, o) JCC(X, no) JCC(X, b) JCC(X, ae) JCC(X, e) JCC(X, ne) JCC(X, be)        \
	JCC(X, a) JCC(X, s) JCC(X, ns) JCC(X, p) JCC(X, np) JCC(X, l) JCC(X, ge)         \
	JCC(X, le) JCC(X, g)                                                             \
	X(jcc_ne_back_8, ME, su_flags, NFLAGS, 3, .want_len = 2)                         \
	X(jcc_l_back_32, ME, su_flags, NFLAGS, 3, .want_len = 6)                         \
	X(jcc_e_hint, MANY, su_flags, NFLAGS, 3, .want_len = 3)                          \
	X(jmp_bnd, MANY, su_gen, 3, 2, .want_len = 3)                                    \
	X(loop, ME, su_loop, 12, 3, .want_len = 2)                                       \
	X(loope, ME, su_loop, 12, 3, .want_len = 2)                                      \
	X(loopne, ME, su_loop, 12, 3, .want_len = 2)                                     \
	X(jrcxz, ME, su_loop, 12, 3, .want_len = 2)                                      \
	X(jecxz, ME, su_loop, 12, 3, .want_len = 3)                                      \
	X(loop_a32, MANY, su_loop, 12, 3, .want_len = 3)                                 \
	X(loop_back, ME, su_loop, 12, 3, .want_len = 2)                                  \
	X(call_rel32, ME, su_gen, 3, 0, .want_len = 5, .check = chk_callee)              \
	X(call_next, ME, su_gen, 3, 0, .want_len = 5, .check = chk_call_next)            \
	X(call_reg, MEX, su_treg, 3, 0, .target = callee_rec, .check = chk_callee)        \
	X(call_reg_r11, MEX, su_treg, 3, 0, .target = callee_rec, .check = chk_callee)    \
	X(call_mem, MS, su_tmem, 3, 0, .target = callee_rec, .check = chk_callee)        \
	X(call_mem_r12, MS, su_tmem, 3, 0, .target = callee_rec, .check = chk_callee)    \
	X(call_mem_rsp, MS, su_tmem, 3, 0, .target = callee_rec, .check = chk_callee)    \
	X(call_mem_rsp8, MS, su_tmem, 3, 0, .target = callee_rec, .check = chk_callee)   \
	X(call_rip, MS, su_tmem, 3, 0, .target = callee_rec, .check = chk_callee)        \
	X(jmp_reg, MX, su_treg, 3, 2, .target = t_jmp_reg)                               \
	X(jmp_reg_r11, MX, su_treg, 3, 2, .target = t_jmp_reg_r11)                       \
	X(jmp_mem, MX, su_tmem, 3, 2, .target = t_jmp_mem)                               \
	X(jmp_mem_rsp, MX, su_tmem, 3, 2, .target = t_jmp_mem_rsp)                       \
	X(jmp_rip, MX, su_tmem, 3, 2, .target = t_jmp_rip)                               \
	X(jmp_notrack, MX, su_treg, 3, 2, .target = t_jmp_notrack, .want_len = 3)       \
	X(ret, MX, su_tmem, 3, 2, .target = t_ret)                                       \
	X(ret_imm16, MX, su_tmem, 3, 2, .target = t_ret_imm16)                           \
	X(ret_imm8, MX, su_tmem, 3, 2, .target = t_ret_imm8)                             \
	X(push_rax, ME, su_gen, 3, 0)                                                    \
	X(push_rcx, ME, su_gen, 3, 0)                                                    \
	X(push_rdx, ME, su_gen, 3, 0)                                                    \
	X(push_rbx, ME, su_gen, 3, 0)                                                    \
	X(push_rsp, ME, su_gen, 3, 0, .check = chk_push_rsp)                             \
	X(push_rbp, ME, su_gen, 3, 0)                                                    \
	X(push_rsi, ME, su_gen, 3, 0)                                                    \
	X(push_rdi, ME, su_gen, 3, 0)                                                    \
	X(push_r8, ME, su_gen, 3, 0)                                                     \
	X(push_r9, ME, su_gen, 3, 0)                                                     \
	X(push_r10, ME, su_gen, 3, 0)                                                    \
	X(push_r11, ME, su_gen, 3, 0)                                                    \
	X(push_r12, ME, su_gen, 3, 0)                                                    \
	X(push_r13, ME, su_gen, 3, 0)                                                    \
	X(push_r14, ME, su_gen, 3, 0)                                                    \
	X(push_r15, ME, su_gen, 3, 0)                                                    \
	X(push_ax, MANY, su_gen, 3, 0)                                                   \
	X(push_mem_rsp8, MX, su_gen, 3, 0)                                               \
	X(push_mem_rsp, MX, su_gen, 3, 0)                                                \
	X(push_mem_rsp_neg, MX, su_gen, 3, 0)                                            \
	X(push_mem_rsi, MX, su_gen, 3, 0)                                                \
	X(push_imm8, MX, su_gen, 3, 0)                                                   \
	X(push_imm8_neg, MX, su_gen, 3, 0)                                               \
	X(push_imm32, MX, su_gen, 3, 0)                                                  \
	X(push_imm32_neg, MX, su_gen, 3, 0)                                              \
	X(pushw_imm, MANY, su_gen, 3, 0)                                                 \
	X(pop_rax, MX, su_gen, 3, 0)                                                     \
	X(pop_rbx, MX, su_gen, 3, 0)                                                     \
	X(pop_rbp, MX, su_gen, 3, 0)                                                     \
	X(pop_r8, MX, su_gen, 3, 0)                                                      \
	X(pop_r12, MX, su_gen, 3, 0)                                                     \
	X(pop_r15, MX, su_gen, 3, 0)                                                     \
	X(pop_ax, MX, su_gen, 3, 0)                                                      \
	X(pop_mem_rsp, MX, su_gen, 3, 0)                                                 \
	X(pop_mem_rsi, MX, su_gen, 3, 0)                                                 \
	X(pop_rsp, MX, su_gen, 3, 0)                                                     \
	X(leave, MX, su_gen, 3, 0)                                                       \
	X(cmove, MX, su_flags, NFLAGS, 0)                                                \
	X(cmovne, MX, su_flags, NFLAGS, 0)                                               \
	X(cmovl, MX, su_flags, NFLAGS, 0)                                                \
	X(cmovg, MX, su_flags, NFLAGS, 0)                                                \
	X(cmovb, MX, su_flags, NFLAGS, 0)                                                \
	X(cmova, MX, su_flags, NFLAGS, 0)                                                \
	X(cmovs_mem, MX, su_flags, NFLAGS, 0)                                            \
	X(cmovo_rip, MX, su_flags, NFLAGS, 0)                                            \
	X(cmovp_32, MX, su_flags, NFLAGS, 0)                                             \
	X(cmovbe_rsp, MX, su_flags, NFLAGS, 0)                                           \
	X(rep_movsb, MX, su_rep_movsb, 4, 0, .check = chk_rep_movsb)                     \
	X(rep_movsb_df, MX, su_rep_movsb_df, 3, 0)                                       \
	X(rep_movsq, MX, su_rep_movsq, 3, 0)                                             \
	X(rep_stosq, MX, su_rep_stosq, 3, 0)                                             \
	X(rep_stosq_df, MX, su_rep_stosq_df, 3, 0)                                       \
	X(rep_stosb, MX, su_rep_stosb, 3, 0)                                             \
	X(repne_scasb, MX, su_repne_scasb, 4, 0)                                         \
	X(repne_scasb_df, MX, su_repne_scasb_df, 4, 0)                                   \
	X(repe_cmpsb, MX, su_repe_cmpsb, 4, 0)                                           \
	X(movsb, MX, su_str1, 2, 0)                                                      \
	X(stosq, MX, su_str1, 2, 0)                                                      \
	X(lodsb, MX, su_str1, 2, 0)                                                      \
	X(endbr64, ME, su_gen, 3, 0, .want_len = 4)                                      \
	X(nop1, ME, su_gen, 3, 0, .want_len = 1)                                         \
	X(nop2, ME, su_gen, 3, 0, .want_len = 2)                                         \
	X(nop3, ME, su_gen, 3, 0, .want_len = 3)                                         \
	X(nop4, ME, su_gen, 3, 0, .want_len = 4)                                         \
	X(nop5, ME, su_gen, 3, 0, .want_len = 5)                                         \
	X(nop6, ME, su_gen, 3, 0, .want_len = 6)                                         \
	X(nop7, ME, su_gen, 3, 0, .want_len = 7)                                         \
	X(nop8, ME, su_gen, 3, 0, .want_len = 8)                                         \
	X(nop9, ME, su_gen, 3, 0, .want_len = 9)                                         \
	X(nop10, ME, su_gen, 3, 0, .want_len = 10)                                       \
	X(nop11, ME, su_gen, 3, 0, .want_len = 11)                                       \
	X(nopw_text, ME, su_gen, 3, 0)                                                   \
	X(nopl_text, ME, su_gen, 3, 0)                                                   \
	X(nop_riprel, ME, su_gen, 3, 0, .want_len = 7)                                   \
	X(nop_reg, ME, su_gen, 3, 0, .want_len = 3)                                      \
	X(nop_rexw, MANY, su_gen, 3, 0, .want_len = 2)                                   \
	X(pause, MANY, su_gen, 3, 0, .want_len = 2)                                      \
	X(lock_cmpxchg, MX, su_cmpxchg, 4, 0)                                            \
	X(lock_cmpxchg_rip, MX, su_cmpxchg, 4, 0)                                        \
	X(lock_xadd_rip, MX, su_gen, 3, 0)                                               \
	X(lock_inc, MX, su_gen, 3, 0)                                                    \
	X(lock_cmpxchg16b, MX, su_cmpxchg16b, 4, 0)                                      \
	X(fs_canary, MX, su_gen, 3, 0, .check = chk_fs_canary)                           \
	X(fs_self, MX, su_gen, 3, 0)                                                     \
	X(pushfq, MX, su_gen, 3, 0)                                                      \
	X(pushfw, MX, su_gen, 3, 0, .want_len = 2)                                       \
	X(popfq, MX, su_popf, 4, 0)                                                      \
	X(xchg_reg, MX, su_gen, 3, 0)                                                    \
	X(xchg_mem, MX, su_gen, 3, 0)                                                    \
	X(xchg_r8d_eax, MX, su_gen, 3, 0, .want_len = 2)                                 \
	X(xchg_eax_eax, MX, su_gen, 3, 0, .want_len = 2)                                 \
	X(bswap_rax, MX, su_gen, 3, 0)                                                   \
	X(bswap_r10d, MX, su_gen, 3, 0)                                                  \
	X(add_rax, MX, su_gen, 3, 0)                                                     \
	X(imul_reg, MX, su_gen, 3, 0)                                                    \
	X(div_rbx, MX, su_div, 3, 0)                                                     \
	X(lea_rsp, MX, su_gen, 3, 0)                                                     \
	X(load_rsp, MX, su_gen, 3, 0)                                                    \
	X(redzone_store, MX, su_gen, 3, 0)                                               \
	X(redzone_load, MX, su_gen, 3, 0)                                                \
	X(sub_rsp, MX, su_gen, 3, 0)                                                     \
	X(and_rsp, MX, su_gen, 3, 0)                                                     \
	X(sete_al, MX, su_flags, NFLAGS, 0)                                              \
	X(adc_reg, MX, su_flags, NFLAGS, 0)                                              \
	X(shl_cl, MX, su_gen, 3, 0)                                                      \
	X(mfence, MX, su_gen, 3, 0)                                                      \
	X(mov_to_rsp, MX, su_gen, 3, 0)                                                  \
	X(enter, MX, su_gen, 3, 0)                                                       \
	X(fn_entry, ME, su_gen, 3, 0, .rsp_adj = -8, .sym = "fn_entry_target",           \
	  .func = "fn_entry_target", .func_addr = fn_entry_target)                       \
	X(fn_endbr, ME, su_gen, 3, 0, .rsp_adj = -8, .sym = "fn_endbr_target",           \
	  .func = "fn_endbr_target", .func_addr = fn_endbr_target)                       \
	X(fn_mid, MX, su_gen, 3, 0, .sym = "fn_mid_target", .func = "fn_mid_target",     \
	  .func_addr = fn_mid_target)                                                    \
	X(fn_ret, MX, su_gen, 3, 2, .func = "fn_ret_target", .func_addr = fn_ret_target)

#define JCC(X, cc)                                                        \
	X(jcc_##cc##_8, ME, su_flags, NFLAGS, 3, .want_len = 2)           \
	X(jcc_##cc##_32, ME, su_flags, NFLAGS, 3, .want_len = 6)

#define DECL(n, ...)                              \
	extern void ins_##n(struct cpu_state *); \
	extern const char p_##n[], e_##n[];
CASE_LIST(DECL)

extern void callee_rec(void);
extern void fn_entry_target(void), fn_endbr_target(void), fn_mid_target(void),
	fn_ret_target(void);
extern const char t_jmp_reg[], t_jmp_reg_r11[], t_jmp_mem[], t_jmp_mem_rsp[], t_jmp_rip[],
	t_jmp_notrack[], t_ret[], t_ret_imm16[], t_ret_imm8[];

#define ENTRY(n, m, su, nv, seen, ...)                                                    \
	{ .name = #n, .fn = ins_##n, .probe = p_##n, .end = e_##n, .emode = m, .setup = su, \
	  .nvar = nv, .want_seen = seen, __VA_ARGS__ },
static const struct insn_case cases[] = { CASE_LIST(ENTRY) };
#define NCASES ((int)(sizeof(cases) / sizeof(cases[0])))

/* ---- modes ---- */

static const struct {
	const char *name;
	unsigned int flags;
} modes[] = {
	{ "default", UPROBE_F_NO_OPTIMIZE },
	{ "noemu", UPROBE_F_NO_EMULATE },
	{ "sstep", UPROBE_F_SINGLESTEP },
	{ "opt", 0 },
};
#define NMODES 4
#define INT3_FLAGS (UPROBE_F_NO_OPTIMIZE | UPROBE_F_NO_EMULATE | UPROBE_F_SINGLESTEP)

static int mode_ok(enum emode e, unsigned int flags, enum uprobe_mode got)
{
	if (got == UPROBE_MODE_NONE)
		return 0;
	/*
	 * Jump optimization, or the breakpoint path where it is refused (a short
	 * ret/jmp cannot fill a window; see opt_required() for who must get it).
	 */
	if (!(flags & INT3_FLAGS)) {
		if (got == UPROBE_MODE_OPTIMIZED)
			return 1;
		flags = UPROBE_F_NO_OPTIMIZE;
	}
	if (flags & UPROBE_F_NO_EMULATE) {
		if (got == UPROBE_MODE_EMULATE)
			return 0;
		return e == MX || e == MEX ? got == UPROBE_MODE_XOL
		       : e == MS	   ? got == UPROBE_MODE_SINGLESTEP
					   : 1;
	}
	if (flags & UPROBE_F_SINGLESTEP) {
		switch (e) {
		case ME: return got == UPROBE_MODE_EMULATE;
		case MX:
		case MS: return got == UPROBE_MODE_SINGLESTEP;
		case MEX: return got == UPROBE_MODE_EMULATE || got == UPROBE_MODE_SINGLESTEP;
		default: return 1;
		}
	}
	switch (e) {
	case ME: return got == UPROBE_MODE_EMULATE;
	case MX: return got == UPROBE_MODE_XOL;
	case MS: return got == UPROBE_MODE_SINGLESTEP;
	case MEX: return got == UPROBE_MODE_EMULATE || got == UPROBE_MODE_XOL;
	default: return 1;
	}
}

/* RIP-relative and SIMD cases all have room for a window: they must be optimized. */
static int opt_required(const char *name)
{
	return !strncmp(name, "riprel_", 7) || !strncmp(name, "sse_", 4) ||
	       !strncmp(name, "avx", 3);
}

static const char *emode_text(enum emode e, unsigned int flags)
{
	static const char *const t[3][5] = {
		{ "XOL", "EMULATE", "SINGLESTEP", "EMULATE or XOL", "any" },
		{ "XOL", "XOL or SINGLESTEP", "SINGLESTEP", "XOL", "XOL or SINGLESTEP" },
		{ "SINGLESTEP", "EMULATE", "SINGLESTEP", "EMULATE or SINGLESTEP", "any" },
	};

	if (!(flags & INT3_FLAGS))
		return "OPTIMIZED or the default mode";
	return t[flags & UPROBE_F_NO_EMULATE ? 1 : flags & UPROBE_F_SINGLESTEP ? 2 : 0][e];
}

static struct uprobe *attach(const struct insn_case *c, unsigned int flags)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = handler, .ctx = &g_h, .flags = flags };
	struct uprobe *p;

	if (c->sym) {
		char loc[160];
		uintptr_t off = (uintptr_t)c->probe - (uintptr_t)c->func_addr;

		if (off)
			snprintf(loc, sizeof(loc), "%s+0x%lx", c->sym, (unsigned long)off);
		else
			snprintf(loc, sizeof(loc), "%s", c->sym);
		p = uprobe_attach(NULL, loc, &o);
		if (!p)
			REPORT("uprobe_attach(NULL, \"%s\") failed: %s (%s)", loc, strerror(errno),
			       uprobe_last_error());
		return p;
	}
	p = uprobe_attach_addr(c->probe, &o);
	if (!p)
		REPORT("uprobe_attach_addr(p_%s) failed: %s (%s)", c->name, strerror(errno),
		       uprobe_last_error());
	return p;
}

static void handler_reset(void)
{
	memset(&g_h, 0, sizeof(g_h));
}

/* The handler ran once at p_<case> with the registers SNAP saw. */
static void check_handler(const char *ctx, const struct insn_case *c, const struct cpu_state *snap)
{
	const struct uprobe_regs *r = &g_h.regs;

	if (g_h.hits != 1) {
		REPORT("%s: handler ran %d times, want 1", ctx, g_h.hits);
		if (!g_h.hits)
			return;
	}
	if (g_h.bad_ctx)
		REPORT("%s: handler got the wrong ctx", ctx);
	if (g_h.df_in_handler)
		REPORT("%s: handler ran with DF set", ctx);
	if (r->rip != (uintptr_t)c->probe)
		REPORT("%s: handler rip=0x%" PRIx64 ", want p_%s=%p", ctx, r->rip, c->name,
		       (const void *)c->probe);
	if (r->rsp != snap->gpr[R_RSP] + (uint64_t)(int64_t)c->rsp_adj)
		REPORT("%s: handler rsp=0x%" PRIx64 ", want 0x%" PRIx64, ctx, r->rsp,
		       snap->gpr[R_RSP] + (uint64_t)(int64_t)c->rsp_adj);
	for (int i = 0; i < 16; i++) {
		if (i != R_RSP && hregs_gpr(r, i) != snap->gpr[i])
			REPORT("%s: handler %s=0x%" PRIx64 ", at the probe it was 0x%" PRIx64, ctx,
			       gpr_names[i], hregs_gpr(r, i), snap->gpr[i]);
	}
	if ((r->rflags & (FL_STATUS | FL_DF)) != (snap->rflags & (FL_STATUS | FL_DF)))
		REPORT("%s: handler rflags=0x%" PRIx64 ", at the probe 0x%" PRIx64, ctx, r->rflags,
		       snap->rflags);
}

static int cpu_ok(const struct insn_case *c)
{
	if ((c->need & NEED_AVX2) && !__builtin_cpu_supports("avx2"))
		return 0;
	if ((c->need & NEED_AVX512) && !__builtin_cpu_supports("avx512f"))
		return 0;
	return 1;
}

/* The probe's description: mode, length, bytes, containing function. */
static void check_info(const struct insn_case *c, struct uprobe *p, int m, const uint8_t *orig,
		       uint64_t want_hits)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	int len = c->want_len ? c->want_len : (int)(c->end - c->probe);
	const char *func = c->func ? c->func : NULL;
	char ins_name[96];
	uintptr_t fstart = c->func_addr ? (uintptr_t)c->func_addr : (uintptr_t)c->fn;

	if (!func) {
		snprintf(ins_name, sizeof(ins_name), "ins_%s", c->name);
		func = ins_name;
	}
	if (uprobe_get_info(p, &info)) {
		REPORT("%s [%s]: uprobe_get_info failed: %s", c->name, modes[m].name,
		       uprobe_last_error());
		return;
	}
	if (getenv("INSN_VERBOSE"))
		printf("  %-22s %-7s %-10s len %d  %-32s  %s\n", c->name, modes[m].name,
		       uprobe_mode_name(info.mode), info.insn_len, info.insn_text, info.reason);
	if (!(modes[m].flags & INT3_FLAGS) && opt_required(c->name) &&
	    info.mode != UPROBE_MODE_OPTIMIZED)
		REPORT("%s [%s]: mode %s, want OPTIMIZED (refused: %s)", c->name, modes[m].name,
		       uprobe_mode_name(info.mode), info.opt_reason);
	if (!mode_ok(c->emode, modes[m].flags, info.mode))
		REPORT("%s [%s]: mode %s (%s), want %s", c->name, modes[m].name,
		       uprobe_mode_name(info.mode), info.reason, emode_text(c->emode, modes[m].flags));
	if (info.addr != (uintptr_t)c->probe)
		REPORT("%s [%s]: info.addr 0x%" PRIx64 ", want %p", c->name, modes[m].name, info.addr,
		       (const void *)c->probe);
	if (c->want_len && c->want_len != (int)(c->end - c->probe))
		REPORT("%s: harness: assembled length %d, want %d", c->name,
		       (int)(c->end - c->probe), c->want_len);
	if (info.insn_len != len || memcmp(info.insn, orig, (size_t)len))
		REPORT("%s [%s]: info.insn_len %d (%s), want %d", c->name, modes[m].name,
		       info.insn_len, info.insn_text, len);
	if (strcmp(info.symbol, func) || info.symbol_offset != (uintptr_t)c->probe - fstart)
		REPORT("%s [%s]: info.symbol \"%s\"+0x%" PRIx64 ", want \"%s\"+0x%lx", c->name,
		       modes[m].name, info.symbol, info.symbol_offset, func,
		       (unsigned long)((uintptr_t)c->probe - fstart));
	if (info.hits != want_hits)
		REPORT("%s [%s]: info.hits %" PRIu64 ", want %" PRIu64, c->name, modes[m].name,
		       info.hits, want_hits);
}

static struct cpu_state g_in[MAXV], g_nat[MAXV], g_nsnap[MAXV];
static int g_only_var = -1;

static int var_skipped(int v)
{
	return g_only_var >= 0 && v != g_only_var;
}

static void run_case_mode(const struct insn_case *c, int m)
{
	struct cpu_state out, snap;
	uint8_t orig[16];
	uint64_t seen = 0, runs = 0;
	struct uprobe *p;
	char ctx[128];

	for (int v = 0; v < c->nvar; v++) {
		c->setup(c, &g_in[v], v);
		exec(c->fn, &g_in[v], &g_nat[v], &g_nsnap[v]);
		seen |= g_nat[v].mark;
		if (c->check)
			c->check(c, &g_in[v], &g_nat[v]);
	}
	if (c->want_seen && seen != c->want_seen && g_only_var < 0)
		REPORT("%s native: paths taken 0x%" PRIx64 ", want 0x%" PRIx64 " (inputs too narrow)",
		       c->name, seen, c->want_seen);

	memcpy(orig, c->probe, sizeof(orig));
	p = attach(c, modes[m].flags);
	if (!p)
		return;
	for (int v = 0; v < c->nvar; v++) {
		if (var_skipped(v))
			continue;
		runs++;
		snprintf(ctx, sizeof(ctx), "%s [%s] v%d", c->name, modes[m].name, v);
		handler_reset();
		exec(c->fn, &g_in[v], &out, &snap);
		compare_state(ctx, &g_nat[v], &out);
		snprintf(ctx, sizeof(ctx), "%s [%s] v%d at the probe", c->name, modes[m].name, v);
		compare_regs(ctx, &g_nsnap[v], g_nat[v].rsp_base, &snap, out.rsp_base);
		snprintf(ctx, sizeof(ctx), "%s [%s] v%d", c->name, modes[m].name, v);
		check_handler(ctx, c, &snap);
	}
	check_info(c, p, m, orig, runs);
	if (uprobe_detach(p))
		REPORT("%s [%s]: uprobe_detach: %s", c->name, modes[m].name, uprobe_last_error());
	uprobe_free(p);
	if (memcmp(orig, c->probe, sizeof(orig)))
		REPORT("%s [%s]: code not restored after detach", c->name, modes[m].name);
}

/* ---- handlers that change state ---- */

static const struct insn_case *find_case(const char *name)
{
	for (int i = 0; i < NCASES; i++)
		if (!strcmp(cases[i].name, name))
			return &cases[i];
	return NULL;
}

/*
 * Native run with rax = want; probed run with rax = other and a handler that
 * sets rax = want: the results must match.
 */
static void run_modify_rax(const struct insn_case *c, int m, uint64_t want, uint64_t other)
{
	struct cpu_state in, nat, out, snap;
	struct uprobe *p;
	char ctx[128];

	snprintf(ctx, sizeof(ctx), "modify_rax %s [%s]", c->name, modes[m].name);
	c->setup(c, &in, 0);
	in.gpr[R_RAX] = want;
	exec(c->fn, &in, &nat, &snap);
	in.gpr[R_RAX] = other;
	p = attach(c, modes[m].flags);
	if (!p)
		return;
	handler_reset();
	g_h.set_rax = 1;
	g_h.rax = want;
	exec(c->fn, &in, &out, &snap);
	uprobe_free(p);
	compare_state(ctx, &nat, &out);
	if (g_h.hits != 1 || g_h.regs.rax != other)
		REPORT("%s: hits %d, handler saw rax 0x%" PRIx64 ", want 0x%" PRIx64, ctx, g_h.hits,
		       g_h.regs.rax, other);
}

/* Same with rflags: the handler sets or clears `bits` where the native run had them. */
static void run_modify_flags(const struct insn_case *c, int m, uint64_t bits, int set)
{
	struct cpu_state in, nat, out, snap;
	struct uprobe *p;
	char ctx[128];

	snprintf(ctx, sizeof(ctx), "modify_flags %s [%s]", c->name, modes[m].name);
	c->setup(c, &in, 0);
	in.rflags = set ? FL_BASE | bits : FL_BASE;
	exec(c->fn, &in, &nat, &snap);
	in.rflags = set ? FL_BASE : FL_BASE | bits;
	p = attach(c, modes[m].flags);
	if (!p)
		return;
	handler_reset();
	if (set)
		g_h.flags_set = bits;
	else
		g_h.flags_clear = bits;
	exec(c->fn, &in, &out, &snap);
	uprobe_free(p);
	compare_state(ctx, &nat, &out);
	if (g_h.hits != 1)
		REPORT("%s: handler ran %d times", ctx, g_h.hits);
}

#define SKIP_LIST(X) X(skip_mov) X(skip_push) X(skip_call) X(skip_jmp)
#define SKIP_DECL(n)                              \
	extern void ins_##n(struct cpu_state *); \
	extern void ins_ref_##n(struct cpu_state *); \
	extern const char p_##n[], e_##n[];
SKIP_LIST(SKIP_DECL)

/* A handler that sets rip to the next instruction skips it: same as ref_<case>. */
static void run_skip(const struct insn_case *c, int m)
{
	struct cpu_state in, nat, out, snap;
	struct uprobe *p;
	char ctx[128];

	snprintf(ctx, sizeof(ctx), "%s [%s]", c->name, modes[m].name);
	for (int v = 0; v < 3; v++) {
		su_base(&in, v);
		exec((void (*)(struct cpu_state *))c->target, &in, &nat, &snap);
		p = attach(c, modes[m].flags);
		if (!p)
			return;
		handler_reset();
		g_h.set_rip = 1;
		g_h.rip = (uintptr_t)c->end;
		exec(c->fn, &in, &out, &snap);
		uprobe_free(p);
		compare_state(ctx, &nat, &out);
		if (g_h.hits != 1)
			REPORT("%s: handler ran %d times", ctx, g_h.hits);
	}
}

#define SKIP_ENTRY(n) \
	{ .name = #n, .fn = ins_##n, .probe = p_##n, .end = e_##n, .target = ins_ref_##n },
static const struct insn_case skip_cases[] = { SKIP_LIST(SKIP_ENTRY) };

/* ---- driver ---- */

struct job {
	char name[96];
	void (*fn)(const void *arg, int m);
	const void *arg;
	int m;
};

static void job_case(const void *arg, int m)
{
	run_case_mode(arg, m);
}

static void job_skip(const void *arg, int m)
{
	run_skip(arg, m);
}

static void job_modify(const void *arg, int m)
{
	const struct insn_case *c;

	(void)arg;
	c = find_case("add_rax");
	run_modify_rax(c, m, 0x1234abcd, 5);
	c = find_case("push_rax");
	run_modify_rax(c, m, 0x1234abcd, 5);
	c = find_case("riprel_store_rax");
	run_modify_rax(c, m, 0xfeedface, 0);
	c = find_case("jmp_reg");
	run_modify_rax(c, m, (uintptr_t)t_jmp_reg, (uintptr_t)e_jmp_reg);
	c = find_case("jcc_e_8");
	run_modify_flags(c, m, FL_ZF, 1);
	c = find_case("jcc_e_32");
	run_modify_flags(c, m, FL_ZF, 0);
	c = find_case("cmovl");
	run_modify_flags(c, m, FL_SF, 1);
}

static int g_fork = 1;

/* Run one job, in a child unless INSN_NOFORK: a crash is one failure, not all. */
static void run_job(const struct job *j)
{
	pid_t pid;
	int st;

	if (!g_fork) {
		tl_begin();
		g_msgs = 0;
		j->fn(j->arg, j->m);
		tl_end(j->name);
		return;
	}
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		perror("fork");
		exit(2);
	}
	if (pid == 0) {
		/*
		 * A case spinning in a loop: SIGPROF (default action: end) after
		 * 20 s of CPU time. CPU time, not alarm()'s wall time: a loaded
		 * machine makes a case slower, not failed. One hung asleep is
		 * stopped by tests/run.sh, which sees no output.
		 */
		setitimer(ITIMER_PROF, &(struct itimerval){ .it_value = { .tv_sec = 20 } }, NULL);
		tl_begin();
		g_msgs = 0;
		j->fn(j->arg, j->m);
		tl_end(j->name);
		fflush(stdout);
		_exit(tl_case_failed ? 1 : 0);
	}
	if (waitpid(pid, &st, 0) < 0) {
		perror("waitpid");
		exit(2);
	}
	if (WIFEXITED(st) && WEXITSTATUS(st) <= 1) {
		tl_total_failed += WEXITSTATUS(st);
		return;
	}
	if (WIFSIGNALED(st))
		printf("  %s: killed by signal %d (%s)\n", j->name, WTERMSIG(st),
		       strsignal(WTERMSIG(st)));
	else
		printf("  %s: exited with status %d\n", j->name, WEXITSTATUS(st));
	printf("FAIL: %s/%s\n", tl_suite, j->name);
	fflush(stdout);
	tl_total_failed++;
}

int main(void)
{
	const char *only = getenv("INSN_ONLY");
	struct job j;

	setvbuf(stdout, NULL, _IOLBF, 0);
	g_fork = !getenv("INSN_NOFORK");
	if (getenv("INSN_VARIANT"))
		g_only_var = atoi(getenv("INSN_VARIANT"));
	g_has_avx = __builtin_cpu_supports("avx");
	for (int i = 0; i < NCASES; i++) {
		const struct insn_case *c = &cases[i];

		if (only && !strstr(c->name, only))
			continue;
		for (int m = 0; m < NMODES; m++) {
			j = (struct job){ .fn = job_case, .arg = c, .m = m };
			snprintf(j.name, sizeof(j.name), "%s.%s", c->name, modes[m].name);
			if (cpu_ok(c))
				run_job(&j);
			else
				printf("SKIP: %s/%s (CPU lacks %s)\n", tl_suite, j.name,
				       c->need & NEED_AVX512 ? "AVX-512F" : "AVX2");
		}
	}
	for (int m = 0; m < NMODES; m++) {
		for (size_t i = 0; i < sizeof(skip_cases) / sizeof(skip_cases[0]); i++) {
			if (only && !strstr(skip_cases[i].name, only))
				continue;
			j = (struct job){ .fn = job_skip, .arg = &skip_cases[i], .m = m };
			snprintf(j.name, sizeof(j.name), "handler_%s.%s", skip_cases[i].name,
				 modes[m].name);
			run_job(&j);
		}
		if (only && !strstr("modify", only))
			continue;
		j = (struct job){ .fn = job_modify, .m = m };
		snprintf(j.name, sizeof(j.name), "handler_modify.%s", modes[m].name);
		run_job(&j);
	}
	TL_EXIT();
}
