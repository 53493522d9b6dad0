/* SPDX-License-Identifier: MIT */
/*
 * What tests/cli traces: cli_target N [fork] prints a line per 100 calls of
 * cli_work(i, i * 3), optionally forks a child that makes N/10 more calls,
 * and exits with status 3; cli_target until FILE calls cli_work every ms
 * until FILE exists (status 3 too);
 * cli_target bench N times N calls itself (bench/bench_cli.sh);
 * cli_target threads T N makes N calls in each of T threads. Its output and status are compared with an untraced run; the call
 * counts are known from N.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

__attribute__((noinline)) long cli_work(long a, long b)
{
	__asm__ volatile("" ::: "memory");
	return a + b;
}

__attribute__((noinline)) const char *cli_name(int i)
{
	static const char *const names[] = { "alpha", "beta", "gamma" };

	__asm__ volatile("" ::: "memory");
	return names[i % 3];
}

static long calls(long from, long n)
{
	long sum = 0;

	for (long i = from; i < from + n; i++) {
		sum += cli_work(i, i * 3);
		if (i % 100 == 99)
			printf("%ld calls, sum %ld, name %s\n", i + 1, sum, cli_name((int)i));
	}
	return sum;
}

/*
 * cli_target until FILE: a call every ms until FILE exists (the test decides
 * when, not the clock); prints the calls and their sum, N (N + 1) / 2.
 */
static int until(const char *file)
{
	struct timespec one = { 0, 1000000 };
	long sum = 0, i;

	for (i = 0; access(file, F_OK); i++) {
		sum += cli_work(i, 1);
		nanosleep(&one, NULL);
	}
	printf("looped %ld, sum %ld\n", i, sum);
	return 3;
}

struct worker {
	long from, n, sum;
};

static void *work(void *arg)
{
	struct worker *w = arg;

	for (long i = w->from; i < w->from + w->n; i++)
		w->sum += cli_work(i, 3 * i);
	return NULL;
}

/* cli_target threads T N: T threads make N calls each; prints the total. */
static int threads(int t, long n)
{
	struct worker w[64];
	pthread_t th[64];
	long sum = 0;

	if (t < 1 || t > 64)
		return 2;
	for (int i = 0; i < t; i++) {
		w[i] = (struct worker){ i * n, n, 0 };
		pthread_create(&th[i], NULL, work, &w[i]);
	}
	for (int i = 0; i < t; i++) {
		pthread_join(th[i], NULL);
		sum += w[i].sum;
	}
	printf("%d threads x %ld calls, sum %ld\n", t, n, sum);
	return 3;
}

/* cli_target bench N: N calls timed inside, so a tracer's start-up is not counted. */
static int bench(long n)
{
	struct timespec a, b;
	long sum = 0;

	clock_gettime(CLOCK_MONOTONIC, &a);
	for (long i = 0; i < n; i++)
		sum += cli_work(i, 1);
	clock_gettime(CLOCK_MONOTONIC, &b);
	printf("ns_per_call %.1f sum %ld\n",
	       ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / (double)n,
	       sum);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 1000;
	int status = 0;

	if (argc > 2 && !strcmp(argv[1], "until"))
		return until(argv[2]);
	if (argc > 2 && !strcmp(argv[1], "bench"))
		return bench(atol(argv[2]));
	if (argc > 3 && !strcmp(argv[1], "threads"))
		return threads(atoi(argv[2]), atol(argv[3]));

	calls(0, n);
	if (argc > 2 && !strcmp(argv[2], "fork")) {
		fflush(stdout);
		pid_t pid = fork();

		if (pid == 0) {
			calls(n, n / 10);
			fflush(stdout);
			_exit(0);
		}
		waitpid(pid, &status, 0);
		printf("child exited %d\n", WEXITSTATUS(status));
	}
	return 3;
}
