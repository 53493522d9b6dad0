// SPDX-License-Identifier: MIT
// tests/lang_stack's fork target (issue 17): stacks hit in a forked child.
//
//   lstack_fork           main -> fork_mid -> fork_leaf(1) three times; then a
//                         child: main -> fork_mid -> fork_leaf(2) five times,
//                         _exit; the parent waits and exits
//   lstack_fork PROG ARG...  the same, then the child execs PROG ARG... (a
//                         program of other code: its frames are its own)
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is not about short functions, and so the entry's 5-byte
 * jump never takes the ret; make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict UPROBE_RET_PATH=site-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) int fork_leaf(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline)) int fork_mid(int x)
{
	int r = fork_leaf(x);
	__asm__ volatile("" ::: "memory");
	return r * 2;
}

int main(int argc, char **argv)
{
	volatile int s = 0;
	pid_t p;

	for (int i = 0; i < 3; i++)
		s += fork_mid(1);
	fflush(stdout);
	p = fork();
	if (p < 0)
		return 1;
	if (p == 0) {
		for (int i = 0; i < 5; i++)
			s += fork_mid(2);
		if (argc > 1) {
			execv(argv[1], argv + 1);
			_exit(127);
		}
		_exit(0);
	}
	waitpid(p, NULL, 0);
	return 0;
}
