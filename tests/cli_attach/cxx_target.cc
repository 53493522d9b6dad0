// SPDX-License-Identifier: MIT
// A C++ program for uprobe trace -p with return probes (test_cxx.sh): it maps
// libstdc++, and exceptions are thrown through probed functions. Prints
// "ready", waits for SIGUSR1 (the tracer traces by then), makes N rounds of
// calls, prints what they summed and exits 0. Usage: cxx_target [traced] N. Built without hot/cold
// splitting, so that every exit of the probed functions can be patched.
//
// Per round i (0 .. N-1): work(i) calls thrower(i) and catches what it
// throws; passthru(i) calls thrower(i) and lets it through to main;
// tail_f(i) ends in a tail jump to leaf (its return would need the
// return-address hijack). thrower throws when i % 3 == 0.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <unistd.h>

extern "C" {
__attribute__((noinline)) long leaf(long i);
__attribute__((noinline)) long thrower(long i);
__attribute__((noinline)) long work(long i);
__attribute__((noinline)) long passthru(long i);
__attribute__((noinline)) long tail_f(long i);
}

static volatile long sink;
static volatile sig_atomic_t go;

static void on_go(int) { go = 1; }

long leaf(long i)
{
	sink = i;
	return i * 7;
}

long thrower(long i)
{
	sink = i;
	if (i % 3 == 0)
		throw std::runtime_error("multiple of three");
	return i * 2;
}

long work(long i)
{
	try {
		return thrower(i) + 1;
	} catch (const std::exception &) {
		return -1;
	}
}

long passthru(long i)
{
	long r = thrower(i);

	sink = r;
	return r + 3;
}

long tail_f(long i)
{
	sink = i;
	return leaf(i + 1);
}

int main(int argc, char **argv)
{
	/* "cxx_target [traced] N": traced.sh's start_traced says "traced" first. */
	long n = argc > 1 ? atol(argv[argc - 1]) : 300, sum = 0, caught = 0;

	signal(SIGUSR1, on_go);
	printf("ready\n");
	fflush(stdout);
	/* Sleeping, not blocked in sigwait(): an attach needs a thread that runs. */
	while (!go)
		usleep(1000);
	for (long i = 0; i < n; i++) {
		sum += work(i);
		try {
			sum += passthru(i);
		} catch (const std::runtime_error &) {
			caught++;
		}
		sum += tail_f(i);
	}
	printf("rounds %ld, sum %ld, caught %ld\n", n, sum, caught);
	return 0;
}
