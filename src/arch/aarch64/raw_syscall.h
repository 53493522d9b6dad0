/* SPDX-License-Identifier: MIT */
/*
 * A system call without libc (as arch/x86_64/raw_syscall.h): for code that must
 * not call into libc, whose functions may be probed. Returns the kernel's value:
 * -errno on failure.
 */
#ifndef UPROBES_ARCH_A64_RAW_SYSCALL_H
#define UPROBES_ARCH_A64_RAW_SYSCALL_H

static inline long raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long x8 __asm__("x8") = nr;
	register long x0 __asm__("x0") = a, x1 __asm__("x1") = b, x2 __asm__("x2") = c;
	register long x3 __asm__("x3") = d, x4 __asm__("x4") = e, x5 __asm__("x5") = f;

	__asm__ volatile("svc #0"
			 : "+r"(x0)
			 : "r"(x8), "r"(x1), "r"(x2), "r"(x3), "r"(x4), "r"(x5)
			 : "memory");
	return x0;
}

#endif
