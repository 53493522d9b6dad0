/* SPDX-License-Identifier: MIT */
/*
 * What tests/map_exact/ traces: map_target [-f] [-e] [-k] [-w FIFO] N THREADS.
 * THREADS threads each call map_f(i % 5, i) N times (i = 0 .. N-1): N / 5 hits
 * per key and thread when 5 divides N. -e: one more thread calls map_f(7, i)
 * N / 10 times and exits while the others still run (it is joined before they
 * end). -f: then a forked child does the same N calls of map_f(i % 5, i) in one
 * thread while its parent waits for it. -k: then the process kills itself with
 * SIGKILL. -w FIFO: before any call, wait until a line can be read from FIFO
 * (the tracer is attached), and write "done" into it at the end; -a with -w:
 * then wait for another line (the tracer has detached) and make N more calls
 * of map_f(i % 5, i), which nobody counts. -s: at the end, print what map_f returned
 * (key + i) summed per thread and in all, and exit with status 3 (tests/lang_target:
 * the traced run's output and status are the untraced run's). -r D: then the
 * main thread calls rec_f(D) N times, which recurses D deep (D + 1 calls,
 * D + 1 returns each time). -x: then one more thread calls stay_f(T), T its tid,
 * which never returns (the thread waits there until the process ends); once
 * it is in, the main thread prints "x tid T" and goes on to its end.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static long n_calls;
static pthread_barrier_t start;

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is not about short functions, and so the entry's 5-byte
 * jump never takes the ret; make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict UPROBE_RET_PATH=site-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) long map_f(long key, long i)
{
	__asm__ volatile("" : : "r"(key), "r"(i) : "memory");
	return key + i;
}

/* Not a loop: the asm keeps each level's call and return (no tail-recursion elimination). */
__attribute__((noinline)) long rec_f(long depth)
{
	long r = depth > 0 ? rec_f(depth - 1) : 0;

	__asm__ volatile("" : "+r"(r) : : "memory");
	return r + 1;
}

static long x_in; /* stay_f's tid, once it is in */

__attribute__((noinline)) void stay_f(long tid)
{
	__atomic_store_n(&x_in, tid, __ATOMIC_RELEASE);
	for (;;)
		pause();
}

static void *stays(void *arg)
{
	(void)arg;
	stay_f(gettid());
	return NULL;
}

struct caller {
	long key_fixed; /* 0: i % 5 */
	long sum;	/* of what map_f returned */
};

static void *caller(void *arg)
{
	struct caller *c = arg;
	long n = c->key_fixed ? n_calls / 10 : n_calls;

	pthread_barrier_wait(&start);
	for (long i = 0; i < n; i++)
		c->sum += map_f(c->key_fixed ? c->key_fixed : i % 5, i);
	return NULL;
}

static int wait_line(const char *fifo)
{
	char line[64];
	FILE *f = fopen(fifo, "r");
	int ok = f && fgets(line, sizeof(line), f);

	if (f)
		fclose(f);
	return ok ? 0 : -1;
}

int main(int argc, char **argv)
{
	int fork_child = 0, early = 0, kill_self = 0, again = 0, sums = 0, stay = 0, opt, threads;
	long rec = -1;
	static struct caller args[65];
	long total = 0;
	const char *fifo = NULL;
	pthread_t th[65];

	while ((opt = getopt(argc, argv, "aefkr:sw:x")) != -1) {
		if (opt == 'r')
			rec = atol(optarg);
		else if (opt == 'x')
			stay = 1;
		else if (opt == 'f')
			fork_child = 1;
		else if (opt == 'e')
			early = 1;
		else if (opt == 'k')
			kill_self = 1;
		else if (opt == 'a')
			again = 1;
		else if (opt == 's')
			sums = 1;
		else if (opt == 'w')
			fifo = optarg;
		else
			return 2;
	}
	if (argc - optind != 2)
		return 2;
	n_calls = atol(argv[optind]);
	threads = atoi(argv[optind + 1]);
	if (threads < 1 || threads > 64 || (fifo && wait_line(fifo)))
		return 2;
	pthread_barrier_init(&start, NULL, (unsigned)(threads + early));
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, caller, &args[i]);
	if (early) { /* it ends first: the others have N calls to make, it N / 10 */
		args[threads].key_fixed = 7;
		pthread_create(&th[threads], NULL, caller, &args[threads]);
		pthread_join(th[threads], NULL);
	}
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		if (sums)
			printf("thread %d: %ld\n", i, args[i].sum);
		total += args[i].sum;
	}
	if (sums)
		printf("total: %ld\n", total);
	for (long i = 0; rec >= 0 && i < n_calls; i++)
		if (rec_f(rec) != rec + 1)
			return 1;
	if (stay) {
		pthread_t x;

		if (pthread_create(&x, NULL, stays, NULL))
			return 1;
		while (!__atomic_load_n(&x_in, __ATOMIC_ACQUIRE))
			usleep(1000);
		printf("x tid %ld\n", x_in);
	}
	fflush(stdout);
	if (fork_child) {
		pid_t child = fork();
		int st = -1;

		if (child == 0) {
			for (long i = 0; i < n_calls; i++)
				map_f(i % 5, i);
			_exit(0);
		}
		if (child < 0 || waitpid(child, &st, 0) != child || st != 0)
			return 1;
	}
	if (fifo) {
		FILE *f = fopen(fifo, "w");

		if (!f || fputs("done\n", f) < 0 || fclose(f))
			return 1;
		if (again && wait_line(fifo))
			return 1;
		for (long i = 0; again && i < n_calls; i++)
			map_f(i % 5, i);
	}
	if (kill_self)
		raise(SIGKILL);
	return sums ? 3 : 0;
}
