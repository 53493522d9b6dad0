/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: stacks (uprobes_stack.h). --stack[=N] gives every probe a
 * "ustack=$ustackN" fetch-arg: the user stack at each hit, walked in the
 * traced process. The tracer symbolizes it, with the mappings each process
 * reported in its rings (or /proc/PID/maps while it lives), and prints it:
 *
 *   events (text, json, perfetto)  each event's stack under it (text, as
 *                                  perf script), or in its args
 *   --count                        one count per distinct stack, as
 *                                  bpftrace's @[ustack] = count() prints
 *   -f folded                      "root;...;leaf COUNT" lines
 *   -f flamegraph                  an interactive SVG (-o FILE.svg)
 *
 * -v adds source lines and inlined calls (DWARF). Stacks are counted by
 * their addresses (pid and frames) as records arrive, and symbolized once
 * each, at the end; a new stack's addresses are symbolized at once too, so
 * that its process's mappings are read while it lives.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"
#include "uprobes_stack.h"

enum stack_out { OUT_EVENTS, OUT_FOLDED, OUT_FLAMEGRAPH };

/* A distinct stack of a process and how many events had it. */
struct raw_stack {
	uint32_t pid, n; /* n == 0: free slot */
	uint64_t count;
	uint64_t *frames;
};

static struct {
	unsigned int depth; /* frames per stack; 0: no stacks */
	bool lines;
	enum stack_out out;
	struct uprobe_symbolizer *sym;
	struct raw_stack *raw; /* open addressing; cap a power of two */
	size_t cap, used;
} st;

bool tracer_stack_on(void)
{
	return st.depth != 0;
}

int tracer_stack_option(const char *arg)
{
	char *end;
	long n = TRACE_MAX_USTACK;

	if (arg) {
		errno = 0;
		n = strtol(arg, &end, 10);
		if (end == arg || *end || errno || n < 1 || n > TRACE_MAX_USTACK)
			return cli_error(CLI_EXIT_USAGE, "--stack=%s: expected 1 to %d frames", arg,
					 TRACE_MAX_USTACK);
	}
	st.depth = (unsigned int)n;
	return 0;
}

bool tracer_stack_wanted(void)
{
	return st.depth != 0;
}

void tracer_stack_verbose(void)
{
	st.lines = true;
}

int tracer_stack_format(const char *fmt)
{
	if (strcmp(fmt, "folded") && strcmp(fmt, "flamegraph"))
		return -1;
	st.out = strcmp(fmt, "folded") ? OUT_FLAMEGRAPH : OUT_FOLDED;
	if (!st.depth)
		st.depth = TRACE_MAX_USTACK;
	return 0;
}

/* The index of the first $ustack field of l, or -1. */
static int ustack_field(const struct trace_layout *l)
{
	for (int i = 0; i < l->n_fields; i++)
		if (l->fields[i].type == TRACE_T_USTACK)
			return i;
	return -1;
}

int tracer_stack_probe(struct trace_spec **s, const char **line, char **owned)
{
	struct trace_layout l;
	struct trace_error err;
	struct trace_spec *with;
	size_t len;
	char *text;

	if (!st.depth || trace_layout_of(*s, &l) || ustack_field(&l) >= 0)
		return 0; /* no --stack, or the probe has its stack already */
	len = strlen(*line) + 32;
	text = malloc(len);
	if (!text)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	snprintf(text, len, "%.*s ustack=$ustack%u", (int)strcspn(*line, "#"), *line, st.depth);
	with = trace_spec_parse(text, &err);
	if (!with) {
		cli_error(CLI_EXIT_USAGE, "probe '%s' with --stack: %s", *line, err.msg);
		free(text);
		return CLI_EXIT_USAGE;
	}
	trace_spec_free(*s);
	*s = with;
	free(*owned);
	*owned = text;
	*line = text;
	return 0;
}

int tracer_stack_setup(struct tracer *t, const char *output)
{
	struct uprobe_symbolizer_opts o = { .sz = sizeof(o),
					    .flags = st.lines ? UPROBE_SYMBOLIZE_LINES : 0 };

	if (!st.depth)
		return 0;
	if (st.out == OUT_FLAMEGRAPH && !output && isatty(STDOUT_FILENO))
		return cli_error(CLI_EXIT_USAGE, "-f flamegraph writes an SVG document: give it a file "
				 "(-o FILE.svg)");
	if (st.out != OUT_EVENTS)
		t->print_events = 0;
	st.sym = uprobe_symbolizer_new(&o);
	return st.sym ? 0 : cli_error(CLI_EXIT_FAIL, "out of memory");
}

void tracer_stack_formatter(struct tracer *t)
{
	if (st.sym && t->fmt)
		trace_formatter_set_symbolizer(t->fmt, st.sym);
}

int tracer_stack_record(const struct trace_record *rec)
{
	return st.sym && uprobe_symbolizer_take_record(st.sym, rec) != 0;
}

static uint64_t raw_hash(uint32_t pid, const uint64_t *f, unsigned int n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ pid ^ ((uint64_t)n << 32);

	for (unsigned int i = 0; i < n; i++)
		h = (h ^ f[i]) * 0xff51afd7ed558ccdull;
	return h ^ (h >> 31);
}

static struct raw_stack *raw_slot(struct raw_stack *v, size_t cap, uint32_t pid,
				  const uint64_t *f, unsigned int n)
{
	size_t i = raw_hash(pid, f, n) & (cap - 1);

	while (v[i].n && (v[i].pid != pid || v[i].n != n ||
			  memcmp(v[i].frames, f, n * sizeof(*f))))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

static int raw_grow(void)
{
	size_t cap = st.cap ? 2 * st.cap : 1024;
	struct raw_stack *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < st.cap; i++)
		if (st.raw[i].n)
			*raw_slot(v, cap, st.raw[i].pid, st.raw[i].frames, st.raw[i].n) = st.raw[i];
	free(st.raw);
	st.raw = v;
	st.cap = cap;
	return 0;
}

/* A new stack: its frames symbolized now, while its process may still be there to read. */
static void warm(uint32_t pid, const uint64_t *f, unsigned int n)
{
	struct uprobe_frame fr[4];

	for (unsigned int i = 0; i < n; i++)
		uprobe_symbolize(st.sym, (pid_t)pid, f[i], i > 0, fr, 4);
}

void tracer_stack_event(struct tracer *t, const struct trace_layout *l,
			const struct trace_record *rec)
{
	uint64_t frames[TRACE_MAX_USTACK];
	struct raw_stack *r;
	int i, n;

	if (!st.sym || (st.out == OUT_EVENTS && !t->count) || (i = ustack_field(l)) < 0)
		return;
	n = trace_field_ustack(l, rec, i, frames, TRACE_MAX_USTACK);
	if (n <= 0 || (4 * (st.used + 1) > 3 * st.cap && raw_grow()))
		return;
	r = raw_slot(st.raw, st.cap, rec->pid, frames, (unsigned int)n);
	if (!r->n) {
		r->frames = malloc((size_t)n * sizeof(*frames));
		if (!r->frames)
			return;
		memcpy(r->frames, frames, (size_t)n * sizeof(*frames));
		r->pid = rec->pid;
		r->n = (uint32_t)n;
		st.used++;
		warm(rec->pid, frames, (unsigned int)n);
	}
	r->count++;
}

/* Each distinct stack as bpftrace prints a map's ustack key, counted. */
static void print_counts(struct tracer *t)
{
	struct trace_agg *agg = trace_agg_count_new("");
	char *text;
	size_t len;

	for (size_t i = 0; agg && i < st.cap; i++) {
		FILE *mem;

		if (!st.raw[i].n || !(mem = open_memstream(&text, &len)))
			continue;
		fputc('\n', mem);
		uprobe_stack_print(st.sym, (pid_t)st.raw[i].pid, st.raw[i].frames, st.raw[i].n,
				   UPROBE_STACK_BPFTRACE, mem);
		fclose(mem);
		trace_agg_count_add(agg, text, st.raw[i].count);
		free(text);
	}
	if (agg) {
		fputc('\n', t->out);
		trace_agg_print(agg, t->out);
	}
	trace_agg_free(agg);
}

static void print_folded(struct tracer *t)
{
	struct uprobe_folded *f = uprobe_folded_new();
	struct uprobe_flamegraph_opts o = { .sz = sizeof(o), .count_name = "hits" };
	char sub[256];
	int err = f ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < st.cap; i++)
		if (st.raw[i].n)
			err = uprobe_folded_add_stack(f, st.sym, (pid_t)st.raw[i].pid, NULL,
						      st.raw[i].frames, st.raw[i].n,
						      st.raw[i].count);
	if (!err && st.out == OUT_FOLDED) {
		err = uprobe_folded_print(f, t->out);
	} else if (!err) {
		snprintf(sub, sizeof(sub), "uprobe trace: %d probe%s, %llu hits", t->n,
			 t->n == 1 ? "" : "s", (unsigned long long)uprobe_folded_total(f));
		o.title = "Flame Graph: user stacks at the probes";
		o.subtitle = sub;
		err = uprobe_flamegraph_write(f, &o, t->out);
	}
	if (err)
		cli_error(CLI_EXIT_FAIL, "%s: %s", st.out == OUT_FOLDED ? "-f folded" : "-f flamegraph",
			  strerror(-err));
	uprobe_folded_free(f);
}

void tracer_stack_finish(struct tracer *t)
{
	if (!st.sym)
		return;
	if (st.out != OUT_EVENTS)
		print_folded(t);
	else if (t->count)
		print_counts(t);
	for (size_t i = 0; i < st.cap; i++)
		free(st.raw[i].frames);
	free(st.raw);
	st.raw = NULL;
	st.cap = st.used = 0;
	uprobe_symbolizer_free(st.sym);
	st.sym = NULL;
}
