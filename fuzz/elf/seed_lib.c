/* SPDX-License-Identifier: MIT */
/* A shared library with symbol versions (seed_lib.map) for the ELF seed corpus. */
#include <string.h>

__attribute__((noipa)) static size_t lib_local(const char *s)
{
	return strlen(s) * 2;
}

size_t lib_v1(const char *s)
{
	return lib_local(s);
}

size_t lib_v2(const char *s)
{
	return lib_local(s) + 1;
}

__asm__(".symver lib_v1, lib_len@SEED_1");
__asm__(".symver lib_v2, lib_len@@SEED_2");
