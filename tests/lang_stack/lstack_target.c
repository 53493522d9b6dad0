// SPDX-License-Identifier: MIT
// The target of tests/lang_stack: built -O2 -fomit-frame-pointer, so only the
// CFI walks it (bpftrace's frame-pointer ustack cannot). THREADS threads each
// reach lstack_leaf() by three roads, ITERS times in all:
//
//   a      thread_main -> road_a -> mid_a -> lstack_leaf       every iteration
//   b      thread_main -> road_b -> lstack_leaf                every even one
//   qsort  thread_main -> qsort ... -> leaf_cmp -> lstack_leaf once a thread
//
// so @[ustack] = count() at lstack_leaf holds three stacks with the counts
// THREADS * ITERS, THREADS * ((ITERS + 1) / 2) and THREADS. With a third
// argument LIB (tests/stack's liblate.so), main then loads LIB (dlopen: after
// the probes went in), reaches lstack_leaf(1003) once through its late_mid,
// and closes LIB before it exits:
//
//   late   main -> late_mid (LIB) -> lstack_leaf
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

static volatile int sink;
static int iters;

__attribute__((noinline)) int lstack_leaf(int x)
{
	sink = x;
	return x + 1;
}

// Not tail calls: each result is used after the call returns.
__attribute__((noinline)) static int mid_a(int x)
{
	int r = lstack_leaf(x);

	sink = r;
	return r * 2;
}

__attribute__((noinline)) static int road_a(int x)
{
	int r = mid_a(x + 1);

	sink = r;
	return r - 1;
}

__attribute__((noinline)) static int road_b(int x)
{
	int r = lstack_leaf(x * 3);

	sink = r;
	return r + 2;
}

static int leaf_cmp(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	if (x == 2 && y == 1) // once a sort, whatever its order of comparisons
		sink = lstack_leaf(x);
	return (x > y) - (x < y);
}

static int late_road(const char *lib)
{
	typedef int (*late_fn)(int (*)(int), int);
	void *h = dlopen(lib, RTLD_NOW);
	late_fn late_mid = h ? (late_fn)dlsym(h, "late_mid") : NULL;
	int r;

	if (!late_mid) {
		fprintf(stderr, "lstack_target: %s\n", dlerror());
		return -1;
	}
	r = late_mid(lstack_leaf, 1000);
	dlclose(h);
	return r;
}

static void *thread_main(void *arg)
{
	int v[2] = { 2, 1 };
	long s = (long)arg;

	for (int i = 0; i < iters; i++) {
		s += road_a(i);
		if (i % 2 == 0)
			s += road_b(i);
	}
	qsort(v, 2, sizeof(v[0]), leaf_cmp);
	sink = (int)s + v[0];
	return NULL;
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[1]) : 0;
	pthread_t th[64];

	iters = argc > 2 ? atoi(argv[2]) : 0;
	if (threads < 1 || threads > 64 || iters < 1) {
		fprintf(stderr, "usage: lstack_target THREADS(1-64) ITERS [LIB]\n");
		return 2;
	}
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, thread_main, (void *)(long)i);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	if (argc > 3 && late_road(argv[3]) < 0)
		return 1;
	printf("done\n");
	return 0;
}
