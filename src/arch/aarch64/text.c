// SPDX-License-Identifier: MIT
/* Written text made visible to instruction fetch (arch/aarch64/arch.h). */
#include <fcntl.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arch/arch.h"

static long sys(long nr, long a, long b, long c)
{
	return raw_syscall6(nr, a, b, c, 0, 0, 0);
}

static uint64_t hex(const char **p)
{
	uint64_t v = 0;

	for (;; (*p)++) {
		char c = **p;

		if (c >= '0' && c <= '9')
			v = v << 4 | (uint64_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v << 4 | (uint64_t)(c - 'a' + 10);
		else
			return v;
	}
}

/*
 * The protection of the page at addr, from /proc/self/maps (raw system calls,
 * as ubp/text.c: libc's functions may be the ones being patched), or -1.
 */
static int page_prot(uint64_t addr)
{
	char buf[4096 + 256];
	size_t have = 0;
	int fd = (int)sys(SYS_openat, AT_FDCWD, (long)"/proc/self/maps", O_RDONLY | O_CLOEXEC);
	int prot = -1;

	if (fd < 0)
		return -1;
	for (;;) {
		long n = sys(SYS_read, fd, (long)(buf + have), (long)(sizeof(buf) - 1 - have));
		size_t line = 0;

		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		for (size_t i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			const char *p = buf + line;
			uint64_t lo = hex(&p), hi = (p++, hex(&p));

			p++;
			if (addr >= lo && addr < hi && prot < 0)
				prot = (p[0] == 'r' ? PROT_READ : 0) | (p[1] == 'w' ? PROT_WRITE : 0) |
				       (p[2] == 'x' ? PROT_EXEC : 0);
			line = i + 1;
		}
		/* keep the partial last line */
		for (size_t i = line; i < have; i++)
			buf[i - line] = buf[i];
		have -= line;
		if (prot >= 0 || have >= sizeof(buf) - 1)
			break;
	}
	sys(SYS_close, fd, 0, 0);
	return prot;
}

void arch_text_sync(uint64_t addr, size_t len)
{
	static uint64_t page;

	if (!len)
		return;
	__builtin___clear_cache((char *)(uintptr_t)addr, (char *)(uintptr_t)(addr + len));
	if (!page)
		page = getauxval(AT_PAGESZ) ?: 4096;
	/*
	 * qemu-user: each page made to gain PROT_WRITE, then given its protection
	 * back (r-x, or rwx for code the program writes itself).
	 */
	for (uint64_t p = addr & ~(page - 1); p < addr + len; p += page) {
		int prot = page_prot(p);

		if (prot < 0)
			continue;
		if (prot & PROT_WRITE)
			sys(SYS_mprotect, (long)p, (long)page, prot & ~PROT_WRITE);
		sys(SYS_mprotect, (long)p, (long)page, prot | PROT_WRITE);
		if (!(prot & PROT_WRITE))
			sys(SYS_mprotect, (long)p, (long)page, prot);
	}
}
