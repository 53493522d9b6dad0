/* SPDX-License-Identifier: MIT */
/*
 * The program the ELF seed corpus of fuzz_elf is built from (seeds.sh): a
 * static function (only .symtab or a debug file names it), an exported one
 * (.dynsym with -rdynamic), PLT calls, and SDT markers with register, memory,
 * immediate and RIP-relative arguments, with semaphores (<sys/sdt.h> wants one
 * per marker of a unit built with _SDT_HAS_SEMAPHORES), one tested.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sdt.h>

unsigned short seed_entry_semaphore __attribute__((section(".probes"), used));
unsigned short seed_guarded_semaphore __attribute__((section(".probes"), used));
unsigned short seed_constant_semaphore __attribute__((section(".probes"), used));
static int counter = 7;

__attribute__((noipa)) static int seed_local(int x)
{
	return x * 3 + counter;
}

__attribute__((noipa)) int seed_export(int x, const char *s)
{
	long big = -1000L * x;

	STAP_PROBE4(seed, entry, x, s, big, counter);
	if (__builtin_expect(seed_guarded_semaphore != 0, 0))
		STAP_PROBE1(seed, guarded, x);
	STAP_PROBE1(seed, constant, 5);
	return seed_local(x) + (int)strlen(s);
}

int main(int argc, char **argv)
{
	int sum = 0;

	counter += argc; /* not a constant: the marker reads it RIP-relative */

	for (int i = 0; i < (argc > 1 ? atoi(argv[1]) : 3); i++)
		sum += seed_export(i, argv[0]);
	printf("%d\n", sum);
	return 0;
}
