/* SPDX-License-Identifier: MIT */
/*
 * The lean trampoline at function entries (issue 18): the handler sees the
 * registers of the call (rip at the entry, rsp at the return address, the
 * arguments, rflags; rflags as 0x202 with UPROBE_F_HANDLER_NO_FLAGS); its
 * register writes and a redirect take effect; UPROBE_ENTRY_PATH=full builds the flag-saving trampoline instead
 * and =lean-strict refuses an entry that cannot be jump-optimized. Also the
 * quiescence signal named by UPROBE_QUIESCE_SIGNAL (in a child: the signal
 * is chosen once per process).
 */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("lean");

extern char lean_add[], lean_loop[];
long lean_add_fn(long a, long b) __asm__("lean_add");
long lean_add_full_fn(long a, long b) __asm__("lean_add_full");
long lean_add_nofl_fn(long a, long b) __asm__("lean_add_nofl");
unsigned lean_loop_fn(unsigned n) __asm__("lean_loop");

static struct uprobe_regs seen;
static uint64_t seen_ret; /* the return address at rsp, read during the hit */
static uint64_t hits;
static int action; /* 0: look; 1: rdi += 100; 2: return 99 at once */

static void look(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)ctx;
	seen = *r;
	seen_ret = *(uint64_t *)r->rsp;
	hits++;
	if (action == 1) {
		r->rdi += 100;
	} else if (action == 2) {
		r->rip = *(uint64_t *)r->rsp;
		r->rsp += 8;
		r->rax = 99;
	}
}

static struct uprobe *attach_flags(const char *sym, unsigned flags)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = look, .flags = flags };

	return uprobe_attach(NULL, sym, &o);
}

static struct uprobe *attach(const char *sym)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = look,
				 .flags = UPROBE_F_HANDLER_NO_SIMD };

	return uprobe_attach(NULL, sym, &o);
}

static void lean_view(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = attach("lean_add");

	CHECK(p != NULL);
	if (!p)
		return;
	uprobe_get_info(p, &info);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(info.reason, "(function entry, lean)");
	action = 0;
	hits = 0;
	CHECK_EQ_U64(lean_add_fn(3, 4), 7);
	CHECK_EQ_U64(hits, 1);
	CHECK_EQ_U64(seen.rip, (uint64_t)lean_add);
	CHECK_EQ_U64(seen.rdi, 3);
	CHECK_EQ_U64(seen.rsi, 4);
	CHECK_EQ_U64(seen.rflags & 0x402, 0x2); /* read: DF clear, the always-one bit */
	/* rsp: the return address, just after a call rel32 (e8) in this file. */
	CHECK_EQ_U64(seen.rsp & 15, 8);
	CHECK_EQ_INT(*(uint8_t *)(seen_ret - 5), 0xe8);
	uprobe_free(p);
}

/* A probe of its own at the same entry, with UPROBE_F_HANDLER_NO_FLAGS: flags not read. */
static void lean_noflags(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = attach_flags("lean_add_nofl",
					UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS);
	CHECK(p != NULL);
	if (!p)
		return;
	uprobe_get_info(p, &info);
	CHECK_CONTAINS(info.reason, "(function entry, lean, flags not read)");
	action = 0;
	hits = 0;
	/* Carry set before the call (past the red zone): the handler is not shown it. */
	__asm__ volatile("sub $128, %%rsp; stc; call lean_add_nofl; add $128, %%rsp"
			 :
			 : "D"(2L), "S"(3L)
			 : "rax", "rcx", "rdx", "r8", "r9", "r10", "r11", "memory", "cc");
	CHECK_EQ_U64(hits, 1);
	CHECK_EQ_U64(seen.rflags, 0x202);
	CHECK_EQ_U64(seen.rdi, 2);
	action = 1;
	CHECK_EQ_U64(lean_add_nofl_fn(3, 4), 107);
	action = 0;
	uprobe_free(p);
}

static void lean_writes(void)
{
	struct uprobe *p = attach("lean_add");

	CHECK(p != NULL);
	if (!p)
		return;
	action = 1;
	CHECK_EQ_U64(lean_add_fn(3, 4), 107);
	action = 2;
	CHECK_EQ_U64(lean_add_fn(3, 4), 99);
	action = 0;
	CHECK_EQ_U64(lean_add_fn(3, 4), 7);
	uprobe_free(p);
}

static void full_path(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p;

	setenv("UPROBE_ENTRY_PATH", "full", 1);
	p = attach("lean_add_full");
	unsetenv("UPROBE_ENTRY_PATH");
	CHECK(p != NULL);
	if (!p)
		return;
	uprobe_get_info(p, &info);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK(strstr(info.reason, "lean") == NULL);
	CHECK_CONTAINS(info.reason, "(function entry)");
	action = 0;
	hits = 0;
	CHECK_EQ_U64(lean_add_full_fn(5, 6), 11);
	CHECK_EQ_U64(hits, 1);
	CHECK_EQ_U64(seen.rdi, 5);
	CHECK_EQ_U64(seen.rflags & 0x402, 0x2); /* DF clear, the always-one bit */
	uprobe_free(p);
}

static void strict_refuses(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p;

	setenv("UPROBE_ENTRY_PATH", "lean-strict", 1);
	errno = 0;
	p = attach("lean_loop");
	unsetenv("UPROBE_ENTRY_PATH");
	CHECK(p == NULL);
	CHECK_EQ_INT(errno, ENOTSUP);
	CHECK_CONTAINS(uprobe_last_error(), "UPROBE_ENTRY_PATH=lean-strict");
	if (p)
		uprobe_free(p);
	/* Without it the same entry takes the breakpoint. */
	p = attach("lean_loop");
	CHECK(p != NULL);
	if (!p)
		return;
	uprobe_get_info(p, &info);
	CHECK(info.mode != UPROBE_MODE_OPTIMIZED);
	hits = 0;
	CHECK_EQ_INT(lean_loop_fn(5), 5);
	CHECK_EQ_U64(hits, 1);
	uprobe_free(p);
}

/* The kernel's handler for sig, read with the raw system call (not the interposed one). */
static uint64_t raw_handler(int sig)
{
	uint64_t kact[4] = { 0 };

	syscall(SYS_rt_sigaction, sig, NULL, kact, 8);
	return kact[0];
}

/* Child: attach once, then report which real-time signal the library took. */
static int quiesce_child(void)
{
	struct uprobe *p = attach("lean_add");
	const char *want = getenv("UPROBE_QUIESCE_SIGNAL");

	if (!want || atoi(want) < SIGRTMIN)
		return p == NULL && errno == EINVAL ? 0 : 1;
	if (!p)
		return 2;
	if (raw_handler(atoi(want)) == (uint64_t)SIG_DFL || raw_handler(SIGRTMAX) != (uint64_t)SIG_DFL)
		return 3;
	uprobe_free(p);
	return 0;
}

static int run_child(const char *self, const char *sig)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		setenv("UPROBE_QUIESCE_SIGNAL", sig, 1);
		execl(self, self, "quiesce-child", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *self_path;

static void quiesce_signal_env(void)
{
	CHECK_EQ_INT(run_child(self_path, "50"), 0);
	/* Not a real-time signal: the attach fails with EINVAL. */
	CHECK_EQ_INT(run_child(self_path, "7"), 0);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "quiesce-child"))
		return quiesce_child();
	self_path = "/proc/self/exe";
	RUN(lean_view);
	RUN(lean_noflags);
	RUN(lean_writes);
	RUN(full_path);
	RUN(strict_refuses);
	RUN(quiesce_signal_env);
	TL_EXIT();
}
