/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: the agents' side of the protocol (uprobes_agent.h). In launch
 * mode every image the command runs says HELLO on the shared socket; in attach
 * mode attach.c hands over the one agent's channel. Each gets the SPECS text,
 * answers READY with its statuses and its rings' memfd, and is told GO or
 * ABORT; at the end STOP, answered by STOPPED with its counters.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"

/*
 * poll() one descriptor while serving the threads' ptrace stops: a thread
 * stopped for the quiescence signal holds up the agent until it is let go.
 * 0 on timeout, or when the process was stopped (SIGSTOP) meanwhile.
 */
static int poll_guarded(struct pollfd *p, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms, now;
	struct pollfd two[2] = { *p, { .fd = guard_fd(), .events = POLLIN } };

	while ((now = now_ms()) < end) {
		if (guard_service())
			return 0; /* the process was stopped */
		if (poll(two, 2, (int)(end - now)) < 0 && errno != EINTR)
			return -1;
		if (two[0].revents) {
			p->revents = two[0].revents;
			return 1;
		}
	}
	return 0;
}

static ssize_t recv_fd(const struct tracer *t, int sock, void *buf, size_t len, int *fd,
		       int timeout_ms)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct pollfd p = { .fd = sock, .events = POLLIN };
	struct cmsghdr *c;
	ssize_t got;
	int ready;

	*fd = -1;
	/* Ctrl-C meanwhile is acted on afterwards: the exchange completes first. */
	if (t->guarding) {
		ready = poll_guarded(&p, timeout_ms);
	} else {
		do
			ready = poll(&p, 1, timeout_ms);
		while (ready < 0 && errno == EINTR);
	}
	if (ready <= 0)
		return -1;
	got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	for (c = CMSG_FIRSTHDR(&m); got >= 0 && c; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(fd, CMSG_DATA(c), sizeof(int));
	return got;
}

/* PATH:SYMBOL+OFF or PATH:0xOFF, as the probe names its place. */
static const char *location(const struct trace_spec *s, char *buf, size_t len)
{
	if (s->symbol && s->offset)
		snprintf(buf, len, "%s:%s+0x%" PRIx64, s->path, s->symbol, s->offset);
	else if (s->symbol)
		snprintf(buf, len, "%s:%s", s->path, s->symbol);
	else
		snprintf(buf, len, "%s:0x%" PRIx64, s->path, s->offset);
	return buf;
}

/* " in PID 42 (comm)" */
static const char *in_pid(pid_t pid, char *buf, size_t len)
{
	char path[64], comm[32] = "?";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", pid);
	f = fopen(path, "r");
	if (f) {
		if (fgets(comm, sizeof(comm), f))
			comm[strcspn(comm, "\n")] = 0;
		fclose(f);
	}
	snprintf(buf, len, " in PID %d (%s)", pid, comm);
	return buf;
}

static void replace_this_process(char *msg, size_t len, pid_t pid)
{
	char *at = strstr(msg, "this process"), rest[256];

	if (!at)
		return;
	snprintf(rest, sizeof(rest), "%s", at + strlen("this process"));
	snprintf(at, len - (size_t)(at - msg), "PID %d%s", pid, rest);
}

/*
 * A refusal in the command's own image is fatal unless the probed file is
 * simply not mapped there (ENXIO, ENOENT): a program it execs may map it. A
 * running process (-p) has what it has: every refusal is fatal.
 */
static void note_statuses(struct tracer *t, const struct uprobe_agent_status *st, int n, int first)
{
	char loc[PATH_MAX + 160], in[64];

	for (int i = 0; i < n && i < t->n; i++) {
		if (!st[i].err) {
			t->attached[i]++;
			snprintf(t->mode[i], sizeof(t->mode[i]), "%s", st[i].mode);
			continue;
		}
		snprintf(t->why[i], sizeof(t->why[i]), "%s", st[i].msg);
		if (t->pid) /* the agent speaks of "this process" */
			replace_this_process(t->why[i], sizeof(t->why[i]), t->pid);
		if (t->pid || (first && st[i].err != -ENXIO && st[i].err != -ENOENT)) {
			cli_error(CLI_EXIT_FAIL, "cannot attach %s/%s (%s)%s: %s", t->specs[i]->group,
				  t->specs[i]->event, location(t->specs[i], loc, sizeof(loc)),
				  t->pid ? in_pid(t->pid, in, sizeof(in)) : "", t->why[i]);
			t->fatal = 1;
		}
	}
}

int tracer_exiting(struct tracer *t, const struct uprobe_agent_hdr *h)
{
	if (h->type != UPROBE_AGENT_EXITING)
		return 0;
	t->wstatus = (int)(h->n & 0xff) << 8;
	t->exit_known = 1;
	return 1;
}

int tracer_serve_agent(struct tracer *t, int sock, pid_t pid)
{
	static char buf[sizeof(struct uprobe_agent_hdr) +
			UPROBE_AGENT_MAX_SPECS * sizeof(struct uprobe_agent_status)];
	struct agent_conn *a = &t->agents[t->n_agents];
	struct uprobe_agent_hdr h;
	ssize_t got;
	int memfd;

	*a = (struct agent_conn){ .sock = sock, .pid = pid };
	h = (struct uprobe_agent_hdr){ UPROBE_AGENT_SPECS, (uint32_t)(t->text_len - sizeof(h)) };
	memcpy(t->text, &h, sizeof(h));
	if (send(sock, t->text, t->text_len, MSG_NOSIGNAL) != (ssize_t)t->text_len) {
		close(sock);
		return -1;
	}
	/* A process attached to (-p) may call exit() before READY is out. */
	while ((got = recv_fd(t, sock, buf, sizeof(buf), &memfd, 10000)) == sizeof(h) &&
	       tracer_exiting(t, (const struct uprobe_agent_hdr *)buf))
		;
	if (got < (ssize_t)sizeof(h)) {
		close(sock);
		return -1;
	}
	memcpy(&h, buf, sizeof(h));
	note_statuses(t, (const struct uprobe_agent_status *)(buf + sizeof(h)), (int)h.n,
		      t->n_agents == 0);
	h = (struct uprobe_agent_hdr){ t->fatal ? UPROBE_AGENT_ABORT : UPROBE_AGENT_GO, 0 };
	send(sock, &h, sizeof(h), MSG_NOSIGNAL);
	if (memfd >= 0) {
		a->cons = trace_consumer_new(memfd);
		close(memfd);
	}
	t->n_agents++;
	return 0;
}

int tracer_accept_agent(struct tracer *t)
{
	struct uprobe_agent_hdr h;
	int sock;
	ssize_t got = recv_fd(t, t->ctl, &h, sizeof(h), &sock, 0);

	if (got == 0)
		return -1;
	if (got != sizeof(h) || h.type != UPROBE_AGENT_HELLO || sock < 0) {
		if (sock >= 0)
			close(sock);
		return 0;
	}
	if (t->n_agents == MAX_AGENTS || stop_requested) {
		close(sock); /* that image runs untraced */
		return 0;
	}
	tracer_serve_agent(t, sock, (pid_t)h.n);
	return 0;
}

void tracer_stop_agents(struct tracer *t)
{
	static char buf[sizeof(struct uprobe_agent_hdr) +
			UPROBE_AGENT_MAX_SPECS * sizeof(struct uprobe_agent_count)];
	struct uprobe_agent_hdr h = { UPROBE_AGENT_STOP, 0 };

	for (int i = 0; i < t->n_agents; i++) {
		struct agent_conn *a = &t->agents[i];
		const struct uprobe_agent_count *c = (const struct uprobe_agent_count *)(buf + sizeof(h));
		int fd;
		ssize_t got;

		if (a->done)
			continue;
		a->done = 1;
		if (send(a->sock, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h))
			continue;
		do
			got = recv_fd(t, a->sock, buf, sizeof(buf), &fd, 1000);
		while (got == sizeof(h) && tracer_exiting(t, (const struct uprobe_agent_hdr *)buf));
		if (got < (ssize_t)sizeof(h) ||
		    ((const struct uprobe_agent_hdr *)buf)->type != UPROBE_AGENT_STOPPED)
			continue;
		for (uint32_t k = 0; k < ((const struct uprobe_agent_hdr *)buf)->n && (int)k < t->n; k++)
			t->skipped[k] += c[k].skipped;
	}
}

int tracer_library_path(char *out, size_t len)
{
	Dl_info info;

	if (!dladdr((void *)trace_spec_parse, &info) || !info.dli_fname ||
	    !realpath(info.dli_fname, out))
		return -1;
	(void)len;
	return 0;
}

/*
 * A libuprobes built with AddressSanitizer (make SANITIZE=1) loads only in a
 * process whose first library is the ASan runtime: "RUNTIME:" when this
 * process runs with one (then so does its libuprobes), else "".
 */
static void asan_runtime(char *out, size_t len)
{
	void *init = dlsym(RTLD_DEFAULT, "__asan_init");
	Dl_info info;

	out[0] = '\0';
	if (init && dladdr(init, &info) && info.dli_fname && strstr(info.dli_fname, "libasan"))
		snprintf(out, len, "%s:", info.dli_fname);
}

int tracer_launch(struct tracer *t, char **cmd)
{
	char lib[PATH_MAX], asan[PATH_MAX], fdbuf[16], *preload;
	const char *old;
	int pair[2];

	if (tracer_library_path(lib, sizeof(lib)))
		return cli_error(CLI_EXIT_FAIL, "cannot find libuprobes.so to preload");
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair))
		return cli_error(CLI_EXIT_FAIL, "socketpair: %s", strerror(errno));
	t->ctl = pair[0];
	t->child = fork();
	if (t->child < 0)
		return cli_error(CLI_EXIT_FAIL, "fork: %s", strerror(errno));
	if (t->child == 0) {
		close(pair[0]);
		old = getenv("LD_PRELOAD");
		asan_runtime(asan, sizeof(asan));
		if (asprintf(&preload, "%s%s%s%s", asan, lib, old && *old ? ":" : "", old ? old : "") <
		    0)
			_exit(127);
		snprintf(fdbuf, sizeof(fdbuf), "%d", pair[1]);
		setenv("LD_PRELOAD", preload, 1);
		setenv(UPROBE_AGENT_ENV_FD, fdbuf, 1);
		execvp(cmd[0], cmd);
		fprintf(stderr, "uprobe: cannot run '%s': %s\n", cmd[0], strerror(errno));
		_exit(errno == ENOENT ? 127 : 126);
	}
	close(pair[1]);
	return 0;
}
