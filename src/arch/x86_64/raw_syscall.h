/* SPDX-License-Identifier: MIT */
/*
 * A system call without libc: for code that must not call into libc, whose
 * functions may be probed (the hot path, text writes while probes are being
 * patched in or out). Returns the kernel's value: -errno on failure.
 */
#ifndef UPROBES_ARCH_X86_64_RAW_SYSCALL_H
#define UPROBES_ARCH_X86_64_RAW_SYSCALL_H

static inline long raw_syscall6(long nr, long a, long b, long c, long d, long e, long f)
{
	register long r10 __asm__("r10") = d, r8 __asm__("r8") = e, r9 __asm__("r9") = f;
	long ret;

	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(nr), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

#endif
