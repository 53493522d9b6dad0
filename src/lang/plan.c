// SPDX-License-Identifier: MIT
/*
 * The checked AST compiled into a plan (program.h), and the plan's verifier:
 * run at load, before any probe can reach the plan, it proves that every
 * jump goes forward and inside the plan, that the stack never underflows nor
 * grows past PLAN_STACK, that every operand names an existing variable, map,
 * slot or format, and that a word used as a string is always one (a pointer
 * the evaluator made). So a plan cannot loop, and cannot make the evaluator
 * read or write anything but its own frame, the plan, and strings it copies
 * with fault-safe reads.
 *
 * Code shapes:
 *   a && b:  a; JZ f; b; IMM 0; BIN !=; JMP e; f: IMM 0; e:
 *   a || b:  a; JZ r; IMM 1; JMP e; r: b; IMM 0; BIN !=; e:
 *   c ? t : f, if/else:  c; JZ f; t; JMP e; f: f; e:
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lang/program.h"

struct comp {
	struct lang_program *p;
	struct plan *plan;
	struct plan_probe *probe;
	int slots; /* string temporaries used by this probe */
	int strvars;
	bool failed;
};

static uint32_t emit(struct comp *c, enum plan_op op, int a, int b, uint32_t cc, int64_t imm)
{
	struct plan *pl = c->plan;
	if (pl->ninsns == PLAN_MAX_INSNS) {
		if (!c->failed)
			lang_error(&c->p->src,
				   c->probe ? (struct lang_pos){1, 1, 2} :
					      (struct lang_pos){1, 1, 2},
				   "program too large: more than %d plan instructions",
				   PLAN_MAX_INSNS);
		c->failed = true;
		return 0;
	}
	if (pl->ninsns == pl->cap) {
		pl->cap = pl->cap ? pl->cap * 2 : 64;
		pl->code = realloc(pl->code, pl->cap * sizeof(*pl->code));
		if (!pl->code)
			abort();
	}
	pl->code[pl->ninsns] = (struct plan_insn){(uint8_t)op, (uint8_t)a, (uint16_t)b, cc, imm};
	return pl->ninsns++;
}

static void patch(struct comp *c, uint32_t at)
{
	if (!c->failed)
		c->plan->code[at].c = c->plan->ninsns;
}

static int slot(struct comp *c, const struct lang_node *n)
{
	if (c->slots == PLAN_SLOTS) {
		if (!c->failed)
			lang_error(&c->p->src, n->pos, "too many strings in one probe (%d at most)",
				   PLAN_SLOTS);
		c->failed = true;
		return 0;
	}
	return c->slots++;
}

static uint32_t pool_add(struct comp *c, const char *s, size_t len, const struct lang_node *n)
{
	struct plan *pl = c->plan;
	size_t room =
		len + 1 > LANG_STRLEN ? len + 1 : LANG_STRLEN; /* a slot's 64 bytes readable */
	if (pl->pool_len + room > PLAN_POOL) {
		if (!c->failed)
			lang_error(&c->p->src, n->pos, "too much string text (%d bytes at most)",
				   PLAN_POOL);
		c->failed = true;
		return 0;
	}
	uint32_t off = pl->pool_len;
	memcpy(pl->pool + off, s, len);
	memset(pl->pool + off + len, 0, room - len);
	pl->pool_len += (uint32_t)room;
	return off;
}

static void expr(struct comp *c, const struct lang_node *n);
static void stmt(struct comp *c, const struct lang_node *n);

static void keys(struct comp *c, const struct lang_node *map)
{
	for (int i = 0; i < map->nkids; i++)
		expr(c, map->kids[i]);
}

static void incdec(struct comp *c, const struct lang_node *n, bool value)
{
	const struct lang_node *t = n->kids[0];
	int64_t d = n->op == '+' ? 1 : -1;
	if (t->kind == N_MAP) {
		keys(c, t);
		emit(c, PI_MAP_ADD, t->id, t->nkids, 0, d);
	} else {
		emit(c, PI_LOADV, t->id, 0, 0, 0);
		emit(c, PI_IMM, 0, 0, 0, d);
		emit(c, PI_BIN, OP_ADD, 1, 0, 0);
		emit(c, PI_STOREV, t->id, 0, 0, 0);
		emit(c, PI_LOADV, t->id, 0, 0, 0);
	}
	if (!value) {
		emit(c, PI_POP, 0, 0, 0, 0);
	} else if (!n->ival) { /* postfix: the value before */
		emit(c, PI_IMM, 0, 0, 0, d);
		emit(c, PI_BIN, OP_SUB, 1, 0, 0);
	}
}

static void logic(struct comp *c, const struct lang_node *n)
{
	expr(c, n->kids[0]);
	uint32_t jz = emit(c, PI_JZ, 0, 0, 0, 0);
	if (n->op == OP_LAND) {
		expr(c, n->kids[1]);
		emit(c, PI_IMM, 0, 0, 0, 0);
		emit(c, PI_BIN, OP_NE, 0, 0, 0);
		uint32_t j = emit(c, PI_JMP, 0, 0, 0, 0);
		patch(c, jz);
		emit(c, PI_IMM, 0, 0, 0, 0);
		patch(c, j);
	} else {
		emit(c, PI_IMM, 0, 0, 0, 1);
		uint32_t j = emit(c, PI_JMP, 0, 0, 0, 0);
		patch(c, jz);
		expr(c, n->kids[1]);
		emit(c, PI_IMM, 0, 0, 0, 0);
		emit(c, PI_BIN, OP_NE, 0, 0, 0);
		patch(c, j);
	}
}

static void builtin(struct comp *c, const struct lang_node *n)
{
	int s = n->type == T_STR ? slot(c, n) : 0;
	c->probe->uses |= 1u << n->id;
	/* ustack: b is depth | perf << 8 (check.c's ival); probe: b 1, its id (a map key) */
	emit(c, PI_BUILTIN, n->id,
	     n->id == B_USTACK ? (int)n->ival : n->type == T_PROBE ? 1 : 0, (uint32_t)s, 0);
}

static void call_expr(struct comp *c, const struct lang_node *n)
{
	if (n->id == F_STR) {
		expr(c, n->kids[0]);
		if (n->nkids > 1)
			expr(c, n->kids[1]);
		emit(c, PI_STR, n->nkids > 1, (uint16_t)LANG_STRLEN, (uint32_t)slot(c, n), 0);
		return;
	}
	stmt(c, n); /* exit(), printf() as values: bpftrace's none, here 0 */
	emit(c, PI_IMM, 0, 0, 0, 0);
}

static void expr(struct comp *c, const struct lang_node *n)
{
	switch (n->kind) {
	case N_INT:
		emit(c, PI_IMM, 0, 0, 0, n->ival);
		return;
	case N_STR:
		emit(c, PI_STRLIT, 0, 0, pool_add(c, n->str, (size_t)n->ival, n), 0);
		return;
	case N_BUILTIN:
		return builtin(c, n);
	case N_VAR:
		emit(c, PI_LOADV, n->id, n->type == T_STR, 0, 0);
		return;
	case N_MAP:
		keys(c, n);
		emit(c, PI_MAP_GET, n->id, n->nkids, n->type == T_STR ? (uint32_t)slot(c, n) : 0,
		     0);
		return;
	case N_CALL:
		return call_expr(c, n);
	case N_BINOP:
		if (n->op == OP_LAND || n->op == OP_LOR)
			return logic(c, n);
		expr(c, n->kids[0]);
		expr(c, n->kids[1]);
		if (n->kids[0]->type == T_STR)
			emit(c, PI_STREQ, n->op, 0, 0, 0);
		else
			emit(c, PI_BIN, n->op, n->is_signed, 0, 0);
		return;
	case N_UNOP:
		expr(c, n->kids[0]);
		emit(c, PI_UN, n->op, 0, 0, 0);
		return;
	case N_CAST:
		expr(c, n->kids[0]);
		emit(c, PI_CAST, n->size, n->is_signed, 0, 0);
		return;
	case N_INCDEC:
		return incdec(c, n, true);
	case N_TERNARY: {
		expr(c, n->kids[0]);
		uint32_t jz = emit(c, PI_JZ, 0, 0, 0, 0);
		expr(c, n->kids[1]);
		uint32_t j = emit(c, PI_JMP, 0, 0, 0, 0);
		patch(c, jz);
		expr(c, n->kids[2]);
		patch(c, j);
		return;
	}
	default:
		emit(c, PI_IMM, 0, 0, 0, 0); /* refused by check.c */
	}
}

static void printf_call(struct comp *c, const struct lang_node *n)
{
	struct plan *pl = c->plan;
	if (pl->nfmts == PLAN_MAX_FMTS) {
		if (!c->failed)
			lang_error(&c->p->src, n->pos, "too many printf formats (%d at most)",
				   PLAN_MAX_FMTS);
		c->failed = true;
		return;
	}
	const struct lang_node *f = n->kids[0];
	pl->fmt[pl->nfmts] = pool_add(c, f->str, (size_t)f->ival, f);
	int64_t strs = 0;
	for (int i = 1; i < n->nkids; i++) {
		expr(c, n->kids[i]);
		if (n->kids[i]->type == T_STR)
			strs |= 1ll << (i - 1);
		if (n->kids[i]->type == T_USTACK) /* its key word; the tracer prints the text */
			strs |= 1ll << (PRINTF_USTACK + i - 1) |
				(n->kids[i]->ival >> 8 ? 1ll << (PRINTF_PERF + i - 1) : 0);
		if (n->kids[i]->type == T_PROBE) /* its id; the tracer prints the name */
			strs |= 1ll << (PRINTF_PROBE + i - 1);
	}
	emit(c, PI_EMIT, EMIT_PRINTF, n->nkids - 1, pl->nfmts++, strs);
}

static void call_stmt(struct comp *c, const struct lang_node *n)
{
	switch (n->id) {
	case F_PRINTF:
		return printf_call(c, n);
	case F_EXIT:
		emit(c, PI_EMIT, EMIT_EXIT, 0, 0, 0);
		return;
	case F_DELETE:
		keys(c, n->kids[0]);
		emit(c, PI_MAP_DEL, n->kids[0]->id, n->kids[0]->nkids, 0, 0);
		return;
	case F_CLEAR:
	case F_ZERO:
		emit(c, PI_EMIT, n->id == F_CLEAR ? EMIT_CLEAR : EMIT_ZERO, 0, n->kids[0]->id, 0);
		return;
	case F_PRINT:
		if (n->kids[0]->kind == N_MAP) {
			int64_t top = n->nkids > 1 ? n->kids[1]->ival : 0;
			int64_t div = n->nkids > 2 ? n->kids[2]->ival : 0;
			emit(c, PI_EMIT, EMIT_PRINT, 0, n->kids[0]->id,
			     (top & 0xffffffff) << 32 | (div & 0xffffffff));
		} else {
			expr(c, n->kids[0]);
			const struct lang_node *a = n->kids[0];
			emit(c, PI_EMIT, EMIT_VALUE, 1, 0,
			     a->type == T_STR	 ? VALUE_STR :
			     a->type == T_USTACK ? VALUE_USTACK | (a->ival >> 8 ? VALUE_PERF : 0) :
			     a->type == T_PROBE	 ? VALUE_PROBE :
						   0);
		}
		return;
	default:
		expr(c, n);
		emit(c, PI_POP, 0, 0, 0, 0);
	}
}

static void block(struct comp *c, const struct lang_node *b)
{
	for (int i = 0; i < b->nkids; i++)
		stmt(c, b->kids[i]);
}

static void assign(struct comp *c, const struct lang_node *n)
{
	const struct lang_node *t = n->kids[0], *v = n->kids[1];
	if (t->kind == N_MAP) {
		keys(c, t);
		if (v->kind == N_CALL && v->type == T_AGG) {
			for (int i = 0; i < v->nkids && i < 1; i++)
				expr(c, v->kids[i]);
			enum lang_map_kind k = c->p->checked.maps[t->id].kind;
			emit(c, PI_MAP_AGG, t->id, t->nkids, k, 0);
			return;
		}
		expr(c, v);
		emit(c, PI_MAP_SET, t->id, t->nkids, 0, 0);
		return;
	}
	expr(c, v);
	bool is_str = v->type == T_STR;
	if (is_str && !c->probe->str_var[t->id]) {
		if (c->strvars == PLAN_STRVARS) {
			lang_error(&c->p->src, t->pos,
				   "too many string variables in one probe (%d at most)",
				   PLAN_STRVARS);
			c->failed = true;
		}
		c->probe->str_var[t->id] = (uint8_t)++c->strvars;
	}
	emit(c, PI_STOREV, t->id, is_str, 0, 0);
}

static void stmt(struct comp *c, const struct lang_node *n)
{
	switch (n->kind) {
	case N_ASSIGN:
		return assign(c, n);
	case N_IF: {
		expr(c, n->kids[0]);
		uint32_t jz = emit(c, PI_JZ, 0, 0, 0, 0);
		block(c, n->kids[1]);
		if (n->nkids > 2) {
			uint32_t j = emit(c, PI_JMP, 0, 0, 0, 0);
			patch(c, jz);
			block(c, n->kids[2]);
			patch(c, j);
		} else {
			patch(c, jz);
		}
		return;
	}
	case N_INCDEC:
		return incdec(c, n, false);
	case N_CALL:
		return call_stmt(c, n);
	default:
		expr(c, n);
		emit(c, PI_POP, 0, 0, 0, 0);
	}
}

static void probe(struct comp *c, const struct lang_node *p, struct plan_probe *pp,
		  const struct lang_probe_info *pi)
{
	c->probe = pp;
	c->slots = 0;
	c->strvars = 0;
	pp->entry = c->plan->ninsns;
	pp->nvars = (uint32_t)pi->nvars;
	int32_t jz = -1;
	for (int i = 0; i < p->nkids; i++) {
		const struct lang_node *k = p->kids[i];
		if (k->kind == N_PRED && k->nkids) {
			expr(c, k->kids[0]);
			jz = (int32_t)emit(c, PI_JZ, 0, 0, 0, 0);
		} else if (k->kind == N_BLOCK) {
			block(c, k);
		}
	}
	if (jz >= 0)
		patch(c, (uint32_t)jz);
	emit(c, PI_END, 0, 0, 0, 0);
}

int plan_compile(struct lang_program *p)
{
	struct plan *pl = &p->plan;
	struct comp c = {.p = p, .plan = pl};
	const struct lang_checked *ck = &p->checked;
	pl->nmaps = (uint32_t)ck->nmaps;
	for (int i = 0; i < ck->nmaps; i++) {
		const struct lang_map_info *m = &ck->maps[i];
		for (int k = 0; k < m->nkeys; k++) {
			pl->key_size[i] += m->key[k] == T_STR ? LANG_STRLEN : 8;
			pl->key_str[i] |= (uint8_t)((m->key[k] == T_STR) << k);
		}
		pl->nkeys[i] = (uint8_t)(m->nkeys < 0 ? 0 : m->nkeys);
		pl->val_str[i] = m->kind == MK_STR;
		pl->kind[i] = (uint8_t)m->kind;
	}
	pl->probes = calloc((size_t)ck->nprobes + 1, sizeof(*pl->probes));
	if (!pl->probes)
		abort();
	pl->nprobes = (uint32_t)ck->nprobes;
	for (int i = 0; i < ck->nprobes && !c.failed; i++)
		probe(&c, ck->probes[i].node, &pl->probes[i], &ck->probes[i]);
	if (c.failed)
		return -EINVAL;
	uint32_t bad;
	if (plan_verify(pl, &bad)) {
		lang_error(&p->src, (struct lang_pos){1, 1, 2},
			   "internal error: the plan failed its verification at instruction %u",
			   bad);
		return -EINVAL;
	}
	const char *how = getenv("UPROBE_LANG_PLAN");
	if (how && *how && strcmp(how, "general") && strcmp(how, "fast")) {
		lang_error(&p->src, (struct lang_pos){1, 1, 2},
			   "UPROBE_LANG_PLAN=%s: 'general' or 'fast' (the default)", how);
		return -EINVAL;
	}
	plan_shapes(pl, how && !strcmp(how, "general"));
	p->compiled = true;
	return 0;
}

void plan_free(struct lang_program *p)
{
	free(p->plan.code);
	free(p->plan.probes);
	memset(&p->plan, 0, sizeof(p->plan));
}
