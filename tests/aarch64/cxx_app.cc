// SPDX-License-Identifier: MIT
// C++ exceptions thrown through functions with return probes on aarch64
// (tests/aarch64/test_trace.sh, case cxx): the hijack puts the return
// trampoline in x30, the function saves it in its frame record (signed by its
// paciasp when built with -mbranch-protection=standard), and the unwinder of a
// throw must find the real return address there, or the program ends.
// Per round i (0 .. N-1): work(i) calls thrower(i) and catches what it throws;
// passthru(i) calls thrower(i) and lets it through to main. thrower throws
// when i % 3 == 0. Prints the rounds, what they summed and how many reached main.
// Usage: cxx_app [N]
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

extern "C" {
__attribute__((noinline)) long thrower(long i);
__attribute__((noinline)) long work(long i);
__attribute__((noinline)) long passthru(long i);
}

static volatile long sink;

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

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 30, sum = 0, caught = 0;

	for (long i = 0; i < n; i++) {
		sum += work(i);
		try {
			sum += passthru(i);
		} catch (const std::runtime_error &) {
			caught++;
		}
	}
	printf("rounds %ld, sum %ld, caught %ld\n", n, sum, caught);
	return 0;
}
