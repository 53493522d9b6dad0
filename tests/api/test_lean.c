/* SPDX-License-Identifier: MIT */
/*
 * The lean trampoline at function entries (issue 18): the handler sees the
 * registers of the call (rip at the entry, rsp at the return address, the
 * arguments, rflags; rflags as 0x202 with UPROBE_F_HANDLER_NO_FLAGS); its
 * register writes and a redirect take effect; UPROBE_ENTRY_PATH=full builds the flag-saving trampoline instead
 * and =lean-strict refuses an entry that cannot be jump-optimized. Also the
 * quiescence signal named by UPROBE_QUIESCE_SIGNAL (in a child: the signal
 * is chosen once per process). The lean fast path (body_*), in the probe's
 * own trampoline (the inline lean entry, the default) and, in a child run
 * with UPROBE_INLINE=off, in the stubs' shared body: one consumer is
 * shown and reloads every register, redirects, counts each hit exactly past
 * the threads counted apart (CORE_FAST_IDS), leaves a nested hit to the C
 * side; two consumers take the C side and a return probe's entry follows
 * the call on either return path.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("lean");

/* What uprobe_get_info says of the lean fast path's trampolines: inline, or the shared body's stub. */
#define REASON_INLINE "(function entry, lean, flags not read, inline)"
#define REASON_SHARED "(function entry, lean, flags not read)"
static const char *body_reason = REASON_INLINE;

extern char lean_add[], lean_loop[];
long lean_add_fn(long a, long b) __asm__("lean_add");
long lean_add_full_fn(long a, long b) __asm__("lean_add_full");
long lean_add_nofl_fn(long a, long b) __asm__("lean_add_nofl");
unsigned lean_loop_fn(unsigned n) __asm__("lean_loop");
extern char lean_body_add[];
long lean_body_add_fn(long a, long b) __asm__("lean_body_add");

static struct uprobe_regs seen;
static uint64_t seen_ret; /* the return address at rsp, read during the hit */
static uint64_t hits;
/* 0: look; 1: rdi += 100; 2: return 99 at once; 3: rbx = 0x5151; 4: call lean_body_add */
static int action;

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
	} else if (action == 3) {
		r->rbx = 0x5151;
	} else if (action == 4) {
		seen_ret = (uint64_t)lean_body_add_fn(20, 22); /* nested: skipped, not recursed */
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
	CHECK_CONTAINS(info.reason, body_reason);
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

/* lean_body_rbx() with rbx = v: returns rbx as the function saw it. */
static uint64_t call_rbx(uint64_t v)
{
	uint64_t out;

	__asm__ volatile("push %%rbx\n\t"
			 "mov %1, %%rbx\n\t"
			 "sub $120, %%rsp\n\t" /* past the red zone */
			 "call lean_body_rbx\n\t"
			 "add $120, %%rsp\n\t"
			 "pop %%rbx"
			 : "=a"(out)
			 : "r"(v)
			 : "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "memory", "cc");
	return out;
}

static struct uprobe *attach_body(const char *sym)
{
	return attach_flags(sym, UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS);
}

static uint64_t info_hits(const struct uprobe *p, uint64_t *skipped)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	uprobe_get_info(p, &info);
	if (skipped)
		*skipped = info.skipped;
	return info.hits;
}

/* One consumer: the fast path shows the call's registers and takes every write. */
static void body_view_writes(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = attach_body("lean_body_add"), *q = attach_body("lean_body_rbx");

	CHECK(p != NULL && q != NULL);
	if (!p || !q)
		goto out;
	uprobe_get_info(p, &info);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(info.reason, body_reason);
	action = 0;
	hits = 0;
	CHECK_EQ_U64(lean_body_add_fn(3, 4), 7);
	CHECK_EQ_U64(seen.rip, (uint64_t)lean_body_add);
	CHECK_EQ_U64(seen.rdi, 3);
	CHECK_EQ_U64(seen.rsi, 4);
	CHECK_EQ_U64(seen.rflags, 0x202);
	CHECK_EQ_U64(seen.rsp & 15, 8);
	CHECK_EQ_INT(*(uint8_t *)(seen_ret - 5), 0xe8);
	action = 1;
	CHECK_EQ_U64(lean_body_add_fn(3, 4), 107);
	action = 2;
	CHECK_EQ_U64(lean_body_add_fn(3, 4), 99);
	action = 0;
	CHECK_EQ_U64(lean_body_add_fn(3, 4), 7);
	CHECK_EQ_U64(hits, 4);
	CHECK_EQ_U64(info_hits(p, NULL), 4);
	/* A callee-saved register: shown, and a write to it reaches the function. */
	CHECK_EQ_U64(call_rbx(0xabcdef0123), 0xabcdef0123);
	CHECK_EQ_U64(seen.rbx, 0xabcdef0123);
	action = 3;
	CHECK_EQ_U64(call_rbx(0xabcdef0123), 0x5151);
	action = 0;
	CHECK_EQ_U64(info_hits(q, NULL), 2);
out:
	if (p)
		uprobe_free(p);
	if (q)
		uprobe_free(q);
}

#define BODY_THREADS 24 /* more than the 16 threads counted apart (CORE_FAST_IDS) */
#define BODY_CALLS 20000

static pthread_barrier_t body_barrier;
static uint64_t body_sum_bad;

static void body_count(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r;
	__atomic_fetch_add((uint64_t *)ctx, 1, __ATOMIC_RELAXED);
}

static void *body_thread(void *arg)
{
	long t = (long)arg;

	/*
	 * A thread takes its read-section slot (its id) at its first hit and
	 * gives it up at its end: every thread hits once, then waits for all,
	 * so that 24 ids are taken at once.
	 */
	if (lean_body_add_fn(0, t) != t)
		__atomic_fetch_add(&body_sum_bad, 1, __ATOMIC_RELAXED);
	pthread_barrier_wait(&body_barrier);
	for (long i = 1; i < BODY_CALLS; i++)
		if (lean_body_add_fn(i, t) != i + t)
			__atomic_fetch_add(&body_sum_bad, 1, __ATOMIC_RELAXED);
	return NULL;
}

/* Every hit of 24 threads at once counted: a line per thread, a locked add past 16. */
static void body_threads(void)
{
	uint64_t calls = 0;
	struct uprobe_opts o = { .sz = sizeof(o), .handler = body_count, .ctx = &calls,
				 .flags = UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS };
	struct uprobe *p = uprobe_attach(NULL, "lean_body_add", &o);
	pthread_t th[BODY_THREADS];
	int made = 0;

	CHECK(p != NULL);
	if (!p)
		return;
	pthread_barrier_init(&body_barrier, NULL, BODY_THREADS);
	for (long t = 0; t < BODY_THREADS; t++)
		if (pthread_create(&th[t], NULL, body_thread, (void *)t) == 0)
			made++;
	CHECK_EQ_INT(made, BODY_THREADS);
	for (int t = 0; t < made; t++)
		pthread_join(th[t], NULL);
	pthread_barrier_destroy(&body_barrier);
	CHECK_EQ_U64(body_sum_bad, 0);
	CHECK_EQ_U64(calls, (uint64_t)BODY_THREADS * BODY_CALLS);
	CHECK_EQ_U64(info_hits(p, NULL), (uint64_t)BODY_THREADS * BODY_CALLS);
	uprobe_free(p);
}

/* Two consumers (the C side), then one again (the fast path): each counts its own. */
static void body_two(void)
{
	uint64_t n1 = 0, n2 = 0;
	struct uprobe_opts o1 = { .sz = sizeof(o1), .handler = body_count, .ctx = &n1,
				  .flags = UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS };
	struct uprobe_opts o2 = o1;
	struct uprobe *p1, *p2;

	o2.ctx = &n2;
	p1 = uprobe_attach(NULL, "lean_body_add", &o1);
	p2 = uprobe_attach(NULL, "lean_body_add", &o2);
	CHECK(p1 != NULL && p2 != NULL);
	for (long i = 0; i < 10; i++)
		CHECK_EQ_U64(lean_body_add_fn(i, 1), i + 1);
	CHECK_EQ_U64(n1, 10);
	CHECK_EQ_U64(n2, 10);
	if (p2)
		uprobe_free(p2);
	for (long i = 0; i < 10; i++)
		CHECK_EQ_U64(lean_body_add_fn(i, 1), i + 1);
	CHECK_EQ_U64(n1, 20);
	CHECK_EQ_U64(n2, 10);
	if (p1) {
		CHECK_EQ_U64(info_hits(p1, NULL), 20);
		uprobe_free(p1);
	}
}

/* A hit inside the handler is skipped and counted as such, and the outer one goes on. */
static void body_nested(void)
{
	struct uprobe *p = attach_body("lean_body_add");
	uint64_t skipped = 0;

	CHECK(p != NULL);
	if (!p)
		return;
	hits = 0;
	action = 4;
	CHECK_EQ_U64(lean_body_add_fn(1, 2), 3);
	action = 0;
	CHECK_EQ_U64(seen_ret, 42); /* the nested call's own result */
	CHECK_EQ_U64(hits, 1);
	CHECK_EQ_U64(info_hits(p, &skipped), 1);
	CHECK_EQ_U64(skipped, 1);
	uprobe_free(p);
}

static uint64_t ret_cookies, ret_calls, ret_rax_bad;

static void body_enter(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)ctx;
	*uprobe_cookie() = r->rdi * 10;
}

static void body_return(struct uprobe *p, struct uprobe_regs *r, const struct uprobe_ret *ret,
			void *ctx)
{
	(void)p, (void)ctx;
	ret_calls++;
	ret_cookies += ret->cookie;
	if (r->rax != ret->cookie / 10 + 1)
		ret_rax_bad++;
}

/*
 * A return probe's entry on the fast path: the call followed (site or, with
 * UPROBE_RET_PATH=hijack, the return address), the cookie the entry handler
 * set reaches the return handler; with no entry handler, the entry counted.
 */
static void body_ret_path(const char *path, enum uprobe_ret_path want, bool entry)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = entry ? body_enter : NULL,
				 .ret_handler = body_return,
				 .flags = UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p;
	uint64_t want_cookies = 0;

	if (path)
		setenv("UPROBE_RET_PATH", path, 1);
	p = uprobe_attach(NULL, "lean_body_add", &o);
	unsetenv("UPROBE_RET_PATH");
	CHECK(p != NULL);
	if (!p)
		return;
	uprobe_get_info(p, &info);
	CHECK_EQ_INT(info.ret_path, want);
	CHECK_CONTAINS(info.reason, body_reason);
	ret_calls = ret_cookies = ret_rax_bad = 0;
	for (long i = 0; i < 100; i++) {
		CHECK_EQ_U64(lean_body_add_fn(i, 1), i + 1);
		want_cookies += entry ? i * 10 : 0;
	}
	CHECK_EQ_U64(ret_calls, 100);
	CHECK_EQ_U64(ret_cookies, want_cookies);
	if (entry)
		CHECK_EQ_U64(ret_rax_bad, 0);
	uprobe_get_info(p, &info);
	CHECK_EQ_U64(info.hits, 100);
	CHECK_EQ_U64(info.ret_hits, 100);
	uprobe_free(p);
}

static void body_ret(void)
{
	body_ret_path(NULL, UPROBE_RET_SITE, true);
	body_ret_path("hijack", UPROBE_RET_HIJACK, true);
	body_ret_path(NULL, UPROBE_RET_SITE, false);
}

/* The kernel's handler for sig, read with the raw system call (not the interposed one). */
static uint64_t raw_handler(int sig)
{
	struct tl_ksigaction k = { 0 };

	syscall(SYS_rt_sigaction, sig, NULL, &k, 8);
	return (uint64_t)k.handler;
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

/* The body_* cases again in a child, on the stubs' shared body: their lines are "lean_shared/...". */
static int body_cases(void);

static void shared_body(void)
{
	pid_t pid;
	int st = -1;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		setenv("UPROBE_INLINE", "off", 1);
		execl(self_path, self_path, "shared-body", (char *)NULL);
		_exit(127);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid);
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
}

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
	/* UPROBE_INLINE=off (make check's second pass): the stub everywhere */
	if (getenv("UPROBE_INLINE") && !strcmp(getenv("UPROBE_INLINE"), "off"))
		body_reason = REASON_SHARED;
	if (argc > 1 && !strcmp(argv[1], "shared-body")) {
		tl_suite = "lean_shared";
		body_reason = REASON_SHARED;
		return body_cases();
	}
	self_path = "/proc/self/exe";
	RUN(lean_view);
	RUN(lean_noflags);
	RUN(lean_writes);
	RUN(full_path);
	RUN(strict_refuses);
	body_cases();
	RUN(shared_body);
	RUN(quiesce_signal_env);
	TL_EXIT();
}

static int body_cases(void)
{
	RUN(body_view_writes);
	RUN(body_threads);
	RUN(body_two);
	RUN(body_nested);
	RUN(body_ret);
	TL_EXIT();
}
