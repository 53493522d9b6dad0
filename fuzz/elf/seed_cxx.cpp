// SPDX-License-Identifier: MIT
// C++ for the ELF seed corpus: mangled names, a landing pad (.gcc_except_table).
#include <cstdio>
#include <stdexcept>

namespace seed {
struct Box {
	int v;
	__attribute__((noipa)) int get(int k) const
	{
		if (k < 0)
			throw std::runtime_error("negative");
		return v + k;
	}
};
} // namespace seed

int main(int argc, char **)
{
	seed::Box b{argc};
	try {
		std::printf("%d\n", b.get(argc - 2));
	} catch (const std::exception &e) {
		std::printf("caught %s\n", e.what());
	}
	return 0;
}
