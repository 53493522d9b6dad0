/* SPDX-License-Identifier: MIT */
/*
 * bench_trace's consumer: a forked child that maps the sessions' memfds with
 * trace_consumer_new and drains them, driven over a socketpair (the protocol
 * is in bench_trace.h). After each measurement it drains what is left and
 * reports what it saw; every record is checked (pid, flags, no fault bit,
 * b == ARG_B, a increasing by one).
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_trace.h"
#include "bench_util.h"

struct cons_cmd {
	uint32_t op, session;
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

#define CONS_BATCH  4096 /* records: fewer in a poll means caught up */
#define CONS_NAP_US 200

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
			nanosleep(&(struct timespec){.tv_nsec = CONS_NAP_US * 1000}, NULL);
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

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	bench_pin_others(parent_cpu); /* not the producer's CPU, when there is another one */
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

int cons_call(enum cons_op op, unsigned int session, struct cons_reply *r)
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

int consumer_start(int prod_cpu, char *why, size_t len)
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

void consumer_stop(void)
{
	struct cons_reply r;

	if (cons_pid <= 0)
		return;
	cons_call(OP_QUIT, 0, &r);
	waitpid(cons_pid, NULL, 0);
	cons_pid = -1;
}
