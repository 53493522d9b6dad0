// SPDX-License-Identifier: MIT
/*
 * The plan at a hit (hot path). Runs in the probe handler, in signal context
 * or a trampoline: no libc, no lock, no allocation, no SIMD (built with the
 * hot-path flags, see the Makefile). Only plans that passed plan_verify() are
 * run; the checks here are the ones a verified plan still needs at run time
 * (division by zero, INT64_MIN / -1, shift counts).
 *
 * Frame: the stack (PLAN_STACK words), the variables, the string slots and
 * string variables (64 bytes each), a key and an output buffer: ~2.5 KiB.
 */
#include <errno.h>

#include "lang/program.h"

struct frame {
	uint64_t stack[PLAN_STACK];
	uint64_t vars[LANG_MAX_VARS];
	char slots[PLAN_SLOTS][LANG_STRLEN];
	char strvars[PLAN_STRVARS][LANG_STRLEN];
	uint8_t key[LANG_MAX_KEYS * LANG_STRLEN];
	uint8_t out[LANG_MAX_ARGS * LANG_STRLEN];
};

static void copy(void *dst, const void *src, uint32_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;
	for (uint32_t i = 0; i < n; i++)
		d[i] = s[i];
}

/* A string of at most 63 bytes into a 64-byte buffer, NUL-padded. */
static void copy_str(char *dst, const char *src)
{
	uint32_t i = 0;
	if (src)
		for (; i < LANG_STRLEN - 1 && src[i]; i++)
			dst[i] = src[i];
	for (; i < LANG_STRLEN; i++)
		dst[i] = 0;
}

static int str_eq(const char *a, const char *b)
{
	for (uint32_t i = 0; i < LANG_STRLEN; i++) {
		if (a[i] != b[i])
			return 0;
		if (!a[i])
			return 1;
	}
	return 1;
}

static uint64_t binop(int op, bool sgn, uint64_t a, uint64_t b)
{
	int64_t sa = (int64_t)a, sb = (int64_t)b;
	switch (op) {
	case OP_ADD:
		return a + b;
	case OP_SUB:
		return a - b;
	case OP_MUL:
		return a * b;
	/* bpftrace 0.17 divides and shifts right unsigned, whatever the types */
	case OP_DIV:
		return b ? a / b : 0;
	case OP_MOD:
		return b ? a % b : 0;
	case OP_AND:
		return a & b;
	case OP_OR:
		return a | b;
	case OP_XOR:
		return a ^ b;
	case OP_SHL:
		return a << (b & 63);
	case OP_SHR:
		return a >> (b & 63);
	case OP_EQ:
		return a == b;
	case OP_NE:
		return a != b;
	case OP_LT:
		return sgn ? sa < sb : a < b;
	case OP_GT:
		return sgn ? sa > sb : a > b;
	case OP_LE:
		return sgn ? sa <= sb : a <= b;
	case OP_GE:
		return sgn ? sa >= sb : a >= b;
	default:
		return 0;
	}
}

static uint64_t cast(uint64_t v, int size, bool sgn)
{
	if (size >= 8)
		return v;
	int shift = 64 - 8 * size;
	return sgn ? (uint64_t)((int64_t)(v << shift) >> shift) : (v << shift) >> shift;
}

static uint64_t builtin(const struct lang_env *env, struct frame *f, const struct plan_insn *in)
{
	switch (in->a) {
	case B_ARG0:
	case B_ARG1:
	case B_ARG2:
	case B_ARG3:
	case B_ARG4:
	case B_ARG5:
	case B_ARG6: /* only where ARCH_ARG_REGS is 8 (check.c) */
	case B_ARG7:
		return env->args ? env->args[lang_arg_index(in->a)] : 0;
	case B_RETVAL:
		return env->retval;
	case B_PID:
		return env->pid;
	case B_TID:
		return env->tid;
	case B_NSECS:
		return env->nsecs;
	case B_ELAPSED:
		return env->elapsed;
	case B_CPU:
		return env->cpu;
	case B_UID:
		return env->uid;
	case B_GID:
		return env->gid;
	case B_COMM:
		copy_str(f->slots[in->c], env->comm);
		break;
	case B_FUNC:
		copy_str(f->slots[in->c], env->func);
		break;
	case B_PROBE:
		if (in->b) /* a map key, printf or print argument: its id, named by the tracer */
			return env->probe_id;
		copy_str(f->slots[in->c], env->probe);
		break;
	case B_USTACK:
		return env->ustack ? env->ustack(env, in->b) : 0;
	default:
		return 0;
	}
	return (uint64_t)(uintptr_t)f->slots[in->c];
}

/* Keys (n words from the top) serialized: 8 bytes an integer, 64 a string. */
static void make_key(const struct plan *pl, unsigned map, const uint64_t *w, int n, uint8_t *key)
{
	uint32_t o = 0;
	for (int i = 0; i < n; i++) {
		if (pl->key_str[map] & (1u << i)) {
			/* NUL-padded: a str() buffer holds stale bytes after its NUL */
			copy_str((char *)key + o, (const char *)(uintptr_t)w[i]);
			o += LANG_STRLEN;
		} else {
			__builtin_memcpy(key + o, &w[i], 8); /* one store, even with -fno-builtin */
			o += 8;
		}
	}
}

static void do_str(struct lang_env *env, struct frame *f, const struct plan_insn *in, uint64_t *sp)
{
	uint64_t addr = sp[0];
	/* bpftrace 0.17: str(p, n) reads n + 1 bytes (n chars and the NUL), unsigned, at most 64 */
	uint64_t len = in->a ? sp[1] + 1 : LANG_STRLEN;
	if (len > LANG_STRLEN)
		len = LANG_STRLEN;
	char *dst = f->slots[in->c];
	copy_str(dst, "");
	if (len <= 1)
		return;
	/* bpftrace's result for a bad pointer: the empty string (and an error counted) */
	if (!addr || env->ops->read_str(env->ctx, addr, dst, (uint32_t)len) < 0) {
		copy_str(dst, "");
		env->errors++;
	}
}

static int emit(struct lang_env *env, struct frame *f, const struct plan_insn *in,
		const uint64_t *w)
{
	uint32_t o = 0;
	for (int i = 0; i < in->b; i++) {
		if ((uint64_t)in->imm & (1ull << i) && in->a != EMIT_PRINT) {
			copy(f->out + o, (const void *)(uintptr_t)w[i], LANG_STRLEN);
			o += LANG_STRLEN;
		} else {
			copy(f->out + o, &w[i], 8);
			o += 8;
		}
	}
	env->ops->emit(env->emit_ctx ? env->emit_ctx : env->ctx, (enum lang_emit)in->a, in->c,
		       in->imm, f->out, o);
	return in->a == EMIT_EXIT;
}

/*
 * An integer builtin (shape.c's int_builtin) as builtin() gives it: arg0-arg5
 * from env->args, the others one load from the words at env->retval (their
 * order in struct lang_env: retval pid tid nsecs elapsed cpu uid gid).
 */
static const uint8_t int_slot[] = {
	[B_RETVAL] = 0, [B_PID] = 1, [B_TID] = 2, [B_NSECS] = 3,
	[B_ELAPSED] = 4, [B_CPU] = 5, [B_UID] = 6, [B_GID] = 7,
};

static inline uint64_t int_word(const struct lang_env *env, uint8_t b)
{
	if (lang_arg_index(b) >= 0)
		return env->args ? env->args[lang_arg_index(b)] : 0;
	return (&env->retval)[int_slot[b]];
}

/*
 * A probe of a common shape (struct plan_fast): the map operations its code
 * would make, in the same order, with the same keys and values, without the
 * interpreter's frame, dispatch and key serialization. One function a shape,
 * each a leaf around its map calls.
 */
static __attribute__((noinline)) int fast_agg(const struct plan *pl, const struct plan_fast *f,
					      struct lang_env *env)
{
	uint64_t key = f->key == PF_NO ? 0 : int_word(env, f->key);
	uint64_t v = f->val == PF_NO ? 1 : int_word(env, f->val);

	env->ops->map_agg(env->ctx, f->map, &key, (enum lang_map_kind)pl->kind[f->map],
			  (int64_t)v);
	return 0;
}

static __attribute__((noinline)) int fast_set(const struct plan_fast *f, struct lang_env *env)
{
	uint64_t key = f->key == PF_NO ? 0 : int_word(env, f->key);
	uint64_t v = int_word(env, f->val);

	env->ops->map_set(env->ctx, f->map, &key, &v);
	return 0;
}

/* The predicate is the start's value, not zero; map_take reads and deletes it at once. */
static __attribute__((noinline)) int fast_latency(const struct plan *pl,
						  const struct plan_fast *f,
						  struct lang_env *env)
{
	const struct lang_env_ops *ops = env->ops;
	uint64_t key = int_word(env, f->key), start = 0, v;

	if (ops->map_take) {
		if (ops->map_take(env->ctx, f->from, &key, (int64_t *)&start) || !start)
			return 0;
	} else if (ops->map_get(env->ctx, f->from, &key, &start) || !start) {
		return 0;
	}
	v = int_word(env, f->val) - start;
	ops->map_agg(env->ctx, f->map, &key, (enum lang_map_kind)pl->kind[f->map], (int64_t)v);
	if (!ops->map_take)
		ops->map_del(env->ctx, f->from, &key);
	return 0;
}

/* The interpreter: out of line, so that a fast probe does not set up its frame. */
static __attribute__((noinline)) int run_general(const struct plan *pl,
						 const struct plan_probe *pp,
						 struct lang_env *env)
{
	struct frame f;
	uint64_t *sp = f.stack; /* next free word */
	for (uint32_t i = 0; i < pp->nvars; i++)
		f.vars[i] = 0;
	for (uint32_t pc = pp->entry;; pc++) {
		const struct plan_insn *in = &pl->code[pc];
		switch (in->op) {
		case PI_END:
			return 0;
		case PI_IMM:
			*sp++ = (uint64_t)in->imm;
			break;
		case PI_STRLIT:
			*sp++ = (uint64_t)(uintptr_t)(pl->pool + in->c);
			break;
		case PI_BUILTIN:
			*sp++ = builtin(env, &f, in);
			break;
		case PI_LOADV:
			if (in->b)
				*sp++ = (uint64_t)(uintptr_t)f.strvars[pp->str_var[in->a] - 1];
			else
				*sp++ = f.vars[in->a];
			break;
		case PI_STOREV:
			sp--;
			if (in->b)
				copy_str(f.strvars[pp->str_var[in->a] - 1],
					 (const char *)(uintptr_t)*sp);
			else
				f.vars[in->a] = *sp;
			break;
		case PI_BIN:
			sp--;
			sp[-1] = binop(in->a, in->b, sp[-1], sp[0]);
			break;
		case PI_STREQ:
			sp--;
			sp[-1] = str_eq((const char *)(uintptr_t)sp[-1],
					(const char *)(uintptr_t)sp[0]) == (in->a == OP_EQ);
			break;
		case PI_UN:
			sp[-1] = in->a == OP_NOT  ? !sp[-1] :
				 in->a == OP_BNOT ? ~sp[-1] :
						    0 - sp[-1];
			break;
		case PI_CAST:
			sp[-1] = cast(sp[-1], in->a, in->b);
			break;
		case PI_JZ:
			if (*--sp)
				break;
			pc = in->c - 1;
			break;
		case PI_JMP:
			pc = in->c - 1;
			break;
		case PI_STR:
			sp -= 1 + in->a;
			do_str(env, &f, in, sp);
			*sp++ = (uint64_t)(uintptr_t)f.slots[in->c];
			break;
		case PI_MAP_GET: {
			sp -= in->b;
			make_key(pl, in->a, sp, in->b, f.key);
			uint64_t v = 0;
			if (pl->val_str[in->a]) {
				if (env->ops->map_get(env->ctx, in->a, f.key, f.slots[in->c]))
					copy_str(f.slots[in->c], "");
				v = (uint64_t)(uintptr_t)f.slots[in->c];
			} else if (env->ops->map_get(env->ctx, in->a, f.key, &v)) {
				v = 0;
			}
			*sp++ = v;
			break;
		}
		case PI_MAP_SET: {
			uint64_t v = *--sp;
			char str[LANG_STRLEN]; /* NUL-padded, as keys: no stale bytes stored */
			sp -= in->b;
			make_key(pl, in->a, sp, in->b, f.key);
			if (pl->val_str[in->a])
				copy_str(str, (const char *)(uintptr_t)v);
			env->ops->map_set(env->ctx, in->a, f.key,
					  pl->val_str[in->a] ? (const void *)str : &v);
			break;
		}
		case PI_MAP_AGG: {
			uint64_t v = in->c == MK_COUNT ? 1 : *--sp;
			sp -= in->b;
			make_key(pl, in->a, sp, in->b, f.key);
			env->ops->map_agg(env->ctx, in->a, f.key, (enum lang_map_kind)in->c,
					  (int64_t)v);
			break;
		}
		case PI_MAP_ADD: {
			sp -= in->b;
			make_key(pl, in->a, sp, in->b, f.key);
			int64_t v = 0;
			if (env->ops->map_add(env->ctx, in->a, f.key, in->imm, &v))
				v = 0;
			*sp++ = (uint64_t)v;
			break;
		}
		case PI_MAP_DEL:
			sp -= in->b;
			make_key(pl, in->a, sp, in->b, f.key);
			env->ops->map_del(env->ctx, in->a, f.key);
			break;
		case PI_EMIT:
			sp -= in->b;
			if (emit(env, &f, in, sp))
				return 1; /* exit() ends the probe, as in bpftrace */
			break;
		case PI_POP:
			sp--;
			break;
		default:
			return -EINVAL;
		}
	}
}

int plan_eval(const struct plan *pl, uint32_t probe, struct lang_env *env)
{
	const struct plan_probe *pp = &pl->probes[probe];
	switch (pp->fast.kind) {
	case PF_AGG:
		return fast_agg(pl, &pp->fast, env);
	case PF_SET:
		return fast_set(&pp->fast, env);
	case PF_LAT:
		return fast_latency(pl, &pp->fast, env);
	default:
		return run_general(pl, pp, env);
	}
}
