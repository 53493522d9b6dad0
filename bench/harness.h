/* SPDX-License-Identifier: MIT */
/*
 * The harness every bench program runs on (harness.c): options and
 * BENCH_QUICK, pinning, medians, the case runner (interleaved rounds of timed
 * loops, each sized by time, slow baselines within a time budget), the case
 * table, PASS/FAIL checks, targets, the summary line and the callgrind count
 * mode. The shell benches have the same in bench/lib.sh.
 */
#ifndef BENCH_HARNESS_H
#define BENCH_HARNESS_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_MAX_ROUNDS 101
#define BENCH_WHY_LEN	 (PATH_MAX + 256) /* room for a path in a message */

/* ---- options ----------------------------------------------------------------------- */

/*
 * How long and how often. The program sets its defaults, bench_parse() then
 * applies BENCH_QUICK (a pass of about a quarter of the time) and the options
 * -r, -t and -b, which win over both, and -c and -m where the program takes
 * them.
 */
struct bench_cfg {
	int rounds;		     /* -r: rounds, every case measured once a round */
	unsigned int ms;	     /* -t: ms of calls per measurement */
	int slow_rounds;	     /* -b: rounds a slow baseline is measured in, at most */
	unsigned int slow_budget_ms; /* a slow baseline's time, attach to detach, all rounds */
	uint64_t count_calls;	     /* -c: count mode's calls a row (bench_count_mode) */
	unsigned int mib;	     /* -m: MiB a ring, a power of two */
	bool quick;		     /* BENCH_QUICK is set (and not 0) */
};

/*
 * The options; own says which of -c and -m the program takes ("c", "m" or
 * ""). Makes stdout line-buffered (bench/run.sh shows it as it comes).
 * Returns 0, or 2 after printing usage (the program's name, then usage, e.g.
 * "[-r rounds] [-t ms]") on stderr.
 */
int bench_parse(struct bench_cfg *cfg, int argc, char **argv, const char *own, const char *usage);
/* BENCH_QUICK is set, and not to 0: a quick pass. */
bool bench_quick(void);

/* ---- pinning ----------------------------------------------------------------------- */

/* Keep this process on the CPU it runs on and say so: that CPU, or -1. */
int bench_pin(void);
/* In a helper process (a consumer): every CPU but cpu, when there is another one. */
void bench_pin_others(int cpu);
/* In a child about to exec a tracer: every CPU (its start-up must not take ours). */
void bench_unpin(void);

/* ---- medians ----------------------------------------------------------------------- */

struct bench_stat {
	double v[BENCH_MAX_ROUNDS];
	int n;
	double lo, med, hi; /* after bench_stat_done, when n > 0 */
};

void bench_stat_add(struct bench_stat *s, double v);
void bench_stat_done(struct bench_stat *s);

/* ---- cases ------------------------------------------------------------------------- */

struct bench_case;

/*
 * How a case attaches what it times and takes it away again, shared by the
 * cases of one kind (bench_arm.h has this library's, the kernel's and
 * bpftrace's).
 */
struct bench_arm {
	/* Attach: 0, or -1 with why set (the case is then not measured again). */
	int (*arm)(struct bench_case *c);
	/*
	 * Detach and check: calls is the number made since arm() (in count
	 * mode, since reset()); c->calls already counts them (a disarm that
	 * cannot check them may take them out). 0, or -1 with why set.
	 */
	int (*disarm)(struct bench_case *c, uint64_t calls);
	bool slow; /* a process per measurement (bpftrace): measured within a budget */
};

/*
 * One row of a per-call table: attach something, time a loop of calls,
 * detach. A program's own row type starts with a struct bench_case (the
 * callbacks get it back and cast), e.g.
 *
 *	struct variant { struct bench_case c; uint64_t sum_bad; ... };
 *
 * or with a struct bench_lib, which starts with one.
 */
struct bench_case {
	const char *label;
	const char *key;	     /* summary key, NULL: not in the summary */
	int base;		     /* the case whose ns/call ns/hit subtracts; -1: none */
	const struct bench_arm *arm; /* NULL: nothing to attach (an unprobed row) */
	void *arg;		     /* the arm's own state, e.g. a struct bench_bpftrace */
	/* state: the harness's and the arm's */
	char mode[16];		 /* what arm() got, for the table */
	char reason[128];	 /* the library's reason for that mode */
	char why[BENCH_WHY_LEN]; /* why dead or failed */
	bool dead;		 /* not measured ("na") */
	bool failed;		 /* a check failed: an error, not an "na" */
	uint64_t calls;		 /* over every measurement */
	uint64_t spent_ns;	 /* attach to detach, every measurement */
	struct bench_stat ns;	 /* ns per call, one a round */
};

struct bench_suite {
	void *cases;   /* an array of the program's row type */
	size_t stride; /* its element size */
	int n;
	/* Calls number first .. first + n - 1 (untimed: the harness reads the clock). */
	void (*run)(struct bench_case *c, uint64_t first, uint64_t n);
	/* After every detach (calls as disarm's), what must hold: 0, or -1 with why. */
	int (*after)(struct bench_case *c, uint64_t calls);
	const struct bench_cfg *cfg;
};

struct bench_case *bench_case_at(const struct bench_suite *s, int i);
struct bench_case *bench_by_key(const struct bench_suite *s, const char *key);
bool bench_usable(const struct bench_case *c);
/* ns per call minus the base case's (the probe's share); the case's own for a base. */
double bench_per_hit(const struct bench_suite *s, const struct bench_case *c);

/*
 * Every live case once a round, rotating the order so that no case always
 * follows the same one; each measurement lasts cfg->ms of calls (the loop
 * count found on the way, no calibration pass). A slow case is measured
 * in every few rounds, at most cfg->slow_rounds, while its time (attach to
 * detach) stays within cfg->slow_budget_ms; at least once. Then medians.
 */
void bench_suite_run(struct bench_suite *s);

/*
 * The table: variant, mode, ns/call, ns/hit (hit_head), ns/call min..max,
 * then the program's own columns (more_head; more() fills a usable row's),
 * then the legend.
 */
struct bench_table {
	int label_w;
	const char *hit_head;
	const char *more_head;
	void (*more)(const struct bench_suite *s, const struct bench_case *c, char *buf,
		     size_t len);
	const char *legend;
};

void bench_table_print(const struct bench_suite *s, const struct bench_table *t);
/* For a check list: "LABEL: not measured: WHY" when c is dead (not failed); true then. */
bool bench_not_measured(const struct bench_case *c);
/* "x" as a ratio cell (%.*fx), or "na" when the divisor is not positive. */
void bench_ratio(char *buf, size_t len, int prec, double x, double by);

/*
 * Count mode (-c calls, bench/callgrind.sh): per key, arm, 1,000 calls to
 * warm up, reset() (may be NULL), then calls between two callgrind client
 * requests, disarm; report() prints the row's line and says whether it is
 * right. Out of valgrind the requests do nothing. Returns the exit status.
 */
int bench_count_mode(const struct bench_suite *s, const char *const *keys, int n_keys,
		     uint64_t calls, void (*reset)(void), bool (*report)(struct bench_case *c));

/* ---- checks, targets ----------------------------------------------------------------- */

/* One check line: PASS, or FAIL (counted: bench_failures) or WARN (not counted). */
void bench_check(bool ok, bool warn_only, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int bench_failures(void);
int bench_warnings(void);

/* "  KEY   V ns above WHAT, target <= T ns: met with / MISSED by D ns", or na. */
void bench_target_ns(const char *key, bool have, double v, double target, const char *what);

/* ---- the summary line ---------------------------------------------------------------- */

/* key=value with printf's fmt; na when the value could not be measured. */
void bench_sum(const char *key, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void bench_sum_na(const char *key);
/* Every case with a key: ns per call (per_call) or ns per hit, one decimal. */
void bench_sum_cases(const struct bench_suite *s, bool per_call);
/* "summary: key=value ..." on a line of its own: what bench/run.sh collects. */
void bench_sum_print(void);

#endif
