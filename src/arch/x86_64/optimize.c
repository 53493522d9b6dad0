/* SPDX-License-Identifier: MIT */
/*
 * Window planning and the relocated copy for jump-optimized probes (see
 * optimize.h). Copy forms per instruction (the copy runs at another address):
 *
 *   generic      [insn, RIP-relative disp32 re-targeted]
 *   jcc rel      [0f 8x <target>]                      falls through to the next
 *   loop/jrcxz   [e2|e1|e0|(67) e3 02][eb 05][e9 <target>]
 *   jmp rel      [e9 <target>]                         last only
 *   call rel     [68 lo32][c7 44 24 04 hi32][e9 <target>]   last only: returns
 *                to addr + len, exactly where the original would
 *   call *r/m    [68 lo32][c7 44 24 04 hi32][jmp *r/m]      last only
 *   ret, jmp *x  [insn]                                last only
 *   then         [e9 <addr + len>] unless the last instruction never falls through
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/emit.h"
#include "arch/x86_64/optimize.h"
#include "arch/x86_64/regs.h"

#define REL32_SLACK 256 /* the copy is at most ARCH_WINDOW_COPY_MAX bytes */

static bool op_is_branch(uint8_t op)
{
	return op >= ARCH_OP_JMP_REL && op <= ARCH_OP_JRCXZ;
}

static bool op_is_call(const struct arch_insn *ai)
{
	return ai->op == ARCH_OP_CALL_REL || ai->op == ARCH_OP_CALL_REG || ai->op == ARCH_OP_CALL_MEM;
}

/* Control does not continue in the copy after these (a call returns to addr + len). */
static bool op_leaves_copy(const struct arch_insn *ai)
{
	switch (ai->op) {
	case ARCH_OP_JMP_REL:
	case ARCH_OP_CALL_REL:
	case ARCH_OP_CALL_REG:
	case ARCH_OP_CALL_MEM:
	case ARCH_OP_NO_RETURN:
		return true;
	default:
		return false;
	}
}

/* Does control never go on to the next instruction after ai (ret, jmp)? */
static bool op_stops(const struct arch_insn *ai)
{
	return ai->op == ARCH_OP_NO_RETURN || ai->op == ARCH_OP_JMP_REL;
}

/* The refusal of a window the function's end (then its padding: more) cuts short. */
static int ends(size_t left, const char *more, char *why, size_t whylen)
{
	snprintf(why, whylen, "the function ends %zu bytes after the probe, before the 5-byte "
		 "jump would%s", left, more);
	return -ENOTSUP;
}

static int window_collect(const uint8_t *func, size_t func_len, size_t pad, uint64_t func_addr,
			  uint64_t addr, struct arch_window *w, char *why, size_t whylen)
{
	size_t off = addr - func_addr, end = func_len;
	char text[96];

	memset(w, 0, sizeof(*w));
	while (w->len < ARCH_JMP_LEN) {
		struct arch_insn *ai = &w->insn[w->n];
		bool in_pad = off + w->len >= func_len;
		int err;

		/* Past the extent: only its padding, where nothing runs after a ret or jmp. */
		if (off + w->len == func_len && pad && w->n && op_stops(&w->insn[w->n - 1]))
			end = func_len + pad;
		if (off + w->len >= end || w->n == ARCH_WINDOW_MAX)
			return ends(func_len - off, "", why, whylen);
		err = arch_insn_analyze(ai, func + off + w->len, end - off - w->len,
					addr + w->len, text, sizeof(text));
		/* endbr64 is a nop that starts code: a function, not padding */
		if (in_pad && (err || ai->op != ARCH_OP_NOP || ai->bytes[ai->len - 1] == 0xfa))
			return ends(func_len - off, ", and its padding is not nops", why, whylen);
		if (err) {
			snprintf(why, whylen, "instruction at +%u of the window: %s", w->len, text);
			return -ENOTSUP;
		}
		w->orig_off[w->n++] = w->len;
		w->len += ai->len;
		/*
		 * A ret or jmp may be followed by more of the window: bytes only a
		 * branch (checked) or a handler's new rip can reach; the copy keeps
		 * them. A call may not: its return address would point inside.
		 */
		if (op_is_call(ai) && w->len < ARCH_JMP_LEN) {
			arch_insn_format(ai->bytes, ai->len, ai->addr, text, sizeof(text));
			snprintf(why, whylen, "'%s' would not be the last instruction of the window",
				 text);
			return -ENOTSUP;
		}
		if (ai->op == ARCH_OP_CALL_MEM && ai->base_rsp) {
			snprintf(why, whylen, "call through an rsp-based operand");
			return -ENOTSUP;
		}
		if (ai->op == ARCH_OP_CALL_REG && ai->reg == REGS_IDX(rsp)) {
			snprintf(why, whylen, "call *%%rsp");
			return -ENOTSUP;
		}
	}
	if (off + w->len > end) {
		snprintf(why, whylen, "the window would run past the end of the function");
		return -ENOTSUP;
	}
	w->no_return = op_leaves_copy(&w->insn[w->n - 1]) && !op_is_call(&w->insn[w->n - 1]);
	return 0;
}

/* Decode the whole function: no branch may land inside the window. */
static int window_scan_function(const uint8_t *func, size_t func_len, uint64_t func_addr,
				struct arch_window *w, uint64_t addr, char *why, size_t whylen)
{
	for (size_t pos = 0; pos < func_len;) {
		struct arch_insn ai;
		char text[96];
		uint64_t at = func_addr + pos;

		if (arch_insn_analyze(&ai, func + pos, func_len - pos, at, NULL, 0) == -EILSEQ) {
			snprintf(why, whylen, "cannot decode the function at +0x%zx", pos);
			return -ENOTSUP;
		}
		if (!ai.len)
			ai.len = arch_insn_length(func + pos, func_len - pos, at);
		if (!ai.len)
			return -ENOTSUP;
		if (op_is_branch(ai.op) && ai.target > addr && ai.target < addr + w->len) {
			snprintf(why, whylen, "the jump at +0x%zx targets byte %u of the window", pos,
				 (unsigned)(ai.target - addr));
			return -ENOTSUP;
		}
		if (ai.op == ARCH_OP_NO_RETURN && ai.indirect_jmp && !ai.riprel_off &&
		    !w->indirect_jmps++) {
			arch_insn_format(ai.bytes, ai.len, at, text, sizeof(text));
			snprintf(w->indirect_why, sizeof(w->indirect_why),
				 "indirect jump '%s' at +0x%zx", text, pos);
		}
		/* lea of an address outside the function: a jump table candidate. */
		if (ai.riprel_off && ai.bytes[ai.riprel_off - 2] == 0x8d &&
		    (ai.riprel_addr < func_addr || ai.riprel_addr >= func_addr + func_len) &&
		    w->ntables < sizeof(w->tables) / sizeof(w->tables[0]))
			w->tables[w->ntables++] = ai.riprel_addr;
		pos += ai.len;
	}
	return 0;
}

int arch_window_plan(const uint8_t *func, size_t func_len, size_t pad, uint64_t func_addr,
		     uint64_t addr, struct arch_window *w, char *why, size_t whylen)
{
	int err = window_collect(func, func_len, pad, func_addr, addr, w, why, whylen);

	return err ? err : window_scan_function(func, func_len, func_addr, w, addr, why, whylen);
}

void arch_window_range(const struct arch_window *w, uint64_t *lo, uint64_t *hi)
{
	*lo = 0;
	*hi = UINT64_MAX;
	emit_reach_clip(w->insn[0].addr, REL32_SLACK, lo, hi);
	for (unsigned k = 0; k < w->n; k++) {
		if (w->insn[k].riprel_off)
			emit_reach_clip(w->insn[k].riprel_addr, REL32_SLACK, lo, hi);
		if (op_is_branch(w->insn[k].op))
			emit_reach_clip(w->insn[k].target, REL32_SLACK, lo, hi);
	}
}

static int copy_one(const struct arch_insn *ai, uint8_t *out, int pos, uint64_t base)
{
	switch (ai->op) {
	case ARCH_OP_JMP_REL:
		return emit_jmp(out, pos, base, ai->target);
	case ARCH_OP_JCC_REL:
		return emit_jcc(out, pos, base, ai->cond, ai->target);
	case ARCH_OP_LOOP:
	case ARCH_OP_JRCXZ:
		return emit_loop(ai, out, pos, base);
	case ARCH_OP_CALL_REL:
		return emit_jmp(out, emit_push_ret(out, pos, ai->addr + ai->len), base, ai->target);
	case ARCH_OP_CALL_REG:
	case ARCH_OP_CALL_MEM:
		return emit_call_indirect(ai, out, pos, base);
	default:
		return emit_insn(ai, out, pos, base);
	}
}

int arch_window_copy(struct arch_window *w, uint64_t at, uint8_t *out)
{
	int pos = 0;

	for (unsigned k = 0; k < w->n; k++) {
		w->copy_off[k] = pos;
		pos = copy_one(&w->insn[k], out, pos, at);
		if (pos < 0)
			return pos;
	}
	if (!op_leaves_copy(&w->insn[w->n - 1]))
		pos = emit_jmp(out, pos, at, w->insn[0].addr + w->len);
	if (pos < 0)
		return pos;
	w->copy_len = pos;
	return pos;
}

size_t arch_scan_branches(const uint8_t *code, size_t len, uint64_t base,
			  void (*fn)(uint64_t src, uint64_t target, void *arg), void *arg)
{
	size_t n = 0;

	for (size_t pos = 0; pos < len;) {
		struct arch_insn ai;
		int err = arch_insn_analyze(&ai, code + pos, len - pos, base + pos, NULL, 0);

		if (err == -EILSEQ || !ai.len) {
			pos++; /* not code (or a desynchronised sweep): resynchronise */
			continue;
		}
		if (!err && op_is_branch(ai.op)) {
			fn(base + pos, ai.target, arg);
			n++;
		}
		pos += ai.len;
	}
	return n;
}
