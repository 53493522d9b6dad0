// SPDX-License-Identifier: MIT
/*
 * The kernel backend through its API (uprobes_kernel.h), on this process's own
 * function: records decoded with pid, tid, comm, time and typed fields; a
 * ring too small for the hits: what the kernel dropped comes back as lost,
 * and records + lost is exactly the number of calls; counting mode exact.
 * Needs root and tracefs (skipped otherwise).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "uprobes_kernel.h"

TL_DEFINE("kernel_read");

__attribute__((noinline)) long kread_target(long x, const char *s)
{
	asm volatile("" ::: "memory");
	return x + (s ? s[0] : 0);
}

struct seen {
	long n, bad;
	uint64_t last_ts;
	struct trace_layout layout;
};

static int on_rec(const struct trace_record *rec, void *ctx)
{
	struct seen *s = ctx;
	int64_t x;
	char str[32];

	if (rec->pid != (uint32_t)getpid())
		return 0;
	if (rec->tid != (uint32_t)gettid() || strcmp(rec->comm, "test_kread") ||
	    rec->ts_ns < s->last_ts || trace_field_int(&s->layout, rec, 0, &x) || x != s->n ||
	    trace_field_format(&s->layout, rec, 1, str, sizeof(str)) < 0 ||
	    strcmp(str, "\"kr\""))
		s->bad++;
	s->last_ts = rec->ts_ns;
	s->n++;
	return 0;
}

static struct trace_kernel *start(struct trace_spec **spec, unsigned pages, int counting)
{
	struct trace_kernel_opts o = { .sz = sizeof(o), .pid = getpid(), .ring_pages = pages,
				       .counting = counting };
	struct trace_kernel *k = trace_kernel_new(&o);
	struct trace_error err;

	*spec = trace_spec_parse("p:/proc/self/exe:kread_target x=%di:s64 s=+0(%si):string",
				 &err);
	if (!k || !*spec || trace_kernel_add(k, *spec, 0) || trace_kernel_enable(k)) {
		TL_FAIL("kernel backend: %s", uprobe_last_error());
		trace_kernel_free(k);
		return NULL;
	}
	return k;
}

/* Records in order, every field right. */
static void records(void)
{
	struct seen s = { 0 };
	struct trace_spec *spec;
	struct trace_kernel *k = start(&spec, 0, 0);

	if (!k)
		return;
	trace_layout_of(spec, &s.layout);
	for (long i = 0; i < 100; i++)
		kread_target(i, "kr");
	while (trace_kernel_poll(k, 0, on_rec, &s) > 0)
		;
	CHECK_EQ_INT(s.n, 100);
	CHECK_EQ_INT(s.bad, 0);
	trace_kernel_free(k);
	trace_spec_free(spec);
}

/* One page of ring for 20,000 hits: the kernel drops, and says how many. */
static void lost_counted(void)
{
	struct trace_kernel_stats st = { .sz = sizeof(st) };
	struct seen s = { 0 };
	struct trace_spec *spec;
	struct trace_kernel *k = start(&spec, 1, 0);
	uint64_t hits = 0, lost = 0;

	if (!k)
		return;
	trace_layout_of(spec, &s.layout);
	for (long i = 0; i < 20000; i++)
		kread_target(i, "kr");
	while (trace_kernel_poll(k, 0, on_rec, &s) > 0)
		;
	trace_kernel_stats(k, &st);
	CHECK(st.lost > 0);
	CHECK_EQ_INT((long)st.lost + s.n, 20000);
	CHECK_EQ_INT((long)st.records, s.n);
	CHECK_EQ_INT(trace_kernel_count(k, 0, &hits, &lost), 0);
	CHECK_EQ_U64(hits, 20000);
	CHECK_EQ_U64(lost, st.lost);
	trace_kernel_free(k);
	trace_spec_free(spec);
}

/* Lines of dynamic_events that name group/. */
static int group_lines(const char *group)
{
	char prefix[80], line[512];
	FILE *f = fopen("/sys/kernel/tracing/dynamic_events", "r");
	int found = 0;

	snprintf(prefix, sizeof(prefix), "%s/", group);
	while (f && fgets(line, sizeof(line), f))
		found += strstr(line, prefix) != NULL;
	if (f)
		fclose(f);
	return found;
}

/* Counting: the uprobe PMU, no trace event in tracefs at all; every hit. */
static void counting(void)
{
	struct trace_spec *spec;
	struct trace_kernel *k = start(&spec, 0, 1);
	uint64_t n = 0;

	if (!k)
		return;
	CHECK_EQ_INT(group_lines(trace_kernel_group(k)), 0);
	for (long i = 0; i < 12345; i++)
		kread_target(i, NULL);
	CHECK_EQ_INT(trace_kernel_count(k, 0, &n, NULL), 0);
	CHECK_EQ_U64(n, 12345);
	CHECK_EQ_INT(trace_kernel_count(k, 1, &n, NULL), -ENOENT);
	trace_kernel_free(k);
	trace_spec_free(spec);
}

/* The group is there while tracing, and gone once freed. */
static void group_removed(void)
{
	struct trace_spec *spec;
	struct trace_kernel *k = start(&spec, 0, 0);
	char want[64];

	if (!k)
		return;
	snprintf(want, sizeof(want), "uprobes_%d", (int)getpid());
	CHECK_STR(trace_kernel_group(k), want);
	CHECK_EQ_INT(group_lines(want), 1);
	trace_kernel_free(k);
	trace_spec_free(spec);
	CHECK_EQ_INT(group_lines(want), 0);
}

int main(void)
{
	if (getuid() || access("/sys/kernel/tracing/dynamic_events", W_OK)) {
		printf("SKIP: kernel_read/all: needs root and tracefs\n");
		return 0;
	}
	RUN(records);
	RUN(lost_counted);
	RUN(counting);
	RUN(group_removed);
	TL_EXIT();
}
