/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: options, and the probes they give. Every probe line is parsed
 * here as the agent will parse it, so that both derive the same record
 * layouts; sdt: markers, globs and DWARF fetch-args are rewritten into plain
 * lines first, and the agent gets those.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"

const char trace_usage[] =
	"usage: uprobe trace [OPTIONS] PROBE... -- COMMAND [ARGS...]\n"
	"       uprobe trace [OPTIONS] -p PID PROBE...\n"
	"       uprobe trace [OPTIONS] -a PROBE...\n"
	"\n"
	"Run COMMAND with the probes in place before its main(), print their events,\n"
	"and exit with COMMAND's exit status once every event is drained. Processes it\n"
	"forks keep tracing; programs it execs are probed again where they map a\n"
	"probed file. Setuid and static programs, and processes of another user, run\n"
	"untraced (the summary says so). Up to 65536 probes in one run.\n"
	"\n"
	"With -p, trace the running process PID until Ctrl-C, SIGTERM, -d or its end;\n"
	"then every probe is removed and the process runs on as before.\n"
	"\n"
	"With -a, trace every process that maps a probed file, running or started\n"
	"later, until Ctrl-C, SIGTERM or -d: the kernel's uprobes do the probing\n"
	"(needs root and tracefs; docs/kernel-backend.md). --backend kernel does the\n"
	"same for COMMAND or -p PID, to compare the two engines on one workload.\n"
	"\n"
	"PROBE is a line of the kernel's uprobe_events syntax, for example\n"
	"  'p:libc:malloc size=%di:u64'   'r:./prog:parse ret=$retval'\n"
	"  'p:grp/ev /usr/bin/python3.11:0x1234 +0(%di):string'\n"
	"or an SDT marker: 'sdt:PROVIDER:NAME [ARGS]' (in COMMAND or a library it\n"
	"needs; with -p, a file PID maps) or 'usdt:PATH:PROVIDER:NAME [ARGS]' (PROVIDER\n"
	"'*': any, if one only has NAME); its\n"
	"arguments are fetched as arg1..argN; in ARGS, $argN is the Nth of them:\n"
	"  'sdt:python:import__find__load__start mod=+0($arg1):string'\n"
	"A fetch-arg may name a variable from the file's debug info, as perf probe\n"
	"does: 'p:./prog:parse_request req->hdr.len n path' (default name req_hdr_len).\n"
	"Symbols: NAME, NAME@VERSION, NAME@plt, C++ 'ns::Foo::bar(int,int)' (no blanks),\n"
	"fn_<hex> (stripped files); a glob ('./prog:ns::Foo::*', 'libc:str*cmp') makes one\n"
	"probe per matching function (see uprobe list).\n"
	"\n"
	"options:\n"
	"  -f, --format FMT   text (trace_pipe lines, the default), json (one object\n"
	"                     per line) or perfetto (Chrome trace JSON for ui.perfetto.dev);\n"
	"                     raw (-o FILE): a record file, written at ring speed, that\n"
	"                     'uprobe report FILE' prints later in any of those formats;\n"
	"                     folded (\"root;...;leaf COUNT\" per distinct stack, for\n"
	"                     flamegraph.pl, inferno, speedscope) or flamegraph (an\n"
	"                     interactive SVG: -o FILE.svg); both imply --stack\n"
	"  -p, --pid PID      attach to running process PID (needs the rights of ptrace;\n"
	"                     in one that maps libstdc++ return probes take the return\n"
	"                     sites only: one that needs the hijack is refused, warned)\n"
	"  -a, --all          every process that maps the probed files (kernel backend)\n"
	"      --backend B    agent (in the process, the default) or kernel (the kernel's\n"
	"                     uprobes: no $ustack/--stack; with -a and --count alone\n"
	"                     the kernel counts the hits, exactly)\n"
	"  -o, --output FILE  write events and aggregations to FILE (default: stdout)\n"
	"  -d, --duration S   stop tracing after S seconds (the command keeps running;\n"
	"                     a stop signal to uprobe then is passed on to it)\n"
	"      --count        count events per probe, print the counts at the end\n"
	"      --hist EXPR    log2 histogram of a fetch-arg (its name) or of 'latency'\n"
	"                     (return probes: ns from entry to return)\n"
	"      --filter EXPR  keep events where NAME OP NUMBER holds (OP: == != < <= > >=);\n"
	"                     events without that fetch-arg are kept; NAME pid or tid\n"
	"                     is the event's process or thread, unless a fetch-arg has it\n"
	"      --comm NAME    keep the events of threads named NAME\n"
	"      --count-by K   --count per probe and K: pid or comm (\"@events[ev, 4242]\")\n"
	"      --stack[=N]    the user stack at each hit (N frames, 1 to 127; default\n"
	"                     127), walked in the process (CFI, frame pointers where\n"
	"                     none) and symbolized here: under each event (text, as\n"
	"                     perf script), in its args (json, perfetto); with\n"
	"                     --count, one count per distinct stack (bpftrace's\n"
	"                     @[ustack] = count()). A probe's own fetch-arg\n"
	"                     'NAME=$ustack[N]' does the same for that probe\n"
	"      --blocking     a probe that finds its ring full waits for space (at most\n"
	"                     1 s, then drops as without it) instead of losing the\n"
	"                     event: a slower program, no event lost\n"
	"  -v, --verbose      stacks with source file:line and inlined calls (DWARF)\n"
	"  -q, --quiet        no summary on stderr\n"
	"  -h, --help         this text\n"
	"With --count or --hist, events are not printed unless --format is given; then\n"
	"--count, --hist FIELD and --filter are computed in the traced process (maps,\n"
	"docs/maps.md): exact at any hit rate, kept if it dies; dropped map updates are\n"
	"said in the summary.\n"
	"\n"
	"A probe on a file that is nowhere (a path stat() does not find, a short name\n"
	"that is not COMMAND, not in its library path nor on PATH) is refused before\n"
	"COMMAND starts; one on a file COMMAND does not map is waited for (a program it\n"
	"execs may map it) and, if none did, the summary (and -q) says why.\n"
	"\n"
	"exit status: COMMAND's (128+N if a signal N ended it); 1 if a probe could not\n"
	"be attached, COMMAND could not run or the output could not be written, or\n"
	"instead of 0 if a traced program corrupted its trace buffer; 2 for bad\n"
	"options or probe syntax.\n"
	"With -p: 0 once tracing stopped; 1 if the process could not be traced or the\n"
	"output could not be written; if it ended while traced, its status as for\n"
	"COMMAND (see uprobe(1) for what is known of it).\n";

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
	if (trace_spec_resolve_dwarf(s, s->path, &err)) {
		char head[PATH_MAX + 16];

		snprintf(head, sizeof(head), "probe '%s'", line);
		return cli_probe_error(CLI_EXIT_USAGE, s->event, head, "%s", uprobe_last_error());
	}
	len = trace_spec_format(s, NULL, 0);
	*text = len > 0 ? malloc((size_t)len + 1) : NULL;
	if (!*text)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	trace_spec_format(s, *text, (size_t)len + 1);
	return 0;
}

/*
 * sdt:/usdt: markers become plain probes here, in the text the agent parses
 * again: the layouts this process derives from the specs are the agent's.
 */
static int add_sdt_probe(struct tracer *t, struct trace_spec *s, const char *line)
{
	struct trace_sdt_where w = { .sz = sizeof(w), .pid = t->pid, .exe = t->exe };
	char event[TRACE_MAX_EVENT_NAME], head[PATH_MAX + 16];
	int n, ret = 0, room = UPROBE_AGENT_MAX_SPECS - t->n;
	struct trace_spec **out = calloc((size_t)room, sizeof(*out));
	struct trace_error err;

	if (!t->pid && !t->exe && (!t->all || !s->path)) {
		trace_spec_free(s);
		free(out);
		if (t->all)
			return cli_error(CLI_EXIT_USAGE, "probe '%s': with -a, name the file: "
					 "'usdt:PATH:PROVIDER:NAME'", line);
		return cli_error(CLI_EXIT_USAGE, "no command given after '--' (uprobe trace --help)");
	}
	if (t->all)
		w.exe = s->path; /* usdt:PATH: that file (and the libraries it needs) */
	n = out ? trace_spec_resolve_sdt(s, &w, out, room, &err) : -ENOMEM;
	snprintf(event, sizeof(event), "%s", s->event);
	trace_spec_free(s);
	if (n < 0) {
		free(out);
		snprintf(head, sizeof(head), "probe '%s'", line);
		return cli_probe_error(CLI_EXIT_FAIL, event, head, "%s",
				       out ? uprobe_last_error() : "out of memory");
	}
	for (int i = 0; i < n; i++) {
		int len = trace_spec_format(out[i], NULL, 0);
		char *text = len > 0 ? malloc((size_t)len + 1) : NULL;

		if (!ret && text) {
			trace_spec_format(out[i], text, (size_t)len + 1);
			if (!t->quiet)
				fprintf(stderr, "uprobe: %s: %s\n", line, text);
			ret = tracer_add_probe(t, text);
		} else if (!ret) {
			ret = cli_error(CLI_EXIT_FAIL, "out of memory");
		}
		free(text);
		trace_spec_free(out[i]);
	}
	free(out);
	return ret;
}

/*
 * The array at *array_ptr (any pointer type: copied, not cast) from old to
 * room entries of elem bytes, the new ones zeroed; 0, or -1 with it unchanged.
 */
static int grow(void *array_ptr, int room, int old, size_t elem)
{
	void *p, *q;

	memcpy(&p, array_ptr, sizeof(p));
	q = realloc(p, (size_t)room * elem);
	if (!q)
		return -1;
	memset((char *)q + (size_t)old * elem, 0, (size_t)(room - old) * elem);
	memcpy(array_ptr, &q, sizeof(q));
	return 0;
}

static int probes_grow(struct tracer *t)
{
	int room = t->n_room ? 2 * t->n_room : 64, old = t->n_room;

	if (t->n < t->n_room)
		return 0;
	if (grow(&t->specs, room, old, sizeof(*t->specs)) ||
	    grow(&t->layouts, room, old, sizeof(*t->layouts)) ||
	    grow(&t->desc, room, old, sizeof(*t->desc)) ||
	    grow(&t->attached, room, old, sizeof(*t->attached)) ||
	    grow(&t->mode, room, old, sizeof(*t->mode)) || grow(&t->why, room, old, sizeof(*t->why)) ||
	    grow(&t->ret, room, old, sizeof(*t->ret)) ||
	    grow(&t->events, room, old, sizeof(*t->events)) ||
	    grow(&t->skipped, room, old, sizeof(*t->skipped)))
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	t->n_room = room;
	return 0;
}

/*
 * Keep s for the whole run in a chunk of zero pages. A spec has room for
 * 128 fetch-args (28 KiB) and a parsed one is touched all over; copied here,
 * a probe costs the page its fields use (thousands of probes: 4 KiB, not 28,
 * each). The copy takes over what s points to; s itself is freed. calloc of
 * a chunk this size maps fresh zero pages (glibc does not clear them), and,
 * unlike an mmap of our own, lets LeakSanitizer see the strings the specs
 * point to (SANITIZE=1 reported them all as leaked).
 */
static struct trace_spec *spec_keep(struct tracer *t, struct trace_spec *s)
{
	size_t used = offsetof(struct trace_spec, args) + (size_t)s->n_args * sizeof(s->args[0]);
	struct trace_spec *k;
	void *p;

	if (!t->pool_left) {
		p = calloc(SPEC_POOL_CHUNK, sizeof(*s));
		if (!p)
			return NULL;
		t->pool = p;
		t->pool_left = SPEC_POOL_CHUNK;
	}
	k = t->pool++;
	t->pool_left--;
	memcpy(k, s, used);
	if (s->sdt_provider || s->sdt_name) { /* at the end: the page stays untouched without */
		k->sdt_provider = s->sdt_provider;
		k->sdt_name = s->sdt_name;
	}
	free(s);
	return k;
}

/*
 * The layout of s, shared with a recent probe's when their fields are the
 * same: the thousands of probes of a glob have one (a layout is 7 KiB).
 */
static const struct trace_layout *layout_intern(struct tracer *t, const struct trace_spec *s)
{
	struct trace_layout l, *copy;
	size_t used;

	trace_layout_of(s, &l);
	used = offsetof(struct trace_layout, fields) + (size_t)l.n_fields * sizeof(l.fields[0]);
	for (int i = t->n_distinct - 1; i >= 0 && i >= t->n_distinct - 16; i--)
		if (!memcmp(t->distinct[i], &l, used))
			return t->distinct[i];
	if (!(t->n_distinct & (t->n_distinct - 1)) &&
	    grow(&t->distinct, t->n_distinct ? 2 * t->n_distinct : 1, t->n_distinct,
		 sizeof(*t->distinct)))
		return NULL;
	copy = malloc(sizeof(*copy));
	if (copy) {
		*copy = l;
		t->distinct[t->n_distinct++] = copy;
	}
	return copy;
}

/* One function of a wildcard probe (symexpand.c). */
static int add_expanded(void *ctx, const char *line)
{
	return tracer_add_probe(ctx, line);
}

int tracer_add_probe(struct tracer *t, const char *line)
{
	struct trace_error err;
	struct trace_spec *s;
	char *resolved = NULL;
	size_t len = strlen(line);
	int ret;

	if (t->n == UPROBE_AGENT_MAX_SPECS)
		return cli_error(CLI_EXIT_USAGE, "more than %d probes in one run (see "
				 "docs/limitations.md)", UPROBE_AGENT_MAX_SPECS);
	if (t->text_len + len + 1 > UPROBE_AGENT_TEXT_MAX)
		return cli_error(CLI_EXIT_USAGE, "the probes take more than %u MiB of text in all",
				 UPROBE_AGENT_TEXT_MAX >> 20);
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
		ret = tracer_glob_file(t, s, line);
		if (!ret)
			ret = cli_expand_wildcard(s, line, t->glob_as_bpftrace, add_expanded, t);
		trace_spec_free(s);
		return ret;
	}
	ret = tracer_check_file(t, s);
	if (!ret)
		ret = resolve_dwarf(s, line, &resolved);
	if (!ret)
		ret = tracer_stack_probe(&s, &line, &resolved);
	if (ret) {
		trace_spec_free(s);
		return ret;
	}
	if (resolved) {
		line = resolved;
		len = strlen(line);
		if (t->text_len + len + 1 > UPROBE_AGENT_TEXT_MAX)
			return cli_error(CLI_EXIT_USAGE, "the probes take more than %u MiB of text "
					 "in all", UPROBE_AGENT_TEXT_MAX >> 20);
	}
	ret = probes_grow(t);
	if (ret)
		return ret;
	t->layouts[t->n] = layout_intern(t, s);
	s = t->layouts[t->n] ? spec_keep(t, s) : NULL;
	if (!s)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	t->specs[t->n] = s;
	t->desc[t->n] = (struct trace_event_desc){ s, t->layouts[t->n] };
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
		return cli_error(CLI_EXIT_USAGE, "--format '%s': expected text, json, perfetto, "
				 "folded or flamegraph", s);
	return 0;
}

/* -f raw and --blocking: what they go with. */
static int check_raw(const struct tracer *t, const char *output)
{
	if (t->blocking && t->backend_kernel)
		return cli_error(CLI_EXIT_USAGE, "--blocking needs the agent backend (the kernel's "
				 "rings drop when full)");
	if (!t->raw)
		return 0;
	if (!output)
		return cli_error(CLI_EXIT_USAGE, "-f raw writes a record file: give it with -o FILE "
				 "(then: uprobe report FILE)");
	if (t->count || t->hist_expr || tracer_stack_wanted() || t->backend_kernel)
		return cli_error(CLI_EXIT_USAGE, "-f raw records events only: no --count, --hist, "
				 "--stack, folded, flamegraph or kernel backend with it");
	return 0;
}

int tracer_parse_options(struct tracer *t, int argc, char **argv, uint64_t *duration_ms,
			 const char **output)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },
		{ "duration", required_argument, NULL, 'd' }, { "count", no_argument, NULL, 'c' },
		{ "hist", required_argument, NULL, 'H' },   { "filter", required_argument, NULL, 'F' },
		{ "quiet", no_argument, NULL, 'q' },	      { "help", no_argument, NULL, 'h' },
		{ "pid", required_argument, NULL, 'p' },      { "stack", optional_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },	      { "all", no_argument, NULL, 'a' },
		{ "backend", required_argument, NULL, 'B' },  { "count-by", required_argument, NULL, 'K' },
		{ "comm", required_argument, NULL, 'C' },     { "blocking", no_argument, NULL, 'b' },
		{ 0 },
	};
	const char *backend = NULL;
	int c, fmt_given = 0, ret;
	char *end;
	double d;

	while ((c = getopt_long(argc, argv, "f:o:d:qhp:va", opts, NULL)) != -1) {
		ret = 0;
		switch (c) {
		case 'f':
			t->raw = !strcmp(optarg, "raw");
			if (!t->raw && tracer_stack_format(optarg))
				ret = parse_format(optarg, &t->format);
			fmt_given = 1;
			break;
		case 'S':
			ret = tracer_stack_option(optarg);
			break;
		case 'v':
			tracer_stack_verbose();
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
		case 'a':
			t->all = t->backend_kernel = true;
			break;
		case 'K':
			if (strcmp(optarg, "pid") && strcmp(optarg, "comm"))
				return cli_error(CLI_EXIT_USAGE, "--count-by '%s': expected pid or comm",
						 optarg);
			t->count_by = optarg;
			t->count = 1;
			break;
		case 'C':
			t->comm = optarg;
			break;
		case 'b':
			t->blocking = true;
			break;
		case 'B':
			if (strcmp(optarg, "agent") && strcmp(optarg, "kernel"))
				return cli_error(CLI_EXIT_USAGE, "--backend '%s': expected agent or "
						 "kernel", optarg);
			backend = optarg;
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
	if (backend && t->all && !strcmp(backend, "agent"))
		return cli_error(CLI_EXIT_USAGE, "-a traces every process: only the kernel backend "
				 "can (--backend kernel)");
	if (backend)
		t->backend_kernel = !strcmp(backend, "kernel");
	if (t->all && t->pid)
		return cli_error(CLI_EXIT_USAGE, "-a and -p %d: trace every process or one", t->pid);
	ret = check_raw(t, *output);
	if (ret)
		return ret;
	if (t->backend_kernel && tracer_stack_wanted())
		return cli_error(CLI_EXIT_USAGE, "--stack, folded and flamegraph need the agent "
				 "backend (the kernel's uprobe events fetch no user stack)");
	return 0;
}

int tracer_setup_output(struct tracer *t, const char *output)
{
	int ret = tracer_stack_setup(t, output);

	if (ret)
		return ret;
	t->out = stdout;
	if (output && !(t->out = fopen(output, "we")))
		return cli_error(CLI_EXIT_FAIL, "-o %s: %s", output, strerror(errno));
	if (t->raw)
		return tracer_record_setup(t);
	if (t->print_events)
		t->fmt = trace_formatter_new(t->format, t->out, t->desc, (size_t)t->n);
	if (t->count)
		t->counts = trace_agg_count_new("events");
	if (t->hist_expr)
		t->hist = trace_agg_hist_new(t->hist_expr);
	if ((t->print_events && !t->fmt) || (t->count && !t->counts) || (t->hist_expr && !t->hist))
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	tracer_stack_formatter(t);
	return 0;
}

int tracer_check_names(const struct tracer *t)
{
	const char *names[2] = { t->filter.on ? t->filter.name : NULL, t->hist_expr };

	for (int k = 0; k < 2; k++) {
		int found = 0;

		if (!names[k] || (k == 1 && !strcmp(names[k], "latency")) ||
		    (k == 0 && (!strcmp(names[k], "pid") || !strcmp(names[k], "tid"))))
			continue;
		for (int i = 0; i < t->n && !found; i++)
			found = tracer_field(t->layouts[i], names[k]) >= 0;
		if (!found)
			return cli_error(CLI_EXIT_USAGE, "%s '%s': no probe has a fetch-arg of that name",
					 k ? "--hist" : "--filter", names[k]);
	}
	return 0;
}
