/* SPDX-License-Identifier: MIT */
/*
 * The demo's second half: the same functions traced through trace events,
 * probes written as uprobe_events text, records read back from the rings
 * and printed as trace_pipe lines, then counted and put in a histogram.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uprobes_trace.h"
#include "trace_demo.h"

#define N_EVENTS 3

struct demo_out {
	struct trace_formatter *fmt;
	struct trace_agg *count, *latency, *sizes;
	const struct trace_event_desc *desc;
};

static int on_record(const struct trace_record *rec, void *ctx)
{
	struct demo_out *o = ctx;
	const struct trace_spec *spec = o->desc[rec->event_id].spec;
	int64_t v;

	trace_formatter_write(o->fmt, rec);
	trace_agg_count_add(o->count, spec->event, 1);
	if ((rec->flags & TRACE_REC_RETURN) && rec->entry_ts_ns)
		trace_agg_hist_add(o->latency, (int64_t)(rec->ts_ns - rec->entry_ts_ns));
	if (!strcmp(spec->event, "malloc") &&
	    !trace_field_int(o->desc[rec->event_id].layout, rec, 0, &v))
		trace_agg_hist_add(o->sizes, v);
	return 0;
}

int trace_demo(const char *exe, void (*workload)(void))
{
	static struct trace_layout layouts[N_EVENTS];
	const char *fmts[N_EVENTS] = {
		"p:demo/checksum %s:demo_checksum s=+0(%%di):string seed=%%si:u32",
		"r:demo/checksum_ret %s:demo_checksum ret=$retval:u32",
		"p:demo/malloc libc:malloc size=%%di:u64",
	};
	struct trace_event_desc desc[N_EVENTS];
	struct trace_spec *specs[N_EVENTS] = { 0 };
	struct trace_event *events[N_EVENTS] = { 0 };
	struct demo_out o = { .desc = desc };
	struct trace_ring_stats st = { .sz = sizeof(st) };
	struct trace_session *s = trace_session_new(NULL);
	struct trace_consumer *c = s ? trace_consumer_new(trace_session_fd(s)) : NULL;
	int ret = 1;

	if (!c)
		goto out;
	printf("\n== trace events: the same functions, probes written as text\n");
	for (int i = 0; i < N_EVENTS; i++) {
		struct trace_error err;
		char line[512];

		snprintf(line, sizeof(line), fmts[i], exe);
		printf("%s\n", line);
		specs[i] = trace_spec_parse(line, &err);
		if (!specs[i]) {
			fprintf(stderr, "demo: column %d (%s): %s\n", err.column, err.token, err.msg);
			goto out;
		}
		trace_layout_of(specs[i], &layouts[i]);
		desc[i] = (struct trace_event_desc){ specs[i], &layouts[i] };
		events[i] = trace_event_attach(s, specs[i], (uint32_t)i);
		if (!events[i]) {
			fprintf(stderr, "demo: %s\n", uprobe_last_error());
			goto out;
		}
	}
	workload();
	for (int i = 0; i < N_EVENTS; i++)
		trace_event_detach(events[i]);
	printf("\n");
	fflush(stdout);
	o.fmt = trace_formatter_new(TRACE_FMT_TEXT, stdout, desc, N_EVENTS);
	o.count = trace_agg_count_new("events");
	o.latency = trace_agg_hist_new("checksum_latency_ns");
	o.sizes = trace_agg_hist_new("malloc_size");
	while (trace_consumer_poll(c, 0, on_record, &o) > 0)
		;
	trace_formatter_free(o.fmt);
	printf("\n");
	trace_agg_print(o.count, stdout);
	printf("\n");
	trace_agg_print(o.latency, stdout);
	trace_agg_print(o.sizes, stdout);
	trace_consumer_stats(c, &st);
	printf("records: %" PRIu64 " consumed, %" PRIu64 " lost\n", st.consumed, st.lost);
	trace_agg_free(o.count);
	trace_agg_free(o.latency);
	trace_agg_free(o.sizes);
	ret = 0;
out:
	trace_consumer_free(c);
	trace_session_free(s); /* detaches and frees the events */
	for (int i = 0; i < N_EVENTS; i++)
		trace_spec_free(specs[i]);
	return ret;
}
