// SPDX-License-Identifier: MIT
// C++ code with a landing pad right after a ret, so that a window starting at
// that ret would cover it (see test_optimize.c).
#include <stdexcept>

extern "C" {
__attribute__((noinline)) void opt_thrower(int x)
{
	if (x > 0)
		throw std::runtime_error("boom");
}

__attribute__((noinline)) int opt_catcher(int x)
{
	try {
		opt_thrower(x);
	} catch (const std::exception &) {
		return 1;
	}
	return 0;
}
}
