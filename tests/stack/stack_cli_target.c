/* SPDX-License-Identifier: MIT */
/*
 * The program of tests/stack/test_stack_cli.sh, built -O2 -fomit-frame-pointer.
 *
 *   threads N M    N threads call cli_hot() M times each, by one road
 *   corrupt        cli_leaf() called where the stack is bad: from an
 *                  assembly function that put garbage in its own return
 *                  address and in rbp (stack_corrupt.S, with CFI), then from
 *                  one without CFI whose rbp points past the end of the stack
 *   inline         cli_leaf() called from a function inlined into its caller
 *   jit            "ready", then cli_leaf() called from code in an anonymous
 *                  executable mapping named "jit", until stdin is closed
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#ifndef PR_SET_VMA
#define PR_SET_VMA 0x53564d41
#define PR_SET_VMA_ANON_NAME 0
#endif

int corrupt_cfi(int x);
int corrupt_nocfi(int x, unsigned long bad_rbp);

volatile int cli_sink;

__attribute__((noinline)) int cli_leaf(int x)
{
	cli_sink = x;
	return x + 1;
}

__attribute__((noinline)) int cli_hot(int x)
{
	cli_sink = x;
	return x * 2;
}

__attribute__((noinline)) static int cli_work(int m)
{
	int s = 0;

	for (int i = 0; i < m; i++)
		s += cli_hot(i);
	cli_sink = s;
	return s;
}

static void *cli_thread(void *arg)
{
	return (void *)(long)cli_work((int)(long)arg);
}

static int threads(int n, int m)
{
	pthread_t th[64];
	long sum = 0;
	void *r;

	for (int i = 0; i < n && i < 64; i++)
		pthread_create(&th[i], NULL, cli_thread, (void *)(long)m);
	for (int i = 0; i < n && i < 64; i++) {
		pthread_join(th[i], &r);
		sum += (long)r;
	}
	printf("%ld\n", sum);
	return 0;
}

/* The end of the main thread's stack mapping: nothing is mapped just above it. */
static unsigned long stack_end(void)
{
	unsigned long lo, hi, end = 0;
	char line[512];
	FILE *fp = fopen("/proc/self/maps", "r");

	while (fp && fgets(line, sizeof(line), fp))
		if (strstr(line, "[stack]") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			end = hi;
	if (fp)
		fclose(fp);
	return end;
}

static inline __attribute__((always_inline)) int cli_inlined(int x)
{
	int r = cli_leaf(x * 5);

	cli_sink = r;
	return r + 7;
}

__attribute__((noinline)) static int cli_outer(int x)
{
	int r = cli_inlined(x) + 1;

	cli_sink = r;
	return r;
}

/* push rbp; mov rbp, rsp; movabs rax, cli_leaf; call rax; pop rbp; ret */
static int jit(void)
{
	unsigned char code[] = { 0x55, 0x48, 0x89, 0xe5, 0x48, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0,
				 0xff, 0xd0, 0x5d, 0xc3 };
	void *(*fn)(int);
	uint64_t leaf = (uint64_t)cli_leaf;
	char c;
	unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return 1;
	memcpy(code + 6, &leaf, 8);
	memcpy(p, code, sizeof(code));
	mprotect(p, 4096, PROT_READ | PROT_EXEC);
	prctl(PR_SET_VMA, PR_SET_VMA_ANON_NAME, (unsigned long)p, 4096, (unsigned long)"jit");
	fn = (void *(*)(int))p;
	fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
	printf("ready %p\n", (void *)p);
	fflush(stdout);
	for (unsigned long i = 0;; i++) {
		fn(3);
		if (!(i & 1023) && read(0, &c, 1) == 0) /* stdin closed: the end */
			break;
	}
	return 0;
}

int main(int argc, char **argv)
{
	const char *what = argc > 1 ? argv[1] : "";

	if (!strcmp(what, "threads") && argc == 4)
		return threads(atoi(argv[2]), atoi(argv[3]));
	if (!strcmp(what, "corrupt")) {
		printf("%d %d\n", corrupt_cfi(1), corrupt_nocfi(2, stack_end() + 0x1000));
		return 0;
	}
	if (!strcmp(what, "inline")) {
		printf("%d\n", cli_outer(4));
		return 0;
	}
	if (!strcmp(what, "jit"))
		return jit();
	fprintf(stderr, "usage: stack_cli_target threads N M | corrupt | inline | jit\n");
	return 2;
}
