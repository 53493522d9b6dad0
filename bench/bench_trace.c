/* SPDX-License-Identifier: MIT */
/*
 * The trace-event pipeline of issue 5, in one run:
 *
 *  1. per-hit cost on bench_trace_target(a, b): unprobed; an optimized probe
 *     with an empty handler; the trace event "p:bench/ev EXE:bench_trace_target
 *     a=%di b=%si" writing records into a session's rings while a consumer in
 *     another process drains them; the same event as a return probe (entry
 *     stamp + return record); and the kernel's own trace event with the same
 *     fetch-args (tracefs uprobe_events) when tracefs is usable;
 *  2. consumer throughput: one producer thread calls the probed function for
 *     about a second while the consumer process drains, then a backlog the
 *     consumer drains alone (its own rate, whatever the producer's);
 *  3. overload: one ring of 64 KiB, a consumer that sleeps 1 ms between
 *     polls: records are lost, and every one is accounted for.
 *
 * The VM this runs on is noisy, so the rows of part 1 are interleaved by the
 * harness (harness.h): every round measures each once (attach, time calls
 * for -t ms, detach) and the figure kept is the median over rounds. ns/hit is
 * ns/call minus the unprobed call; event_write_ns is the event's ns/call
 * minus the empty probe's: what evaluating two fetch-args and writing a
 * record adds to the probe itself.
 *
 * The consumer is a forked child (bench_trace_consumer.c): after each
 * measurement it drains what is left and reports what it saw, and every
 * loop of calls must be accounted for exactly: calls == consumed + lost.
 * The kernel's row is in bench_trace_kernel.c, parts 2 and 3 in
 * bench_trace_flow.c.
 *
 * Output: the tables, the checks (PASS/FAIL, exit status 1 if one fails),
 * issue 5's targets against the figures, then one "summary: key=value ..."
 * line whose *_ns values are ns per hit (above the unprobed call) except
 * native_ns (ns per call).
 * Usage: bench_trace [-r rounds] [-t ms per measurement] [-m MiB per ring]
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uprobes.h"
#include "uprobes_trace.h"
#include "bench_arm.h"
#include "bench_handlers.h"
#include "bench_trace.h"
#include "bench_trace_target.h"
#include "bench_util.h"
#include "harness.h"

/* Issue 5's targets (checked, never asserted). */
#define TARGET_WRITE_NS	   30.0
#define TARGET_CONSUMER_PS 20e6

enum kind { K_NATIVE, K_PROBE, K_EVENT, K_KERNEL };

struct variant {
	struct bench_case c;
	enum kind kind;
	uint32_t id; /* K_EVENT: EV_P or EV_R */
	/* state */
	struct uprobe *probe;
	struct trace_event *ev;
	uint64_t hits, ret_hits, consumed, lost;
	uint64_t bad, gaps;   /* records with wrong contents; sequence breaks */
	uint64_t sum_bad;     /* loops whose results were wrong */
	uint64_t unbalanced;  /* syncs after which the ring counters did not add up */
	uint64_t unaccounted; /* loops whose calls != records consumed + lost */
};

static const struct bench_arm lib_arm, kernel_event_arm;

static struct variant variants[] = {
#define V(l, k, kd, a, ...)                                                               \
	{                                                                                 \
		.c = {.label = l, .key = k, .base = 0, .arm = a}, .kind = kd, __VA_ARGS__ \
	}
	{.c = {.label = "native (unprobed)", .key = "native_ns", .base = -1}, .kind = K_NATIVE},
	V("probe, empty handler, NO_SIMD", "probe_ns", K_PROBE, &lib_arm),
	V("event p: a=%di b=%si", "event_ns", K_EVENT, &lib_arm, .id = EV_P),
	V("event r: a=%di b=%si", "ret_event_ns", K_EVENT, &lib_arm, .id = EV_R),
	V("kernel event p: a=%di b=%si", "kernel_event_ns", K_KERNEL, &kernel_event_arm),
#undef V
};

#define NVAR ((int)(sizeof(variants) / sizeof(variants[0])))

char exe_path[PATH_MAX];
uint64_t off_target;
struct trace_spec *specs[N_IDS];
struct trace_session *sessions[N_SESSIONS];
unsigned int off_a, off_b, rec_fixed;
uint64_t main_lost;

/* Not inlined: the loop is the same whatever the row. */
static __attribute__((noinline)) uint64_t run_calls(uint64_t first, uint64_t n)
{
	uint64_t acc = 0;

	for (uint64_t i = first; i < first + n; i++)
		acc += bench_trace_target(i, ARG_B);
	return acc;
}

/* ---- part 1: per-hit cost ------------------------------------------------------------ */

static uint8_t text_orig[8]; /* bench_trace_target's first bytes, unprobed */

/* After every detach: the function's bytes are as they were before. */
static int text_intact(struct bench_case *c, uint64_t calls)
{
	(void)calls;
	if (!memcmp((const void *)bench_trace_target, text_orig, sizeof(text_orig)))
		return 0;
	snprintf(c->why, sizeof(c->why), "text not restored after detaching");
	c->failed = true;
	return -1;
}

static void count_hits(struct variant *v, const struct uprobe *p)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	if (!uprobe_get_info(p, &info)) {
		v->hits += info.hits;
		v->ret_hits += info.ret_hits;
	}
}

static void lib_detach(struct variant *v)
{
	int err;

	count_hits(v, v->probe);
	err = v->kind == K_PROBE ? uprobe_detach(v->probe) : trace_event_detach(v->ev);
	if (err) {
		snprintf(v->c.why, sizeof(v->c.why), "detach: %s", uprobe_last_error());
		v->c.failed = true;
	}
	if (v->kind == K_PROBE)
		uprobe_free(v->probe);
	else
		trace_event_free(v->ev);
	v->probe = NULL;
	v->ev = NULL;
}

/* This library's rows: the empty probe, and the events. */
static int arm_lib(struct bench_case *c)
{
	struct variant *v = (struct variant *)c;
	struct uprobe_opts o = {
		.sz = sizeof(o),
		.handler = bench_empty_handler,
		.flags = UPROBE_F_HANDLER_NO_SIMD,
	};
	struct uprobe_info info = {.sz = sizeof(info)};

	if (v->kind == K_PROBE) {
		v->probe = uprobe_attach(exe_path, "bench_trace_target", &o);
	} else {
		v->ev = trace_event_attach(sessions[S_MAIN], specs[v->id], v->id);
		v->probe = v->ev ? trace_event_probe(v->ev) : NULL;
	}
	if (!v->probe) {
		snprintf(c->why, sizeof(c->why), "%s: %s: %s",
			 v->kind == K_PROBE ? "uprobe_attach" : "trace_event_attach",
			 strerror(errno), uprobe_last_error());
		c->failed = true;
		return -1;
	}
	if (uprobe_get_info(v->probe, &info)) {
		snprintf(c->why, sizeof(c->why), "uprobe_get_info: %s", uprobe_last_error());
		c->failed = true;
		lib_detach(v);
		return -1;
	}
	snprintf(c->mode, sizeof(c->mode), "%s", uprobe_mode_name(info.mode));
	return 0;
}

/* The calls, and whether they added up to what the function must return. */
static void run(struct bench_case *c, uint64_t first, uint64_t n)
{
	if (run_calls(first, n) != sum_of_calls(first, n, ARG_B))
		((struct variant *)c)->sum_bad++;
}

/* After an event's loop: the consumer drains what is left and reports. */
static int sync_event(struct variant *v, uint64_t calls)
{
	struct cons_reply r;
	int err = cons_call(OP_SYNC, S_MAIN, &r);
	uint64_t lost;

	if (err) {
		snprintf(v->c.why, sizeof(v->c.why), "consumer: %s", strerror(-err));
		v->c.failed = true;
		return -1;
	}
	lost = r.st.lost - main_lost;
	main_lost = r.st.lost;
	v->consumed += r.events[v->id];
	v->lost += lost;
	v->bad += r.bad + r.events[v->id == EV_P ? EV_R : EV_P];
	v->gaps += r.gaps;
	if (r.st.produced != r.st.consumed + r.st.lost)
		v->unbalanced++;
	if (calls != r.events[v->id] + lost)
		v->unaccounted++;
	return 0;
}

static int disarm_lib(struct bench_case *c, uint64_t calls)
{
	struct variant *v = (struct variant *)c;

	lib_detach(v);
	if (!c->failed && v->kind == K_EVENT && sync_event(v, calls))
		return -1;
	return c->failed ? -1 : 0;
}

static const struct bench_arm lib_arm = {.arm = arm_lib, .disarm = disarm_lib};

static int disarm_kernel(struct bench_case *c, uint64_t calls)
{
	(void)calls;
	return kernel_disarm(c, &((struct variant *)c)->hits);
}

static const struct bench_arm kernel_event_arm = {.arm = kernel_arm, .disarm = disarm_kernel};

/* ---- output ------------------------------------------------------------------------ */

/* calls, consumed and lost, for the event rows. */
static void counts_cells(const struct bench_suite *s, const struct bench_case *c, char *buf,
			 size_t len)
{
	const struct variant *v = (const struct variant *)c;
	char cons[24] = "-", lost[24] = "-";

	(void)s;
	if (v->kind == K_EVENT) {
		snprintf(cons, sizeof(cons), "%" PRIu64, v->consumed);
		snprintf(lost, sizeof(lost), "%" PRIu64, v->lost);
	}
	snprintf(buf, len, "%11" PRIu64 " %11s %6s", c->calls, cons, lost);
}

static const struct bench_table table = {
	.label_w = 30,
	.hit_head = "ns/hit",
	.more_head = "      calls    consumed   lost",
	.more = counts_cells,
	.legend = "ns/hit: ns/call minus the unprobed call's. Medians over the rounds;\n"
		  "calls, consumed and lost: totals over every measurement.",
};

static void check_variant(const struct variant *v)
{
	const char *l = v->c.label;

	if (bench_not_measured(&v->c))
		return;
	if (v->c.failed)
		bench_check(false, false, "%s: %s", l, v->c.why);
	bench_check(!v->sum_bad, false, "%s: every call returned a + b", l);
	if (v->kind == K_NATIVE)
		return;
	bench_check(v->hits == v->c.calls, false, "%s: hits %" PRIu64 " == calls %" PRIu64, l,
		    v->hits, v->c.calls);
	if (v->kind != K_EVENT)
		return;
	if (v->id == EV_R)
		bench_check(v->ret_hits == v->c.calls, false,
			    "%s: return hits %" PRIu64 " == calls", l, v->ret_hits);
	bench_check(!v->unaccounted && v->c.calls == v->consumed + v->lost, false,
		    "%s: produced %" PRIu64 " == consumed %" PRIu64 " + lost %" PRIu64
		    " (every loop: %" PRIu64 " off)",
		    l, v->c.calls, v->consumed, v->lost, v->unaccounted);
	check_records(l, v->bad, v->gaps, v->lost, v->unbalanced);
	bench_check(!v->lost, true, "%s: lost %" PRIu64 " == 0 (big ring, live consumer)", l,
		    v->lost);
}

static void print_checks(void)
{
	printf("\nchecks:\n");
	for (int i = 0; i < NVAR; i++)
		check_variant(&variants[i]);
	flows_check();
	printf("%d failed, %d warnings\n", bench_failures(), bench_warnings());
}

/* The event's ns/call minus the empty probe's. */
static bool write_ns(const struct bench_suite *s, double *out)
{
	const struct bench_case *e = bench_by_key(s, "event_ns"), *p = bench_by_key(s, "probe_ns");

	if (!bench_usable(e) || !bench_usable(p))
		return false;
	*out = e->ns.med - p->ns.med;
	return true;
}

static void print_targets(const struct bench_suite *s)
{
	double w = 0, c = per_s(live.consumed, live.cons_ns);
	bool have_w = write_ns(s, &w);

	printf("\ntargets (issue 5), measured:\n");
	bench_target_ns("event_write_ns", have_w, w, TARGET_WRITE_NS, "the empty probe");
	if (!flow_ok(&live)) {
		printf("  consumer_events_per_s na, target >= %.0f million/s\n",
		       TARGET_CONSUMER_PS / 1e6);
		return;
	}
	printf("  consumer_events_per_s %6.1f million/s live, target >= %.0f million/s: %s",
	       c / 1e6, TARGET_CONSUMER_PS / 1e6, c >= TARGET_CONSUMER_PS ? "met" : "MISSED");
	if (c < TARGET_CONSUMER_PS && !live.lost &&
	    (double)live.busy_ns < 0.9 * (double)live.cons_ns)
		printf(" (producer-bound: one thread produced %.1f million/s)",
		       per_s(live.produced, live.prod_ns) / 1e6);
	printf("\n");
	if (flow_ok(&backlog))
		printf("  consumer, backlog     %6.1f million/s drained alone: %s\n",
		       per_s(backlog.consumed, backlog.cons_ns) / 1e6,
		       per_s(backlog.consumed, backlog.cons_ns) >= TARGET_CONSUMER_PS ? "met" :
											"MISSED");
}

static void print_summary(const struct bench_suite *s)
{
	double w;

	bench_sum_cases(s, false);
	if (write_ns(s, &w))
		bench_sum("event_write_ns", "%.1f", w);
	else
		bench_sum_na("event_write_ns");
	if (flow_ok(&live))
		bench_sum("consumer_events_per_s", "%.0f", per_s(live.consumed, live.cons_ns));
	else
		bench_sum_na("consumer_events_per_s");
	flow_sum("", &live);
	flow_sum("overload_", &overload);
	bench_sum_print();
}

/* ---- set-up ------------------------------------------------------------------------ */

static int parse_specs(void)
{
	static const char *const fmt[N_IDS] = {
		[EV_P] = "p:bench/ev %s:bench_trace_target a=%%di b=%%si",
		[EV_R] = "r:bench/ev_ret %s:bench_trace_target a=%%di b=%%si",
	};
	struct trace_layout lay[N_IDS];
	char line[PATH_MAX + 128];

	for (int i = 0; i < N_IDS; i++) {
		struct trace_error err;

		memset(&err, 0, sizeof(err));
		snprintf(line, sizeof(line), fmt[i], exe_path);
		specs[i] = trace_spec_parse(line, &err);
		if (!specs[i])
			return fprintf(stderr, "trace_spec_parse(%s): %s at column %d ('%s'): %s\n",
				       line, strerror(errno), err.column, err.token, err.msg),
			       -1;
		if (trace_layout_of(specs[i], &lay[i]) || lay[i].n_fields != 2)
			return fprintf(stderr, "trace_layout_of(%s) failed\n", line), -1;
		printf("event %d: %s\n", i, line);
	}
	if (lay[EV_P].fixed_len != lay[EV_R].fixed_len ||
	    lay[EV_P].fields[0].offset != lay[EV_R].fields[0].offset ||
	    lay[EV_P].fields[1].offset != lay[EV_R].fields[1].offset)
		return fprintf(stderr, "the two events' layouts differ\n"), -1;
	off_a = lay[EV_P].fields[0].offset;
	off_b = lay[EV_P].fields[1].offset;
	rec_fixed = lay[EV_P].fixed_len;
	return 0;
}

static int make_sessions(size_t ring_bytes)
{
	struct trace_session_opts o[N_SESSIONS] = {
		[S_MAIN] = {.sz = sizeof(o[0]), .n_rings = 2, .ring_bytes = ring_bytes},
		[S_OVERLOAD] = {.sz = sizeof(o[0]), .n_rings = 1, .ring_bytes = 64 << 10},
	};

	for (int i = 0; i < N_SESSIONS; i++) {
		sessions[i] = trace_session_new(&o[i]);
		if (!sessions[i])
			return fprintf(stderr, "trace_session_new(%u rings of %zu bytes): %s: %s\n",
				       o[i].n_rings, o[i].ring_bytes, strerror(errno),
				       uprobe_last_error()),
			       -1;
	}
	return 0;
}

static void setup_target(void)
{
	memcpy(text_orig, (const void *)bench_trace_target, sizeof(text_orig));
	if (exe_sym_offset("bench_trace_target", (const void *)bench_trace_target, exe_path,
			   &off_target, kernel_why, sizeof(kernel_why)) &&
	    !exe_path[0])
		return;
	bench_lib_analysis(exe_path, "bench_trace_target", UPROBE_F_HANDLER_NO_SIMD);
}

static void teardown(void)
{
	consumer_stop();
	for (int i = 0; i < N_SESSIONS; i++)
		trace_session_free(sessions[i]);
	for (int i = 0; i < N_IDS; i++)
		trace_spec_free(specs[i]);
	kernel_cleanup();
}

/* The sessions, the consumer process, the kernel event's set-up: 0, or -1 after a message. */
static int setup(size_t ring_bytes)
{
	char why[BENCH_WHY_LEN] = "";
	struct cons_reply r;
	int err, cpu = bench_pin();

	printf("the producer is this process's main thread; the consumer process runs on the "
	       "other CPUs\n");
	setup_target();
	if (!exe_path[0] || parse_specs() || make_sessions(ring_bytes))
		return -1;
	err = consumer_start(cpu, why, sizeof(why));
	if (!err && (err = cons_call(OP_FAST, S_MAIN, &r)))
		snprintf(why, sizeof(why), "%s", strerror(-err));
	if (err) {
		fprintf(stderr, "bench_trace: consumer process: %s\n", why);
		return -1;
	}
	kernel_setup();
	if (kernel_why[0])
		printf("kernel event: na: %s\n", kernel_why);
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = {.rounds = 7, .ms = 200, .mib = 64};
	struct bench_suite s = {variants, sizeof(variants[0]), NVAR, run, text_intact, &cfg};
	size_t ring_bytes;
	int st = bench_parse(&cfg, argc, argv, "m", "[-r rounds] [-t ms] [-m MiB per ring]");

	if (st)
		return st;
	ring_bytes = (size_t)cfg.mib << 20;
	printf("bench_trace: the trace-event pipeline (issue 5): per-hit cost, consumer "
	       "throughput, overload\n");
	if (setup(ring_bytes)) {
		teardown();
		return 1;
	}
	bench_suite_run(&s);
	flows_run(cfg.ms, ring_bytes);
	teardown();

	bench_table_print(&s, &table);
	flows_print(ring_bytes);
	print_checks();
	print_targets(&s);
	print_summary(&s);
	return bench_failures() ? 1 : 0;
}
