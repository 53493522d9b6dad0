// SPDX-License-Identifier: MIT
/*
 * uprobe trace with the kernel backend (uprobes_kernel.h): -a (every process
 * that maps the probed files, started before or after, until Ctrl-C or -d),
 * or --backend kernel with a command (the command and what it starts) or -p
 * (that process's threads). The kernel probes; this process reads its
 * per-CPU rings and passes each decoded record to the same loop as the
 * agents' (tracer_record): same filters, counts, histograms and formats.
 * With --count alone (-a), the kernel counts the hits (the uprobe PMU in
 * counting mode): exact, nothing read per hit, nothing lost, no trace event.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"
#include "uprobes_kernel.h"

static struct trace_kernel *kern;

static int kernel_record(const struct trace_record *rec, void *ctx)
{
	struct tracer *t = ctx;
	struct trace_record copy;

	if (t->pid && (pid_t)rec->pid != t->pid)
		return 0; /* -p: another process mapping the same file */
	rec = tracer_klat_record(t, rec, &copy); /* --hist latency: entries paired */
	return rec ? tracer_record(rec, ctx) : 0;
}

long tracer_kernel_drain(struct tracer *t)
{
	uint64_t before = t->records;

	if (!kern || t->kernel_counting)
		return 0;
	t->cut = false;
	trace_kernel_poll(kern, 0, kernel_record, t);
	return (long)(t->records - before);
}

/* Launch mode: the command waits on a pipe until its probes are in. */
static int start_command(struct tracer *t, char **cmd, int *go)
{
	int p[2];
	char c;

	if (pipe2(p, O_CLOEXEC))
		return cli_error(CLI_EXIT_FAIL, "pipe: %s", strerror(errno));
	t->child = fork();
	if (t->child < 0)
		return cli_error(CLI_EXIT_FAIL, "fork: %s", strerror(errno));
	if (t->child == 0) {
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(127); /* the tracer gave up */
		execvp(cmd[0], cmd);
		fprintf(stderr, "uprobe: %s: %s\n", cmd[0], strerror(errno));
		_exit(127);
	}
	close(p[0]);
	*go = p[1];
	return 0;
}

static int add_probes(struct tracer *t)
{
	for (int i = 0; i < t->n; i++) {
		int ret = trace_kernel_add(kern, t->specs[i], (uint32_t)i);

		if (ret)
			return cli_error(CLI_EXIT_FAIL, "probe %s/%s (kernel backend): %s",
					 t->specs[i]->group, t->specs[i]->event, uprobe_last_error());
		t->attached[i] = 1;
		snprintf(t->mode[i], sizeof(t->mode[i]), "kernel");
	}
	return 0;
}

static void kernel_loop(struct tracer *t, uint64_t deadline)
{
	int st;

	t->deadline = deadline;
	while (!stop_requested && !t->out_errno && !(deadline && now_ms() >= deadline)) {
		if (t->kernel_counting)
			usleep(100 * 1000);
		else
			trace_kernel_poll(kern, 100, kernel_record, t);
		if (t->child > 0 && waitpid(t->child, &st, WNOHANG) == t->child) {
			t->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
			t->child_done = 1;
			break;
		}
		if (t->pid && kill(t->pid, 0) && errno == ESRCH)
			break;
	}
}

static void kernel_counts(struct tracer *t)
{
	struct trace_kernel_stats st = { .sz = sizeof(st) };

	for (int i = 0; i < t->n; i++)
		trace_kernel_count(kern, (uint32_t)i, t->kernel_counting ? &t->events[i] : NULL,
				   &t->lost_by[i]);
	if (!trace_kernel_stats(kern, &st)) {
		t->lost += st.lost;
		t->malformed += st.malformed;
	}
}

int tracer_kernel_run(struct tracer *t, char **cmd, uint64_t duration_ms)
{
	struct trace_kernel_opts o = { .sz = sizeof(o) };
	int ret, go = -1, out;

	t->ctl = -1;
	if (cmd) {
		ret = start_command(t, cmd, &go);
		if (ret)
			return ret;
		o.pid = t->child;
		o.inherit = 1;
	}
	/* -p: every process's events, this one's kept (its threads, started before too). */
	t->kernel_counting = t->all && t->count && !t->print_events && !t->hist && !t->filter.on &&
			     !t->count_by && !t->comm;
	o.counting = t->kernel_counting;
	o.exclude_tid = getpid(); /* every process's malloc: not this one's, which reads */
	kern = trace_kernel_new(&o);
	ret = kern ? add_probes(t) : cli_error(CLI_EXIT_FAIL, "kernel backend: %s",
					       uprobe_last_error());
	if (!ret && t->hist && !strcmp(t->hist_expr, "latency"))
		ret = tracer_klat_add(t, kern);
	if (!ret && trace_kernel_enable(kern))
		ret = cli_error(CLI_EXIT_FAIL, "kernel backend: %s", uprobe_last_error());
	if (ret) {
		if (go >= 0)
			close(go); /* the command exits 127 unstarted */
		if (t->child > 0)
			waitpid(t->child, NULL, 0);
		trace_kernel_free(kern);
		tracer_klat_free();
		return ret;
	}
	if (!t->quiet && !cmd)
		fprintf(stderr, "uprobe: tracing %d probe%s in %s through the kernel (group %s); "
			"Ctrl-C to stop\n", t->n, t->n == 1 ? "" : "s",
			t->pid ? "one process" : "every process", trace_kernel_group(kern));
	if (go >= 0 && (write(go, "g", 1) != 1 || close(go)))
		return cli_error(CLI_EXIT_FAIL, "the command could not be started");
	kernel_loop(t, duration_ms ? now_ms() + duration_ms : 0);
	trace_kernel_disable(kern); /* hits faster than the drain would keep it going */
	while (tracer_kernel_drain(t) > 0) /* what the rings still hold */
		;
	kernel_counts(t);
	tracer_finish(t);
	if (!t->quiet && t->n >= 100)
		fprintf(stderr, "uprobe: removing %d kernel probes (the kernel synchronizes once "
			"each: ~50 ms a probe here)\n", t->n);
	trace_kernel_free(kern); /* the probes out, the group removed */
	tracer_klat_free();
	kern = NULL;
	out = tracer_close_output(t);
	while (cmd && !t->child_done && waitpid(t->child, &ret, 0) == t->child) {
		t->status = WIFEXITED(ret) ? WEXITSTATUS(ret) : 128 + WTERMSIG(ret);
		t->child_done = 1;
	}
	return out ? out : tracer_exit_status(t, cmd ? t->status : 0);
}
