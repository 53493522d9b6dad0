/* SPDX-License-Identifier: MIT */
/*
 * A program that knows nothing of probes and does what breaks tracers;
 * tests/hostile/test_hostile.sh runs it under uprobe trace and alone, and
 * compares. Its output is the same either way.
 *
 * hostile_target closefds close_range|dup2 N
 *	N calls of hostile_xol and hostile_jmp; then close_range(3, ~0) or
 *	/dev/null dup2'ed over 3..1023 (a daemon's start); then, once both
 *	functions hold their file's bytes again (traced: the agent noticed
 *	its channel gone and took its probes out), N calls more.
 * hostile_target daemon close_range|dup2 N
 *	the same, from SIGUSR1 on (uprobe trace -p is tracing), then runs on
 *	until SIGTERM.
 * hostile_target rawtrap N
 *	its own SIGTRAP handler installed with the raw rt_sigaction system
 *	call; once the library has taken SIGTRAP back (traced only: the
 *	agent's watcher does), N calls of hostile_xol; then an int3 of its
 *	own, which must reach its handler exactly once.
 * hostile_target threads T N
 *	T threads (up to 256) started at once, each making N calls of
 *	hostile_xol and hostile_jmp, alive together until all are done; prints
 *	the sum, the same traced or not.
 * hostile_target reexec
 *	closes every descriptor, puts a connection of its own at the number
 *	of UPROBE_AGENT_FD and execs itself ("reexec-child"), which says how
 *	many bytes came through: none, whether traced or not.
 *
 * A wait that never ends (a fault of the tracer) ends after WAIT_S seconds
 * with a line saying so, which differs from the untraced output.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include "hostile/hostile.h"

#define WAIT_S 60

static uint8_t xol_file[HOSTILE_XOL_LEN], jmp_file[HOSTILE_JMP_LEN];
static int own_traps;

static long calls(long n)
{
	long sum = 0;

	for (long i = 0; i < n; i++)
		sum += hostile_xol((int)i) + hostile_jmp((int)i);
	return sum;
}

/* Wait for done() (polling: what it waits for happens in another thread). */
static int wait_for(int (*done)(void), const char *what)
{
	struct timespec nap = { 0, 1000000 }, t0, t;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!done()) {
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > WAIT_S) {
			printf("still waiting after %d s for %s\n", WAIT_S, what);
			return -1;
		}
		nanosleep(&nap, NULL);
	}
	return 0;
}

static int text_is_file(void)
{
	return !memcmp((void *)hostile_xol, xol_file, sizeof(xol_file)) &&
	       !memcmp((void *)hostile_jmp, jmp_file, sizeof(jmp_file));
}

static volatile sig_atomic_t go;

static void on_go(int sig)
{
	(void)sig;
	go = 1;
}

static int gone(void)
{
	return go;
}

static int closefds(const char *how, long n, bool attached)
{
	long sum;

	signal(SIGUSR1, on_go);
	/* Read now: after dup2 over every number, no file can be opened. */
	if (hostile_file_bytes((void *)hostile_xol, sizeof(xol_file), xol_file) ||
	    hostile_file_bytes((void *)hostile_jmp, sizeof(jmp_file), jmp_file)) {
		printf("cannot read my own file\n");
		return 1;
	}
	if (attached && wait_for(gone, "SIGUSR1"))
		return 1;
	sum = calls(n);
	printf("%ld calls, sum %ld\n", n, sum);
	fflush(stdout);
	if (!strcmp(how, "close_range")) {
		syscall(SYS_close_range, 3, ~0U, 0);
	} else {
		int null = open("/dev/null", O_RDWR);

		for (int fd = 3; fd < 1024; fd++)
			if (fd != null)
				dup2(null, fd);
	}
	if (wait_for(text_is_file, "the probes to come out"))
		return 1;
	sum += calls(n);
	printf("%ld calls, sum %ld\n", 2 * n, sum);
	fflush(stdout);
	while (attached)
		pause();
	return 0;
}

static void own_trap(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	own_traps++;
}

static int trap_taken_back(void)
{
	return hostile_raw_handler(SIGTRAP) != (void *)own_trap;
}

static int rawtrap(long n)
{
	/* Untraced, SIGTRAP has its default action; traced, the library's handler. */
	bool traced = hostile_raw_handler(SIGTRAP) != SIG_DFL;
	long sum;

	if (hostile_raw_set(SIGTRAP, own_trap)) {
		perror("rt_sigaction");
		return 1;
	}
	if (traced && wait_for(trap_taken_back, "SIGTRAP to be taken back"))
		return 1;
	sum = calls(n);
	__asm__ volatile("int3");
	printf("%ld calls, sum %ld, own traps %d\n", n, sum, own_traps);
	return 0;
}

/* The program's own connection (a stream socket): sendmsg would work on it. */
#define REEXEC_READ_FD 200

static int reexec(char *self)
{
	const char *env = getenv("UPROBE_AGENT_FD");
	int fd = env ? atoi(env) : 100, s[2];

	syscall(SYS_close_range, 3, ~0U, 0);
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, s) || dup2(s[0], REEXEC_READ_FD) < 0 ||
	    dup2(s[1], fd) < 0) {
		perror("socketpair");
		return 1;
	}
	execl(self, self, "reexec-child", (char *)NULL);
	perror("exec");
	return 1;
}

static int reexec_child(void)
{
	int queued = -1;

	ioctl(REEXEC_READ_FD, FIONREAD, &queued);
	printf("bytes in my connection: %d\n", queued);
	return 0;
}

struct crowd {
	pthread_barrier_t *all;
	long n, sum;
};

static void *crowd_member(void *arg)
{
	struct crowd *c = arg;

	pthread_barrier_wait(c->all);
	for (long i = 0; i < c->n; i++)
		c->sum += hostile_xol((int)i) + hostile_jmp((int)i);
	pthread_barrier_wait(c->all); /* every thread lives until all have called */
	return NULL;
}

static int threads(int t, long n)
{
	static struct crowd c[256];
	static pthread_t th[256];
	pthread_barrier_t all;
	long sum = 0;

	if (t < 1 || t > 256)
		return 2;
	pthread_barrier_init(&all, NULL, (unsigned)t);
	for (int i = 0; i < t; i++) {
		c[i] = (struct crowd){ .all = &all, .n = n };
		if (pthread_create(&th[i], NULL, crowd_member, &c[i])) {
			printf("thread %d: cannot start\n", i);
			return 1;
		}
	}
	for (int i = 0; i < t; i++) {
		pthread_join(th[i], NULL);
		sum += c[i].sum;
	}
	printf("%d threads, %ld calls each, sum %ld\n", t, n, sum);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 2 ? atol(argv[argc - 1]) : 0;

	if (argc == 4 && !strcmp(argv[1], "closefds"))
		return closefds(argv[2], n, false);
	if (argc == 4 && !strcmp(argv[1], "daemon"))
		return closefds(argv[2], n, true);
	if (argc == 3 && !strcmp(argv[1], "rawtrap"))
		return rawtrap(n);
	if (argc == 4 && !strcmp(argv[1], "threads"))
		return threads(atoi(argv[2]), n);
	if (argc == 2 && !strcmp(argv[1], "reexec"))
		return reexec(argv[0]);
	if (argc == 2 && !strcmp(argv[1], "reexec-child"))
		return reexec_child();
	fprintf(stderr, "usage: hostile_target closefds|daemon close_range|dup2 N | rawtrap N | "
			"threads T N | reexec\n");
	return 2;
}
