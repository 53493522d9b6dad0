// SPDX-License-Identifier: MIT
// C++ functions for tests/symbols: overloads, templates, namespaces, a class.
// Each function counts its own calls; main prints the counts, which the test
// compares with the events uprobe trace counted. noipa keeps every call a
// real call to the one out-of-line copy (no inlining, no clones). split(int)
// throws on its unlikely path, which g++ -O2 moves to a part elsewhere,
// "split(int) [clone .cold]", entered by a jump of split, never by a call.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

#define PROBED __attribute__((noipa))

static unsigned long n_bar_int, n_bar_double, n_baz, n_max_int, n_max_double, n_free, n_split;

namespace ns {
struct Foo {
	int v;
	PROBED int bar(int x);
	PROBED double bar(double x);
	PROBED static int baz();
};

PROBED int Foo::bar(int x)
{
	n_bar_int++;
	return v + x;
}

PROBED double Foo::bar(double x)
{
	n_bar_double++;
	return v * x;
}

PROBED int Foo::baz()
{
	n_baz++;
	return 3;
}

template <typename T> PROBED T max(T a, T b)
{
	if (sizeof(T) == sizeof(int))
		n_max_int++;
	else
		n_max_double++;
	return a > b ? a : b;
}
} // namespace ns

PROBED int free_function(int x)
{
	n_free++;
	return x * 2;
}

PROBED int split(int x)
{
	n_split++;
	if (x < 0)
		throw std::invalid_argument("negative");
	return x + 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5;
	ns::Foo f = { 1 };
	double acc = 0;

	for (int i = 0; i < n; i++) {
		acc += f.bar(i);
		for (int k = 0; k < 2; k++)
			acc += f.bar(1.5 * i);
		for (int k = 0; k < 3; k++)
			acc += ns::Foo::baz();
		for (int k = 0; k < 4; k++)
			acc += ns::max<int>(i, k);
		for (int k = 0; k < 5; k++)
			acc += ns::max<double>(i, 0.5 * k);
		for (int k = 0; k < 6; k++)
			acc += free_function(k);
		acc += split(i);
	}
	printf("bar_int=%lu bar_double=%lu baz=%lu max_int=%lu max_double=%lu free=%lu split=%lu "
	       "acc=%g\n", n_bar_int, n_bar_double, n_baz, n_max_int, n_max_double, n_free, n_split,
	       acc);
	return 0;
}
