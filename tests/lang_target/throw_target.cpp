// SPDX-License-Identifier: MIT
// uretprobes on calls that a C++ exception leaves (uprobe -e): thrower(i)
// throws when i % 3 == 0 (g++ -O2 moves the throw to a part elsewhere), through
// passer(i); main catches. thrower returns 2 * i otherwise. Prints the sum of
// what passer returned and the throws caught: the same traced or not.
#include <cstdio>
#include <cstdlib>
#include <stdexcept>

__attribute__((noipa)) int thrower(int i)
{
	if (i % 3 == 0)
		throw std::runtime_error("thrown");
	return 2 * i;
}

__attribute__((noipa)) int passer(int i)
{
	return thrower(i) + 1;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 30, caught = 0;
	long sum = 0;

	for (int i = 0; i < n; i++) {
		try {
			sum += passer(i);
		} catch (const std::exception &) {
			caught++;
		}
	}
	printf("sum %ld caught %d\n", sum, caught);
	return 0;
}
