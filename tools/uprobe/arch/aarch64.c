// SPDX-License-Identifier: MIT
/*
 * The uprobe command on aarch64 (cli.h): its ELF machine and tick counter, and
 * what attach mode (-p) takes from borrow.c and guard.c, which are x86-64
 * (a borrowed thread's signal frame and system call restart, xsave): not
 * built here. Attach mode needs ptrace, which qemu-user lacks, and is refused
 * before any of these run (trace.c); on a real arm64 machine they say so.
 */
#include <elf.h>
#include <errno.h>
#include <stdio.h>

#include "../borrow.h"
#include "../cli.h"

const int cli_elf_machine = EM_AARCH64;
const char cli_arch_name[] = "aarch64";

uint64_t cli_ticks(void)
{
	uint64_t v;

	__asm__ volatile("isb\n\tmrs %0, cntvct_el0" : "=r"(v));
	return v;
}

static int no_attach(void)
{
	fprintf(stderr, "uprobe: attach mode (-p) is not built for aarch64 yet (borrowing a "
			"thread is x86-64 only); launch mode works: uprobe trace ... -- PROGRAM\n");
	errno = ENOSYS;
	return -1;
}

int find_maps(pid_t pid, const char *name, bool prefix, struct mapping *out, int max)
{
	(void)pid, (void)name, (void)prefix, (void)out, (void)max;
	return no_attach();
}

uint64_t target_sym(const struct borrowed *b, const char *name, bool prefix, const char *sym,
		    char *path_out, size_t len)
{
	(void)b, (void)name, (void)prefix, (void)sym, (void)path_out, (void)len;
	no_attach();
	return 0;
}

int borrow(struct borrowed *b, const char *name)
{
	(void)b, (void)name;
	return no_attach();
}

int borrow_way_back(struct borrowed *b, const char *name)
{
	(void)b, (void)name;
	return no_attach();
}

int borrow_call(struct borrowed *b, uint64_t fn, uint64_t a0, uint64_t a1, const void *data,
		size_t len, bool close_result, uint64_t *ret)
{
	(void)b, (void)fn, (void)a0, (void)a1, (void)data, (void)len, (void)close_result, (void)ret;
	return no_attach();
}

int borrow_park(struct borrowed *b)
{
	(void)b;
	return no_attach();
}

void borrow_release(struct borrowed *b, bool guarded)
{
	(void)b, (void)guarded;
}

bool ptrace_restart_syscall(pid_t tid, struct user_regs_struct *r, bool handler)
{
	(void)tid, (void)r, (void)handler;
	return false;
}

bool ptrace_is_ours(pid_t pid, pid_t tid)
{
	(void)pid, (void)tid;
	return false;
}

int guard_begin(pid_t pid, pid_t held)
{
	(void)pid, (void)held;
	return no_attach();
}

int guard_fd(void)
{
	return -1;
}

int guard_service(void)
{
	return 0;
}

void guard_pause_on(int fd)
{
	(void)fd;
}

unsigned guard_end(int *stop_sig, int timeout_ms)
{
	(void)timeout_ms;
	if (stop_sig)
		*stop_sig = 0;
	return 0;
}
