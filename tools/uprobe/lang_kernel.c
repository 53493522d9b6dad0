// SPDX-License-Identifier: MIT
/*
 * uprobe -e 'PROGRAM' on the kernel backend (docs/kernel-backend.md): what
 * bpftrace does without -c/-p. Every uprobe:, uretprobe: and usdt: attach
 * point becomes a kernel event (uprobes_kernel.h) in every process that maps
 * its file, started before or after, with the fetch-args its plan reads
 * (lang_program_kernel_specs); the events are read from the kernel's rings
 * in time order and each runs its probe's plan here (lang_krun_record), on
 * maps kept here. BEGIN, interval and END probes run here too. Ctrl-C,
 * SIGTERM or exit() end it: END, the maps, the probes removed.
 * With --backend kernel and -c/--/-p: that command (and what it starts) or
 * that process only.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "lang_kernel.h"
#include "trace.h"
#include "uprobes_kernel.h"

struct lang_kernel {
	struct tracer t; /* the probe lines, globs and usdt markers expanded */
	struct trace_kernel *kern;
	struct lang_krun *run;
	pid_t pid;   /* -p: the events of this process only */
	pid_t child; /* -c, --: the command */
	int go;	     /* the command waits for a byte on it */
	int status;
	bool child_done;
};

static void on_stop(int sig)
{
	stop_requested = sig;
}

static void catch_stop(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT};
	struct sigaction sa = {.sa_handler = on_stop, .sa_flags = SA_RESTART};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

static int on_record(const struct trace_record *rec, void *ctx)
{
	struct lang_kernel *k = ctx;
	if (k->pid && (pid_t)rec->pid != k->pid)
		return 0; /* -p: another process mapping the same file */
	return lang_krun_record(rec, k->run);
}

/* The command, stopped on a pipe until its probes are in. */
static int start_command(struct lang_kernel *k, char **cmd)
{
	int p[2];
	char c;
	if (pipe2(p, O_CLOEXEC))
		return cli_error(CLI_EXIT_FAIL, "pipe: %s", strerror(errno));
	k->child = fork();
	if (k->child < 0)
		return cli_error(CLI_EXIT_FAIL, "fork: %s", strerror(errno));
	if (k->child == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(127); /* the tracer gave up */
		execvp(cmd[0], cmd);
		fprintf(stderr, "uprobe: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(p[0]);
	k->go = p[1];
	return 0;
}

/* The probe lines as kernel events, bound to the run; 0 or a CLI exit code. */
static int add_probes(struct lang_kernel *k, struct lang_program *p, const char *name,
		      const char *exe)
{
	char why[512], **lines;
	int n = lang_program_kernel_specs(p, exe, &lines, why, sizeof(why)), rc = 0;
	if (n < 0)
		return cli_error(n == -ENOENT ? CLI_EXIT_USAGE : CLI_EXIT_FAIL, "%s: %s", name, why);
	k->t.all = true;
	k->t.quiet = 1;
	k->t.exe = exe;
	k->t.glob_as_bpftrace = true;
	for (int i = 0; i < n && !rc; i++)
		rc = tracer_add_probe(&k->t, lines[i]);
	lang_program_specs_free(lines);
	for (int i = 0; i < k->t.n && !rc; i++) {
		int err = lang_krun_bind(k->run, (uint32_t)i, k->t.specs[i], k->t.layouts[i]);
		if (err)
			rc = cli_error(CLI_EXIT_FAIL, "%s: probe %s: %s", name, k->t.specs[i]->event,
				       strerror(-err));
		else if (trace_kernel_add(k->kern, k->t.specs[i], (uint32_t)i)) {
			char head[256];

			snprintf(head, sizeof(head), "%s: probe %s (kernel backend)", name,
				 k->t.specs[i]->event);
			rc = cli_probe_error(CLI_EXIT_FAIL, k->t.specs[i]->event, head, "%s",
					     uprobe_last_error());
		}
	}
	if (!rc && trace_kernel_enable(k->kern))
		rc = cli_error(CLI_EXIT_FAIL, "kernel backend: %s", uprobe_last_error());
	return rc;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Events and interval probes until Ctrl-C, exit(), or the command or process ends. */
static void loop(struct lang_kernel *k)
{
	int st;
	while (!stop_requested && !lang_krun_exited(k->run)) {
		uint64_t next = lang_krun_intervals(k->run), now = mono_ns();
		int ms = next == UINT64_MAX ? 100 : next <= now ? 0 : (int)((next - now) / 1000000);
		trace_kernel_poll(k->kern, ms < 100 ? ms : 100, on_record, k);
		fflush(stdout);
		if (k->child > 0 && waitpid(k->child, &st, WNOHANG) == k->child) {
			k->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			k->child_done = true;
			break;
		}
		if (k->pid && kill(k->pid, 0) && errno == ESRCH)
			break;
	}
	/*
	 * What the rings hold from before the end (not after exit(): bpftrace
	 * stops there), the probes stopped first: hits faster than the drain
	 * would keep it going.
	 */
	trace_kernel_disable(k->kern);
	while (!lang_krun_exited(k->run) && trace_kernel_poll(k->kern, 0, on_record, k) > 0)
		;
}

/* Lost events and str() faults, on stderr (the kernel counted the losses). */
static void summary(struct lang_kernel *k)
{
	struct trace_kernel_stats st = {.sz = sizeof(st)};
	uint64_t faults = lang_krun_errors(k->run);
	if (!trace_kernel_stats(k->kern, &st) && st.lost)
		fprintf(stderr, "uprobe: %" PRIu64 " lost events (kernel rings full)\n", st.lost);
	if (faults)
		fprintf(stderr, "uprobe: %" PRIu64 " str() reads faulted (\"\" used)\n", faults);
}

int lang_kernel_run(struct lang_program *p, const char *name, enum lang_output fmt,
		    const char *exe, pid_t pid, char **cmd)
{
	static struct lang_kernel lk;
	struct lang_kernel *k = &lk;
	struct trace_kernel_opts o = {.sz = sizeof(o)};
	int rc = 0;
	k->pid = pid;
	k->go = -1;
	catch_stop();
	if (cmd && (rc = start_command(k, cmd)))
		return rc;
	o.pid = k->child > 0 ? k->child : 0;
	o.inherit = k->child > 0;
	o.exclude_tid = getpid(); /* every process's malloc: not this one's, which reads */
	k->run = lang_krun_new(p, fmt, stdout);
	k->kern = k->run ? trace_kernel_new(&o) : NULL;
	if (!k->run)
		rc = cli_error(CLI_EXIT_FAIL, "%s: %s", name, strerror(errno));
	else if (!k->kern)
		rc = cli_error(CLI_EXIT_FAIL, "kernel backend: %s", uprobe_last_error());
	else
		rc = add_probes(k, p, name, exe);
	if (!rc && !k->t.n)
		rc = cli_error(CLI_EXIT_FAIL, "%s: no probe to attach", name);
	if (rc) {
		if (k->go >= 0)
			close(k->go); /* the command exits 127 unstarted */
		if (k->child > 0)
			waitpid(k->child, NULL, 0);
		trace_kernel_free(k->kern);
		lang_krun_free(k->run);
		return rc;
	}
	fprintf(stderr, "uprobe: tracing %d probe%s in %s through the kernel (group %s); "
		"Ctrl-C to stop\n", k->t.n, k->t.n == 1 ? "" : "s",
		cmd ? "the command" : pid ? "one process" : "every process",
		trace_kernel_group(k->kern));
	lang_krun_begin(k->run, k->t.n);
	if (k->go >= 0 && (write(k->go, "g", 1) != 1 || close(k->go)))
		rc = cli_error(CLI_EXIT_FAIL, "the command could not be started");
	if (!rc)
		loop(k);
	summary(k);
	lang_krun_end(k->run);
	if (k->t.n >= 100)
		fprintf(stderr, "uprobe: removing %d kernel probes (the kernel synchronizes once "
			"each: ~50 ms a probe here)\n", k->t.n);
	trace_kernel_free(k->kern); /* the probes out, the group removed */
	while (k->child > 0 && !k->child_done && waitpid(k->child, &rc, 0) == k->child) {
		k->status = WIFEXITED(rc) ? WEXITSTATUS(rc) : 128 + WTERMSIG(rc);
		k->child_done = true;
	}
	return k->child > 0 ? k->status : CLI_EXIT_OK;
}
