/* SPDX-License-Identifier: MIT */
/*
 * A program that installs its signal handlers with the raw rt_sigaction
 * system call, bypassing the interposed sigaction: the library takes SIGTRAP
 * and SIGRTMAX back at its next attach, detach or uprobe_check_signals(), and
 * chains the program's handler behind its own. Hits are then exact and the
 * program's own traps still reach its handler. And libc's __restore_rt under
 * an int3 probe: the library's handlers return through a restorer of their
 * own. Each case runs in a child of its own, which alarm() ends if it runs
 * wild.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile/hostile.h"
#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("hostile_signals");

#define CALLS 1000
#define CHILD_SECONDS 60 /* a bound on failure only */

static uint64_t hits, own_traps;

static void count(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r, (void)ctx;
	__atomic_fetch_add(&hits, 1, __ATOMIC_RELAXED);
}

static void own_trap(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	__atomic_fetch_add(&own_traps, 1, __ATOMIC_RELAXED);
}

static void in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		alarm(CHILD_SECONDS);
		fn();
		fflush(stdout);
		_exit(tl_case_failed);
	}
	CHECK(pid > 0);
	if (pid <= 0 || waitpid(pid, &st, 0) != pid)
		return;
	if (WIFSIGNALED(st))
		TL_FAIL("the child was killed by signal %d (%s)", WTERMSIG(st),
			strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st))
		tl_case_failed = 1;
}

static struct uprobe *attach(int (*fn)(int), unsigned flags)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count, .flags = flags };
	struct uprobe *p = uprobe_attach_addr((void *)fn, &o);

	if (!p)
		TL_FAIL("attach: %s", uprobe_last_error());
	return p;
}

/* CALLS calls of the int3 probe: all counted, none in the program's handler. */
static void calls_exact(void)
{
	long sum = 0;

	hits = 0;
	for (int i = 0; i < CALLS; i++)
		sum += hostile_xol(i);
	CHECK_EQ_U64(hits, CALLS);
	CHECK_EQ_INT(sum, CALLS * (CALLS + 1) / 2);
	CHECK_EQ_U64(own_traps, 0);
}

/* The program's own int3 reaches its handler (chained behind ours). */
static void own_int3_chained(void)
{
	struct sigaction old;

	__asm__ volatile("int3");
	CHECK_EQ_U64(own_traps, 1);
	/* sigaction() shows the program what it installed. */
	CHECK_EQ_INT(sigaction(SIGTRAP, NULL, &old), 0);
	CHECK(old.sa_sigaction == own_trap);
}

/* The next attach takes SIGTRAP back before anything else. */
static void child_raw_sigtrap_attach(void)
{
	struct uprobe *p = attach(hostile_xol, UPROBE_F_NO_OPTIMIZE), *q;

	CHECK_EQ_INT(hostile_raw_set(SIGTRAP, own_trap), 0);
	q = attach(hostile_jmp, 0);
	CHECK(hostile_raw_handler(SIGTRAP) != (void *)own_trap);
	calls_exact();
	own_int3_chained();
	CHECK_EQ_INT(uprobe_detach(p), 0);
	CHECK_EQ_INT(uprobe_detach(q), 0);
	CHECK_EQ_INT(hostile_text_is_file((void *)hostile_xol, HOSTILE_XOL_LEN), 1);
}

/* uprobe_check_signals(): what a watchdog (uprobe trace's agent) calls. */
static void child_raw_sigtrap_check(void)
{
	struct uprobe *p = attach(hostile_xol, UPROBE_F_NO_OPTIMIZE);

	CHECK_EQ_INT(uprobe_check_signals(), 0);
	CHECK_EQ_INT(hostile_raw_set(SIGTRAP, own_trap), 0);
	CHECK_EQ_INT(uprobe_check_signals(), 1);
	CHECK_EQ_INT(uprobe_check_signals(), 0);
	CHECK(hostile_raw_handler(SIGTRAP) != (void *)own_trap);
	calls_exact();
	own_int3_chained();
	CHECK_EQ_INT(uprobe_detach(p), 0);
}

/*
 * A thread calling hostile_jmp while the main thread takes its probe in and
 * out. The program changes its handlers only while the thread is paused: a
 * trap of ours still on its way to the thread (generated, not yet delivered)
 * would reach whatever handler is installed at delivery, and that race is the
 * program's, not something the library could win.
 */
static int spin_stop, spin_want_pause, spin_paused;
static long spin_bad;

static void *spin(void *arg)
{
	(void)arg;
	for (int i = 0; !__atomic_load_n(&spin_stop, __ATOMIC_ACQUIRE); i++) {
		if (__atomic_load_n(&spin_want_pause, __ATOMIC_ACQUIRE)) {
			/* Running here, every signal sent to this thread has been delivered. */
			__atomic_store_n(&spin_paused, 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(&spin_want_pause, __ATOMIC_ACQUIRE))
				sched_yield();
			__atomic_store_n(&spin_paused, 0, __ATOMIC_RELEASE);
		}
		if (hostile_jmp(i) != i + 2)
			__atomic_fetch_add(&spin_bad, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void spin_pause(void)
{
	__atomic_store_n(&spin_want_pause, 1, __ATOMIC_RELEASE);
	while (!__atomic_load_n(&spin_paused, __ATOMIC_ACQUIRE))
		sched_yield();
}

static void spin_resume(void)
{
	__atomic_store_n(&spin_want_pause, 0, __ATOMIC_RELEASE);
}

/* The program's raw handlers: its own SIGTRAP handler, SIGRTMAX's default action. */
static void take_signals(void)
{
	spin_pause();
	CHECK_EQ_INT(hostile_raw_set(SIGTRAP, own_trap), 0);
	CHECK_EQ_INT(hostile_raw_set(SIGRTMAX, SIG_DFL), 0);
	spin_resume();
}

/*
 * A jump is taken out through an int3 at its head (and put in the same way):
 * a thread hitting it meanwhile needs our SIGTRAP handler. Detach takes it
 * back first; attach too (and its quiescence signal, SIGRTMAX, whose default
 * action would kill the program).
 */
static void child_raw_sigtrap_detach(void)
{
	pthread_t th;

	CHECK_EQ_INT(pthread_create(&th, NULL, spin, NULL), 0);
	for (int round = 0; round < 200 && !tl_case_failed; round++) {
		struct uprobe *p = attach(hostile_jmp, 0);

		take_signals();
		CHECK_EQ_INT(uprobe_detach(p), 0);
		take_signals();
		uprobe_free(p);
	}
	__atomic_store_n(&spin_stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CHECK_EQ_INT(spin_bad, 0);
	CHECK_EQ_U64(own_traps, 0);
}

/* Probes in both modes at once, attached and detached while the thread runs. */
static void child_raw_sigrtmax_quiesce(void)
{
	struct uprobe *p = attach(hostile_xol, UPROBE_F_NO_OPTIMIZE), *q;
	struct uprobe_info info = { .sz = sizeof(info) };
	pthread_t th;

	CHECK_EQ_INT(pthread_create(&th, NULL, spin, NULL), 0);
	for (int round = 0; round < 50 && !tl_case_failed; round++) {
		take_signals();
		q = attach(hostile_jmp, 0); /* a 3-instruction window: quiescence */
		CHECK_EQ_INT(hostile_xol(round), round + 1);
		CHECK_EQ_INT(uprobe_detach(q), 0);
		uprobe_free(q);
	}
	__atomic_store_n(&spin_stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
	CHECK_EQ_INT(spin_bad, 0);
	CHECK_EQ_U64(own_traps, 0);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_U64(info.hits, 50);
	CHECK_EQ_INT(uprobe_detach(p), 0);
}

static int usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

/*
 * An int3 probe on libc's __restore_rt (the restorer libc gives every
 * handler): each SIGUSR1 handler's return is one hit, exactly. The SIGTRAP
 * handler itself returns through the library's own restorer; through
 * __restore_rt, its return would trap again, and so on until the stack ran
 * out (a probe there killed the process it was attached to).
 */
static void child_restorer_probed(void)
{
	struct tl_ksigaction k;
	struct sigaction sa = { .sa_handler = on_usr1 };
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count, .flags = UPROBE_F_NO_OPTIMIZE };
	struct uprobe *p;

	CHECK_EQ_INT(sigaction(SIGUSR1, &sa, NULL), 0);
	CHECK_EQ_INT(syscall(SYS_rt_sigaction, SIGUSR1, NULL, &k, sizeof(k.mask)), 0);
	p = uprobe_attach_addr((const void *)k.restorer, &o);
	if (!p) {
		TL_FAIL("attach at libc's restorer %p: %s", (void *)k.restorer, uprobe_last_error());
		return;
	}
	hits = 0;
	for (int i = 0; i < 10; i++)
		raise(SIGUSR1);
	CHECK_EQ_INT(usr1_seen, 10);
	CHECK_EQ_U64(hits, 10);
	CHECK_EQ_INT(uprobe_detach(p), 0);
}

#define CASE(name)                          \
	static void name(void)              \
	{                                   \
		in_child(child_##name);     \
	}
CASE(raw_sigtrap_attach)
CASE(raw_sigtrap_check)
CASE(raw_sigtrap_detach)
CASE(raw_sigrtmax_quiesce)
CASE(restorer_probed)

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(raw_sigtrap_attach);
	RUN(raw_sigtrap_check);
	RUN(raw_sigtrap_detach);
	RUN(raw_sigrtmax_quiesce);
	RUN(restorer_probed);
	TL_EXIT();
}
