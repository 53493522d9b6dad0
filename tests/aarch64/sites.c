// SPDX-License-Identifier: MIT
/* Probes on real code for the aarch64 tests: see sites.h. */
#include <dlfcn.h>
#include <fcntl.h>
#include <gelf.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/aarch64/jump.h"
#include "arch/aarch64/regs.h"
#include "arch/safe_read.h"
#include "sites.h"

#define MAX_SITES 8192
#define HITS_MAX 100000 /* a site's hits in one mode: the workloads make far fewer */
#define SITE_BYTES (ARCH_XOL_SLOT_SIZE + ARCH_TRAMP_MAX)
#define CHUNK (1u << 20) /* slots and trampolines are cut from chunks near the code */

struct site sites[MAX_SITES];
size_t nsites, nrefused, nexclusive;
static char hang_msg[160];

struct site *site_at(uint64_t pc)
{
	size_t lo = 0, hi = nsites;

	while (lo < hi) { /* a search of our own: libc's bsearch may be probed */
		size_t mid = (lo + hi) / 2;

		if (sites[mid].addr == pc)
			return &sites[mid];
		if (sites[mid].addr < pc)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* A site hit without end: an exclusive loop that cannot succeed. Say so, stop. */
static void hang(void)
{
	if (write(1, hang_msg, strlen(hang_msg)) < 0)
		_exit(2);
	_exit(1);
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	struct site *s = site_at(uc->uc_mcontext.pc);
	struct uprobe_regs regs;
	struct arch_vregs vr;

	if ((sig == SIGSEGV || sig == SIGBUS) && arch_safe_read_fault(si, uc))
		return;
	if (sig != SIGTRAP)
		abort();
	if (!s) {
		if (arch_jump_redirect(uc) > 0)
			return;
		abort();
	}
	if (++s->hits_brk > HITS_MAX)
		hang();
	if (!arch_insn_can_emulate(&s->ai)) {
		uc->uc_mcontext.pc = (uint64_t)(uintptr_t)s->slot;
		return;
	}
	regs_from_ucontext(&regs, uc);
	regs_vregs(uc, &vr);
	if (arch_emulate(&s->ai, &regs, &vr))
		abort();
	regs_to_ucontext(&regs, uc);
}

/* The trampolines' consumer (sites are sorted after their trampolines are built). */
static void on_hit(void *rec, struct uprobe_regs *regs)
{
	struct site *s = site_at(regs->pc);

	(void)rec;
	if (!s)
		abort();
	if (++s->hits_jump > HITS_MAX)
		hang();
}

/* A mapping of len bytes within +-96 MiB of code, or NULL. */
static uint8_t *map_near(uint64_t code, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);

	for (int64_t d = 1 << 20; d < 96 << 20; d += 1 << 20)
		for (int sign = 1; sign >= -1; sign -= 2) {
			uint64_t hint = (code + (uint64_t)(sign * d)) & ~(uint64_t)(pg - 1);
			void *p = mmap((void *)(uintptr_t)hint, len, PROT_READ | PROT_WRITE | PROT_EXEC,
				       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

			if (p == (void *)(uintptr_t)hint)
				return p;
			if (p != MAP_FAILED) /* a kernel or qemu that took the hint as a hint */
				munmap(p, len);
		}
	return NULL;
}

/* SITE_BYTES for a site at code: from the current chunk while it is near enough. */
static uint8_t *site_memory(uint64_t code)
{
	static uint8_t *chunk;
	static size_t used;
	uint64_t c = (uintptr_t)chunk;

	if (!chunk || used + SITE_BYTES > CHUNK || code - c + (64u << 20) > (128u << 20)) {
		if (!(chunk = map_near(code, CHUNK)))
			return NULL;
		used = 0;
	}
	used += SITE_BYTES;
	return chunk + used - SITE_BYTES;
}

static int add_one(uint8_t *code, size_t len, size_t off)
{
	struct site *s = &sites[nsites];
	uint8_t *mem;

	s->addr = (uintptr_t)code + off;
	if (arch_insn_analyze(&s->ai, code + off, 4, s->addr, NULL, 0)) {
		nrefused++;
		return 0;
	}
	if (arch_insn_in_exclusive(code, len, off, (uintptr_t)code, NULL, 0)) {
		nexclusive++;
		return 0;
	}
	if (nsites + 1 == MAX_SITES || !(mem = site_memory(s->addr)))
		return -1;
	s->slot = mem;
	s->tramp = mem + ARCH_XOL_SLOT_SIZE;
	if ((!arch_insn_can_emulate(&s->ai) &&
	     arch_xol_build(&s->ai, (uintptr_t)s->slot, s->slot) < 0) ||
	    arch_jump_build(&s->ai, (uintptr_t)s->tramp, on_hit, NULL, false, s->tramp, NULL) < 0) {
		printf("  %#llx (%08x): no slot or trampoline\n", (unsigned long long)s->addr,
		       s->ai.insn);
		return -1;
	}
	__builtin___clear_cache((char *)mem, (char *)mem + SITE_BYTES);
	nsites++;
	return 0;
}

int sites_add(uint8_t *code, size_t len, int entry_only)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)code & ~(pg - 1);
	size_t end = entry_only ? 4 : len;

	if (mprotect((void *)lo, (uintptr_t)code + end - lo, PROT_READ | PROT_WRITE | PROT_EXEC)) {
		printf("  %p: mprotect failed\n", (void *)code);
		return -1;
	}
	for (size_t off = 0; off + 4 <= end; off += 4)
		if (add_one(code, len, off))
			return -1;
	return 0;
}

static int site_cmp(const void *a, const void *b)
{
	const struct site *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

void sites_ready(const char *test)
{
	struct sigaction sa;

	snprintf(hang_msg, sizeof(hang_msg),
		 "FAIL: %s: a probe hit without end (an exclusive loop?)\n", test);
	qsort(sites, nsites, sizeof(sites[0]), site_cmp);
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGTRAP, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

void sites_patch(enum sites_word how)
{
	for (size_t i = 0; i < nsites; i++) {
		struct site *s = &sites[i];
		uint32_t w = how == SITES_ORIG  ? s->ai.insn
			     : how == SITES_BRK ? ARCH_BREAKPOINT
						: arch_jump_insn(s->addr, (uintptr_t)s->tramp);

		memcpy((void *)(uintptr_t)s->addr, &w, 4);
		__builtin___clear_cache((char *)(uintptr_t)s->addr, (char *)(uintptr_t)s->addr + 4);
	}
}

int sites_each_symbol(const char *path, uint64_t bias, unsigned sh_type, sites_fn fn, void *arg)
{
	Elf_Scn *scn = NULL;
	Elf *elf;
	int fd = open(path, O_RDONLY), ret = 0;

	if (fd < 0)
		return -1;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && !ret && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != sh_type || !(d = elf_getdata(scn, 0)))
			continue;
		for (size_t i = 0; !ret && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym sym;
			const char *name;

			if (gelf_getsym(d, i, &sym) && GELF_ST_TYPE(sym.st_info) == STT_FUNC &&
			    sym.st_shndx != SHN_UNDEF && sym.st_value &&
			    (name = elf_strptr(elf, sh.sh_link, sym.st_name)))
				ret = fn((uint8_t *)(uintptr_t)(bias + sym.st_value), sym.st_size, name,
					 arg);
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return elf ? ret : -1;
}

int sites_each_function(const void *inside, sites_fn fn, void *arg)
{
	Dl_info di;

	if (!dladdr(inside, &di))
		return -1;
	return sites_each_symbol(di.dli_fname, (uintptr_t)di.dli_fbase, SHT_DYNSYM, fn, arg);
}
