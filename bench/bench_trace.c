/* SPDX-License-Identifier: MIT */
/*
 * The trace-event pipeline of issue 5, in one run:
 *
 *  1. per-hit cost on bench_trace_target(a, b): unprobed; an optimized probe
 *     with an empty handler; the trace event "p:bench/ev EXE:bench_trace_target
 *     a=%di b=%si" writing records into a session's rings while a consumer in
 *     another process drains them; the same event as a return probe (entry
 *     stamp + return record); and the kernel's own trace event with the same
 *     fetch-args (tracefs uprobe_events) when tracefs is usable;
 *  2. consumer throughput: one producer thread calls the probed function for
 *     about a second while the consumer process drains, then a backlog the
 *     consumer drains alone (its own rate, whatever the producer's);
 *  3. overload: one ring of 64 KiB, a consumer that sleeps 1 ms between
 *     polls: records are lost, and every one is accounted for.
 *
 * The VM this runs on is noisy, so the rows of part 1 are interleaved: every
 * round measures each once (attach, time a loop of calls, detach) and the
 * figure kept is the median over rounds. ns/hit is ns/call minus the unprobed
 * call; event_write_ns is the event's ns/call minus the empty probe's: what
 * evaluating two fetch-args and writing a record adds to the probe itself.
 *
 * The consumer is a forked child (it maps the session's memfd with
 * trace_consumer_new) driven over a socketpair: after each measurement it
 * drains what is left and reports what it saw. Every record is checked (pid,
 * flags, no fault bit, b == ARG_B, a increasing by one), and every loop of
 * calls must be accounted for exactly: calls == consumed + lost.
 *
 * The kernel's event writes its records into the ftrace ring buffer, which
 * nobody reads during the run (it overwrites, as it does by default): its
 * row is the cost of producing them, like the library's rows.
 *
 * Output: the tables, the checks (PASS/FAIL, exit status 1 if one fails),
 * issue 5's targets against the figures, then one "summary: key=value ..."
 * line whose *_ns values are ns per hit (above the unprobed call) except
 * native_ns (ns per call).
 * Usage: bench_trace [-r rounds] [-t ms per measurement] [-m MiB per ring]
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "uprobes_trace.h"
#include "bench_handlers.h"
#include "bench_trace_target.h"
#include "bench_util.h"

#define ARG_B	   1000003u /* the second argument of every call */
#define MAX_ROUNDS 101
#define WHY_LEN	   (PATH_MAX + 256) /* room for a path in a message */
#define RAW_HDR	   56		    /* sizeof(struct trace_raw), src/trace/transport/ring.h */
#define CHUNK	   4096		    /* calls between two clock reads of the producer */

/* Issue 5's targets (checked, never asserted). */
#define TARGET_WRITE_NS	   30.0
#define TARGET_CONSUMER_PS 20e6

/* Event ids in the main session: the entry event and the return event. */
enum { EV_P, EV_R, N_IDS };

/* The two sessions, as the consumer child addresses them. */
enum { S_MAIN, S_OVERLOAD, N_SESSIONS };

enum kind { K_NATIVE, K_PROBE, K_EVENT, K_KERNEL };

struct variant {
	const char *label;
	const char *key; /* summary key */
	enum kind kind;
	uint32_t id; /* K_EVENT: EV_P or EV_R */
	/* state */
	struct uprobe *probe;
	struct trace_event *ev;
	char mode[16];
	uint64_t iters;
	double ns[MAX_ROUNDS];
	int nr;
	uint64_t calls, hits, ret_hits, consumed, lost;
	uint64_t bad, gaps;   /* records with wrong contents; sequence breaks */
	uint64_t sum_bad;     /* loops whose results were wrong */
	uint64_t unbalanced;  /* syncs after which the ring counters did not add up */
	uint64_t unaccounted; /* loops whose calls != records consumed + lost */
	bool dead, failed;
	char why[WHY_LEN];
	double med, lo, hi;
};

static struct variant variants[] = {
	{.label = "native (unprobed)", .key = "native_ns", .kind = K_NATIVE},
	{.label = "probe, empty handler, NO_SIMD", .key = "probe_ns", .kind = K_PROBE},
	{.label = "event p: a=%di b=%si", .key = "event_ns", .kind = K_EVENT, .id = EV_P},
	{.label = "event r: a=%di b=%si", .key = "ret_event_ns", .kind = K_EVENT, .id = EV_R},
	{.label = "kernel event p: a=%di b=%si", .key = "kernel_event_ns", .kind = K_KERNEL},
};

#define NVAR ((int)(sizeof(variants) / sizeof(variants[0])))

static char exe_path[PATH_MAX];
static uint64_t off_target; /* file offset of bench_trace_target */
static struct trace_spec *specs[N_IDS];
static struct trace_session *sessions[N_SESSIONS];
static unsigned int off_a, off_b, rec_fixed; /* payload layout of both events */
static uint64_t main_lost;		     /* main session's lost count at the last sync */
static uint64_t last_sum;
static int prod_cpu = -1;

/* What n calls with a = 0..n-1 and b = ARG_B add up to, modulo 2^64. */
static uint64_t expected_sum(uint64_t n)
{
	uint64_t tri = n % 2 ? n * ((n - 1) / 2) : (n / 2) * (n - 1);

	return tri + n * (uint64_t)ARG_B;
}

/* Not inlined: the loop is the same whatever the row. */
static __attribute__((noinline)) uint64_t run_calls(uint64_t n)
{
	uint64_t t0, t1, acc = 0;

	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		acc += bench_trace_target(i, ARG_B);
	t1 = now_ns();
	last_sum = acc;
	return t1 - t0;
}

/* ---- where bench_trace_target is in the file ------------------------------------- */

/* ---- the consumer process ---------------------------------------------------------- */

/*
 * The parent sends a command, the child answers with one reply. Commands
 * choose the session drained and how: FAST polls without pause, SLOW sleeps
 * 1 ms between polls, PAUSE does not poll. SYNC drains the session until it
 * is empty and reports. Every command starts a new phase: counters zeroed,
 * the clock restarted (for SYNC in PAUSE, at the start of its drain).
 */
enum cons_op { OP_SYNC, OP_FAST, OP_SLOW, OP_PAUSE, OP_QUIT };

struct cons_cmd {
	uint32_t op, session;
};

struct cons_reply {
	int err; /* 0, or -errno of a consumer call */
	uint64_t events[N_IDS];
	uint64_t bad, gaps;
	uint64_t wall_ns; /* from the phase's start to the last record consumed */
	uint64_t busy_ns; /* spent in polls that returned records */
	struct trace_ring_stats st;
};

struct cons_phase {
	uint64_t events[N_IDS];
	uint64_t next_a[N_IDS]; /* 0: none seen yet (a + 1 otherwise) */
	uint64_t bad, gaps;
	uint64_t t0, t_last, busy_ns;
	uint32_t pid; /* the producer */
	int err;
};

static bool record_ok(const struct trace_record *rec, const struct cons_phase *k, uint64_t *a)
{
	uint32_t want = rec->event_id == EV_R ? TRACE_REC_RETURN : 0;
	uint64_t bitmap, b;

	if (rec->event_id >= N_IDS || rec->data_len < rec_fixed || rec->pid != k->pid)
		return false;
	memcpy(&bitmap, rec->data, sizeof(bitmap));
	memcpy(a, rec->data + off_a, sizeof(*a));
	memcpy(&b, rec->data + off_b, sizeof(b));
	if (bitmap || b != ARG_B || rec->flags != want)
		return false;
	return rec->event_id != EV_R || rec->entry_ts_ns;
}

static int on_record(const struct trace_record *rec, void *ctx)
{
	struct cons_phase *k = ctx;
	uint64_t a = 0;
	uint32_t id = rec->event_id;

	if (!record_ok(rec, k, &a)) {
		k->bad++;
		return 0;
	}
	if (k->next_a[id] && a < k->next_a[id])
		k->bad++; /* out of order, or twice */
	else if (a != (k->next_a[id] ? k->next_a[id] : 0))
		k->gaps++;
	k->next_a[id] = a + 1;
	k->events[id]++;
	return 0;
}

static int drain_once(struct trace_consumer *c, struct cons_phase *k)
{
	uint64_t t0 = now_ns(), t1;
	int n = trace_consumer_poll(c, 0, on_record, k);

	if (n > 0) {
		t1 = now_ns();
		k->busy_ns += t1 - t0;
		k->t_last = t1;
	} else if (n < 0 && !k->err) {
		k->err = n;
	}
	return n;
}

static void phase_reset(struct cons_phase *k)
{
	uint32_t pid = k->pid;

	memset(k, 0, sizeof(*k));
	k->pid = pid;
	k->t0 = now_ns();
}

static void cons_reply_send(int ctl, struct trace_consumer *c, struct cons_phase *k)
{
	struct cons_reply r = {.err = k->err, .bad = k->bad, .gaps = k->gaps};
	int err;

	memcpy(r.events, k->events, sizeof(r.events));
	r.wall_ns = k->t_last > k->t0 ? k->t_last - k->t0 : 0;
	r.busy_ns = k->busy_ns;
	r.st.sz = sizeof(r.st);
	err = trace_consumer_stats(c, &r.st);
	if (err && !r.err)
		r.err = err;
	send(ctl, &r, sizeof(r), MSG_NOSIGNAL);
}

/* Returns the new mode, or OP_QUIT. */
static int cons_command(int ctl, struct trace_consumer **c, int mode, unsigned int *cur,
			struct cons_phase *k)
{
	struct cons_cmd cmd;

	if (recv(ctl, &cmd, sizeof(cmd), 0) != sizeof(cmd) || cmd.op == OP_QUIT)
		return OP_QUIT;
	if (cmd.op == OP_SYNC) {
		if (mode == OP_PAUSE)
			k->t0 = now_ns(); /* the backlog's drain is what is timed */
		while (drain_once(c[*cur], k) > 0)
			;
		cons_reply_send(ctl, c[*cur], k);
		phase_reset(k);
		return mode;
	}
	*cur = cmd.session < N_SESSIONS ? cmd.session : S_MAIN;
	phase_reset(k);
	cons_reply_send(ctl, c[*cur], k);
	return (int)cmd.op;
}

#define CONS_BATCH 4096 /* records: fewer in a poll means caught up */
#define CONS_NAP_US 200

static void sleep_us(unsigned int us)
{
	struct timespec ts = {.tv_sec = 0, .tv_nsec = (long)us * 1000};

	nanosleep(&ts, NULL);
}

/*
 * FAST polls back to back while polls return full batches, naps 200 us when
 * caught up; it looks for commands only when the rings are
 * empty (the parent sends them once its producer has stopped), and naps for
 * up to 1 ms on the socket after 2 ms without records.
 */
static int cons_wait(int ctl, int mode, const struct cons_phase *k, uint64_t idle_since)
{
	struct pollfd p = {.fd = ctl, .events = POLLIN};
	int timeout = mode == OP_PAUSE ? -1 : 0;

	if (mode == OP_FAST && now_ns() - idle_since > 2000000 && now_ns() - k->t_last > 2000000)
		timeout = 1;
	return poll(&p, 1, timeout);
}

static void consumer_loop(int ctl, struct trace_consumer **c)
{
	struct cons_phase k = {.pid = (uint32_t)getppid()};
	int mode = OP_PAUSE, n = 0;
	unsigned int cur = S_MAIN;
	uint64_t idle_since = now_ns();

	phase_reset(&k);
	while (mode != OP_QUIT) {
		if (mode != OP_PAUSE)
			n = drain_once(c[cur], &k);
		if (mode == OP_SLOW)
			sleep_ms(1);
		if (mode == OP_FAST && n >= CONS_BATCH)
			continue;
		if (mode == OP_FAST && n > 0) {
			/*
			 * Caught up: let a batch build up, as a tracer would. A
			 * consumer reading right behind the producer keeps taking
			 * its cache lines away (the producer then runs ~3x slower).
			 */
			sleep_us(CONS_NAP_US);
			continue;
		}
		if (cons_wait(ctl, mode, &k, idle_since) > 0) {
			mode = cons_command(ctl, c, mode, &cur, &k);
			idle_since = now_ns();
		}
	}
}

static void consumer_child(int ctl, int parent_cpu)
{
	struct trace_consumer *c[N_SESSIONS] = {NULL};
	int err = 0;
	cpu_set_t set;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	/* Not the producer's CPU, when there is another one. */
	CPU_ZERO(&set);
	for (long i = 0; parent_cpu >= 0 && i < sysconf(_SC_NPROCESSORS_ONLN); i++)
		if (i != parent_cpu)
			CPU_SET(i, &set);
	if (CPU_COUNT(&set))
		sched_setaffinity(0, sizeof(set), &set);
	for (int i = 0; i < N_SESSIONS && !err; i++) {
		c[i] = trace_consumer_new(trace_session_fd(sessions[i]));
		if (!c[i])
			err = -errno;
	}
	send(ctl, &err, sizeof(err), MSG_NOSIGNAL); /* ready, or why not */
	if (!err)
		consumer_loop(ctl, c);
	for (int i = 0; i < N_SESSIONS; i++)
		trace_consumer_free(c[i]);
	_exit(err ? 1 : 0);
}

static int ctl_fd = -1;
static pid_t cons_pid = -1;

/* One command, one reply (up to 60 s: a drain of a big backlog). 0 or -errno. */
static int cons_call(enum cons_op op, unsigned int session, struct cons_reply *r)
{
	struct cons_cmd cmd = {.op = op, .session = session};
	struct pollfd p = {.fd = ctl_fd, .events = POLLIN};

	memset(r, 0, sizeof(*r));
	if (send(ctl_fd, &cmd, sizeof(cmd), MSG_NOSIGNAL) != sizeof(cmd))
		return -EPIPE;
	if (op == OP_QUIT)
		return 0;
	if (poll(&p, 1, 60000) != 1)
		return -ETIMEDOUT;
	if (recv(ctl_fd, r, sizeof(*r), 0) != sizeof(*r))
		return -EPIPE;
	return r->err;
}

static int consumer_start(char *why, size_t len)
{
	int sv[2], err = 0;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return snprintf(why, len, "socketpair: %s", strerror(errno)), -1;
	fflush(NULL);
	cons_pid = fork();
	if (cons_pid < 0)
		return snprintf(why, len, "fork: %s", strerror(errno)), -1;
	if (cons_pid == 0) {
		close(sv[0]);
		signal(SIGINT, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		consumer_child(sv[1], prod_cpu);
	}
	close(sv[1]);
	ctl_fd = sv[0];
	if (recv(ctl_fd, &err, sizeof(err), 0) != sizeof(err))
		return snprintf(why, len, "the consumer process died"), -1;
	if (err)
		return snprintf(why, len, "trace_consumer_new: %s", strerror(-err)), -1;
	return 0;
}

static void consumer_stop(void)
{
	struct cons_reply r;

	if (cons_pid <= 0)
		return;
	cons_call(OP_QUIT, 0, &r);
	waitpid(cons_pid, NULL, 0);
	cons_pid = -1;
}

/* ---- the kernel's trace event (tracefs) --------------------------------------------- */

#define KEV_GROUP "benchk"
#define KEV_NAME  "ev"

static char tfs_dir[64];
static char tfs_events[96], tfs_enable[128], tfs_profile[96], tfs_errlog[96];
static char kev_def[PATH_MAX + 64];
static volatile sig_atomic_t kev_live; /* the kernel event exists (maybe enabled) */
static volatile sig_atomic_t tfs_mounted;
static char kernel_why[WHY_LEN];

/* Append s to a tracefs file (O_APPEND: never truncate uprobe_events). Signal-safe. */
static int tfs_write(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

/* Disable and remove the kernel event if it exists. Signal-safe. */
static void kernel_remove(void)
{
	int err;

	if (!kev_live)
		return;
	tfs_write(tfs_enable, "0");
	/* ENOENT: the main thread removed it just before a signal came. */
	err = tfs_write(tfs_events, "-:" KEV_GROUP "/" KEV_NAME);
	if (!err || err == -ENOENT)
		kev_live = 0;
}

/* On every exit path, normal or by a signal: no kernel event left behind. */
static void kernel_cleanup(void)
{
	kernel_remove();
	if (tfs_mounted) {
		umount2(tfs_dir, MNT_DETACH);
		tfs_mounted = 0;
	}
}

static pid_t main_tid;

/*
 * Only the main thread creates, enables and removes the kernel event: a
 * signal taken by another thread (the library's, the producer) is passed on
 * to it, so that the cleanup never races with the main thread's own writes.
 */
static void on_signal(int sig)
{
	if ((pid_t)syscall(SYS_gettid) != main_tid) {
		syscall(SYS_tgkill, getpid(), main_tid, sig);
		return;
	}
	kernel_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_cleanup(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
	struct sigaction sa;

	main_tid = (pid_t)syscall(SYS_gettid);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(kernel_cleanup);
}

/* The last line of tracefs's error_log, "" when there is none. */
static void tfs_last_error(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen(tfs_errlog, "re");

	buf[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			snprintf(buf, len, "%s", line);
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

static int tfs_find(void)
{
	static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
	char p[128];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/uprobe_events", dirs[i]);
		if (!access(p, W_OK)) {
			snprintf(tfs_dir, sizeof(tfs_dir), "%s", dirs[i]);
			return 0;
		}
	}
	snprintf(tfs_dir, sizeof(tfs_dir), "%s", dirs[0]);
	if (mount("nodev", tfs_dir, "tracefs", 0, NULL)) {
		snprintf(kernel_why, sizeof(kernel_why), "mount -t tracefs nodev %s: %s", tfs_dir,
			 strerror(errno));
		return -1;
	}
	tfs_mounted = 1;
	printf("mounted tracefs on %s (unmounted at exit)\n", tfs_dir);
	snprintf(p, sizeof(p), "%s/uprobe_events", tfs_dir);
	if (access(p, W_OK)) {
		snprintf(kernel_why, sizeof(kernel_why), "%s: %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

/* The kernel writes an event's records only while tracing_on is 1 (the default). */
static bool tfs_tracing_on(void)
{
	char p[128];
	int c = '1';
	FILE *f;

	snprintf(p, sizeof(p), "%s/tracing_on", tfs_dir);
	f = fopen(p, "re");
	if (f) {
		c = fgetc(f);
		fclose(f);
	}
	return c != '0';
}

static void kernel_setup(void)
{
	uint64_t m;

	if (kernel_why[0])
		return;
	if (strpbrk(exe_path, " \t")) {
		snprintf(kernel_why, sizeof(kernel_why), "the path %s has a blank", exe_path);
		return;
	}
	if (!maps_offset((const void *)bench_trace_target, &m) && m != off_target)
		printf("warning: /proc/self/maps puts bench_trace_target at file offset 0x%" PRIx64
		       ", not 0x%" PRIx64 "\n",
		       m, off_target);
	install_cleanup();
	if (tfs_find())
		return;
	snprintf(tfs_events, sizeof(tfs_events), "%s/uprobe_events", tfs_dir);
	snprintf(tfs_enable, sizeof(tfs_enable), "%s/events/" KEV_GROUP "/" KEV_NAME "/enable",
		 tfs_dir);
	snprintf(tfs_profile, sizeof(tfs_profile), "%s/uprobe_profile", tfs_dir);
	snprintf(tfs_errlog, sizeof(tfs_errlog), "%s/error_log", tfs_dir);
	snprintf(kev_def, sizeof(kev_def),
		 "p:" KEV_GROUP "/" KEV_NAME " %s:0x%" PRIx64 " a=%%di b=%%si", exe_path,
		 off_target);
	/* A run killed by SIGKILL may have left it: the name is this program's own. */
	tfs_write(tfs_events, "-:" KEV_GROUP "/" KEV_NAME);
	printf("kernel event: %s%s\n", kev_def,
	       tfs_tracing_on() ? "" : " (tracing_on is 0: its records are not written)");
}

static int kernel_arm(struct variant *v)
{
	char log[256];
	int err;

	if (kernel_why[0])
		return snprintf(v->why, sizeof(v->why), "%s", kernel_why), -1;
	kev_live = 1; /* first: a signal during the write must still remove it */
	err = tfs_write(tfs_events, kev_def);
	if (err) {
		kev_live = 0;
		tfs_last_error(log, sizeof(log));
		snprintf(v->why, sizeof(v->why), "writing '%s' to %s: %s%s%s", kev_def, tfs_events,
			 strerror(-err), log[0] ? "; error_log: " : "", log);
		return -1;
	}
	err = tfs_write(tfs_enable, "1");
	if (err) {
		snprintf(v->why, sizeof(v->why), "%s: %s", tfs_enable, strerror(-err));
		kernel_remove();
		return -1;
	}
	snprintf(v->mode, sizeof(v->mode), "kernel");
	return 0;
}

/* The hits uprobe_profile counts for our event: "  PATH EVENT HITS" per line. */
static int kernel_hits(uint64_t *hits)
{
	char line[PATH_MAX + 128], path[PATH_MAX], ev[128];
	FILE *f = fopen(tfs_profile, "re");
	int ret = -1;
	uint64_t n;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f))
		if (sscanf(line, "%4095s %127s %" SCNu64, path, ev, &n) == 3 &&
		    !strcmp(path, exe_path) && !strcmp(ev, KEV_NAME)) {
			*hits = n;
			ret = 0;
		}
	fclose(f);
	return ret;
}

static int kernel_disarm(struct variant *v)
{
	uint64_t hits = 0;
	int err = tfs_write(tfs_enable, "0");

	if (err || kernel_hits(&hits)) {
		snprintf(v->why, sizeof(v->why), "%s",
			 err ? "disabling the kernel event failed" :
			       "no hit count in uprobe_profile");
		v->failed = true;
	}
	v->hits += hits;
	err = tfs_write(tfs_events, "-:" KEV_GROUP "/" KEV_NAME);
	if (err) {
		snprintf(v->why, sizeof(v->why), "removing the kernel event: %s", strerror(-err));
		v->failed = true;
		return -1;
	}
	kev_live = 0;
	return v->failed ? -1 : 0;
}

/* ---- part 1: per-hit cost ------------------------------------------------------------ */

static uint8_t text_orig[8]; /* bench_trace_target's first bytes, unprobed */

static bool text_intact(void)
{
	return !memcmp((const void *)bench_trace_target, text_orig, sizeof(text_orig));
}

static int disarm(struct variant *v, uint64_t calls);

static int probe_mode(struct variant *v, const struct uprobe *p)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	if (uprobe_get_info(p, &info))
		return snprintf(v->why, sizeof(v->why), "uprobe_get_info: %s", uprobe_last_error()),
		       -1;
	snprintf(v->mode, sizeof(v->mode), "%s", uprobe_mode_name(info.mode));
	return 0;
}

static void count_hits(struct variant *v, const struct uprobe *p)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	if (!uprobe_get_info(p, &info)) {
		v->hits += info.hits;
		v->ret_hits += info.ret_hits;
	}
}

static int arm(struct variant *v)
{
	struct uprobe_opts o = {
		.sz = sizeof(o),
		.handler = bench_empty_handler,
		.flags = UPROBE_F_HANDLER_NO_SIMD,
	};

	switch (v->kind) {
	case K_NATIVE:
		return 0;
	case K_KERNEL:
		return kernel_arm(v);
	case K_PROBE:
		v->probe = uprobe_attach(exe_path, "bench_trace_target", &o);
		break;
	case K_EVENT:
		v->ev = trace_event_attach(sessions[S_MAIN], specs[v->id], v->id);
		v->probe = v->ev ? trace_event_probe(v->ev) : NULL;
		break;
	}
	if (!v->probe) {
		snprintf(v->why, sizeof(v->why), "%s: %s: %s",
			 v->kind == K_PROBE ? "uprobe_attach" : "trace_event_attach",
			 strerror(errno), uprobe_last_error());
		v->failed = true;
		return -1;
	}
	if (probe_mode(v, v->probe)) {
		v->failed = true;
		disarm(v, 0);
		return -1;
	}
	return 0;
}

/* After an event's loop: the consumer drains what is left and reports. */
static int sync_event(struct variant *v, uint64_t calls)
{
	struct cons_reply r;
	int err = cons_call(OP_SYNC, S_MAIN, &r);
	uint64_t lost;

	if (err) {
		snprintf(v->why, sizeof(v->why), "consumer: %s", strerror(-err));
		v->failed = true;
		return -1;
	}
	lost = r.st.lost - main_lost;
	main_lost = r.st.lost;
	v->consumed += r.events[v->id];
	v->lost += lost;
	v->bad += r.bad + r.events[v->id == EV_P ? EV_R : EV_P];
	v->gaps += r.gaps;
	if (r.st.produced != r.st.consumed + r.st.lost)
		v->unbalanced++;
	if (calls != r.events[v->id] + lost)
		v->unaccounted++;
	return 0;
}

static int disarm(struct variant *v, uint64_t calls)
{
	int err = 0;

	v->calls += calls;
	if (v->kind == K_KERNEL)
		err = kernel_disarm(v);
	if (v->kind == K_PROBE || v->kind == K_EVENT) {
		count_hits(v, v->probe);
		err = v->kind == K_PROBE ? uprobe_detach(v->probe) : trace_event_detach(v->ev);
		if (err)
			snprintf(v->why, sizeof(v->why), "detach: %s", uprobe_last_error());
		if (v->kind == K_PROBE)
			uprobe_free(v->probe);
		else
			trace_event_free(v->ev);
		v->probe = NULL;
		v->ev = NULL;
	}
	if (!err && v->kind == K_EVENT)
		err = sync_event(v, calls);
	if (!err && !text_intact()) {
		snprintf(v->why, sizeof(v->why), "text not restored after detaching");
		err = -1;
	}
	if (err)
		v->failed = true;
	return err ? -1 : 0;
}

/* One measurement: ns per call over iters calls, or a negative value on failure. */
static double measure(struct variant *v, uint64_t iters)
{
	uint64_t t;

	if (arm(v)) {
		v->dead = true;
		return -1;
	}
	t = run_calls(iters);
	if (last_sum != expected_sum(iters))
		v->sum_bad++;
	if (disarm(v, iters)) {
		v->dead = true;
		return -2;
	}
	return (double)t / (double)iters;
}

/* Pick each row's iteration count so that one measurement lasts about ms. */
static void calibrate(unsigned int ms)
{
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];
		uint64_t n0 = v->kind == K_KERNEL ? 1u << 12 : 1u << 18;
		double ns, n;

		ns = measure(v, n0);
		if (ns < 0)
			continue;
		n = (double)ms * 1e6 / (ns > 0.1 ? ns : 0.1);
		v->iters = n < 64 ? 64 : n > 2e9 ? 2000000000u : (uint64_t)n;
	}
}

static void run_rounds(int rounds)
{
	for (int r = 0; r < rounds; r++) {
		/* Rotate the order so that no row always runs after the same one. */
		for (int j = 0; j < NVAR; j++) {
			struct variant *v = &variants[(j + r) % NVAR];
			double ns;

			if (v->dead)
				continue;
			ns = measure(v, v->iters);
			if (ns >= 0)
				v->ns[v->nr++] = ns;
		}
	}
}

static bool usable(const struct variant *v)
{
	return !v->dead && v->nr > 0;
}

static struct variant *by_key(const char *key)
{
	for (int i = 0; i < NVAR; i++)
		if (!strcmp(variants[i].key, key))
			return &variants[i];
	abort(); /* a key of the table above */
}

static double per_hit(const struct variant *v)
{
	return v->kind == K_NATIVE ? v->med : v->med - variants[0].med;
}

/* ---- parts 2 and 3: throughput and overload ---------------------------------------- */

struct producer {
	uint64_t max_calls, dur_ns; /* stop at whichever comes first */
	uint64_t calls, sum, t0, t1;
};

static void *producer_main(void *arg)
{
	struct producer *p = arg;
	uint64_t i = 0, acc = 0, end, deadline;

	p->t0 = now_ns();
	deadline = p->t0 + p->dur_ns;
	do {
		end = p->max_calls - i < CHUNK ? p->max_calls : i + CHUNK;
		for (; i < end; i++)
			acc += bench_trace_target(i, ARG_B);
	} while (i < p->max_calls && now_ns() < deadline);
	p->t1 = now_ns();
	p->calls = i;
	p->sum = acc;
	return NULL;
}

/* One producer thread against the consumer in one mode, the event attached meanwhile. */
struct flow {
	const char *label;
	bool ran, failed;
	char why[WHY_LEN];
	uint64_t produced, hits, consumed, lost, bad, gaps;
	uint64_t prod_ns, cons_ns, busy_ns;
	bool sum_bad, unbalanced;
};

static struct flow live = {.label = "live"}, backlog = {.label = "backlog"},
		   overload = {.label = "overload"};

/* The event attached, then the consumer's mode, then the producer: attaching is not timed. */
static int flow_produce(struct flow *f, unsigned int session, enum cons_op mode, struct producer *p,
			struct cons_reply *r)
{
	struct trace_event *ev = trace_event_attach(sessions[session], specs[EV_P], EV_P);
	struct uprobe_info info = {.sz = sizeof(info)};
	pthread_t t;
	int err;

	if (!ev)
		return snprintf(f->why, sizeof(f->why), "trace_event_attach: %s: %s",
				strerror(errno), uprobe_last_error()),
		       -1;
	err = cons_call(mode, session, r);
	if (err)
		snprintf(f->why, sizeof(f->why), "consumer: %s", strerror(-err));
	else if ((err = pthread_create(&t, NULL, producer_main, p)))
		snprintf(f->why, sizeof(f->why), "pthread_create: %s", strerror(err));
	else
		pthread_join(t, NULL);
	if (!uprobe_get_info(trace_event_probe(ev), &info))
		f->hits = info.hits;
	if (!err && trace_event_detach(ev)) {
		snprintf(f->why, sizeof(f->why), "trace_event_detach: %s", uprobe_last_error());
		err = -1;
	}
	trace_event_free(ev);
	return err ? -1 : 0;
}

static int run_flow(struct flow *f, unsigned int session, enum cons_op mode, struct producer *p)
{
	struct cons_reply r;
	uint64_t lost0;
	int err;

	f->ran = true;
	if (flow_produce(f, session, mode, p, &r)) {
		f->failed = true;
		return -1;
	}
	lost0 = r.st.lost; /* as the mode's reply found it */
	err = cons_call(OP_SYNC, session, &r);
	if (err) {
		snprintf(f->why, sizeof(f->why), "consumer: %s", strerror(-err));
		f->failed = true;
		return -1;
	}
	if (session == S_MAIN)
		main_lost = r.st.lost;
	f->produced = p->calls;
	f->consumed = r.events[EV_P];
	f->lost = r.st.lost - lost0;
	f->bad = r.bad + r.events[EV_R];
	f->gaps = r.gaps;
	f->prod_ns = p->t1 - p->t0;
	f->cons_ns = r.wall_ns;
	f->busy_ns = r.busy_ns;
	f->sum_bad = p->sum != expected_sum(p->calls);
	f->unbalanced = r.st.produced != r.st.consumed + r.st.lost;
	return 0;
}

static void run_flows(unsigned int ms, size_t ring_bytes)
{
	uint64_t rec_len = RAW_HDR + ((rec_fixed + 7u) & ~7u);
	uint64_t live_ms = 5 * (uint64_t)ms;
	struct producer p;

	/* 2a: about a second of calls while the consumer drains. */
	live_ms = live_ms < 200 ? 200 : live_ms > 1000 ? 1000 : live_ms;
	p = (struct producer){.max_calls = UINT64_MAX, .dur_ns = live_ms * 1000000};
	run_flow(&live, S_MAIN, OP_FAST, &p);
	/* 2b: half a ring written while the consumer waits, then drained alone. */
	p = (struct producer){.max_calls = ring_bytes / rec_len / 2, .dur_ns = UINT64_MAX / 2};
	run_flow(&backlog, S_MAIN, OP_PAUSE, &p);
	/* 3: a small ring, a consumer that polls every millisecond. */
	p = (struct producer){.max_calls = UINT64_MAX, .dur_ns = (uint64_t)ms * 1000000};
	run_flow(&overload, S_OVERLOAD, OP_SLOW, &p);
}

static double per_s(uint64_t n, uint64_t ns)
{
	return ns ? (double)n * 1e9 / (double)ns : 0;
}

/* ---- output ------------------------------------------------------------------------ */

static int n_fail, n_warn;

/* One check line: PASS, or FAIL (counted: the exit status) or WARN (not counted). */
static void __attribute__((format(printf, 3, 4)))
check(bool ok, bool warn_only, const char *fmt, ...)
{
	va_list ap;

	printf("%s  ", ok ? "PASS" : warn_only ? "WARN" : "FAIL");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	if (!ok)
		*(warn_only ? &n_warn : &n_fail) += 1;
}

static void print_table(void)
{
	printf("\n%-30s %-10s %9s %9s %17s %11s %11s %6s\n", "variant", "mode", "ns/call", "ns/hit",
	       "ns/call min..max", "calls", "consumed", "lost");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];
		char range[32], hit[16] = "-", cons[24] = "-", lost[24] = "-";

		if (!usable(v)) {
			printf("%-30s %-10s %9s %9s\n", v->label, "-", "n/a", "n/a");
			continue;
		}
		snprintf(range, sizeof(range), "%.1f..%.1f", v->lo, v->hi);
		if (v->kind != K_NATIVE)
			snprintf(hit, sizeof(hit), "%.1f", per_hit(v));
		if (v->kind == K_EVENT) {
			snprintf(cons, sizeof(cons), "%" PRIu64, v->consumed);
			snprintf(lost, sizeof(lost), "%" PRIu64, v->lost);
		}
		printf("%-30s %-10s %9.1f %9s %17s %11" PRIu64 " %11s %6s\n", v->label,
		       v->kind == K_NATIVE ? "-" : v->mode, v->med, hit, range, v->calls, cons,
		       lost);
	}
	printf("ns/hit: ns/call minus the unprobed call's. Medians over the rounds;\n"
	       "calls, consumed and lost: totals over every measurement (calibration included).\n");
}

/* What limits the live figure: the consumer if it lost records, else whoever waited. */
static const char *live_bound(void)
{
	if (live.lost)
		return "it fell behind\n(records lost): the live figure is the consumer's rate "
		       "while a "
		       "producer runs";
	if ((double)live.busy_ns < 0.9 * (double)live.cons_ns)
		return "it waited for\nthe producer the rest: the live figure is producer-bound; "
		       "the "
		       "backlog row is the consumer's\nown rate";
	return "it kept up,\nbarely: the live figure is about the consumer's rate while a producer "
	       "runs";
}

/* A row of the throughput table: n records in ns; blank columns for what the row is not about. */
static void flow_row(const char *label, const struct flow *f, bool prod, bool cons, uint64_t n,
		     uint64_t ns)
{
	char p[24] = "", c[24] = "", l[24] = "";

	if (!f->ran || f->failed) {
		printf("%-46s %11s\n", label, "n/a");
		return;
	}
	if (prod)
		snprintf(p, sizeof(p), "%" PRIu64, f->produced);
	if (cons) {
		snprintf(c, sizeof(c), "%" PRIu64, f->consumed);
		snprintf(l, sizeof(l), "%" PRIu64, f->lost);
	}
	printf("%-46s %11s %11s %9s %9.1f %14.0f\n", label, p, c, l, (double)ns / 1e6,
	       per_s(n, ns));
}

static void print_flows(size_t ring_bytes)
{
	const struct flow *b = &backlog, *o = &overload;
	char label[96];

	printf("\n%-46s %11s %11s %9s %9s %14s\n", "throughput (event p:)", "produced", "consumed",
	       "lost", "ms", "events/s");
	flow_row("producer: one thread, consumer draining", &live, true, false, live.produced,
		 live.prod_ns);
	flow_row("consumer (other process): live", &live, false, true, live.consumed, live.cons_ns);
	snprintf(label, sizeof(label), "consumer: backlog of %" PRIu64 ", drained alone",
		 b->produced);
	flow_row(label, b, true, true, b->consumed, b->cons_ns);
	flow_row("overload: 1 ring of 64 KiB, a poll per ms", o, true, true, o->produced,
		 o->prod_ns);
	printf("ms and events/s: the producer's for the producer and overload rows, the consumer's "
	       "for\nthe others (live: from its start to the last record; backlog: its drain).\n");
	if (live.ran && !live.failed && live.cons_ns)
		printf("live: the consumer spent %.0f%% of its time in polls that returned "
		       "records: %s\n",
		       100.0 * (double)live.busy_ns / (double)live.cons_ns, live_bound());
	if (live.ran && !live.failed && b->ran && !b->failed && live.produced && b->produced)
		printf("producer: %.1f ns/call while the consumer drains (live), %.1f while it is\n"
		       "paused (backlog: a short run, %.0f ms)\n",
		       (double)live.prod_ns / (double)live.produced,
		       (double)b->prod_ns / (double)b->produced, (double)b->prod_ns / 1e6);
	printf("main session: 2 rings of %zu MiB; records of %u bytes (header %d + payload %u)\n",
	       ring_bytes >> 20, RAW_HDR + ((rec_fixed + 7u) & ~7u), RAW_HDR, rec_fixed);
}

static void check_variant(const struct variant *v)
{
	const char *l = v->label;

	if (v->dead && !v->failed) {
		printf("n/a   %s: not measured: %s\n", l, v->why);
		return;
	}
	if (v->failed)
		check(false, false, "%s: %s", l, v->why);
	check(!v->sum_bad, false, "%s: every call returned a + b", l);
	if (v->kind == K_NATIVE)
		return;
	check(v->hits == v->calls, false, "%s: hits %" PRIu64 " == calls %" PRIu64, l, v->hits,
	      v->calls);
	if (v->kind != K_EVENT)
		return;
	if (v->id == EV_R)
		check(v->ret_hits == v->calls, false, "%s: return hits %" PRIu64 " == calls", l,
		      v->ret_hits);
	check(!v->unaccounted && v->calls == v->consumed + v->lost, false,
	      "%s: produced %" PRIu64 " == consumed %" PRIu64 " + lost %" PRIu64
	      " (every loop: %" PRIu64 " off)",
	      l, v->calls, v->consumed, v->lost, v->unaccounted);
	check(!v->bad && (v->lost || !v->gaps), false,
	      "%s: records: pid, flags, no fault, b, a in sequence (%" PRIu64 " wrong, %" PRIu64
	      " gaps)",
	      l, v->bad, v->gaps);
	check(!v->unbalanced, false, "%s: ring counters produced == consumed + lost after drains",
	      l);
	check(!v->lost, true, "%s: lost %" PRIu64 " == 0 (big ring, live consumer)", l, v->lost);
}

static void check_flow(const struct flow *f, bool want_loss)
{
	const char *l = f->label;

	if (!f->ran || f->failed) {
		check(false, false, "%s: %s", l, f->why);
		return;
	}
	check(!f->sum_bad, false, "%s: every call returned a + b", l);
	check(f->hits == f->produced, false, "%s: hits %" PRIu64 " == calls", l, f->hits);
	check(f->produced == f->consumed + f->lost, false,
	      "%s: produced %" PRIu64 " == consumed %" PRIu64 " + lost %" PRIu64, l, f->produced,
	      f->consumed, f->lost);
	check(!f->bad && (f->lost || !f->gaps), false,
	      "%s: records: pid, flags, no fault, b, a in sequence (%" PRIu64 " wrong, %" PRIu64
	      " gaps)",
	      l, f->bad, f->gaps);
	check(!f->unbalanced, false, "%s: ring counters produced == consumed + lost after drain",
	      l);
	if (want_loss)
		check(f->lost > 0, false, "%s: lost %" PRIu64 " > 0", l, f->lost);
	else
		check(!f->lost, true, "%s: lost %" PRIu64 " == 0", l, f->lost);
}

static void print_checks(void)
{
	printf("\nchecks:\n");
	for (int i = 0; i < NVAR; i++)
		check_variant(&variants[i]);
	check_flow(&live, false);
	check_flow(&backlog, false);
	check_flow(&overload, true);
	printf("%d failed, %d warnings\n", n_fail, n_warn);
}

static bool write_ns(double *out)
{
	const struct variant *e = by_key("event_ns"), *p = by_key("probe_ns");

	if (!usable(e) || !usable(p))
		return false;
	*out = e->med - p->med;
	return true;
}

static void print_targets(void)
{
	double w, c = per_s(live.consumed, live.cons_ns);
	bool have_c = live.ran && !live.failed;

	printf("\ntargets (issue 5), measured:\n");
	if (write_ns(&w))
		printf("  event_write_ns        %6.1f ns above the empty probe, target <= %.0f ns: "
		       "%s %.1f ns\n",
		       w, TARGET_WRITE_NS, w <= TARGET_WRITE_NS ? "met with" : "MISSED by",
		       w <= TARGET_WRITE_NS ? TARGET_WRITE_NS - w : w - TARGET_WRITE_NS);
	else
		printf("  event_write_ns        n/a, target <= %.0f ns\n", TARGET_WRITE_NS);
	if (!have_c) {
		printf("  consumer_events_per_s n/a, target >= %.0f million/s\n",
		       TARGET_CONSUMER_PS / 1e6);
		return;
	}
	printf("  consumer_events_per_s %6.1f million/s live, target >= %.0f million/s: %s",
	       c / 1e6, TARGET_CONSUMER_PS / 1e6, c >= TARGET_CONSUMER_PS ? "met" : "MISSED");
	if (c < TARGET_CONSUMER_PS && !live.lost &&
	    (double)live.busy_ns < 0.9 * (double)live.cons_ns)
		printf(" (producer-bound: one thread produced %.1f million/s)",
		       per_s(live.produced, live.prod_ns) / 1e6);
	printf("\n");
	if (backlog.ran && !backlog.failed)
		printf("  consumer, backlog     %6.1f million/s drained alone: %s\n",
		       per_s(backlog.consumed, backlog.cons_ns) / 1e6,
		       per_s(backlog.consumed, backlog.cons_ns) >= TARGET_CONSUMER_PS ? "met" :
											"MISSED");
}

static void print_summary(void)
{
	double w;

	printf("\nsummary:");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];

		if (usable(v))
			printf(" %s=%.1f", v->key, per_hit(v));
		else
			printf(" %s=n/a", v->key);
		if (v->kind == K_EVENT && v->id == EV_P && write_ns(&w))
			printf(" event_write_ns=%.1f", w);
		else if (v->kind == K_EVENT && v->id == EV_P)
			printf(" event_write_ns=n/a");
	}
	if (live.ran && !live.failed)
		printf(" consumer_events_per_s=%.0f produced=%" PRIu64 " consumed=%" PRIu64
		       " lost=%" PRIu64,
		       per_s(live.consumed, live.cons_ns), live.produced, live.consumed, live.lost);
	else
		printf(" consumer_events_per_s=n/a produced=n/a consumed=n/a lost=n/a");
	if (overload.ran && !overload.failed)
		printf(" overload_produced=%" PRIu64 " overload_consumed=%" PRIu64
		       " overload_lost=%" PRIu64 "\n",
		       overload.produced, overload.consumed, overload.lost);
	else
		printf(" overload_produced=n/a overload_consumed=n/a overload_lost=n/a\n");
}

/* ---- set-up ------------------------------------------------------------------------ */

static int parse_specs(void)
{
	static const char *const fmt[N_IDS] = {
		[EV_P] = "p:bench/ev %s:bench_trace_target a=%%di b=%%si",
		[EV_R] = "r:bench/ev_ret %s:bench_trace_target a=%%di b=%%si",
	};
	struct trace_layout lay[N_IDS];
	char line[PATH_MAX + 128];

	for (int i = 0; i < N_IDS; i++) {
		struct trace_error err;

		memset(&err, 0, sizeof(err));
		snprintf(line, sizeof(line), fmt[i], exe_path);
		specs[i] = trace_spec_parse(line, &err);
		if (!specs[i])
			return fprintf(stderr, "trace_spec_parse(%s): %s at column %d ('%s'): %s\n",
				       line, strerror(errno), err.column, err.token, err.msg),
			       -1;
		if (trace_layout_of(specs[i], &lay[i]) || lay[i].n_fields != 2)
			return fprintf(stderr, "trace_layout_of(%s) failed\n", line), -1;
		printf("event %d: %s\n", i, line);
	}
	if (lay[EV_P].fixed_len != lay[EV_R].fixed_len ||
	    lay[EV_P].fields[0].offset != lay[EV_R].fields[0].offset ||
	    lay[EV_P].fields[1].offset != lay[EV_R].fields[1].offset)
		return fprintf(stderr, "the two events' layouts differ\n"), -1;
	off_a = lay[EV_P].fields[0].offset;
	off_b = lay[EV_P].fields[1].offset;
	rec_fixed = lay[EV_P].fixed_len;
	return 0;
}

static int make_sessions(size_t ring_bytes)
{
	struct trace_session_opts o[N_SESSIONS] = {
		[S_MAIN] = {.sz = sizeof(o[0]), .n_rings = 2, .ring_bytes = ring_bytes},
		[S_OVERLOAD] = {.sz = sizeof(o[0]), .n_rings = 1, .ring_bytes = 64 << 10},
	};

	for (int i = 0; i < N_SESSIONS; i++) {
		sessions[i] = trace_session_new(&o[i]);
		if (!sessions[i])
			return fprintf(stderr, "trace_session_new(%u rings of %zu bytes): %s: %s\n",
				       o[i].n_rings, o[i].ring_bytes, strerror(errno),
				       uprobe_last_error()),
			       -1;
	}
	return 0;
}

static void setup_target(void)
{
	struct uprobe_info info = {.sz = sizeof(info)};
	char why[WHY_LEN];

	memcpy(text_orig, (const void *)bench_trace_target, sizeof(text_orig));
	if (!realpath("/proc/self/exe", exe_path)) {
		snprintf(kernel_why, sizeof(kernel_why), "realpath(/proc/self/exe): %s",
			 strerror(errno));
		return;
	}
	if (elf_sym_offset(exe_path, "bench_trace_target", &off_target, why, sizeof(why)))
		snprintf(kernel_why, sizeof(kernel_why), "%s", why);
	else
		printf("%s: bench_trace_target at file offset 0x%" PRIx64 "\n", exe_path,
		       off_target);
	if (uprobe_analyze(exe_path, "bench_trace_target", UPROBE_F_HANDLER_NO_SIMD, &info))
		printf("uprobe_analyze(bench_trace_target): %s\n", uprobe_last_error());
	else
		printf("uprobe_analyze(bench_trace_target): mode %s, %s (%s)%s%s\n",
		       uprobe_mode_name(info.mode), info.insn_text, info.reason,
		       info.opt_reason[0] ? "; not optimized: " : "", info.opt_reason);
}

static void teardown(void)
{
	consumer_stop();
	for (int i = 0; i < N_SESSIONS; i++)
		trace_session_free(sessions[i]);
	for (int i = 0; i < N_IDS; i++)
		trace_spec_free(specs[i]);
	kernel_cleanup();
}

/* The sessions, the consumer process, the kernel event's set-up: 0, or -1 after a message. */
static int setup(size_t ring_bytes)
{
	char why[WHY_LEN] = "";
	struct cons_reply r;
	int err;

	prod_cpu = pin_to_current_cpu();
	if (prod_cpu >= 0)
		printf("producer pinned to cpu %d of %ld online; the consumer process runs on the "
		       "others\n", prod_cpu, sysconf(_SC_NPROCESSORS_ONLN));
	setup_target();
	if (!exe_path[0] || parse_specs() || make_sessions(ring_bytes))
		return -1;
	err = consumer_start(why, sizeof(why));
	if (!err && (err = cons_call(OP_FAST, S_MAIN, &r)))
		snprintf(why, sizeof(why), "%s", strerror(-err));
	if (err) {
		fprintf(stderr, "bench_trace: consumer process: %s\n", why);
		return -1;
	}
	kernel_setup();
	if (kernel_why[0])
		printf("kernel event: n/a: %s\n", kernel_why);
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int ms = 200, mib = 64;
	int rounds = 7, opt;

	while ((opt = getopt(argc, argv, "r:t:m:")) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 't')
			ms = (unsigned int)atoi(optarg);
		else if (opt == 'm')
			mib = (unsigned int)atoi(optarg);
		else
			return fprintf(stderr, "usage: %s [-r rounds] [-t ms] [-m MiB per ring]\n",
				       argv[0]),
			       2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || ms < 1 || !mib || (mib & (mib - 1)))
		return fprintf(stderr, "bench_trace: rounds 1..%d, ms >= 1, MiB a power of two\n",
			       MAX_ROUNDS),
		       2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	printf("bench_trace: the trace-event pipeline (issue 5): per-hit cost, consumer "
	       "throughput, overload\n");
	if (setup((size_t)mib << 20)) {
		teardown();
		return 1;
	}
	calibrate(ms);
	printf("%d rounds, about %u ms per measurement, rows interleaved\n", rounds, ms);
	run_rounds(rounds);
	for (int i = 0; i < NVAR; i++)
		if (usable(&variants[i]))
			spread(variants[i].ns, variants[i].nr, &variants[i].lo, &variants[i].med,
			       &variants[i].hi);
	run_flows(ms, (size_t)mib << 20);
	teardown();

	print_table();
	print_flows((size_t)mib << 20);
	print_checks();
	print_targets();
	print_summary();
	return n_fail ? 1 : 0;
}
