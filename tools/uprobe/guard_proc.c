/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace -p: the guard process, which outlives uprobe.
 *
 * While the probes go in, every thread of the process is under ptrace
 * (guard.c), and a thread that hits an int3 probe then stops in the delivery
 * of its SIGTRAP. Should its tracer die right then, the kernel (6.18) drops
 * the signal instead of delivering it, and the thread runs on past the int3,
 * into the middle of the probed instruction. uprobe may die at any moment
 * (SIGKILL, the OOM killer, a crash), so it is not the tracer: a process of
 * its own is, forked at the attach. It borrows the thread (borrow.c), starts
 * the agent, hands the agent's socket to uprobe, and guards the threads until
 * uprobe says READY came, or until uprobe is gone: then it lets every thread
 * go, a signal being delivered to it delivered with PTRACE_DETACH, and exits.
 *
 *   uprobe                         guard (fork of uprobe, own session)
 *     |--- fork -------------------->|  borrow, dlopen, agent, pidfd_getfd
 *     |<-- ATTACHED + socket --------|  guard_begin(): every thread seized
 *     |<-- STOPPED sig (SIGSTOP) ----|  (while the probes go in)
 *     |--- END timeout ------------->|  guard_end(): every thread let go
 *     |<-- ENDED restarted, sig -----|  exits once all are let go
 *     X  (EOF at any point) -------->|  guard_end(), exits
 *
 * The guard ignores the signals a terminal or a kill of uprobe's process
 * group sends (its own session), holds nothing of uprobe's but this channel
 * and standard error until the attach ends, and lives at most a few seconds
 * after uprobe (guard_end()'s timeout; a thread still in uninterruptible
 * sleep then is detached by its exit, which is harmless: it is not stopped
 * with a signal to deliver).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

enum { GP_ATTACHED = 1, GP_STOPPED, GP_END, GP_ENDED };

struct gp_msg {
	int type;
	int value;	    /* STOPPED, ENDED: a stop signal; END: a timeout in ms */
	unsigned restarted; /* ENDED: system calls restarted */
};

#define CHAN 3 /* the channel's descriptor in the guard */

/* uprobe's side; in the guard, only ENDED (END received) is used. */
static struct {
	pid_t pid; /* the guard */
	int fd;	   /* uprobe's end of the channel, or -1 */
	int stop_sig;
	unsigned restarted;
	bool ended; /* END sent (received, in the guard), or the guard gone */
} gp = { .fd = -1 };

static int send_msg(int fd, int type, int value, unsigned restarted, int pass_fd)
{
	struct gp_msg m = { type, value, restarted };
	struct iovec io = { &m, sizeof(m) };
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct msghdr h = { .msg_iov = &io, .msg_iovlen = 1 };

	if (pass_fd >= 0) {
		struct cmsghdr *c;

		h.msg_control = cbuf;
		h.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&h);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &pass_fd, sizeof(int));
	}
	return sendmsg(fd, &h, MSG_NOSIGNAL) == sizeof(m) ? 0 : -1;
}

/* One message: its size (0 at EOF, -1 with errno), a passed descriptor in *FD_OUT. */
static ssize_t recv_msg(int fd, struct gp_msg *m, int *fd_out, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec io = { m, sizeof(*m) };
	struct msghdr h = { .msg_iov = &io, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	ssize_t n;

	do
		n = recvmsg(fd, &h, flags | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (fd_out)
		*fd_out = -1;
	for (struct cmsghdr *c = n > 0 ? CMSG_FIRSTHDR(&h) : NULL; c; c = CMSG_NXTHDR(&h, c)) {
		int got;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		memcpy(&got, CMSG_DATA(c), sizeof(int));
		if (fd_out && *fd_out < 0)
			*fd_out = got;
		else
			close(got);
	}
	return n;
}

/* Nothing of uprobe's but CHAN and standard error; deaf to job control and hangups. */
static void guard_detach_from(int chan)
{
	static const int deaf[] = { SIGHUP, SIGINT, SIGTERM, SIGQUIT, SIGPIPE,
				    SIGTSTP, SIGTTIN, SIGTTOU, SIGUSR1, SIGUSR2 };
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	sigset_t none;

	for (size_t i = 0; i < sizeof(deaf) / sizeof(deaf[0]); i++)
		signal(deaf[i], SIG_IGN);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid(); /* own session and process group: no terminal's signals, no kill(-pgrp) */
	prctl(PR_SET_NAME, "uprobe-guard");
	if (null >= 0) {
		dup2(null, 0);
		dup2(null, 1);
	}
	if (chan != CHAN) {
		dup2(chan, CHAN);
		close(chan);
	}
	close_range(CHAN + 1, ~0U, 0);
}

/* The guard's watch, once the threads are seized, until they are all let go. */
static __attribute__((noreturn)) void guard_watch(void)
{
	int sent_sig = 0, sig;
	struct gp_msg m;
	ssize_t n;

	guard_pause_on(CHAN);
	while (guard_fd() >= 0) {
		struct pollfd p[2] = { { .fd = CHAN, .events = POLLIN },
				       { .fd = guard_fd(), .events = POLLIN } };

		if (poll(p, 2, gp.ended ? 100 : -1) < 0 && errno != EINTR)
			break;
		sig = guard_service();
		if (sig && sig != sent_sig && !gp.ended && !send_msg(CHAN, GP_STOPPED, sig, 0, -1))
			sent_sig = sig;
		if (!p[0].revents)
			continue;
		n = recv_msg(CHAN, &m, NULL, MSG_DONTWAIT);
		if (n < 0 && errno == EAGAIN)
			continue;
		if (n <= 0)
			break; /* uprobe is gone */
		if (m.type == GP_END && !gp.ended) {
			gp.restarted = guard_end(&sig, m.value);
			send_msg(CHAN, GP_ENDED, sig, gp.restarted, -1);
			gp.ended = true;
		}
	}
	guard_end(NULL, 2000);
	_exit(0);
}

static __attribute__((noreturn)) void guard_main(int chan, pid_t pid, const char *name,
						 const char *lib, guard_attach_fn *attach)
{
	int sock, null;

	guard_detach_from(chan);
	sock = attach(pid, name, lib);
	if (sock < 0) {
		send_msg(CHAN, GP_ATTACHED, 0, 0, -1);
		_exit(1);
	}
	/* uprobe's copy only: the agent sees EOF once uprobe is gone. */
	send_msg(CHAN, GP_ATTACHED, 1, 0, sock);
	close(sock);
	null = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (null >= 0)
		dup2(null, 2); /* a closed terminal or pipe must not hold the guard */
	if (guard_fd() < 0)
		_exit(0); /* no thread guarded */
	guard_watch();
}

int guard_proc_attach(pid_t pid, const char *name, const char *lib, guard_attach_fn *attach)
{
	struct gp_msg m = { 0 };
	int sv[2], sock = -1;
	ssize_t n;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv))
		return cli_error(CLI_EXIT_FAIL, "-p %d: socketpair: %s", pid, strerror(errno)), -1;
	fflush(stdout);
	fflush(stderr);
	gp.pid = fork();
	if (gp.pid < 0) {
		close(sv[0]);
		close(sv[1]);
		return cli_error(CLI_EXIT_FAIL, "-p %d: fork: %s", pid, strerror(errno)), -1;
	}
	if (!gp.pid)
		guard_main(sv[1], pid, name, lib, attach);
	close(sv[1]);
	gp.fd = sv[0];
	gp.ended = false;
	gp.stop_sig = 0;
	n = recv_msg(gp.fd, &m, &sock, 0);
	if (n == sizeof(m) && m.type == GP_ATTACHED && m.value && sock >= 0)
		return sock;
	if (sock >= 0)
		close(sock);
	if (n != sizeof(m))
		cli_error(CLI_EXIT_FAIL, "-p %d (%s): uprobe's guard process (PID %d) ended "
			  "before the agent started", pid, name, gp.pid);
	gp.ended = true;
	guard_proc_end(NULL, 1000);
	return -1;
}

int guard_proc_fd(void)
{
	return gp.ended ? -1 : gp.fd;
}

int guard_proc_service(void)
{
	struct gp_msg m;
	ssize_t n;

	while (!gp.ended && gp.fd >= 0 && (n = recv_msg(gp.fd, &m, NULL, MSG_DONTWAIT)) != 0) {
		if (n < 0)
			return gp.stop_sig;
		if (n == sizeof(m) && m.type == GP_STOPPED)
			gp.stop_sig = m.value;
	}
	if (!gp.ended)
		gp.ended = true; /* EOF: the guard died; nothing more to hear */
	return gp.stop_sig;
}

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* The guard's exit, reaped within TIMEOUT_MS: after that it ends on its own. */
static void reap(int timeout_ms)
{
	uint64_t end = ms_now() + (uint64_t)timeout_ms;

	while (waitpid(gp.pid, NULL, WNOHANG) == 0 && ms_now() < end)
		nanosleep(&(struct timespec){ 0, 1000000 }, NULL);
	gp.pid = 0;
}

/*
 * The guard's answer to END: the threads let go (guard_end()). Its test hook
 * (UPROBE_TEST_GUARD_PAUSE) may hold it up to 20 s.
 */
static void wait_ended(int timeout_ms)
{
	uint64_t end = ms_now() + (uint64_t)timeout_ms + 25000;
	struct pollfd p = { .fd = gp.fd, .events = POLLIN };
	struct gp_msg m;
	ssize_t n;

	while (ms_now() < end) {
		if (poll(&p, 1, (int)(end - ms_now())) < 0 && errno != EINTR)
			return;
		n = recv_msg(gp.fd, &m, NULL, MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN))
			return;
		if (n == sizeof(m) && m.type == GP_STOPPED)
			gp.stop_sig = m.value;
		if (n == sizeof(m) && m.type == GP_ENDED) {
			gp.restarted = m.restarted;
			if (m.value)
				gp.stop_sig = m.value;
			return;
		}
	}
}

unsigned guard_proc_end(int *stop_sig, int timeout_ms)
{
	if (!gp.pid)
		return gp.restarted;
	if (!gp.ended) {
		gp.ended = true;
		if (!send_msg(gp.fd, GP_END, timeout_ms, 0, -1))
			wait_ended(timeout_ms);
		if (stop_sig)
			*stop_sig = gp.stop_sig;
		return gp.restarted;
	}
	/* The end of uprobe: the guard lets go what it still holds, and exits. */
	if (gp.fd >= 0)
		close(gp.fd);
	gp.fd = -1;
	reap(timeout_ms + 1000);
	if (stop_sig)
		*stop_sig = gp.stop_sig;
	return gp.restarted;
}
