/* SPDX-License-Identifier: MIT */
/*
 * What tests/cli/test_cli_limits.sh traces for skipped (recursive) hits:
 * cli_signal FILE calls cli_tick() in a loop while a SIGALRM every 100 us
 * calls it too. A signal that lands while the probe's handler runs makes a
 * hit that is skipped, not recursed into: the tracer must count it. When
 * libuprobes is loaded (traced) the loop runs on until 20 signals have landed
 * in its code, so that skipped hits happen whatever the machine's speed;
 * untraced, 100000 calls. Prints "done"; writes the number of calls (loop
 * and handler) to FILE.
 */
#include <link.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <ucontext.h>

#include "../lib_code.h"

static volatile long alarm_calls, in_lib;

__attribute__((noinline)) long cli_tick(long i)
{
	__asm__ volatile("" ::: "memory");
	return i + 1;
}

static void on_alarm(int sig, siginfo_t *si, void *uc)
{
	uintptr_t ip = (uintptr_t)((ucontext_t *)uc)->uc_mcontext.gregs[REG_RIP];

	(void)sig, (void)si;
	if (ip >= lib_lo && ip < lib_hi)
		in_lib++;
	alarm_calls++;
	cli_tick(alarm_calls);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_alarm, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct itimerval it = { { 0, 100 }, { 0, 100 } }, off = { { 0, 0 }, { 0, 0 } };
	long loop_calls = 0;
	sigset_t alrm;
	FILE *f;

	if (argc < 2)
		return 2;
	lib_code_find();
	sigaction(SIGALRM, &sa, NULL);
	setitimer(ITIMER_REAL, &it, NULL);
	while (loop_calls < 100000 || (lib_hi && in_lib < 20))
		cli_tick(loop_calls++);
	setitimer(ITIMER_REAL, &off, NULL);
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	f = fopen(argv[1], "w");
	if (!f || fprintf(f, "%ld\n", loop_calls + alarm_calls) < 0 || fclose(f))
		return 1;
	printf("done\n");
	return 0;
}
