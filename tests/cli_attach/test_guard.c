/* SPDX-License-Identifier: MIT */
/*
 * tools/uprobe/guard.c on its own: a child process with two threads asleep,
 * one in epoll_pwait2() and one in nanosleep(), receives the library's
 * quiescence signal (or a signal of its own) in both while they sleep, and
 * reports what the calls returned and how long they slept.
 *
 *   unguarded: the quiescence signal makes both calls fail with EINTR (what
 *              guard.c is for; this proves the case is real);
 *   guarded:   both calls sleep their 1 s and return 0, the handler ran
 *              twice, and guard_end() counts 2 restarted calls;
 *   own:       the program's own SIGUSR1 still makes both fail with EINTR
 *              under the guard: only our signal is made harmless;
 *   stopped:   SIGSTOP while guarded is reported, and the process stays
 *              stopped after guard_end() until SIGCONT.
 * Nothing waits for a time: the sleeps that a signal must cut short last a
 * minute (they end at once when it works), the one that must be restarted a
 * second (the child signals once it sees both threads asleep), the stopped
 * child's an hour (it is killed once seen stopped).
 */
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../../tools/uprobe/cli.h"
#include "uprobes.h"

#define SLEEP_MS    1000	 /* restarted: slept through */
#define CUT_MS	    60000	 /* cut short by the signal */
#define STOPPED_MS  3600000	 /* killed */

static int failed;

static void pass(const char *name)
{
	printf("PASS: cli_attach/guard_%s\n", name);
}

static void fail(const char *name, const char *why)
{
	printf("  %s\nFAIL: cli_attach/guard_%s\n", why, name);
	failed = 1;
}

/* ---- the child ---------------------------------------------------------------------- */

struct result {
	int epoll_ret, epoll_errno, sleep_ret, sleep_errno;
	long epoll_ms, sleep_ms;
	int handled;
};

static volatile int handled;
static long sleep_ms; /* the child's sleeps */
static pid_t tids[2];
static int done; /* a sleeper is back */

static void on_signal(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)si, (void)uc;
	__atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void *in_epoll(void *arg)
{
	struct result *r = arg;
	struct timespec t0, to = { sleep_ms / 1000, sleep_ms % 1000 * 1000000L };
	struct epoll_event ev;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	tids[0] = (pid_t)syscall(SYS_gettid);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->epoll_ret = epoll_pwait2(ep, &ev, 1, &to, NULL);
	r->epoll_errno = r->epoll_ret < 0 ? errno : 0;
	r->epoll_ms = ms_since(&t0);
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	return NULL;
}

static void *in_nanosleep(void *arg)
{
	struct result *r = arg;
	struct timespec t0, to = { sleep_ms / 1000, sleep_ms % 1000 * 1000000L };

	tids[1] = (pid_t)syscall(SYS_gettid);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	r->sleep_ret = nanosleep(&to, NULL);
	r->sleep_errno = r->sleep_ret < 0 ? errno : 0;
	r->sleep_ms = ms_since(&t0);
	__atomic_store_n(&done, 1, __ATOMIC_RELEASE);
	return NULL;
}

/* The system call TID sleeps in, from /proc; -1 while it runs. */
static long sleeping_in(pid_t tid)
{
	char path[64], buf[128];
	long nr = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/syscall", tid);
	f = fopen(path, "r");
	if (f && fgets(buf, sizeof(buf), f) && strncmp(buf, "running", 7))
		nr = atol(buf);
	if (f)
		fclose(f);
	return nr;
}

/* What src/ubp/quiesce.c sends, or the program's own SIGUSR1. */
static void send_to(pid_t tid, int sig)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	syscall(SYS_rt_tgsigqueueinfo, getpid(), tid, sig, &si);
}

/*
 * Waits for a byte on GO, signals both sleepers with SIG, writes the result
 * to OUT, and exits once GO is closed.
 */
static int child(int go, int out, int sig)
{
	struct sigaction sa = { .sa_sigaction = on_signal, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct result r = { 0 };
	pthread_t th[2];
	char c;

	sigaction(sig, &sa, NULL);
	if (read(go, &c, 1) != 1)
		return 1;
	pthread_create(&th[0], NULL, in_epoll, &r);
	pthread_create(&th[1], NULL, in_nanosleep, &r);
	/* Both asleep; or, stopped meanwhile (SIGSTOP cuts epoll short), one is done. */
	while (!__atomic_load_n(&done, __ATOMIC_ACQUIRE) &&
	       (!tids[0] || !tids[1] || sleeping_in(tids[0]) != SYS_epoll_pwait2 ||
		sleeping_in(tids[1]) != SYS_clock_nanosleep))
		usleep(1000);
	send_to(tids[0], sig);
	send_to(tids[1], sig);
	pthread_join(th[0], NULL);
	pthread_join(th[1], NULL);
	r.handled = handled;
	if (write(out, &r, sizeof(r)) != sizeof(r))
		return 1;
	/* Not before the guard is gone: its waitpid() must not take our exit. */
	return read(go, &c, 1) == 0 ? 0 : 1;
}

/* ---- the parent ------------------------------------------------------------------------- */

struct run {
	struct result r;
	unsigned restarted;
	int stop_sig;
	char state_after; /* the child's state right after guard_end() */
};

static char state_of(pid_t pid)
{
	char path[64], buf[512], *p;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof(buf), f)) {
		if (f)
			fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	return p ? p[2] : 0;
}

/* How many threads of PID sleep in epoll_pwait2() or clock_nanosleep(). */
static int asleep(pid_t pid)
{
	char path[96];
	struct dirent *e;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		long nr = -1;
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/task/%s/syscall", pid, e->d_name);
		f = e->d_name[0] != '.' ? fopen(path, "r") : NULL;
		if (f && fscanf(f, "%ld", &nr) == 1)
			n += nr == SYS_epoll_pwait2 || nr == SYS_clock_nanosleep;
		if (f)
			fclose(f);
	}
	if (d)
		closedir(d);
	return n;
}

/*
 * One child signalled with SIG, under the guard or not, its threads sleeping
 * MS ms; STOP: SIGSTOP it once both sleep, see that the guard reports it and
 * that it stays stopped, then kill it.
 */
static int run(struct run *out, int sig, int guarded, int stop, long ms)
{
	int go[2], res[2], st;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (pipe(go) || pipe(res))
		return -1;
	pid = fork();
	if (pid == 0) {
		close(go[1]);
		close(res[0]);
		sleep_ms = ms;
		_exit(child(go[0], res[1], sig));
	}
	close(go[0]);
	close(res[1]);
	if (guarded && guard_begin(pid, 0))
		return -1;
	if (write(go[1], "g", 1) != 1)
		return -1;
	if (stop) {
		/* The guard serves the threads' creation meanwhile. */
		while (asleep(pid) < 2) {
			guard_service();
			usleep(1000);
		}
		kill(pid, SIGSTOP);
	}
	for (;;) {
		struct pollfd p[2] = { { .fd = res[0], .events = POLLIN },
				       { .fd = guard_fd(), .events = POLLIN } };

		if (guarded && guard_service() && stop)
			break;
		if (poll(p, 2, -1) < 0)
			return -1;
		if (p[0].revents)
			break;
	}
	if (guarded)
		out->restarted = guard_end(&out->stop_sig, 2000);
	if (stop) {
		/*
		 * Its state once ptrace has let go of it: 't' until then, and a
		 * thread let go in a group stop is woken to stop again ('R' for a
		 * moment, seen on a loaded machine). Up to 2 s for 'T'.
		 */
		for (int i = 0; i < 2000 && (out->state_after = state_of(pid)) != 'T'; i++)
			usleep(1000);
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
		return 0;
	}
	if (poll(&(struct pollfd){ .fd = res[0], .events = POLLIN }, 1, -1) != 1 ||
	    read(res[0], &out->r, sizeof(out->r)) != sizeof(out->r)) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
		return -1;
	}
	close(go[1]);
	close(res[0]);
	return waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st) ? 0 : -1;
}

static void expect(const char *name, int ok, const struct run *r)
{
	char why[256];

	if (ok) {
		pass(name);
		return;
	}
	snprintf(why, sizeof(why),
		 "epoll_pwait2 %d (%s) after %ld ms, nanosleep %d (%s) after %ld ms, "
		 "handled %d, restarted %u, stop %d, state '%c'",
		 r->r.epoll_ret, strerror(r->r.epoll_errno), r->r.epoll_ms, r->r.sleep_ret,
		 strerror(r->r.sleep_errno), r->r.sleep_ms, r->r.handled, r->restarted,
		 r->stop_sig, r->state_after ? r->state_after : '?');
	fail(name, why);
}

int main(void)
{
	struct run r;
	int ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	ok = !run(&r, UPROBE_QUIESCE_SIGNAL, 0, 0, CUT_MS);
	expect("unguarded", ok && r.r.epoll_ret == -1 && r.r.epoll_errno == EINTR &&
				    r.r.sleep_ret == -1 && r.r.sleep_errno == EINTR &&
				    r.r.handled == 2, &r);

	ok = !run(&r, UPROBE_QUIESCE_SIGNAL, 1, 0, SLEEP_MS);
	expect("restarted", ok && r.r.epoll_ret == 0 && r.r.sleep_ret == 0 &&
				    r.r.epoll_ms >= SLEEP_MS && r.r.sleep_ms >= SLEEP_MS &&
				    r.r.handled == 2 && r.restarted == 2 && !r.stop_sig, &r);

	ok = !run(&r, SIGUSR1, 1, 0, CUT_MS);
	expect("own_signal", ok && r.r.epoll_ret == -1 && r.r.epoll_errno == EINTR &&
				     r.r.sleep_ret == -1 && r.r.sleep_errno == EINTR &&
				     r.r.handled == 2 && r.restarted == 0, &r);

	ok = !run(&r, UPROBE_QUIESCE_SIGNAL, 1, 1, STOPPED_MS);
	expect("stopped", ok && r.stop_sig == SIGSTOP && r.state_after == 'T', &r);
	return failed;
}
