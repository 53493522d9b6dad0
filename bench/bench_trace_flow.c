/* SPDX-License-Identifier: MIT */
/*
 * bench_trace's parts 2 and 3: one producer thread calls the probed function
 * while the event is attached and the consumer process drains in one mode
 * (live: polling; backlog: paused, then draining alone; overload: one 64 KiB
 * ring, a poll per millisecond), every record accounted for.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "uprobes.h"
#include "bench_trace.h"
#include "bench_trace_target.h"
#include "bench_util.h"

#define CHUNK 4096 /* calls between two clock reads of the producer */

bool flow_ok(const struct flow *f)
{
	return f->ran && !f->failed;
}

struct producer {
	uint64_t max_calls, dur_ns; /* stop at whichever comes first */
	uint64_t calls, sum, t0, t1;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint64_t i = 0, acc = 0, end, deadline;

	p->t0 = now_ns();
	deadline = p->t0 + p->dur_ns;
	do {
		end = p->max_calls - i < CHUNK ? p->max_calls : i + CHUNK;
		for (; i < end; i++)
			acc += bench_trace_target(i, ARG_B);
	} while (i < p->max_calls && now_ns() < deadline);
	p->t1 = now_ns();
	p->calls = i;
	p->sum = acc;
	return NULL;
}

struct flow live = {.label = "live"}, backlog = {.label = "backlog"},
	    overload = {.label = "overload"};

/* The event attached, then the consumer's mode, then the producer: attaching is not timed. */
static int flow_produce(struct flow *f, unsigned int session, enum cons_op mode, struct producer *p,
			struct cons_reply *r)
{
	struct trace_event *ev = trace_event_attach(sessions[session], specs[EV_P], EV_P);
	struct uprobe_info info = {.sz = sizeof(info)};
	pthread_t t;
	int err;

	if (!ev)
		return snprintf(f->why, sizeof(f->why), "trace_event_attach: %s: %s",
				strerror(errno), uprobe_last_error()),
		       -1;
	err = cons_call(mode, session, r);
	if (err)
		snprintf(f->why, sizeof(f->why), "consumer: %s", strerror(-err));
	else if ((err = pthread_create(&t, NULL, producer_main, p)))
		snprintf(f->why, sizeof(f->why), "pthread_create: %s", strerror(err));
	else
		pthread_join(t, NULL);
	if (!uprobe_get_info(trace_event_probe(ev), &info))
		f->hits = info.hits;
	if (!err && trace_event_detach(ev)) {
		snprintf(f->why, sizeof(f->why), "trace_event_detach: %s", uprobe_last_error());
		err = -1;
	}
	trace_event_free(ev);
	return err ? -1 : 0;
}

static int run_flow(struct flow *f, unsigned int session, enum cons_op mode, struct producer *p)
{
	struct cons_reply r;
	uint64_t lost0;
	int err;

	f->ran = true;
	if (flow_produce(f, session, mode, p, &r)) {
		f->failed = true;
		return -1;
	}
	lost0 = r.st.lost; /* as the mode's reply found it */
	err = cons_call(OP_SYNC, session, &r);
	if (err) {
		snprintf(f->why, sizeof(f->why), "consumer: %s", strerror(-err));
		f->failed = true;
		return -1;
	}
	if (session == S_MAIN)
		main_lost = r.st.lost;
	f->produced = p->calls;
	f->consumed = r.events[EV_P];
	f->lost = r.st.lost - lost0;
	f->bad = r.bad + r.events[EV_R];
	f->gaps = r.gaps;
	f->prod_ns = p->t1 - p->t0;
	f->cons_ns = r.wall_ns;
	f->busy_ns = r.busy_ns;
	f->sum_bad = p->sum != sum_of_calls(0, p->calls, ARG_B);
	f->unbalanced = r.st.produced != r.st.consumed + r.st.lost;
	return 0;
}

void flows_run(unsigned int ms, size_t ring_bytes)
{
	uint64_t rec_len = RAW_HDR + ((rec_fixed + 7u) & ~7u);
	uint64_t live_ms = 5 * (uint64_t)ms;
	struct producer p;

	/* 2a: about a second of calls while the consumer drains. */
	live_ms = live_ms < 200 ? 200 : live_ms > 1000 ? 1000 : live_ms;
	p = (struct producer){.max_calls = UINT64_MAX, .dur_ns = live_ms * 1000000};
	run_flow(&live, S_MAIN, OP_FAST, &p);
	/* 2b: half a ring written while the consumer waits, then drained alone. */
	p = (struct producer){.max_calls = ring_bytes / rec_len / 2, .dur_ns = UINT64_MAX / 2};
	run_flow(&backlog, S_MAIN, OP_PAUSE, &p);
	/* 3: a small ring, a consumer that polls every millisecond. */
	p = (struct producer){.max_calls = UINT64_MAX, .dur_ns = (uint64_t)ms * 1000000};
	run_flow(&overload, S_OVERLOAD, OP_SLOW, &p);
}

double per_s(uint64_t n, uint64_t ns)
{
	return ns ? (double)n * 1e9 / (double)ns : 0;
}

/* What limits the live figure: the consumer if it lost records, else whoever waited. */
static const char *live_bound(void)
{
	if (live.lost)
		return "it fell behind\n(records lost): the live figure is the consumer's rate "
		       "while a "
		       "producer runs";
	if ((double)live.busy_ns < 0.9 * (double)live.cons_ns)
		return "it waited for\nthe producer the rest: the live figure is producer-bound; "
		       "the "
		       "backlog row is the consumer's\nown rate";
	return "it kept up,\nbarely: the live figure is about the consumer's rate while a producer "
	       "runs";
}

/* A row of the throughput table: n records in ns; blank columns for what the row is not about. */
static void flow_row(const char *label, const struct flow *f, bool prod, bool cons, uint64_t n,
		     uint64_t ns)
{
	char p[24] = "", c[24] = "", l[24] = "";

	if (!flow_ok(f)) {
		printf("%-46s %11s\n", label, "n/a");
		return;
	}
	if (prod)
		snprintf(p, sizeof(p), "%" PRIu64, f->produced);
	if (cons) {
		snprintf(c, sizeof(c), "%" PRIu64, f->consumed);
		snprintf(l, sizeof(l), "%" PRIu64, f->lost);
	}
	printf("%-46s %11s %11s %9s %9.1f %14.0f\n", label, p, c, l, (double)ns / 1e6,
	       per_s(n, ns));
}

void flows_print(size_t ring_bytes)
{
	const struct flow *b = &backlog, *o = &overload;
	char label[96];

	printf("\n%-46s %11s %11s %9s %9s %14s\n", "throughput (event p:)", "produced", "consumed",
	       "lost", "ms", "events/s");
	flow_row("producer: one thread, consumer draining", &live, true, false, live.produced,
		 live.prod_ns);
	flow_row("consumer (other process): live", &live, false, true, live.consumed, live.cons_ns);
	snprintf(label, sizeof(label), "consumer: backlog of %" PRIu64 ", drained alone",
		 b->produced);
	flow_row(label, b, true, true, b->consumed, b->cons_ns);
	flow_row("overload: 1 ring of 64 KiB, a poll per ms", o, true, true, o->produced,
		 o->prod_ns);
	printf("ms and events/s: the producer's for the producer and overload rows, the consumer's "
	       "for\nthe others (live: from its start to the last record; backlog: its drain).\n");
	if (flow_ok(&live) && live.cons_ns)
		printf("live: the consumer spent %.0f%% of its time in polls that returned "
		       "records: %s\n",
		       100.0 * (double)live.busy_ns / (double)live.cons_ns, live_bound());
	if (flow_ok(&live) && flow_ok(b) && live.produced && b->produced)
		printf("producer: %.1f ns/call while the consumer drains (live), %.1f while it is\n"
		       "paused (backlog: a short run, %.0f ms)\n",
		       (double)live.prod_ns / (double)live.produced,
		       (double)b->prod_ns / (double)b->produced, (double)b->prod_ns / 1e6);
	printf("main session: 2 rings of %zu MiB; records of %u bytes (header %d + payload %u)\n",
	       ring_bytes >> 20, RAW_HDR + ((rec_fixed + 7u) & ~7u), RAW_HDR, rec_fixed);
}

void check_records(const char *label, uint64_t bad, uint64_t gaps, uint64_t lost, bool unbalanced)
{
	bench_check(!bad && (lost || !gaps), false,
		    "%s: records: pid, flags, no fault, b, a in sequence (%" PRIu64
		    " wrong, %" PRIu64 " gaps)",
		    label, bad, gaps);
	bench_check(!unbalanced, false,
		    "%s: ring counters produced == consumed + lost after draining", label);
}

static void check_flow(const struct flow *f, bool want_loss)
{
	const char *l = f->label;

	if (!flow_ok(f)) {
		bench_check(false, false, "%s: %s", l, f->why);
		return;
	}
	bench_check(!f->sum_bad, false, "%s: every call returned a + b", l);
	bench_check(f->hits == f->produced, false, "%s: hits %" PRIu64 " == calls", l, f->hits);
	bench_check(f->produced == f->consumed + f->lost, false,
		    "%s: produced %" PRIu64 " == consumed %" PRIu64 " + lost %" PRIu64, l,
		    f->produced, f->consumed, f->lost);
	check_records(l, f->bad, f->gaps, f->lost, f->unbalanced);
	if (want_loss)
		bench_check(f->lost > 0, false, "%s: lost %" PRIu64 " > 0", l, f->lost);
	else
		bench_check(!f->lost, true, "%s: lost %" PRIu64 " == 0", l, f->lost);
}

void flows_check(void)
{
	check_flow(&live, false);
	check_flow(&backlog, false);
	check_flow(&overload, true);
}

void flow_sum(const char *prefix, const struct flow *f)
{
	static const char *const what[] = {"produced", "consumed", "lost"};
	const uint64_t n[] = {f->produced, f->consumed, f->lost};
	char key[64];

	for (int i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), "%s%s", prefix, what[i]);
		if (flow_ok(f))
			bench_sum(key, "%" PRIu64, n[i]);
		else
			bench_sum_na(key);
	}
}
