/* SPDX-License-Identifier: MIT */
/*
 * bench_trace's parts, one file each: the per-hit rows and the report
 * (bench_trace.c), the consumer process (bench_trace_consumer.c), the
 * kernel's trace event (bench_trace_kernel.c), the throughput and overload
 * runs (bench_trace_flow.c).
 */
#ifndef BENCH_TRACE_H
#define BENCH_TRACE_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "uprobes_trace.h"
#include "harness.h"

#define ARG_B	1000003u /* the second argument of every call */
#define RAW_HDR 56	 /* sizeof(struct trace_raw), src/trace/transport/ring.h */

/* Event ids in the main session: the entry event and the return event. */
enum { EV_P, EV_R, N_IDS };

/* The two sessions, as the consumer child addresses them. */
enum { S_MAIN, S_OVERLOAD, N_SESSIONS };

/* Set up by bench_trace.c before anything else runs. */
extern char exe_path[PATH_MAX];
extern uint64_t off_target; /* file offset of bench_trace_target */
extern struct trace_spec *specs[N_IDS];
extern struct trace_session *sessions[N_SESSIONS];
extern unsigned int off_a, off_b, rec_fixed; /* payload layout of both events */
extern uint64_t main_lost;		     /* main session's lost count at the last sync */

/* ---- the consumer process (bench_trace_consumer.c) ----------------------------------- */

/*
 * The parent sends a command, the child answers with one reply. Commands
 * choose the session drained and how: FAST polls without pause, SLOW sleeps
 * 1 ms between polls, PAUSE does not poll. SYNC drains the session until it
 * is empty and reports. Every command starts a new phase: counters zeroed,
 * the clock restarted (for SYNC in PAUSE, at the start of its drain).
 */
enum cons_op { OP_SYNC, OP_FAST, OP_SLOW, OP_PAUSE, OP_QUIT };

struct cons_reply {
	int err; /* 0, or -errno of a consumer call */
	uint64_t events[N_IDS];
	uint64_t bad, gaps;
	uint64_t wall_ns; /* from the phase's start to the last record consumed */
	uint64_t busy_ns; /* spent in polls that returned records */
	struct trace_ring_stats st;
};

/* Fork the consumer, off the producer's CPU: 0, or -1 with why. */
int consumer_start(int prod_cpu, char *why, size_t len);
/* One command, one reply (up to 60 s: a drain of a big backlog). 0 or -errno. */
int cons_call(enum cons_op op, unsigned int session, struct cons_reply *r);
void consumer_stop(void);

/* ---- the kernel's trace event (bench_trace_kernel.c) --------------------------------- */

extern char kernel_why[BENCH_WHY_LEN]; /* why there is no kernel row */

/* tracefs (mounted if need be) and the event's definition; kernel_why when not. */
void kernel_setup(void);
/* Create and enable the event: 0, or -1 with c->why. */
int kernel_arm(struct bench_case *c);
/* Disable it, add its hits (uprobe_profile), remove it: 0, or -1 (c->failed). */
int kernel_disarm(struct bench_case *c, uint64_t *hits);
/* On every exit path, normal or by a signal: no kernel event left behind. */
void kernel_cleanup(void);

/* ---- parts 2 and 3: throughput and overload (bench_trace_flow.c) --------------------- */

/* One producer thread against the consumer in one mode, the event attached meanwhile. */
struct flow {
	const char *label;
	bool ran, failed;
	char why[BENCH_WHY_LEN];
	uint64_t produced, hits, consumed, lost, bad, gaps;
	uint64_t prod_ns, cons_ns, busy_ns;
	bool sum_bad, unbalanced;
};

extern struct flow live, backlog, overload;

/* live for 5 ms (200 ms to 1 s), backlog (half a ring), overload for ms. */
void flows_run(unsigned int ms, size_t ring_bytes);
void flows_print(size_t ring_bytes);
void flows_check(void);
/* n in ns, per second (0 for no time). */
double per_s(uint64_t n, uint64_t ns);
bool flow_ok(const struct flow *f);
/* The checks of what the consumer saw: records intact and in order, counters balanced. */
void check_records(const char *label, uint64_t bad, uint64_t gaps, uint64_t lost, bool unbalanced);
/* PREFIXproduced, PREFIXconsumed, PREFIXlost on the summary line (na when f did not run). */
void flow_sum(const char *prefix, const struct flow *f);

#endif
