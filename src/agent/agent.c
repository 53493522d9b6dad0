/* SPDX-License-Identifier: MIT */
/*
 * The agent: the tracer's representative inside the traced process (see
 * proto.h). It lives in libuprobes and does nothing unless UPROBE_AGENT_FD is
 * set. Its constructor attaches the tracer's probes before main runs; a
 * thread of its own then waits for the tracer to stop it, or to vanish, and
 * detaches everything. The program is never stopped or killed by it.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/proto.h"
#include "uprobes_trace.h"

struct agent {
	int sock; /* private channel to the tracer */
	int n;
	struct trace_session *session;
	struct trace_spec *specs[AGENT_MAX_SPECS];
	struct trace_event *events[AGENT_MAX_SPECS];
};

static struct agent agent;

static int send_fd(int sock, const void *buf, size_t len, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (fd >= 0) {
		m.msg_control = cbuf;
		m.msg_controllen = sizeof(cbuf);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

static void mode_of(const struct trace_event *ev, char *buf, size_t len)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	if (!uprobe_get_info(trace_event_probe(ev), &info))
		snprintf(buf, len, "%s", uprobe_mode_name(info.mode));
}

/* Attach what can be attached here; one status per spec. */
static void attach_all(struct agent *a, char *text, struct agent_status *st)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line && a->n < AGENT_MAX_SPECS;
	     line = strtok_r(NULL, "\n", &save)) {
		struct agent_status *s = &st[a->n];
		struct trace_error err;

		a->specs[a->n] = trace_spec_parse(line, &err);
		if (!a->specs[a->n]) {
			s->err = -EINVAL;
			snprintf(s->msg, sizeof(s->msg), "column %d: %s", err.column, err.msg);
		} else {
			a->events[a->n] = trace_event_attach(a->session, a->specs[a->n],
							     (uint32_t)a->n);
			s->err = a->events[a->n] ? 0 : -errno;
			if (s->err)
				snprintf(s->msg, sizeof(s->msg), "%s", uprobe_last_error());
			else
				mode_of(a->events[a->n], s->mode, sizeof(s->mode));
		}
		a->n++;
	}
}

static void count_all(struct agent *a, struct agent_count *out)
{
	for (int i = 0; i < a->n; i++) {
		struct uprobe_info info = { .sz = sizeof(info) };
		struct uprobe *p = trace_event_probe(a->events[i]);

		memset(&out[i], 0, sizeof(out[i]));
		if (!p || uprobe_get_info(p, &info))
			continue;
		out[i].hits = info.hits;
		out[i].skipped = info.skipped;
		out[i].ret_hits = info.ret_hits;
		out[i].ret_missed = info.ret_missed;
		snprintf(out[i].mode, sizeof(out[i].mode), "%s", uprobe_mode_name(info.mode));
	}
}

/* STOP or the tracer gone: detach everything, report, and leave the program alone. */
static void *watch(void *arg)
{
	struct agent *a = arg;
	struct agent_hdr h;
	ssize_t got;
	char buf[sizeof(struct agent_hdr) + AGENT_MAX_SPECS * sizeof(struct agent_count)];
	struct agent_count *counts = (struct agent_count *)(buf + sizeof(h));

	do
		got = recv(a->sock, &h, sizeof(h), 0);
	while (got < 0 && errno == EINTR);
	for (int i = 0; i < a->n; i++)
		trace_event_detach(a->events[i]);
	if (got == sizeof(h) && h.type == AGENT_STOP) {
		count_all(a, counts);
		h = (struct agent_hdr){ AGENT_STOPPED, (uint32_t)a->n };
		memcpy(buf, &h, sizeof(h));
		send_fd(a->sock, buf, sizeof(h) + (size_t)a->n * sizeof(*counts), -1);
	}
	close(a->sock);
	return NULL;
}

static int handshake(struct agent *a, int ctl)
{
	/* SPECS in, then READY out of the same buffer: room for the larger of the two. */
	static char text[AGENT_MSG_MAX + sizeof(struct agent_hdr) +
			 AGENT_MAX_SPECS * sizeof(struct agent_status) + 1];
	static struct agent_status st[AGENT_MAX_SPECS];
	struct agent_hdr h = { AGENT_HELLO, (uint32_t)getpid() };
	int pair[2];
	ssize_t got;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
		return -1;
	if (send_fd(ctl, &h, sizeof(h), pair[1])) {
		close(pair[0]);
		close(pair[1]);
		return -1; /* no tracer (any more): run untraced */
	}
	close(pair[1]);
	a->sock = pair[0];
	got = recv(a->sock, text, AGENT_MSG_MAX, 0);
	if (got < (ssize_t)sizeof(h))
		return -1;
	memcpy(&h, text, sizeof(h));
	if (h.type != AGENT_SPECS)
		return -1;
	text[got] = 0;
	a->session = trace_session_new(NULL);
	if (a->session)
		attach_all(a, text + sizeof(h), st);
	h = (struct agent_hdr){ AGENT_READY, (uint32_t)a->n };
	memcpy(text, &h, sizeof(h));
	memcpy(text + sizeof(h), st, (size_t)a->n * sizeof(st[0]));
	if (send_fd(a->sock, text, sizeof(h) + (size_t)a->n * sizeof(st[0]),
		    a->session ? trace_session_fd(a->session) : -1))
		return -1;
	if (recv(a->sock, &h, sizeof(h), 0) != sizeof(h))
		return -1; /* the tracer is gone: run untraced */
	if (h.type == AGENT_ABORT)
		_exit(126); /* before main: the tracer reported why */
	return h.type == AGENT_GO ? 0 : -1;
}

/*
 * Runs in every image that loads libuprobes; only with UPROBE_AGENT_FD set
 * (by the tracer) does it do anything. Signals are blocked in the watcher
 * thread so that the program's signals keep going to its own threads.
 */
__attribute__((constructor)) static void agent_init(void)
{
	const char *env = getenv(AGENT_ENV_FD);
	sigset_t all, old;
	pthread_t th;
	char *end;
	long fd;

	if (!env || !*env)
		return;
	fd = strtol(env, &end, 10);
	if (*end || fd < 0 || fd > 65535)
		return;
	if (handshake(&agent, (int)fd)) {
		if (agent.sock > 0)
			close(agent.sock);
		trace_session_free(agent.session); /* detaches whatever was attached */
		agent.session = NULL;
		return;
	}
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	if (pthread_create(&th, NULL, watch, &agent) == 0)
		pthread_detach(th);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}
