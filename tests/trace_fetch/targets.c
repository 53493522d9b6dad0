/* SPDX-License-Identifier: MIT */
/*
 * Probed functions of the fetch-arg tests, built with frame pointers so that
 * each can report the stack pointer it was entered with (rbp + 8) and its
 * return address, the values $stack and $stack0 must fetch.
 */
#include <stdint.h>

#include "targets.h"

uint64_t seen_entry_sp, seen_ret_addr;

__attribute__((noinline)) uint64_t t_ints(uint64_t a, int64_t b, const struct t_data *d)
{
	seen_entry_sp = (uint64_t)__builtin_frame_address(0) + 8;
	seen_ret_addr = (uint64_t)__builtin_return_address(0);
	__asm__ volatile("" ::: "memory");
	return a + (uint64_t)b + (d ? d->u64 : 0);
}

__attribute__((noinline)) uint64_t t_args8(uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4,
					   uint64_t a5, uint64_t a6, uint64_t a7, uint64_t a8)
{
	__asm__ volatile("" ::: "memory");
	return a1 ^ a2 ^ a3 ^ a4 ^ a5 ^ a6 ^ a7 ^ a8;
}

__attribute__((noinline)) const char *t_name(int i)
{
	static const char *names[] = { "alpha", "beta", "" };

	__asm__ volatile("" ::: "memory");
	return names[i % 3];
}

__attribute__((noinline)) long t_ptr(const void *p)
{
	__asm__ volatile("" ::: "memory");
	return (long)(uintptr_t)p & 0xff;
}

__attribute__((noinline)) double t_double(double x)
{
	__asm__ volatile("" ::: "memory");
	return x * 2.0;
}

/*
 * t_flags: lea + ret, the 5 bytes a jump replaces (a jump-optimized function
 * entry); t_flags_cf enters it with CF set, which a %flags fetch-arg must see.
 */
__asm__(".text\n"
	".globl t_flags\n"
	".type t_flags,@function\n"
	"t_flags:\n"
	"	.cfi_startproc\n"
	"	lea 1(%rdi,%rdi,2),%eax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size t_flags,.-t_flags\n"
	".globl t_flags_cf\n"
	".type t_flags_cf,@function\n"
	"t_flags_cf:\n"
	"	.cfi_startproc\n"
	"	stc\n"
	"	jmp t_flags\n"
	"	.cfi_endproc\n"
	".size t_flags_cf,.-t_flags_cf\n");
