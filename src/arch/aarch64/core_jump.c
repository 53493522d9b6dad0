// SPDX-License-Identifier: MIT
/*
 * The core's side of jump optimization on aarch64 (arch/arch.h): the window is
 * the probed instruction, the trampoline arch_jump_build's, its tail the
 * window's copy. Apart from jump.c: the tests that drive the arch layer alone
 * link without the core (dispatch_jump).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/arch.h"

size_t arch_scan_branches(const uint8_t *code, size_t len, uint64_t base,
			  void (*fn)(uint64_t src, uint64_t target, void *arg), void *arg)
{
	(void)code, (void)len, (void)base, (void)fn, (void)arg;
	return 0;
}

int arch_window_plan(const uint8_t *func, size_t func_len, size_t pad, uint64_t func_addr,
		     uint64_t addr, struct arch_window *w, char *why, size_t whylen)
{
	size_t off = addr - func_addr;
	int err;

	(void)pad;
	memset(w, 0, sizeof(*w));
	if (addr < func_addr || off + 4 > func_len) {
		snprintf(why, whylen, "0x%lx is outside its function", addr);
		return -ENOTSUP;
	}
	if (arch_insn_in_exclusive(func, func_len, off, func_addr, why, whylen))
		return -ENOTSUP;
	err = arch_insn_analyze(&w->insn[0], func + off, 4, addr, why, whylen);
	if (err)
		return -ENOTSUP;
	w->len = 4;
	w->n = 1;
	w->no_return = w->insn[0].op == ARCH_OP_NO_RETURN;
	return 0;
}

void arch_window_range(const struct arch_window *w, uint64_t *lo, uint64_t *hi)
{
	uint64_t addr = w->insn[0].addr, reach = ARCH_B_REACH - ARCH_TRAMP_MAX;

	/* the b at addr, the tail's b back to addr + 4 (and to a branch's target: else slow) */
	*lo = addr > reach ? addr - reach : 0;
	*hi = addr < UINT64_MAX - reach ? addr + reach : UINT64_MAX;
}

int arch_tramp_begin(struct arch_tramp_req *r, uint8_t *code, uint64_t *lo, uint64_t *hi,
		     const char **why)
{
	(void)code, (void)why;
	r->lean = false;
	r->off = 0;
	arch_window_range(r->win, lo, hi);
	return ARCH_TRAMP_MAX;
}

int arch_tramp_finish(struct arch_tramp_req *r, uint8_t *code, uint64_t tramp, uint64_t *copy,
		      const char **why)
{
	const struct arch_insn *ai = &r->win->insn[0];
	struct arch_jump_data d;
	int len = arch_jump_build(ai, tramp, dispatch_jump, r->rec, r->simd, code, NULL);

	if (len < 0) {
		*why = len == -ERANGE ? "the trampoline is out of reach of the probe or its tail"
				      : "the trampoline cannot execute the instruction";
		return len;
	}
	/*
	 * While the b goes in or out, a hit takes the breakpoint and runs the copy:
	 * the tail, for what it holds as is ([insn][b back], [insn]); else emulated.
	 */
	memcpy(&d, code + len - sizeof(d), sizeof(d));
	*copy = ai->op == ARCH_OP_XOL || ai->op == ARCH_OP_NO_RETURN ? d.tail : 0;
	r->win->copy_off[0] = (uint8_t)0;
	r->win->copy_len = 0;
	return len;
}
