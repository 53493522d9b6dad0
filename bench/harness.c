/* SPDX-License-Identifier: MIT */
/*
 * The bench harness (harness.h): what every bench program does the same way,
 * so that each of them is only its cases, its checks and its own tables.
 */
#include <errno.h>
#include <inttypes.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_DUMP_STATS_AT
#define CALLGRIND_ZERO_STATS		 ((void)0)
#define CALLGRIND_DUMP_STATS_AT(pos_str) ((void)(pos_str))
#define RUNNING_ON_VALGRIND		 0
#endif

#include "bench_util.h"
#include "harness.h"

/* ---- options ----------------------------------------------------------------------- */

bool bench_quick(void)
{
	const char *q = getenv("BENCH_QUICK");

	return q && *q && strcmp(q, "0");
}

/* A quarter of the time: 3 rounds at most, a quarter of the ms, slow baselines once. */
static void apply_quick(struct bench_cfg *cfg)
{
	cfg->quick = true;
	cfg->rounds = cfg->rounds < 3 ? cfg->rounds : 3;
	cfg->ms = cfg->ms / 4 > 20 ? cfg->ms / 4 : 20;
	cfg->slow_rounds = cfg->slow_rounds < 1 ? cfg->slow_rounds : 1;
	cfg->slow_budget_ms /= 4;
}

static int parse_int(const char *arg, long lo, long hi, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(arg, &end, 10);
	return errno || end == arg || *end || *out < lo || *out > hi ? -1 : 0;
}

/* One option: 0, or -1 for a value out of its range. */
static int parse_opt(struct bench_cfg *cfg, int letter, const char *arg)
{
	long hi = letter == 't' ? 3600000 : letter == 'm' ? 1 << 16 : BENCH_MAX_ROUNDS;
	char *end;
	long v;

	if (letter == 'c') {
		errno = 0;
		cfg->count_calls = strtoull(arg, &end, 0);
		return errno || *end || !cfg->count_calls ? -1 : 0;
	}
	if (parse_int(arg, letter == 'b' ? 0 : 1, hi, &v) || (letter == 'm' && (v & (v - 1))))
		return -1;
	if (letter == 'r')
		cfg->rounds = (int)v;
	else if (letter == 't')
		cfg->ms = (unsigned int)v;
	else if (letter == 'b')
		cfg->slow_rounds = (int)v;
	else
		cfg->mib = (unsigned int)v;
	return 0;
}

int bench_parse(struct bench_cfg *cfg, int argc, char **argv, const char *own, const char *usage)
{
	char letters[16] = "r:t:b:";
	int o, bad = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (bench_quick())
		apply_quick(cfg);
	for (const char *p = own; *p; p++)
		if (strchr("cm", *p))
			snprintf(letters + strlen(letters), sizeof(letters) - strlen(letters),
				 "%c:", *p);
	while (!bad && (o = getopt(argc, argv, letters)) != -1)
		bad = o == '?' || parse_opt(cfg, o, optarg);
	if (!bad && optind == argc)
		return 0;
	fprintf(stderr,
		"usage: %s %s\n  rounds 1..%d, ms >= 1, bpftrace rounds >= 0, MiB a power of two; "
		"BENCH_QUICK=1: a quick pass\n",
		argv[0], usage, BENCH_MAX_ROUNDS);
	return 2;
}

/* ---- pinning ----------------------------------------------------------------------- */

int bench_pin(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (cpu < 0 || sched_setaffinity(0, sizeof(set), &set))
		return -1;
	printf("pinned to cpu %d of %ld online\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
	return cpu;
}

void bench_pin_others(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	for (long i = 0; cpu >= 0 && i < sysconf(_SC_NPROCESSORS_ONLN); i++)
		if (i != cpu)
			CPU_SET(i, &set);
	if (CPU_COUNT(&set))
		sched_setaffinity(0, sizeof(set), &set);
}

void bench_unpin(void)
{
	cpu_set_t all;

	CPU_ZERO(&all);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	sched_setaffinity(0, sizeof(all), &all);
}

/* ---- medians ----------------------------------------------------------------------- */

void bench_stat_add(struct bench_stat *s, double v)
{
	if (s->n < BENCH_MAX_ROUNDS)
		s->v[s->n++] = v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_stat_done(struct bench_stat *s)
{
	double v[BENCH_MAX_ROUNDS];
	int n = s->n;

	if (!n)
		return;
	memcpy(v, s->v, sizeof(double) * (size_t)n);
	qsort(v, (size_t)n, sizeof(double), cmp_double);
	s->lo = v[0];
	s->hi = v[n - 1];
	s->med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* ---- cases ------------------------------------------------------------------------- */

struct bench_case *bench_case_at(const struct bench_suite *s, int i)
{
	return (struct bench_case *)((char *)s->cases + (size_t)i * s->stride);
}

struct bench_case *bench_by_key(const struct bench_suite *s, const char *key)
{
	for (int i = 0; i < s->n; i++) {
		struct bench_case *c = bench_case_at(s, i);

		if (c->key && !strcmp(c->key, key))
			return c;
	}
	abort(); /* a key of the program's own table */
}

bool bench_usable(const struct bench_case *c)
{
	return !c->dead && !c->failed && c->ns.n > 0;
}

double bench_per_hit(const struct bench_suite *s, const struct bench_case *c)
{
	return c->base < 0 ? c->ns.med : c->ns.med - bench_case_at(s, c->base)->ns.med;
}

/*
 * Calls for ms, in chunks of about a sixteenth of it (the first one 16
 * calls): a clock read per chunk, and the loop never runs past the time by
 * more than a chunk, whatever a call costs (1 ns unprobed, 20 us under
 * bpftrace on a loaded machine). Returns the calls made; *ns their time.
 */
static uint64_t timed_calls(const struct bench_suite *s, struct bench_case *c, uint64_t *ns)
{
	uint64_t span = (uint64_t)s->cfg->ms * 1000000, t0 = now_ns(), t = t0;
	uint64_t n = 0, chunk = 16;

	while (t - t0 < span) {
		s->run(c, n, chunk);
		n += chunk;
		t = now_ns();
		/* ns per call so far, and a chunk of span / 16 at that rate */
		chunk = (uint64_t)((double)(span / 16) * (double)n / (double)(t - t0 + 1)) + 1;
	}
	*ns = t - t0;
	return n;
}

static int arm(struct bench_case *c)
{
	return c->arm ? c->arm->arm(c) : 0;
}

/* Detach, then the suite's check of what must hold after it. */
static int disarm(const struct bench_suite *s, struct bench_case *c, uint64_t calls)
{
	if (c->arm && c->arm->disarm(c, calls))
		return -1;
	return s->after ? s->after(c, calls) : 0;
}

/* One measurement; a failure makes the case dead (its why says why). */
static void measure(const struct bench_suite *s, struct bench_case *c)
{
	uint64_t t_arm = now_ns(), ns, n;

	if (arm(c)) {
		c->dead = true;
		return;
	}
	n = timed_calls(s, c, &ns);
	c->calls += n;
	if (disarm(s, c, n))
		c->dead = true;
	else
		bench_stat_add(&c->ns, (double)ns / (double)n);
	c->spent_ns += now_ns() - t_arm;
}

static bool slow(const struct bench_case *c)
{
	return c->arm && c->arm->slow;
}

/* The rounds a slow case may be measured in, at most. */
static int slow_rounds(const struct bench_cfg *cfg)
{
	return cfg->slow_rounds < cfg->rounds ? cfg->slow_rounds : cfg->rounds;
}

/* A slow case: in every few rounds, up to slow_rounds, while its budget lasts. */
static bool due(const struct bench_suite *s, const struct bench_case *c, int round)
{
	const struct bench_cfg *cfg = s->cfg;
	int want = slow_rounds(cfg);
	int every = want ? (cfg->rounds + want - 1) / want : 1;
	uint64_t budget = (uint64_t)cfg->slow_budget_ms * 1000000;

	if (!slow(c) || !c->ns.n)
		return !slow(c) || want > 0;
	/* the next one would cost about what the others did on average */
	return round % every == 0 && c->ns.n < want &&
	       c->spent_ns + c->spent_ns / (uint64_t)c->ns.n <= budget;
}

static void slow_plan(const struct bench_suite *s, bool after)
{
	for (int i = 0; i < s->n; i++) {
		struct bench_case *c = bench_case_at(s, i);

		if (!slow(c) || (c->dead && !after))
			continue;
		if (!after && !s->cfg->slow_rounds) {
			c->dead = true;
			snprintf(c->why, sizeof(c->why), "disabled (-b 0)");
		} else if (!after)
			printf("%s: one process per measurement, in at most %d of the rounds, "
			       "within %.0f s\n",
			       c->label, slow_rounds(s->cfg), s->cfg->slow_budget_ms / 1e3);
		else if (!c->dead)
			printf("%s: measured in %d rounds, %.1f s in all\n", c->label, c->ns.n,
			       (double)c->spent_ns / 1e9);
	}
}

void bench_suite_run(struct bench_suite *s)
{
	int rounds = s->cfg->rounds;

	slow_plan(s, false);
	printf("%d rounds, about %u ms of calls per measurement, variants interleaved%s\n", rounds,
	       s->cfg->ms, s->cfg->quick ? " (BENCH_QUICK)" : "");
	for (int r = 0; r < rounds; r++) {
		/* Rotate the order so that no case always runs after the same one. */
		for (int j = 0; j < s->n; j++) {
			struct bench_case *c = bench_case_at(s, (j + r) % s->n);

			if (!c->dead && !c->failed && due(s, c, r))
				measure(s, c);
		}
	}
	for (int i = 0; i < s->n; i++)
		bench_stat_done(&bench_case_at(s, i)->ns);
	slow_plan(s, true);
}

/* ---- the table --------------------------------------------------------------------- */

void bench_ratio(char *buf, size_t len, int prec, double x, double by)
{
	if (by > 0)
		snprintf(buf, len, "%.*fx", prec, x / by);
	else
		snprintf(buf, len, "na");
}

void bench_table_print(const struct bench_suite *s, const struct bench_table *t)
{
	int w = t->label_w;

	printf("\n%-*s %-10s %10s %10s %21s %s\n", w, "variant", "mode", "ns/call", t->hit_head,
	       "ns/call min..max", t->more_head ? t->more_head : "");
	for (int i = 0; i < s->n; i++) {
		const struct bench_case *c = bench_case_at(s, i);
		char range[48], hit[24] = "-", more[128] = "";

		if (!bench_usable(c)) {
			printf("%-*s %-10s %10s %10s\n", w, c->label, "-", "na", "na");
			continue;
		}
		snprintf(range, sizeof(range), "%.1f..%.1f", c->ns.lo, c->ns.hi);
		if (c->base >= 0 && bench_usable(bench_case_at(s, c->base)))
			snprintf(hit, sizeof(hit), "%.1f", bench_per_hit(s, c));
		else if (c->base >= 0)
			snprintf(hit, sizeof(hit), "na");
		if (t->more)
			t->more(s, c, more, sizeof(more));
		printf("%-*s %-10s %10.1f %10s %21s %s\n", w, c->label, c->base < 0 ? "-" : c->mode,
		       c->ns.med, hit, range, more);
	}
	printf("%s\n", t->legend);
}

bool bench_not_measured(const struct bench_case *c)
{
	if (c->dead && !c->failed)
		printf("%s: not measured: %s\n", c->label, c->why);
	return c->dead && !c->failed;
}

/* ---- count mode -------------------------------------------------------------------- */

int bench_count_mode(const struct bench_suite *s, const char *const *keys, int n_keys,
		     uint64_t calls, void (*reset)(void), bool (*report)(struct bench_case *c))
{
	int bad = 0;

	printf("count mode: %" PRIu64 " calls per row%s\n", calls,
	       RUNNING_ON_VALGRIND ? ", under valgrind" : " (not under valgrind: no counts)");
	for (int i = 0; i < n_keys; i++) {
		struct bench_case *c = bench_by_key(s, keys[i]);

		if (arm(c)) {
			printf("%s: not measured: %s\n", c->key, c->why);
			continue;
		}
		s->run(c, 0, 1000); /* translate and warm up outside the count */
		if (reset)
			reset();
		CALLGRIND_ZERO_STATS;
		s->run(c, 0, calls);
		CALLGRIND_DUMP_STATS_AT(c->key);
		c->calls += 1000 + calls;
		if (disarm(s, c, calls))
			c->failed = true;
		bad += !report(c);
	}
	return bad ? 1 : 0;
}

/* ---- checks, targets --------------------------------------------------------------- */

static int n_fail, n_warn;

void bench_check(bool ok, bool warn_only, const char *fmt, ...)
{
	va_list ap;

	printf("%s  ", ok ? "PASS" : warn_only ? "WARN" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		*(warn_only ? &n_warn : &n_fail) += 1;
}

int bench_failures(void)
{
	return n_fail;
}

int bench_warnings(void)
{
	return n_warn;
}

void bench_target_ns(const char *key, bool have, double v, double target, const char *what)
{
	if (!have) {
		printf("  %-21s na (not measured), target <= %.0f ns\n", key, target);
		return;
	}
	printf("  %-21s %6.1f ns above %s, target <= %.0f ns: %s %.1f ns\n", key, v, what, target,
	       v <= target ? "met with" : "MISSED by", v <= target ? target - v : v - target);
}

/* ---- the summary line -------------------------------------------------------------- */

static char sum_line[4096];
static size_t sum_len;

static void sum_vadd(const char *key, const char *fmt, va_list ap)
{
	size_t room = sizeof(sum_line) - sum_len;
	int n = snprintf(sum_line + sum_len, room, " %s=", key);

	if (n > 0 && (size_t)n < room) {
		sum_len += (size_t)n;
		n = vsnprintf(sum_line + sum_len, sizeof(sum_line) - sum_len, fmt, ap);
		if (n > 0)
			sum_len += (size_t)n;
	}
	if (sum_len >= sizeof(sum_line))
		sum_len = sizeof(sum_line) - 1;
}

void bench_sum(const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	sum_vadd(key, fmt, ap);
	va_end(ap);
}

void bench_sum_na(const char *key)
{
	bench_sum(key, "na");
}

void bench_sum_cases(const struct bench_suite *s, bool per_call)
{
	for (int i = 0; i < s->n; i++) {
		const struct bench_case *c = bench_case_at(s, i);
		const struct bench_case *b = c->base >= 0 ? bench_case_at(s, c->base) : NULL;

		if (!c->key)
			continue;
		if (bench_usable(c) && (per_call || !b || bench_usable(b)))
			bench_sum(c->key, "%.1f", per_call ? c->ns.med : bench_per_hit(s, c));
		else
			bench_sum_na(c->key);
	}
}

void bench_sum_print(void)
{
	printf("\nsummary:%s\n", sum_line);
}
