/* SPDX-License-Identifier: MIT */
/*
 * Frames left without returning: longjmp (to an unprobed and to a probed
 * frame), siglongjmp out of a signal handler, 1000 longjmps in a row,
 * pthread_exit and pthread_cancel inside probed functions.
 */
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "retprobe.h"

enum { RA_F1, RA_F2, RA_F3, RA_G, RA_PE1, RA_PE2, RA_PC1, RA_PC2, NRA };
static uint64_t ra_seen[NRA];
/* In a probed run this reads the trampoline; the unprobed run's value counts. */
#define RECORD_RA(i) (ra_seen[i] = (uint64_t)(uintptr_t)__builtin_return_address(0))

/* ---- longjmp over f1 -> f2 -> f3, back in the setjmp frame -------------- */

static jmp_buf lj_env;

NOIPA long lj_f3(long x)
{
	RECORD_RA(RA_F3);
	OPAQUE(x);
	longjmp(lj_env, 1);
}

NOIPA long lj_f2(long x)
{
	long r;

	RECORD_RA(RA_F2);
	r = lj_f3(x + 1);
	OPAQUE(r);
	return r + 1;
}

NOIPA long lj_f1(long x)
{
	long r;

	RECORD_RA(RA_F1);
	r = lj_f2(x + 1);
	OPAQUE(r);
	return r + 1;
}

NOIPA long lj_g(long x)
{
	RECORD_RA(RA_G);
	OPAQUE(x);
	return x * x - 5;
}

static long ex_g(long x)
{
	return x * x - 5;
}

NOIPA static long lj_once(long x)
{
	volatile long vx = x;

	if (setjmp(lj_env) == 0) {
		lj_f1(vx);
		return LONG_MIN; /* not reached */
	}
	return lj_g(vx);
}

static struct fdesc d_f1 = {.name = "lj_f1", .fn = lj_f1, .rk = RK_LONG, .log = LOG_ALL};
static struct fdesc d_f2 = {.name = "lj_f2", .fn = lj_f2, .rk = RK_LONG, .log = LOG_ALL};
static struct fdesc d_f3 = {.name = "lj_f3", .fn = lj_f3, .rk = RK_LONG, .log = LOG_ALL};
static struct fdesc d_g = {.name = "lj_g",
			   .fn = lj_g,
			   .expect = ex_g,
			   .rk = RK_LONG,
			   .log = LOG_ALL};

static int attach_lj(unsigned int flags)
{
	return rp_attach(&d_f1, flags, 1, 1) && rp_attach(&d_f2, flags, 1, 1) &&
	       rp_attach(&d_f3, flags, 1, 1) && rp_attach(&d_g, flags, 1, 1);
}

static void lj_want_seq(char *seq, size_t n, long x)
{
	seq[0] = 0;
	seq_add(seq, n, 'E', &d_f1, x, 0);
	seq_add(seq, n, 'E', &d_f2, x + 1, 0);
	seq_add(seq, n, 'E', &d_f3, x + 2, 0);
	seq_add(seq, n, 'U', &d_f3, x + 2, 0);
	seq_add(seq, n, 'U', &d_f2, x + 1, 0);
	seq_add(seq, n, 'U', &d_f1, x, 0);
	seq_add(seq, n, 'E', &d_g, x, 0);
	seq_add(seq, n, 'R', &d_g, x, ex_g(x));
}

void t_longjmp(unsigned int flags)
{
	struct uprobe_stats s0, s1;
	uint64_t ra[NRA];
	char seq[1024];
	long want = lj_once(5);

	CHECK_EQ_U64(want, ex_g(5));
	memcpy(ra, ra_seen, sizeof(ra));
	if (!attach_lj(flags))
		return;
	get_stats(&s0);
	ev_reset();
	CHECK_EQ_U64(lj_once(5), want);
	get_stats(&s1);
	lj_want_seq(seq, sizeof(seq), 5);
	check_seq(seq);
	check_ret_ev(ev_find('E', &d_f3, 0), ev_find('U', &d_f3, 0), ra[RA_F3]);
	check_ret_ev(ev_find('E', &d_f2, 0), ev_find('U', &d_f2, 0), ra[RA_F2]);
	check_ret_ev(ev_find('E', &d_f1, 0), ev_find('U', &d_f1, 0), ra[RA_F1]);
	check_ret_ev(ev_find('E', &d_g, 0), ev_find('R', &d_g, 0), ra[RA_G]);
	check_probe(&d_f1, 1, 1, 1, 0);
	check_probe(&d_f2, 1, 1, 1, 0);
	check_probe(&d_f3, 1, 1, 1, 0);
	check_probe(&d_g, 1, 1, 0, 0);
	CHECK_EQ_U64(s1.ret_unwound - s0.ret_unwound, 3);
	CHECK_EQ_U64(s1.ret_hits - s0.ret_hits, 4);
	CHECK_EQ_U64(s1.ret_missed - s0.ret_missed, 0);

	/* Once more: nothing stale from the first round. */
	ev_reset();
	CHECK_EQ_U64(lj_once(-6), ex_g(-6));
	lj_want_seq(seq, sizeof(seq), -6);
	check_seq(seq);
	check_probe(&d_f1, 2, 2, 2, 0);
	check_probe(&d_g, 2, 2, 0, 0);
}

/* ---- longjmp back into a probed frame ------------------------------------ */

static jmp_buf lp_env;
static int lp_call_g;

NOIPA long lp_f3(long x)
{
	OPAQUE(x);
	longjmp(lp_env, 1);
}

NOIPA long lp_f2(long x)
{
	long r = lp_f3(x + 1);

	OPAQUE(r);
	return r + 1;
}

/* The setjmp frame is itself probed: it must return normally afterwards. */
NOIPA long lp_f1(long x)
{
	volatile long vx = x;
	long r;

	if (setjmp(lp_env) == 0) {
		r = lp_f2(vx + 1);
		OPAQUE(r);
		return r;
	}
	if (lp_call_g)
		return lj_g(vx) + 1;
	return vx * 100;
}

NOIPA static long call_lp(long x)
{
	long r = lp_f1(x);

	OPAQUE(r);
	return r;
}

void t_longjmp_into_probed(unsigned int flags)
{
	struct fdesc d1 = {.name = "lp_f1", .fn = lp_f1, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {.name = "lp_f2", .fn = lp_f2, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d3 = {.name = "lp_f3", .fn = lp_f3, .rk = RK_LONG, .log = LOG_ALL};
	char seq[1024] = "";

	lp_call_g = 0;
	CHECK_EQ_U64(call_lp(5), 500);
	lp_call_g = 1;
	CHECK_EQ_U64(call_lp(5), ex_g(5) + 1);
	if (!rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1) ||
	    !rp_attach(&d3, flags, 1, 1) || !rp_attach(&d_g, flags, 1, 1))
		return;

	/* Detected when lp_f1 returns through the trampoline. */
	lp_call_g = 0;
	ev_reset();
	CHECK_EQ_U64(call_lp(5), 500);
	seq_add(seq, sizeof(seq), 'E', &d1, 5, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, 6, 0);
	seq_add(seq, sizeof(seq), 'E', &d3, 7, 0);
	seq_add(seq, sizeof(seq), 'U', &d3, 7, 0);
	seq_add(seq, sizeof(seq), 'U', &d2, 6, 0);
	seq_add(seq, sizeof(seq), 'R', &d1, 5, 500);
	check_seq(seq);
	check_ret_ev(ev_find('E', &d3, 0), ev_find('U', &d3, 0), 0);
	check_ret_ev(ev_find('E', &d2, 0), ev_find('U', &d2, 0), 0);
	check_ret_ev(ev_find('E', &d1, 0), ev_find('R', &d1, 0), 0);

	/* Detected at the next entry (lj_g), before its entry handler. */
	lp_call_g = 1;
	ev_reset();
	CHECK_EQ_U64(call_lp(8), ex_g(8) + 1);
	seq[0] = 0;
	seq_add(seq, sizeof(seq), 'E', &d1, 8, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, 9, 0);
	seq_add(seq, sizeof(seq), 'E', &d3, 10, 0);
	seq_add(seq, sizeof(seq), 'U', &d3, 10, 0);
	seq_add(seq, sizeof(seq), 'U', &d2, 9, 0);
	seq_add(seq, sizeof(seq), 'E', &d_g, 8, 0);
	seq_add(seq, sizeof(seq), 'R', &d_g, 8, ex_g(8));
	seq_add(seq, sizeof(seq), 'R', &d1, 8, ex_g(8) + 1);
	check_seq(seq);
	check_probe(&d1, 2, 2, 0, 0);
	check_probe(&d2, 2, 2, 2, 0);
	check_probe(&d3, 2, 2, 2, 0);
	check_probe(&d_g, 1, 1, 0, 0);
}

/* ---- siglongjmp out of a handler that interrupted a probed function ------ */

static sigjmp_buf sj_env;
static volatile long sj_gval;
#define SJ_GARG 100

NOIPA long sj_inner(long x)
{
	OPAQUE(x);
	raise(SIGUSR2);
	return x;
}

NOIPA long sj_outer(long x)
{
	long r = sj_inner(x + 1);

	OPAQUE(r);
	return r + 1;
}

static void sj_handler(int sig)
{
	(void)sig;
	sj_gval = lj_g(SJ_GARG);
	siglongjmp(sj_env, 1);
}

NOIPA static long sj_once(long x)
{
	volatile long vx = x;

	if (sigsetjmp(sj_env, 1) == 0) {
		sj_outer(vx);
		return LONG_MIN; /* not reached */
	}
	return lj_g(vx) + sj_gval;
}

void t_siglongjmp(unsigned int flags)
{
	struct fdesc d1 = {.name = "sj_outer", .fn = sj_outer, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {.name = "sj_inner", .fn = sj_inner, .rk = RK_LONG, .log = LOG_ALL};
	struct sigaction sa = {.sa_handler = sj_handler}, old;
	long want = ex_g(SJ_GARG) + ex_g(3);
	char seq[1024] = "";
	sigset_t cur;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR2, &sa, &old);
	CHECK_EQ_U64(sj_once(3), want);
	if (!rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1) ||
	    !rp_attach(&d_g, flags, 1, 1))
		goto out;
	ev_reset();
	CHECK_EQ_U64(sj_once(3), want);
	seq_add(seq, sizeof(seq), 'E', &d1, 3, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, 4, 0);
	seq_add(seq, sizeof(seq), 'E', &d_g, SJ_GARG, 0);
	seq_add(seq, sizeof(seq), 'R', &d_g, SJ_GARG, ex_g(SJ_GARG));
	seq_add(seq, sizeof(seq), 'U', &d2, 4, 0);
	seq_add(seq, sizeof(seq), 'U', &d1, 3, 0);
	seq_add(seq, sizeof(seq), 'E', &d_g, 3, 0);
	seq_add(seq, sizeof(seq), 'R', &d_g, 3, ex_g(3));
	check_seq(seq);
	check_ret_ev(ev_find('E', &d2, 0), ev_find('U', &d2, 0), 0);
	check_ret_ev(ev_find('E', &d1, 0), ev_find('U', &d1, 0), 0);
	check_ret_ev(ev_find('E', &d_g, 0), ev_find('R', &d_g, 0), 0);
	check_ret_ev(ev_find('E', &d_g, 1), ev_find('R', &d_g, 1), 0);
	check_probe(&d1, 1, 1, 1, 0);
	check_probe(&d2, 1, 1, 1, 0);
	check_probe(&d_g, 2, 2, 0, 0);
	/* sigsetjmp(.., 1) restored the mask: SIGUSR2 is deliverable again. */
	sigprocmask(SIG_SETMASK, NULL, &cur);
	CHECK(!sigismember(&cur, SIGUSR2));
	/* And it works a second time. */
	ev_reset();
	CHECK_EQ_U64(sj_once(3), want);
	check_seq(seq);
out:
	sigaction(SIGUSR2, &old, NULL);
}

/* ---- 1000 longjmps: exact counts, nothing grows ------------------------- */

#define LJ_LOOPS  1000
#define LJ_WARMUP 10

static int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int c, n = 0;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* The 8 events of one round, in order (the values are checked by the handler). */
static int lj_round_ok(long x)
{
	static const struct {
		char kind;
		struct fdesc *d;
		long darg;
	} want[] = {
		{'E', &d_f1, 0}, {'E', &d_f2, 1}, {'E', &d_f3, 2}, {'U', &d_f3, 2},
		{'U', &d_f2, 1}, {'U', &d_f1, 0}, {'E', &d_g, 0},  {'R', &d_g, 0},
	};
	unsigned int i;

	if (ev_count() != sizeof(want) / sizeof(want[0]))
		return 0;
	for (i = 0; i < ev_count(); i++)
		if (evlog[i].kind != want[i].kind || evlog[i].d != want[i].d ||
		    evlog[i].arg != x + want[i].darg)
			return 0;
	return 1;
}

void t_longjmp_loop(unsigned int flags)
{
	struct uprobe_stats s0, s1;
	struct mallinfo2 m0, m1;
	int maps0, maps1, i, bad = 0;
	char seq[1024];

	if (!attach_lj(flags))
		return;
	for (i = 0; i < LJ_WARMUP; i++)
		lj_once(i);
	get_stats(&s0);
	/*
	 * count_maps() before mallinfo2(): its FILE, freed into the tcache, would
	 * count as in use (mallinfo does not look into the tcache), by a layout
	 * that depends on what the library allocated and freed before.
	 */
	maps0 = count_maps();
	m0 = mallinfo2();
	for (i = 0; i < LJ_LOOPS; i++) {
		long x = i - LJ_LOOPS / 2;

		ev_reset();
		if (lj_once(x) != ex_g(x) || !lj_round_ok(x)) {
			if (!bad++) {
				TL_FAIL("round %d (x=%ld) wrong", i, x);
				lj_want_seq(seq, sizeof(seq), x);
				check_seq(seq);
			}
		}
	}
	m1 = mallinfo2();
	maps1 = count_maps();
	get_stats(&s1);
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_U64(s1.ret_unwound - s0.ret_unwound, 3 * LJ_LOOPS);
	CHECK_EQ_U64(s1.ret_hits - s0.ret_hits, 4 * LJ_LOOPS);
	CHECK_EQ_U64(s1.hits - s0.hits, 4 * LJ_LOOPS);
	CHECK_EQ_U64(s1.ret_missed - s0.ret_missed, 0);
	CHECK_EQ_U64(s1.xol_slots, s0.xol_slots);
	CHECK_EQ_U64(s1.probes_attached, s0.probes_attached);
	CHECK_EQ_INT(maps1, maps0);
	CHECK_EQ_U64(m1.uordblks, m0.uordblks);
	CHECK_EQ_U64(m1.hblkhd, m0.hblkhd);
	check_probe(&d_f1, LJ_LOOPS + LJ_WARMUP, LJ_LOOPS + LJ_WARMUP, LJ_LOOPS + LJ_WARMUP, 0);
	check_probe(&d_f2, LJ_LOOPS + LJ_WARMUP, LJ_LOOPS + LJ_WARMUP, LJ_LOOPS + LJ_WARMUP, 0);
	check_probe(&d_f3, LJ_LOOPS + LJ_WARMUP, LJ_LOOPS + LJ_WARMUP, LJ_LOOPS + LJ_WARMUP, 0);
	check_probe(&d_g, LJ_LOOPS + LJ_WARMUP, LJ_LOOPS + LJ_WARMUP, 0, 0);
}

/* ---- pthread_exit two probed frames deep ------------------------------- */

#define PE_N 20000

static _Atomic long pe_done;
static pid_t pe_tid;

NOIPA long pe_f2(long x)
{
	RECORD_RA(RA_PE2);
	OPAQUE(x);
	/* Exit while the other thread is in the middle of its calls. */
	while (atomic_load(&pe_done) < PE_N / 2)
		sched_yield();
	pthread_exit((void *)(x * 11));
}

NOIPA long pe_f1(long x)
{
	long r;

	RECORD_RA(RA_PE1);
	r = pe_f2(x + 1);
	OPAQUE(r);
	return r + 1;
}

NOIPA long pe_g(long i)
{
	OPAQUE(i);
	return i * 3 - 7;
}

static long ex_pe_g(long i)
{
	return i * 3 - 7;
}

static void *pe_exiter(void *arg)
{
	(void)arg;
	pe_tid = rp_gettid();
	pe_f1(4);
	return NULL;
}

static void *pe_worker(void *arg)
{
	long i, bad = 0;

	(void)arg;
	for (i = 0; i < PE_N; i++) {
		if (pe_g(i) != ex_pe_g(i))
			bad++;
		atomic_store(&pe_done, i + 1);
	}
	return (void *)bad;
}

/* Returns the exiter's exit value; *bad the worker's wrong results. */
static long pe_run(long *bad)
{
	pthread_t t1, t2;
	void *v1 = NULL, *v2 = NULL;

	atomic_store(&pe_done, 0);
	if (pthread_create(&t2, NULL, pe_worker, NULL))
		return -1;
	if (pthread_create(&t1, NULL, pe_exiter, NULL)) {
		pthread_join(t2, NULL);
		return -1;
	}
	pthread_join(t1, &v1);
	pthread_join(t2, &v2);
	*bad = (long)v2;
	return (long)v1;
}

void t_pthread_exit(unsigned int flags)
{
	struct fdesc d1 = {.name = "pe_f1", .fn = pe_f1, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {.name = "pe_f2", .fn = pe_f2, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc dg = {.name = "pe_g", .fn = pe_g, .expect = ex_pe_g, .rk = RK_LONG};
	char seq[1024] = "";
	uint64_t ra[NRA];
	struct ev *u;
	long bad = -1;
	int k;

	CHECK_EQ_INT(pe_run(&bad), 55);
	CHECK_EQ_INT(bad, 0);
	memcpy(ra, ra_seen, sizeof(ra));
	if (!rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1) ||
	    !rp_attach(&dg, flags, 1, 1))
		return;
	ev_reset();
	CHECK_EQ_INT(pe_run(&bad), 55);
	CHECK_EQ_INT(bad, 0);
	seq_add(seq, sizeof(seq), 'E', &d1, 4, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, 5, 0);
	seq_add(seq, sizeof(seq), 'U', &d2, 5, 0);
	seq_add(seq, sizeof(seq), 'U', &d1, 4, 0);
	check_seq(seq);
	check_ret_ev(ev_find('E', &d2, 0), ev_find('U', &d2, 0), ra[RA_PE2]);
	check_ret_ev(ev_find('E', &d1, 0), ev_find('U', &d1, 0), ra[RA_PE1]);
	/* Reported by the exiting thread, at pthread_exit. */
	for (k = 0; k < 2; k++) {
		u = ev_find('U', k ? &d1 : &d2, 0);
		if (u && u->tid != pe_tid)
			TL_FAIL("unwound report in thread %d, want the exiting thread %d", u->tid,
				pe_tid);
	}
	check_probe(&d1, 1, 1, 1, 0);
	check_probe(&d2, 1, 1, 1, 0);
	check_probe(&dg, PE_N, PE_N, 0, 0);
	/* The process goes on normally. */
	CHECK_EQ_U64(pe_g(1000), ex_pe_g(1000));
	check_probe(&dg, PE_N + 1, PE_N + 1, 0, 0);
}

/* ---- pthread_cancel inside two probed frames --------------------------- */

static _Atomic int pc_ready;
static volatile long pc_cleanup;
static pid_t pc_tid;

static void pc_clean(void *arg)
{
	pc_cleanup = (long)arg;
}

NOIPA long pc_f2(long x)
{
	RECORD_RA(RA_PC2);
	OPAQUE(x);
	atomic_store(&pc_ready, 1);
	for (;;) {
		pthread_testcancel();
		usleep(1000);
	}
	return x;
}

NOIPA long pc_f1(long x)
{
	long r;

	RECORD_RA(RA_PC1);
	pthread_cleanup_push(pc_clean, (void *)(x * 13));
	r = pc_f2(x + 1);
	OPAQUE(r);
	pthread_cleanup_pop(0);
	return r + 1;
}

static void *pc_thread(void *arg)
{
	(void)arg;
	pc_tid = rp_gettid();
	pc_f1(4);
	return NULL;
}

static int pc_run(void)
{
	pthread_t t;
	void *v = NULL;

	atomic_store(&pc_ready, 0);
	pc_cleanup = 0;
	if (pthread_create(&t, NULL, pc_thread, NULL))
		return 0;
	while (!atomic_load(&pc_ready))
		usleep(100);
	pthread_cancel(t);
	pthread_join(t, &v);
	return v == PTHREAD_CANCELED;
}

void t_pthread_cancel(unsigned int flags)
{
	struct fdesc d1 = {.name = "pc_f1", .fn = pc_f1, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {.name = "pc_f2", .fn = pc_f2, .rk = RK_LONG, .log = LOG_ALL};
	char seq[1024] = "";
	uint64_t ra[NRA];
	struct ev *u;
	int k;

	CHECK(pc_run());
	CHECK_EQ_INT(pc_cleanup, 52);
	memcpy(ra, ra_seen, sizeof(ra));
	/*
	 * Both on the site path unless UPROBE_RET_PATH=hijack: pc_f1's last
	 * instruction is the cleanup's call of __pthread_unwind_next, which does
	 * not return (it fell through, and took the hijack, before that name was
	 * known: make check-forced refused it).
	 */
	if (!rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1))
		return;
	for (k = 0; k < 2; k++) {
		struct uprobe_info info = {.sz = sizeof(info)};
		const char *env = getenv("UPROBE_RET_PATH");
		int want = env && !strcmp(env, "hijack") ? UPROBE_RET_HIJACK : UPROBE_RET_SITE;

		CHECK_EQ_INT(uprobe_get_info(k ? d2.probe : d1.probe, &info), 0);
		if ((int)info.ret_path != want)
			TL_FAIL("%s: returns by %s: %s", k ? "pc_f2" : "pc_f1",
				uprobe_ret_path_name(info.ret_path), info.ret_reason);
	}
	ev_reset();
	CHECK(pc_run());
	/* The cancellation unwind ran the cleanup handler in the probed frame. */
	CHECK_EQ_INT(pc_cleanup, 52);
	seq_add(seq, sizeof(seq), 'E', &d1, 4, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, 5, 0);
	seq_add(seq, sizeof(seq), 'U', &d2, 5, 0);
	seq_add(seq, sizeof(seq), 'U', &d1, 4, 0);
	check_seq(seq);
	check_ret_ev(ev_find('E', &d2, 0), ev_find('U', &d2, 0), ra[RA_PC2]);
	check_ret_ev(ev_find('E', &d1, 0), ev_find('U', &d1, 0), ra[RA_PC1]);
	for (k = 0; k < 2; k++) {
		u = ev_find('U', k ? &d1 : &d2, 0);
		if (u && u->tid != pc_tid)
			TL_FAIL("unwound report in thread %d, want the cancelled thread %d", u->tid,
				pc_tid);
	}
	check_probe(&d1, 1, 1, 1, 0);
	check_probe(&d2, 1, 1, 1, 0);
	/* And once more. */
	ev_reset();
	CHECK(pc_run());
	check_seq(seq);
	check_probe(&d1, 2, 2, 2, 0);
}

/* ---- beyond the brief: longjmp, then the thread ends --------------------- */

static jmp_buf te_env;
static pid_t te_tid;

NOIPA long te_f2(long x)
{
	OPAQUE(x);
	longjmp(te_env, 1);
}

NOIPA long te_f1(long x)
{
	long r = te_f2(x + 1);

	OPAQUE(r);
	return r + 1;
}

static void *te_thread(void *arg)
{
	volatile long x = (long)arg;

	te_tid = rp_gettid();
	if (setjmp(te_env) == 0)
		te_f1(x);
	return (void *)(x + 1); /* no probed call after the jump */
}

/* The left frames are reported at the thread's end, in that thread. */
void t_longjmp_thread_end(unsigned int flags)
{
	struct fdesc d1 = {.name = "te_f1", .fn = te_f1, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {.name = "te_f2", .fn = te_f2, .rk = RK_LONG, .log = LOG_ALL};
	char seq[1024] = "";
	pthread_t t;
	void *v = NULL;
	struct ev *u;
	int k;

	if (!rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1))
		return;
	ev_reset();
	if (pthread_create(&t, NULL, te_thread, (void *)7L)) {
		TL_FAIL("pthread_create failed");
		return;
	}
	pthread_join(t, &v);
	CHECK_EQ_INT((long)v, 8);
	seq_add(seq, sizeof(seq), 'E', &d1, 7, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, 8, 0);
	seq_add(seq, sizeof(seq), 'U', &d2, 8, 0);
	seq_add(seq, sizeof(seq), 'U', &d1, 7, 0);
	check_seq(seq);
	for (k = 0; k < 2; k++) {
		u = ev_find('U', k ? &d1 : &d2, 0);
		if (u && u->tid != te_tid)
			TL_FAIL("unwound report in thread %d, want the ending thread %d", u->tid,
				te_tid);
	}
	check_ret_ev(ev_find('E', &d2, 0), ev_find('U', &d2, 0), 0);
	check_ret_ev(ev_find('E', &d1, 0), ev_find('U', &d1, 0), 0);
	check_probe(&d1, 1, 1, 1, 0);
	check_probe(&d2, 1, 1, 1, 0);
}
