/* SPDX-License-Identifier: MIT */
/*
 * What tests/cli_attach/test_stop.sh traces: a program whose probe keeps the
 * rings busier than any consumer can read them.
 *
 *   busy_target T CAP [fork]
 *	T threads call busy_hot() as fast as they can. The work is long but
 *	bounded, by events rather than time: once one thread made CAP calls
 *	while a probe was on busy_hot (its first byte not the file's), they
 *	all stop ("capped"); calls without a probe do not count. Commands on
 *	standard input:
 *	  "check"  prints "text clean" when busy_hot's first bytes in memory
 *		   are the file's (no probe there), otherwise "text patched";
 *	  EOF	   the threads stop.
 *	Prints "started" once the threads run, and at the end "done: N calls, M
 *	under a probe", or "capped: ..." as soon as it gives up (exit status 3).
 *	With "fork", a child does all that, and the parent waits for it and
 *	exits with its status (under uprobe trace, a forked child keeps its
 *	probes when tracing stops).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <sys/wait.h>

#define CHECK_BYTES 16

static volatile int stop;
static int threads;
static long cap;
static long calls[64], probed[64];
static unsigned char file_bytes[CHECK_BYTES]; /* busy_hot's, in the file */

static long total(const long *n)
{
	long sum = 0;

	for (int i = 0; i < threads; i++)
		sum += __atomic_load_n(&n[i], __ATOMIC_RELAXED);
	return sum;
}

__attribute__((noinline)) long busy_hot(long a)
{
	__asm__ volatile("" ::: "memory");
	return a + 1;
}

static void *hammer(void *arg)
{
	long i = (long *)arg - calls, sum = 0;

	while (!stop) {
		sum += busy_hot(calls[i]);
		__atomic_store_n(&calls[i], calls[i] + 1, __ATOMIC_RELAXED);
		if (*(volatile unsigned char *)(uintptr_t)busy_hot == file_bytes[0])
			continue;
		__atomic_store_n(&probed[i], probed[i] + 1, __ATOMIC_RELAXED);
		if (probed[i] == cap) {
			printf("capped: %ld calls, %ld under a probe\n", total(calls),
			       total(probed));
			fflush(stdout);
			_exit(3);
		}
	}
	return (void *)sum;
}

/*
 * busy_hot's first bytes as the file has them (launch mode: the probe is in
 * before main, so memory cannot tell). 0 or -1.
 */
static int read_file_bytes(void)
{
	uintptr_t at = (uintptr_t)busy_hot, start, end;
	unsigned long long off;
	char line[512];
	int ret = -1;
	FILE *maps = fopen("/proc/self/maps", "r");
	int fd = open("/proc/self/exe", O_RDONLY);

	while (maps && fd >= 0 && fgets(line, sizeof(line), maps)) {
		if (sscanf(line, "%lx-%lx %*s %llx", &start, &end, &off) == 3 && at >= start &&
		    at < end) {
			ret = pread(fd, file_bytes, sizeof(file_bytes),
				    (off_t)(off + (at - start))) == sizeof(file_bytes) ? 0 : -1;
			break;
		}
	}
	if (maps)
		fclose(maps);
	if (fd >= 0)
		close(fd);
	return ret;
}

int main(int argc, char **argv)
{
	pthread_t th[64];
	char cmd[64];
	int t, st;
	pid_t child;

	if (argc < 3 || argc > 4 || (t = atoi(argv[1])) < 1 || t > 64 || (cap = atol(argv[2])) < 1 ||
	    (argc == 4 && strcmp(argv[3], "fork"))) {
		fprintf(stderr, "usage: busy_target THREADS CAP [fork]\n");
		return 2;
	}
	if (argc == 4 && (child = fork())) {
		if (child < 0 || waitpid(child, &st, 0) != child)
			return 1;
		return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	}
	if (read_file_bytes()) {
		fprintf(stderr, "busy_target: cannot read busy_hot from /proc/self/exe\n");
		return 1;
	}
	threads = t;
	for (int i = 0; i < t; i++)
		pthread_create(&th[i], NULL, hammer, &calls[i]);
	printf("started\n");
	fflush(stdout);
	while (fgets(cmd, sizeof(cmd), stdin)) {
		if (!strcmp(cmd, "check\n")) {
			printf("text %s\n",
			       memcmp(file_bytes, (const void *)(uintptr_t)busy_hot, CHECK_BYTES) ?
				       "patched" : "clean");
			fflush(stdout);
		}
	}
	stop = 1;
	for (int i = 0; i < t; i++)
		pthread_join(th[i], NULL);
	printf("done: %ld calls, %ld under a probe\n", total(calls), total(probed));
	return 0;
}
