/* SPDX-License-Identifier: MIT */
/*
 * What tests/lang_target/ traces: lang_target [-w FIFO] N THREADS. THREADS
 * threads each call lt_f(i % 5, i) N times (i = 0 .. N-1), lt_f returning
 * key + i: N / 5 calls per key and thread when 5 divides N. Prints one line
 * per thread (in order) and the sum of what lt_f returned: the same traced or
 * not. -w FIFO: before any call, wait until a line can be read from FIFO (the
 * tracer is attached), and write "done" into it at the end.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static long n_calls;
static pthread_barrier_t start;

__attribute__((noinline)) long lt_f(long key, long i)
{
	__asm__ volatile("" : : "r"(key), "r"(i) : "memory");
	return key + i;
}

static void *caller(void *arg)
{
	long *sum = arg;

	pthread_barrier_wait(&start);
	for (long i = 0; i < n_calls; i++)
		*sum += lt_f(i % 5, i);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *fifo = NULL;
	pthread_t th[64];
	long sums[64] = { 0 }, total = 0;
	char line[64];
	int threads, opt;

	while ((opt = getopt(argc, argv, "w:")) != -1) {
		if (opt != 'w')
			return 2;
		fifo = optarg;
	}
	if (argc - optind != 2)
		return 2;
	n_calls = atol(argv[optind]);
	threads = atoi(argv[optind + 1]);
	if (threads < 1 || threads > 64)
		return 2;
	if (fifo) {
		FILE *f = fopen(fifo, "r");
		if (!f || !fgets(line, sizeof(line), f))
			return 2;
		fclose(f);
	}
	pthread_barrier_init(&start, NULL, (unsigned)threads);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, caller, &sums[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(th[i], NULL);
		printf("thread %d: %ld\n", i, sums[i]);
		total += sums[i];
	}
	printf("total: %ld\n", total);
	fflush(stdout);
	if (fifo) {
		FILE *f = fopen(fifo, "w");
		if (f) {
			fputs("done\n", f);
			fclose(f);
		}
	}
	return 3; /* a status of its own: the traced run must keep it */
}
