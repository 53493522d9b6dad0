/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: the end. The agents are stopped (their probes come out), the
 * rings drained, the aggregations printed, then the summary on stderr: per
 * probe its events, those lost (rings full), skipped recursive hits and mode,
 * or why it never attached; lost and filtered events, and those still
 * arriving (a forked child keeps its probes; an agent that did not answer
 * STOP), which are counted rather than read for as long as they come. What
 * the traced programs wrote into their rings that no probe writes (corrupted
 * rings, counters, records) is said even with -q, and makes the exit status 1
 * (tracer_exit_status).
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "trace.h"

/* Passes over the rings after STOP: once the agents stopped, the first one empties them. */
#define FINAL_PASSES 4

/*
 * One agent's rings: lost events, in all and per probe; -1 when the traced
 * program overwrote the counters (they are unknown then). Corrupted rings
 * are said even with -q: they make the exit status 1.
 */
static int agent_rings(struct tracer *t, const struct agent_conn *a)
{
	struct trace_ring_stats st = { .sz = sizeof(st) };
	static uint64_t lost[UPROBE_AGENT_MAX_SPECS];

	if (!a->cons || trace_consumer_stats(a->cons, &st))
		return 0;
	if (st.corrupted_rings)
		fprintf(stderr, "uprobe: PID %d: %s\n", a->pid, st.corruption);
	if (st.corrupted_rings > 1)
		fprintf(stderr, "uprobe: PID %d: %" PRIu64 " rings corrupted in all\n", a->pid,
			st.corrupted_rings);
	t->corrupted |= st.corrupted_rings != 0;
	if (st.lost_corrupted || trace_consumer_lost(a->cons, lost, (size_t)t->n)) {
		t->lost_unknown = true;
		return -1;
	}
	t->lost += st.lost;
	if (st.produced > st.consumed + st.lost)
		t->unread += st.produced - st.consumed - st.lost;
	for (int i = 0; i < t->n; i++)
		t->lost_by[i] += lost[i];
	return 0;
}

static void summary(struct tracer *t)
{
	int lost_known = 1;
	char why[PATH_MAX + UPROBE_AGENT_MSG_MAX + 256], loc[PATH_MAX + 160];

	for (int i = 0; i < t->n_agents; i++)
		if (agent_rings(t, &t->agents[i]))
			lost_known = 0;
	if (t->malformed)
		fprintf(stderr, "uprobe: %" PRIu64 " records fit no probe (the traced program wrote "
			"them into its rings); not printed\n", t->malformed);
	t->corrupted |= !lost_known || t->malformed;
	if (t->quiet) {
		if (lost_known && t->lost) /* never silent, even with -q */
			fprintf(stderr, "uprobe: lost events (rings full): %" PRIu64 "\n", t->lost);
		/* nor a probe that waited for its file in vain (-p: refused at once) */
		for (int i = 0; i < t->n && !t->pid && !t->backend_kernel; i++)
			if (!t->attached[i]) {
				char head[sizeof(loc) + 2 * TRACE_MAX_EVENT_NAME];

				snprintf(head, sizeof(head), "%s/%s (%s)", t->specs[i]->group,
					 t->specs[i]->event,
					 tracer_location(t->specs[i], loc, sizeof(loc)));
				cli_probe_note(t->specs[i]->event, head, "never attached: %s",
					       tracer_unattached_reason(t, i, why, sizeof(why)));
			}
		tracer_maps_summary(t, stderr, true);
		return;
	}
	if (t->backend_kernel)
		fprintf(stderr, "\nuprobe: traced through the kernel's uprobes%s\n",
			t->kernel_counting ? " (hits counted by the kernel)" : "");
	else
		fprintf(stderr, "\nuprobe: %u process image(s) traced\n", t->images);
	for (int i = 0; i < t->n; i++) {
		const struct trace_spec *s = t->specs[i];
		char lost[32] = "";

		if (t->lost_by[i] && lost_known)
			snprintf(lost, sizeof(lost), ", %" PRIu64 " lost", t->lost_by[i]);
		if (t->attached[i])
			fprintf(stderr, "  %s/%s: %" PRIu64 " events%s, %" PRIu64
				" skipped (recursive), mode %s%s%s\n", s->group, s->event,
				t->events[i], lost, t->skipped[i], t->mode[i],
				t->ret[i] ? ", returns by " : "", t->ret[i] ? t->ret[i] : "");
		else
			fprintf(stderr, "  %s/%s: never attached: %s\n", s->group, s->event,
				tracer_unattached_reason(t, i, why, sizeof(why)));
	}
	tracer_gate_summary(t, stderr);
	if (lost_known && t->backend_kernel)
		fprintf(stderr, "  lost events (kernel rings full): %" PRIu64 "\n", t->lost);
	else if (lost_known)
		fprintf(stderr, "  lost events (rings full): %" PRIu64 "\n", t->lost);
	else
		fprintf(stderr, "  lost events (rings full): unknown (the traced program overwrote "
			"the counters)\n");
	tracer_maps_summary(t, stderr, false);
	if (t->unread)
		fprintf(stderr, "  events still arriving after the stop, not read: %" PRIu64 "\n",
			t->unread);
	if (t->pid)
		fprintf(stderr, "  attach %.1f ms, detach %.1f ms\n"
			"  system calls cut short while attaching, restarted: %u\n",
			t->attach_ms, t->detach_ms, t->restarted);
	if (t->filter.on)
		fprintf(stderr, "  filtered out: %" PRIu64 "\n", t->filtered);
}

void tracer_finish(struct tracer *t)
{
	double t0 = now_fms();

	for (int i = 0; i < t->n_agents; i++) /* no producer waits for us now */
		if (t->agents[i].cons) {
			if (t->blocking)
				trace_consumer_set_blocking(t->agents[i].cons, 0);
			trace_consumer_set_sync(t->agents[i].cons, 0);
		}
	tracer_stop_agents(t);
	t->detach_ms = now_fms() - t0;
	t->stopping = true;
	for (int i = 0; i < FINAL_PASSES && tracer_drain(t) > 0; i++)
		;
	if (t->fmt)
		trace_formatter_free(t->fmt); /* closes a Perfetto document */
	t->fmt = NULL;
	tracer_maps_collect(t); /* --count, --hist, --filter computed in the target */
	for (int i = 0; t->counts && !t->count_by && i < t->n; i++) /* counted in on_record */
		if (t->events[i])
			trace_agg_count_add(t->counts, t->specs[i]->event, t->events[i]);
	if (t->counts)
		trace_agg_print(t->counts, t->out);
	if (t->counts && t->hist)
		fputc('\n', t->out);
	if (t->hist)
		trace_agg_print(t->hist, t->out);
	tracer_stack_finish(t);
	errno = 0;
	fflush(t->out);
	tracer_check_output(t);
	summary(t);
	if (t->rec)
		tracer_record_end(t); /* the counts summary() gathered */
}

int tracer_close_output(struct tracer *t)
{
	errno = 0;
	if (t->out == stdout ? fflush(t->out) : fclose(t->out))
		t->out_errno = t->out_errno ? t->out_errno : errno ? errno : EIO;
	else if (t->out == stdout)
		tracer_check_output(t);
	if (!t->out_errno)
		return 0;
	if (t->output)
		return cli_error(CLI_EXIT_FAIL, "-o %s: %s", t->output, strerror(t->out_errno));
	return cli_error(CLI_EXIT_FAIL, "standard output: %s", strerror(t->out_errno));
}

int tracer_exit_status(const struct tracer *t, int status)
{
	return status || !t->corrupted ? status : CLI_EXIT_FAIL;
}
