// SPDX-License-Identifier: MIT
/*
 * Return probes on aarch64 under qemu-aarch64: an entry probe (brk or jump
 * mode) puts the return trampoline (ret_tramp.S) in x30 before the function's
 * paciasp signs it; the function's autiasp and ret take it there, and this
 * test's dispatch_return (the core's part: a shadow stack of original return
 * addresses) sends the call home. Every register, nzcv, v0-v31 and memory
 * must equal the unprobed run's, x30 included; the handler sees the return
 * value in x0, once per call, newest first.
 */
#include "arch/aarch64/trampoline.h"
#include "enc.h"
#include "sandbox.h"
#include "testlib.h"

TL_DEFINE("aarch64_ret");

#define DEPTH 16

static struct {
	uint64_t orig, sp;
} shadow[DEPTH];
static int top, entries, returns;
static uint64_t ret_x0[DEPTH], ret_pc[DEPTH];

/* The entry handler: remember where the call returns, hijack x30. */
static void on_entry(struct uprobe_regs *regs)
{
	entries++;
	if (top == DEPTH)
		return;
	shadow[top].sp = regs->sp;
	shadow[top++].orig = arch_ret_hijack(regs);
}

void dispatch_return(struct ret_frame *f)
{
	/* a handler may use any SIMD register whole: the trampoline keeps them all */
	__asm__ volatile("movi v8.2d, #0\n\tmovi v2.2d, #0" ::: "v2", "v8");
	returns++;
	f->regs.pc = shadow[--top].orig;
	if (returns <= DEPTH) {
		ret_x0[returns - 1] = f->regs.x[0];
		ret_pc[returns - 1] = f->regs.pc;
	}
}

/*
 * caller: CODE+0  bl F; b pad 9; nop
 * F (CODE+12): paciasp; stp x29, x30, [sp, #-16]!; cbz x1, 1f; sub x1, x1, #1; bl F
 *          1:  add x0, x0, #1; ldp x29, x30, [sp], #16; autiasp; ret
 * (bti c for paciasp: then nop for autiasp)
 */
static int build(uint32_t *w, uint32_t entry)
{
	int n = 0;

	w[n++] = enc_bl(12);
	w[n++] = enc_b((int64_t)(sb_pad(9) - sb_addr(SB_CODE + 4)));
	w[n++] = ENC_NOP;
	w[n++] = entry; /* F */
	w[n++] = enc_stp_pre(29, 30, 31, -2);
	w[n++] = enc_cbz(1, 0, 1, 12);
	w[n++] = enc_addsub_imm(1, 1, 0, 1, 1, 1);
	w[n++] = enc_bl(-16);
	w[n++] = enc_addsub_imm(1, 0, 0, 0, 0, 1);
	w[n++] = enc_ldp_post(29, 30, 31, 2);
	w[n++] = entry == ENC_PACIASP ? ENC_AUTIASP : ENC_NOP;
	w[n++] = enc_ret(30);
	return n;
}

static void calls(uint32_t entry, uint64_t depth)
{
	uint32_t w[16];
	int n = build(w, entry);
	struct sb_state in, out;
	struct sb_probe pr;

	for (int mode = SB_BRK; mode <= SB_JUMP; mode++) {
		sb_state_random(&in, depth * 7 + mode);
		in.x[1] = depth;
		sb_mode = mode;
		sb_hook = on_entry;
		sb_want_hits = (int)depth + 1;
		top = entries = returns = 0;
		if (sb_compare(mode ? "jump" : "brk", w, n, 3, &in, depth, &pr, &out))
			TL_FAIL("%s, depth %llu: differs from the unprobed run", mode ? "jump" : "brk",
				(unsigned long long)depth);
		CHECK_EQ_INT(entries, depth + 1);
		CHECK_EQ_INT(returns, depth + 1);
		CHECK_EQ_INT(top, 0);
		CHECK_EQ_U64(out.x[30], sb_addr(SB_CODE + 4));
		CHECK_EQ_U64(out.x[0], in.x[0] + depth + 1);
		for (uint64_t k = 0; k <= depth; k++) {
			/* newest first: the innermost call returns to F+20, the outermost to CODE+4 */
			CHECK_EQ_U64(ret_x0[k], in.x[0] + k + 1);
			CHECK_EQ_U64(ret_pc[k], k == depth ? sb_addr(SB_CODE + 4)
							 : sb_addr(SB_CODE + 12 + 20));
		}
	}
	sb_hook = NULL;
	sb_want_hits = 1;
	sb_mode = SB_BRK;
}

/* A function that starts with paciasp: x30 is hijacked before it is signed. */
static void test_pac_entry(void)
{
	calls(ENC_PACIASP, 0);
}

/* Recursion: four calls in flight, returns newest first. */
static void test_recursion(void)
{
	calls(ENC_PACIASP, 3);
}

/* A function that starts with bti c (Debian's libc without PAC). */
static void test_bti_entry(void)
{
	calls(ENC_BTI_C, 2);
}

int main(void)
{
	sb_init();
	RUN(test_pac_entry);
	RUN(test_recursion);
	RUN(test_bti_entry);
	TL_EXIT();
}
