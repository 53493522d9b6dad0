/* SPDX-License-Identifier: MIT */
/*
 * What tests/lang_target/test_lang_target.sh traces to see that the count stub
 * counts: stub_target FILE N calls stub_f() 1000 times, then N times while a
 * CPU-time timer of its own thread (every 50 us of it) samples where it is.
 * A hit counted by the stub runs no code of libuprobes (the stub and the
 * relocated copy are anonymous memory); one counted by the handler runs ~180
 * instructions there. With N 0 it calls on until 20 samples landed in
 * libuprobes (the handler's path; at most 2^31 calls). Writes "CALLS SAMPLES
 * IN_LIB" to FILE (CALLS with the 1000 first ones).
 */
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "../lib_code.h"

static volatile long samples, in_lib;

__attribute__((noinline)) long stub_f(long i)
{
	__asm__ volatile("" ::: "memory");
	return i + 1;
}

static void on_prof(int sig, siginfo_t *si, void *uc)
{
	uintptr_t ip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];

	(void)sig, (void)si;
	if (ip >= lib_lo && ip < lib_hi)
		in_lib++;
	samples++;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_prof, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct sigevent sev = { .sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGPROF };
	struct itimerspec it = { { 0, 50000 }, { 0, 50000 } }, off = { { 0, 0 }, { 0, 0 } };
	long calls = 0, n;
	timer_t timer;
	sigset_t prof;
	FILE *f;

	if (argc < 3)
		return 2;
	n = atol(argv[2]);
	lib_code_find();
	for (; calls < 1000; calls++)
		stub_f(calls); /* the thread's first hits: its shard claimed, its count base set */
	sigaction(SIGPROF, &sa, NULL);
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, &timer) || timer_settime(timer, 0, &it, NULL))
		return 1;
	if (n)
		for (long i = 0; i < n; i++)
			stub_f(calls++);
	else
		while (lib_hi && in_lib < 20 && calls < (1l << 31))
			stub_f(calls++);
	timer_settime(timer, 0, &off, NULL);
	sigemptyset(&prof);
	sigaddset(&prof, SIGPROF);
	sigprocmask(SIG_BLOCK, &prof, NULL);
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld %ld %ld\n", calls, samples, in_lib) < 0 || fclose(f))
		return 1;
	return 0;
}
