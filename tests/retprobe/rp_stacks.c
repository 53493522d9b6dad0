/* SPDX-License-Identifier: MIT */
/*
 * Other stacks and other processes: probed functions called from signal
 * handlers that interrupted probed functions (raise and a timer; on the same
 * stack and on sigaltstacks from malloc and mmap, also with the alternate
 * stack above the interrupted one), fork inside a probed function, and
 * swapcontext coroutines switching while inside probed functions.
 */
#include <limits.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

#include "retprobe.h"

/* ---- signal raised inside a probed function ------------------------------ */

#define SG_ARG	 9
#define ALT_SIZE (64 * 1024) /* below the mmap threshold: malloc takes it from the heap */

static volatile long sg_got;
static volatile uintptr_t sg_sp;

NOIPA long sg_inner(long k)
{
	OPAQUE(k);
	return k * k + 1;
}

static long ex_inner(long k)
{
	return k * k + 1;
}

NOIPA long sg_outer(long n)
{
	OPAQUE(n);
	raise(SIGUSR1);
	return n * 2 + sg_got;
}

NOIPA static long call_outer(long n)
{
	long r = sg_outer(n);

	OPAQUE(r);
	return r;
}

static void sg_usr1(int sig)
{
	volatile char here = 0;

	(void)sig;
	sg_sp = (uintptr_t)&here;
	sg_got = sg_inner(SG_ARG);
}

struct altstk {
	char *base;
	size_t size;
	int mmapped;
};

static int alt_alloc(struct altstk *a, int use_mmap)
{
	a->size = ALT_SIZE;
	a->mmapped = use_mmap;
	if (use_mmap) {
		a->base = mmap(NULL, a->size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (a->base == MAP_FAILED)
			a->base = NULL;
	} else {
		a->base = malloc(a->size);
	}
	if (!a->base)
		TL_FAIL("cannot allocate an alternate stack");
	return a->base != NULL;
}

static void alt_release(struct altstk *a)
{
	if (!a->base)
		return;
	if (a->mmapped)
		munmap(a->base, a->size);
	else
		free(a->base);
	a->base = NULL;
}

/* Install a for the calling thread (or none), and SIGUSR1 -> sg_usr1. */
static int alt_enable(const struct altstk *a)
{
	stack_t ss = {.ss_flags = SS_DISABLE};

	if (a) {
		ss.ss_sp = a->base;
		ss.ss_size = a->size;
		ss.ss_flags = 0;
	}
	if (sigaltstack(&ss, NULL)) {
		TL_FAIL("sigaltstack failed");
		return 0;
	}
	return 1;
}

static int in_alt(const struct altstk *a, uint64_t sp)
{
	return sp >= (uintptr_t)a->base && sp < (uintptr_t)a->base + a->size;
}

/* outer(5) raises SIGUSR1, whose handler calls inner(9); both probed. */
static void raise_round(unsigned int flags, const struct altstk *alt)
{
	struct fdesc dout = {.name = "sg_outer", .fn = sg_outer, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc din = {.name = "sg_inner",
			    .fn = sg_inner,
			    .expect = ex_inner,
			    .rk = RK_LONG,
			    .log = LOG_ALL};
	struct sigaction sa = {.sa_handler = sg_usr1, .sa_flags = alt ? SA_ONSTACK : 0}, old;
	long want = 5 * 2 + ex_inner(SG_ARG);
	char seq[1024] = "";
	struct ev *e;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	if (!alt_enable(alt))
		goto out;
	CHECK_EQ_U64(call_outer(5), want);
	if (alt && !in_alt(alt, sg_sp))
		TL_FAIL("unprobed: handler not on the alternate stack (test premise)");
	if (!rp_attach(&dout, flags, 1, 1) || !rp_attach(&din, flags, 1, 1))
		goto out;
	ev_reset();
	sg_sp = 0;
	CHECK_EQ_U64(call_outer(5), want);
	seq_add(seq, sizeof(seq), 'E', &dout, 5, 0);
	seq_add(seq, sizeof(seq), 'E', &din, SG_ARG, 0);
	seq_add(seq, sizeof(seq), 'R', &din, SG_ARG, ex_inner(SG_ARG));
	seq_add(seq, sizeof(seq), 'R', &dout, 5, want);
	check_seq(seq);
	check_ret_ev(ev_find('E', &din, 0), ev_find('R', &din, 0), 0);
	check_ret_ev(ev_find('E', &dout, 0), ev_find('R', &dout, 0), 0);
	e = ev_find('E', &din, 0);
	if (alt && !in_alt(alt, sg_sp))
		TL_FAIL("probed: handler not on the alternate stack");
	if (alt && e && !in_alt(alt, e->rsp))
		TL_FAIL("sg_inner entered with rsp %#" PRIx64 " outside the alternate stack",
			e->rsp);
	check_probe(&dout, 1, 1, 0, 0);
	check_probe(&din, 1, 1, 0, 0);
	/* The same again, to see that nothing is left over. */
	ev_reset();
	CHECK_EQ_U64(call_outer(5), want);
	check_seq(seq);
	check_probe(&dout, 2, 2, 0, 0);
	check_probe(&din, 2, 2, 0, 0);
out:
	rp_free(&dout);
	rp_free(&din);
	alt_enable(NULL);
	sigaction(SIGUSR1, &old, NULL);
}

void t_signal_raise(unsigned int flags)
{
	raise_round(flags, NULL);
}

static void altstack_round(unsigned int flags, int use_mmap)
{
	struct altstk a;

	if (!alt_alloc(&a, use_mmap))
		return;
	raise_round(flags, &a);
	alt_release(&a);
}

void t_signal_altstack_malloc(unsigned int flags)
{
	altstack_round(flags, 0);
}

void t_signal_altstack_mmap(unsigned int flags)
{
	altstack_round(flags, 1);
}

/*
 * A thread whose stack is in .bss, below the heap and the mmap area: both
 * alternate stacks then lie above the interrupted frames, so a handler's
 * entries look like calls "above" them on the stack.
 */
#define LOW_STACK (1024 * 1024)
static char low_stack[LOW_STACK] __attribute__((aligned(4096)));

struct above_arg {
	unsigned int flags;
	struct altstk heap, map;
};

static void *above_thread(void *p)
{
	struct above_arg *a = p;

	raise_round(a->flags, &a->heap);
	raise_round(a->flags, &a->map);
	return NULL;
}

void t_signal_altstack_above(unsigned int flags)
{
	struct above_arg a = {.flags = flags};
	pthread_attr_t attr;
	pthread_t t;

	if (!alt_alloc(&a.heap, 0) || !alt_alloc(&a.map, 1))
		goto out;
	if ((uintptr_t)a.heap.base < (uintptr_t)low_stack + LOW_STACK ||
	    (uintptr_t)a.map.base < (uintptr_t)low_stack + LOW_STACK)
		TL_FAIL("alternate stacks not above the thread stack (test premise)");
	pthread_attr_init(&attr);
	pthread_attr_setstack(&attr, low_stack, LOW_STACK);
	if (pthread_create(&t, &attr, above_thread, &a)) {
		TL_FAIL("pthread_create failed");
		goto out;
	}
	pthread_join(t, NULL);
	pthread_attr_destroy(&attr);
out:
	alt_release(&a.heap);
	alt_release(&a.map);
}

/* ---- a timer signal at any point of a loop of probed calls --------------- */

#define AL_TARGET    40
#define AL_MAX	     4096
#define AL_PERIOD_US 300

static volatile int al_fires;
static long al_res[AL_MAX];
static volatile uintptr_t al_sp[AL_MAX];
static long sg_iters;

NOIPA long sg_step(long i)
{
	OPAQUE(i);
	return (i * 2654435761L) & 0xffff;
}

static long ex_step(long i)
{
	return (i * 2654435761L) & 0xffff;
}

/* Probed; spins through probed calls until the handler ran target times. */
NOIPA long sg_spin(long target)
{
	long sum = 0, i;

	for (i = 0; al_fires < target; i++)
		sum += sg_step(i);
	sg_iters = i;
	return sum;
}

NOIPA static long call_spin(long target)
{
	long r = sg_spin(target);

	OPAQUE(r);
	return r;
}

static void al_handler(int sig)
{
	volatile char here = 0;
	int k = al_fires;

	(void)sig;
	if (k < AL_MAX) {
		al_sp[k] = (uintptr_t)&here;
		al_res[k] = sg_inner(k);
	}
	al_fires = k + 1;
}

static void alarm_round(unsigned int flags, const struct altstk *alt)
{
	struct fdesc dspin = {.name = "sg_spin", .fn = sg_spin, .rk = RK_LONG};
	struct fdesc dstep = {.name = "sg_step", .fn = sg_step, .expect = ex_step, .rk = RK_LONG};
	struct fdesc din = {.name = "sg_inner", .fn = sg_inner, .expect = ex_inner, .rk = RK_LONG};
	struct sigaction sa = {.sa_handler = al_handler, .sa_flags = alt ? SA_ONSTACK : 0}, old;
	struct itimerval on = {{0, AL_PERIOD_US}, {0, AL_PERIOD_US}}, off = {{0, 0}, {0, 0}};
	struct uprobe_info info = {.sz = sizeof(info)};
	long sum, want = 0, i;
	int fires, k, bad = 0;

	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, &old);
	if (!alt_enable(alt))
		goto out;
	if (!rp_attach(&dspin, flags, 1, 1) || !rp_attach(&dstep, flags, 1, 1) ||
	    !rp_attach(&din, flags, 1, 1))
		goto out;
	al_fires = 0;
	setitimer(ITIMER_REAL, &on, NULL);
	sum = call_spin(AL_TARGET);
	setitimer(ITIMER_REAL, &off, NULL); /* a pending tick is delivered on return */
	fires = al_fires;

	for (i = 0; i < sg_iters; i++)
		want += ex_step(i);
	CHECK_EQ_U64(sum, want);
	CHECK(fires >= AL_TARGET && fires < AL_MAX);
	for (k = 0; k < fires && k < AL_MAX; k++) {
		if (al_res[k] != ex_inner(k) && !bad++)
			TL_FAIL("handler call %d: sg_inner returned %ld, want %ld", k, al_res[k],
				ex_inner(k));
		if (alt && !in_alt(alt, al_sp[k]) && !bad++)
			TL_FAIL("handler call %d not on the alternate stack", k);
	}
	check_probe(&dspin, 1, 1, 0, 0);
	check_probe(&dstep, sg_iters, sg_iters, 0, 0);
	/*
	 * A tick landing inside a handler (entry or return) is skipped, not
	 * recursed; one interrupting the shadow stack's update is not followed
	 * (missed, its entry handler sees no cookie). Either way counted.
	 */
	CHECK_EQ_INT(uprobe_get_info(din.probe, &info), 0);
	CHECK_EQ_U64(info.hits + info.skipped, fires);
	check_probe(&din, info.hits, info.hits - info.ret_missed, 0, info.ret_missed);
	printf("  %d ticks, %ld loop calls; in the handler: %" PRIu64 " skipped, %" PRIu64
	       " missed\n",
	       fires, sg_iters, info.skipped, info.ret_missed);
out:
	setitimer(ITIMER_REAL, &off, NULL);
	alt_enable(NULL);
	sigaction(SIGALRM, &old, NULL);
}

void t_signal_alarm(unsigned int flags)
{
	alarm_round(flags, NULL);
}

void t_signal_alarm_altstack(unsigned int flags)
{
	struct altstk a;

	if (!alt_alloc(&a, 1))
		return;
	alarm_round(flags, &a);
	alt_release(&a);
}

/* ---- fork inside a probed function ------------------------------------- */

static pid_t fk_child;

NOIPA long fk_fn(long x)
{
	pid_t p;

	OPAQUE(x);
	p = fork();
	if (p < 0)
		return -1;
	if (p == 0)
		return x * 3 + 1;
	fk_child = p;
	return x * 3 + 2;
}

NOIPA long fk_outer(long x)
{
	long r = fk_fn(x + 1);

	OPAQUE(r);
	return r * 2;
}

NOIPA long fk_after(long x)
{
	OPAQUE(x);
	return x * 7 + 1;
}

NOIPA static long call_fk(long x)
{
	long r = fk_outer(x);

	OPAQUE(r);
	return r;
}

void t_fork(unsigned int flags)
{
	struct fdesc dout = {.name = "fk_outer", .fn = fk_outer, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc dfn = {.name = "fk_fn", .fn = fk_fn, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc daft = {.name = "fk_after", .fn = fk_after, .rk = RK_LONG, .log = LOG_ALL};
	const long child_val = (6 * 3 + 1) * 2, parent_val = (6 * 3 + 2) * 2;
	char seq[1024] = "", got[1024];
	pid_t parent = getpid();
	int status = 0;
	long r;

	if (!rp_attach(&dout, flags, 1, 1) || !rp_attach(&dfn, flags, 1, 1) ||
	    !rp_attach(&daft, flags, 1, 1))
		return;
	fflush(stdout);
	ev_reset();
	r = call_fk(5);
	if (getpid() != parent) {
		/* The child: its own copy of the log, probes still attached. */
		int ok = r == child_val;

		ok &= fk_after(7) == 50;
		seq_add(seq, sizeof(seq), 'E', &dout, 5, 0);
		seq_add(seq, sizeof(seq), 'E', &dfn, 6, 0);
		seq_add(seq, sizeof(seq), 'R', &dfn, 6, 19);
		seq_add(seq, sizeof(seq), 'R', &dout, 5, child_val);
		seq_add(seq, sizeof(seq), 'E', &daft, 7, 0);
		seq_add(seq, sizeof(seq), 'R', &daft, 7, 50);
		ev_seq(got, sizeof(got));
		if (strcmp(got, seq)) {
			printf("  fork child: event sequence\n    got:  %s\n    want: %s\n", got,
			       seq);
			ok = 0;
		}
		ok &= !atomic_load(&dout.bad) && !atomic_load(&dfn.bad) && !atomic_load(&daft.bad);
		fflush(stdout);
		_exit((int)(r & 0x3f) | (ok ? 0x40 : 0));
	}
	CHECK_EQ_U64(r, parent_val);
	if (waitpid(fk_child, &status, 0) != fk_child) {
		TL_FAIL("waitpid failed");
		return;
	}
	if (!WIFEXITED(status))
		TL_FAIL("child died, status %#x", status);
	else if (WEXITSTATUS(status) != (0x40 | (child_val & 0x3f)))
		TL_FAIL("child exit status %#x, want %#lx (value %s, checks %s)",
			WEXITSTATUS(status), 0x40 | (child_val & 0x3f),
			(WEXITSTATUS(status) & 0x3f) == (child_val & 0x3f) ? "right" : "WRONG",
			WEXITSTATUS(status) & 0x40 ? "passed" : "FAILED");
	seq_add(seq, sizeof(seq), 'E', &dout, 5, 0);
	seq_add(seq, sizeof(seq), 'E', &dfn, 6, 0);
	seq_add(seq, sizeof(seq), 'R', &dfn, 6, 20);
	seq_add(seq, sizeof(seq), 'R', &dout, 5, parent_val);
	check_seq(seq);
	check_ret_ev(ev_find('E', &dfn, 0), ev_find('R', &dfn, 0), 0);
	check_ret_ev(ev_find('E', &dout, 0), ev_find('R', &dout, 0), 0);
	check_probe(&dout, 1, 1, 0, 0);
	check_probe(&dfn, 1, 1, 0, 0);
	check_probe(&daft, 0, 0, 0, 0);
}

/* ---- swapcontext coroutines ---------------------------------------------- */

#define CO_ITERS 500	     /* per coroutine: 1000 switches in all */
#define CO_BASE	 100000	     /* argument = coroutine * CO_BASE + iteration */
#define CO_STACK (96 * 1024) /* the malloc'd one comes from the heap */

static ucontext_t co_main, co_uc[2];
static long co_sum[2];
static int co_switches;

static void co_switch(long a)
{
	int id = a >= CO_BASE;

	co_switches++;
	swapcontext(&co_uc[id], &co_uc[!id]);
}

NOIPA long co_l3(long a)
{
	OPAQUE(a);
	co_switch(a);
	return a * 7 + 3;
}

NOIPA long co_l2(long a)
{
	long r;

	OPAQUE(a);
	if (a & 1) {
		r = co_l3(a);
		OPAQUE(r);
		return r + 1;
	}
	co_switch(a);
	return a * 5 + 1;
}

NOIPA long co_l1(long a)
{
	long r = co_l2(a);

	OPAQUE(r);
	return r * 2 + 3;
}

static long ex_l3(long a)
{
	return a * 7 + 3;
}

static long ex_l2(long a)
{
	return (a & 1) ? ex_l3(a) + 1 : a * 5 + 1;
}

static long ex_l1(long a)
{
	return ex_l2(a) * 2 + 3;
}

static void co_body(int id)
{
	int i;

	for (i = 0; i < CO_ITERS; i++)
		co_sum[id] += co_l1(id * CO_BASE + i);
}

static void co_entry0(void)
{
	co_body(0);
}

static void co_entry1(void)
{
	co_body(1);
}

/* Probed too: the main stack has a pending frame during all the switching. */
NOIPA long co_run(long x)
{
	OPAQUE(x);
	swapcontext(&co_main, &co_uc[0]);
	return x + 77;
}

static void co_setup(void *s0, void *s1)
{
	getcontext(&co_uc[0]);
	co_uc[0].uc_stack.ss_sp = s0;
	co_uc[0].uc_stack.ss_size = CO_STACK;
	co_uc[0].uc_link = &co_uc[1]; /* when 0 ends, 1 finishes its last call */
	makecontext(&co_uc[0], co_entry0, 0);
	getcontext(&co_uc[1]);
	co_uc[1].uc_stack.ss_sp = s1;
	co_uc[1].uc_stack.ss_size = CO_STACK;
	co_uc[1].uc_link = &co_main;
	makecontext(&co_uc[1], co_entry1, 0);
	co_sum[0] = co_sum[1] = 0;
	co_switches = 0;
}

NOIPA static long call_co_run(long x)
{
	long r = co_run(x);

	OPAQUE(r);
	return r;
}

static long co_expected_sum(int id)
{
	long s = 0;
	int i;

	for (i = 0; i < CO_ITERS; i++)
		s += ex_l1(id * CO_BASE + i);
	return s;
}

/* Every entry of l1..l3 has exactly one normal return, with its entry rsp. */
static void co_check_matching(struct fdesc **ds)
{
	static uint64_t ent_sp[3][2 * CO_ITERS];
	static unsigned char ents[3][2 * CO_ITERS], rets[3][2 * CO_ITERS];
	unsigned int i, cnt = ev_count(), bad = 0;
	int f, k;

	memset(ents, 0, sizeof(ents));
	memset(rets, 0, sizeof(rets));
	for (i = 0; i < cnt; i++) {
		const struct ev *e = &evlog[i];
		long a = e->arg;
		int idx = (int)(a / CO_BASE) * CO_ITERS + (int)(a % CO_BASE);

		for (f = 0; f < 3 && e->d != ds[f]; f++)
			;
		if (f == 3)
			continue;
		if (a < 0 || a % CO_BASE >= CO_ITERS || a / CO_BASE > 1) {
			if (!bad++)
				TL_FAIL("event %c %s with argument %ld", e->kind, e->d->name, a);
			continue;
		}
		if (e->kind == 'E') {
			ents[f][idx]++;
			ent_sp[f][idx] = e->rsp;
		} else if (e->kind == 'R') {
			rets[f][idx]++;
			if (e->entry_sp != ent_sp[f][idx] && !bad++)
				TL_FAIL("%s(%ld): entry_sp %#" PRIx64 ", entry rsp %#" PRIx64,
					e->d->name, a, e->entry_sp, ent_sp[f][idx]);
		} else if (!bad++) {
			TL_FAIL("%c report of %s(%ld)", e->kind, e->d->name, a);
		}
	}
	for (f = 0; f < 3; f++) {
		for (k = 0; k < 2 * CO_ITERS; k++) {
			int want = f < 2 || (k & 1);

			if ((ents[f][k] != want || rets[f][k] != want) && !bad++)
				TL_FAIL("%s(%d): %d entries, %d returns, want %d each", ds[f]->name,
					(k / CO_ITERS) * CO_BASE + k % CO_ITERS, ents[f][k],
					rets[f][k], want);
		}
	}
	CHECK_EQ_INT(bad, 0);
}

void t_swapcontext(unsigned int flags)
{
	struct fdesc d1 = {
		.name = "co_l1", .fn = co_l1, .expect = ex_l1, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {
		.name = "co_l2", .fn = co_l2, .expect = ex_l2, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d3 = {
		.name = "co_l3", .fn = co_l3, .expect = ex_l3, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc drun = {.name = "co_run", .fn = co_run, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc *ds[3] = {&d1, &d2, &d3};
	void *s0 = malloc(CO_STACK);
	void *s1 = mmap(NULL, CO_STACK, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	long want[2];
	struct ev *e, *r;

	if (!s0 || s1 == MAP_FAILED) {
		TL_FAIL("cannot allocate coroutine stacks");
		return;
	}
	co_setup(s0, s1);
	CHECK_EQ_U64(call_co_run(1), 78);
	want[0] = co_sum[0];
	want[1] = co_sum[1];
	CHECK_EQ_U64(want[0], co_expected_sum(0));
	CHECK_EQ_U64(want[1], co_expected_sum(1));
	CHECK_EQ_INT(co_switches, 2 * CO_ITERS);

	if (!rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1) ||
	    !rp_attach(&d3, flags, 1, 1) || !rp_attach(&drun, flags, 1, 1))
		goto out;
	co_setup(s0, s1);
	ev_reset();
	CHECK_EQ_U64(call_co_run(2), 79);
	CHECK_EQ_U64(co_sum[0], want[0]);
	CHECK_EQ_U64(co_sum[1], want[1]);
	CHECK_EQ_INT(co_switches, 2 * CO_ITERS);
	CHECK_EQ_INT(atomic_load(&ev_overflow), 0);
	co_check_matching(ds);
	e = ev_find('E', &drun, 0);
	r = ev_find('R', &drun, 0);
	check_ret_ev(e, r, 0);
	if (r)
		CHECK_EQ_U64(r->rax, 79);
	check_probe(&d1, 2 * CO_ITERS, 2 * CO_ITERS, 0, 0);
	check_probe(&d2, 2 * CO_ITERS, 2 * CO_ITERS, 0, 0);
	check_probe(&d3, CO_ITERS, CO_ITERS, 0, 0);
	check_probe(&drun, 1, 1, 0, 0);
out:
	rp_detach_all();
	free(s0);
	munmap(s1, CO_STACK);
}

/* ---- beyond the brief: siglongjmp out of probed frames on a sigaltstack --- */

#define JA_HARG 100

static sigjmp_buf ja_env;
static int ja_jump;

NOIPA long ja_h2(long x)
{
	OPAQUE(x);
	if (ja_jump)
		siglongjmp(ja_env, 1);
	return x + 1;
}

NOIPA long ja_h1(long x)
{
	long r = ja_h2(x + 1);

	OPAQUE(r);
	return r + 1;
}

static void ja_sig(int sig)
{
	(void)sig;
	sg_got = ja_h1(JA_HARG);
}

NOIPA static long ja_once(long x)
{
	volatile long vx = x;

	if (sigsetjmp(ja_env, 1) == 0) {
		sg_outer(vx);
		return LONG_MIN; /* not reached */
	}
	return sg_inner(vx);
}

/*
 * Round 1: sg_outer (main stack) raises SIGUSR1; the handler, on the
 * alternate stack, calls ja_h1 -> ja_h2, which siglongjmps back to main.
 * sg_outer is found dead at the next entry on the main stack (sg_inner's).
 * ja_h1 and ja_h2 live on the other stack: the contract ("on the same
 * stack") has them found at the next entry there, in round 2, before
 * ja_h1's entry; finding them already in round 1 (the thread left the
 * alternate stack) is accepted too. Either way exactly once.
 */
void t_siglongjmp_altstack(unsigned int flags)
{
	struct fdesc dout = {.name = "sg_outer", .fn = sg_outer, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc din = {.name = "sg_inner",
			    .fn = sg_inner,
			    .expect = ex_inner,
			    .rk = RK_LONG,
			    .log = LOG_ALL};
	struct fdesc d1 = {.name = "ja_h1", .fn = ja_h1, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {.name = "ja_h2", .fn = ja_h2, .rk = RK_LONG, .log = LOG_ALL};
	struct sigaction sa = {.sa_handler = ja_sig, .sa_flags = SA_ONSTACK}, old;
	static char seq[1024], early[1024], got[4096];
	struct altstk a;
	struct ev *e;
	int found_early = 0;

	if (!alt_alloc(&a, 1))
		return;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	if (!alt_enable(&a))
		goto out;
	ja_jump = 1;
	CHECK_EQ_U64(ja_once(3), ex_inner(3));
	ja_jump = 0;
	CHECK_EQ_U64(call_outer(4), 8 + JA_HARG + 3);
	if (!rp_attach(&dout, flags, 1, 1) || !rp_attach(&din, flags, 1, 1) ||
	    !rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1))
		goto out;

	ev_reset();
	ja_jump = 1;
	CHECK_EQ_U64(ja_once(3), ex_inner(3));
	seq[0] = early[0] = 0;
	seq_add(seq, sizeof(seq), 'E', &dout, 3, 0);
	seq_add(seq, sizeof(seq), 'E', &d1, JA_HARG, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, JA_HARG + 1, 0);
	strcpy(early, seq);
	seq_add(early, sizeof(early), 'U', &d2, JA_HARG + 1, 0);
	seq_add(early, sizeof(early), 'U', &d1, JA_HARG, 0);
	seq_add(seq, sizeof(seq), 'U', &dout, 3, 0);
	seq_add(early, sizeof(early), 'U', &dout, 3, 0);
	seq_add(seq, sizeof(seq), 'E', &din, 3, 0);
	seq_add(early, sizeof(early), 'E', &din, 3, 0);
	seq_add(seq, sizeof(seq), 'R', &din, 3, ex_inner(3));
	seq_add(early, sizeof(early), 'R', &din, 3, ex_inner(3));
	ev_seq(got, sizeof(got));
	found_early = !strcmp(got, early);
	if (strcmp(got, seq) && !found_early) {
		printf("  round 1 event sequence\n    got:  %s\n    want: %s\n    or:   %s\n", got,
		       seq, early);
		tl_case_failed = 1;
	}
	e = ev_find('E', &d1, 0);
	if (e && !in_alt(&a, e->rsp))
		TL_FAIL("ja_h1 not entered on the alternate stack (test premise)");

	ev_reset();
	ja_jump = 0;
	CHECK_EQ_U64(call_outer(4), 8 + JA_HARG + 3);
	seq[0] = 0;
	seq_add(seq, sizeof(seq), 'E', &dout, 4, 0);
	if (!found_early) {
		seq_add(seq, sizeof(seq), 'U', &d2, JA_HARG + 1, 0);
		seq_add(seq, sizeof(seq), 'U', &d1, JA_HARG, 0);
	}
	seq_add(seq, sizeof(seq), 'E', &d1, JA_HARG, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, JA_HARG + 1, 0);
	seq_add(seq, sizeof(seq), 'R', &d2, JA_HARG + 1, JA_HARG + 2);
	seq_add(seq, sizeof(seq), 'R', &d1, JA_HARG, JA_HARG + 3);
	seq_add(seq, sizeof(seq), 'R', &dout, 4, 8 + JA_HARG + 3);
	check_seq(seq);
	check_probe(&dout, 2, 2, 1, 0);
	check_probe(&din, 1, 1, 0, 0);
	check_probe(&d1, 2, 2, 1, 0);
	check_probe(&d2, 2, 2, 1, 0);
out:
	rp_detach_all();
	alt_enable(NULL);
	sigaction(SIGUSR1, &old, NULL);
	alt_release(&a);
}

/*
 * The same 1000 times, then a normal round: every left frame is reported
 * exactly once, and the thread's followed calls do not fill up with dead
 * ones (after ~340 leaked rounds every call would be missed).
 */
#define JA_LOOPS 1000

void t_siglongjmp_altstack_loop(unsigned int flags)
{
	struct fdesc dout = {.name = "sg_outer", .fn = sg_outer, .rk = RK_LONG};
	struct fdesc din = {.name = "sg_inner", .fn = sg_inner, .expect = ex_inner, .rk = RK_LONG};
	struct fdesc d1 = {.name = "ja_h1", .fn = ja_h1, .rk = RK_LONG};
	struct fdesc d2 = {.name = "ja_h2", .fn = ja_h2, .rk = RK_LONG};
	struct sigaction sa = {.sa_handler = ja_sig, .sa_flags = SA_ONSTACK}, old;
	struct altstk a;
	int i, bad = 0;

	if (!alt_alloc(&a, 1))
		return;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGUSR1, &sa, &old);
	if (!alt_enable(&a))
		goto out;
	if (!rp_attach(&dout, flags, 1, 1) || !rp_attach(&din, flags, 1, 1) ||
	    !rp_attach(&d1, flags, 1, 1) || !rp_attach(&d2, flags, 1, 1))
		goto out;
	ja_jump = 1;
	for (i = 0; i < JA_LOOPS; i++)
		bad += ja_once(i) != ex_inner(i);
	ja_jump = 0;
	CHECK_EQ_U64(call_outer(4), 8 + JA_HARG + 3);
	CHECK_EQ_INT(bad, 0);
	/* Each round's 3 frames, reported by the next round or the final one. */
	check_probe(&dout, JA_LOOPS + 1, JA_LOOPS + 1, JA_LOOPS, 0);
	check_probe(&din, JA_LOOPS, JA_LOOPS, 0, 0);
	check_probe(&d1, JA_LOOPS + 1, JA_LOOPS + 1, JA_LOOPS, 0);
	check_probe(&d2, JA_LOOPS + 1, JA_LOOPS + 1, JA_LOOPS, 0);
out:
	rp_detach_all();
	alt_enable(NULL);
	sigaction(SIGUSR1, &old, NULL);
	alt_release(&a);
}
