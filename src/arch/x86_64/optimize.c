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

#include "arch/x86_64/optimize.h"
#include "arch/x86_64/regs.h"

#define REL32_REACH ((int64_t)INT32_MAX - 256)

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

static int window_collect(const uint8_t *func, size_t func_len, uint64_t func_addr, uint64_t addr,
			  struct arch_window *w, char *why, size_t whylen)
{
	size_t off = addr - func_addr;
	char text[96];

	memset(w, 0, sizeof(*w));
	while (w->len < ARCH_JMP_LEN) {
		struct arch_insn *ai = &w->insn[w->n];
		int err;

		if (off + w->len >= func_len || w->n == ARCH_WINDOW_MAX) {
			snprintf(why, whylen, "the function ends %zu bytes after the probe, before "
					      "the 5-byte jump would", func_len - off);
			return -ENOTSUP;
		}
		err = arch_insn_analyze(ai, func + off + w->len, func_len - off - w->len,
					addr + w->len, text, sizeof(text));
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
	if (off + w->len > func_len) {
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

int arch_window_plan(const uint8_t *func, size_t func_len, uint64_t func_addr, uint64_t addr,
		     struct arch_window *w, char *why, size_t whylen)
{
	int err = window_collect(func, func_len, func_addr, addr, w, why, whylen);

	return err ? err : window_scan_function(func, func_len, func_addr, w, addr, why, whylen);
}

static void range_clip(uint64_t x, uint64_t *lo, uint64_t *hi)
{
	uint64_t l = x > (uint64_t)REL32_REACH ? x - REL32_REACH : 0;
	uint64_t h = x + REL32_REACH < x ? UINT64_MAX : x + REL32_REACH;

	if (l > *lo)
		*lo = l;
	if (h < *hi)
		*hi = h;
}

void arch_window_range(const struct arch_window *w, uint64_t *lo, uint64_t *hi)
{
	*lo = 0;
	*hi = UINT64_MAX;
	range_clip(w->insn[0].addr, lo, hi);
	for (unsigned k = 0; k < w->n; k++) {
		if (w->insn[k].riprel_off)
			range_clip(w->insn[k].riprel_addr, lo, hi);
		if (op_is_branch(w->insn[k].op))
			range_clip(w->insn[k].target, lo, hi);
	}
}

static int put_rel32(uint8_t *at, uint64_t next_ip, uint64_t target)
{
	int64_t rel = (int64_t)(target - next_ip);
	int32_t r32 = (int32_t)rel;

	if (rel != r32)
		return -ERANGE;
	memcpy(at, &r32, 4);
	return 0;
}

static int put_jmp(uint8_t *out, int pos, uint64_t base, uint64_t target)
{
	out[pos] = 0xe9;
	return put_rel32(out + pos + 1, base + pos + 5, target) ? -ERANGE : pos + 5;
}

static int put_push_ret(uint8_t *out, int pos, uint64_t ret)
{
	uint32_t lo = (uint32_t)ret, hi = (uint32_t)(ret >> 32);

	out[pos] = 0x68;
	memcpy(out + pos + 1, &lo, 4);
	memcpy(out + pos + 5, "\xc7\x44\x24\x04", 4);
	memcpy(out + pos + 9, &hi, 4);
	return pos + 13;
}

/* The instruction itself at out[pos], RIP-relative displacement re-targeted. */
static int put_insn(const struct arch_insn *ai, uint8_t *out, int pos, uint64_t base)
{
	memcpy(out + pos, ai->bytes, ai->len);
	if (ai->riprel_off &&
	    put_rel32(out + pos + ai->riprel_off, base + pos + ai->len, ai->riprel_addr))
		return -ERANGE;
	return pos + ai->len;
}

static int copy_one(const struct arch_insn *ai, uint8_t *out, int pos, uint64_t base)
{
	uint64_t next = ai->addr + ai->len;

	switch (ai->op) {
	case ARCH_OP_JMP_REL:
		return put_jmp(out, pos, base, ai->target);
	case ARCH_OP_JCC_REL:
		out[pos] = 0x0f;
		out[pos + 1] = 0x80 | ai->cond;
		return put_rel32(out + pos + 2, base + pos + 6, ai->target) ? -ERANGE : pos + 6;
	case ARCH_OP_LOOP:
	case ARCH_OP_JRCXZ:
		memcpy(out + pos, ai->bytes, ai->len);
		out[pos + ai->len - 1] = 2;
		out[pos + ai->len] = 0xeb;
		out[pos + ai->len + 1] = 5;
		return put_jmp(out, pos + ai->len + 2, base, ai->target);
	case ARCH_OP_CALL_REL:
		pos = put_push_ret(out, pos, next);
		return put_jmp(out, pos, base, ai->target);
	case ARCH_OP_CALL_REG:
	case ARCH_OP_CALL_MEM:
		/* call *x -> push the return address, then jmp *x (ModRM /2 -> /4). */
		pos = put_push_ret(out, pos, next);
		pos = put_insn(ai, out, pos, base);
		if (pos > 0)
			out[pos - ai->len + ai->modrm_off] =
				(out[pos - ai->len + ai->modrm_off] & ~0x38) | (4 << 3);
		return pos;
	default:
		return put_insn(ai, out, pos, base);
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
		pos = put_jmp(out, pos, at, w->insn[0].addr + w->len);
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
