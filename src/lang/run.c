// SPDX-License-Identifier: MIT
/*
 * The tracer's side of a program: what a plan emits (printf, print, clear,
 * zero, exit) carried out on the tracer's maps, and the probes that run in
 * the tracer (BEGIN, interval, END). A run prints what bpftrace prints: "Attaching N
 * probes...", the probes' output, then, at the end, two newlines and every
 * map by name; with -f json, bpftrace's JSON lines.
 */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "lang/store.h"

struct runner {
	struct lang_program *p;
	struct lang_store *store;
	FILE *out;
	bool json;
	bool exited;
	uint64_t start_ns;
};

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static int run_emit(void *ctx, enum lang_emit what, uint32_t id, int64_t imm, const void *data,
		    uint32_t len)
{
	struct runner *r = ctx;
	print_emit(r->store, &r->p->plan, what, id, imm, data, len, r->json, &r->exited, r->out);
	return 0;
}

/* Strings in the tracer: no user memory to read (str() of an address in BEGIN). */
static long run_read_str(void *ctx, uint64_t addr, char *dst, uint32_t len)
{
	(void)ctx, (void)addr, (void)len;
	dst[0] = 0;
	return -EFAULT;
}

/* The store's callbacks, called with the runner as their context. */
static struct lang_env_ops store_ops;

static int r_get(void *ctx, unsigned m, const void *k, void *v)
{
	return store_ops.map_get(((struct runner *)ctx)->store, m, k, v);
}

static int r_set(void *ctx, unsigned m, const void *k, const void *v)
{
	return store_ops.map_set(((struct runner *)ctx)->store, m, k, v);
}

static int r_agg(void *ctx, unsigned m, const void *k, enum lang_map_kind kind, int64_t v)
{
	return store_ops.map_agg(((struct runner *)ctx)->store, m, k, kind, v);
}

static int r_del(void *ctx, unsigned m, const void *k)
{
	return store_ops.map_del(((struct runner *)ctx)->store, m, k);
}

static int r_add(void *ctx, unsigned m, const void *k, int64_t d, int64_t *out)
{
	return store_ops.map_add(((struct runner *)ctx)->store, m, k, d, out);
}

static const struct lang_env_ops runner_ops = {r_get, r_set,	r_agg,	     r_del,
					       r_add, run_emit, run_read_str, NULL};

/* Probe i's plan for attach point a. */
static void run_one(struct runner *r, int i, int a)
{
	const struct lang_checked *ck = &r->p->checked;
	uint64_t t = now_ns();
	struct lang_env env = {
		.ops = &runner_ops,
		.ctx = r,
		.pid = (uint64_t)getpid(),
		.tid = (uint64_t)gettid(),
		.nsecs = t,
		.elapsed = t - r->start_ns,
		.cpu = (uint64_t)sched_getcpu(),
		.uid = getuid(),
		.gid = getgid(),
		.comm = "uprobe",
		.probe = ck->probes[i].at[a].text,
		.probe_id = lang_probe_attach_id(r->p, i, a),
	};
	plan_eval(&r->p->plan, (uint32_t)i, &env);
}

/* Every probe of this kind (BEGIN, END), in the program's order. */
static void run_kind(struct runner *r, enum lang_probe_kind kind)
{
	const struct lang_checked *ck = &r->p->checked;
	for (int i = 0; i < ck->nprobes; i++) {
		for (int a = 0; a < ck->probes[i].nat; a++) {
			if (ck->probes[i].at[a].kind != kind)
				continue;
			run_one(r, i, a);
		}
	}
}

/*
 * After BEGIN, until exit(), SIGINT/SIGTERM (bpftrace's Ctrl-C) or, when
 * stop_fd >= 0, until it is readable (the pidfd of the command or process
 * given with -c/-p: its end ends the run, as bpftrace's): interval probes at
 * their periods, from the run's start (absolute deadlines, so a late run does
 * not shift the next ones). The two signals are blocked and read from a
 * signalfd, so none can slip in between a check and a sleep.
 */
static void run_intervals(struct runner *r, int stop_fd)
{
	const struct lang_checked *ck = &r->p->checked;
	sigset_t stop, old;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	sigprocmask(SIG_BLOCK, &stop, &old);
	int sfd = signalfd(-1, &stop, SFD_CLOEXEC);
	uint64_t next[LANG_MAX_ATTACH * 4] = {0};
	for (;;) {
		uint64_t soonest = UINT64_MAX;
		int k = 0;
		for (int i = 0; i < ck->nprobes; i++) {
			for (int a = 0;
			     a < ck->probes[i].nat && k < (int)(sizeof(next) / sizeof(next[0]));
			     a++) {
				const struct lang_attach *at = &ck->probes[i].at[a];
				if (at->kind != P_INTERVAL)
					continue;
				if (!next[k])
					next[k] = r->start_ns + at->interval_ns;
				if (next[k] <= now_ns() && !r->exited) {
					run_one(r, i, a);
					next[k] += at->interval_ns;
				}
				if (next[k] < soonest)
					soonest = next[k];
				k++;
			}
		}
		fflush(r->out);
		if (r->exited)
			break;
		uint64_t now = now_ns();
		uint64_t wait = soonest == UINT64_MAX ? 0 : soonest > now ? soonest - now : 0;
		struct timespec ts = {(time_t)(wait / 1000000000ull), (long)(wait % 1000000000ull)};
		if (soonest != UINT64_MAX && !wait)
			continue;
		if (sfd < 0) { /* no signalfd: the signals alone */
			if (sigtimedwait(&stop, NULL, soonest == UINT64_MAX ? NULL : &ts) > 0)
				break;
			continue;
		}
		struct pollfd pf[2] = {{.fd = sfd, .events = POLLIN},
				       {.fd = stop_fd, .events = POLLIN}};
		int n = ppoll(pf, stop_fd >= 0 ? 2 : 1, soonest == UINT64_MAX ? NULL : &ts, NULL);
		if (n > 0)
			break; /* Ctrl-C, or the process ended: END runs */
	}
	if (sfd >= 0) {
		struct signalfd_siginfo si;
		struct pollfd pf = {.fd = sfd, .events = POLLIN};
		while (poll(&pf, 1, 0) > 0 && read(sfd, &si, sizeof(si)) > 0)
			; /* taken: not delivered once unblocked */
		close(sfd);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
}

/* "Attaching N probes..." as bpftrace says it. */
static void say_attaching(const struct runner *r, int n)
{
	if (r->json)
		fprintf(r->out, "{\"type\": \"attached_probes\", \"data\": {\"probes\": %d}}\n", n);
	else
		fprintf(r->out, "Attaching %d probe%s...\n", n, n == 1 ? "" : "s");
}

static int runner_init(struct runner *r, struct lang_program *p, enum lang_output fmt, FILE *out)
{
	if (!p->compiled)
		return -EINVAL;
	*r = (struct runner){.p = p, .out = out, .json = fmt == LANG_OUT_JSON, .start_ns = now_ns()};
	r->store = store_new(&p->checked, &p->plan);
	for (uint32_t k = 0; r->store && k < r->store->nmaps; k++)
		r->store->maps[k].probes = &p->probe_names; /* probe keys' names */
	if (r && r->store)
		r->store->probes = &p->probe_names;
	if (!r->store)
		return -ENOMEM;
	store_env_ops(&store_ops);
	return 0;
}

static void runner_end(struct runner *r)
{
	run_kind(r, P_END);
	(r->json ? print_all_maps_json : print_all_maps)(r->store, r->out);
	fflush(r->out);
	store_free(r->store);
}

int lang_program_run_local(struct lang_program *p, enum lang_output fmt, FILE *out)
{
	return lang_program_run_local_with(p, fmt, out, NULL, NULL);
}

int lang_program_run_local_with(struct lang_program *p, enum lang_output fmt, FILE *out,
				int (*after_begin)(void *ctx), void *ctx)
{
	struct runner r;
	int err = runner_init(&r, p, fmt, out);
	if (err)
		return err;
	int n = 0;
	for (int i = 0; i < p->checked.nprobes; i++)
		n += p->checked.probes[i].nat;
	say_attaching(&r, n);
	run_kind(&r, P_BEGIN);
	fflush(out);
	int stop_fd = -1;
	if (!r.exited && after_begin) {
		stop_fd = after_begin(ctx);
		if (stop_fd < -1) { /* could not start: no END, no maps */
			store_free(r.store);
			return stop_fd;
		}
	}
	if (!r.exited)
		run_intervals(&r, stop_fd);
	runner_end(&r);
	return 0;
}

int lang_program_run_begin(struct lang_program *p, int n, enum lang_output fmt, FILE *out)
{
	struct runner r;
	int err = runner_init(&r, p, fmt, out);
	if (err)
		return err;
	for (int i = 0; i < p->checked.nprobes; i++)
		n += p->checked.probes[i].at[0].kind == P_BEGIN ||
		     p->checked.probes[i].at[0].kind == P_END;
	say_attaching(&r, n);
	run_kind(&r, P_BEGIN);
	fflush(out);
	store_free(r.store);
	return 0;
}

int lang_program_run_end(struct lang_program *p, struct trace_maps *m, enum lang_output fmt,
			 FILE *out)
{
	struct runner r;
	int err = runner_init(&r, p, fmt, out);
	if (err)
		return err;
	err = lang_target_read((struct map_region *)m, r.store);
	struct lang_ustacks *u = lang_ustacks_open(p); /* ustack keys: frames and names */
	for (uint32_t i = 0; i < r.store->nmaps; i++)
		r.store->maps[i].ustacks = u;
	runner_end(&r);
	lang_ustacks_report(u, stderr);
	lang_ustacks_close(u);
	return err;
}
