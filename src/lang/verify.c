// SPDX-License-Identifier: MIT
/*
 * The plan's verifier (see plan.c for what it proves) and its dump.
 *
 * One pass in order: since every jump goes forward, the stack state at an
 * instruction is known once every instruction before it has been seen. The
 * state is a depth and a bit mask of the words that are strings; a jump
 * records its state at the target, and every path into an instruction must
 * bring the same state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "lang/program.h"

struct vstate {
	int depth;     /* -1: not reached yet */
	uint32_t strs; /* bit i: word i (from the bottom) is a string */
};

struct verifier {
	const struct plan *pl;
	const struct plan_probe *probe;
	struct vstate *at; /* per instruction: the state a jump brings */
	struct vstate s;
};

static bool pop(struct verifier *v, int n, uint32_t want_strs, uint32_t care)
{
	if (n < 0 || v->s.depth < n)
		return false;
	v->s.depth -= n;
	uint32_t got = (uint32_t)(((uint64_t)v->s.strs >> v->s.depth) & ((1ull << n) - 1));
	v->s.strs &= (uint32_t)((1ull << v->s.depth) - 1);
	return (got & care) == (want_strs & care);
}

/*
 * EMIT_PRINTF's imm (program.h): strings in bits 0-7, ustacks in the 8 bits
 * at PRINTF_USTACK (never a string too), perf mode only on a ustack, probe
 * ids in the 8 bits at PRINTF_PROBE (neither a string nor a ustack).
 */
static bool printf_imm_ok(uint64_t imm)
{
	uint64_t str = imm & 0xffffffff, us = imm >> PRINTF_USTACK & 0xff;
	uint64_t perf = imm >> PRINTF_PERF & 0xff, pr = imm >> PRINTF_PROBE;

	return str < 1u << LANG_MAX_ARGS && !(us & str) && !(perf & ~us) && pr <= 0xff &&
	       !(pr & (str | us));
}

static bool push(struct verifier *v, bool is_str)
{
	if (v->s.depth == PLAN_STACK)
		return false;
	v->s.strs |= (uint32_t)is_str << v->s.depth;
	v->s.depth++;
	return true;
}

static bool join(struct vstate *at, struct vstate s)
{
	if (at->depth < 0) {
		*at = s;
		return true;
	}
	return at->depth == s.depth && at->strs == s.strs;
}

static bool map_ok(const struct verifier *v, const struct plan_insn *in)
{
	return in->a < v->pl->nmaps && in->b == v->pl->nkeys[in->a];
}

static bool check_builtin(const struct plan_insn *in)
{
	bool str = in->a == B_COMM || in->a == B_FUNC || (in->a == B_PROBE && !in->b);
	if (in->a == B_USTACK) /* depth 1..127, mode bpftrace (0) or perf (1) */
		return (in->b & 0xff) >= 1 && (in->b & 0xff) <= 127 && in->b >> 8 <= 1;
	if (in->a == B_PROBE) /* b 1: its id (a map key) */
		return in->b <= 1 && (!str || in->c < PLAN_SLOTS);
	if (in->a == B_ARG6 || in->a == B_ARG7) /* env.args holds ARCH_ARG_REGS */
		return lang_arg_index(in->a) < ARCH_ARG_REGS;
	return in->a < B_USTACK && (!str || in->c < PLAN_SLOTS);
}

/* One instruction's effect on v->s; false: refused. */
static bool step(struct verifier *v, const struct plan_insn *in, uint32_t pc)
{
	const struct plan *pl = v->pl;
	switch (in->op) {
	case PI_IMM:
		return push(v, false);
	case PI_STRLIT:
		return in->c + LANG_STRLEN <= pl->pool_len && push(v, true);
	case PI_BUILTIN:
		return check_builtin(in) &&
		       push(v, in->a == B_COMM || in->a == B_FUNC || (in->a == B_PROBE && !in->b));
	case PI_LOADV:
		return in->a < v->probe->nvars && (in->b != 1 || v->probe->str_var[in->a]) &&
		       in->b <= 1 && push(v, in->b);
	case PI_STOREV:
		return in->a < v->probe->nvars && in->b <= 1 &&
		       (!in->b || v->probe->str_var[in->a]) && pop(v, 1, in->b, 1);
	case PI_BIN:
		return pop(v, 2, 0, 3) && push(v, false);
	case PI_STREQ:
		return (in->a == OP_EQ || in->a == OP_NE) && pop(v, 2, 3, 3) && push(v, false);
	case PI_CAST: /* a: 1, 2, 4 or 8 bytes (a shift by 64 is undefined) */
		if (in->a != 1 && in->a != 2 && in->a != 4 && in->a != 8)
			return false;
		return pop(v, 1, 0, 1) && push(v, false);
	case PI_UN:
		return pop(v, 1, 0, 1) && push(v, false);
	case PI_JZ:
	case PI_JMP:
		if (in->c <= pc || in->c >= pl->ninsns)
			return false;
		if (in->op == PI_JZ && !pop(v, 1, 0, 1))
			return false;
		return join(&v->at[in->c], v->s);
	case PI_STR:
		return in->c < PLAN_SLOTS && in->b <= LANG_STRLEN && in->a <= 1 &&
		       pop(v, 1 + in->a, 0, (1u << (1 + in->a)) - 1) && push(v, true);
	case PI_MAP_GET:
		return map_ok(v, in) && pop(v, in->b, pl->key_str[in->a], 0xff) &&
		       (!pl->val_str[in->a] || in->c < PLAN_SLOTS) && pl->kind[in->a] <= MK_STR &&
		       push(v, pl->val_str[in->a]);
	case PI_MAP_SET:
		return map_ok(v, in) && pl->kind[in->a] <= MK_STR &&
		       pop(v, 1, pl->val_str[in->a], 1) && pop(v, in->b, pl->key_str[in->a], 0xff);
	case PI_MAP_AGG: {
		int vals = in->c == MK_COUNT ? 0 : 1;
		return map_ok(v, in) && in->c >= MK_COUNT && in->c <= MK_LHIST &&
		       in->c == pl->kind[in->a] && pop(v, vals, 0, 1) &&
		       pop(v, in->b, pl->key_str[in->a], 0xff);
	}
	case PI_MAP_ADD:
		return map_ok(v, in) && pl->kind[in->a] == MK_INT &&
		       pop(v, in->b, pl->key_str[in->a], 0xff) && push(v, false);
	case PI_MAP_DEL:
		return map_ok(v, in) && pop(v, in->b, pl->key_str[in->a], 0xff);
	case PI_EMIT:
		switch (in->a) {
		case EMIT_PRINTF:
			return in->c < pl->nfmts && in->b <= LANG_MAX_ARGS &&
			       printf_imm_ok((uint64_t)in->imm) &&
			       pop(v, in->b, (uint32_t)in->imm, 0xffff);
		case EMIT_PRINT:
		case EMIT_CLEAR:
		case EMIT_ZERO:
			return in->c < pl->nmaps && in->b == 0;
		case EMIT_EXIT:
			return in->b == 0;
		case EMIT_VALUE:
			return in->b == 1 &&
			       (in->imm == 0 || in->imm == VALUE_STR || in->imm == VALUE_USTACK ||
				in->imm == (VALUE_USTACK | VALUE_PERF) || in->imm == VALUE_PROBE) &&
			       pop(v, 1, (uint32_t)in->imm & VALUE_STR, 1);
		default:
			return false;
		}
	case PI_POP:
		return pop(v, 1, 0, 0);
	default:
		return false;
	}
}

static int verify_probe(struct verifier *v, uint32_t entry, uint32_t *bad_pc)
{
	v->s = (struct vstate){0, 0};
	bool live = true;      /* the previous instruction falls through */
	uint32_t last = entry; /* the furthest jump target seen */
	for (uint32_t pc = entry; pc < v->pl->ninsns; pc++) {
		const struct plan_insn *in = &v->pl->code[pc];
		*bad_pc = pc;
		if (!live) {
			if (v->at[pc].depth < 0)
				return -EINVAL; /* dead code: the compiler never makes it */
			v->s = v->at[pc];
		} else if (!join(&v->at[pc], v->s)) {
			return -EINVAL;
		}
		if (in->op == PI_END) {
			if (v->s.depth)
				return -EINVAL;
			if (last <= pc)
				return 0;
			live = false; /* a jump goes past this end: verify there too */
			continue;
		}
		if (!step(v, in, pc))
			return -EINVAL;
		if ((in->op == PI_JZ || in->op == PI_JMP) && in->c > last)
			last = in->c;
		live = in->op != PI_JMP;
	}
	return -EINVAL; /* ran off the end */
}

int plan_verify(const struct plan *pl, uint32_t *bad_pc)
{
	*bad_pc = 0;
	if (!pl->code || pl->ninsns > PLAN_MAX_INSNS || pl->pool_len > PLAN_POOL ||
	    pl->nmaps > LANG_MAX_MAPS || pl->nfmts > PLAN_MAX_FMTS)
		return -EINVAL;
	for (uint32_t i = 0; i < pl->nmaps; i++) /* the evaluator's key buffer */
		if (pl->nkeys[i] > LANG_MAX_KEYS || pl->kind[i] > MK_LHIST)
			return -EINVAL;
	for (uint32_t i = 0; i < pl->nfmts; i++)
		if (pl->fmt[i] >= pl->pool_len ||
		    !memchr(pl->pool + pl->fmt[i], 0, pl->pool_len - pl->fmt[i]))
			return -EINVAL;
	struct verifier v = {.pl = pl};
	v.at = malloc(pl->ninsns * sizeof(*v.at));
	if (!v.at)
		return -ENOMEM;
	int err = 0;
	for (uint32_t i = 0; i < pl->nprobes && !err; i++) {
		const struct plan_probe *p = &pl->probes[i];
		if (p->entry >= pl->ninsns || p->nvars > LANG_MAX_VARS) {
			err = -EINVAL;
			break;
		}
		for (uint32_t k = 0; k < p->nvars; k++)
			if (p->str_var[k] > PLAN_STRVARS)
				err = -EINVAL;
		for (uint32_t k = 0; k < pl->ninsns; k++)
			v.at[k].depth = -1;
		v.probe = p;
		if (!err)
			err = verify_probe(&v, p->entry, bad_pc);
	}
	free(v.at);
	return err;
}

static const char *const op_names[] = {
	[PI_END] = "end",	  [PI_IMM] = "imm",	    [PI_STRLIT] = "strlit",
	[PI_BUILTIN] = "builtin", [PI_LOADV] = "loadv",	    [PI_STOREV] = "storev",
	[PI_BIN] = "bin",	  [PI_STREQ] = "streq",	    [PI_UN] = "un",
	[PI_CAST] = "cast",	  [PI_JZ] = "jz",	    [PI_JMP] = "jmp",
	[PI_STR] = "str",	  [PI_MAP_GET] = "map_get", [PI_MAP_SET] = "map_set",
	[PI_MAP_AGG] = "map_agg", [PI_MAP_ADD] = "map_add", [PI_MAP_DEL] = "map_del",
	[PI_EMIT] = "emit",	  [PI_POP] = "pop",
};

void plan_dump(const struct plan *pl, FILE *out)
{
	for (uint32_t i = 0; i < pl->nprobes; i++)
		fprintf(out, "probe %u: entry %u, %u variables, %s path%s\n", i, pl->probes[i].entry,
			pl->probes[i].nvars, plan_fast_name(pl->probes[i].fast.kind),
			pl->probes[i].fast.owned ? ", tid-owned" : "");
	for (uint32_t pc = 0; pc < pl->ninsns; pc++) {
		const struct plan_insn *in = &pl->code[pc];
		fprintf(out, "%4u  %-8s a=%u b=%u c=%u imm=%lld\n", pc,
			in->op < PI_OPS ? op_names[in->op] : "?", in->a, in->b, in->c,
			(long long)in->imm);
	}
}
