/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: the end. The rings are drained, the agents stopped (their
 * probes come out), the rings drained again, the aggregations printed, then
 * the summary on stderr: per probe its events, skipped recursive hits and
 * mode, or why it never attached; lost and filtered events.
 */
#include <inttypes.h>
#include <stdio.h>

#include "trace.h"

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

void tracer_finish(struct tracer *t)
{
	double t0;

	tracer_drain(t);
	t0 = now_fms();
	tracer_stop_agents(t);
	t->detach_ms = now_fms() - t0;
	tracer_drain(t);
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
	tracer_stack_finish(t);
	fflush(t->out);
	summary(t);
}

