/* SPDX-License-Identifier: MIT */
/*
 * What tests/cli_attach attaches to (uprobe trace -p).
 *
 *   attach_target serve T [ROUNDS]
 *	T threads call at_work() and at_alloc() (malloc/free) in rounds; after
 *	each round the main thread prints its checksum, which depends only on
 *	the round. Another thread waits in epoll_wait() and one in
 *	pthread_cond_timedwait(), counting any EINTR. Runs ROUNDS rounds, or
 *	until SIGTERM; the output of N rounds is the same traced or not.
 *
 *   attach_target traced N [exit S | crash | threads T]
 *	Prints "ready" and waits for SIGUSR1 (the test sends it once the
 *	tracer says it is tracing: no wall-clock guess of when the probes
 *	record), then calls at_work N times (in each of T threads), prints the
 *	total and exits with status S (default 0), or dies of SIGSEGV.
 *
 *   attach_target sleepers T
 *	T threads each spin for 10 us and sleep for 10 us, over and over, half
 *	of them in nanosleep(), half in epoll_pwait2(): a thread found running
 *	is about to sleep. Until SIGTERM; then prints how many sleeps failed
 *	with EINTR.
 *
 *   attach_target vforker
 *	One thread vforks, over and over, a child that sleeps 3 s before it
 *	exits: that thread is nearly always in uninterruptible sleep, where a
 *	ptrace interrupt cannot stop it. Another calls at_work(). Until SIGTERM;
 *	then prints the number of children.
 *
 *   attach_target seccomp
 *	Runs under an allow-everything seccomp filter until SIGTERM.
 *
 *   attach_target nodump
 *	Makes itself not dumpable (PR_SET_DUMPABLE 0), says "nodump" and runs
 *	until SIGTERM.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define CALLS_PER_ROUND 100000

static volatile sig_atomic_t stop;
static long eintr;

__attribute__((noinline)) long at_work(long a, long b)
{
	__asm__ volatile("" ::: "memory");
	return a * 3 + b;
}

__attribute__((noinline)) long at_alloc(size_t n)
{
	unsigned char *p = malloc(n);
	long sum = 0;

	if (!p)
		abort();
	memset(p, (int)(n & 0xff), n);
	for (size_t i = 0; i < n; i += 64)
		sum += p[i];
	free(p);
	return sum;
}

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

struct worker {
	int id;
	long sum;
	long round;
	pthread_barrier_t *start, *done;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (;;) {
		pthread_barrier_wait(w->start);
		if (w->round < 0)
			return NULL;
		w->sum = 0;
		for (long i = 0; i < CALLS_PER_ROUND; i++) {
			w->sum += at_work(i, w->round * 31 + w->id);
			if (!(i & 63))
				w->sum += at_alloc((size_t)(16 + (i + w->id) % 4000));
		}
		pthread_barrier_wait(w->done);
	}
}

static void *epoll_waiter(void *arg)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev;

	(void)arg;
	while (!stop)
		if (epoll_wait(ep, &ev, 1, 3) < 0 && errno == EINTR)
			__atomic_fetch_add(&eintr, 1, __ATOMIC_RELAXED);
	close(ep);
	return NULL;
}

static void *cond_waiter(void *arg)
{
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;

	(void)arg;
	pthread_mutex_lock(&m);
	while (!stop) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 2000000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		if (pthread_cond_timedwait(&c, &m, &ts) == EINTR)
			__atomic_fetch_add(&eintr, 1, __ATOMIC_RELAXED);
	}
	pthread_mutex_unlock(&m);
	return NULL;
}

static int serve(int t, long rounds)
{
	struct worker w[64];
	pthread_t th[66];
	pthread_barrier_t start, done;
	sigset_t term, old;
	long r;

	if (t < 1 || t > 64)
		return 2;
	signal(SIGTERM, on_term);
	/* SIGTERM goes to the main thread: an EINTR elsewhere would be ours. */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, &old);
	pthread_barrier_init(&start, NULL, (unsigned)t + 1);
	pthread_barrier_init(&done, NULL, (unsigned)t + 1);
	for (int i = 0; i < t; i++) {
		w[i] = (struct worker){ .id = i, .start = &start, .done = &done };
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	pthread_create(&th[t], NULL, epoll_waiter, NULL);
	pthread_create(&th[t + 1], NULL, cond_waiter, NULL);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	for (r = 0; rounds ? r < rounds : !stop; r++) {
		long sum = 0;

		for (int i = 0; i < t; i++)
			w[i].round = r;
		pthread_barrier_wait(&start);
		pthread_barrier_wait(&done);
		for (int i = 0; i < t; i++)
			sum += w[i].sum;
		printf("round %ld: %ld\n", r, sum);
		fflush(stdout);
	}
	for (int i = 0; i < t; i++)
		w[i].round = -1;
	pthread_barrier_wait(&start);
	stop = 1;
	for (int i = 0; i < t + 2; i++)
		pthread_join(th[i], NULL);
	printf("rounds %ld, EINTR %ld\n", r, eintr);
	return 0;
}

struct caller {
	long n, sum;
};

static void *call_n(void *arg)
{
	struct caller *c = arg;

	for (long i = 0; i < c->n; i++)
		c->sum += at_work(i, 1);
	return NULL;
}

static volatile sig_atomic_t go;

static void on_go(int sig)
{
	(void)sig;
	go = 1;
}

static int traced(long n, int argc, char **argv)
{
	struct caller c[64];
	pthread_t th[64];
	int threads = 1;
	long sum = 0;

	if (argc >= 2 && !strcmp(argv[0], "threads"))
		threads = atoi(argv[1]);
	if (threads < 1 || threads > 64)
		return 2;
	signal(SIGUSR1, on_go);
	printf("ready\n");
	fflush(stdout);
	/* Sleeping, not blocked in sigwait(): an attach needs a thread that runs. */
	while (!go)
		usleep(1000);
	for (int i = 0; i < threads; i++) {
		c[i] = (struct caller){ .n = n };
		pthread_create(&th[i], NULL, call_n, &c[i]);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		sum += c[i].sum;
	}
	printf("%ld calls, sum %ld\n", n * threads, sum);
	fflush(stdout);
	if (argc >= 1 && !strcmp(argv[0], "crash"))
		raise(SIGSEGV);
	return argc >= 2 && !strcmp(argv[0], "exit") ? atoi(argv[1]) : 0;
}

static long us_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000000 + (t.tv_nsec - t0->tv_nsec) / 1000;
}

static void *sleeper(void *arg)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	bool in_epoll = (long)arg & 1;

	while (!stop) {
		struct timespec t0, nap = { 0, 10000 };
		struct epoll_event ev;
		int r;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (us_since(&t0) < 10)
			at_work(1, 2);
		r = in_epoll ? epoll_pwait2(ep, &ev, 1, &nap, NULL) : nanosleep(&nap, NULL);
		if (r < 0 && errno == EINTR)
			__atomic_fetch_add(&eintr, 1, __ATOMIC_RELAXED);
	}
	close(ep);
	return NULL;
}

static int sleepers(int t)
{
	pthread_t th[64];
	sigset_t term;

	if (t < 1 || t > 64)
		return 2;
	signal(SIGTERM, on_term);
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	for (long i = 0; i < t; i++)
		pthread_create(&th[i], NULL, sleeper, (void *)i);
	pthread_sigmask(SIG_UNBLOCK, &term, NULL);
	while (!stop)
		pause();
	for (int i = 0; i < t; i++)
		pthread_join(th[i], NULL);
	printf("sleepers: EINTR %ld\n", eintr);
	return 0;
}

static void *vforks(void *arg)
{
	long *children = arg;

	while (!stop) {
		pid_t pid = vfork();

		if (pid == 0) {
			struct timespec nap = { 3, 0 };

			/* Only system calls here: the parent's memory is ours. */
			syscall(SYS_nanosleep, &nap, NULL);
			syscall(SYS_exit, 0);
		}
		if (pid > 0 && waitpid(pid, NULL, 0) == pid)
			(*children)++;
	}
	return NULL;
}

static int vforker(void)
{
	pthread_t th;
	long children = 0;

	signal(SIGTERM, on_term);
	pthread_create(&th, NULL, vforks, &children);
	while (!stop)
		at_work(usleep(1000), 0);
	pthread_join(th, NULL);
	printf("vforker: %ld children\n", children);
	return 0;
}

static int under_seccomp(void)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { 1, allow };

	signal(SIGTERM, on_term);
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) ||
	    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog)) {
		perror("seccomp");
		return 1;
	}
	printf("seccomp\n");
	fflush(stdout);
	while (!stop)
		at_work(usleep(1000), 0);
	return 0;
}

static int nodump(void)
{
	signal(SIGTERM, on_term);
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)) {
		perror("PR_SET_DUMPABLE");
		return 1;
	}
	printf("nodump\n");
	fflush(stdout);
	while (!stop)
		at_work(usleep(1000), 0);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "serve"))
		return serve(atoi(argv[2]), argc > 3 ? atol(argv[3]) : 0);
	if (argc >= 3 && !strcmp(argv[1], "traced"))
		return traced(atol(argv[2]), argc - 3, argv + 3);
	if (argc == 3 && !strcmp(argv[1], "sleepers"))
		return sleepers(atoi(argv[2]));
	if (argc == 2 && !strcmp(argv[1], "vforker"))
		return vforker();
	if (argc == 2 && !strcmp(argv[1], "seccomp"))
		return under_seccomp();
	if (argc == 2 && !strcmp(argv[1], "nodump"))
		return nodump();
	fprintf(stderr, "usage: attach_target serve T [ROUNDS] | traced N [exit S | crash | "
			"threads T] | sleepers T | vforker | seccomp | nodump\n");
	return 2;
}
