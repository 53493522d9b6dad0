/* SPDX-License-Identifier: MIT */
/*
 * The program of tests/hostile/elf_*: elf_work is exported (-rdynamic: in
 * .dynsym, found without a debug file), elf_hidden is static (only a .symtab
 * names it: the file's own, a debug file's). One SDT marker. Built four
 * ways (elf.mk): with and without a build-id, and each again with
 * -DELF_OTHER, another build of other code (its debug file is not this one's).
 * Prints "elf_target: sum S" for the calls it makes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/sdt.h>

#ifdef ELF_OTHER
#define STEP 7
#else
#define STEP 3
#endif

__attribute__((noipa)) static int elf_hidden(int x)
{
	return x * STEP + 1;
}

__attribute__((noipa)) int elf_work(int x)
{
	DTRACE_PROBE1(elf, work, x);
	return elf_hidden(x) + 2;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 5, sum = 0;

	for (int i = 0; i < n; i++)
		sum += elf_work(i);
	printf("elf_target: sum %d\n", sum);
	return 0;
}
