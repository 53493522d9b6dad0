// SPDX-License-Identifier: MIT
/*
 * The plan in process (internals from libuprobes.a): programs compiled and
 * run against the tracer's store; the verifier's refusals of hand-made bad
 * plans (each would make the evaluator leave its frame); str() of a bad
 * pointer through the fetch layer's fault-safe reads in a probe handler:
 * bpftrace's "" and a counted error, the program unharmed; the maps in the
 * target (src/trace/map) against the tracer's store.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/safe_read.h"
#include "lang/fast.h"
#include "lang/store.h"
#include "testlib.h"
#include "trace/map/map.h"
#include "ubp/ubp.h"

TL_DEFINE("lang_plan");

static void end_case(const char *name)
{
	if (tl_case_failed)
		tl_total_failed++;
	printf("%s: lang_plan/%s\n", tl_case_failed ? "FAIL" : "PASS", name);
	tl_case_failed = 0;
}

/* An environment over a store, emits recorded. */
struct recorder {
	struct lang_store *store;
	struct lang_env_ops store_ops;
	int emits[EMIT_VALUE + 1];
	char printed[256];
};

static int r_get(void *c, unsigned m, const void *k, void *v)
{
	struct recorder *r = c;
	return r->store_ops.map_get(r->store, m, k, v);
}
static int r_set(void *c, unsigned m, const void *k, const void *v)
{
	struct recorder *r = c;
	return r->store_ops.map_set(r->store, m, k, v);
}
static int r_agg(void *c, unsigned m, const void *k, enum lang_map_kind kind, int64_t v)
{
	struct recorder *r = c;
	return r->store_ops.map_agg(r->store, m, k, kind, v);
}
static int r_del(void *c, unsigned m, const void *k)
{
	struct recorder *r = c;
	return r->store_ops.map_del(r->store, m, k);
}
static int r_add(void *c, unsigned m, const void *k, int64_t d, int64_t *out)
{
	struct recorder *r = c;
	return r->store_ops.map_add(r->store, m, k, d, out);
}
static const struct plan *cur_plan;
static int r_emit(void *c, enum lang_emit what, uint32_t id, int64_t imm, const void *data,
		  uint32_t len)
{
	struct recorder *r = c;
	r->emits[what]++;
	if (what == EMIT_PRINTF) {
		FILE *f = fmemopen(r->printed, sizeof(r->printed), "w");
		print_printf(cur_plan->pool + cur_plan->fmt[id], data, len, imm, NULL, NULL, f);
		fclose(f);
	}
	return 0;
}
static long r_read(void *c, uint64_t addr, char *dst, uint32_t len)
{
	(void)c;
	long n = uprobes_safe_strnlen(addr, len - 1);
	if (n < 0 || uprobes_safe_copy(dst, addr, (size_t)n))
		return -EFAULT;
	dst[n] = 0;
	return n;
}
static const struct lang_env_ops rec_ops = { r_get, r_set, r_agg, r_del, r_add, r_emit, r_read, NULL };

static struct lang_program *compile(const char *text)
{
	struct lang_program *p = lang_program_new("stdin", text);
	const char *diag;
	if (lang_program_errors(p, &diag) || !p->compiled)
		TL_FAIL("%s: %s", text, diag);
	return p;
}

/* Run probe 0 with args; the value of map 0 (no keys) or -1. */
static int64_t run0(struct lang_program *p, struct recorder *r, const uint64_t *args, int *rc)
{
	struct lang_env env = { .ops = &rec_ops, .ctx = r, .args = args, .comm = "test",
				.func = "f", .probe = "uprobe:x:f" };
	cur_plan = &p->plan;
	*rc = plan_eval(&p->plan, 0, &env);
	return (int64_t)env.errors;
}

static void case_eval(void)
{
	struct lang_program *p = compile(
		"uprobe:/bin/true:main /arg0 > 2/ { @c = count(); @s = sum(arg1); "
		"@k[arg0 % 2, comm] = count(); $x = arg0 > 4 ? 10 : 20; @t = $x; "
		"if (arg1 == 7) { @seven++; } else { @other++; } @h = hist(arg1); "
		"@l = lhist(arg1, 0, 10, 5); @d[1] = 1; delete(@d[1]); printf(\"%d-%s\\n\", arg0, func); }");
	struct recorder r = { 0 };
	r.store = store_new(&p->checked, &p->plan);
	store_env_ops(&r.store_ops);
	int rc;
	for (uint64_t i = 0; i < 10; i++) {
		uint64_t args[6] = { i, i + 3, 0, 0, 0, 0 };
		run0(p, &r, args, &rc);
		CHECK_EQ_INT(rc, 0);
	}
	/* arg0 3..9 pass the predicate: 7 hits */
	struct store_entry *e = store_lookup(r.store, 0, "", false);
	CHECK(e && e->a == 7);
	e = store_lookup(r.store, 1, "", false);
	CHECK(e && e->a == 6 + 7 + 8 + 9 + 10 + 11 + 12);
	uint8_t key[8 + LANG_STRLEN] = { 1 };
	memcpy(key + 8, "test", 5);
	e = store_lookup(r.store, 2, key, false); /* odd arg0: 3, 5, 7, 9 */
	CHECK(e && e->a == 4);
	e = store_lookup(r.store, 3, "", false); /* last: arg0 9 > 4 */
	CHECK(e && e->a == 10);
	e = store_lookup(r.store, 4, "", false);
	CHECK(e && e->a == 1);
	e = store_lookup(r.store, 5, "", false);
	CHECK(e && e->a == 6);
	e = store_lookup(r.store, 6, "", false); /* hist of 6..12: [4,8) 2, [8,16) 5 */
	CHECK(e && e->buckets[4] == 2 && e->buckets[5] == 5);
	e = store_lookup(r.store, 7, "", false); /* lhist 0..10 step 5: [5,10) 4, [10,...) 3 */
	CHECK(e && e->buckets[2] == 4 && e->buckets[3] == 3);
	CHECK_EQ_INT(r.store->maps[8].count, 0);
	CHECK_EQ_INT(r.emits[EMIT_PRINTF], 7);
	CHECK_STR(r.printed, "9-f\n");
	store_free(r.store);
	lang_program_free(p);
	end_case("eval");
}

/* str() of a bad pointer: "" and one error counted, never a crash. */
static void case_str_fault(void)
{
	struct lang_program *p = compile("uprobe:/bin/true:main { @s[str(arg0)] = count(); @n = sum(arg1); }");
	struct recorder r = { 0 };
	r.store = store_new(&p->checked, &p->plan);
	store_env_ops(&r.store_ops);
	int rc;
	uint64_t good[6] = { (uint64_t)(uintptr_t)"hello", 1 };
	uint64_t bad[6] = { 16, 2 }; /* page 0: unmapped */
	CHECK_EQ_INT(run0(p, &r, good, &rc), 0);
	CHECK_EQ_INT(run0(p, &r, bad, &rc), 1);
	char key[LANG_STRLEN] = "hello";
	CHECK(store_lookup(r.store, 0, key, false) != NULL);
	memset(key, 0, sizeof(key));
	struct store_entry *e = store_lookup(r.store, 0, key, false);
	CHECK(e && e->a == 1);
	e = store_lookup(r.store, 1, "", false); /* the rest of the probe ran */
	CHECK(e && e->a == 3);
	store_free(r.store);
	lang_program_free(p);
	end_case("str_fault");
}

/* A one-probe plan from instructions; the verifier's answer. */
static int verify_insns(const struct plan_insn *code, uint32_t n, uint32_t nvars)
{
	struct plan pl = { 0 };
	struct plan_probe pp = { .entry = 0, .nvars = nvars };
	pl.code = (struct plan_insn *)code;
	pl.ninsns = n;
	pl.probes = &pp;
	pl.nprobes = 1;
	pl.nmaps = 1;
	pl.kind[0] = MK_INT;
	pl.pool_len = LANG_STRLEN;
	uint32_t bad;
	return plan_verify(&pl, &bad);
}

static void case_verifier(void)
{
	const struct plan_insn ok[] = { { PI_IMM, 0, 0, 0, 1 }, { PI_JZ, 0, 0, 3, 0 },
					{ PI_IMM, 0, 0, 0, 2 }, { PI_IMM, 0, 0, 0, 3 },
					{ PI_POP, 0, 0, 0, 0 }, { PI_END, 0, 0, 0, 0 } };
	/* the JZ path reaches 3 with a depth of 0, the fall-through with 1 */
	CHECK_EQ_INT(verify_insns(ok, 6, 0), -EINVAL);
	const struct plan_insn good[] = { { PI_IMM, 0, 0, 0, 1 }, { PI_JZ, 0, 0, 3, 0 },
					  { PI_IMM, 0, 0, 0, 2 }, { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(good, 4, 0), -EINVAL); /* END with a word left */
	const struct plan_insn fine[] = { { PI_IMM, 0, 0, 0, 1 }, { PI_JZ, 0, 0, 3, 0 },
					  { PI_IMM, 0, 0, 0, 2 }, { PI_POP, 0, 0, 0, 0 },
					  { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(fine, 5, 0), -EINVAL); /* 3 reached with 0 and 1 words */
	const struct plan_insn right[] = { { PI_IMM, 0, 0, 0, 1 }, { PI_JZ, 0, 0, 2, 0 },
					   { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(right, 3, 0), 0);
	const struct plan_insn back[] = { { PI_IMM, 0, 0, 0, 1 }, { PI_JZ, 0, 0, 0, 0 },
					  { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(back, 3, 0), -EINVAL); /* backward: a loop */
	const struct plan_insn under[] = { { PI_POP, 0, 0, 0, 0 }, { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(under, 2, 0), -EINVAL);
	const struct plan_insn past_end[] = { { PI_IMM, 0, 0, 0, 1 }, { PI_JZ, 0, 0, 3, 0 },
					      { PI_END, 0, 0, 0, 0 }, { PI_POP, 0, 0, 0, 0 },
					      { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(past_end, 5, 0), -EINVAL); /* found by fuzz_lang */
	const struct plan_insn int_as_str[] = { { PI_IMM, 0, 0, 0, 4096 },
						{ PI_IMM, 0, 0, 0, 4096 },
						{ PI_STREQ, OP_EQ, 0, 0, 0 },
						{ PI_POP, 0, 0, 0, 0 },
						{ PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(int_as_str, 5, 0), -EINVAL);
	const struct plan_insn bad_var[] = { { PI_LOADV, 3, 0, 0, 0 }, { PI_POP, 0, 0, 0, 0 },
					     { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(bad_var, 3, 2), -EINVAL);
	const struct plan_insn bad_map[] = { { PI_MAP_GET, 5, 0, 0, 0 }, { PI_POP, 0, 0, 0, 0 },
					     { PI_END, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(bad_map, 3, 0), -EINVAL);
	struct plan_insn deep[PLAN_STACK + 2];
	for (int i = 0; i <= PLAN_STACK; i++)
		deep[i] = (struct plan_insn){ PI_IMM, 0, 0, 0, i };
	deep[PLAN_STACK + 1] = (struct plan_insn){ PI_END, 0, 0, 0, 0 };
	CHECK_EQ_INT(verify_insns(deep, PLAN_STACK + 2, 0), -EINVAL);
	const struct plan_insn cast0[] = {{PI_IMM, 0, 0, 0, 1}, {PI_CAST, 0, 1, 0, 0},
					  {PI_POP, 0, 0, 0, 0}, {PI_END, 0, 0, 0, 0}};
	CHECK_EQ_INT(verify_insns(cast0, 4, 0), -EINVAL); /* found by fuzz_lang */
	struct plan pl = {0};
	struct plan_probe pp = {0};
	const struct plan_insn keys9[] = {{PI_IMM, 0, 0, 0, 1}, {PI_IMM, 0, 0, 0, 1},
					  {PI_IMM, 0, 0, 0, 1}, {PI_IMM, 0, 0, 0, 1},
					  {PI_IMM, 0, 0, 0, 1}, {PI_IMM, 0, 0, 0, 1},
					  {PI_IMM, 0, 0, 0, 1}, {PI_IMM, 0, 0, 0, 1},
					  {PI_IMM, 0, 0, 0, 1}, {PI_MAP_DEL, 0, 9, 0, 0},
					  {PI_END, 0, 0, 0, 0}};
	pl.code = (struct plan_insn *)keys9;
	pl.ninsns = 11;
	pl.probes = &pp;
	pl.nprobes = 1;
	pl.nmaps = 1;
	pl.nkeys[0] = 9; /* more keys than the evaluator's buffer holds */
	pl.kind[0] = MK_INT;
	uint32_t bad;
	CHECK_EQ_INT(plan_verify(&pl, &bad), -EINVAL);
	const struct plan_insn no_end[] = { { PI_IMM, 0, 0, 0, 1 }, { PI_POP, 0, 0, 0, 0 } };
	CHECK_EQ_INT(verify_insns(no_end, 2, 0), -EINVAL);
	end_case("verifier");
}

/* Programs past the plan's bounds are refused with a message. */
static void case_limits(void)
{
	static char big[80000];
	size_t o = (size_t)snprintf(big, sizeof(big), "BEGIN { ");
	for (int i = 0; i < 3000; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "@x%d = %d; ", i % 60, i);
	snprintf(big + o, sizeof(big) - o, "}");
	struct lang_program *p = lang_program_new("stdin", big);
	const char *diag;
	CHECK(lang_program_errors(p, &diag) == 1);
	CHECK_CONTAINS(diag, "program too large");
	lang_program_free(p);
	p = lang_program_new("stdin", "BEGIN { printf(\"%s%s%s%s%s%s%s%s%s\\n\", comm, comm, comm, comm, comm, comm, comm, comm, comm); }");
	CHECK(lang_program_errors(p, &diag) >= 1);
	CHECK_CONTAINS(diag, "printf: 8 arguments at most");
	lang_program_free(p);
	/* text past LANG_MAX_TEXT: refused before parsing, the first line quoted */
	size_t n = LANG_MAX_TEXT + 1;
	char *huge = malloc(n + 1);
	memset(huge, ' ', n);
	memcpy(huge, "BEGIN { @x = 1; }\n", 18);
	huge[n] = 0;
	p = lang_program_new("stdin", huge);
	CHECK(lang_program_errors(p, &diag) == 1);
	CHECK_STR(diag, "stdin:1:1-2: ERROR: program too large: more than 1048576 bytes\n"
			"BEGIN { @x = 1; }\n~\n");
	CHECK(!p->compiled);
	lang_program_free(p);
	huge[n - 1] = 0; /* exactly the bound: parsed (blanks after the probe) */
	p = lang_program_new("stdin", huge);
	CHECK(lang_program_errors(p, &diag) == 0 && p->compiled);
	lang_program_free(p);
	free(huge);
	end_case("limits");
}

/*
 * The same program on the maps in the target (a region of src/trace/map,
 * updated by plan_eval through lang_target_env_ops, from two threads, merged
 * by lang_target_read) and on the tracer's store: the same text, byte for byte.
 */
#define TARGET_PROG                                                                        \
	"uprobe:/bin/true:main /arg0 != 3/ { @c = count(); @k[arg0 % 4] = count(); "        \
	"@s[arg0 % 3] = sum(arg1); @mn = min(arg1); @mx = max(arg1); @a = avg(arg1); "      \
	"@st[arg0 % 2] = stats(arg1); @h = hist(arg1); @l = lhist(arg1, 0, 100, 20); "      \
	"if (arg0 >= 995) { @last[arg0 % 5] = arg1; } @inc[arg0 % 2]++; @start[arg0] = arg1; " \
	"if (arg0 % 7 == 0) { delete(@start[arg0]); } }"

struct target_run {
	struct lang_program *p;
	struct map_region *r;
	uint64_t from, to;
};

static void *target_thread(void *arg)
{
	struct target_run *t = arg;
	struct lang_env_ops ops = { .emit = r_emit, .read_str = r_read };
	lang_target_env_ops(&ops);
	for (uint64_t i = t->from; i < t->to; i++) {
		uint64_t args[6] = { i, i * 7 % 130 };
		struct lang_env env = { .ops = &ops, .ctx = t->r, .args = args };
		if (plan_eval(&t->p->plan, 0, &env))
			return (void *)1;
	}
	return NULL;
}

static char *maps_text(struct lang_store *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	print_all_maps(s, f);
	fclose(f);
	return buf;
}

static void case_target_maps(void)
{
	struct lang_program *p = compile(TARGET_PROG);
	struct map_region_opts o = { .sz = sizeof(o) };
	struct map_region *r = map_region_create(&o);
	char why[256] = "";
	CHECK(r && lang_target_define(p, r, why, sizeof(why)) == 0);
	CHECK_EQ_INT(map_region_seal(r), 0);
	struct target_run a = { p, r, 0, 500 }, b = { p, r, 500, 1000 };
	pthread_t ta, tb;
	pthread_create(&ta, NULL, target_thread, &a);
	pthread_create(&tb, NULL, target_thread, &b);
	void *ra, *rb;
	pthread_join(ta, &ra);
	pthread_join(tb, &rb);
	CHECK(!ra && !rb);
	struct lang_store *in_target = store_new(&p->checked, &p->plan);
	CHECK_EQ_INT(lang_target_read(r, in_target), 0);

	struct recorder rec = { 0 };
	rec.store = store_new(&p->checked, &p->plan);
	store_env_ops(&rec.store_ops);
	int rc;
	for (uint64_t i = 0; i < 1000; i++) {
		uint64_t args[6] = { i, i * 7 % 130 };
		run0(p, &rec, args, &rc);
	}
	char *got = maps_text(in_target), *want = maps_text(rec.store);
	CHECK_STR(got, want);
	CHECK_CONTAINS(want, "@c: 999\n");
	free(got);
	free(want);
	store_free(in_target);
	store_free(rec.store);
	map_region_free(r);
	lang_program_free(p);
	end_case("target_maps");
}

/*
 * The fast paths (shape.c) against the interpreter (UPROBE_LANG_PLAN=general):
 * each program compiled both ways, run on the same hits against stores, prints
 * the same maps byte for byte; lookalikes of the shapes stay interpreted.
 */
static const struct {
	const char *text;
	enum plan_fast_kind kind[2]; /* probes 0 and 1 */
} shapes[] = {
	{ "uprobe:/bin/true:main { @ = count(); }", { PF_AGG } },
	{ "uprobe:/bin/true:main { @[arg0] = count(); }", { PF_AGG } },
	{ "uprobe:/bin/true:main { @h = hist(arg1); }", { PF_AGG } },
	{ "uprobe:/bin/true:main { @h[arg0] = hist(arg2); }", { PF_AGG } },
	{ "uprobe:/bin/true:main { @l[arg0] = lhist(arg1, 0, 100, 10); }", { PF_AGG } },
	{ "uprobe:/bin/true:main { @s[tid] = sum(arg1); }", { PF_AGG } },
	{ "uprobe:/bin/true:main { @st = stats(arg1); }", { PF_AGG } },
	{ "uprobe:/bin/true:main { @v[arg0] = arg1; }", { PF_SET } },
	{ "uprobe:/bin/true:main { @v = arg1; }", { PF_SET } },
	{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
	  "uretprobe:/bin/true:main /@start[tid]/ { @ns = hist(nsecs - @start[tid]); "
	  "delete(@start[tid]); }",
	  { PF_SET, PF_LAT } },
	{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
	  "uretprobe:/bin/true:main /@start[tid]/ { @ns = avg(nsecs - @start[tid]); "
	  "delete(@start[tid]); }",
	  { PF_SET, PF_LAT } },
	{ "uprobe:/bin/true:main { @start[pid] = arg1; } "
	  "uretprobe:/bin/true:main /@start[pid]/ { @m = max(retval - @start[pid]); "
	  "delete(@start[pid]); }",
	  { PF_SET, PF_LAT } },
	/* lookalikes: interpreted */
	{ "uprobe:/bin/true:main /arg0/ { @ = count(); }", { PF_NONE } },
	{ "uprobe:/bin/true:main { @[arg0, arg1] = count(); }", { PF_NONE } },
	{ "uprobe:/bin/true:main { @[comm] = count(); }", { PF_NONE } },
	{ "uprobe:/bin/true:main { @ = count(); @n = count(); }", { PF_NONE } },
	{ "uprobe:/bin/true:main { @h = hist(arg1 + 1); }", { PF_NONE } },
	{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
	  "uretprobe:/bin/true:main /@start[tid]/ { @ns = hist(nsecs - @start[pid]); "
	  "delete(@start[tid]); }",
	  { PF_SET, PF_NONE } },
	{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
	  "uretprobe:/bin/true:main /@start[tid]/ { @ns = hist(nsecs - @start[tid]); }",
	  { PF_SET, PF_NONE } },
};

/* 300 hits of each probe in turn, arg0 % 7, the rest varying, nsecs rising. */
static char *run_shapes(struct lang_program *p)
{
	struct recorder r = { 0 };
	r.store = store_new(&p->checked, &p->plan);
	store_env_ops(&r.store_ops);
	cur_plan = &p->plan;
	for (uint64_t i = 0; i < 300; i++) {
		for (uint32_t k = 0; k < p->plan.nprobes; k++) {
			uint64_t args[6] = { i % 7, i * 37 % 200, i * 5 };
			struct lang_env env = { .ops = &rec_ops, .ctx = &r, .args = args,
						.retval = i * 11, .tid = 100 + i % 3, .pid = 100, .nsecs = 1000 + i * 13 + k * (i % 50),
						.comm = "test", .func = "f", .probe = "uprobe:x:f" };
			if (plan_eval(&p->plan, k, &env))
				TL_FAIL("plan_eval of probe %u", k);
		}
	}
	char *text = maps_text(r.store);
	store_free(r.store);
	return text;
}

/* A shape's builtin as struct lang_env gives it (run_shapes_on's env). */
static uint64_t env_int(const struct lang_env *env, uint8_t b)
{
	switch (b) {
	case B_ARG0 ... B_ARG5:
		return env->args[b - B_ARG0];
	case B_RETVAL:
		return env->retval;
	case B_PID:
		return env->pid;
	case B_TID:
		return env->tid;
	case B_NSECS:
		return env->nsecs;
	default:
		return 0;
	}
}

/*
 * The same hits on the maps in the target (their map_take): the region's text.
 * direct: as the target's handler runs them (lang/hit.c): a probe of a shape
 * through lang_fast_run straight on the region (tid-owned maps through
 * map_value_set_own / map_value_take_own; the latency idiom's own probes,
 * plan_fast.tidns, through lang_fast_tidns), the others through plan_eval.
 */
static char *run_shapes_on(struct lang_program *p, bool direct)
{
	struct map_region_opts o = { .sz = sizeof(o) };
	struct map_region *r = map_region_create(&o);
	struct lang_env_ops ops = { .emit = r_emit, .read_str = r_read };
	char why[256] = "";
	lang_target_env_ops(&ops);
	if (!direct)
		CHECK(ops.map_take != NULL);
	CHECK(r && lang_target_define(p, r, why, sizeof(why)) == 0 && map_region_seal(r) == 0);
	for (uint64_t i = 0; i < 300; i++) {
		for (uint32_t k = 0; k < p->plan.nprobes; k++) {
			uint64_t args[6] = { i % 7, i * 37 % 200, i * 5 };
			struct lang_env env = { .ops = &ops, .ctx = r, .args = args, .retval = i * 11,
						.tid = 100 + i % 3, .pid = 100,
						.nsecs = 1000 + i * 13 + k * (i % 50),
						.comm = "test", .func = "f", .probe = "uprobe:x:f" };
			const struct plan_fast *f = &p->plan.probes[k].fast;
			if (direct && f->tidns) /* hit.c's first test: tid and nsecs only */
				lang_fast_tidns(f, r, env.tid, env.nsecs);
			else if (direct && f->kind != PF_NONE)
				lang_fast_run(f, r, env_int(&env, f->key), env_int(&env, f->val));
			else if (plan_eval(&p->plan, k, &env))
				TL_FAIL("plan_eval of probe %u", k);
		}
	}
	struct lang_store *st = store_new(&p->checked, &p->plan);
	CHECK_EQ_INT(lang_target_read(r, st), 0);
	char *text = maps_text(st);
	store_free(st);
	map_region_free(r);
	return text;
}

/*
 * Tid-owned value maps (shape.c, plan_fast.owned): @start[tid] when every
 * writer of @start is a shape writing it with key tid; any other writer
 * (another key, an interpreted ++ or delete) and it is not. tidns: an owned
 * probe whose value is nsecs (the latency idiom's own path, lang_fast_tidns).
 */
static void case_tid_owned(void)
{
	static const struct {
		const char *text;
		bool owned[3];
		bool tidns[3];
	} cases[] = {
		{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
		  "uretprobe:/bin/true:main /@start[tid]/ { @ns = hist(nsecs - @start[tid]); "
		  "delete(@start[tid]); }",
		  { true, true }, { true, true } },
		{ "uprobe:/bin/true:main { @start[tid] = arg0; } "
		  "uretprobe:/bin/true:main /@start[tid]/ { @ns = sum(retval - @start[tid]); "
		  "delete(@start[tid]); }",
		  { true, true }, { false, false } },
		{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
		  "uretprobe:/bin/true:main /@start[tid]/ { @ns = avg(nsecs - @start[tid]); "
		  "delete(@start[tid]); }",
		  { true, true }, { true, true } },
		{ "uprobe:/bin/true:main { @start[pid] = nsecs; } "
		  "uretprobe:/bin/true:main /@start[pid]/ { @ns = hist(nsecs - @start[pid]); "
		  "delete(@start[pid]); }",
		  { false, false }, { false, false } },
		{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
		  "uretprobe:/bin/true:main /@start[tid]/ { @ns = hist(nsecs - @start[tid]); "
		  "delete(@start[tid]); } uprobe:/bin/true:main { @start[arg0] = 1; }",
		  { false, false, false }, { false, false, false } },
		{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
		  "uretprobe:/bin/true:main /@start[tid]/ { @ns = hist(nsecs - @start[tid]); "
		  "delete(@start[tid]); } uprobe:/bin/true:main { @start[tid]++; }",
		  { false, false, false }, { false, false, false } },
		{ "uprobe:/bin/true:main { @start[tid] = nsecs; } "
		  "uretprobe:/bin/true:main /@start[tid]/ { @ns = hist(nsecs - @start[tid]); "
		  "delete(@start[tid]); } uprobe:/bin/true:main /arg0/ { delete(@start[tid]); }",
		  { false, false, false }, { false, false, false } },
		{ "uprobe:/bin/true:main { @t[tid] = arg0; @n = count(); }", { false }, { false } },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct lang_program *p = compile(cases[i].text);
		for (uint32_t k = 0; k < p->plan.nprobes && k < 3; k++)
			if (p->plan.probes[k].fast.owned != cases[i].owned[k] ||
			    p->plan.probes[k].fast.tidns != cases[i].tidns[k])
				TL_FAIL("%s: probe %u owned %d tidns %d, want %d %d", cases[i].text,
					k, p->plan.probes[k].fast.owned, p->plan.probes[k].fast.tidns,
					cases[i].owned[k], cases[i].tidns[k]);
		lang_program_free(p);
	}
	end_case("tid_owned");
}

static void case_fast_paths(void)
{
	for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
		setenv("UPROBE_LANG_PLAN", "general", 1);
		struct lang_program *g = compile(shapes[i].text);
		unsetenv("UPROBE_LANG_PLAN");
		struct lang_program *f = compile(shapes[i].text);
		for (uint32_t k = 0; k < f->plan.nprobes && k < 2; k++) {
			CHECK_EQ_INT(g->plan.probes[k].fast.kind, PF_NONE);
			if (f->plan.probes[k].fast.kind != shapes[i].kind[k])
				TL_FAIL("%s: probe %u: %s path, want %s", shapes[i].text, k,
					plan_fast_name(f->plan.probes[k].fast.kind),
					plan_fast_name(shapes[i].kind[k]));
		}
		char *want = run_shapes(g), *got = run_shapes(f);
		if (strcmp(got, want))
			TL_FAIL("%s: fast path printed\n%s\ninterpreter\n%s", shapes[i].text, got,
				want);
		CHECK(strlen(want) > 8);
		free(got);
		got = run_shapes_on(f, false); /* in the target: the same text */
		if (strcmp(got, want))
			TL_FAIL("%s: fast path in the target printed\n%s\ninterpreter\n%s",
				shapes[i].text, got, want);
		free(got);
		got = run_shapes_on(f, true); /* as the target's handler runs it: the same */
		if (strcmp(got, want))
			TL_FAIL("%s: lang_fast_run printed\n%s\ninterpreter\n%s", shapes[i].text,
				got, want);
		free(want);
		free(got);
		lang_program_free(g);
		lang_program_free(f);
	}
	setenv("UPROBE_LANG_PLAN", "bogus", 1);
	struct lang_program *p = lang_program_new("stdin", "BEGIN { @ = 1; }");
	const char *diag;
	CHECK(lang_program_errors(p, &diag) == 1);
	CHECK_CONTAINS(diag, "UPROBE_LANG_PLAN=bogus: 'general' or 'fast' (the default)");
	lang_program_free(p);
	unsetenv("UPROBE_LANG_PLAN");
	end_case("fast_paths");
}

int main(void)
{
	/* the fetch layer's fault handling: SIGSEGV in safe_read.S returns -EFAULT */
	if (ubp_fault_install(arch_safe_read_fault)) {
		printf("FAIL: lang_plan: ubp_fault_install\n");
		return 1;
	}
	case_eval();
	case_str_fault();
	case_verifier();
	case_limits();
	case_target_maps();
	case_fast_paths();
	case_tid_owned();
	return tl_total_failed ? 1 : 0;
}
