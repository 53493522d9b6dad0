// SPDX-License-Identifier: MIT
/*
 * The common shapes of a probe (program.h, struct plan_fast), recognized in
 * its verified code: the exact instruction sequences plan.c emits for them,
 * nothing else. A probe that differs in any instruction (a predicate, a
 * string, a second statement, a key of two words) stays interpreted.
 *
 *   PF_AGG   [BUILTIN k] [BUILTIN v] MAP_AGG m          END
 *   PF_SET   [BUILTIN k]  BUILTIN v  MAP_SET m          END
 *   PF_LAT    BUILTIN k   MAP_GET s  JZ end
 *             BUILTIN v   BUILTIN k  MAP_GET s  BIN -  MAP_AGG m
 *             BUILTIN k   MAP_DEL s                     end: END
 */
#include "lang/program.h"

/* A builtin the fast path computes as the interpreter does: an integer of the env. */
static bool int_builtin(const struct plan_insn *in)
{
	if (in->op != PI_BUILTIN)
		return false;
	switch (in->a) {
	case B_ARG0:
	case B_ARG1:
	case B_ARG2:
	case B_ARG3:
	case B_ARG4:
	case B_ARG5:
	case B_RETVAL:
	case B_PID:
	case B_TID:
	case B_NSECS:
	case B_ELAPSED:
	case B_CPU:
	case B_UID:
	case B_GID:
		return true;
	default:
		return false;
	}
}

/* Map m's keys are n (0 or 1) integers and its value is not a string. */
static bool int_map(const struct plan *pl, unsigned m, unsigned n)
{
	return m < pl->nmaps && n <= 1 && pl->nkeys[m] == n && !pl->key_str[m] && !pl->val_str[m];
}

/* [BUILTIN k] [BUILTIN v] MAP_AGG|MAP_SET m END at in[0 .. n - 1]. */
static bool agg_or_set(const struct plan *pl, const struct plan_insn *in, uint32_t n,
		       struct plan_fast *f)
{
	uint32_t nb = 0;
	while (nb < 2 && nb < n && int_builtin(&in[nb]))
		nb++;
	if (nb + 1 >= n || in[nb + 1].op != PI_END)
		return false;
	const struct plan_insn *op = &in[nb];
	uint32_t keys = op->b, vals = nb - keys;
	if (keys > nb || !int_map(pl, op->a, keys))
		return false;
	if (op->op == PI_MAP_AGG && vals != (op->c == MK_COUNT ? 0u : 1u))
		return false;
	if (op->op == PI_MAP_SET && (vals != 1 || pl->kind[op->a] != MK_INT))
		return false;
	if (op->op != PI_MAP_AGG && op->op != PI_MAP_SET)
		return false;
	*f = (struct plan_fast){.kind = op->op == PI_MAP_AGG ? PF_AGG : PF_SET,
				.map = op->a,
				.key = keys ? in[0].a : PF_NO,
				.val = vals ? in[keys].a : PF_NO,
				.agg = op->op == PI_MAP_AGG ? (uint8_t)op->c : 0};
	return true;
}

static bool same_key(const struct plan_insn *in, uint8_t k)
{
	return in->op == PI_BUILTIN && in->a == k;
}

static bool latency(const struct plan *pl, const struct plan_insn *in, uint32_t n, uint32_t entry,
		    struct plan_fast *f)
{
	if (n < 11 || !int_builtin(&in[0]) || !int_builtin(&in[3]))
		return false;
	uint8_t k = in[0].a, s = in[1].a;
	bool ok = in[1].op == PI_MAP_GET && in[1].b == 1 && int_map(pl, s, 1) &&
		  pl->kind[s] == MK_INT && in[2].op == PI_JZ && in[2].c == entry + 10 &&
		  same_key(&in[4], k) && in[5].op == PI_MAP_GET && in[5].a == s && in[5].b == 1 &&
		  in[6].op == PI_BIN && in[6].a == OP_SUB && in[7].op == PI_MAP_AGG &&
		  in[7].b == 0 && in[7].c != MK_COUNT && int_map(pl, in[7].a, 0) &&
		  same_key(&in[8], k) && in[9].op == PI_MAP_DEL && in[9].a == s && in[9].b == 1 &&
		  in[10].op == PI_END;
	if (!ok)
		return false;
	*f = (struct plan_fast){
		.kind = PF_LAT, .map = in[7].a, .key = k, .val = in[3].a, .from = s,
		.agg = (uint8_t)in[7].c};
	return true;
}

/* The value map a fast probe writes with key tid, or -1. */
static int tid_written(const struct plan_fast *f)
{
	if (f->key != B_TID)
		return -1;
	return f->kind == PF_SET ? f->map : f->kind == PF_LAT ? f->from : -1;
}

/* Instructions of a fast probe's code (shape.c's sequences), 0 for none. */
static uint32_t fast_len(const struct plan_fast *f)
{
	switch (f->kind) {
	case PF_AGG:
		return 2 + (f->key != PF_NO) + (f->val != PF_NO);
	case PF_SET:
		return 3 + (f->key != PF_NO);
	case PF_LAT:
		return 11;
	default:
		return 0;
	}
}

/*
 * Is value map s tid-owned: is every instruction of the plan that writes it
 * (set, ++/--, delete) one of a fast probe that writes it with key tid (the
 * sequences above: the key is that BUILTIN, nothing else)? Then the entry of
 * key t is written in the target only by the thread whose tid is t, and
 * lang/fast.h takes the map's single-writer calls for it
 * (map_value_set_own, map_value_take_own: no CAS; map.h says why that is
 * exact). Any other writer of s, a probe run interpreted or a key other than
 * tid, and it is not.
 */
static bool tid_owned(const struct plan *pl, unsigned s)
{
	for (uint32_t i = 0; i < pl->ninsns; i++) {
		const struct plan_insn *in = &pl->code[i];
		bool writes = (in->op == PI_MAP_SET || in->op == PI_MAP_ADD ||
			       in->op == PI_MAP_DEL) && in->a == s;
		bool covered = false;

		if (!writes)
			continue;
		for (uint32_t p = 0; p < pl->nprobes && !covered; p++) {
			const struct plan_probe *pp = &pl->probes[p];

			covered = tid_written(&pp->fast) == (int)s && i >= pp->entry &&
				  i < pp->entry + fast_len(&pp->fast);
		}
		if (!covered)
			return false;
	}
	return true;
}

void plan_shapes(struct plan *pl, bool general)
{
	for (uint32_t p = 0; p < pl->nprobes; p++) {
		struct plan_probe *pp = &pl->probes[p];
		const struct plan_insn *in = &pl->code[pp->entry];
		uint32_t n = pl->ninsns - pp->entry;
		struct plan_fast f = {.kind = PF_NONE};
		pp->fast = (struct plan_fast){.kind = PF_NONE};
		if (general)
			continue;
		if (agg_or_set(pl, in, n, &f) || latency(pl, in, n, pp->entry, &f))
			pp->fast = f;
	}
	for (uint32_t p = 0; p < pl->nprobes; p++) {
		struct plan_fast *f = &pl->probes[p].fast;
		int s = tid_written(f);

		f->owned = s >= 0 && tid_owned(pl, (unsigned)s);
		f->tidns = f->owned && f->val == B_NSECS; /* tid_written: the key is tid */
	}
}

const char *plan_fast_name(enum plan_fast_kind kind)
{
	static const char *const names[] = {"general", "agg", "set", "latency"};
	return kind <= PF_LAT ? names[kind] : "?";
}
