/* SPDX-License-Identifier: MIT */
/*
 * A traced program that attacks its tracer through the control socket every
 * descendant inherits (UPROBE_AGENT_FD), as tests/hostile/chan_test.sh runs
 * it under uprobe trace. Each mode prints one line of what it saw, then calls
 * chan_work() (the probed function) as the mode says:
 *
 *   work N         N calls: the well-behaved image the others are measured by
 *   rehello K      K more HELLOs from this image (each answered: SPECS or EOF)
 *   forge          HELLOs with a forged pid, someone else's socket, no or three
 *                  descriptors; a HELLO_SECURE with a descriptor; messages that
 *                  are no HELLO (another type, empty, too long); then an exec'd
 *                  image (work 10) that must still be traced
 *   ready V        a forked child speaks as an agent and answers SPECS with a
 *                  READY of kind V (mode, err, msg, msgwrap, msgnul, msglong:
 *                  a message out of bounds, with a NUL, too long; unknown,
 *                  count, unsealed, pipe, good); prints what the tracer answered
 *   rings          a forked child answers READY with rings in an unsealed
 *                  memfd, then shrinks it
 *   flood K        K forked children say HELLO at once and hold on
 *   execloop N     N images in a row (exec), one call each
 *   forkbomb N     N processes (fork), one call each
 *   become U G M A as uid U, gid G (root only), exec chan_speaker M A
 *   consumer-check exit 0 if trace_consumer_new() refuses unsealed rings
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uprobes_agent.h"
#include "uprobes_trace.h"

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is not about short functions, and so the entry's 5-byte
 * jump never takes the ret; make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict UPROBE_RET_PATH=site-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) int chan_work(int i)
{
	__asm__ volatile("" ::: "memory");
	return i + 1;
}

static int work(int n)
{
	int sum = 0;

	for (int i = 0; i < n; i++)
		sum += chan_work(i);
	return sum;
}

static int ctl_fd(void)
{
	const char *env = getenv(UPROBE_AGENT_ENV_FD);

	return env ? atoi(env) : -1;
}

static int send_msg(int sock, const void *buf, size_t len, const int *fds, int n_fds)
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (n_fds) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE((size_t)n_fds * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)n_fds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, (size_t)n_fds * sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* A message and up to two descriptors (-1: none). */
static ssize_t recv_msg(int sock, void *buf, size_t len, int fds[2])
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	ssize_t got = recvmsg(sock, &m, 0);

	fds[0] = fds[1] = -1;
	c = got >= 0 ? CMSG_FIRSTHDR(&m) : NULL;
	if (c && c->cmsg_type == SCM_RIGHTS) { /* the first two */
		size_t len = c->cmsg_len - CMSG_LEN(0);

		memcpy(fds, CMSG_DATA(c), len > 2 * sizeof(int) ? 2 * sizeof(int) : len);
	}
	return got;
}

/*
 * HELLO with pid and the given descriptors (closed here once sent); 's' if
 * SPECS came back on priv, 'r' on EOF, '-' when priv is -1.
 */
static char hello(uint32_t type, uint32_t pid, const int *fds, int n_fds, int priv)
{
	struct uprobe_agent_hdr h = { type, pid };
	char buf[64];
	int got_fds[2], sent = send_msg(ctl_fd(), &h, sizeof(h), fds, n_fds);
	ssize_t got;

	for (int i = 0; i < n_fds; i++)
		close(fds[i]);
	if (sent)
		return 'x';
	if (priv < 0)
		return '-';
	got = recv_msg(priv, buf, sizeof(buf), got_fds);
	for (int i = 0; i < 2; i++)
		if (got_fds[i] >= 0)
			close(got_fds[i]);
	return got > 0 ? 's' : 'r';
}

/* A HELLO as an agent says it, with a pair of its own: our end of the pair, or -1. */
static int hello_pair(void)
{
	int pair[2];
	char c;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair))
		return -1;
	c = hello(UPROBE_AGENT_HELLO, (uint32_t)getpid(), &pair[1], 1, -1);
	if (c == 'x') {
		close(pair[0]);
		return -1;
	}
	return pair[0];
}

/* 's' (SPECS) or 'r' (the tracer closed it) on our end of a HELLO's pair. */
static char answer(int sock, struct uprobe_agent_specs *sp, int fds[2])
{
	ssize_t got;

	fds[0] = fds[1] = -1;
	if (sock < 0)
		return 'x';
	got = recv_msg(sock, sp, sizeof(*sp), fds);
	return got == sizeof(*sp) ? 's' : got == 0 ? 'r' : 'x';
}

static int rehello(int k)
{
	int served = 0, refused = 0;

	for (int i = 0; i < k; i++) {
		struct uprobe_agent_specs sp;
		int sock = hello_pair(), fds[2];
		char c = answer(sock, &sp, fds);

		served += c == 's';
		refused += c == 'r';
		for (int j = 0; j < 2; j++)
			if (fds[j] >= 0)
				close(fds[j]);
		close(sock);
	}
	printf("rehello: served %d, refused %d\n", served, refused);
	return work(10) > 0 ? 0 : 1;
}

/* A SOCK_SEQPACKET pair end made by a child that is gone by now. */
static int foreign_socket(void)
{
	int carrier[2], pair[2], fds[2] = { -1, -1 }, st;
	char buf[1];
	pid_t child;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, carrier))
		return -1;
	child = fork();
	if (child == 0) {
		if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) ||
		    send_msg(carrier[1], "s", 1, &pair[1], 1))
			_exit(1);
		_exit(0);
	}
	waitpid(child, &st, 0);
	recv_msg(carrier[0], buf, sizeof(buf), fds);
	close(carrier[0]);
	close(carrier[1]);
	return fds[0];
}

static int run_self(char *argv0, const char *mode, const char *arg)
{
	pid_t child = fork();
	int st;

	if (child == 0) {
		execl(argv0, argv0, mode, arg, (char *)NULL);
		_exit(127);
	}
	return waitpid(child, &st, 0) == child && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int forge(char *argv0)
{
	struct uprobe_agent_hdr h = { UPROBE_AGENT_HELLO, (uint32_t)getpid() };
	char big[100] = { 0 }, res[8];
	int pair[2], three[3];

	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair);
	res[0] = hello(UPROBE_AGENT_HELLO, (uint32_t)getppid(), &pair[1], 1, pair[0]);
	close(pair[0]);
	three[0] = foreign_socket();
	res[1] = hello(UPROBE_AGENT_HELLO, (uint32_t)getpid(), three, 1, -1);
	res[2] = hello(UPROBE_AGENT_HELLO, (uint32_t)getpid(), NULL, 0, -1);
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair);
	three[0] = pair[1], three[1] = dup(pair[1]), three[2] = dup(pair[1]);
	res[3] = hello(UPROBE_AGENT_HELLO, (uint32_t)getpid(), three, 3, -1);
	res[4] = recv(pair[0], big, 1, 0) == 0 ? 'r' : 's'; /* the tracer closed all three */
	close(pair[0]);
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair);
	res[5] = hello(UPROBE_AGENT_HELLO_SECURE, (uint32_t)getpid(), &pair[1], 1, pair[0]);
	close(pair[0]);
	h.type = 99;
	send(ctl_fd(), &h, sizeof(h), 0);
	send(ctl_fd(), big, 0, 0);
	send(ctl_fd(), big, sizeof(big), 0);
	res[6] = 0;
	printf("forge: %s\n", res); /* r: closed by the tracer; -: no answer expected */
	return run_self(argv0, "work", "10");
}

/* Statuses for n probes, each "optimized", in a memfd: sealed unless unsealed. */
static int status_fd(uint32_t n, const char *kind)
{
	struct uprobe_agent_status *st = calloc(n, sizeof(*st));
	int fd = memfd_create("st", MFD_ALLOW_SEALING);
	/* the messages after the statuses: 16 bytes, a NUL among them */
	static const char text[16] = "hijack\0 trailing";
	size_t text_len = sizeof(text);

	for (uint32_t i = 0; i < n; i++)
		strcpy(st[i].mode, "optimized");
	if (!strcmp(kind, "mode"))
		memset(st[n - 1].mode, 'A', sizeof(st[0].mode));
	else if (!strcmp(kind, "err"))
		st[0].err = 5;
	else if (!strcmp(kind, "msg")) /* past the end of the memfd */
		st[0].err = -1, st[0].msg_off = 10, st[0].msg_len = 7;
	else if (!strcmp(kind, "msgwrap")) /* an offset that wraps around */
		st[0].err = -1, st[0].msg_off = 0xfffffff0u, st[0].msg_len = 0x20;
	else if (!strcmp(kind, "msgnul"))
		st[0].err = -1, st[0].msg_off = 0, st[0].msg_len = 8;
	else if (!strcmp(kind, "msglong")) /* longer than UPROBE_AGENT_MSG_MAX allows */
		text_len = UPROBE_AGENT_MSG_MAX, st[0].err = -1,
		st[0].msg_len = UPROBE_AGENT_MSG_MAX;
	else if (!strcmp(kind, "unknown"))
		strcpy(st[0].mode, "opt\033]0;pwn\007");
	else if (!strcmp(kind, "good")) /* a return probe's word, in bounds */
		st[0].msg_off = 0, st[0].msg_len = 6;
	if (write(fd, st, n * sizeof(*st)) != (ssize_t)(n * sizeof(*st)))
		return -1;
	if (text_len > sizeof(text)) {
		if (ftruncate(fd, (off_t)(n * sizeof(*st) + text_len)))
			return -1;
	} else if (write(fd, text, text_len) != (ssize_t)text_len) {
		return -1;
	}
	free(st);
	if (strcmp(kind, "unsealed"))
		fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return fd;
}

/* Rings the tracer's consumer accepts, copied into a memfd without seals. */
static int unsealed_rings(void)
{
	struct trace_session *s = trace_session_new(NULL);
	int src = s ? trace_session_fd(s) : -1, fd = memfd_create("rings", 0);
	struct stat sb;
	char buf[65536];
	ssize_t got;
	off_t off = 0;

	if (src < 0 || fstat(src, &sb) || ftruncate(fd, sb.st_size))
		return -1;
	while (off < sb.st_size && (got = pread(src, buf, sizeof(buf), off)) > 0) {
		if (pwrite(fd, buf, (size_t)got, off) != got)
			return -1;
		off += got;
	}
	return fd;
}

/* A forked child, an agent of its own making: HELLO, SPECS, READY of kind; the tracer's answer. */
static char fake_agent(const char *kind)
{
	struct uprobe_agent_specs sp;
	struct uprobe_agent_hdr h;
	int sock = hello_pair(), fds[2], out[2] = { -1, -1 };
	ssize_t got;
	char c;

	if (answer(sock, &sp, fds) != 's')
		return 'x';
	h = (struct uprobe_agent_hdr){ UPROBE_AGENT_READY, sp.h.n + !strcmp(kind, "count") };
	if (!strcmp(kind, "pipe")) {
		if (pipe(out))
			return 'x';
	} else {
		out[0] = status_fd(sp.h.n, kind);
	}
	if (!strcmp(kind, "rings"))
		out[1] = unsealed_rings();
	send_msg(sock, &h, sizeof(h), out, out[1] >= 0 ? 2 : 1);
	got = recv(sock, &h, sizeof(h), 0);
	c = got == sizeof(h) && h.type == UPROBE_AGENT_GO ? 'g' : got == 0 ? 'r' : 'x';
	if (c == 'g' && out[1] >= 0) {
		if (ftruncate(out[1], 0)) /* under the tracer's mapping */
			return 'x';
		recv(sock, &h, sizeof(h), 0); /* STOP, at the end */
	}
	return c;
}

static int ready(const char *kind)
{
	int p[2], st;
	char c = 'x';
	pid_t child;

	if (pipe(p))
		return 1;
	child = fork();
	if (child == 0) {
		c = fake_agent(kind);
		_exit(write(p[1], &c, 1) == 1 ? 0 : 1);
	}
	close(p[1]);
	if (read(p[0], &c, 1) != 1)
		c = 'x';
	waitpid(child, &st, 0);
	printf("ready %s: %s\n", kind, c == 'g' ? "go" : c == 'r' ? "refused" : "?");
	return work(3) > 0 ? 0 : 1;
}

/* K children say HELLO and hold their sockets until all K have their answers. */
static int flood(char *argv0, int k)
{
	int answers[2], release[2], served = 0, refused = 0, st;
	char c;

	if (pipe(answers) || pipe(release))
		return 1;
	for (int i = 0; i < k; i++) {
		if (fork() == 0) {
			struct uprobe_agent_specs sp;
			int fds[2];

			close(release[1]);
			c = answer(hello_pair(), &sp, fds);
			if (write(answers[1], &c, 1) != 1 || read(release[0], &c, 1) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(answers[1]);
	for (int i = 0; i < k && read(answers[0], &c, 1) == 1; i++) {
		served += c == 's';
		refused += c == 'r';
	}
	close(release[1]);
	while (wait(&st) > 0)
		;
	printf("flood: served %d, refused %d\n", served, refused);
	return run_self(argv0, "work", "10");
}

static int execloop(char *argv0, int n)
{
	char next[16];

	chan_work(n);
	if (n <= 1) {
		printf("execloop: done\n");
		return 0;
	}
	snprintf(next, sizeof(next), "%d", n - 1);
	fflush(stdout);
	execl(argv0, argv0, "execloop", next, (char *)NULL);
	return 127;
}

/* n processes in all: this one and a tree of forks, each calling once. */
static int forkbomb_tree(int n)
{
	int st, left = (n - 1) / 2, right = n - 1 - left;
	pid_t kids[2] = { 0, 0 };

	chan_work(n);
	for (int i = 0; i < 2; i++) {
		int m = i ? right : left;

		if (m > 0 && (kids[i] = fork()) == 0)
			_exit(forkbomb_tree(m));
	}
	for (int i = 0; i < 2; i++)
		if (kids[i] > 0 && (waitpid(kids[i], &st, 0) != kids[i] || !WIFEXITED(st) ||
				    WEXITSTATUS(st)))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int n = argc > 2 ? atoi(argv[2]) : 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc > 1 && !strcmp(argv[1], "work")) {
		printf("worked %d\n", work(n) ? n : 0);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "execloop"))
		return execloop(argv[0], n);
	if (argc > 1 && !strcmp(argv[1], "forkbomb")) {
		if (forkbomb_tree(n))
			return 1;
		printf("forkbomb: %d processes\n", n);
		return 0;
	}
	if (argc > 4 && !strcmp(argv[1], "become")) { /* become UID GID MODE [ARG] */
		if (setgroups(0, NULL) || setresgid((gid_t)atoi(argv[3]), (gid_t)atoi(argv[3]),
						    (gid_t)atoi(argv[3])) ||
		    setresuid((uid_t)n, (uid_t)n, (uid_t)n))
			return 3;
		execv(argv[0], (char *[]){ argv[0], argv[4], argc > 5 ? argv[5] : NULL, NULL });
		return 127;
	}
	if (argc > 1 && !strcmp(argv[1], "consumer-check")) /* 0: unsealed rings are refused */
		return trace_consumer_new(unsealed_rings()) ? 1 : 0;
	if (ctl_fd() < 0) {
		printf("no control socket\n");
		return 2;
	}
	if (argc > 2 && !strcmp(argv[1], "rehello"))
		return rehello(n);
	if (argc > 1 && !strcmp(argv[1], "forge"))
		return forge(argv[0]);
	if (argc > 2 && !strcmp(argv[1], "ready"))
		return ready(argv[2]);
	if (argc > 1 && !strcmp(argv[1], "rings"))
		return ready("rings");
	if (argc > 2 && !strcmp(argv[1], "flood"))
		return flood(argv[0], n);
	fprintf(stderr, "usage: chan_speaker MODE [ARG] (see its first comment)\n");
	return 2;
}
