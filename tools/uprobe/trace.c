/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: run a command with probes (launch mode), or trace a running
 * process (attach mode, -p). A launched command starts with libuprobes
 * preloaded; the agent in every image it runs attaches the probes before main
 * (src/agent/proto.h) and hands back its rings' memfd. A running process gets
 * the agent through attach.c. This process reads the rings, formats or
 * aggregates, and exits with the command's status once it has drained every
 * event.
 */
#include <dlfcn.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "agent/proto.h"
#include "cli.h"
#include "uprobes_trace.h"

#define MAX_AGENTS 256

static const char trace_usage[] =
	"usage: uprobe trace [OPTIONS] PROBE... -- COMMAND [ARGS...]\n"
	"       uprobe trace [OPTIONS] -p PID PROBE...\n"
	"\n"
	"Run COMMAND with the probes in place before its main(), print their events,\n"
	"and exit with COMMAND's exit status once every event is drained. Processes it\n"
	"forks keep tracing; programs it execs are probed again where they map a\n"
	"probed file.\n"
	"\n"
	"With -p, trace the running process PID until Ctrl-C, SIGTERM, -d or its end;\n"
	"then every probe is removed and the process runs on as before.\n"
	"\n"
	"PROBE is a line of the kernel's uprobe_events syntax, for example\n"
	"  'p:libc:malloc size=%di:u64'   'r:./prog:parse ret=$retval'\n"
	"  'p:grp/ev /usr/bin/python3.11:0x1234 +0(%di):string'\n"
	"or an SDT marker: 'sdt:PROVIDER:NAME [ARGS]' (in COMMAND or a library it\n"
	"needs; with -p, a file PID maps) or 'usdt:PATH:PROVIDER:NAME [ARGS]'; its\n"
	"arguments are fetched as arg1..argN; in ARGS, $argN is the Nth of them:\n"
	"  'sdt:python:import__find__load__start mod=+0($arg1):string'\n"
	"A fetch-arg may name a variable from the file's debug info, as perf probe\n"
	"does: 'p:./prog:parse_request req->hdr.len n path' (default name req_hdr_len).\n"
	"Symbols: NAME, NAME@VERSION, NAME@plt, C++ 'ns::Foo::bar(int,int)' (no blanks),\n"
	"fn_<hex> (stripped files); a glob ('./prog:ns::Foo::*') makes one probe per\n"
	"matching function (see uprobe list).\n"
	"\n"
	"options:\n"
	"  -f, --format FMT   text (trace_pipe lines, the default), json (one object\n"
	"                     per line) or perfetto (Chrome trace JSON for ui.perfetto.dev)\n"
	"  -p, --pid PID      attach to running process PID (needs the rights of ptrace)\n"
	"  -o, --output FILE  write events and aggregations to FILE (default: stdout)\n"
	"  -d, --duration S   stop tracing after S seconds (the command keeps running)\n"
	"      --count        count events per probe, print the counts at the end\n"
	"      --hist EXPR    log2 histogram of a fetch-arg (its name) or of 'latency'\n"
	"                     (return probes: ns from entry to return)\n"
	"      --filter EXPR  keep events where NAME OP NUMBER holds (OP: == != < <= > >=);\n"
	"                     events without that fetch-arg are kept\n"
	"  -q, --quiet        no summary on stderr\n"
	"  -h, --help         this text\n"
	"With --count or --hist, events are not printed unless --format is given.\n"
	"\n"
	"exit status: COMMAND's (128+N if a signal N ended it); 1 if a probe could not\n"
	"be attached or COMMAND could not run; 2 for bad options or probe syntax.\n"
	"With -p: 0 once tracing stopped; 1 if the process could not be traced; if it\n"
	"ended while traced, its status as for COMMAND (see uprobe(1) for what is\n"
	"known of it).\n";

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
	struct trace_spec *specs[AGENT_MAX_SPECS];
	struct trace_layout layouts[AGENT_MAX_SPECS];
	struct trace_event_desc desc[AGENT_MAX_SPECS];
	char *text; /* the SPECS message */
	size_t text_len;
	int attached[AGENT_MAX_SPECS];
	char mode[AGENT_MAX_SPECS][16];
	char why[AGENT_MAX_SPECS][172]; /* last refusal */
	uint64_t events[AGENT_MAX_SPECS], skipped[AGENT_MAX_SPECS];
	struct agent_conn agents[MAX_AGENTS];
	int n_agents;
	int ctl;
	pid_t child;
	int status, child_done, fatal;
	pid_t pid;	 /* attach mode */
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

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	stop_requested = sig;
}

static double now_fms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint64_t now_ms(void)
{
	return (uint64_t)now_fms();
}

/* ---- probes and options ------------------------------------------------------------ */

static bool has_dwarf_args(const struct trace_spec *s)
{
	for (int i = 0; i < s->n_args; i++)
		if (s->args[i].fetch.base == TRACE_B_DWARF)
			return true;
	return false;
}

/*
 * DWARF fetch-args ("req->len") become plain ones here, from the file's
 * debug info, and the agent gets the rewritten line: it and this process
 * must derive the same record layout from the text. *text is then malloc'd.
 */
static int resolve_dwarf(struct trace_spec *s, const char *line, char **text)
{
	struct trace_error err;
	int len;

	if (!has_dwarf_args(s))
		return 0;
	if (!strchr(s->path, '/') && access(s->path, R_OK))
		return cli_error(CLI_EXIT_USAGE, "probe '%s': DWARF fetch-args need the file's path "
				 "('%s' is not a file here)", line, s->path);
	if (trace_spec_resolve_dwarf(s, s->path, &err))
		return cli_error(CLI_EXIT_USAGE, "probe '%s': %s", line, uprobe_last_error());
	len = trace_spec_format(s, NULL, 0);
	*text = len > 0 ? malloc((size_t)len + 1) : NULL;
	if (!*text)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	trace_spec_format(s, *text, (size_t)len + 1);
	return 0;
}

static int add_probe(struct tracer *t, const char *line);

/*
 * sdt:/usdt: markers become plain probes here, in the text the agent parses
 * again: the layouts this process derives from the specs are the agent's.
 */
static int add_sdt_probe(struct tracer *t, struct trace_spec *s, const char *line)
{
	struct trace_sdt_where w = { .sz = sizeof(w), .pid = t->pid, .exe = t->exe };
	struct trace_spec *out[AGENT_MAX_SPECS];
	struct trace_error err;
	int n, ret = 0;

	if (!t->pid && !t->exe) {
		trace_spec_free(s);
		return cli_error(CLI_EXIT_USAGE, "no command given after '--' (uprobe trace --help)");
	}
	n = trace_spec_resolve_sdt(s, &w, out, AGENT_MAX_SPECS - t->n, &err);
	trace_spec_free(s);
	if (n < 0)
		return cli_error(CLI_EXIT_FAIL, "probe '%s': %s", line, uprobe_last_error());
	for (int i = 0; i < n; i++) {
		int len = trace_spec_format(out[i], NULL, 0);
		char *text = len > 0 ? malloc((size_t)len + 1) : NULL;

		if (!ret && text) {
			trace_spec_format(out[i], text, (size_t)len + 1);
			if (!t->quiet)
				fprintf(stderr, "uprobe: %s: %s\n", line, text);
			ret = add_probe(t, text);
		} else if (!ret) {
			ret = cli_error(CLI_EXIT_FAIL, "out of memory");
		}
		free(text);
		trace_spec_free(out[i]);
	}
	return ret;
}

/* One function of a wildcard probe (symexpand.c). */
static int add_expanded(void *ctx, const char *line)
{
	return add_probe(ctx, line);
}

static int add_probe(struct tracer *t, const char *line)
{
	struct trace_error err;
	struct trace_spec *s;
	char *resolved = NULL;
	size_t len = strlen(line);
	int ret;

	if (t->n == AGENT_MAX_SPECS)
		return cli_error(CLI_EXIT_USAGE, "more than %d probes", AGENT_MAX_SPECS);
	if (t->text_len + len + 1 > AGENT_MSG_MAX)
		return cli_error(CLI_EXIT_USAGE, "the probes take more than %d KiB of text in all",
				 AGENT_MSG_MAX / 1024);
	if (strchr(line, '\n'))
		return cli_error(CLI_EXIT_USAGE, "probe '%s': one line per probe", line);
	s = trace_spec_parse(line, &err);
	if (!s) {
		fprintf(stderr, "uprobe: bad probe: %s\n", err.msg);
		fprintf(stderr, "  %s\n  %*s^ column %d%s%s\n", line, err.column, "", err.column,
			err.token[0] ? ": " : "", err.token);
		return CLI_EXIT_USAGE;
	}
	if (s->sdt_name)
		return add_sdt_probe(t, s, line);
	if (s->kind == TRACE_DELETE) {
		trace_spec_free(s);
		return cli_error(CLI_EXIT_USAGE, "probe '%s': '-:' deletes an event; nothing to trace",
				 line);
	}
	if (cli_symbol_is_wildcard(s->symbol)) {
		ret = cli_expand_wildcard(s, line, add_expanded, t);
		trace_spec_free(s);
		return ret;
	}
	ret = resolve_dwarf(s, line, &resolved);
	if (ret) {
		trace_spec_free(s);
		return ret;
	}
	if (resolved) {
		line = resolved;
		len = strlen(line);
		if (t->text_len + len + 1 > AGENT_MSG_MAX)
			return cli_error(CLI_EXIT_USAGE, "the probes take more than %d KiB of text "
					 "in all", AGENT_MSG_MAX / 1024);
	}
	t->specs[t->n] = s;
	trace_layout_of(s, &t->layouts[t->n]);
	t->desc[t->n] = (struct trace_event_desc){ s, &t->layouts[t->n] };
	t->n++;
	t->text = realloc(t->text, t->text_len + len + 2);
	if (!t->text)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	memcpy(t->text + t->text_len, line, len);
	t->text_len += len;
	t->text[t->text_len++] = '\n';
	free(resolved);
	return 0;
}

static int parse_filter(struct filter *f, const char *expr)
{
	static const char *const ops[] = { "==", "!=", "<=", ">=", "<", ">" };
	const char *p = expr, *name;
	char *end;
	size_t n;

	while (*p == ' ')
		p++;
	name = p;
	while ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
	       *p == '_')
		p++;
	n = (size_t)(p - name);
	if (!n || n >= sizeof(f->name))
		return cli_error(CLI_EXIT_USAGE, "--filter '%s': expected a fetch-arg name at column %d",
				 expr, (int)(name - expr));
	memcpy(f->name, name, n);
	f->name[n] = 0;
	while (*p == ' ')
		p++;
	for (unsigned i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strncmp(p, ops[i], strlen(ops[i]))) {
			snprintf(f->op, sizeof(f->op), "%s", ops[i]);
			p += strlen(ops[i]);
			break;
		}
	if (!f->op[0])
		return cli_error(CLI_EXIT_USAGE,
				 "--filter '%s': expected == != < <= > or >= at column %d", expr,
				 (int)(p - expr));
	errno = 0;
	f->value = strtoll(p, &end, 0);
	while (*end == ' ')
		end++;
	if (end == p || *end || errno)
		return cli_error(CLI_EXIT_USAGE, "--filter '%s': bad number '%s' at column %d", expr,
				 p, (int)(p - expr));
	f->on = 1;
	return 0;
}

static int parse_format(const char *s, enum trace_format *f)
{
	if (!strcmp(s, "text"))
		*f = TRACE_FMT_TEXT;
	else if (!strcmp(s, "json"))
		*f = TRACE_FMT_JSON;
	else if (!strcmp(s, "perfetto"))
		*f = TRACE_FMT_PERFETTO;
	else
		return cli_error(CLI_EXIT_USAGE, "--format '%s': expected text, json or perfetto", s);
	return 0;
}

/* ---- records ------------------------------------------------------------------------ */

static int field_of(const struct trace_layout *l, const char *name)
{
	for (int i = 0; i < l->n_fields; i++)
		if (!strcmp(l->fields[i].name, name))
			return i;
	return -1;
}

static int filter_keeps(const struct filter *f, const struct trace_layout *l,
			const struct trace_record *rec)
{
	int i = field_of(l, f->name);
	int64_t v;

	if (i < 0)
		return 1;
	if (trace_field_int(l, rec, i, &v))
		return 0;
	if (!strcmp(f->op, "=="))
		return v == f->value;
	if (!strcmp(f->op, "!="))
		return v != f->value;
	if (!strcmp(f->op, "<="))
		return v <= f->value;
	if (!strcmp(f->op, ">="))
		return v >= f->value;
	if (!strcmp(f->op, "<"))
		return v < f->value;
	return v > f->value;
}

static void hist_add(struct tracer *t, const struct trace_layout *l,
		     const struct trace_record *rec)
{
	int64_t v;
	int i;

	if (!strcmp(t->hist_expr, "latency")) {
		if ((rec->flags & TRACE_REC_RETURN) && rec->entry_ts_ns && rec->ts_ns >= rec->entry_ts_ns)
			trace_agg_hist_add(t->hist, (int64_t)(rec->ts_ns - rec->entry_ts_ns));
		return;
	}
	i = field_of(l, t->hist_expr);
	if (i >= 0 && !trace_field_int(l, rec, i, &v))
		trace_agg_hist_add(t->hist, v);
}

static int on_record(const struct trace_record *rec, void *ctx)
{
	struct tracer *t = ctx;
	const struct trace_layout *l;

	if (rec->event_id >= (uint32_t)t->n)
		return 0;
	l = &t->layouts[rec->event_id];
	if (t->filter.on && !filter_keeps(&t->filter, l, rec)) {
		t->filtered++;
		return 0;
	}
	t->events[rec->event_id]++;
	if (t->fmt)
		trace_formatter_write(t->fmt, rec);
	if (t->hist)
		hist_add(t, l, rec);
	return 0;
}

/* Read every ring empty; returns the number of records read. */
static long drain(struct tracer *t)
{
	long total = 0;
	int n;

	for (int i = 0; i < t->n_agents; i++)
		while (t->agents[i].cons &&
		       (n = trace_consumer_poll(t->agents[i].cons, 0, on_record, t)) > 0)
			total += n;
	return total;
}

/* ---- agents ------------------------------------------------------------------------- */

/* Attach mode, until READY: the process's threads are under ptrace (guard.c). */
static bool guarding;

/*
 * poll() one descriptor while serving the threads' ptrace stops: a thread
 * stopped for the quiescence signal holds up the agent until it is let go.
 * 0 on timeout, or when the process was stopped (SIGSTOP) meanwhile.
 */
static int poll_guarded(struct pollfd *p, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms, now;
	struct pollfd two[2] = { *p, { .fd = guard_fd(), .events = POLLIN } };

	while ((now = now_ms()) < end) {
		if (guard_service())
			return 0; /* the process was stopped */
		if (poll(two, 2, (int)(end - now)) < 0 && errno != EINTR)
			return -1;
		if (two[0].revents) {
			p->revents = two[0].revents;
			return 1;
		}
	}
	return 0;
}

static ssize_t recv_fd(int sock, void *buf, size_t len, int *fd, int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t got;

	int ready;

	*fd = -1;
	/* Ctrl-C meanwhile is acted on afterwards: the exchange completes first. */
	if (guarding) {
		ready = poll_guarded(&p, timeout_ms);
	} else {
		do
			ready = poll(&p, 1, timeout_ms);
		while (ready < 0 && errno == EINTR);
	}
	if (ready <= 0)
		return -1;
	got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	for (c = CMSG_FIRSTHDR(&m); got >= 0 && c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return got;
}

/* PATH:SYMBOL+OFF or PATH:0xOFF, as the probe names its place. */
static const char *location(const struct trace_spec *s, char *buf, size_t len)
{
	if (s->symbol && s->offset)
		snprintf(buf, len, "%s:%s+0x%" PRIx64, s->path, s->symbol, s->offset);
	else if (s->symbol)
		snprintf(buf, len, "%s:%s", s->path, s->symbol);
	else
		snprintf(buf, len, "%s:0x%" PRIx64, s->path, s->offset);
	return buf;
}

/* " in PID 42 (comm)" */
static const char *in_pid(pid_t pid, char *buf, size_t len)
{
	char path[64], comm[32] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(buf, len, " in PID %d (%s)", pid, comm);
	return buf;
}

static void replace_this_process(char *msg, size_t len, pid_t pid)
{
	char *at = strstr(msg, "this process"), rest[256];

	if (!at)
		return;
	snprintf(rest, sizeof(rest), "%s", at + strlen("this process"));
	snprintf(at, len - (size_t)(at - msg), "PID %d%s", pid, rest);
}

/*
 * A refusal in the command's own image is fatal unless the probed file is
 * simply not mapped there (ENXIO, ENOENT): a program it execs may map it. A
 * running process (-p) has what it has: every refusal is fatal.
 */
static void note_statuses(struct tracer *t, const struct agent_status *st, int n, int first)
{
	char loc[PATH_MAX + 160], in[64];

	for (int i = 0; i < n && i < t->n; i++) {
		if (!st[i].err) {
			t->attached[i]++;
			snprintf(t->mode[i], sizeof(t->mode[i]), "%s", st[i].mode);
			continue;
		}
		snprintf(t->why[i], sizeof(t->why[i]), "%s", st[i].msg);
		if (t->pid) /* the agent speaks of "this process" */
			replace_this_process(t->why[i], sizeof(t->why[i]), t->pid);
		if (t->pid || (first && st[i].err != -ENXIO && st[i].err != -ENOENT)) {
			cli_error(CLI_EXIT_FAIL, "cannot attach %s/%s (%s)%s: %s", t->specs[i]->group,
				  t->specs[i]->event, location(t->specs[i], loc, sizeof(loc)),
				  t->pid ? in_pid(t->pid, in, sizeof(in)) : "", t->why[i]);
			t->fatal = 1;
		}
	}
}

/* Attach mode: the process told us the status it calls exit() with. */
static int exiting(struct tracer *t, const struct agent_hdr *h)
{
	if (h->type != AGENT_EXITING)
		return 0;
	t->wstatus = (int)(h->n & 0xff) << 8;
	t->exit_known = 1;
	return 1;
}

/* Give a new agent its probes and take its rings; -1 if it went away first. */
static int serve_agent(struct tracer *t, int sock, pid_t pid)
{
	static char buf[sizeof(struct agent_hdr) + AGENT_MAX_SPECS * sizeof(struct agent_status)];
	struct agent_conn *a = &t->agents[t->n_agents];
	struct agent_hdr h;
	ssize_t got;
	int memfd;

	*a = (struct agent_conn){ .sock = sock, .pid = pid };
	memcpy(t->text, &(struct agent_hdr){ AGENT_SPECS, (uint32_t)(t->text_len - sizeof(h)) },
	       sizeof(h));
	if (send(sock, t->text, t->text_len, MSG_NOSIGNAL) != (ssize_t)t->text_len) {
		close(sock);
		return -1;
	}
	/* A process attached to (-p) may call exit() before READY is out. */
	while ((got = recv_fd(sock, buf, sizeof(buf), &memfd, 10000)) == sizeof(h) &&
	       exiting(t, (const struct agent_hdr *)buf))
		;
	if (got < (ssize_t)sizeof(h)) {
		close(sock);
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	note_statuses(t, (const struct agent_status *)(buf + sizeof(h)), (int)h.n,
		      t->n_agents == 0);
	h = (struct agent_hdr){ t->fatal ? AGENT_ABORT : AGENT_GO, 0 };
	send(sock, &h, sizeof(h), MSG_NOSIGNAL);
	if (memfd >= 0) {
		a->cons = trace_consumer_new(memfd);
		close(memfd);
	}
	t->n_agents++;
	return 0;
}

/*
 * HELLO on the shared socket: a new image to serve. Returns -1 once no
 * process holds the other end any more.
 */
static int accept_agent(struct tracer *t)
{
	struct agent_hdr h;
	int sock;
	ssize_t got = recv_fd(t->ctl, &h, sizeof(h), &sock, 0);

	if (got == 0)
		return -1;
	if (got != sizeof(h) || h.type != AGENT_HELLO || sock < 0) {
		if (sock >= 0)
			close(sock);
		return 0;
	}
	if (t->n_agents == MAX_AGENTS || stop_requested) {
		close(sock); /* that image runs untraced */
		return 0;
	}
	serve_agent(t, sock, (pid_t)h.n);
	return 0;
}

/* STOP every agent still there and collect its counters (1 s each at most). */
static void stop_agents(struct tracer *t)
{
	static char buf[sizeof(struct agent_hdr) + AGENT_MAX_SPECS * sizeof(struct agent_count)];
	struct agent_hdr h = { AGENT_STOP, 0 };

	for (int i = 0; i < t->n_agents; i++) {
		struct agent_conn *a = &t->agents[i];
		const struct agent_count *c = (const struct agent_count *)(buf + sizeof(h));
		int fd;
		ssize_t got;

		if (a->done)
			continue;
		a->done = 1;
		if (send(a->sock, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
			continue;
		do
			got = recv_fd(a->sock, buf, sizeof(buf), &fd, 1000);
		while (got == sizeof(h) && exiting(t, (const struct agent_hdr *)buf));
		if (got < (ssize_t)sizeof(h) || ((const struct agent_hdr *)buf)->type != AGENT_STOPPED)
			continue;
		for (uint32_t k = 0; k < ((const struct agent_hdr *)buf)->n && (int)k < t->n; k++)
			t->skipped[k] += c[k].skipped;
	}
}

/* ---- the command -------------------------------------------------------------------- */

/* The libuprobes this program runs with: the one the command preloads. */
static int library_path(char *out, size_t len)
{
	Dl_info info;

	if (!dladdr((void *)trace_spec_parse, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, out))
		return -1;
	(void)len;
	return 0;
}

static int launch(struct tracer *t, char **cmd)
{
	char lib[PATH_MAX], fdbuf[16], *preload;
	const char *old;
	int pair[2];

	if (library_path(lib, sizeof(lib)))
		return cli_error(CLI_EXIT_FAIL, "cannot find libuprobes.so to preload");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair))
		return cli_error(CLI_EXIT_FAIL, "socketpair: %s", strerror(errno));
	t->ctl = pair[0];
	t->child = fork();
	if (t->child < 0)
		return cli_error(CLI_EXIT_FAIL, "fork: %s", strerror(errno));
	if (t->child == 0) {
		close(pair[0]);
		old = getenv("LD_PRELOAD");
		if (asprintf(&preload, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "") < 0)
			_exit(127);
		snprintf(fdbuf, sizeof(fdbuf), "%d", pair[1]);
		setenv("LD_PRELOAD", preload, 1);
		setenv(AGENT_ENV_FD, fdbuf, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "uprobe: cannot run '%s': %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(pair[1]);
	return 0;
}

static void reap(struct tracer *t)
{
	struct agent_hdr h;
	ssize_t got;
	int st;

	/* Attach mode: the process is gone once no one holds the agent's end. */
	while (t->pid && !t->child_done &&
	       (got = recv(t->agents[0].sock, &h, sizeof(h), MSG_DONTWAIT)) >= 0) {
		if (got == 0)
			t->child_done = 1;
		else if (got == sizeof(h))
			exiting(t, &h);
	}
	if (t->pid)
		return;
	if (!t->child_done && waitpid(t->child, &st, WNOHANG) == t->child) {
		t->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		t->child_done = 1;
	}
}

/* Until the command exits, a signal arrives or the duration ends. */
static void run(struct tracer *t, uint64_t deadline)
{
	struct pollfd p = { .fd = t->ctl, .events = POLLIN };
	struct timespec nap = { 0, 0 };
	long got = 0;

	/*
	 * Records flowing: read on without waiting. Caught up: nap 200 us, so
	 * that a batch builds up (reading right behind a producer slows it
	 * down, see docs/benchmarks.md); idle: 1 ms.
	 */
	while (!t->child_done && !stop_requested && !t->fatal) {
		if (deadline && now_ms() >= deadline)
			break;
		if (t->pid)
			guard_service(); /* a thread guard_end() could not let go yet */
		nap.tv_nsec = got > 256 ? 0 : got ? 200000 : 1000000;
		if (p.fd < 0 || !nap.tv_nsec)
			nanosleep(&nap, NULL);
		else if (poll(&p, 1, (int)(nap.tv_nsec / 1000000)) > 0 && accept_agent(t) < 0)
			p.fd = -1; /* every process that could say HELLO is gone */
		else if (nap.tv_nsec < 1000000)
			nanosleep(&nap, NULL);
		got = drain(t);
		reap(t);
	}
	while (!t->fatal && p.fd >= 0 && poll(&p, 1, 0) > 0) /* images that started meanwhile */
		if (accept_agent(t) < 0)
			break;
}

/* ---- the end ------------------------------------------------------------------------ */

static void summary(struct tracer *t)
{
	struct trace_ring_stats st = { .sz = sizeof(st) };

	for (int i = 0; i < t->n_agents; i++)
		if (t->agents[i].cons && !trace_consumer_stats(t->agents[i].cons, &st))
			t->lost += st.lost;
	if (t->quiet)
		return;
	fprintf(stderr, "\nuprobe: %d process image(s) traced\n", t->n_agents);
	for (int i = 0; i < t->n; i++) {
		const struct trace_spec *s = t->specs[i];

		if (t->attached[i])
			fprintf(stderr, "  %s/%s: %" PRIu64 " events, %" PRIu64
				" skipped (recursive), mode %s\n", s->group, s->event, t->events[i],
				t->skipped[i], t->mode[i]);
		else
			fprintf(stderr, "  %s/%s: never attached: %s\n", s->group, s->event,
				t->why[i][0] ? t->why[i] : "no image mapped its file");
	}
	fprintf(stderr, "  lost events (rings full): %" PRIu64 "\n", t->lost);
	if (t->pid)
		fprintf(stderr, "  attach %.1f ms, detach %.1f ms\n"
			"  system calls cut short while attaching, restarted: %u\n",
			t->attach_ms, t->detach_ms, t->restarted);
	if (t->filter.on)
		fprintf(stderr, "  filtered out: %" PRIu64 "\n", t->filtered);
}

static void finish(struct tracer *t)
{
	double t0;

	drain(t);
	t0 = now_fms();
	stop_agents(t);
	t->detach_ms = now_fms() - t0;
	drain(t);
	if (t->fmt)
		trace_formatter_free(t->fmt); /* closes a Perfetto document */
	t->fmt = NULL;
	for (int i = 0; t->counts && i < t->n; i++) /* counted per probe in on_record */
		if (t->events[i])
			trace_agg_count_add(t->counts, t->specs[i]->event, t->events[i]);
	if (t->counts)
		trace_agg_print(t->counts, t->out);
	if (t->counts && t->hist)
		fputc('\n', t->out);
	if (t->hist)
		trace_agg_print(t->hist, t->out);
	fflush(t->out);
	summary(t);
}

/* Attach mode: until a signal, the duration's end or the process's. */
static int trace_pid(struct tracer *t, uint64_t duration_ms)
{
	char lib[PATH_MAX];
	bool ret_probes = false;
	double t0 = now_fms();
	int sock, st, failed, stop_sig = 0;

	for (int i = 0; i < t->n; i++)
		ret_probes |= t->specs[i]->kind == TRACE_RETPROBE;
	if (library_path(lib, sizeof(lib)))
		return cli_error(CLI_EXIT_FAIL, "cannot find the libuprobes.so to load");
	t->ctl = -1;
	t->exit_watch = attach_exit_watch();
	sock = attach_agent(t->pid, lib, ret_probes);
	if (sock < 0)
		return CLI_EXIT_FAIL;
	guarding = true;
	failed = serve_agent(t, sock, t->pid);
	guarding = false;
	/* Tracing starts: one that cannot stop yet is let go from run(). */
	t->restarted = guard_end(&stop_sig, failed || t->fatal ? 2000 : 100);
	if (failed && stop_sig)
		return cli_error(CLI_EXIT_FAIL, "-p %d: the process was stopped (SIG%s) while the "
				 "probes went in; they come out again once it is resumed "
				 "('kill -CONT %d')", t->pid, sigabbrev_np(stop_sig), t->pid);
	if (failed)
		return cli_error(CLI_EXIT_FAIL, "-p %d: the agent closed its channel (the process "
				 "exited?)", t->pid);
	if (t->fatal) {
		/* ABORT: the agent closes its end once every probe is out again. */
		poll(&(struct pollfd){ .fd = sock, .events = POLLIN }, 1, 1000);
		return CLI_EXIT_FAIL;
	}
	t->attach_ms = now_fms() - t0;
	if (!t->quiet)
		fprintf(stderr, "uprobe: tracing PID %d; Ctrl-C to stop\n", t->pid);
	run(t, duration_ms ? now_ms() + duration_ms : 0);
	guard_end(NULL, 2000); /* any thread still held: uprobe's exit would leave it as it is */
	finish(t);
	if (t->out != stdout)
		fclose(t->out);
	if (!t->child_done)
		return CLI_EXIT_OK; /* every probe is gone; the process runs on */
	/* The connector's report comes a moment after the agent's socket closes. */
	for (int i = 0; i < 100 && !t->exit_known && t->exit_watch >= 0; i++) {
		if (attach_exit_status(t->exit_watch, t->pid, &st)) {
			t->wstatus = st;
			t->exit_known = 1;
		} else {
			poll(&(struct pollfd){ .fd = t->exit_watch, .events = POLLIN }, 1, 10);
		}
	}
	if (!t->exit_known && attach_process_runs(t->pid))
		return cli_error(CLI_EXIT_FAIL, "PID %d closed its channel to uprobe and runs on (it "
				 "closed its file descriptors?): its probes are out", t->pid);
	if (!t->exit_known) {
		cli_error(CLI_EXIT_FAIL, "PID %d ended while traced; how is not known (it is not "
			  "our child, and only root can watch process exits)", t->pid);
		return CLI_EXIT_FAIL;
	}
	if (WIFSIGNALED(t->wstatus)) {
		if (!t->quiet)
			fprintf(stderr, "uprobe: PID %d was killed by signal %d (%s)\n", t->pid,
				WTERMSIG(t->wstatus), strsignal(WTERMSIG(t->wstatus)));
		return 128 + WTERMSIG(t->wstatus);
	}
	if (!t->quiet)
		fprintf(stderr, "uprobe: PID %d exited with status %d\n", t->pid,
			WEXITSTATUS(t->wstatus));
	return WEXITSTATUS(t->wstatus);
}

static int parse_options(struct tracer *t, int argc, char **argv, uint64_t *duration_ms,
			 const char **output)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' }, { "count", no_argument, NULL, 'c' },
		{ "hist", required_argument, NULL, 'H' },   { "filter", required_argument, NULL, 'F' },
		{ "quiet", no_argument, NULL, 'q' },	      { "help", no_argument, NULL, 'h' },
		{ "pid", required_argument, NULL, 'p' },      { 0 },
	};
	int c, fmt_given = 0, ret;
	char *end;
	double d;

	while ((c = getopt_long(argc, argv, "f:o:d:qhp:", opts, NULL)) != -1) {
		ret = 0;
		switch (c) {
		case 'f':
			ret = parse_format(optarg, &t->format);
			fmt_given = 1;
			break;
		case 'o':
			*output = optarg;
			break;
		case 'd':
			d = strtod(optarg, &end);
			if (end == optarg || *end || !(d > 0) || d > 1e6)
				return cli_error(CLI_EXIT_USAGE, "-d '%s': expected seconds > 0", optarg);
			*duration_ms = (uint64_t)(d * 1000);
			break;
		case 'c':
			t->count = 1;
			break;
		case 'H':
			t->hist_expr = optarg;
			break;
		case 'F':
			ret = parse_filter(&t->filter, optarg);
			break;
		case 'q':
			t->quiet = 1;
			break;
		case 'h':
			fputs(trace_usage, stdout);
			exit(CLI_EXIT_OK);
		case 'p': {
			long pid;

			errno = 0;
			pid = strtol(optarg, &end, 10);
			if (end == optarg || *end || errno || pid <= 0 || pid > INT32_MAX)
				return cli_error(CLI_EXIT_USAGE, "-p '%s': expected a process ID",
						 optarg);
			t->pid = (pid_t)pid;
			break;
		}
		default:
			fputs(trace_usage, stderr);
			return CLI_EXIT_USAGE;
		}
		if (ret)
			return ret;
	}
	t->print_events = fmt_given || (!t->count && !t->hist_expr);
	return 0;
}

static int setup_output(struct tracer *t, const char *output)
{
	t->out = stdout;
	if (output && !(t->out = fopen(output, "w")))
		return cli_error(CLI_EXIT_FAIL, "-o %s: %s", output, strerror(errno));
	if (t->print_events)
		t->fmt = trace_formatter_new(t->format, t->out, t->desc, (size_t)t->n);
	if (t->count)
		t->counts = trace_agg_count_new("events");
	if (t->hist_expr)
		t->hist = trace_agg_hist_new(t->hist_expr);
	if ((t->print_events && !t->fmt) || (t->count && !t->counts) || (t->hist_expr && !t->hist))
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	return 0;
}

/* Refuse a --hist or --filter name that no probe fetches. */
static int check_names(const struct tracer *t)
{
	const char *names[2] = { t->filter.on ? t->filter.name : NULL, t->hist_expr };

	for (int k = 0; k < 2; k++) {
		int found = 0;

		if (!names[k] || (k == 1 && !strcmp(names[k], "latency")))
			continue;
		for (int i = 0; i < t->n && !found; i++)
			found = field_of(&t->layouts[i], names[k]) >= 0;
		if (!found)
			return cli_error(CLI_EXIT_USAGE, "%s '%s': no probe has a fetch-arg of that name",
					 k ? "--hist" : "--filter", names[k]);
	}
	return 0;
}

int cmd_trace(int argc, char **argv)
{
	static struct tracer tr;
	struct tracer *t = &tr;
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t duration_ms = 0;
	const char *output = NULL;
	int ret, dash;

	t->text_len = sizeof(struct agent_hdr);
	t->text = calloc(1, t->text_len);
	for (dash = 1; dash < argc && strcmp(argv[dash], "--"); dash++)
		;
	/* Options and probes mix freely before "--"; what follows is the command's. */
	ret = parse_options(t, dash, argv, &duration_ms, &output);
	if (ret)
		return ret;
	t->exe = dash < argc - 1 ? argv[dash + 1] : NULL;
	for (int i = optind; i < dash; i++) {
		ret = add_probe(t, argv[i]);
		if (ret)
			return ret;
	}
	if (!t->n)
		return cli_error(CLI_EXIT_USAGE, "no probe given (uprobe trace --help)");
	if (t->pid && dash < argc)
		return cli_error(CLI_EXIT_USAGE, "-p %d and a command after '--': trace one or the "
				 "other", t->pid);
	if (!t->pid && dash >= argc - 1)
		return cli_error(CLI_EXIT_USAGE, "no command given after '--' (uprobe trace --help)");
	ret = check_names(t);
	if (!ret)
		ret = setup_output(t, output);
	if (ret)
		return ret;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (t->pid)
		return trace_pid(t, duration_ms);
	ret = launch(t, argv + dash + 1);
	if (ret)
		return ret;
	run(t, duration_ms ? now_ms() + duration_ms : 0);
	if (t->fatal) {
		kill(t->child, SIGKILL);
		waitpid(t->child, NULL, 0);
		return CLI_EXIT_FAIL;
	}
	finish(t);
	while (!t->child_done) { /* the command runs on after -d or a signal */
		if (waitpid(t->child, &ret, 0) == t->child) {
			t->status = WIFEXITED(ret) ? WEXITSTATUS(ret) : 128 + WTERMSIG(ret);
			t->child_done = 1;
		} else if (errno != EINTR) {
			break;
		}
	}
	if (t->out != stdout)
		fclose(t->out);
	return t->status;
}
