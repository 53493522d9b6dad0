/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: run a command with probes (launch mode), or trace a running
 * process (attach mode, -p). A launched command starts with libuprobes
 * preloaded; the agent in every image it runs attaches the probes before main
 * (uprobes_agent.h) and hands back its rings' memfd. A running process gets
 * the agent through attach.c. This process reads the rings, formats or
 * aggregates, and exits with the command's status once it has drained every
 * event.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"

volatile sig_atomic_t stop_requested;
/* Stop signals taken so far: wait_command() tells a further one from the first. */
static volatile sig_atomic_t stop_count;

static void on_signal(int sig)
{
	stop_requested = sig;
	stop_count++;
}

/*
 * SIGINT, SIGTERM, SIGHUP and SIGQUIT stop tracing; SIGHUP not when uprobe
 * was started with it ignored (nohup). A launched command is started before
 * this, with the dispositions uprobe was given (an ignored SIGPIPE, for one,
 * would stay ignored across its exec). SA_RESTART: a write of the output
 * that the signal interrupts is not lost; the naps of the loop (poll,
 * nanosleep) end at the signal all the same.
 */
static void catch_stop_signals(void)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = on_signal, .sa_flags = SA_RESTART }, old;

	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigs[i] != SIGHUP || (!sigaction(SIGHUP, NULL, &old) && old.sa_handler != SIG_IGN))
			sigaction(sigs[i], &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

/*
 * Launch mode, once tracing is over: wait for the command, which runs on after
 * -d or a stop signal. Every further stop signal is passed on to it, so that
 * one that keeps running can be ended through uprobe (before, uprobe took such
 * signals and went on waiting: only SIGKILL ended it). The stop signals are
 * blocked but in ppoll(), which no SA_RESTART restarts: one that comes between
 * the check and the wait is not missed. Without a pidfd (an old kernel), a
 * nap of 100 ms between two looks. seen: stop_count when tracing stopped.
 */
static void wait_command(struct tracer *t, sig_atomic_t seen)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct timespec nap = { 0, 100 * 1000 * 1000 };
	sigset_t stops, old;
	int st;

	sigemptyset(&stops);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&stops, sigs[i]);
	sigprocmask(SIG_BLOCK, &stops, &old);
	while (!t->child_done) {
		struct pollfd p = { .fd = t->child_pidfd, .events = POLLIN };
		pid_t pid = waitpid(t->child, &st, WNOHANG);

		if (pid == t->child) {
			t->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			if (t->lang_exit && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM)
				t->status = 0; /* ended by exit(), as bpftrace's: not a failure */
			t->child_done = 1;
			break;
		}
		if (pid < 0 && errno != EINTR)
			break;
		if (stop_count != seen) {
			kill(t->child, stop_requested);
			seen = stop_count;
		}
		ppoll(&p, t->child_pidfd >= 0, t->child_pidfd >= 0 ? NULL : &nap, &old);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* Attach mode, once tracing is over: how the process is; its exit status, if it ended. */
static int pid_status(struct tracer *t)
{
	int st;

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

/* Attach mode: until a signal, the duration's end or the process's. */
static int trace_pid(struct tracer *t, uint64_t duration_ms)
{
	char lib[PATH_MAX];
	bool ret_probes = false;
	double t0 = now_fms();
	int sock, st, out, failed, stop_sig = 0;

	for (int i = 0; i < t->n; i++)
		ret_probes |= t->specs[i]->kind == TRACE_RETPROBE;
	if (tracer_library_path(lib, sizeof(lib)))
		return cli_error(CLI_EXIT_FAIL, "cannot find the libuprobes.so to load");
	t->ctl = -1;
	t->exit_watch = attach_exit_watch();
	sock = attach_agent(t->pid, lib, ret_probes);
	if (sock < 0)
		return CLI_EXIT_FAIL;
	t->guarding = true;
	failed = tracer_serve_agent(t, sock, t->pid);
	t->guarding = false;
	/* Tracing starts: one that cannot stop yet is let go from tracer_run(). */
	t->restarted = guard_proc_end(&stop_sig, failed || t->fatal ? 2000 : 100);
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
	if (!t->quiet || t->say_tracing)
		fprintf(stderr, "uprobe: tracing PID %d; Ctrl-C to stop\n", t->pid);
	tracer_run(t, duration_ms ? now_ms() + duration_ms : 0);
	guard_proc_end(NULL, 2000); /* the guard, gone: no thread left under ptrace */
	tracer_finish(t);
	out = tracer_close_output(t);
	st = tracer_exit_status(t, pid_status(t));
	return out ? out : st;
}

int tracer_trace(struct tracer *t, char **cmd, uint64_t duration_ms, const char *output)
{
	sig_atomic_t seen;
	int ret, out;

	ret = tracer_check_names(t);
	if (!ret)
		ret = tracer_setup_output(t, output);
	if (!ret)
		ret = tracer_maps_setup(t);
	t->output = output;
	if (ret)
		return ret;
	if (t->backend_kernel) {
		catch_stop_signals();
		return tracer_kernel_run(t, t->all || t->pid ? NULL : cmd, duration_ms);
	}
	if (t->pid) {
		catch_stop_signals();
		return trace_pid(t, duration_ms);
	}
	ret = tracer_launch(t, cmd);
	if (ret)
		return ret;
	catch_stop_signals();
	tracer_run(t, duration_ms ? now_ms() + duration_ms : 0);
	seen = stop_count;
	if (t->fatal) {
		kill(t->child, SIGKILL);
		waitpid(t->child, NULL, 0);
		return CLI_EXIT_FAIL;
	}
	tracer_finish(t);
	out = tracer_close_output(t);
	if (t->lang_exit && !t->child_done) /* exit(): bpftrace ends its -c command */
		kill(t->child, SIGTERM);
	wait_command(t, seen);
	return out ? out : tracer_exit_status(t, t->status);
}

int cmd_trace(int argc, char **argv)
{
	static struct tracer tr;
	struct tracer *t = &tr;
	uint64_t duration_ms = 0;
	const char *output = NULL;
	int ret, dash;

	for (dash = 1; dash < argc && strcmp(argv[dash], "--"); dash++)
		;
	/* Options and probes mix freely before "--"; what follows is the command's. */
	ret = tracer_parse_options(t, dash, argv, &duration_ms, &output);
	if (ret)
		return ret;
	t->exe = dash < argc - 1 ? argv[dash + 1] : NULL;
	for (int i = optind; i < dash; i++) {
		ret = tracer_add_probe(t, argv[i]);
		if (ret)
			return ret;
	}
	if (!t->n)
		return cli_error(CLI_EXIT_USAGE, "no probe given (uprobe trace --help)");
	if (t->pid && dash < argc)
		return cli_error(CLI_EXIT_USAGE, "-p %d and a command after '--': trace one or the "
				 "other", t->pid);
	if (t->all && dash < argc)
		return cli_error(CLI_EXIT_USAGE, "-a and a command after '--': trace every process "
				 "or the command");
	if (!t->pid && !t->all && dash >= argc - 1)
		return cli_error(CLI_EXIT_USAGE, "no command given after '--' (uprobe trace --help)");
	return tracer_trace(t, t->pid || t->all ? NULL : argv + dash + 1, duration_ms, output);
}

