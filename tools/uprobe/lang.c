/* SPDX-License-Identifier: MIT */
/*
 * uprobe -e 'PROGRAM' | uprobe FILE.bt: the bpftrace language
 * (docs/language.md), through the library's public API (uprobes_lang.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <wordexp.h>

#include "cli.h"
#include "lang_kernel.h"
#include "trace.h"
#include "uprobes_agent.h"
#include "uprobes_lang.h"

/* What to trace: a command (-c, --) or a process (-p). */
struct lang_target {
	char **cmd;
	pid_t pid;
	bool given;
	int backend; /* 'a': --backend agent, 'k': kernel, 0: none given */
};

static const char usage[] =
	"usage: uprobe -e 'PROGRAM' [-d] [-f text|json] [--backend agent|kernel]\n"
	"                [-c 'CMD' | -p PID | -- CMD ARGS]\n"
	"       uprobe [-d] FILE.bt [...]\n"
	"\n"
	"Runs a bpftrace program on user-space probes (docs/language.md).\n"
	"  -e PROGRAM   the program's text (its name in messages: stdin)\n"
	"  FILE.bt      the program from a file\n"
	"  -d           print the program's AST (as bpftrace -d does) and its plan, and exit\n"
	"  -f FORMAT    text (bpftrace's) or json (bpftrace's -f json lines)\n"
	"  -c CMD, -p PID, -- CMD ARGS   the process to trace (default: every process)\n"
	"  --backend B  agent (the default with -c, -p, --) or kernel (the only one without)\n"
	"\n"
	"BEGIN, interval and END probes run in this process (until exit() or Ctrl-C;\n"
	"with -c, -p or -- and no other probe, also until the command or process ends:\n"
	"BEGIN, then the command, as bpftrace).\n"
	"Without -c, -p or -- (as bpftrace), uprobe:, uretprobe: and usdt: probes are\n"
	"the kernel's, in every process that maps the file, started before or after,\n"
	"until Ctrl-C, SIGTERM or exit(); each event runs its plan in this process, as\n"
	"do printf(), print(), clear(), zero(), exit() (docs/kernel-backend.md; needs\n"
	"root and tracefs; not there: uid, gid, ustack, str() of anything but arg0-5 or\n"
	"retval). With -c, -p or -- (agent): the plan runs in the traced process, on\n"
	"maps there (exact at any rate); the maps are printed when it ends (or at Ctrl-C\n"
	"with -p, or at exit()). Their printf(), print(), clear(), zero() and exit() go\n"
	"through its rings, in order per thread (print, clear and zero of a map take\n"
	"effect at the hit: the thread waits until they are done here); records lost\n"
	"(rings full) are said as bpftrace says them (\"Lost N events\") and counted on\n"
	"stderr. exit() ends a\n"
	"command given with -c or -- (SIGTERM; status 0, as bpftrace's).\n"
	"ustack, ustack(N), ustack(perf|bpftrace[, N]) are map keys there, and print()'s\n"
	"and printf(\"%s\")'s arguments: the stack is walked in the process (CFI, the\n"
	"frames gdb's bt shows) and named here, also after the process (or a forked\n"
	"child) exited\n"
	"(UPROBE_USTACK_MAX: distinct stacks kept, default 16384; docs/stacks.md).\n"
	"A probe on a file that is nowhere is an error before anything runs (exit 1, as\n"
	"bpftrace: a path not found; with -c or --, a short name that is not the\n"
	"command, in its library path or on PATH); one on a file the command does not\n"
	"map waits for a program it execs, and stderr says so if none mapped it.\n"
	"Programs of at most 1 MiB. -d says each probe's path: agg, set or latency (the\n"
	"common shapes, run without the interpreter) or general; UPROBE_LANG_PLAN=general\n"
	"interprets every probe (the same output; for testing); and \"map @m: count stub\"\n"
	"for a keyless count() that nothing clears, zeroes, deletes or writes otherwise:\n"
	"its `@m = count()` at a function's entry counts in the trampoline\n"
	"(UPROBE_COUNT_STUB=off: through the handler).\n";

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return NULL;
	char *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	char chunk[4096];
	size_t n;
	while (m && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		fwrite(chunk, 1, n, m);
	bool bad = ferror(f);
	fclose(f);
	if (m)
		fclose(m);
	if (bad) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* A process ID, or 0. */
static pid_t parse_pid(const char *v)
{
	char *end;
	errno = 0;
	long pid = strtol(v, &end, 10);
	return end == v || *end || errno || pid <= 0 || pid > INT32_MAX ? 0 : (pid_t)pid;
}

/* The command's binary as a path (PATH searched), for attach points without one. */
static char *command_path(const char *cmd)
{
	if (strchr(cmd, '/'))
		return realpath(cmd, NULL);
	const char *path = getenv("PATH");
	char buf[PATH_MAX];
	for (const char *d = path ? path : "/usr/bin:/bin"; d && *d;) {
		const char *end = strchr(d, ':');
		int len = end ? (int)(end - d) : (int)strlen(d);
		snprintf(buf, sizeof(buf), "%.*s/%s", len, d, cmd);
		if (!access(buf, X_OK))
			return realpath(buf, NULL);
		d = end ? end + 1 : NULL;
	}
	return NULL;
}

static char *target_exe(const struct lang_target *tg)
{
	char buf[PATH_MAX], link[64];
	if (tg->cmd && tg->cmd[0])
		return command_path(tg->cmd[0]);
	snprintf(link, sizeof(link), "/proc/%d/exe", (int)tg->pid);
	ssize_t n = tg->pid ? readlink(link, buf, sizeof(buf) - 1) : -1;
	if (n <= 0)
		return NULL;
	buf[n] = 0;
	return strdup(buf);
}

/* The program's maps in the region handed to the agents, its text as the region's blob. */
static int make_maps(struct tracer *t, struct lang_program *p, const char *name, const char *text)
{
	char why[256];
	size_t len = strlen(text);
	struct uprobe_agent_lang h = { .magic = UPROBE_AGENT_LANG_MAGIC, .text_len = (uint32_t)len };
	if (sizeof(h) + len > 4096)
		return cli_error(CLI_EXIT_FAIL, "%s: the program takes %zu bytes; probes in a traced "
				 "process take at most %zu for now", name, len, 4096 - sizeof(h));
	t->maps = trace_maps_new(0);
	if (!t->maps)
		return cli_error(CLI_EXIT_FAIL, "maps: %s", strerror(errno));
	if (lang_program_define_maps(p, t->maps, why, sizeof(why)))
		return cli_error(CLI_EXIT_FAIL, "%s: %s", name, why);
	char *blob = malloc(sizeof(h) + len);
	if (!blob)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	h.latency_mult = tracer_latency_mult();
	h.start_tsc = cli_ticks();
	memcpy(blob, &h, sizeof(h));
	memcpy(blob + sizeof(h), text, len);
	int err = trace_maps_set_blob(t->maps, blob, sizeof(h) + len) || trace_maps_seal(t->maps);
	free(blob);
	if (err)
		return cli_error(CLI_EXIT_FAIL, "maps: %s", trace_maps_error(t->maps));
	int sfd = lang_program_stack_fd(p);
	if (sfd < 0 && sfd != -ENOENT)
		return cli_error(CLI_EXIT_FAIL, "%s: the stack table: %s", name, strerror(-sfd));
	t->lang_stacks = sfd >= 0;
	t->lang_stacks_fd = sfd;
	struct trace_map_stats st = { .sz = sizeof(st) };
	while (!trace_maps_stats(t->maps, t->lang_maps, &st))
		t->lang_maps++; /* the program's maps: their drops in the summary */
	return 0;
}

/* One probe line per attach point of the traced process. */
static int add_probes(struct tracer *t, struct lang_program *p, const char *name,
		      const struct lang_target *tg)
{
	char *exe = target_exe(tg), **lines;
	int n = lang_program_specs(p, exe, &lines), rc = 0;
	free(exe);
	if (n == -ENOENT)
		return cli_error(CLI_EXIT_USAGE, "%s: an attach point without a path needs the "
				 "command (-c, --) or -p", name);
	if (n < 0)
		return cli_error(CLI_EXIT_FAIL, "%s: %s", name, strerror(-n));
	t->glob_as_bpftrace = true;
	for (int i = 0; i < n && !rc; i++)
		rc = tracer_add_probe(t, lines[i]);
	lang_program_specs_free(lines);
	/* probe as a map key: event i (wildcards expanded) is id i + 1, named here */
	if (!rc && lang_program_name_events(p, t->text, t->text_len))
		rc = cli_error(CLI_EXIT_FAIL, "%s: %s", name, strerror(ENOMEM));
	return rc;
}

/* The run of the tracing loop's callbacks (their ctx: the tracer). */
static struct lang_run *the_run;

static int on_record(const struct trace_record *rec, void *ctx)
{
	struct tracer *t = ctx;
	struct lang_run *r = the_run;
	int err = lang_run_record(r, rec->data, rec->data_len);
	t->lang_exit |= lang_run_exited(r);
	t->lang_hurry |= lang_run_waited(r) > 0;
	return err;
}

/*
 * Records lost since the last look (rings full), said in the output as bpftrace
 * says its own: "Lost N events" (-f json: a lost_events line).
 */
static void say_lost(struct tracer *t, enum lang_output fmt)
{
	static uint64_t said;
	uint64_t lost = 0;
	for (int i = 0; i < t->n_agents; i++) {
		struct trace_ring_stats st = { .sz = sizeof(st) };
		if (t->agents[i].cons && !trace_consumer_stats(t->agents[i].cons, &st) &&
		    !st.lost_corrupted)
			lost += st.lost;
	}
	if (lost <= said)
		return;
	if (fmt == LANG_OUT_JSON)
		printf("{\"type\": \"lost_events\", \"data\": {\"events\": %llu}}\n",
		       (unsigned long long)(lost - said));
	else
		printf("Lost %llu events\n", (unsigned long long)(lost - said));
	said = lost;
}

static enum lang_output the_fmt;

static void on_tick(void *ctx)
{
	struct tracer *t = ctx;
	static uint64_t last_ms;
	lang_run_tick(the_run);
	t->lang_exit |= lang_run_exited(the_run);
	if (now_ms() >= last_ms + 100) { /* a look at the rings' counters, 10 times a second */
		say_lost(t, the_fmt);
		last_ms = now_ms();
	}
}

/* What is said of a probe line: at its attach point in the program (cli_probe_error). */
static char *at_attach_point(void *ctx, const char *event, int warning, const char *msg)
{
	return lang_program_probe_diag(ctx, event, warning, msg);
}

/* uprobe:, uretprobe:, usdt: probes: run in the traced process (the agent), maps merged here. */
static int run_target(struct lang_program *p, const char *name, const char *text,
		      struct lang_target *tg, enum lang_output fmt)
{
	static struct tracer tr;
	struct tracer *t = &tr;
	char why[512];
	if (!tg->given)
		return cli_error(CLI_EXIT_USAGE, "%s: probes in a traced process need -c 'CMD', "
				 "-p PID or -- CMD ARGS", name);
	if (lang_program_target_check(p, why, sizeof(why)))
		return cli_error(CLI_EXIT_FAIL, "%s: %s", name, why);
	t->pid = tg->pid;
	t->exe = tg->cmd ? tg->cmd[0] : NULL;
	t->quiet = 1;
	t->say_tracing = true; /* -p: on stderr, once the probes are in */
	int rc = add_probes(t, p, name, tg);
	if (!rc && !t->n)
		rc = cli_error(CLI_EXIT_FAIL, "%s: no probe to attach", name);
	if (!rc)
		rc = make_maps(t, p, name, text);
	if (rc)
		return rc;
	struct lang_run *r = lang_run_new(p, t->maps, t->n, fmt, stdout);
	if (!r)
		return cli_error(CLI_EXIT_FAIL, "%s: %s", name, strerror(errno));
	the_run = r;
	the_fmt = fmt;
	t->lang_record = on_record;
	t->lang_tick = on_tick;
	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0); /* 20 us naps after a print: not 70 */
	t->lang_ctx = t;
	t->lang_exit = lang_run_exited(r); /* exit() in BEGIN */
	rc = t->lang_exit ? CLI_EXIT_OK : tracer_trace(t, tg->cmd, 0, NULL);
	if (t->fatal) { /* a probe refused: nothing traced, no END, no map (as bpftrace) */
		lang_run_free(r);
		return rc;
	}
	say_lost(t, fmt);
	uint64_t faults = 0, unwound = lang_run_unwound(r);
	int err = lang_run_end(r, &faults);
	if (err < 0)
		cli_error(CLI_EXIT_FAIL, "%s: maps: %s", name, strerror(-err));
	if (faults) /* bpftrace says nothing (without -k); the count is said here */
		fprintf(stderr, "uprobe: str() read %llu bad pointer%s in the traced process "
			"(each gave \"\")\n", (unsigned long long)faults, faults == 1 ? "" : "s");
	if (unwound) /* bpftrace's uretprobe runs at a return; these calls made none */
		fprintf(stderr, "uprobe: %llu call%s left by an exception or longjmp (unwound): "
			"%s uretprobe did not run\n", (unsigned long long)unwound,
			unwound == 1 ? "" : "s", unwound == 1 ? "its" : "their");
	return rc;
}

/*
 * A program of BEGIN, END and interval probes only, with -c/--/-p (as
 * bpftrace runs it): BEGIN, then the command is started (or the process
 * followed), interval probes run until it ends, exit() or Ctrl-C, then END
 * and the maps. A command still running then gets SIGTERM (bpftrace ends its
 * -c command too); uprobe's status is 0, as bpftrace's.
 */
struct local_cmd {
	const struct lang_target *tg;
	const char *name;
	pid_t child;
	int pidfd;
	bool said; /* an error of local_start, already on stderr */
};

static int local_start(void *ctx)
{
	struct local_cmd *lc = ctx;
	if (lc->tg->pid) {
		lc->pidfd = (int)syscall(SYS_pidfd_open, lc->tg->pid, 0);
		if (lc->pidfd < 0) {
			int err = errno;
			cli_error(CLI_EXIT_FAIL, "%s: -p %d: %s", lc->name, (int)lc->tg->pid,
				  strerror(err));
			lc->said = true;
			return -err;
		}
		return lc->pidfd;
	}
	fflush(NULL);
	lc->child = fork();
	if (lc->child < 0) {
		int err = errno;
		cli_error(CLI_EXIT_FAIL, "%s: fork: %s", lc->name, strerror(err));
		lc->said = true;
		return -err;
	}
	if (!lc->child) {
		sigset_t none;
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		execvp(lc->tg->cmd[0], lc->tg->cmd);
		fprintf(stderr, "uprobe: %s: %s\n", lc->tg->cmd[0], strerror(errno));
		_exit(127);
	}
	lc->pidfd = (int)syscall(SYS_pidfd_open, lc->child, 0);
	return lc->pidfd; /* -1 (no pidfd): until exit() or Ctrl-C */
}

static int run_local_target(struct lang_program *p, const char *name, struct lang_target *tg,
			    enum lang_output fmt)
{
	struct local_cmd lc = { .tg = tg, .name = name, .pidfd = -1 };
	char *exe = tg->cmd ? command_path(tg->cmd[0]) : NULL;
	if (tg->cmd && !exe) /* as bpftrace: said before BEGIN runs */
		return cli_error(CLI_EXIT_FAIL, "%s: %s: no such command", name, tg->cmd[0]);
	free(exe);
	int err = lang_program_run_local_with(p, fmt, stdout, local_start, &lc);
	if (lc.child > 0) {
		if (waitpid(lc.child, NULL, WNOHANG) == 0) {
			kill(lc.child, SIGTERM);
			waitpid(lc.child, NULL, 0);
		}
	}
	if (lc.pidfd >= 0)
		close(lc.pidfd);
	if (err < 0 && !lc.said)
		return cli_error(CLI_EXIT_FAIL, "%s: %s", name, strerror(-err));
	return err < 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

static int run(const char *name, const char *text, bool dump, struct lang_target *tg,
	       enum lang_output fmt)
{
	struct lang_program *p = lang_program_new(name, text);
	if (!p)
		return cli_error(CLI_EXIT_FAIL, "%s", strerror(errno));
	const char *diag;
	int errors = lang_program_errors(p, &diag);
	fputs(diag, stderr); /* errors, or warnings only */
	if (errors) {
		lang_program_free(p);
		return CLI_EXIT_FAIL;
	}
	int rc = CLI_EXIT_OK;
	cli_set_probe_hook(at_attach_point, p); /* both backends' probe lines */
	if (dump) {
		lang_program_dump(p, stdout);
		lang_program_dump_plan(p, stdout);
	} else if (lang_program_target_probes(p) && (tg->backend == 'k' || !tg->given)) {
		if (tg->backend == 'a')
			rc = cli_error(CLI_EXIT_USAGE, "%s: --backend agent needs -c 'CMD', -p PID "
				       "or -- CMD ARGS (the agent lives in the traced process)", name);
		char *exe = tg->given ? target_exe(tg) : NULL;
		if (!rc)
			rc = lang_kernel_run(p, name, fmt, exe, tg->pid, tg->cmd);
		free(exe);
	} else if (lang_program_target_probes(p)) {
		rc = run_target(p, name, text, tg, fmt);
	} else if (tg->given) { /* BEGIN, END, interval only: the command runs beside */
		rc = run_local_target(p, name, tg, fmt);
	} else {
		int err = lang_program_run_local(p, fmt, stdout);
		if (err < 0)
			rc = cli_error(CLI_EXIT_FAIL, "%s: %s", name, strerror(-err));
	}
	cli_set_probe_hook(NULL, NULL);
	lang_program_free(p);
	return rc;
}

/* The program of -e PROG or of FILE, run on tg; cmd_lang's status. */
static int run_given(const char *prog, const char *file, bool dump, struct lang_target *tg,
		     enum lang_output fmt)
{
	if (!prog && !file) {
		fputs(usage, stderr);
		return cli_error(CLI_EXIT_USAGE, "no program: -e 'PROGRAM' or FILE.bt");
	}
	if (prog && file)
		return cli_error(CLI_EXIT_USAGE, "both -e and %s: one program at a time", file);
	if (tg->cmd && tg->pid)
		return cli_error(CLI_EXIT_USAGE, "-c and -p: trace one");
	if (prog)
		return run("stdin", prog, dump, tg, fmt);
	char *text = read_file(file);
	if (!text)
		return cli_error(CLI_EXIT_FAIL, "%s: %s", file, strerror(errno));
	int rc = run(file, text, dump, tg, fmt);
	free(text);
	return rc;
}

int cmd_lang(int argc, char **argv)
{
	const char *prog = NULL, *file = NULL;
	bool dump = false;
	struct lang_target tg = { 0 };
	wordexp_t we = { 0 };
	bool we_used = false;
	enum lang_output fmt = LANG_OUT_TEXT;
	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		}
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-e") || !strcmp(a, "-c") || !strcmp(a, "-p") || !strcmp(a, "-f")) {
			if (i + 1 >= argc)
				return cli_error(CLI_EXIT_USAGE, "%s needs an argument", a);
			const char *v = argv[++i];
			if (a[1] == 'e')
				prog = v;
			else if (a[1] == 'f' && !strcmp(v, "json"))
				fmt = LANG_OUT_JSON;
			else if (a[1] == 'f' && strcmp(v, "text"))
				return cli_error(CLI_EXIT_USAGE, "-f %s: text or json", v);
			else if (a[1] == 'p')
				tg.pid = parse_pid(v);
			if (a[1] == 'p' && tg.pid <= 0)
				return cli_error(CLI_EXIT_USAGE, "-p '%s': expected a process ID", v);
			if (a[1] == 'c' && (we_used || wordexp(v, &we, WRDE_NOCMD) || !we.we_wordc))
				return cli_error(CLI_EXIT_USAGE, "-c '%s': expected one command", v);
			if (a[1] == 'c') {
				we_used = true;
				tg.cmd = we.we_wordv;
			}
			tg.given |= a[1] == 'c' || a[1] == 'p';
		} else if (!strcmp(a, "--backend")) {
			const char *v = i + 1 < argc ? argv[++i] : "";
			if (strcmp(v, "agent") && strcmp(v, "kernel"))
				return cli_error(CLI_EXIT_USAGE, "--backend '%s': agent or kernel", v);
			tg.backend = v[0];
		} else if (!strcmp(a, "-d")) {
			dump = true;
		} else if (!strcmp(a, "--")) {
			if (i + 1 < argc && (tg.cmd || tg.pid))
				return cli_error(CLI_EXIT_USAGE, "a command after '--' and -c or -p: "
						 "trace one");
			if (i + 1 < argc)
				tg.cmd = argv + i + 1;
			tg.given = i + 1 < argc;
			break;
		} else if (a[0] == '-') {
			fputs(usage, stderr);
			return cli_error(CLI_EXIT_USAGE, "unknown option '%s'", a);
		} else if (!prog && !file) {
			file = a;
		} else { /* bpftrace's positional parameters ($1): not yet */
			return cli_error(CLI_EXIT_USAGE, "unexpected argument '%s' (positional parameters are not supported)", a);
		}
	}
	int rc = run_given(prog, file, dump, &tg, fmt);
	if (we_used) /* -c's words: kept until the run is over */
		wordfree(&we);
	return rc;
}
