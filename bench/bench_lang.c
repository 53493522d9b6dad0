/* SPDX-License-Identifier: MIT */
/*
 * The bpftrace language in the target (issue 16): the per-hit cost of a
 * compiled program's plan run by the probe handler on the maps in the target
 * (src/lang/ on src/trace/map/), on a jump-optimized probe, beside the
 * unprobed call, the empty handler and the same map update written by hand
 * (bench_map's handler), in one run; bpftrace's @ = count() on the same
 * function is a row too (a process per measurement; "na" without bpftrace).
 *
 *   @ = count()          @[arg0] = count()          @ = hist(arg1)
 *   uprobe { @start[tid] = nsecs } uretprobe /@start[tid]/
 *       { @ns = hist(nsecs - @start[tid]); delete(@start[tid]) }
 *
 * The plans come from lang_program_new(), like uprobe -e's, twice: their fast
 * paths (src/lang/shape.c) and interpreted (UPROBE_LANG_PLAN=general), rows side
 * by side for an A/B ratio in one run. nsecs is the TSC
 * here (bench_lang_handlers.c): the cost of the idiom, not its unit.
 * The latency idiom is measured twice: on bench_lang_target (lea + ret, 5 bytes:
 * the entry's jump covers the ret, which is patched in the entry trampoline's
 * copy of it) and on bench_lang_site (mov + lea + ret and padding: the ret is a
 * return site patched in the text, as in most functions with more than one
 * instruction before it), each against its own unprobed call.
 * `@ = count()` is measured a third way: on the count stub (countstub/langstub:
 * the trampoline adds 1 to the thread's dense word, no handler), what uprobe -e
 * gives that program; its row claims the process's count region.
 * Usage: bench_lang [-r rounds] [-t ms per measurement] [-b bpftrace rounds] [-c calls]
 * (-c: count mode, a row's calls between callgrind requests: instructions per hit
 * under `sh bench/callgrind.sh build/bench/bench_lang -`)
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench_arm.h"
#include "bench_handlers.h"
#include "bench_lang_handlers.h"
#include "bench_map_handlers.h"
#include "harness.h"
#include "trace/map/map.h"
#include "uprobes_lang.h"

/* The probed function: lea + ret, the 5 bytes a jmp replaces (as bench_map's). */
__asm__(".text\n"
	".p2align 6\n"
	".globl bench_lang_target\n"
	".type bench_lang_target,@function\n"
	"bench_lang_target:\n"
	"	.cfi_startproc\n"
	"	lea 1(%rdi,%rdi,2),%eax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bench_lang_target,.-bench_lang_target\n");
int bench_lang_target(int x, int y);
static const uint8_t target_bytes[] = { 0x8d, 0x44, 0x7f, 0x01, 0xc3 };
static struct bench_bpftrace bt = BENCH_BPFTRACE("uprobe", bench_lang_target, target_bytes);

/*
 * The same result with a return site: mov + lea (6 bytes) are what the entry's
 * jump replaces, the ret and the int3 padding after it what the exit's does
 * (bench_ret's target has this form).
 */
__asm__(".text\n"
	".p2align 6\n"
	".globl bench_lang_site\n"
	".type bench_lang_site,@function\n"
	"bench_lang_site:\n"
	"	.cfi_startproc\n"
	"	mov %edi,%eax\n"
	"	lea 1(%rax,%rax,2),%eax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bench_lang_site,.-bench_lang_site\n"
	"	.p2align 4,0xcc\n");
int bench_lang_site(int x, int y);

/* Issue 16's targets, ns above the unprobed call (checked, never asserted). */
#define TARGET_COUNT_NS	  8.0
#define TARGET_KEYED_NS	  20.0
#define TARGET_LATENCY_NS 40.0
#define SITE_LANG (2 * NPROGS) /* langs[SITE_LANG]: the latency idiom on bench_lang_site */
#define STUB_LANG (2 * NPROGS + 1) /* langs[STUB_LANG]: @ = count() on the count stub */

static const char *const programs[] = {
	"uprobe:x:f { @ = count(); }",
	"uprobe:x:f { @[arg0] = count(); }",
	"uprobe:x:f { @ = hist(arg1); }",
	"uprobe:x:f { @start[tid] = nsecs; } "
	"uretprobe:x:f /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }",
};
#define NPROGS 4
/* [0, NPROGS): the fast paths (shape.c); [NPROGS, 2 NPROGS): UPROBE_LANG_PLAN=general */
static struct lang_program *progs[2 * NPROGS];
static struct bench_lang langs[2 * NPROGS + 2];
static struct bench_maps maps;

/*
 * The flags uprobe -e attaches a program's probes with (trace/session/event.c:
 * no SIMD, and no rflags: a program never reads them); empty_ns keeps the
 * rflags save (NO_SIMD alone), empty_flags_ns is the floor of every plan row.
 */
#define NO_SIMD	  UPROBE_F_HANDLER_NO_SIMD
#define CLI_FLAGS (UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS)
#define ROW(lb, k, nat, a) .c = { .label = lb, .key = k, .base = nat, .arm = a }
#define LIBF(lb, k, h, r, x, fl) \
	{ ROW(lb, k, 0, &bench_lib_arm), .addr = (const void *)bench_lang_target, \
	  .flags = fl, .handler = h, .ret_handler = r, .ctx = x, .want = WANT_OPT }
#define LIB(lb, k, h, r, x) LIBF(lb, k, h, r, x, CLI_FLAGS)
#define NATIVE_SITE 12 /* rows[NATIVE_SITE]: bench_lang_site unprobed (setup checks) */
static const struct bench_arm site_lib_arm; /* the return site's, below */
static const struct bench_arm stub_lib_arm;  /* the count stub's, below */
static struct bench_lib rows[] = {
	{ ROW("native", "native_ns", -1, NULL) },
	LIBF("optimized, empty handler", "empty_ns", bench_empty_handler, NULL, NULL, NO_SIMD),
	LIB("empty handler, the CLI's flags", "empty_flags_ns", bench_empty_handler, NULL, NULL),
	LIB("by hand: @ = count()", "hand_count_ns", bench_map_count, NULL, &maps),
	LIB("plan: @ = count()", "count_ns", bench_lang_entry, NULL, &langs[0]),
	LIB("plan: @[arg0] = count()", "keyed_ns", bench_lang_entry, NULL, &langs[1]),
	LIB("plan: @ = hist(arg1)", "hist_ns", bench_lang_entry, NULL, &langs[2]),
	LIB("plan: latency idiom", "latency_ns", bench_lang_entry, bench_lang_return, &langs[3]),
	LIB("interpreted: @ = count()", "count_general_ns", bench_lang_entry, NULL, &langs[4]),
	LIB("interpreted: @[arg0] = count()", "keyed_general_ns", bench_lang_entry, NULL,
	    &langs[5]),
	LIB("interpreted: @ = hist(arg1)", "hist_general_ns", bench_lang_entry, NULL, &langs[6]),
	LIB("interpreted: latency idiom", "latency_general_ns", bench_lang_entry,
	    bench_lang_return, &langs[7]),
	{ ROW("native, the site target", "native_site_ns", -1, NULL) },
	{ ROW("plan: latency idiom, return site", "latency_site_ns", NATIVE_SITE, &site_lib_arm),
	  .addr = (const void *)bench_lang_site, .flags = CLI_FLAGS, .handler = bench_lang_entry,
	  .ret_handler = bench_lang_return, .ctx = &langs[SITE_LANG], .want = WANT_OPT },
	{ ROW("count stub: @ = count()", "count_stub_ns", 0, &stub_lib_arm),
	  .addr = (const void *)bench_lang_target, .flags = CLI_FLAGS | UPROBE_F_COUNT_STUB,
	  .handler = bench_lang_entry, .ctx = &langs[STUB_LANG], .want = WANT_OPT },
	{ .c = { .label = "bpftrace @ = count()", .key = "bpftrace_count_ns", .base = 0,
		 .arm = &bench_bpftrace_arm, .arg = &bt } },
};
#undef LIB
#undef LIBF
#undef ROW
#define NROWS ((int)(sizeof(rows) / sizeof(rows[0])))
#define FIRST_PLAN 4 /* rows[FIRST_PLAN]: plan: @ = count() */
#define LATENCY_SITE (NATIVE_SITE + 1)
#define STUB_ROW     (NATIVE_SITE + 2)

static volatile int sink;

static __attribute__((noinline)) void run_calls(int (*fn)(int, int), uint64_t first, uint64_t n)
{
	int acc = 0;

	for (uint64_t i = first; i < first + n; i++)
		acc += fn((int)(i & 1023), (int)i);
	sink = acc;
}

static void run(struct bench_case *c, uint64_t first, uint64_t n)
{
	bool site = c == &rows[NATIVE_SITE].c || c == &rows[LATENCY_SITE].c;

	run_calls(site ? bench_lang_site : bench_lang_target, first, n);
}

/* The site row's arm: its return probe must take the return site (what it measures). */
static int site_arm(struct bench_case *c)
{
	return bench_lib_arm_ret(c, UPROBE_RET_SITE);
}

static int site_disarm(struct bench_case *c, uint64_t calls)
{
	return bench_lib_arm.disarm(c, calls);
}

static const struct bench_arm site_lib_arm = { .arm = site_arm, .disarm = site_disarm };

static int count_total(const void *key, const struct map_value *v, void *ctx);

/*
 * The count stub's row: armed as the others, then its count enabled on the
 * dense word of the program's @ (the first hit takes the handler, whose
 * shard claim gives the thread its count base; the rest the stub). Its hits
 * are the map's count (uprobe_info.hits has only the handler's).
 */
static uint64_t stub_counted; /* the map's total at the last disarm */

static int stub_arm(struct bench_case *c)
{
	struct bench_lib *l = (struct bench_lib *)c;
	uint64_t slot = map_dense_slot(langs[STUB_LANG].region, 0, 0);

	if (bench_lib_arm.arm(c))
		return -1;
	if (!uprobe_count_stub(l->probe) || !slot || uprobe_count_enable(l->probe, slot)) {
		snprintf(c->why, sizeof(c->why), "no count stub (stub %d, slot %llu): %s",
			 uprobe_count_stub(l->probe), (unsigned long long)slot,
			 uprobe_last_error());
		bench_lib_arm.disarm(c, 0);
		return -1;
	}
	return 0;
}

static int stub_disarm(struct bench_case *c, uint64_t calls)
{
	struct bench_lib *l = (struct bench_lib *)c;
	uint64_t handler_hits = l->hits, total = 0;
	int ret = bench_lib_arm.disarm(c, calls);

	map_read(langs[STUB_LANG].region, 0, count_total, &total);
	l->hits = handler_hits + (total - stub_counted);
	stub_counted = total;
	return ret;
}

static const struct bench_arm stub_lib_arm = { .arm = stub_arm, .disarm = stub_disarm };

/* Each program compiled, its maps defined in a region of their own, sealed. */
static int setup(void)
{
	struct map_def c = { .name = "@count", .kind = MAP_COUNT };
	char why[256];

	if (strcmp(rows[NATIVE_SITE].c.key, "native_site_ns") ||
	    strcmp(rows[LATENCY_SITE].c.key, "latency_site_ns") ||
	    strcmp(rows[STUB_ROW].c.key, "count_stub_ns"))
		return fprintf(stderr, "bench_lang: NATIVE_SITE is not the site rows' index\n"), -1;
	maps.region = map_region_create(NULL);
	if (!maps.region || (maps.count = map_define(maps.region, &c)) < 0 ||
	    map_region_seal(maps.region))
		return fprintf(stderr, "bench_lang: cannot make the maps\n"), -1;
	for (int i = 0; i < 2 * NPROGS; i++) {
		const char *diag;
		if (i == NPROGS)
			setenv("UPROBE_LANG_PLAN", "general", 1);
		progs[i] = lang_program_new("stdin", programs[i % NPROGS]);
		if (i == 2 * NPROGS - 1)
			unsetenv("UPROBE_LANG_PLAN");
		if (!progs[i] || lang_program_errors(progs[i], &diag) || !progs[i]->compiled)
			return fprintf(stderr, "bench_lang: %s: %s\n", programs[i % NPROGS], diag), -1;
		langs[i] = (struct bench_lang){ .plan = &progs[i]->plan, .entry = 0, .ret = 1 };
		langs[i].region = map_region_create(NULL);
		if (!langs[i].region || lang_target_define(progs[i], langs[i].region, why, sizeof(why)) ||
		    map_region_seal(langs[i].region))
			return fprintf(stderr, "bench_lang: %s: %s\n", programs[i % NPROGS], why), -1;
		lang_target_env_ops(&langs[i].ops);
	}
	langs[SITE_LANG] = (struct bench_lang){ .plan = &progs[3]->plan, .entry = 0, .ret = 1 };
	langs[SITE_LANG].region = map_region_create(NULL);
	if (!langs[SITE_LANG].region ||
	    lang_target_define(progs[3], langs[SITE_LANG].region, why, sizeof(why)) ||
	    map_region_seal(langs[SITE_LANG].region))
		return fprintf(stderr, "bench_lang: %s: %s\n", programs[3], why), -1;
	lang_target_env_ops(&langs[SITE_LANG].ops);
	langs[STUB_LANG] = (struct bench_lang){ .plan = &progs[0]->plan, .entry = 0, .ret = 1 };
	langs[STUB_LANG].region = map_region_create(NULL);
	if (!langs[STUB_LANG].region ||
	    lang_target_define(progs[0], langs[STUB_LANG].region, why, sizeof(why)) ||
	    map_region_seal(langs[STUB_LANG].region) ||
	    map_region_count_claim(langs[STUB_LANG].region))
		return fprintf(stderr, "bench_lang: %s: no count region: %s\n", programs[0], why),
		       -1;
	lang_target_env_ops(&langs[STUB_LANG].ops);
	return 0;
}

static int count_total(const void *key, const struct map_value *v, void *ctx)
{
	(void)key;
	*(uint64_t *)ctx += v->count;
	return 0;
}

/* The plans' maps counted every hit of their rows (the harness counted the calls). */
static void exact_checks(void)
{
	for (int set = 0; set < 2; set++) { /* fast paths (rows FIRST_PLAN..+3), interpreted */
		for (int k = 0; k < 3; k++) {
			const struct bench_lib *row = &rows[FIRST_PLAN + 4 * set + k];
			uint64_t counted = 0;

			map_read(langs[4 * set + k].region, 0, count_total, &counted);
			bench_check(counted == row->hits, false,
				    "%s: %" PRIu64 " counted, %" PRIu64 " hits", row->c.label,
				    counted, row->hits);
		}
		uint64_t lat = 0; /* @ns: one value per returned call */
		const struct bench_lib *row = &rows[FIRST_PLAN + 3 + 4 * set];

		map_read(langs[4 * set + 3].region, 1, count_total, &lat);
		bench_check(lat == row->ret_hits, false,
			    "%s: %" PRIu64 " in @ns, %" PRIu64 " returns", row->c.label, lat,
			    row->ret_hits);
	}
	uint64_t lat = 0;
	const struct bench_lib *row = &rows[LATENCY_SITE];

	map_read(langs[SITE_LANG].region, 1, count_total, &lat);
	bench_check(lat == row->ret_hits, false, "%s: %" PRIu64 " in @ns, %" PRIu64 " returns",
		    row->c.label, lat, row->ret_hits);
	row = &rows[STUB_ROW]; /* every call counted, by the handler or the stub */
	bench_check(row->hits == row->c.calls, false, "%s: %" PRIu64 " counted, %" PRIu64 " calls",
		    row->c.label, row->hits, row->c.calls);
}

/* Count mode (-c, bench/callgrind.sh): a row's line; right when every call was a hit. */
static bool count_report(struct bench_case *c)
{
	const struct bench_lib *l = (const struct bench_lib *)c;

	printf("%s: %" PRIu64 " calls, %" PRIu64 " hits%s%s\n", c->key, c->calls, l->hits,
	       c->failed ? ": error: " : "", c->failed ? c->why : "");
	return !c->failed && (!c->arm || l->hits == c->calls);
}

/* Row row's ns per hit against issue 16's target want. */
static void target(struct bench_suite *s, int row, double want)
{
	const struct bench_lib *r = &rows[row];

	bench_target_ns(r->c.key, bench_usable(&r->c), bench_per_hit(s, &r->c), want,
			"the unprobed call");
}

static const struct bench_table table = {
	.label_w = 30,
	.hit_head = "ns/hit",
	.legend = "ns/hit: ns/call minus the unprobed call's.",
};

int main(int argc, char **argv)
{
	struct bench_cfg cfg = { .rounds = 11, .ms = 200, .slow_rounds = 3, .slow_budget_ms = 30000 };
	struct bench_suite s = { rows, sizeof(rows[0]), NROWS, run, NULL, &cfg };
	static const char *const count_rows[] = {
		"native_ns",	    "empty_ns",		"empty_flags_ns",   "hand_count_ns",    "count_ns",
		"keyed_ns",	    "hist_ns",		"latency_ns",	    "count_general_ns",
		"keyed_general_ns", "hist_general_ns", "latency_general_ns", "native_site_ns",
		"latency_site_ns",  "count_stub_ns",
	};
	int st = bench_parse(&cfg, argc, argv, "c",
			     "[-r rounds] [-t ms] [-b bpftrace rounds] [-c calls]");

	if (st)
		return st;
	if (setup())
		return 1;
	if (cfg.count_calls)
		return bench_count_mode(&s, count_rows, 15, cfg.count_calls, NULL, count_report);
	printf("bench_lang: compiled plans on the maps in the target, optimized probe\n");
	bench_pin();
	bench_suite_run(&s);
	bench_table_print(&s, &table);
	for (int i = 0; i < NROWS; i++)
		bench_not_measured(&rows[i].c);
	printf("\n");
	exact_checks();
	/*
	 * Each program's target on the path uprobe -e gives it (the count stub
	 * for a keyless count, return sites for a return probe where its exits
	 * can be patched); then the same targets on the other paths, which a
	 * program takes only where those cannot be had.
	 */
	printf("\ntargets (issue 16), on the path uprobe -e gives each program:\n");
	target(&s, STUB_ROW, TARGET_COUNT_NS);
	target(&s, FIRST_PLAN + 1, TARGET_KEYED_NS);
	target(&s, FIRST_PLAN + 2, TARGET_KEYED_NS);
	target(&s, LATENCY_SITE, TARGET_LATENCY_NS);
	printf("  (latency_ns: bench_lang_target's ret, under the entry's jump, patched in its "
	       "trampoline)\n");
	target(&s, FIRST_PLAN + 3, TARGET_LATENCY_NS);
	printf("the same target on the fallback:\n"
	       "  (@ = count() by the plan: a probe whose programs do more than count)\n");
	target(&s, FIRST_PLAN, TARGET_COUNT_NS);
	bench_sum_cases(&s, false);
	bench_sum_print();
	for (int i = 0; i < 2 * NPROGS; i++) {
		map_region_free(langs[i].region);
		lang_program_free(progs[i]);
	}
	map_region_free(langs[SITE_LANG].region);
	map_region_free(langs[STUB_LANG].region);
	map_region_free(maps.region);
	return bench_failures() ? 1 : 0;
}
