/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace, shared by its files:
 *   trace.c          the command: launch mode, attach mode (-p), the end
 *   trace_options.c  options and probes (the SPECS text every agent gets)
 *   trace_agents.c   the agents' protocol (uprobes_agent.h): serve, stop
 *   trace_loop.c     the tracing loop: rings drained, records filtered,
 *                    counted, formatted
 *   trace_summary.c  the aggregations and the summary at the end
 *   trace_stack.c    --stack: stacks under events, counted, folded, drawn
 */
#ifndef UPROBE_TRACE_H
#define UPROBE_TRACE_H

#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>
#include <time.h>

#include "uprobes_agent.h"
#include "uprobes_trace.h"

#define MAX_AGENTS 256

struct filter {
	char name[TRACE_MAX_ARG_NAME];
	char op[3];
	int64_t value;
	int on;
};

struct agent_conn {
	int sock;
	pid_t pid;
	struct trace_consumer *cons;
	int done; /* STOPPED received or the socket closed */
};

struct tracer {
	int n;
	struct trace_spec *specs[UPROBE_AGENT_MAX_SPECS];
	struct trace_layout layouts[UPROBE_AGENT_MAX_SPECS];
	struct trace_event_desc desc[UPROBE_AGENT_MAX_SPECS];
	char *text; /* the SPECS message */
	size_t text_len;
	int attached[UPROBE_AGENT_MAX_SPECS];
	char mode[UPROBE_AGENT_MAX_SPECS][16];
	char why[UPROBE_AGENT_MAX_SPECS][172]; /* last refusal */
	uint64_t events[UPROBE_AGENT_MAX_SPECS], skipped[UPROBE_AGENT_MAX_SPECS];
	struct agent_conn agents[MAX_AGENTS];
	int n_agents;
	int ctl;
	pid_t child;
	int status, child_done, fatal;
	pid_t pid;	 /* attach mode */
	bool guarding;	 /* attach mode, until READY: the threads are under ptrace (guard.c) */
	const char *exe; /* launch mode: the command (where sdt: markers are looked for) */
	int exit_watch; /* attach mode: see attach_exit_watch() */
	int exit_known, wstatus; /* attach mode: how the process ended */
	double attach_ms, detach_ms; /* attach mode: agent loaded and probes in; all out */
	unsigned restarted;	     /* attach mode: system calls guard.c restarted */
	FILE *out;
	enum trace_format format;
	int print_events, count, quiet;
	const char *hist_expr;
	struct trace_formatter *fmt;
	struct trace_agg *counts, *hist;
	struct filter filter;
	uint64_t lost, filtered;
};

/* Set by SIGINT and SIGTERM (the signal's number). */
extern volatile sig_atomic_t stop_requested;

static inline double now_fms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline uint64_t now_ms(void)
{
	return (uint64_t)now_fms();
}

/* trace_options.c: each returns 0 or a CLI exit code after saying why. */
extern const char trace_usage[];
int tracer_parse_options(struct tracer *t, int argc, char **argv, uint64_t *duration_ms,
			 const char **output);
/* One probe line (sdt: and globs expand to several; DWARF args resolved). */
int tracer_add_probe(struct tracer *t, const char *line);
/* Refuse a --hist or --filter name that no probe fetches. */
int tracer_check_names(const struct tracer *t);
int tracer_setup_output(struct tracer *t, const char *output);

/* trace_agents.c */
/* The libuprobes this program runs with (the one to preload or load): 0 or -1. */
int tracer_library_path(char *out, size_t len);
/* Launch mode: start cmd with the agent preloaded; 0 or a CLI exit code. */
int tracer_launch(struct tracer *t, char **cmd);
/* Give a new agent its probes and take its rings; -1 if it went away first. */
int tracer_serve_agent(struct tracer *t, int sock, pid_t pid);
/* HELLO on the shared socket: a new image to serve. -1 once no process can say it. */
int tracer_accept_agent(struct tracer *t);
/* STOP every agent still there and collect its counters (1 s each at most). */
void tracer_stop_agents(struct tracer *t);
/* Attach mode: 1 if h is EXITING (the status is then noted), else 0. */
int tracer_exiting(struct tracer *t, const struct uprobe_agent_hdr *h);

/* trace_loop.c */
/* Index of the field called name in l, or -1. */
int tracer_field(const struct trace_layout *l, const char *name);
/* Read every ring empty; returns the number of records read. */
long tracer_drain(struct tracer *t);
/* Note how the command (or the process attached to) ended, if it did. */
void tracer_reap(struct tracer *t);
/* Until the command exits, a signal arrives or the deadline (ms, 0: none) passes. */
void tracer_run(struct tracer *t, uint64_t deadline);

/* trace_summary.c: drain, stop the agents, print the aggregations and the summary. */
void tracer_finish(struct tracer *t);

/* trace_stack.c: --stack[=N], -v, -f folded|flamegraph (each: 0, or a CLI exit code). */
int tracer_stack_option(const char *arg);
void tracer_stack_verbose(void);
/* 0 if fmt is a stack format (taken), -1 if not. */
int tracer_stack_format(const char *fmt);
/* With --stack: the probe gets "ustack=$ustackN" (*s and *line replaced, *owned the new text). */
int tracer_stack_probe(struct trace_spec **s, const char **line, char **owned);
/* Before the formatter is made (events printed or not), then once it is. */
int tracer_stack_setup(struct tracer *t, const char *output);
void tracer_stack_formatter(struct tracer *t);
/* A record of the process's mappings (taken: 1), or 0. */
int tracer_stack_record(const struct trace_record *rec);
/* An event kept: its stack counted (--count, folded, flame graph). */
void tracer_stack_event(struct tracer *t, const struct trace_layout *l,
			const struct trace_record *rec);
/* The end: stack counts, folded stacks or the flame graph, into t->out. */
void tracer_stack_finish(struct tracer *t);

#endif
