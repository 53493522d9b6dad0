/* SPDX-License-Identifier: MIT */
/*
 * Rings under load: producer threads in this process, the consumer in a
 * forked child (it maps the inherited memfd, as a tracer would). Every record
 * carries its thread's sequence number (one per reservation attempt, failed
 * or not) and a payload that checks itself, so the child can tell a torn
 * record, a reordered one and a gap, and every gap must be a loss the
 * producer counted. Then signal handlers that write records while their
 * thread is between reserve and commit.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "testlib.h"
#include "ring_test.h"

#define NT	  4
#define TS_TOL_NS 200000 /* ts_ns against the producer's clock_gettime */

struct mt_cfg {
	const char *name;
	unsigned int n_rings;
	size_t ring_bytes;
	uint64_t per_thread;
	unsigned int nap_us;  /* consumer: 0 polls with a timeout, else polls then naps */
	unsigned int pace_ns; /* producers: at most one record per pace_ns each */
};

/* What the producers report once joined. */
struct mt_done {
	uint64_t attempts[NT], failed[NT];
	uint32_t tids[NT];
};

/* What the consumer child found. */
struct mt_result {
	int err;
	uint64_t seen[NT], gaps[NT]; /* gaps include the missing tail */
	uint64_t bad_payload, bad_meta, bad_order, ts_back, ts_far, max_ts_err;
	struct trace_ring_stats st;
};

struct mt_state {
	struct mt_result res;
	uint64_t next_seq[NT], last_ts[NT];
	uint32_t tid[NT]; /* the first record's */
	uint32_t ppid;
};

static struct trace_rings *mt_rings;
static const struct mt_cfg *mt_cur;

/* 4 + 0..28 payload words: records of 88 to 312 bytes. */
static uint32_t mt_words(uint64_t seq, unsigned int idx)
{
	return 4 + (uint32_t)((seq * 13 + idx * 7) % 29);
}

static void mt_write(struct trace_raw *r, unsigned int idx, uint32_t tid, uint64_t seq, uint32_t nw)
{
	uint64_t *w = (uint64_t *)(r + 1);

	w[2] = mono_ns();
	raw_fill(r, TRACE_RAW_EVENT, idx, tid, seq);
	w[3] = mono_ns();
	w[0] = seq;
	w[1] = (uint64_t)idx << 32 | nw;
	for (uint32_t i = 4; i < nw; i++)
		w[i] = mix(seq, idx, i);
	trace_ring_commit(r);
}

struct producer {
	pthread_t th;
	unsigned int idx;
	uint32_t tid;
	uint64_t attempts, failed;
};

static void *mt_producer(void *arg)
{
	struct producer *p = arg;

	uint64_t next = mono_ns();

	p->tid = (uint32_t)gettid();
	for (uint64_t seq = 0; seq < mt_cur->per_thread; seq++) {
		uint32_t nw = mt_words(seq, p->idx);
		struct trace_raw *r;

		for (next += mt_cur->pace_ns; mt_cur->pace_ns && mono_ns() < next;)
			;
		r = trace_ring_reserve(mt_rings, RAW_HDR + 8 * nw, 0);

		p->attempts++;
		if (!r)
			p->failed++;
		else
			mt_write(r, p->idx, p->tid, seq, nw);
	}
	return NULL;
}

static bool mt_payload_ok(const struct trace_record *rec, unsigned int idx, uint64_t seq)
{
	const uint64_t *w = (const uint64_t *)rec->data;
	uint32_t nw = mt_words(seq, idx);

	if (rec->data_len != 8 * nw || w[1] != ((uint64_t)idx << 32 | nw))
		return false;
	for (uint32_t i = 4; i < nw; i++)
		if (w[i] != mix(seq, idx, i))
			return false;
	return true;
}

static void mt_check_ts(struct mt_state *s, const struct trace_record *rec, unsigned int idx)
{
	const uint64_t *w = (const uint64_t *)rec->data;
	uint64_t err = 0;

	if (rec->ts_ns < s->last_ts[idx])
		s->res.ts_back++;
	s->last_ts[idx] = rec->ts_ns;
	if (rec->ts_ns < w[2])
		err = w[2] - rec->ts_ns;
	else if (rec->ts_ns > w[3])
		err = rec->ts_ns - w[3];
	if (err > s->res.max_ts_err)
		s->res.max_ts_err = err;
	s->res.ts_far += err > TS_TOL_NS;
}

static int mt_on_record(const struct trace_record *rec, void *ctx)
{
	struct mt_state *s = ctx;
	unsigned int idx = rec->event_id;
	uint64_t seq;

	if (idx >= NT || rec->data_len < 32) {
		s->res.bad_payload++;
		return 0;
	}
	seq = ((const uint64_t *)rec->data)[0];
	if (!mt_payload_ok(rec, idx, seq))
		s->res.bad_payload++;
	if (rec->pid != s->ppid || rec->ip != seq || rec->func != ~seq || rec->flags != (seq & 1) ||
	    rec->cpu != (seq & 0x3ff) || rec->entry_ts_ns)
		s->res.bad_meta++;
	if (!s->tid[idx])
		s->tid[idx] = rec->tid;
	s->res.bad_meta += rec->tid != s->tid[idx];
	if (seq < s->next_seq[idx])
		s->res.bad_order++;
	else
		s->res.gaps[idx] += seq - s->next_seq[idx];
	s->next_seq[idx] = seq + 1;
	s->res.seen[idx]++;
	mt_check_ts(s, rec, idx);
	return 0;
}

/*
 * Reads while the producers run; once they are joined (done arrives), drains
 * what is left. However long they take: producers that never end are
 * tests/run.sh's to stop.
 */
static void mt_consume(struct trace_consumer *c, int sock, struct mt_state *s)
{
	struct pollfd pfd = {.fd = sock, .events = POLLIN};
	struct mt_done done;
	int n;

	while (poll(&pfd, 1, 0) != 1) {
		n = trace_consumer_poll(c, mt_cur->nap_us ? 0 : 5, mt_on_record, s);
		if (n < 0) {
			s->res.err = n;
			return;
		}
		if (mt_cur->nap_us)
			usleep(mt_cur->nap_us);
	}
	if (recv(sock, &done, sizeof(done), MSG_WAITALL) != sizeof(done)) {
		s->res.err = -EPIPE;
		return;
	}
	do /* every record is committed by now */
		n = trace_consumer_poll(c, 0, mt_on_record, s);
	while (n > 0);
	if (n < 0) {
		s->res.err = n;
		return;
	}
	for (int i = 0; i < NT; i++) {
		s->res.gaps[i] += done.attempts[i] - s->next_seq[i];
		s->res.bad_meta += s->res.seen[i] && s->tid[i] != done.tids[i];
	}
	s->res.st.sz = sizeof(s->res.st);
	s->res.err = trace_consumer_stats(c, &s->res.st);
}

static void mt_child(int fd, int sock)
{
	struct mt_state *s = calloc(1, sizeof(*s));
	struct trace_consumer *c = trace_consumer_new(fd);
	int err = c ? 0 : -errno;

	s->ppid = (uint32_t)getppid();
	send(sock, &err, sizeof(err), 0);
	if (c)
		mt_consume(c, sock, s);
	send(sock, &s->res, sizeof(s->res), 0);
	trace_consumer_free(c);
	_exit(0);
}

/* The consumer is forked before the producers start; returns its findings. */
static int mt_run(const struct mt_cfg *cfg, struct mt_done *done, struct mt_result *res)
{
	struct producer p[NT] = {{0}};
	int sv[2], err = -1, status;
	pid_t pid;

	mt_cur = cfg;
	mt_rings = trace_rings_new(cfg->n_rings, cfg->ring_bytes);
	if (!mt_rings || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv))
		return -errno;
	pid = fork();
	if (pid == 0) {
		close(sv[0]);
		mt_child(trace_rings_fd(mt_rings), sv[1]);
	}
	close(sv[1]);
	if (pid < 0 || recv(sv[0], &err, sizeof(err), 0) != sizeof(err) || err)
		goto out;
	for (int i = 0; i < NT; i++) {
		p[i].idx = (unsigned int)i;
		pthread_create(&p[i].th, NULL, mt_producer, &p[i]);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(p[i].th, NULL);
		done->attempts[i] = p[i].attempts;
		done->failed[i] = p[i].failed;
		done->tids[i] = p[i].tid;
	}
	send(sv[0], done, sizeof(*done), 0);
	err = recv(sv[0], res, sizeof(*res), 0) == sizeof(*res) ? res->err : -EPIPE;
out:
	close(sv[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	trace_rings_free(mt_rings);
	return err;
}

/* Every record seen once, in its thread's order, intact; every gap a counted loss. */
static void mt_check(const struct mt_cfg *cfg, int want_lost)
{
	struct mt_done done;
	struct mt_result res;
	uint64_t attempts = 0, failed = 0, seen = 0;
	int err;

	memset(&done, 0, sizeof(done));
	memset(&res, 0, sizeof(res));
	err = mt_run(cfg, &done, &res);

	CHECK_EQ_INT(err, 0);
	for (int i = 0; i < NT; i++) {
		CHECK_EQ_U64(done.attempts[i], cfg->per_thread);
		CHECK_EQ_U64(res.seen[i] + done.failed[i], done.attempts[i]);
		CHECK_EQ_U64(res.gaps[i], done.failed[i]);
		attempts += done.attempts[i];
		failed += done.failed[i];
		seen += res.seen[i];
	}
	CHECK_EQ_U64(res.bad_payload, 0);
	CHECK_EQ_U64(res.bad_meta, 0);
	CHECK_EQ_U64(res.bad_order, 0);
	CHECK_EQ_U64(res.ts_back, 0);
	CHECK_EQ_U64(res.ts_far, 0);
	CHECK_EQ_U64(res.st.produced, attempts);
	CHECK_EQ_U64(res.st.consumed, seen);
	CHECK_EQ_U64(res.st.lost, failed);
	if (want_lost == 0) {
		CHECK_EQ_U64(res.st.lost, 0);
		CHECK_EQ_U64(res.st.lost_rings, 0);
		CHECK_EQ_U64(seen, NT * cfg->per_thread);
	} else if (want_lost > 0) {
		CHECK(res.st.lost > 0);
		CHECK(res.st.lost_rings >= 1 && res.st.lost_rings <= cfg->n_rings);
		CHECK(seen > 0);
	}
	printf("  %s: %u rings x %zu B, %d threads x %llu: consumed %llu lost %llu (rings %llu), "
	       "max |ts_ns - clock_gettime| %.1f us\n",
	       cfg->name, cfg->n_rings, cfg->ring_bytes, NT, (unsigned long long)cfg->per_thread,
	       (unsigned long long)res.st.consumed, (unsigned long long)res.st.lost,
	       (unsigned long long)res.st.lost_rings, res.max_ts_err / 1000.0);
}

/*
 * One thread owns ring 1, three share ring 0 (CAS); each ring holds all its
 * records: nothing may be lost.
 */
static void mt_big_ring(void)
{
	static const struct mt_cfg cfg = {"big", 2, 16u << 20, 20000, 0, 0};

	mt_check(&cfg, 0);
}

/* 5 rings: each of the 4 threads owns one and writes without a CAS. */
static void mt_owned_rings(void)
{
	static const struct mt_cfg cfg = {"owned", 5, 4u << 20, 20000, 0, 0};

	mt_check(&cfg, 0);
}

/*
 * 16 KiB rings, producers at up to 1 record per 2 us each, the consumer
 * keeping up or not (2 CPUs for 5 threads): rings wrap many times, losses may
 * happen, all accounted for.
 */
static void mt_medium_ring(void)
{
	static const struct mt_cfg cfg = {"medium", 2, 16u << 10, 50000, 0, 2000};

	mt_check(&cfg, -1);
}

/* 8 KiB rings, a consumer napping 300 us between polls: losses, all accounted for. */
static void mt_overload(void)
{
	static const struct mt_cfg cfg = {"overload", 2, 8u << 10, 50000, 300, 0};

	mt_check(&cfg, 1);
}

/* ---- signal handlers writing records ---------------------------------------------- */

static struct trace_rings *sig_rings;
static volatile uint64_t sig_seq, sig_failed;

/* A record of kind 1 (the handler's), 64 bytes. */
static void sig_writer(int sig)
{
	struct trace_raw *r = trace_ring_reserve(sig_rings, RAW_HDR + 8, 0);

	(void)sig;
	if (!r) {
		sig_failed++;
		return;
	}
	raw_fill(r, TRACE_RAW_EVENT, 1, (uint32_t)gettid(), sig_seq);
	*(uint64_t *)(r + 1) = mix(sig_seq, 1, 0);
	sig_seq++;
	trace_ring_commit(r);
}

static void sig_writer2(int sig)
{
	sig_writer(sig);
	sig_writer(sig);
}

struct seq_log {
	uint64_t n, ids[8], ips[8], bad;
};

static int log_record(const struct trace_record *rec, void *ctx)
{
	struct seq_log *l = ctx;

	if (l->n < 8) {
		l->ids[l->n] = rec->event_id;
		l->ips[l->n] = rec->ip;
	}
	if (rec->data_len < 8 || *(const uint64_t *)rec->data != mix(rec->ip, rec->event_id, 0))
		l->bad++;
	l->n++;
	return 0;
}

/*
 * Reserve, then a signal whose handler writes two records, then commit: the
 * consumer sees nothing while the outer record is busy, then all three in
 * ring order (the outer one first: it reserved first).
 */
static void signal_nested(void)
{
	struct sigaction sa = {.sa_handler = sig_writer2}, old;
	struct seq_log l = {0};
	struct trace_ring_stats st = {.sz = sizeof(st)};
	struct trace_consumer *c;
	struct trace_raw *outer;

	sig_rings = trace_rings_new(1, 4096);
	c = trace_consumer_new(trace_rings_fd(sig_rings));
	CHECK(sig_rings && c);
	if (!c)
		return;
	sig_seq = 0;
	sigaction(SIGUSR1, &sa, &old);
	outer = trace_ring_reserve(sig_rings, RAW_HDR + 8, 0);
	raw_fill(outer, TRACE_RAW_EVENT, 0, (uint32_t)gettid(), 100);
	*(uint64_t *)(outer + 1) = mix(100, 0, 0);
	raise(SIGUSR1);
	sigaction(SIGUSR1, &old, NULL);
	CHECK_EQ_U64(sig_seq, 2);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, log_record, &l), 0);
	CHECK_EQ_INT(trace_consumer_stats(c, &st), 0);
	CHECK_EQ_U64(st.produced, 3); /* one busy, two committed, all pending */
	CHECK_EQ_U64(st.consumed, 0);
	trace_ring_commit(outer);
	CHECK_EQ_INT(trace_consumer_poll(c, 0, log_record, &l), 3);
	CHECK_EQ_U64(l.n, 3);
	CHECK_EQ_U64(l.bad, 0);
	CHECK_EQ_U64(l.ids[0], 0);
	CHECK_EQ_U64(l.ips[0], 100);
	CHECK_EQ_U64(l.ids[1], 1);
	CHECK_EQ_U64(l.ips[1], 0);
	CHECK_EQ_U64(l.ids[2], 1);
	CHECK_EQ_U64(l.ips[2], 1);
	CHECK_EQ_INT(trace_consumer_stats(c, &st), 0);
	CHECK_EQ_U64(st.produced, 3);
	CHECK_EQ_U64(st.consumed, 3);
	CHECK_EQ_U64(st.lost, 0);
	trace_consumer_free(c);
	trace_rings_free(sig_rings);
}

struct storm_log {
	uint64_t next[2], n[2], bad, order;
	uint64_t sum[2];   /* of the sequence numbers seen */
	int handler_order; /* check the handler's order too (one ring) */
};

static int storm_record(const struct trace_record *rec, void *ctx)
{
	struct storm_log *l = ctx;
	unsigned int k = rec->event_id;
	const uint64_t *w = (const uint64_t *)rec->data;
	uint32_t nw = k ? 1 : 8;

	if (k > 1 || rec->data_len != 8 * nw) {
		l->bad++;
		return 0;
	}
	for (uint32_t i = 0; i < nw; i++)
		l->bad += w[i] != mix(rec->ip, k, i);
	if (!k || l->handler_order)
		l->order += rec->ip != l->next[k];
	l->next[k] = rec->ip + 1;
	l->sum[k] += rec->ip;
	l->n[k]++;
	return 0;
}

static int storm_timer(timer_t *t, long period_ns)
{
	struct sigevent sev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGALRM};
	struct itimerspec its = {.it_interval = {0, period_ns}, .it_value = {0, period_ns}};

	sev._sigev_un._tid = gettid();
	if (timer_create(CLOCK_MONOTONIC, &sev, t))
		return -errno;
	return timer_settime(*t, 0, &its, NULL) ? -errno : 0;
}

/*
 * A timer signal every 20 us at this thread while it writes records of
 * 120 bytes, filling the payload between reserve and commit: the handler's
 * records land between the loop's, inside its CAS retries and inside its
 * busy records. None is lost (the ring holds all), none torn, both
 * sequences complete and in order.
 *
 * With 2 rings the thread owns ring 1 (no CAS); a handler record written
 * while the thread is inside its own reservation goes to the shared ring 0,
 * so only the loop's order is checked then, and the handler's sequence for
 * completeness (count and sum).
 */
static void signal_storm_in(unsigned int n_rings)
{
	struct sigaction sa = {.sa_handler = sig_writer, .sa_flags = SA_RESTART}, old;
	const uint64_t n_main = 60000;
	struct storm_log l;
	struct trace_consumer *c;
	timer_t t;

	memset(&l, 0, sizeof(l));
	l.handler_order = n_rings == 1;
	sig_rings = trace_rings_new(n_rings, 16u << 20);
	c = trace_consumer_new(trace_rings_fd(sig_rings));
	CHECK(sig_rings && c);
	if (!c)
		return;
	sig_seq = sig_failed = 0;
	sigaction(SIGALRM, &sa, &old);
	CHECK_EQ_INT(storm_timer(&t, 20000), 0);
	for (uint64_t seq = 0; seq < n_main; seq++) {
		struct trace_raw *r = trace_ring_reserve(sig_rings, RAW_HDR + 64, 0);
		uint64_t *w = (uint64_t *)(r + 1);

		if (!r) {
			TL_FAIL("reserve %llu failed", (unsigned long long)seq);
			break;
		}
		raw_fill(r, TRACE_RAW_EVENT, 0, (uint32_t)gettid(), seq);
		for (int i = 0; i < 8; i++)
			*(volatile uint64_t *)&w[i] = mix(seq, 0, (uint64_t)i);
		trace_ring_commit(r);
	}
	timer_delete(t);
	sigaction(SIGALRM, &old, NULL);
	while (trace_consumer_poll(c, 0, storm_record, &l) > 0)
		;
	CHECK_EQ_U64(sig_failed, 0);
	CHECK(sig_seq > 0);
	CHECK_EQ_U64(l.n[0], n_main);
	CHECK_EQ_U64(l.n[1], sig_seq);
	CHECK_EQ_U64(l.bad, 0);
	CHECK_EQ_U64(l.order, 0);
	CHECK_EQ_U64(l.sum[0], n_main * (n_main - 1) / 2);
	CHECK_EQ_U64(l.sum[1], sig_seq * (sig_seq - 1) / 2);
	printf("  %u ring(s): %llu records from the loop, %llu from the handler\n", n_rings,
	       (unsigned long long)l.n[0], (unsigned long long)l.n[1]);
	trace_consumer_free(c);
	trace_rings_free(sig_rings);
}

static void signal_storm(void)
{
	signal_storm_in(1);
}

static void signal_storm_owned(void)
{
	signal_storm_in(2);
}

void stress_cases(void)
{
	RUN(mt_big_ring);
	RUN(mt_owned_rings);
	RUN(mt_medium_ring);
	RUN(mt_overload);
	RUN(signal_nested);
	RUN(signal_storm);
	RUN(signal_storm_owned);
}
