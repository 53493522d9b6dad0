/* SPDX-License-Identifier: MIT */
/*
 * The shared-memory rings alone (no probe): one producer thread (this
 * process's main thread, pinned to its CPU) writes records of 56 + 16 bytes
 * (the header and two u64 args, as an event "a=%di b=%si" writes), a consumer
 * in a forked child (on the other CPUs) reads them with trace_consumer_poll.
 *
 *  1. reserve+commit: ns per record with nobody reading (a ring big enough
 *     for the whole loop): an empty record (reserve, commit), and a full one
 *     (reserve, header with rdtsc, payload, commit);
 *  2. live: the producer writes as fast as it can for -t ms while the
 *     consumer polls; the consumer's rate is its records over the time from
 *     its first to its last record. Twice: a consumer that polls back to
 *     back, and one that naps 20 us after a poll that returned fewer than
 *     1024 records. Back to back, the consumer keeps catching up with the
 *     producer and both then work on the same cache lines (the record being
 *     written, its len word polled), a transfer between CPUs each; letting a
 *     batch build up avoids that. Records lost when the producer gets a ring
 *     ahead are counted;
 *  3. drain: the backlog of part 1, read by the consumer alone;
 *  4. overload: a 64 KiB ring and a consumer that naps 1 ms between polls.
 *
 * Every run is accounted for exactly, against the producer's own counts:
 * attempts == records consumed + lost, the ring counters (trace_consumer_stats)
 * agree, every gap in the sequence numbers is a counted loss, every payload
 * is intact. A failed check makes the exit status 1. Figures are medians over
 * -r rounds (the VM is noisy); BENCH_QUICK=1 runs fewer, shorter ones
 * (harness.h).
 *
 * Output: a table, the checks, then one line "summary: key=value ...".
 * Usage: bench_ring [-r rounds] [-t ms per live run] [-m MiB live ring]
 */
#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <x86intrin.h>

#include "uprobes_trace.h"
#include "trace/transport/ring.h"
#include "bench_util.h"
#include "harness.h"

#define REC_LEN	   72u /* sizeof(struct trace_raw) + two u64 */
#define ARG_B	   0x5eed5eedull
#define SOLO_BYTES (64u << 20)
#define OVER_BYTES (64u << 10)
#define TARGET_EPS 20e6

enum { R_LIVE, R_SOLO, R_OVER, N_RINGS };
enum cmd { C_PAUSE, C_FAST, C_BATCH, C_SLOW, C_SYNC, C_QUIT };

#define BATCH_MIN    1024  /* C_BATCH: a poll that returned fewer records ... */
#define BATCH_NAP_NS 20000 /* ... is followed by a nap this long */

/* What the consumer saw since the last command other than C_SYNC. */
struct phase {
	uint64_t events, bad, gaps, next_seq;
	uint64_t t_first, t_last;   /* around the polls that returned records */
	struct trace_ring_stats st; /* at the last C_SYNC */
	int err;
};

/* Shared with the consumer child (MAP_SHARED): commands one way, results back. */
struct shared {
	int cmd, ring;
	uint64_t seq0; /* the producer's next sequence number at the command */
	unsigned int gen, ack;
	struct phase ph;
};

static struct shared *sh;
static struct trace_rings *rings[N_RINGS];
static uint64_t next_seq[N_RINGS];
static pid_t child = -1;

/* ---- the consumer process -------------------------------------------------------- */

#define EMPTY_ID 0xffffffffu /* reserve+commit timing records: no payload to check */

static int on_record(const struct trace_record *rec, void *ctx)
{
	struct phase *p = ctx;
	const uint64_t *w = (const uint64_t *)rec->data;

	if (rec->event_id == EMPTY_ID)
		return 0; /* counted by the producer's side (empty_records) */
	if (rec->data_len != 16 || w[1] != ARG_B || w[0] < p->next_seq)
		p->bad++;
	else
		p->gaps += w[0] - p->next_seq;
	p->next_seq = w[0] + 1;
	p->events++;
	return 0;
}

/* One clock read per poll that returned records (the first one's start: one more). */
static int poll_phase(struct trace_consumer *c, struct phase *p)
{
	uint64_t t0 = p->t_first ? 0 : now_ns();
	int n = trace_consumer_poll(c, 0, on_record, p);

	if (n > 0) {
		if (!p->t_first)
			p->t_first = t0;
		p->t_last = now_ns();
	} else if (n < 0 && !p->err) {
		p->err = n;
	}
	return n;
}

/* Until nothing is left: records of the phase, then the ring counters. */
static void sync_phase(struct trace_consumer *c, struct phase *p)
{
	while (poll_phase(c, p) > 0)
		;
	p->st.sz = sizeof(p->st);
	if (trace_consumer_stats(c, &p->st) && !p->err)
		p->err = -EIO;
}

static void consumer_loop(struct trace_consumer **c)
{
	unsigned int seen = 0, g;
	int mode = C_PAUSE, ring = 0;

	for (;;) {
		g = __atomic_load_n(&sh->gen, __ATOMIC_ACQUIRE);
		if (g != seen) {
			seen = g;
			if (sh->cmd == C_QUIT)
				return;
			if (sh->cmd == C_SYNC) {
				sync_phase(c[ring], &sh->ph);
			} else {
				mode = sh->cmd;
				ring = sh->ring;
				memset(&sh->ph, 0, sizeof(sh->ph));
				sh->ph.next_seq = sh->seq0;
			}
			__atomic_store_n(&sh->ack, g, __ATOMIC_RELEASE);
		} else if (mode == C_FAST) {
			poll_phase(c[ring], &sh->ph);
		} else if (mode == C_BATCH) {
			if (poll_phase(c[ring], &sh->ph) < BATCH_MIN)
				nanosleep(&(struct timespec){.tv_nsec = BATCH_NAP_NS}, NULL);
		} else if (mode == C_SLOW) {
			poll_phase(c[ring], &sh->ph);
			usleep(1000);
		} else {
			usleep(100);
		}
	}
}

static void consumer_child(int parent_cpu)
{
	struct trace_consumer *c[N_RINGS] = {NULL};
	int err = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	bench_pin_others(parent_cpu);
	for (int i = 0; i < N_RINGS && !err; i++)
		if (!(c[i] = trace_consumer_new(trace_rings_fd(rings[i]))))
			err = -errno;
	sh->ph.err = err;
	__atomic_store_n(&sh->ack, 1, __ATOMIC_RELEASE);
	if (!err)
		consumer_loop(c);
	for (int i = 0; i < N_RINGS; i++)
		trace_consumer_free(c[i]);
	_exit(0);
}

/* A command and its acknowledgement (a drain of 64 MiB takes a while). */
static int command(int cmd, int ring)
{
	unsigned int g = sh->gen + 1;
	uint64_t t_end = now_ns() + 60000000000ull;

	sh->cmd = cmd;
	sh->ring = ring;
	sh->seq0 = next_seq[ring];
	__atomic_store_n(&sh->gen, g, __ATOMIC_RELEASE);
	while (cmd != C_QUIT && __atomic_load_n(&sh->ack, __ATOMIC_ACQUIRE) != g) {
		if (now_ns() > t_end || waitpid(child, NULL, WNOHANG) == child)
			return -1;
		usleep(50);
	}
	return cmd == C_QUIT ? 0 : sh->ph.err;
}

/* ---- the producer ----------------------------------------------------------------- */

struct run {
	uint64_t attempts, failed, ns;
};

/* Records as an event writes them, for up to n attempts or until deadline (0: none). */
static void produce(int ring, uint64_t n, uint64_t deadline, struct run *run)
{
	struct trace_rings *r = rings[ring];
	uint32_t pid = (uint32_t)getpid(), tid = (uint32_t)gettid();
	uint64_t seq = next_seq[ring], t0 = now_ns(), i;

	for (i = 0; i < n; i++, seq++) {
		struct trace_raw *raw;
		uint64_t *w;

		if (deadline && !(i & 4095) && now_ns() >= deadline)
			break;
		raw = trace_ring_reserve(r, REC_LEN, 0);
		if (!raw) {
			run->failed++;
			continue;
		}
		w = (uint64_t *)(raw + 1);
		raw->type = TRACE_RAW_EVENT;
		raw->cpu = 0;
		raw->event_id = 0;
		raw->flags = 0;
		raw->tsc = __rdtsc();
		raw->entry_tsc = 0;
		raw->pid = pid;
		raw->tid = tid;
		raw->ip = 0x401000;
		raw->func = 0;
		w[0] = seq;
		w[1] = ARG_B;
		trace_ring_commit(raw);
	}
	run->ns = now_ns() - t0;
	run->attempts += i;
	next_seq[ring] = seq;
}

/* Reserve and commit only: the records are empty (type 0, skipped by the consumer). */
static void produce_empty(int ring, uint64_t n, struct run *run)
{
	struct trace_rings *r = rings[ring];
	uint64_t t0 = now_ns();

	for (uint64_t i = 0; i < n; i++) {
		struct trace_raw *raw = trace_ring_reserve(r, REC_LEN, 0);

		if (raw) {
			raw->type = TRACE_RAW_EVENT; /* the counters count events only */
			raw->event_id = EMPTY_ID;
			trace_ring_commit(raw);
		} else {
			run->failed++;
		}
	}
	run->ns = now_ns() - t0;
	run->attempts += n;
}

/* ---- measurements ------------------------------------------------------------------ */

struct row {
	const char *label;
	struct bench_stat s;
};

enum {
	ROW_EMPTY,
	ROW_WRITE,
	ROW_FAST_CONS,
	ROW_FAST_PROD,
	ROW_FAST_LOST,
	ROW_LIVE_CONS,
	ROW_LIVE_PROD,
	ROW_LIVE_LOST,
	ROW_DRAIN,
	ROW_OVER,
	N_ROWS
};

static struct row rows[N_ROWS] = {
	[ROW_EMPTY] = {"reserve+commit, empty record (ns)"},
	[ROW_WRITE] = {"reserve+write 72 B+commit (ns)"},
	[ROW_FAST_CONS] = {"live, back to back: consumer ev/s"},
	[ROW_FAST_PROD] = {"live, back to back: producer att/s"},
	[ROW_FAST_LOST] = {"live, back to back: lost %"},
	[ROW_LIVE_CONS] = {"live, batching: consumer ev/s"},
	[ROW_LIVE_PROD] = {"live, batching: producer att/s"},
	[ROW_LIVE_LOST] = {"live, batching: lost %"},
	[ROW_DRAIN] = {"drain: consumer ev/s"},
	[ROW_OVER] = {"overload: lost %"},
};

struct account {
	uint64_t produced, consumed, lost; /* producer's attempts, consumer's records, losses */
	uint64_t unbalanced;		   /* runs whose counts did not add up */
	uint64_t bad;			   /* torn or reordered records */
	struct trace_ring_stats last;	   /* the ring's counters at the previous sync */
};

static struct account accts[N_RINGS];

/*
 * After a run and a C_SYNC: the producer's attempts are the consumer's
 * records plus the losses, by every count there is.
 */
static void account(int ring, const struct run *run, uint64_t empty_records)
{
	struct account *a = &accts[ring];
	const struct trace_ring_stats *st = &sh->ph.st, *prev = &a->last;
	uint64_t d_prod = st->produced - prev->produced, d_cons = st->consumed - prev->consumed;
	uint64_t d_lost = st->lost - prev->lost;
	uint64_t tail = next_seq[ring] - sh->ph.next_seq; /* lost after the last record seen */

	a->produced += run->attempts;
	a->consumed += sh->ph.events + empty_records;
	a->lost += run->failed;
	a->bad += sh->ph.bad;
	if (sh->ph.events + empty_records + run->failed != run->attempts || d_lost != run->failed ||
	    d_prod != run->attempts || d_cons != sh->ph.events + empty_records ||
	    st->produced != st->consumed + st->lost ||
	    (!empty_records && sh->ph.gaps + tail != run->failed))
		a->unbalanced++;
	a->last = *st;
}

static void add(int row, double v)
{
	bench_stat_add(&rows[row].s, v);
}

/* Part 1 and 3: nobody reads while the producer writes, then the consumer drains alone. */
static int round_solo(void)
{
	uint64_t n = (uint64_t)(0.9 * SOLO_BYTES / REC_LEN);
	struct run run = {0};

	if (command(C_PAUSE, R_SOLO))
		return -1;
	produce_empty(R_SOLO, n, &run);
	add(ROW_EMPTY, (double)run.ns / (double)n);
	if (command(C_SYNC, R_SOLO))
		return -1;
	account(R_SOLO, &run, n - run.failed);
	run = (struct run){0};
	if (command(C_PAUSE, R_SOLO))
		return -1;
	produce(R_SOLO, n, 0, &run);
	add(ROW_WRITE, (double)run.ns / (double)n);
	if (command(C_SYNC, R_SOLO))
		return -1;
	add(ROW_DRAIN, (double)sh->ph.events * 1e9 / (double)(sh->ph.t_last - sh->ph.t_first));
	account(R_SOLO, &run, 0);
	return 0;
}

/* Part 2: the consumer polls in mode while the producer writes for ms; rows from row on. */
static int round_live(int mode, int row, unsigned int ms)
{
	struct run run = {0};
	double cons_ns;

	if (command(mode, R_LIVE))
		return -1;
	produce(R_LIVE, UINT64_MAX, now_ns() + ms * 1000000ull, &run);
	if (command(C_SYNC, R_LIVE))
		return -1;
	cons_ns = (double)(sh->ph.t_last - sh->ph.t_first);
	add(row, cons_ns > 0 ? (double)sh->ph.events * 1e9 / cons_ns : 0);
	add(row + 1, (double)run.attempts * 1e9 / (double)run.ns);
	add(row + 2, 100.0 * (double)run.failed / (double)run.attempts);
	account(R_LIVE, &run, 0);
	return command(C_PAUSE, R_LIVE);
}

/* Part 4: a 64 KiB ring, the consumer napping 1 ms between polls. */
static int round_overload(void)
{
	struct run run = {0};

	if (command(C_SLOW, R_OVER))
		return -1;
	produce(R_OVER, 2000000, 0, &run);
	if (command(C_SYNC, R_OVER))
		return -1;
	add(ROW_OVER, 100.0 * (double)run.failed / (double)run.attempts);
	account(R_OVER, &run, 0);
	return command(C_PAUSE, R_OVER);
}

/* ---- report ----------------------------------------------------------------------- */

/* Rates in millions, times and percentages as they are. */
static void print_table(void)
{
	printf("\n%-36s %12s %22s\n", "measurement", "median", "min..max");
	for (int i = 0; i < N_ROWS; i++) {
		struct row *r = &rows[i];
		double unit = strstr(r->label, "/s") ? 1e6 : 1;
		char range[64];

		bench_stat_done(&r->s);
		snprintf(range, sizeof(range), "%.2f..%.2f", r->s.lo / unit, r->s.hi / unit);
		printf("%-36s %11.2f%s %22s\n", r->label, r->s.med / unit, unit > 1 ? "M" : " ",
		       range);
	}
}

static const char *const ring_names[N_RINGS] = {"live", "solo+drain", "overload"};

/* PASS/FAIL lines, counted by the harness (the exit status). */
static void print_checks(void)
{
	printf("\n");
	for (int i = 0; i < N_RINGS; i++) {
		const struct account *a = &accts[i];

		bench_check(
			!a->unbalanced && !a->bad, false,
			"%s: produced %llu = consumed %llu + lost %llu (%s), records intact and "
			"in order (%llu bad)",
			ring_names[i], (unsigned long long)a->produced,
			(unsigned long long)a->consumed, (unsigned long long)a->lost,
			a->unbalanced ? "does NOT add up" : "exact, by every count",
			(unsigned long long)a->bad);
	}
	bench_check(accts[R_OVER].lost, false,
		    "overload: records were lost (%llu): the run overloaded the ring",
		    (unsigned long long)accts[R_OVER].lost);
	printf("target: consumer >= %.0fM events/s live: %.1fM batching (%s), %.1fM back to back, "
	       "%.1fM draining\n",
	       TARGET_EPS / 1e6, rows[ROW_LIVE_CONS].s.med / 1e6,
	       rows[ROW_LIVE_CONS].s.med >= TARGET_EPS ? "met" : "MISSED",
	       rows[ROW_FAST_CONS].s.med / 1e6, rows[ROW_DRAIN].s.med / 1e6);
}

static void print_summary(void)
{
	const struct account *o = &accts[R_OVER];

	bench_sum("consumer_events_per_s", "%.0f", rows[ROW_LIVE_CONS].s.med);
	bench_sum("produced", "%llu", (unsigned long long)o->produced);
	bench_sum("consumed", "%llu", (unsigned long long)o->consumed);
	bench_sum("lost", "%llu", (unsigned long long)o->lost);
	bench_sum("reserve_commit_ns", "%.2f", rows[ROW_EMPTY].s.med);
	bench_sum("write_ns", "%.2f", rows[ROW_WRITE].s.med);
	bench_sum("back_to_back_events_per_s", "%.0f", rows[ROW_FAST_CONS].s.med);
	bench_sum("drain_events_per_s", "%.0f", rows[ROW_DRAIN].s.med);
	bench_sum("live_lost_pct", "%.2f", rows[ROW_LIVE_LOST].s.med);
	bench_sum_print();
}

/* ---- main -------------------------------------------------------------------------- */

static int setup(size_t live_bytes, int cpu)
{
	static const size_t bytes[N_RINGS] = {[R_SOLO] = SOLO_BYTES, [R_OVER] = OVER_BYTES};

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED)
		return perror("mmap"), -1;
	for (int i = 0; i < N_RINGS; i++) {
		rings[i] = trace_rings_new(1, i == R_LIVE ? live_bytes : bytes[i]);
		if (!rings[i])
			return perror("trace_rings_new"), -1;
	}
	child = fork();
	if (child < 0)
		return perror("fork"), -1;
	if (child == 0)
		consumer_child(cpu);
	while (!__atomic_load_n(&sh->ack, __ATOMIC_ACQUIRE))
		if (waitpid(child, NULL, WNOHANG) == child)
			return fprintf(stderr, "bench_ring: the consumer process died\n"), -1;
		else
			usleep(100);
	if (sh->ph.err)
		return fprintf(stderr, "trace_consumer_new: %s\n", strerror(-sh->ph.err)), -1;
	sh->gen = sh->ack;
	return 0;
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = {.rounds = 5, .ms = 500, .mib = 1};
	int st = bench_parse(&cfg, argc, argv, "m",
			     "[-r rounds] [-t ms per live run] [-m MiB live ring]");

	if (st)
		return st;
	printf("bench_ring: shared-memory rings, %u-byte records, 1 producer thread, consumer in "
	       "another process\nlive ring %u MiB, %d rounds, %u ms per live run%s\n",
	       REC_LEN, cfg.mib, cfg.rounds, cfg.ms, cfg.quick ? " (BENCH_QUICK)" : "");
	st = bench_pin();
	printf("the producer is this process's main thread; the consumer process runs on the "
	       "other CPUs\n");
	if (setup((size_t)cfg.mib << 20, st))
		return 1;
	for (int i = 0; i < cfg.rounds; i++)
		if (round_solo() || round_live(C_FAST, ROW_FAST_CONS, cfg.ms) ||
		    round_live(C_BATCH, ROW_LIVE_CONS, cfg.ms) || round_overload()) {
			fprintf(stderr, "bench_ring: the consumer stopped answering (%s)\n",
				strerror(sh->ph.err ? -sh->ph.err : ETIMEDOUT));
			return 1;
		}
	command(C_QUIT, 0);
	waitpid(child, NULL, 0);
	print_table();
	print_checks();
	print_summary();
	return bench_failures() ? 1 : 0;
}
