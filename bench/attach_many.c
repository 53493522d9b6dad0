/* SPDX-License-Identifier: MIT */
/*
 * What bench/bench_attach.sh attaches to: 1,000 small functions f000..f999,
 * each called once a millisecond until SIGTERM, from two threads. Built with
 * -DATTACH_MANY_10K (attach_10k, for bench/bench_attach_10k.sh): 10,000,
 * f0000..f9999.
 */
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#define F(n)                                                                   \
	__attribute__((noinline)) long f##n(long x)                            \
	{                                                                      \
		__asm__ volatile("" ::: "memory");                             \
		return x * 3 + 1;                                              \
	}
#define F10(n) F(n##0) F(n##1) F(n##2) F(n##3) F(n##4) F(n##5) F(n##6) F(n##7) F(n##8) F(n##9)
#define F100(n)                                                                \
	F10(n##0) F10(n##1) F10(n##2) F10(n##3) F10(n##4) F10(n##5) F10(n##6)  \
	F10(n##7) F10(n##8) F10(n##9)
#ifdef ATTACH_MANY_10K
#define F1000(n)                                                               \
	F100(n##0) F100(n##1) F100(n##2) F100(n##3) F100(n##4) F100(n##5)      \
	F100(n##6) F100(n##7) F100(n##8) F100(n##9)
F1000(0) F1000(1) F1000(2) F1000(3) F1000(4) F1000(5) F1000(6) F1000(7) F1000(8) F1000(9)
#else
F100(0) F100(1) F100(2) F100(3) F100(4) F100(5) F100(6) F100(7) F100(8) F100(9)
#endif

#define P(n) f##n,
#define P10(n) P(n##0) P(n##1) P(n##2) P(n##3) P(n##4) P(n##5) P(n##6) P(n##7) P(n##8) P(n##9)
#define P100(n)                                                                \
	P10(n##0) P10(n##1) P10(n##2) P10(n##3) P10(n##4) P10(n##5) P10(n##6)  \
	P10(n##7) P10(n##8) P10(n##9)
#ifdef ATTACH_MANY_10K
#define P1000(n)                                                               \
	P100(n##0) P100(n##1) P100(n##2) P100(n##3) P100(n##4) P100(n##5)      \
	P100(n##6) P100(n##7) P100(n##8) P100(n##9)
static long (*const fns[])(long) = { P1000(0) P1000(1) P1000(2) P1000(3) P1000(4) P1000(5)
					     P1000(6) P1000(7) P1000(8) P1000(9) };
#else
static long (*const fns[])(long) = { P100(0) P100(1) P100(2) P100(3) P100(4) P100(5) P100(6)
					     P100(7) P100(8) P100(9) };
#endif

static volatile sig_atomic_t stop;
static volatile long sink;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static void *loop(void *arg)
{
	long s = 0;

	(void)arg;
	while (!stop) {
		for (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)
			s = fns[i](s);
		sink = s;
		usleep(1000);
	}
	return NULL;
}

int main(void)
{
	pthread_t th;

	signal(SIGTERM, on_term);
	pthread_create(&th, NULL, loop, NULL);
	loop(NULL);
	pthread_join(th, NULL);
	return 0;
}
