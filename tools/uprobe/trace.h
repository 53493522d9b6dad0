/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace, shared by its files:
 *   trace.c          the command: launch mode, attach mode (-p), the end
 *   trace_options.c  options and probes (the SPECS text every agent gets)
 *   trace_agents.c   the agents' protocol (uprobes_agent.h): serve, stop
 *   trace_gate.c     who may be traced: HELLO's credentials, one agent per
 *                    image, limits, refusals; what the command is (static,
 *                    setuid)
 *   trace_files.c    launch mode: each probe's file found before the command
 *                    starts (or one it may map later)
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

/* Images served at once (each holds a socket), rings kept (live or ended), images in a run. */
#define MAX_LIVE_AGENTS 512
#define MAX_KEPT_RINGS 1024
#define MAX_IMAGES (1u << 20)
#define SPEC_POOL_CHUNK 1024 /* specs per mapping of the spec pool */

struct filter {
	char name[TRACE_MAX_ARG_NAME];
	char op[3];
	int64_t value;
	int on;
};

enum agent_state {
	AGENT_SERVING, /* SPECS sent, READY awaited */
	AGENT_TRACING, /* GO sent */
	AGENT_ENDED,   /* STOPPED, the socket closed, or refused: sock is -1 */
};

struct agent_conn {
	int sock;
	pid_t pid;
	enum agent_state state;
	bool first; /* the run's first image: its refusals are fatal (launch mode) */
	struct trace_consumer *cons;
};

/* Why a HELLO was refused, or an image not traced (trace_gate.c). */
enum refusal {
	REF_CREDS,    /* HELLO from a process of other credentials */
	REF_PID,      /* the pid in HELLO is not the sender's */
	REF_SOCKET,   /* no private socket, or one the sender did not make */
	REF_AGAIN,    /* a second HELLO of one image */
	REF_MESSAGE,  /* not a HELLO, or a malformed one */
	REF_READY,    /* a malformed READY */
	REF_PROTOCOL, /* a message out of turn */
	REF_RINGS,    /* rings refused (trace_consumer_new) */
	REF_GONE,     /* the image was gone before it could be told apart */
	REF_TOO_MANY, /* more than MAX_LIVE_AGENTS at once, or MAX_IMAGES in all */
	REF_STOPPING, /* HELLO after tracing had stopped */
	REF_COUNT
};

/* Images that will not be traced and say so (HELLO_SECURE). */
enum untraced {
	UNTRACED_SECURE, /* setuid, setgid, file capabilities */
	UNTRACED_CREDS,	 /* of other credentials than the tracer's */
	UNTRACED_COUNT
};

/* What the command given after "--" is, as far as preloading goes (trace_gate.c). */
enum command_kind { CMD_DYNAMIC, CMD_STATIC, CMD_SECURE };

struct tracer {
	/* The probes: n of each, grown together (tracer_add_probe). */
	int n, n_room;
	struct trace_spec **specs;
	const struct trace_layout **layouts; /* probes with the same fields share one */
	struct trace_event_desc *desc;
	int *attached;
	char (*mode)[16];
	char **why; /* last refusal (malloc'd, printable; NULL: none) */
	char **ret; /* return probes: how returns are caught (the agent's words), or NULL */
	uint64_t *events, *skipped;
	struct trace_layout **distinct; /* the layouts, each once (the last few are looked up) */
	int n_distinct;
	struct trace_spec *pool; /* where the next spec is kept (trace_options.c) */
	int pool_left;
	char *text; /* the probe lines, '\n'-separated */
	size_t text_len;
	bool specs_made;	/* text_fd and counts_fd: made for the first image */
	int text_fd, counts_fd; /* the memfds of SPECS: the lines, the counts */
	const struct uprobe_agent_count *shared_counts; /* the counts memfd, read-only */
	/* The images: served, tracing, or ended with their rings kept. */
	struct agent_conn *agents;
	int n_agents, agents_room;
	int live;	       /* agents with a socket */
	unsigned accepted;     /* HELLOs served in all (the first one's refusals are fatal) */
	unsigned images;       /* images traced (READY, GO) in all */
	void *seen;	       /* images served, by identity (trace_gate.c) */
	unsigned refused[REF_COUNT];
	pid_t refused_pid[REF_COUNT]; /* the first one of each */
	unsigned untraced[UNTRACED_COUNT];
	pid_t untraced_pid[UNTRACED_COUNT];
	enum command_kind cmd_kind;
	char cmd_why[160];	/* what makes it so: "is setuid root" */
	bool child_traced;	/* the command's own image said HELLO */
	int ctl;
	pid_t child;
	int child_pidfd; /* launch mode: readable once the command ends; -1: none (old kernel) */
	int status, child_done, fatal;
	pid_t pid;	 /* attach mode */
	bool guarding;	 /* attach mode, until READY: the threads are under ptrace (guard.c) */
	const char *exe; /* launch mode: the command (where sdt: markers are looked for) */
	int exit_watch; /* attach mode: see attach_exit_watch() */
	int exit_known, wstatus; /* attach mode: how the process ended */
	double attach_ms, detach_ms; /* attach mode: agent loaded and probes in; all out */
	unsigned restarted;	     /* attach mode: system calls guard.c restarted */
	FILE *out;
	const char *output; /* -o FILE, or NULL: standard output */
	int out_errno;	    /* the first write error of out */
	enum trace_format format;
	int print_events, count, quiet;
	bool say_tracing; /* attach mode: "tracing PID" even when quiet (uprobe -e -p) */
	const char *hist_expr;
	struct trace_formatter *fmt;
	struct trace_agg *counts, *hist;
	struct trace_maps *maps; /* --count/--hist computed in the target (trace_maps.c), or NULL */
	int map_count, map_filtered, map_hist; /* their ids, -1: none */
	int lang_maps; /* uprobe -e: maps (the program's) made by lang.c, ids 0 .. lang_maps - 1 */
	bool glob_as_bpftrace; /* uprobe -e: a glob matches what bpftrace's does (symexpand.c) */
	bool lang_stacks;   /* uprobe -e: the program's stack table (ustack keys), sent 4th */
	int lang_stacks_fd; /* with SPECS, after the maps */
	uint64_t map_dropped, map_corrupt; /* updates the maps could not take; impossible entries */
	struct filter filter;
	uint64_t lost, filtered;
	uint64_t unread;   /* events still in the rings once they were read after STOP */
	uint64_t deadline; /* now_ms() at which tracing stops, 0: none */
	uint64_t records;  /* read from the rings so far */
	bool cut;	   /* the pass was cut short by a stop request or the deadline */
	bool stopping;	   /* after STOP: passes are not cut short */
	uint64_t lost_by[UPROBE_AGENT_MAX_SPECS]; /* per probe, as the agents' producers counted */
	uint64_t malformed; /* records no probe writes (trace_loop.c): not printed */
	int corrupted;	    /* a traced program wrote into its rings: exit non-zero */
	/* The kernel backend (trace_kernel.c): -a, or --backend kernel. */
	bool all;	      /* -a: every process that maps the files */
	bool backend_kernel;
	bool kernel_counting; /* --count alone with -a: the kernel counts (no records) */
	const char *count_by; /* --count-by pid|comm: counts keyed by event and that */
	const char *comm;     /* --comm NAME: only the events of threads so named */
	/*
	 * uprobe -e (lang.c): every record is what a probe's plan emitted, given to
	 * lang_record (non-zero: malformed) instead of the formatter; lang_tick runs
	 * at every turn of the loop (interval probes). lang_exit: the program called
	 * exit(): tracing stops, a launched command is ended (SIGTERM) as bpftrace does.
	 */
	int (*lang_record)(const struct trace_record *rec, void *ctx);
	void (*lang_tick)(void *ctx);
	void *lang_ctx;
	bool lang_exit;
	bool lang_hurry; /* a thread of the target waits on what was just performed */
	/* -f raw -o FILE: records written as they come, formatted by uprobe report (record.c). */
	bool raw;
	struct recorder *rec;
	bool lost_unknown; /* the traced program overwrote its lost counters (summary) */
	bool blocking;	   /* --blocking: producers wait for space instead of dropping */
};

/*
 * trace.c: trace the probes of t (options parsed, probes added): the command
 * cmd (launch mode) or t->pid; the command's or the process's exit status, or a
 * CLI exit code.
 */
int tracer_trace(struct tracer *t, char **cmd, uint64_t duration_ms, const char *output);

/* Set by SIGINT, SIGTERM, SIGHUP and SIGQUIT (the signal's number). */
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
/* "PATH:SYMBOL[+0xOFF]" or "PATH:0xOFF": where probe s goes, for messages. */
const char *tracer_location(const struct trace_spec *s, char *buf, size_t len);
/* Attach mode: give the agent its probes and take its rings; -1 if it went away first. */
int tracer_serve_agent(struct tracer *t, int sock, pid_t pid);
/* A message on the shared socket: a new image to serve. -1 once no process can say it. */
int tracer_accept_agent(struct tracer *t);
/* Launch mode, in the tracing loop: READY of images being served, images that ended. */
void tracer_service_agents(struct tracer *t);
/* STOP every agent still there and collect the counters (bounded wait); no HELLO after. */
void tracer_stop_agents(struct tracer *t);
/* Attach mode: 1 if h is EXITING (the status is then noted), else 0. */
int tracer_exiting(struct tracer *t, const struct uprobe_agent_hdr *h);

/* trace_gate.c: who may be traced. */
/* s with its control characters as '?' (text from the traced processes, to print). */
char *tracer_printable(char *s);
/* " (comm)" of pid, or "" when gone; control characters as '?': the name is the process's. */
const char *tracer_comm(pid_t pid, char *buf, size_t len);
/* One more refusal of kind r, of PID pid, said on stderr the first time (detail: why). */
void tracer_refuse(struct tracer *t, enum refusal r, pid_t pid, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * A HELLO or HELLO_SECURE (h) with the sender's credentials and the descriptor it
 * carried (fd, -1: none; n_fds in all): 1 to serve it, 0 if refused or noted as
 * untraced (fd is then closed).
 */
struct ucred;
int tracer_gate_hello(struct tracer *t, const struct uprobe_agent_hdr *h, const struct ucred *cred,
		      int fd, int n_fds);
/* Launch mode: what the command is (static, setuid), said on stderr if it will not be traced. */
void tracer_check_command(struct tracer *t, const char *cmd);
/* Why probe i never attached: what the agents said, and what the tracer knows. */
const char *tracer_unattached_reason(const struct tracer *t, int i, char *buf, size_t len);
/* The summary's lines on refused HELLOs and images not traced. */
void tracer_gate_summary(const struct tracer *t, FILE *out);

/* trace_files.c: launch mode: probe s's file found (or waitable for); 0 or a CLI exit code. */
int tracer_check_file(struct tracer *t, const struct trace_spec *s);
/* A glob's short name made the path of the one file its functions are read from. */
int tracer_glob_file(struct tracer *t, struct trace_spec *s, const char *text);

/* trace_loop.c */
/* One record of any backend: filtered, counted, formatted (a trace_record_fn). */
int tracer_record(const struct trace_record *rec, void *ctx);
/* Index of the field called name in l, or -1. */
int tracer_field(const struct trace_layout *l, const char *name);
/*
 * One pass over every ring: each read up to its first record not yet
 * committed, a lap at most; while tracing (tracer_run), cut short by a stop
 * request or the deadline. Returns the number of records read.
 */
long tracer_drain(struct tracer *t);
/* Note how the command (or the process attached to) ended, if it did. */
void tracer_reap(struct tracer *t);
/* Until the command exits, a signal arrives or the deadline (ms, 0: none) passes. */
void tracer_run(struct tracer *t, uint64_t deadline);

/* Note a write error of the output (tracing stops then). */
void tracer_check_output(struct tracer *t);

/* trace_maps.c: --count, --hist and --filter in the target, when no event is printed. */
/* ns per TSC tick << 32, measured over 20 ms against CLOCK_MONOTONIC. */
uint64_t tracer_latency_mult(void);
/* Make the maps if this run can use them (after tracer_setup_output): 0 or a CLI exit code. */
int tracer_maps_setup(struct tracer *t);
/* The maps' fd for SPECS, or -1 when the run has none. */
int tracer_maps_fd(const struct tracer *t);
/* The end: counts, filtered events and the histogram from the maps (tracer_finish). */
void tracer_maps_collect(struct tracer *t);
/* The summary's line on dropped map updates; said even with -q when there are some. */
void tracer_maps_summary(const struct tracer *t, FILE *out, bool quiet);

/* trace_summary.c: drain, stop the agents, print the aggregations and the summary. */
void tracer_finish(struct tracer *t);
/* Close the output: 0, or CLI_EXIT_FAIL after saying what could not be written. */
int tracer_close_output(struct tracer *t);
/* The exit status: status, or 1 instead of 0 when a traced program corrupted its rings. */
int tracer_exit_status(const struct tracer *t, int status);

/* record.c: -f raw, the record file that uprobe report formats (docs/trace-events.md). */
struct recorder;
/* The file's header (the probes) written to t->out: 0 or a CLI exit code. */
int tracer_record_setup(struct tracer *t);
/* One event, as it came out of the rings (after --filter and --comm). */
void tracer_record_write(struct tracer *t, const struct trace_record *rec);
/* The end: the last block and the counts (after the summary computed them). */
void tracer_record_end(struct tracer *t);

/* trace_kernel.c: the kernel backend (cmd: launch mode, else -a or -p); a CLI exit code. */
int tracer_kernel_run(struct tracer *t, char **cmd, uint64_t duration_ms);
/* One pass over the kernel's rings: the records read. */
long tracer_kernel_drain(struct tracer *t);
/* trace_klat.c: --hist latency there: a hidden entry probe per return probe; 0 or a CLI code. */
struct trace_kernel;
int tracer_klat_add(struct tracer *t, struct trace_kernel *k);
/* rec, or copy with its entry time (a return), or NULL (a hidden entry: taken). */
const struct trace_record *tracer_klat_record(const struct tracer *t,
					      const struct trace_record *rec,
					      struct trace_record *copy);
void tracer_klat_free(void);

/* trace_stack.c: --stack[=N], -v, -f folded|flamegraph (each: 0, or a CLI exit code). */
int tracer_stack_option(const char *arg);
/* --stack or a stack format was given. */
bool tracer_stack_on(void);
void tracer_stack_verbose(void);
/* --stack or a stack format was given. */
bool tracer_stack_wanted(void);
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
