/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: the tracing loop. Until the command ends, a signal or the
 * deadline, new images are served and every ring is drained; each record is
 * filtered, counted per probe, formatted and added to the histogram.
 *
 * Producers may be faster than this process for as long as they like (a hot
 * probe with text output): no loop here waits for the rings to be empty. A
 * pass reads each ring once, at most a lap of it, and a stop request or the
 * deadline cuts it short; the loop checks them between passes.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "cli.h"
#include "trace.h"

int tracer_field(const struct trace_layout *l, const char *name)
{
	for (int i = 0; i < l->n_fields; i++)
		if (!strcmp(l->fields[i].name, name))
			return i;
	return -1;
}

static int filter_keeps(const struct filter *f, const struct trace_layout *l,
			const struct trace_record *rec)
{
	int i = tracer_field(l, f->name);
	int64_t v;

	if (i < 0 && !strcmp(f->name, "pid")) /* a fetch-arg of that name wins */
		v = rec->pid;
	else if (i < 0 && !strcmp(f->name, "tid"))
		v = rec->tid;
	else if (i < 0)
		return 1;
	else if (trace_field_int(l, rec, i, &v))
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
	i = tracer_field(l, t->hist_expr);
	if (i >= 0 && !trace_field_int(l, rec, i, &v))
		trace_agg_hist_add(t->hist, v);
}

/* --count-by pid|comm: "EVENT, PID" or "EVENT, COMM" counted (bpftrace's @[probe, pid]). */
static void count_by(struct tracer *t, const struct trace_record *rec)
{
	char key[TRACE_MAX_EVENT_NAME + 32];

	if (!strcmp(t->count_by, "pid"))
		snprintf(key, sizeof(key), "%s, %u", t->specs[rec->event_id]->event, rec->pid);
	else /* the name is the traced thread's: its control characters as '?' */
		snprintf(key, sizeof(key), "%s, %s", t->specs[rec->event_id]->event, rec->comm);
	trace_agg_count_add(t->counts, tracer_printable(key), 1);
}

/* How often (in records) a pass looks at the clock and the stop flag. */
#define STOP_CHECK_RECORDS 1024
#define PASS_CUT 1 /* on_record's value that ends a pass early */

static bool time_to_stop(const struct tracer *t)
{
	return stop_requested || t->out_errno || t->lang_exit ||
	       (t->deadline && now_ms() >= t->deadline);
}

void tracer_check_output(struct tracer *t)
{
	if (!t->out_errno && ferror(t->out))
		t->out_errno = errno ? errno : EIO;
}

int tracer_record(const struct trace_record *rec, void *ctx)
{
	struct tracer *t = ctx;
	const struct trace_layout *l;

	/* The record is taken even when the pass ends here: nothing is read twice. */
	if (++t->records % STOP_CHECK_RECORDS == 0 && !t->stopping && time_to_stop(t))
		t->cut = true;
	if (tracer_stack_record(rec))
		return t->cut ? PASS_CUT : 0; /* a mappings record: for the symbolizer */
	if (rec->event_id >= (uint32_t)t->n) {
		t->malformed++; /* no probe writes that: the traced program did */
		return t->cut ? PASS_CUT : 0;
	}
	if (t->lang_record) { /* uprobe -e: printf, print, clear, zero, exit */
		t->events[rec->event_id]++;
		t->malformed += t->lang_record(rec, t->lang_ctx) != 0;
		return t->cut || (t->lang_exit && !t->stopping) ? PASS_CUT : 0;
	}
	l = t->layouts[rec->event_id];
	if ((t->filter.on && !filter_keeps(&t->filter, l, rec)) ||
	    (t->comm && strcmp(rec->comm, t->comm))) {
		t->filtered++;
		return t->cut ? PASS_CUT : 0;
	}
	if (t->fmt) {
		errno = 0;
		if (trace_formatter_write(t->fmt, rec) == -EINVAL) {
			t->malformed++; /* does not fit its probe's layout: likewise */
			return t->cut ? PASS_CUT : 0;
		}
		tracer_check_output(t);
	} else if (t->rec) {
		tracer_record_write(t, rec); /* checked against its layout by uprobe report */
	}
	t->events[rec->event_id]++;
	if (t->count_by)
		count_by(t, rec);
	if (t->hist)
		hist_add(t, l, rec);
	tracer_stack_event(t, l, rec);
	return t->cut ? PASS_CUT : 0;
}

long tracer_drain(struct tracer *t)
{
	uint64_t before = t->records;

	if (t->backend_kernel)
		return tracer_kernel_drain(t);
	t->cut = false;
	for (int i = 0; i < t->n_agents && !t->cut; i++)
		if (t->agents[i].cons)
			trace_consumer_poll(t->agents[i].cons, 0, tracer_record, t);
	return (long)(t->records - before);
}

void tracer_reap(struct tracer *t)
{
	struct uprobe_agent_hdr h;
	ssize_t got;
	int st;

	/* Attach mode: the process is gone once no one holds the agent's end. */
	while (t->pid && !t->child_done &&
	       (got = recv(t->agents[0].sock, &h, sizeof(h), MSG_DONTWAIT)) >= 0) {
		if (got == 0)
			t->child_done = 1;
		else if (got == sizeof(h))
			tracer_exiting(t, &h);
	}
	if (t->pid)
		return;
	if (!t->child_done && waitpid(t->child, &st, WNOHANG) == t->child) {
		t->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		t->child_done = 1;
	}
}

/*
 * What the loop waits on, so that nothing waits for a nap to end: the
 * control socket (HELLO of a new image), every image's socket (READY, its
 * end) and the command's pidfd; in attach mode the agent's socket and the
 * guard's news. Rings have no descriptor: the nap's length bounds how late a
 * record is read. Returns how many descriptors are in p.
 */
#define WAIT_FDS (MAX_LIVE_AGENTS + 3)

static int wait_fds(const struct tracer *t, int ctl, struct pollfd *p)
{
	int n = 0;

	if (ctl >= 0)
		p[n++] = (struct pollfd){ .fd = ctl, .events = POLLIN };
	if (t->pid) {
		p[n++] = (struct pollfd){ .fd = t->agents[0].sock, .events = POLLIN };
		p[n++] = (struct pollfd){ .fd = guard_proc_fd(), .events = POLLIN }; /* -1: none */
		return n;
	}
	if (t->child_pidfd >= 0)
		p[n++] = (struct pollfd){ .fd = t->child_pidfd, .events = POLLIN };
	for (int i = 0; i < t->n_agents && n < WAIT_FDS; i++)
		if (t->agents[i].sock >= 0)
			p[n++] = (struct pollfd){ .fd = t->agents[i].sock, .events = POLLIN };
	return n;
}

/* Waits up to nap_ns for any of wait_fds(); true when the control socket is readable. */
static bool wait_events(const struct tracer *t, int ctl, long nap_ns)
{
	static struct pollfd p[WAIT_FDS];
	struct timespec ts = { 0, nap_ns };
	int n = wait_fds(t, ctl, p);

	if (ppoll(p, (nfds_t)n, &ts, NULL) <= 0)
		return false; /* the nap's end, or a signal: the loop checks its flags */
	return ctl >= 0 && p[0].revents;
}

/*
 * The idle nap. Counted in the target (tracer_maps_setup: --count, --hist,
 * --filter without events to print, launch mode), no probe writes a record:
 * nothing needs the rings read soon, and the loop waits for its descriptors
 * (the deadline of -d bounds the wait). Waking every millisecond for nothing
 * cost the traced command CPU (a wake-up, ppoll, wait4 each: ~3,000 of them
 * over a 3-second script) and, on 2 CPUs, its turn. With more images at once
 * than wait_fds() takes, the 1 ms nap stays: one not polled must be seen.
 */
#define NAP_COUNTED_NS 100000000L

static long idle_nap_ns(const struct tracer *t)
{
	uint64_t now;

	if (!t->maps || t->lang_maps || t->lang_record || t->lang_tick || t->pid ||
	    t->live >= MAX_LIVE_AGENTS)
		return 1000000;
	if (!t->deadline)
		return NAP_COUNTED_NS;
	now = now_ms();
	if (now >= t->deadline)
		return 0;
	return t->deadline - now < NAP_COUNTED_NS / 1000000 ? (long)(t->deadline - now) * 1000000
							      : NAP_COUNTED_NS;
}

void tracer_run(struct tracer *t, uint64_t deadline)
{
	int ctl = t->ctl;
	long got = 0;

	/*
	 * Records flowing: read on without waiting. Caught up: nap 200 us, so
	 * that a batch builds up (reading right behind a producer slows it
	 * down, see docs/benchmarks.md); idle: 1 ms (idle_nap_ns). A nap ends early at a
	 * message of an image, a new image or the command's end. After a print,
	 * clear or zero of uprobe -e (its thread waits for it): nap 20 us.
	 */
	t->deadline = deadline;
	while (!t->child_done && !t->fatal && !time_to_stop(t)) {
		if (t->pid)
			guard_proc_service(); /* news of the guard, which lets go a late thread itself */
		/* a thread waits on its print/clear/zero just performed: its next soon */
		long nap = t->lang_hurry ? 20000 : got ? 200000 : idle_nap_ns(t);

		t->lang_hurry = false;
		if (got <= 256 && wait_events(t, ctl, nap) && tracer_accept_agent(t) < 0)
			ctl = -1; /* every process that could say HELLO is gone */
		tracer_service_agents(t); /* READY of new images; images that ended */
		got = tracer_drain(t);
		if (t->lang_tick)
			t->lang_tick(t->lang_ctx);
		tracer_reap(t);
	}
	while (!t->fatal && ctl >= 0 && poll(&(struct pollfd){ .fd = ctl, .events = POLLIN }, 1, 0) > 0)
		if (tracer_accept_agent(t) < 0) /* images that started meanwhile */
			break;
}
