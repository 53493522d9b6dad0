/* SPDX-License-Identifier: MIT */
/*
 * Return sites: the exits of a function and the window each one would be
 * patched in (see retsite.h). Three passes over the extent:
 *
 *   sweep    decode linearly from the start, mark instruction starts and the
 *            targets of the function's own direct branches;
 *   exits    classify each instruction: an exit, a refusal, or code that
 *            goes on; the last one must not fall through past the extent;
 *   windows  give each exit 5 bytes: its own, the padding after it, the
 *            plain instructions before it in its block.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "arch/x86_64/insn.h"
#include "arch/x86_64/retsite.h"

#define MARK_INSN 1u   /* an instruction starts here */
#define MARK_TARGET 2u /* a branch of the function lands here */
#define JMP_LEN 5
#define WINDOW_BACK_MAX 4 /* instructions taken before an exit */

/* How control leaves an instruction. */
enum flow { FLOW_NEXT, FLOW_STOP };

struct ctx {
	struct arch_retsites *rs;
	const uint8_t *code;
	size_t size, after;
	uint8_t *marks;
	arch_target_fn target_kind;
	void *target_ctx;
	size_t table_lea; /* +1 of the last lea of an address outside the extent, or 0 */
};

static int refuse(struct arch_retsites *rs, int refusal, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int refuse(struct arch_retsites *rs, int refusal, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(rs->why, sizeof(rs->why), fmt, ap);
	va_end(ap);
	rs->refusal = refusal;
	return -ENOTSUP;
}

static void insn_text(const struct arch_insn *ai, char *buf, size_t len)
{
	arch_insn_format(ai->bytes, ai->len, ai->addr, buf, len);
}

static bool is_rel_branch(uint8_t op)
{
	return op == ARCH_OP_JMP_REL || op == ARCH_OP_JCC_REL || op == ARCH_OP_LOOP ||
	       op == ARCH_OP_JRCXZ;
}

static bool in_extent(const struct ctx *c, uint64_t addr)
{
	return addr >= c->rs->start && addr < c->rs->start + c->size;
}

/* ud2, hlt, int3: the refused instructions after which nothing runs. */
static bool is_trap(const struct arch_insn *ai)
{
	return ai->bytes[0] == 0xcc || ai->bytes[0] == 0xf4 ||
	       (ai->len == 2 && ai->bytes[0] == 0x0f && ai->bytes[1] == 0x0b);
}

/* Pass 1: instruction starts and the targets of the function's own branches. */
static int sweep(struct ctx *c)
{
	struct arch_retsites *rs = c->rs;

	for (size_t pos = 0; pos < c->size;) {
		struct arch_insn ai;
		uint64_t at = rs->start + pos;
		int err = arch_insn_analyze(&ai, c->code + pos, c->size - pos, at, NULL, 0);

		if (err == -EILSEQ && arch_insn_length(c->code + pos, c->size + c->after - pos, at))
			return refuse(rs, ARCH_RETSITE_PAST_END, "the instruction at +0x%zx runs "
				      "past the extent's end (+0x%zx)", pos, c->size);
		if (err == -EILSEQ || !ai.len)
			return refuse(rs, ARCH_RETSITE_UNDECODABLE, "the bytes at +0x%zx do not "
				      "decode (%02x ...)", pos, c->code[pos]);
		c->marks[pos] |= MARK_INSN;
		rs->n_insns++;
		if (!err && is_rel_branch(ai.op) && in_extent(c, ai.target)) {
			if (ai.target == rs->start)
				return refuse(rs, ARCH_RETSITE_TO_ENTRY, "the branch at +0x%zx goes "
					      "back to the entry (a call would not)", pos);
			c->marks[ai.target - rs->start] |= MARK_TARGET;
		}
		pos += ai.len;
	}
	for (size_t pos = 0; pos < c->size; pos++)
		if ((c->marks[pos] & MARK_TARGET) && !(c->marks[pos] & MARK_INSN))
			return refuse(rs, ARCH_RETSITE_MID_INSN, "a branch lands at +0x%zx, inside "
				      "an instruction", pos);
	return 0;
}

static int add_exit(struct ctx *c, const struct arch_insn *ai, int kind, uint64_t target)
{
	struct arch_retsites *rs = c->rs;
	struct arch_exit *e;

	if (rs->n == ARCH_RETSITE_MAX)
		return refuse(rs, ARCH_RETSITE_TOO_MANY, "more than %d exits",
			      ARCH_RETSITE_MAX);
	e = &rs->exit[rs->n++];
	memset(e, 0, sizeof(*e));
	e->addr = ai->addr;
	e->len = ai->len;
	e->kind = kind;
	e->target = target;
	rs->count[kind]++;
	return 0;
}

/* A direct branch (jmp, jcc, call) out of the extent. */
static int branch_out(struct ctx *c, const struct arch_insn *ai, size_t pos)
{
	char name[128] = "", text[96];
	enum arch_target_kind k = c->target_kind(ai->target, c->target_ctx, name, sizeof(name));
	bool call = ai->op == ARCH_OP_CALL_REL;

	if (k == ARCH_TARGET_NORETURN)
		return add_exit(c, ai, ARCH_EXIT_NORETURN, ai->target) ?: FLOW_STOP;
	if (call)
		return FLOW_NEXT;
	insn_text(ai, text, sizeof(text));
	if (k == ARCH_TARGET_PART)
		return refuse(c->rs, ARCH_RETSITE_PART, "'%s' at +0x%zx jumps to %s, a part of "
			      "a function elsewhere", text, pos, name);
	if (k == ARCH_TARGET_NONE || ai->op == ARCH_OP_LOOP || ai->op == ARCH_OP_JRCXZ)
		return refuse(c->rs, ARCH_RETSITE_JUMP_OUT, "'%s' at +0x%zx jumps out to 0x%lx, "
			      "where no function starts%s%s", text, pos, ai->target,
			      name[0] ? ": inside " : "", name);
	if (ai->op == ARCH_OP_JCC_REL)
		return add_exit(c, ai, ARCH_EXIT_TAIL_JCC, ai->target) ?: FLOW_NEXT;
	return add_exit(c, ai, ARCH_EXIT_TAIL, ai->target) ?: FLOW_STOP;
}

/*
 * jmp *x: a tail call through the GOT (jmp *disp32(%rip)) leaves; a jump
 * through a register or an indexed operand may stay inside (a jump table).
 */
static int indirect_jump(struct ctx *c, const struct arch_insn *ai, size_t pos)
{
	unsigned i = 0;
	uint8_t rex = 0, modrm;
	bool notrack = false;
	char text[96];

	for (; i + 1 < ai->len && ai->bytes[i] != 0xff; i++) {
		notrack |= ai->bytes[i] == 0x3e;
		if ((ai->bytes[i] & 0xf0) == 0x40)
			rex = ai->bytes[i];
	}
	modrm = ai->bytes[i + 1];
	insn_text(ai, text, sizeof(text));
	if (ai->riprel_off && !notrack)
		return add_exit(c, ai, ARCH_EXIT_TAIL_GOT, 0) ?: FLOW_STOP;
	if (notrack)
		return refuse(c->rs, ARCH_RETSITE_JUMP_TABLE, "jump table: '%s' at +0x%zx (notrack)",
			      text, pos);
	if ((modrm >> 6) != 3 && (modrm & 7) == 4 && i + 2 < ai->len &&
	    ((((ai->bytes[i + 2] >> 3) & 7) | ((rex & 2) << 2)) != 4))
		return refuse(c->rs, ARCH_RETSITE_JUMP_TABLE, "jump table: '%s' at +0x%zx "
			      "(indexed)", text, pos);
	if (c->table_lea)
		return refuse(c->rs, ARCH_RETSITE_JUMP_TABLE, "jump table: '%s' at +0x%zx, its "
			      "table's address taken at +0x%zx", text, pos, c->table_lea - 1);
	return refuse(c->rs, ARCH_RETSITE_INDIRECT, "indirect jump '%s' at +0x%zx may stay "
		      "inside the function", text, pos);
}

/*
 * Among the instructions a probe refuses (arch_insn_analyze -ENOTSUP), those
 * that transfer control where this analysis does not follow: far returns
 * and iret (exits of their own), far jmp/call, xbegin (its abort path
 * branches), a relative branch with an operand-size prefix (ip truncated).
 */
static bool odd_branch(const struct arch_insn *ai)
{
	unsigned i = 0;
	bool opsize = false;
	uint8_t op, modrm;

	for (; i < ai->len; i++) {
		uint8_t b = ai->bytes[i];

		if (b == 0x66)
			opsize = true;
		else if (b != 0x67 && b != 0xf2 && b != 0xf3 && b != 0x2e && b != 0x3e &&
			 b != 0x26 && b != 0x36 && b != 0x64 && b != 0x65 && (b & 0xf0) != 0x40)
			break;
	}
	if (i >= ai->len)
		return false;
	op = ai->bytes[i];
	modrm = i + 1 < ai->len ? ai->bytes[i + 1] : 0;
	if (op == 0xca || op == 0xcb || op == 0xcf || (op == 0xc7 && modrm == 0xf8))
		return true;
	if (op == 0xff && (((modrm >> 3) & 7) == 3 || ((modrm >> 3) & 7) == 5))
		return true;
	return opsize && (op == 0xe8 || op == 0xe9 || op == 0xeb || (op & 0xf0) == 0x70 ||
			  (op == 0x0f && (modrm & 0xf0) == 0x80));
}

/* Pass 2, one instruction: FLOW_NEXT, FLOW_STOP or -ENOTSUP. */
static int classify(struct ctx *c, const struct arch_insn *ai, int err, size_t pos)
{
	char text[96];

	if (err && odd_branch(ai)) {
		insn_text(ai, text, sizeof(text));
		return refuse(c->rs, ARCH_RETSITE_ODD_BRANCH, "'%s' at +0x%zx: a control "
			      "transfer this analysis does not follow", text, pos);
	}
	if (err)
		return is_trap(ai) ? FLOW_STOP : FLOW_NEXT;
	if (ai->riprel_off && ai->bytes[ai->riprel_off - 2] == 0x8d && !in_extent(c, ai->riprel_addr))
		c->table_lea = pos + 1;
	switch (ai->op) {
	case ARCH_OP_NO_RETURN:
		if (ai->indirect_jmp)
			return indirect_jump(c, ai, pos);
		return add_exit(c, ai, ARCH_EXIT_RET, 0) ?: FLOW_STOP;
	case ARCH_OP_JMP_REL:
		return in_extent(c, ai->target) ? FLOW_STOP : branch_out(c, ai, pos);
	case ARCH_OP_JCC_REL:
	case ARCH_OP_LOOP:
	case ARCH_OP_JRCXZ:
	case ARCH_OP_CALL_REL:
		return in_extent(c, ai->target) ? FLOW_NEXT : branch_out(c, ai, pos);
	default:
		return FLOW_NEXT;
	}
}

static size_t pad_len(const struct ctx *c, size_t pos);

static int exits(struct ctx *c)
{
	struct arch_retsites *rs = c->rs;
	struct arch_insn ai = { 0 };
	size_t pos = 0, last = 0;
	int flow = FLOW_NEXT;
	char text[96];

	while (pos < c->size) {
		size_t pad = flow == FLOW_STOP ? pad_len(c, pos) : 0;
		int err;

		if (pad) { /* alignment no path reaches: not code that falls through */
			pos += pad;
			continue;
		}
		err = arch_insn_analyze(&ai, c->code + pos, c->size - pos, rs->start + pos, NULL, 0);
		flow = classify(c, &ai, err, pos);
		if (flow < 0)
			return flow;
		last = pos;
		pos += ai.len;
	}
	if (flow == FLOW_NEXT) {
		insn_text(&ai, text, sizeof(text));
		return refuse(rs, ARCH_RETSITE_FALLS_THROUGH, "'%s' at +0x%zx, its last "
			      "instruction, falls through: the code after its extent would run",
			      text, last);
	}
	return 0;
}

/* Length of padding (nop, int3) at pos that no branch reaches, or 0. */
static size_t pad_len(const struct ctx *c, size_t pos)
{
	struct arch_insn ai;
	size_t avail = c->size + c->after - pos;

	if (pos >= c->size + c->after || (pos < c->size && (c->marks[pos] & MARK_TARGET)))
		return 0;
	if (c->code[pos] == 0xcc || c->code[pos] == 0x90)
		return 1;
	if (arch_insn_analyze(&ai, c->code + pos, avail, c->rs->start + pos, NULL, 0) ||
	    ai.op != ARCH_OP_NOP || ai.bytes[ai.len - 1] == 0xfa) /* endbr64 starts code */
		return 0;
	if (pos < c->size && pos + ai.len > c->size)
		return 0;
	return ai.len;
}

/* The instruction that ends at pos, if plain enough to move into a window. */
static bool plain_before(const struct ctx *c, size_t pos, size_t *prev)
{
	struct arch_insn ai;
	size_t p = pos;

	while (p > 0 && !(c->marks[--p] & MARK_INSN))
		;
	if (p == pos || !(c->marks[p] & MARK_INSN))
		return false;
	if (arch_insn_analyze(&ai, c->code + p, c->size - p, c->rs->start + p, NULL, 0))
		return false;
	if (ai.op != ARCH_OP_XOL && ai.op != ARCH_OP_NOP && ai.op != ARCH_OP_PUSH_REG)
		return false;
	*prev = p;
	return true;
}

/* Pass 3, one exit: its window of at least 5 bytes. */
static int exit_window(struct ctx *c, struct arch_exit *e)
{
	size_t lo = e->addr - c->rs->start, hi = lo + e->len, prev, n;
	unsigned back = 0;

	if (e->len >= JMP_LEN) {
		e->win = e->addr;
		e->win_len = e->len;
		return 0;
	}
	while (e->kind != ARCH_EXIT_TAIL_JCC && hi - lo < JMP_LEN && (n = pad_len(c, hi)))
		hi += n;
	while (hi - lo < JMP_LEN && !(c->marks[lo] & MARK_TARGET) && back++ < WINDOW_BACK_MAX &&
	       plain_before(c, lo, &prev))
		lo = prev;
	if (hi - lo < JMP_LEN)
		return refuse(c->rs, ARCH_RETSITE_SHORT_EXIT, "the %s at +0x%lx has %zu of the 5 "
			      "bytes a jump needs (%s)", arch_exit_kind_name(e->kind),
			      e->addr - c->rs->start, hi - lo,
			      (c->marks[lo] & MARK_TARGET) ? "a branch lands at its window's start"
							   : "no padding, no plain code before it");
	e->win = c->rs->start + lo;
	e->win_len = hi - lo;
	return 0;
}

/* The entry's jump covers the instructions up to the first boundary at +5 or later. */
static size_t entry_len(const struct ctx *c)
{
	size_t pos = JMP_LEN;

	while (pos < c->size && !(c->marks[pos] & MARK_INSN))
		pos++;
	return pos;
}

static int windows(struct ctx *c)
{
	struct arch_retsites *rs = c->rs;
	uint64_t free_from = rs->start + entry_len(c);

	for (unsigned i = 0; i < rs->n; i++) {
		struct arch_exit *e = &rs->exit[i];
		int err;

		if (e->kind == ARCH_EXIT_NORETURN)
			continue;
		/* A ret the entry's jump covers: patched in the entry's copy, no window here. */
		if (e->kind == ARCH_EXIT_RET && e->addr < rs->start + entry_len(c)) {
			e->in_entry = 1;
			e->win = e->addr;
			e->win_len = e->len;
			rs->in_entry++;
			continue;
		}
		err = exit_window(c, e);
		if (err)
			return err;
		if (e->win < free_from)
			return refuse(rs, ARCH_RETSITE_OVERLAP, "the %s at +0x%lx: its window "
				      "overlaps %s", arch_exit_kind_name(e->kind),
				      e->addr - rs->start, e->win < rs->start + entry_len(c)
				      ? "the entry's jump" : "another exit's");
		free_from = e->win + e->win_len;
	}
	return 0;
}

int arch_retsite_analyze(struct arch_retsites *rs, const uint8_t *code, size_t size,
			 size_t after, uint64_t start, uint8_t *marks, arch_target_fn target_kind,
			 void *ctx)
{
	struct ctx c = {
		.rs = rs, .code = code, .size = size, .after = after, .marks = marks,
		.target_kind = target_kind, .target_ctx = ctx,
	};

	memset(rs, 0, offsetof(struct arch_retsites, exit));
	rs->start = start;
	rs->size = size;
	memset(marks, 0, size);
	return sweep(&c) ?: exits(&c) ?: windows(&c);
}

const char *arch_exit_kind_name(int kind)
{
	static const char *const names[ARCH_EXIT_KINDS] = {
		[ARCH_EXIT_RET] = "ret", [ARCH_EXIT_TAIL] = "tail jump",
		[ARCH_EXIT_TAIL_JCC] = "conditional tail jump",
		[ARCH_EXIT_TAIL_GOT] = "tail jump through the GOT",
		[ARCH_EXIT_NORETURN] = "no-return call",
	};

	return kind >= 0 && kind < ARCH_EXIT_KINDS ? names[kind] : "?";
}

const char *arch_retsite_refusal_name(int refusal)
{
	static const char *const names[ARCH_RETSITE_REFUSALS] = {
		[ARCH_RETSITE_OK] = "eligible",
		[ARCH_RETSITE_UNDECODABLE] = "undecodable",
		[ARCH_RETSITE_PAST_END] = "instruction past the extent",
		[ARCH_RETSITE_MID_INSN] = "branch into an instruction",
		[ARCH_RETSITE_TO_ENTRY] = "branch to the entry",
		[ARCH_RETSITE_INDIRECT] = "indirect jump",
		[ARCH_RETSITE_JUMP_TABLE] = "jump table",
		[ARCH_RETSITE_JUMP_OUT] = "jump out to no function",
		[ARCH_RETSITE_PART] = "jump to a cold part",
		[ARCH_RETSITE_FALLS_THROUGH] = "code after the extent reached",
		[ARCH_RETSITE_SHORT_EXIT] = "exit too short to patch",
		[ARCH_RETSITE_OVERLAP] = "windows overlap",
		[ARCH_RETSITE_TOO_MANY] = "too many exits",
		[ARCH_RETSITE_ODD_BRANCH] = "control transfer not followed",
		[ARCH_RETSITE_FOREIGN] = "branch from elsewhere into a window",
	};

	return refusal >= 0 && refusal < ARCH_RETSITE_REFUSALS ? names[refusal] : "?";
}
