// SPDX-License-Identifier: MIT
/*
 * Per-class state tests of the aarch64 arch layer, under qemu-aarch64: each
 * instruction class runs in the sandbox natively and with a probe on it (brk,
 * then emulation or an out-of-line slot); every register, nzcv, v0-v31, the
 * landing pad reached and the sandbox's memory must be equal, the probe hit
 * once, and the class executed the way the layer says (emulated or not).
 */
#include <asm/hwcap.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/auxv.h>

#include "arch/aarch64/insn.h"
#include "arch/safe_read.h"
#include "enc.h"
#include "sandbox.h"
#include "testlib.h"

TL_DEFINE("aarch64_state");

static uint64_t seed = 0x5eed;
static int slow_runs; /* jump mode: trampolines that leave through brk */

/* Offset from instruction i of the sequence to pad k. */
static int64_t to_pad(unsigned k, int i)
{
	return (int64_t)(sb_pad(k) - sb_addr(SB_CODE + 4 * i));
}

static int64_t to_lit(unsigned off, int i)
{
	return (int64_t)(sb_addr(SB_LIT + off) - sb_addr(SB_CODE + 4 * i));
}

/* Run words with a probe on words[probe]; expect the given mode; out: probed state. */
static void one(const char *name, const uint32_t *w, int n, int probe, const struct sb_state *in,
		int want_emulated, struct sb_state *out)
{
	struct sb_probe pr;
	struct sb_state tmp;

	if (sb_compare(name, w, n, probe, in, seed++, &pr, out ? out : &tmp))
		TL_FAIL("%s: probed run differs from the native run", name);
	else if (pr.emulated != want_emulated)
		TL_FAIL("%s: %s, want %s", name, pr.emulated ? "emulated" : "out of line",
			want_emulated ? "emulated" : "out of line");
	else if (sb_mode == SB_JUMP && pr.redirects != !pr.fast)
		TL_FAIL("%s: %d redirects, the trampoline is %s", name, pr.redirects,
			pr.fast ? "fast" : "slow");
	slow_runs += sb_mode == SB_JUMP && !pr.fast;
}

static void base_state(struct sb_state *st)
{
	sb_state_random(st, seed++);
}

static void test_adr_adrp(void)
{
	static const int64_t offs[] = { 0, 4, -4, 0x12344, -0x100000, 0xffffc, 1, 3 };
	static const int64_t pages[] = { 0, 1, -1, 0x1234, -0x100000, 0xfffff };
	struct sb_state in, out;
	uint32_t w[2];

	for (unsigned i = 0; i < sizeof(offs) / sizeof(offs[0]); i++) {
		base_state(&in);
		w[0] = ENC_NOP;
		w[1] = enc_adr(i % 2 ? 3 : 31, offs[i]);
		one("adr", w, 2, 1, &in, 1, &out);
		if (i % 2)
			CHECK_EQ_U64(out.x[3], sb_addr(SB_CODE + 4) + offs[i]);
	}
	for (unsigned i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
		base_state(&in);
		w[0] = enc_adrp(7, pages[i]);
		one("adrp", w, 1, 0, &in, 1, &out);
		CHECK_EQ_U64(out.x[7], (sb_addr(SB_CODE) & ~0xfffull) + (uint64_t)(pages[i] << 12));
	}
}

static void test_ldr_literal(void)
{
	struct sb_state in, out;
	int negative = 0;
	uint32_t w[2];

	for (unsigned off = 0; off < 256; off += 16) {
		/* opc/v: w, x, sw, prfm; s, d, q; with a nop before to vary the offset */
		static const unsigned forms[][2] = { { 0, 0 }, { 1, 0 }, { 2, 0 }, { 3, 0 },
						     { 0, 1 }, { 1, 1 }, { 2, 1 } };

		for (unsigned f = 0; f < 7; f++) {
			unsigned rt = (off / 16 + f) % 32;

			base_state(&in);
			w[0] = ENC_NOP;
			w[1] = enc_ldr_lit(forms[f][0], forms[f][1], rt, to_lit(off + 4 * f, 1));
			one("ldr literal", w, 2, 1, &in, 1, &out);
			if (f == 2 && rt != 31)
				negative += (int64_t)out.x[rt] < 0;
		}
	}
	CHECK(negative > 0); /* ldrsw met a negative word: the sign extension was tested */
}

static void test_branches(void)
{
	struct sb_state in, out;
	uint32_t w[3];

	base_state(&in);
	w[0] = ENC_NOP;
	w[1] = enc_b(to_pad(3, 1));
	one("b", w, 2, 1, &in, 1, &out);
	CHECK_EQ_U64(out.pad, sb_pad(3));
	base_state(&in);
	w[1] = enc_bl(to_pad(5, 1));
	one("bl", w, 2, 1, &in, 1, &out);
	CHECK_EQ_U64(out.pad, sb_pad(5));
	CHECK_EQ_U64(out.x[30], sb_addr(SB_CODE + 8));
	/* every condition under every flag combination */
	for (unsigned cond = 0; cond < 16; cond++)
		for (unsigned f = 0; f < 16; f++) {
			base_state(&in);
			in.nzcv = (uint64_t)f << 28;
			w[0] = enc_bcond(cond, to_pad(7 + cond, 0));
			one("b.cond", w, 1, 0, &in, 1, &out);
			if (!tl_case_failed && out.pad != sb_pad(7 + cond) &&
			    out.pad != sb_addr(SB_CODE + 4))
				TL_FAIL("b.%u with nzcv %x left by %#llx", cond, f,
					(unsigned long long)out.pad);
		}
}

static void test_cbz_tbz(void)
{
	static const uint64_t vals[] = { 0, 1, 0xffffffff00000000ull, 0x80000000ull,
					 0x8000000000000000ull, 0x100000000ull };
	static const unsigned bits[] = { 0, 1, 31, 32, 63 };
	struct sb_state in, out;
	uint32_t w[1];
	int taken = 0;

	for (unsigned v = 0; v < sizeof(vals) / sizeof(vals[0]); v++) {
		for (unsigned k = 0; k < 8; k++) {
			base_state(&in);
			in.x[5] = vals[v];
			w[0] = enc_cbz(k & 1, k >> 1 & 1, k & 4 ? 31 : 5, to_pad(20, 0));
			one("cbz/cbnz", w, 1, 0, &in, 1, &out);
			taken += out.pad == sb_pad(20);
		}
		for (unsigned b = 0; b < sizeof(bits) / sizeof(bits[0]); b++)
			for (unsigned neg = 0; neg < 2; neg++) {
				base_state(&in);
				in.x[9] = vals[v];
				w[0] = enc_tbz(neg, 9, bits[b], to_pad(21, 0));
				one("tbz/tbnz", w, 1, 0, &in, 1, &out);
				taken += out.pad == sb_pad(21);
			}
	}
	CHECK(taken > 0);
}

static void test_indirect(void)
{
	struct sb_state in, out;
	uint32_t w[2] = { ENC_NOP };

	base_state(&in);
	in.x[5] = sb_pad(30);
	w[1] = enc_br(5);
	one("br", w, 2, 1, &in, 0, &out);
	CHECK_EQ_U64(out.pad, sb_pad(30));
	w[1] = enc_blr(5);
	one("blr", w, 2, 1, &in, 1, &out);
	CHECK_EQ_U64(out.x[30], sb_addr(SB_CODE + 8));
	in.x[30] = sb_pad(31);
	w[1] = enc_blr(30); /* the target is read before x30 is written */
	one("blr x30", w, 2, 1, &in, 1, &out);
	CHECK_EQ_U64(out.pad, sb_pad(31));
	w[1] = enc_ret(30);
	one("ret", w, 2, 1, &in, 0, &out);
	CHECK_EQ_U64(out.pad, sb_pad(31));
	w[1] = enc_ret(5);
	one("ret x5", w, 2, 1, &in, 0, &out);
	CHECK_EQ_U64(out.pad, sb_pad(30));
}

/* PAC and BTI forms (Debian 12's libc starts functions with paciasp or bti c). */
static void test_pac_bti(void)
{
	struct sb_state in, out;
	uint32_t w[3];

	base_state(&in);
	in.x[30] = sb_pad(40);
	w[0] = ENC_PACIASP;
	w[1] = ENC_RETAA;
	for (int p = 0; p < 2; p++) {
		one(p ? "retaa" : "paciasp", w, 2, p, &in, 0, &out);
		CHECK_EQ_U64(out.pad, sb_pad(40));
	}
	/*
	 * Pointer authentication is on: x30 gets signed. A user pointer's PAC is
	 * 7 bits (bits 54:48 with top-byte-ignore), so one pointer's may come out
	 * 0 and the signed pointer equal (1 run in 128 failed so, the keys being
	 * random per process): one of 8 pointers must change (2^-56 to miss).
	 */
	int changed = 0;
	for (int k = 0; k < 8; k++) {
		in.x[30] = sb_pad(40) + 16 * (uint64_t)k;
		one("paciasp alone", w, 1, 0, &in, 0, &out);
		changed += out.x[30] != in.x[30];
	}
	CHECK(changed > 0);
	in.x[30] = sb_pad(40);
	w[1] = ENC_AUTIASP;
	w[2] = enc_ret(30);
	one("autiasp", w, 3, 1, &in, 0, &out);
	CHECK_EQ_U64(out.pad, sb_pad(40));
	in.x[5] = sb_pad(41);
	w[0] = enc_pacia(5, 6);
	w[1] = enc_blraa(5, 6);
	one("blraa", w, 2, 1, &in, 1, &out);
	CHECK_EQ_U64(out.pad, sb_pad(41));
	CHECK_EQ_U64(out.x[30], sb_addr(SB_CODE + 8));
	w[1] = enc_braa(5, 6);
	one("braa", w, 2, 1, &in, 0, &out);
	CHECK_EQ_U64(out.pad, sb_pad(41));
	w[0] = enc_paciza(5);
	w[1] = enc_blraaz(5);
	one("blraaz", w, 2, 1, &in, 1, &out);
	CHECK_EQ_U64(out.pad, sb_pad(41));
	in.x[7] = sb_pad(42); /* a pointer: xpaci gives it back whole */
	w[0] = enc_pacia(7, 8);
	w[1] = 0xdac143e7u; /* xpaci x7: Capstone 4 does not know it */
	one("xpaci", w, 2, 1, &in, 0, &out);
	CHECK_EQ_U64(out.x[7], in.x[7]); /* the signature stripped again */
	w[0] = ENC_BTI_C;
	one("bti c", w, 1, 0, &in, 1, NULL);
	w[0] = ENC_BTI_JC;
	one("bti jc", w, 1, 0, &in, 1, NULL);
	w[0] = ENC_NOP;
	one("nop", w, 1, 0, &in, 1, NULL);
}

/* Instructions that do not read the PC run out of line, followed by b back. */
static void test_xol(void)
{
	struct sb_state in, out;
	uint32_t w[2];

	base_state(&in);
	in.x[2] = sb_addr(SB_DATA + 64);
	w[0] = enc_addsub_reg(1, 1, 1, 1, 3, 4, 0, 0); /* subs x1, x3, x4: flags */
	one("subs", w, 1, 0, &in, 0, &out);
	w[0] = enc_stp_pre(3, 4, 31, -2); /* stp x3, x4, [sp, #-16]! */
	one("stp sp", w, 1, 0, &in, 0, &out);
	CHECK_EQ_U64(out.sp, sb_addr(SB_STACK_TOP) - 16);
	w[0] = enc_ldr_x(1, 2, 3);
	w[1] = enc_str_x(5, 2, 7);
	one("ldr", w, 2, 0, &in, 0, NULL);
	one("str", w, 2, 1, &in, 0, NULL);
	w[0] = enc_mrs_nzcv(8);
	one("mrs nzcv", w, 1, 0, &in, 0, &out);
	CHECK_EQ_U64(out.x[8], in.nzcv);
	w[0] = enc_msr_nzcv(9);
	one("msr nzcv", w, 1, 0, &in, 0, NULL);
	w[0] = enc_add_v2d(1, 2, 3);
	one("add v.2d", w, 1, 0, &in, 0, NULL);
	w[0] = enc_madd(1, 4, 5, 6, 7);
	one("madd", w, 1, 0, &in, 0, NULL);
	w[0] = enc_csel(1, 1, 4, 5, 6, 11);
	one("csinc", w, 1, 0, &in, 0, NULL);
}

static void refused(uint32_t word, int want_err, const char *want_why)
{
	struct arch_insn ai;
	char why[160] = "";

	CHECK_EQ_INT(arch_insn_analyze(&ai, (const uint8_t *)&word, 4, 0x400000, why, sizeof(why)),
		     want_err);
	CHECK_CONTAINS(why, want_why);
}

static void test_refused(void)
{
	struct arch_insn ai;
	uint32_t fn[5] = { enc_ldxr(0, 1), enc_addsub_imm(1, 0, 0, 0, 0, 1), enc_stxr(2, 0, 1),
			   enc_cbz(0, 1, 2, -12), enc_ret(30) };
	char why[160] = "";

	refused(enc_ldxr(0, 1), -ENOTSUP, "exclusive");
	refused(enc_stxr(2, 0, 1), -ENOTSUP, "exclusive");
	refused(ENC_SVC0, -ENOTSUP, "exception");
	refused(ARCH_BREAKPOINT, -ENOTSUP, "exception");
	refused(0xd69f03e0u, -ENOTSUP, "exception"); /* eret */
	refused(0x00000000u, -EILSEQ, "undecodable");
	CHECK_EQ_INT(arch_insn_analyze(&ai, (const uint8_t *)fn, 4, 0x400002, why, sizeof(why)),
		     -EILSEQ);
	CHECK(arch_insn_in_exclusive((const uint8_t *)fn, sizeof(fn), 4, 0x1000, why,
				     sizeof(why)));
	CHECK_CONTAINS(why, "0x1004: inside the exclusive sequence opened at 0x1000");
	CHECK(!arch_insn_in_exclusive((const uint8_t *)fn, sizeof(fn), 12, 0x1000, NULL, 0));
	CHECK(!arch_insn_in_exclusive((const uint8_t *)fn, sizeof(fn), 0, 0x1000, NULL, 0));
}

/* The slot's b back: in range to the last 4 bytes of +-128 MiB, refused beyond. */
static void test_xol_window(void)
{
	struct arch_insn ai;
	uint32_t add = enc_addsub_imm(1, 0, 0, 1, 2, 3), out[8];
	uint64_t at = 0x40000000, lo, hi;

	CHECK_EQ_INT(arch_insn_analyze(&ai, (const uint8_t *)&add, 4, at, NULL, 0), 0);
	arch_xol_window(&ai, &lo, &hi);
	CHECK_EQ_U64(lo, at + 4 - ARCH_B_REACH);
	CHECK_EQ_U64(hi, at + ARCH_B_REACH);
	CHECK_EQ_INT(arch_xol_build(&ai, hi, (uint8_t *)out), 8);
	CHECK_EQ_U64(out[0], add);
	CHECK_EQ_U64(out[1], enc_b(-(int64_t)ARCH_B_REACH));
	CHECK_EQ_INT(arch_xol_build(&ai, lo, (uint8_t *)out), 8);
	CHECK_EQ_U64(out[1], enc_b(ARCH_B_REACH - 4));
	CHECK_EQ_INT(arch_xol_build(&ai, hi + 4, (uint8_t *)out), -ERANGE);
	CHECK_EQ_INT(arch_xol_build(&ai, lo - 4, (uint8_t *)out), -ERANGE);
}

/* Fault-safe reads: values from good memory, -EFAULT from the guard page. */
static void test_safe_read(void)
{
	uint64_t good = sb_addr(SB_LIT), bad = sb_addr(SB_GUARD), v = 0, lo, hi;
	struct safe_word sw;
	char buf[16];

	CHECK_EQ_INT(uprobes_safe_load(good, 8, &v), 0);
	CHECK_EQ_U64(v, *(uint64_t *)(uintptr_t)good);
	CHECK_EQ_INT(uprobes_safe_load(good, 2, &v), 0);
	CHECK_EQ_U64(v, *(uint16_t *)(uintptr_t)good);
	CHECK_EQ_INT(uprobes_safe_load(bad, 4, &v), -EFAULT);
	CHECK_EQ_INT(uprobes_safe_copy(buf, bad - 8, 16), -EFAULT); /* crosses into the guard */
	CHECK_EQ_INT(uprobes_safe_copy(buf, good, 16), 0);
	CHECK(!memcmp(buf, (void *)(uintptr_t)good, 16));
	memcpy(sb_base + SB_GUARD - 3, "ab", 3);
	CHECK_EQ_INT(uprobes_safe_strnlen(bad - 3, 100), 2);
	memcpy(sb_base + SB_GUARD - 3, "abc", 3);
	CHECK_EQ_INT(uprobes_safe_strnlen(bad - 3, 100), -EFAULT);
	CHECK_EQ_INT(uprobes_safe_strnlen(bad - 3, 3), 3);
	sw = uprobes_safe_load8(bad);
	CHECK_EQ_U64(sw.fault, 1);
	sw = uprobes_safe_load16(bad - 8);
	CHECK_EQ_U64(sw.fault, 1);
	sw = uprobes_safe_load16(good);
	CHECK_EQ_U64(sw.v, ((uint64_t *)(uintptr_t)good)[0]);
	CHECK_EQ_U64(sw.fault, ((uint64_t *)(uintptr_t)good)[1]);
	CHECK_EQ_INT(arch_read_literal(bad - 8, 16, &lo, &hi), -EFAULT);
	CHECK_EQ_INT(arch_read_literal(bad - 4, 4, &lo, &hi), 0);
}

/*
 * A literal load whose literal cannot be read faults as without the probe:
 * SIGSEGV at the instruction, in both modes, registers as they were.
 */
static void test_literal_fault(void)
{
	static uint8_t mem[SB_MEM_SIZE];
	struct sb_state in, out;
	struct sb_probe pr;
	uint32_t w[1];

	for (unsigned v = 0; v < 2; v++) {
		w[0] = enc_ldr_lit(1, v, 4, (int64_t)(sb_addr(SB_GUARD + 16) - sb_addr(SB_CODE)));
		base_state(&in);
		for (int mode = -1; mode <= SB_JUMP; mode++) {
			sb_mode = mode < 0 ? SB_BRK : (enum sb_mode)mode;
			sb_run(w, 1, mode < 0 ? -1 : 0, &in, seed, &out, mem, &pr);
			CHECK_EQ_INT(pr.analyze_err, 0);
			CHECK_EQ_INT(pr.signal, SIGSEGV);
			CHECK_EQ_U64(pr.sig_pc, sb_addr(SB_CODE));
		}
	}
	sb_mode = SB_BRK;
}

/* The sandbox itself: a nop leaves every register as it was loaded. */
static void test_sandbox_identity(void)
{
	static uint8_t mem[SB_MEM_SIZE];
	uint32_t w[1] = { ENC_NOP };
	struct sb_state in, out;
	struct sb_probe pr;

	base_state(&in);
	sb_run(w, 1, -1, &in, seed, &out, mem, &pr);
	CHECK(!memcmp(in.x, out.x, sizeof(in.x)));
	CHECK_EQ_U64(out.sp, in.sp);
	CHECK_EQ_U64(out.nzcv, in.nzcv);
	CHECK_EQ_U64(out.pad, sb_addr(SB_CODE + 4));
	CHECK(!memcmp(in.v, out.v, sizeof(in.v)));
}

/* The tests' encoders produce what Capstone reads back. */
static void test_encoders(void)
{
	static const struct {
		uint32_t w;
		const char *text;
	} cases[] = {
		{ 0x10000000u | 3, "adr x3" }, { 0x90000000u | 7, "adrp x7" },
		{ 0x14000001u, "b " },	       { 0x94000001u, "bl " },
		{ 0x54000021u, "b.ne" },       { 0xb4000045u, "cbz x5" },
		{ 0x35000045u, "cbnz w5" },    { 0xb7f80049u, "tbnz x9, #0x3f" },
		{ 0x98000044u, "ldrsw x4" },   { 0x9c000042u, "ldr q2" },
		{ 0xd8000040u, "prfm" },       { 0xd63f00a0u, "blr x5" },
		{ 0xeb040061u, "subs x1, x3, x4" },
	};
	uint32_t gen[] = { enc_adr(3, 0), enc_adrp(7, 0), enc_b(4), enc_bl(4), enc_bcond(1, 4),
			   enc_cbz(1, 0, 5, 8), enc_cbz(0, 1, 5, 8), enc_tbz(1, 9, 63, 8),
			   enc_ldr_lit(2, 0, 4, 8), enc_ldr_lit(2, 1, 2, 8), enc_ldr_lit(3, 0, 0, 8),
			   enc_blr(5), enc_addsub_reg(1, 1, 1, 1, 3, 4, 0, 0) };
	char txt[64];

	for (unsigned i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ_U64(gen[i], cases[i].w);
		arch_insn_format((const uint8_t *)&cases[i].w, 4, 0, txt, sizeof(txt));
		CHECK_CONTAINS(txt, cases[i].text);
	}
}

/* Every class again, the probe a b to a trampoline (jump.h). */
static void run_classes(void)
{
	RUN(test_adr_adrp);
	RUN(test_ldr_literal);
	RUN(test_branches);
	RUN(test_cbz_tbz);
	RUN(test_indirect);
	RUN(test_pac_bti);
	RUN(test_xol);
}

static struct uprobe_regs seen;
static int seen_n;

static void hook_record(struct uprobe_regs *regs)
{
	seen = *regs;
	seen_n++;
}

/*
 * A consumer that uses v8-v15 whole: the C ABI keeps only their low halves
 * across a call, so the trampoline must keep the upper ones.
 */
static void hook_simd(struct uprobe_regs *regs)
{
	(void)regs;
	__asm__ volatile("movi v8.2d, #0\n\tmovi v15.2d, #0\n\tmovi v0.2d, #0\n\t"
			 "movi v31.2d, #0" ::: "v0", "v8", "v15", "v31");
}

static void test_consumer_simd(void)
{
	uint32_t w[2] = { enc_add_v2d(1, 8, 15), ENC_NOP };
	struct sb_state in;

	base_state(&in);
	sb_hook = hook_simd;
	for (int mode = SB_BRK; mode <= SB_JUMP; mode++) {
		sb_mode = mode;
		one(mode ? "simd consumer, jump" : "simd consumer, brk", w, 2, 1, &in, 1, NULL);
	}
	sb_hook = NULL;
	sb_mode = SB_BRK;
}

/* A consumer that uses SVE: z8 beyond its low 128 bits, p7. */
static void hook_sve(struct uprobe_regs *regs)
{
	(void)regs;
	__asm__ volatile(".arch_extension sve\n\tmov z8.d, #0\n\tpfalse p7.b" ::: "v8", "memory");
}

/*
 * Live SVE state across a probe: ptrue p7.d; mov z8.d, x5; <probe>; lastb x6,
 * p7, z8.d (z8's last lane); cntp x7, p7, p7.d (p7's lanes). The consumer
 * clobbers z8 and p7; the program must not see it.
 */
static void test_consumer_sve(void)
{
	uint32_t w[5] = { 0x25d8e3e7u, 0x05e038a8u, enc_addsub_imm(1, 0, 0, 1, 1, 1), 0x05e1bd06u,
			  0x25e09ce7u };
	struct sb_state in, out;

	if (!(getauxval(AT_HWCAP) & HWCAP_SVE)) {
		printf("  no SVE on this CPU: nothing to keep\n");
		return;
	}
	base_state(&in);
	sb_hook = hook_sve;
	for (int mode = SB_BRK; mode <= SB_JUMP; mode++) {
		sb_mode = mode;
		one(mode ? "sve consumer, jump" : "sve consumer, brk", w, 5, 2, &in, 0, &out);
		CHECK_EQ_U64(out.x[6], in.x[5]);
		CHECK(out.x[7] >= 2); /* 128-bit vectors at least: two .d lanes */
	}
	sb_hook = NULL;
	sb_mode = SB_BRK;
}

static uint64_t hook_pc;

static void hook_move(struct uprobe_regs *regs)
{
	regs->x[5] = 0x5555;
	regs->pstate ^= 1ull << 29; /* C */
	if (hook_pc)
		regs->pc = hook_pc;
}

/*
 * The consumer sees the same registers in both modes (pc the probed address),
 * and what it changes takes effect: a register, a flag, pc (the instruction is
 * then not executed).
 */
static void test_consumer_regs(void)
{
	uint32_t w[3] = { enc_addsub_imm(1, 0, 1, 3, 4, 7), enc_adr(6, 64),
			  enc_addsub_reg(1, 0, 0, 7, 5, 31, 0, 0) };
	struct uprobe_regs brk_regs;
	struct sb_state in, out;
	struct sb_probe pr;

	base_state(&in);
	sb_hook = hook_record;
	for (int mode = SB_BRK; mode <= SB_JUMP; mode++) {
		sb_mode = mode;
		seen_n = 0;
		one("regs", w, 3, 1, &in, 1, NULL);
		CHECK_EQ_INT(seen_n, 1);
		CHECK_EQ_U64(seen.pc, sb_addr(SB_CODE + 4));
		CHECK_EQ_U64(seen.sp, in.sp);
		if (mode == SB_BRK)
			brk_regs = seen;
	}
	CHECK(!memcmp(brk_regs.x, seen.x, sizeof(seen.x)));
	CHECK_EQ_U64(brk_regs.pstate >> 28, seen.pstate >> 28);
	sb_hook = hook_move;
	for (int mode = SB_BRK; mode <= SB_JUMP; mode++) {
		sb_mode = mode;
		hook_pc = 0;
		sb_run(w, 3, 1, &in, seed, &out, (uint8_t[SB_MEM_SIZE]){ 0 }, &pr);
		CHECK_EQ_U64(out.x[7], 0x5555); /* add x7, x5, xzr after the hit */
		CHECK_EQ_U64(out.x[6], sb_addr(SB_CODE + 4 + 64));
		CHECK_EQ_INT(pr.redirects, 0);
		hook_pc = sb_pad(50);
		sb_run(w, 3, 1, &in, seed, &out, (uint8_t[SB_MEM_SIZE]){ 0 }, &pr);
		CHECK_EQ_U64(out.pad, sb_pad(50));
		CHECK_EQ_U64(out.x[6], in.x[6]); /* adr not executed */
		CHECK_EQ_U64(out.x[5], 0x5555);
		CHECK_EQ_INT(pr.redirects, mode == SB_JUMP);
	}
	sb_hook = NULL;
	sb_mode = SB_BRK;
}

int main(void)
{
	sb_init();
	RUN(test_sandbox_identity);
	RUN(test_encoders);
	run_classes();
	RUN(test_refused);
	RUN(test_xol_window);
	RUN(test_consumer_regs);
	RUN(test_consumer_simd);
	RUN(test_consumer_sve);
	RUN(test_safe_read);
	RUN(test_literal_fault);
	tl_suite = "aarch64_jump";
	sb_mode = SB_JUMP;
	slow_runs = 0;
	run_classes();
	tl_begin();
	CHECK_EQ_INT(slow_runs, 3); /* blr x30, blraa, blraaz */
	tl_end("slow_trampolines");
	TL_EXIT();
}
