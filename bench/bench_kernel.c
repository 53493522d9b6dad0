// SPDX-License-Identifier: MIT
/*
 * bench_kernel: the kernel backend (uprobes_kernel.h, issue 19).
 *
 * 1. Attach 1,000 probes "system-wide": trace_kernel_new, 1,000 dynamic_events
 *    lines (symbols of a private copy of libc, resolved to proved file offsets),
 *    perf events on every CPU, enabled; then all removed. A copy, so that no
 *    other process on the machine maps the probed file. Target < 2 s
 *    (bpftrace here: 203 probes attached in 25.6 s).
 * 2. Per hit, side by side in one run, on bk_target(a, b) (lea; ret) with the
 *    fetch-args a=%di b=%si: the agent's trace event (in-process, records into
 *    its ring), the kernel backend (records into the perf rings, read after),
 *    the kernel backend counting (perf counting mode: no record), bpftrace
 *    count(). Every hit is checked: the kernel's hit count equals the calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bench_arm.h"
#include "harness.h"
#include "uprobes_kernel.h"
#include "uprobes_trace.h"

__asm__(".text\n"
	".p2align 6\n"
	".globl bk_target\n"
	".type bk_target,@function\n"
	"bk_target:\n"
	"	.cfi_startproc\n"
	"	lea (%rdi,%rsi,1),%rax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bk_target,.-bk_target\n");

long bk_target(long a, long b);

static const uint8_t target_bytes[] = { 0x48, 0x8d, 0x04, 0x37, 0xc3 };
static const char *spec_text = "p:bk/ev /proc/self/exe:bk_target a=%di:u64 b=%si:u64";

/* ---- 1,000 probes ------------------------------------------------------------------ */

struct syms {
	char **names;
	int n, max;
	uint64_t last;
};

static int take_sym(const struct uprobe_sym *s, void *ctx)
{
	struct syms *y = ctx;

	/* One global name per address, plain functions only (no IFUNC, PLT, returns-twice). */
	if (s->vaddr == y->last || !s->size || s->version || !s->bind || strchr(s->location, '@') ||
	    (s->flags & (UPROBE_SYM_IFUNC | UPROBE_SYM_PLT | UPROBE_SYM_RETURNS_TWICE |
			 UPROBE_SYM_NOT_CALLED)))
		return 0;
	y->last = s->vaddr;
	y->names[y->n++] = strdup(s->location);
	return y->n == y->max;
}

static int copy_file(const char *from, const char *to)
{
	char buf[1 << 16];
	int in = open(from, O_RDONLY | O_CLOEXEC), out = open(to, O_WRONLY | O_CREAT, 0755);
	ssize_t n = 0;

	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			n = -1;
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return in < 0 || out < 0 || n < 0 ? -1 : 0;
}

/* ms to attach n probes, and to remove them; -1 when it failed (why printed). */
static int attach_many(const char *lib, int n, double *attach_ms, double *detach_ms)
{
	struct syms y = { calloc((size_t)n, sizeof(char *)), 0, n, 0 };
	struct trace_spec **specs = calloc((size_t)n, sizeof(*specs));
	struct trace_kernel_opts o = { .sz = sizeof(o) };
	struct trace_kernel *k = NULL;
	struct timespec t0, t1, t2;
	char line[512];
	int ret = -1;

	if (!y.names || !specs || uprobe_symbols(lib, NULL, take_sym, &y) < 0 || y.n < n) {
		printf("  attach: only %d functions in %s\n", y.n, lib);
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	k = trace_kernel_new(&o);
	for (int i = 0; k && i < n; i++) {
		snprintf(line, sizeof(line), "p:%s:%s a=%%di:u64", lib, y.names[i]);
		specs[i] = trace_spec_parse(line, NULL);
		if (!specs[i] || trace_kernel_add(k, specs[i], (uint32_t)i)) {
			printf("  attach: %s: %s\n", line, uprobe_last_error());
			goto out;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("  %d dynamic_events lines created (symbols resolved, formats read) in %.0f ms\n", n, (double)(t1.tv_sec - t0.tv_sec) * 1e3 +
	       (double)(t1.tv_nsec - t0.tv_nsec) / 1e6);
	if (!k || trace_kernel_enable(k)) {
		printf("  attach: %s\n", uprobe_last_error());
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	trace_kernel_free(k);
	k = NULL;
	clock_gettime(CLOCK_MONOTONIC, &t2);
	*attach_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	*detach_ms = (double)(t2.tv_sec - t1.tv_sec) * 1e3 + (double)(t2.tv_nsec - t1.tv_nsec) / 1e6;
	ret = 0;
out:
	trace_kernel_free(k);
	for (int i = 0; i < n; i++) {
		if (specs)
			trace_spec_free(specs[i]);
		if (y.names)
			free(y.names[i]);
	}
	free(specs);
	free(y.names);
	return ret;
}

/* ---- per hit ----------------------------------------------------------------------- */

struct row {
	struct bench_case c;
	struct trace_spec *spec;
	struct trace_session *session; /* agent */
	struct trace_event *event;
	struct trace_kernel *kern;     /* kernel */
	int counting;
	uint64_t hits_bad;
};

static int arm_agent(struct bench_case *c)
{
	struct row *r = (struct row *)c;

	r->session = trace_session_new(NULL);
	r->event = r->session ? trace_event_attach(r->session, r->spec, 0) : NULL;
	if (!r->event) {
		snprintf(c->why, sizeof(c->why), "agent: %s", uprobe_last_error());
		trace_session_free(r->session);
		r->session = NULL;
		return -1;
	}
	snprintf(c->mode, sizeof(c->mode), "agent");
	return 0;
}

static int disarm_agent(struct bench_case *c, uint64_t calls)
{
	struct row *r = (struct row *)c;

	(void)calls;
	trace_session_free(r->session); /* detaches the event */
	r->session = NULL;
	r->event = NULL;
	return 0;
}

static int arm_kernel(struct bench_case *c)
{
	struct row *r = (struct row *)c;
	struct trace_kernel_opts o = { .sz = sizeof(o), .pid = getpid(), .counting = r->counting };

	r->kern = trace_kernel_new(&o);
	if (!r->kern || trace_kernel_add(r->kern, r->spec, 0) || trace_kernel_enable(r->kern)) {
		snprintf(c->why, sizeof(c->why), "kernel: %s", uprobe_last_error());
		trace_kernel_free(r->kern);
		r->kern = NULL;
		return -1;
	}
	snprintf(c->mode, sizeof(c->mode), r->counting ? "counting" : "records");
	return 0;
}

static int drop(const struct trace_record *rec, void *ctx)
{
	(void)rec;
	(void)ctx;
	return 0;
}

/* Every hit seen by the kernel; the records read (the cost of reading is not timed). */
static int disarm_kernel(struct bench_case *c, uint64_t calls)
{
	struct row *r = (struct row *)c;
	uint64_t hits = 0;

	if (!r->counting)
		while (trace_kernel_poll(r->kern, 0, drop, NULL) > 0)
			;
	trace_kernel_count(r->kern, 0, &hits, NULL);
	if (hits != calls) {
		r->hits_bad++;
		snprintf(c->why, sizeof(c->why), "kernel counted %" PRIu64 " hits of %" PRIu64
			 " calls", hits, calls);
	}
	trace_kernel_free(r->kern);
	r->kern = NULL;
	return hits == calls ? 0 : -1;
}

static const struct bench_arm agent_arm = { arm_agent, disarm_agent, false };
static const struct bench_arm kernel_arm = { arm_kernel, disarm_kernel, false };
static struct bench_bpftrace bt = BENCH_BPFTRACE("uprobe", bk_target, target_bytes);

static struct row rows[] = {
	{ .c = { .label = "native", .key = "native_ns", .base = -1 } },
	{ .c = { .label = "agent trace event a,b", .key = "agent_ns", .arm = &agent_arm } },
	{ .c = { .label = "kernel backend, records a,b", .key = "kernel_records_ns",
		 .arm = &kernel_arm } },
	{ .c = { .label = "kernel backend, counting", .key = "kernel_counting_ns",
		 .arm = &kernel_arm },
	  .counting = 1 },
	{ .c = { .label = "bpftrace count()", .key = "bpftrace_ns", .arm = &bench_bpftrace_arm,
		 .arg = &bt } },
};

#define NROWS ((int)(sizeof(rows) / sizeof(rows[0])))

static void run(struct bench_case *c, uint64_t first, uint64_t n)
{
	long sum = 0;

	(void)c;
	for (uint64_t i = first; i < first + n; i++)
		sum += bk_target((long)i, 3);
	__asm__ volatile("" ::"r"(sum));
}

static void times_agent(const struct bench_suite *s, const struct bench_case *c, char *buf,
			size_t len)
{
	const struct bench_case *agent = bench_by_key(s, "agent_ns");

	if (!bench_usable(c) || !agent || !bench_usable(agent))
		snprintf(buf, len, "na");
	else
		bench_ratio(buf, len, 1, bench_per_hit(s, c), bench_per_hit(s, agent));
}

static const struct bench_table table = {
	.label_w = 32,
	.hit_head = "+ns",
	.more_head = " x agent",
	.more = times_agent,
	.legend = "ns/call: median over rounds of a call of bk_target (lea; ret), probe included.\n"
		  "+ns: above the unprobed call. x agent: +ns divided by the agent's.",
};

int main(int argc, char **argv)
{
	struct bench_cfg cfg = { .rounds = 7, .ms = 200, .slow_rounds = 3,
				 .slow_budget_ms = 60000 };
	struct bench_suite s = { rows, sizeof(rows[0]), NROWS, run, NULL, &cfg };
	char dir[] = "/tmp/bench_kernel.XXXXXX", lib[PATH_MAX];
	double att = 0, det = 0;
	int st = bench_parse(&cfg, argc, argv, "", "[-r rounds] [-t ms] [-b bpftrace rounds]");
	int n_probes = bench_quick() ? 200 : 1000, ok;

	if (st)
		return st;
	if (getuid() || access("/sys/kernel/tracing/dynamic_events", W_OK)) {
		printf("bench_kernel: needs root and tracefs\nsummary: attach_1000_ms=na\n");
		return 0;
	}
	printf("bench_kernel: the kernel backend: attaching many probes, cost per hit\n");
	if (!mkdtemp(dir))
		return perror("mkdtemp"), 1;
	snprintf(lib, sizeof(lib), "%s/libc.so.6", dir);
	ok = !copy_file("/lib/x86_64-linux-gnu/libc.so.6", lib) &&
	     !attach_many(lib, n_probes, &att, &det);
	unlink(lib);
	rmdir(dir);
	if (ok)
		printf("  %d probes on a private copy of libc: attached (lines, perf events on "
		       "every CPU, enabled) in %.0f ms, removed in %.0f ms\n", n_probes, att, det);
	bench_check(ok && (n_probes < 1000 || att < 2000), true,
		    "%d probes attached system-wide in < 2 s (bpftrace here: 203 in 25.6 s)",
		    n_probes);
	for (int i = 0; i < NROWS; i++) {
		rows[i].spec = trace_spec_parse(spec_text, NULL);
		if (!rows[i].spec)
			return fprintf(stderr, "bench_kernel: %s\n", uprobe_last_error()), 1;
	}
	bench_pin();
	bench_suite_run(&s);
	bench_table_print(&s, &table);
	for (int i = 0; i < NROWS; i++) {
		if (rows[i].c.arm == &kernel_arm)
			bench_check(!rows[i].hits_bad, false, "%s: the kernel counted every call",
				    rows[i].c.label);
		trace_spec_free(rows[i].spec);
	}
	if (ok) {
		bench_sum("attach_n", "%d", n_probes);
		bench_sum("attach_ms", "%.0f", att);
		bench_sum("detach_ms", "%.0f", det);
	} else {
		bench_sum_na("attach_ms");
	}
	bench_sum_cases(&s, false);
	bench_sum_print();
	return bench_failures() ? 1 : 0;
}
