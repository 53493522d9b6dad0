/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace -p PID, while the agent puts its probes in: every thread of
 * the process is under ptrace (PTRACE_SEIZE, none of them stopped), so that
 * each signal stops its thread for a moment before it is delivered.
 *
 * Why: the library's quiescence (src/ubp/quiesce.c) signals each running
 * thread to move it out of the windows being patched. A thread that goes to
 * sleep in epoll_wait() or nanosleep() between the check and the signal has
 * that call fail with EINTR, which SA_RESTART does not prevent, and the
 * number of the call is gone by the time the handler runs. At the signal's
 * delivery stop the kernel still has it (orig_rax): the tracer points the
 * thread back at its syscall instruction, and the call starts again once the
 * handler returns. The program's own signals pass untouched.
 *
 * Once READY is in, each thread is interrupted, its system call restarted in
 * the same way if the interruption cut it short, and detached. A process that
 * is stopped (SIGSTOP) meanwhile stays stopped, and the attach is abandoned.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <signal.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/signalfd.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "uprobes.h"

/* The kernel's own codes for a system call cut short by a signal. */
#define ERESTARTNOHAND 514
#define ERESTART_RESTARTBLOCK 516

#define GUARD_MAX 4096

/* T_HELD: kept in the delivery stop of its SIGTRAP (UPROBE_TEST_GUARD_PAUSE). */
enum { T_RUN, T_GONE, T_DONE, T_HELD };

static struct {
	pid_t pid;
	int n, stop_sig;
	int sfd;	   /* SIGCHLD: a thread stopped */
	sigset_t mask; /* ours before SIGCHLD was blocked */
	bool releasing; /* guard_end() was called */
	const char *pause_file; /* the test hook: see hold_trap() */
	bool paused;		/* one thread held already */
	int pause_fd;		/* readable: stop pausing (see guard_pause_on()) */
	unsigned restarted;
	int quiesce_sig; /* the target's quiescence signal (target_quiesce_sig()) */
	pid_t tid[GUARD_MAX];
	unsigned char state[GUARD_MAX];
} g;

bool ptrace_restart_syscall(pid_t tid, struct user_regs_struct *r, bool handler)
{
	long rax = (long)r->rax, word;

	/*
	 * -EINTR: the call failed already (epoll_wait does not wait for the
	 * signal code to decide). ERESTARTNOHAND and ERESTART_RESTARTBLOCK become
	 * EINTR when a handler runs; ERESTARTSYS is restarted by SA_RESTART.
	 */
	if ((long)r->orig_rax < 0 ||
	    !(rax == -EINTR ||
	      (handler && (rax == -ERESTARTNOHAND || rax == -ERESTART_RESTARTBLOCK))))
		return false;
	errno = 0;
	word = ptrace(PTRACE_PEEKTEXT, tid, (void *)(r->rip - 2), NULL);
	if (errno || (word & 0xffff) != 0x050f) /* syscall */
		return false;
	r->rip -= 2;
	r->rax = r->orig_rax;
	return true;
}

static int slot(pid_t tid)
{
	for (int i = 0; i < g.n; i++)
		if (g.tid[i] == tid)
			return i;
	if (g.n == GUARD_MAX)
		return -1;
	g.tid[g.n] = tid;
	g.state[g.n] = T_RUN;
	return g.n++;
}

static void set_state(pid_t tid, int state)
{
	int i = slot(tid);

	if (i >= 0)
		g.state[i] = (unsigned char)state;
}

static void nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/*
 * Seized by us already: a thread borrow() interrupted that did not stop in
 * time (asleep in a vfork, say) cannot be detached until it stops, and stops
 * whenever it wakes. It is guarded like the others.
 */
bool ptrace_is_ours(pid_t pid, pid_t tid)
{
	char path[64], line[128];
	pid_t tracer = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, tid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "TracerPid: %d", &tracer) == 1)
			break;
	if (f)
		fclose(f);
	return tracer == getpid();
}

/* Seize every thread not yet seized, until a pass over /proc finds no new one. */
static void seize_all(void)
{
	char dir[64];
	bool more = true;

	snprintf(dir, sizeof(dir), "/proc/%d/task", g.pid);
	while (more) {
		DIR *d = opendir(dir);
		struct dirent *de;

		more = false;
		while (d && (de = readdir(d))) {
			pid_t tid = atoi(de->d_name);
			int i, k;

			if (tid <= 0)
				continue;
			for (k = 0; k < g.n && g.tid[k] != tid; k++)
				;
			if (k < g.n)
				continue;
			i = slot(tid);
			if (i < 0)
				break;
			if (!ptrace(PTRACE_SEIZE, tid, NULL, (void *)PTRACE_O_TRACECLONE))
				more = true;
			else if (!ptrace_is_ours(g.pid, tid))
				g.state[i] = T_GONE; /* it exited meanwhile */
		}
		if (d)
			closedir(d);
	}
}

/*
 * The quiescence signal the library in PID uses: UPROBE_QUIESCE_SIGNAL=N in
 * its environment (as exec gave it; src/ubp/signal.c reads the same), else
 * the default. A value the library would refuse leaves the default: the
 * library then refuses to install and sends nothing.
 */
static int target_quiesce_sig(pid_t pid)
{
	static const char key[] = "UPROBE_QUIESCE_SIGNAL=";
	char path[64], buf[65536];
	ssize_t n, got = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/environ", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return UPROBE_QUIESCE_SIGNAL;
	while (got < (ssize_t)sizeof(buf) - 1 &&
	       (n = read(fd, buf + got, sizeof(buf) - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	for (char *e = buf; e < buf + got; e += strlen(e) + 1) {
		char *end;
		long v;

		if (strncmp(e, key, sizeof(key) - 1))
			continue;
		v = strtol(e + sizeof(key) - 1, &end, 10);
		if (end != e + sizeof(key) - 1 && !*end && v >= SIGRTMIN && v <= SIGRTMAX)
			return (int)v;
	}
	return UPROBE_QUIESCE_SIGNAL;
}

int guard_begin(pid_t pid, pid_t held)
{
	sigset_t chld;

	memset(&g, 0, sizeof(g));
	if (held && (slot(held) < 0 ||
		     ptrace(PTRACE_SETOPTIONS, held, NULL, (void *)PTRACE_O_TRACECLONE)))
		return -1;
	/* Each stop sends us SIGCHLD: a descriptor to wait on along with others. */
	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, &g.mask);
	g.sfd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
	g.pid = pid;
	g.quiesce_sig = target_quiesce_sig(pid);
	g.pause_fd = -1;
	g.pause_file = secure_getenv("UPROBE_TEST_GUARD_PAUSE");
	seize_all();
	return 0;
}

int guard_fd(void)
{
	return g.pid ? g.sfd : -1;
}

/* Our quiescence request, not the program's own use of that signal. */
static bool quiesce_request(pid_t tid)
{
	siginfo_t si;

	return !ptrace(PTRACE_GETSIGINFO, tid, NULL, &si) && si.si_code == SI_QUEUE &&
	       si.si_pid == g.pid;
}

/*
 * Another signal, pending and not blocked, will interrupt the call as well:
 * then its EINTR is the program's own, and the call is left to fail.
 */
static bool other_signal_pending(pid_t tid)
{
	char path[64], line[256];
	unsigned long long pnd = 0, blk = 0, v;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", g.pid, tid);
	f = fopen(path, "r");
	if (!f)
		return true;
	while (fgets(line, sizeof(line), f)) {
		if ((!strncmp(line, "SigPnd:", 7) || !strncmp(line, "ShdPnd:", 7)) &&
		    sscanf(line + 7, "%llx", &v) == 1)
			pnd |= v;
		else if (!strncmp(line, "SigBlk:", 7) && sscanf(line + 7, "%llx", &v) == 1)
			blk = v;
	}
	fclose(f);
	return pnd & ~blk & ~(1ULL << (g.quiesce_sig - 1));
}

static bool is_stop_signal(int sig)
{
	return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU;
}

/* Let TID go on (with SIG delivered): still traced, or detached when RELEASING. */
static void resume(pid_t tid, int sig, bool releasing)
{
	if (ptrace(releasing ? PTRACE_DETACH : PTRACE_CONT, tid, NULL, (void *)(long)sig))
		set_state(tid, T_GONE);
	else if (releasing)
		set_state(tid, T_DONE);
}

/*
 * The test hook (tests/hostile/attach_guard.sh): with UPROBE_TEST_GUARD_PAUSE
 * set to a file name, the first thread that stops in the delivery of a
 * SIGTRAP (an int3 probe's hit) is kept there, and its tid written to that
 * file: the moment at which uprobe's death once lost the hit. guard_end() lets
 * it go with its signal, as it lets any other thread go.
 */
static bool hold_trap(pid_t tid, int sig)
{
	char line[32];
	int fd, n;

	if (!g.pause_file || g.paused || sig != SIGTRAP)
		return false;
	fd = open(g.pause_file, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return false;
	n = snprintf(line, sizeof(line), "%d\n", tid);
	if (write(fd, line, (size_t)n) != n)
		n = -1;
	close(fd);
	g.paused = true;
	set_state(tid, T_HELD);
	return true;
}

static void on_stop(pid_t tid, int st, bool releasing)
{
	int ev = st >> 16, sig = WSTOPSIG(st);
	struct user_regs_struct r;
	unsigned long child;

	if (slot(tid) < 0) { /* more threads than we keep track of: let it be */
		ptrace(PTRACE_DETACH, tid, NULL, NULL);
		return;
	}
	switch (ev) {
	case 0: /* a signal about to be delivered */
		if (!releasing && hold_trap(tid, sig))
			return;
		if (sig == g.quiesce_sig && quiesce_request(tid) && !other_signal_pending(tid) &&
		    !ptrace(PTRACE_GETREGS, tid, NULL, &r) && ptrace_restart_syscall(tid, &r, true) &&
		    !ptrace(PTRACE_SETREGS, tid, NULL, &r))
			g.restarted++;
		resume(tid, sig, releasing);
		return;
	case PTRACE_EVENT_CLONE:
		if (!ptrace(PTRACE_GETEVENTMSG, tid, NULL, &child))
			slot((pid_t)child);
		resume(tid, 0, releasing);
		return;
	case PTRACE_EVENT_STOP:
		if (is_stop_signal(sig)) { /* group stop: the process is to stay stopped */
			g.stop_sig = sig;
			if (releasing || ptrace(PTRACE_LISTEN, tid, NULL, NULL))
				resume(tid, 0, true);
			return;
		}
		/* Our interrupt, or a new thread's first stop. */
		if (!ptrace(PTRACE_GETREGS, tid, NULL, &r) && ptrace_restart_syscall(tid, &r, false))
			ptrace(PTRACE_SETREGS, tid, NULL, &r);
		resume(tid, 0, releasing);
		return;
	default:
		resume(tid, 0, releasing);
	}
}

/* Every stop reported so far; returns how many threads were seen to stop. */
static int drain(bool releasing)
{
	int st, seen = 0;
	pid_t tid;

	while ((tid = waitpid(-1, &st, __WALL | WNOHANG)) > 0) {
		seen++;
		if (WIFSTOPPED(st))
			on_stop(tid, st, releasing);
		else
			set_state(tid, T_GONE);
	}
	return seen;
}

static bool all_released(void)
{
	for (int i = 0; i < g.n; i++)
		if (g.state[i] == T_RUN || g.state[i] == T_HELD)
			return false;
	return true;
}

static void guard_off(void)
{
	if (g.sfd >= 0)
		close(g.sfd);
	sigprocmask(SIG_SETMASK, &g.mask, NULL);
	g.pid = 0;
}

int guard_service(void)
{
	struct signalfd_siginfo si;

	if (!g.pid)
		return 0;
	while (g.sfd >= 0 && read(g.sfd, &si, sizeof(si)) == sizeof(si))
		;
	drain(g.releasing);
	if (g.releasing && all_released())
		guard_off();
	return g.stop_sig;
}

void guard_pause_on(int fd)
{
	g.pause_fd = fd;
}

static bool any_held(void)
{
	for (int i = 0; i < g.n; i++)
		if (g.state[i] == T_HELD)
			return true;
	return false;
}

/*
 * The test hook's pause, before the threads are let go: up to 10 s for a
 * thread to hit a probe (and be held: hold_trap()), then up to 10 s more, or
 * until the pause descriptor is readable (uprobe's end of the guard's channel:
 * a message, or uprobe's death), for the test to kill uprobe meanwhile.
 */
static void pause_held(void)
{
	struct pollfd p = { .fd = g.pause_fd, .events = POLLIN };
	struct signalfd_siginfo si;

	if (!g.pause_file)
		return;
	for (int i = 0; i < 1000 && !any_held(); i++) {
		while (read(g.sfd, &si, sizeof(si)) == sizeof(si))
			;
		drain(false);
		if (!any_held())
			nap_us(10000);
	}
	if (any_held())
		poll(&p, 1, 10000);
}

unsigned guard_end(int *stop_sig, int timeout_ms)
{
	struct timespec t0, t1;

	if (!g.pid)
		return g.restarted;
	pause_held();
	g.releasing = true;
	for (int i = 0; i < g.n; i++)
		if (g.state[i] == T_HELD)
			resume(g.tid[i], SIGTRAP, true);
		else if (g.state[i] == T_RUN && ptrace(PTRACE_INTERRUPT, g.tid[i], NULL, NULL))
			g.state[i] = T_GONE;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (!all_released()) {
		if (!drain(true))
			nap_us(100);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 >
		    timeout_ms)
			break;
	}
	if (stop_sig)
		*stop_sig = g.stop_sig;
	/*
	 * A thread in uninterruptible sleep stops once it wakes: guard_service(),
	 * called on while tracing, or guard_end() again lets it go then.
	 */
	if (all_released())
		guard_off();
	return g.restarted;
}
