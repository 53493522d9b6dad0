/* SPDX-License-Identifier: MIT */
/*
 * The agent: the tracer's representative inside the traced process (see
 * uprobes_agent.h). It lives in libuprobes and does nothing unless UPROBE_AGENT_FD is
 * set. Its constructor attaches the tracer's probes before main runs; a
 * thread of its own then waits for the tracer to stop it, or to vanish, and
 * detaches everything. The program is never stopped or killed by it.
 *
 * The channel lives in the program's descriptor table, where the program may
 * close it or put a file of its own at its number (a daemon's close_range):
 * it is checked before every use (util/fd.h), and the watcher checks it every
 * AGENT_CHECK_MS while it waits. A channel lost that way is taken for the
 * tracer's death (every probe detached); the tracer sees it close. The same
 * check takes back the library's signal handlers from a program that replaced
 * them with the raw rt_sigaction system call (uprobe_check_signals).
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "uprobes_agent.h"
#include "uprobes_trace.h"
#include "util/fd.h"

#define AGENT_CHECK_MS 100

struct agent {
	struct fd_kept sock; /* private channel to the tracer */
	int attach; /* attach mode: never exit the program, free everything at the end */
	int ready;  /* READY is out (or will never be): exit() may report */
	int n;
	struct trace_session *session;
	struct trace_spec *specs[UPROBE_AGENT_MAX_SPECS];
	struct trace_event *events[UPROBE_AGENT_MAX_SPECS];
	/*
	 * STOPPED, ready before any probe is live: the watcher thread makes no
	 * allocation the program's own probes (malloc's) would count.
	 */
	struct {
		struct uprobe_agent_hdr h;
		struct uprobe_agent_count c[UPROBE_AGENT_MAX_SPECS];
	} stopped;
};

/* The agent serving a tracer now, if any; its exit() report goes there. */
static struct agent *live;
static pthread_mutex_t live_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t live_ready = PTHREAD_COND_INITIALIZER;

static void set_ready(struct agent *a)
{
	pthread_mutex_lock(&live_lock);
	a->ready = 1;
	pthread_cond_broadcast(&live_ready);
	pthread_mutex_unlock(&live_lock);
}

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

/* To the tracer, if the channel is still ours: 0 or -1. */
static int agent_send(struct agent *a, const void *buf, size_t len, int fd)
{
	return fd_kept_valid(&a->sock) ? send_fd(a->sock.fd, buf, len, fd) : -1;
}

/* From the tracer, if the channel is still ours. */
static ssize_t agent_recv(struct agent *a, void *buf, size_t len, int flags)
{
	return fd_kept_valid(&a->sock) ? recv(a->sock.fd, buf, len, flags) : -1;
}

static void mode_of(const struct trace_event *ev, char *buf, size_t len)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	if (!uprobe_get_info(trace_event_probe(ev), &info))
		snprintf(buf, len, "%s", uprobe_mode_name(info.mode));
}

/*
 * The reason alone, without the "GROUP/EVENT: PATH:LOCATION: " the tracer
 * knows already: the status has room for 172 bytes.
 */
static const char *reason(const struct trace_spec *spec, const char *msg)
{
	size_t g = strlen(spec->group), e = strlen(spec->event), p = strlen(spec->path);

	if (!strncmp(msg, spec->group, g) && msg[g] == '/' && !strncmp(msg + g + 1, spec->event, e) &&
	    !strncmp(msg + g + 1 + e, ": ", 2))
		msg += g + e + 3;
	if (!strncmp(msg, spec->path, p) && msg[p] == ':' && strstr(msg + p, ": "))
		msg = strstr(msg + p, ": ") + 2;
	return msg;
}

/* Attach what can be attached here; one status per spec. */
static void attach_all(struct agent *a, char *text, struct uprobe_agent_status *st)
{
	char *save = NULL;

	for (char *line = strtok_r(text, "\n", &save); line && a->n < UPROBE_AGENT_MAX_SPECS;
	     line = strtok_r(NULL, "\n", &save)) {
		struct uprobe_agent_status *s = &st[a->n];
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
				snprintf(s->msg, sizeof(s->msg), "%s",
					 reason(a->specs[a->n], uprobe_last_error()));
			else
				mode_of(a->events[a->n], s->mode, sizeof(s->mode));
		}
		a->n++;
	}
}

static void count_all(struct agent *a, struct uprobe_agent_count *out)
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

static void agent_free(struct agent *a)
{
	trace_session_free(a->session); /* detaches whatever is still attached */
	for (int i = 0; i < a->n; i++)
		trace_spec_free(a->specs[i]);
	fd_kept_close(&a->sock);
	free(a);
}

static void set_live(struct agent *a)
{
	pthread_mutex_lock(&live_lock);
	live = a;
	pthread_mutex_unlock(&live_lock);
}

/*
 * The tracer's next message (what recv returned), checking every
 * AGENT_CHECK_MS meanwhile that the channel and the signal handlers are still
 * ours. -1 once the channel is lost: forgotten, never closed, as its number is
 * the program's now.
 */
static ssize_t watch_recv(struct agent *a, struct uprobe_agent_hdr *h)
{
	for (;;) {
		struct pollfd p = { .fd = a->sock.fd, .events = POLLIN };
		int ready = poll(&p, 1, AGENT_CHECK_MS);
		ssize_t got;

		if (!fd_kept_valid(&a->sock)) {
			a->sock = FD_KEPT_NONE;
			return -1;
		}
		uprobe_check_signals();
		if (ready <= 0)
			continue;
		got = recv(a->sock.fd, h, sizeof(*h), MSG_DONTWAIT);
		if (got >= 0 || (errno != EAGAIN && errno != EINTR))
			return got;
	}
}

/*
 * STOP, the tracer gone or the channel lost: detach everything, report, and
 * leave the program alone.
 */
static void *watch(void *arg)
{
	struct agent *a = arg;
	struct uprobe_agent_hdr h;
	ssize_t got = watch_recv(a, &h);

	set_live(NULL);
	if (a->session)
		trace_session_record(a->session, 0); /* every probe stops at once */
	for (int i = 0; i < a->n; i++)
		trace_event_detach(a->events[i]);
	if (got == sizeof(h) && h.type == UPROBE_AGENT_STOP) {
		count_all(a, a->stopped.c);
		a->stopped.h = (struct uprobe_agent_hdr){ UPROBE_AGENT_STOPPED, (uint32_t)a->n };
		agent_send(a, &a->stopped, sizeof(h) + (size_t)a->n * sizeof(a->stopped.c[0]), -1);
	}
	if (a->attach)
		agent_free(a);
	else
		fd_kept_close(&a->sock);
	return NULL;
}

/* SPECS in, READY out, then GO. 0 to trace on; -1 to run untraced. */
static int serve(struct agent *a)
{
	/* SPECS in, then READY out of the same buffer: room for the larger of the two. */
	size_t size = UPROBE_AGENT_MSG_MAX + sizeof(struct uprobe_agent_hdr) +
		      UPROBE_AGENT_MAX_SPECS * sizeof(struct uprobe_agent_status) + 1;
	char *text = malloc(size);
	struct uprobe_agent_status *st = calloc(UPROBE_AGENT_MAX_SPECS, sizeof(*st));
	struct uprobe_agent_hdr h;
	ssize_t got;
	int ret = -1;

	if (!text || !st)
		goto out;
	got = agent_recv(a, text, UPROBE_AGENT_MSG_MAX, 0);
	if (got < (ssize_t)sizeof(h))
		goto out;
	memcpy(&h, text, sizeof(h));
	if (h.type != UPROBE_AGENT_SPECS)
		goto out;
	text[got] = 0;
	a->session = trace_session_new(NULL);
	uprobe_batch_begin();
	if (a->session) {
		trace_session_record(a->session, 0); /* every probe starts at once */
		attach_all(a, text + sizeof(h), st);
		trace_session_record(a->session, 1);
	}
	uprobe_batch_end();
	h = (struct uprobe_agent_hdr){ UPROBE_AGENT_READY, (uint32_t)a->n };
	memcpy(text, &h, sizeof(h));
	memcpy(text + sizeof(h), st, (size_t)a->n * sizeof(st[0]));
	got = agent_send(a, text, sizeof(h) + (size_t)a->n * sizeof(st[0]),
			 a->session ? trace_session_fd(a->session) : -1);
	set_ready(a);
	if (got)
		goto out;
	if (agent_recv(a, &h, sizeof(h), 0) != sizeof(h))
		goto out; /* the tracer is gone: run untraced */
	if (h.type == UPROBE_AGENT_ABORT && !a->attach)
		_exit(126); /* before main: the tracer reported why */
	ret = h.type == UPROBE_AGENT_GO ? 0 : -1;
out:
	free(text);
	free(st);
	return ret;
}

/* The watcher thread, with every signal blocked: the program's signals stay its own. */
static int start_watch(struct agent *a)
{
	sigset_t all, old;
	pthread_t th;
	int err;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&th, NULL, watch, a);
	if (!err)
		pthread_detach(th);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

/*
 * A traced program calling exit(): tell an attached tracer its status. The
 * probes may be hit before the tracer has the rings (READY); exit waits for
 * that (a second at most), or the events recorded meanwhile would be lost.
 */
static void report_exit(int status, void *arg)
{
	struct uprobe_agent_hdr h = { UPROBE_AGENT_EXITING, (uint32_t)status };
	struct timespec until;

	(void)arg;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&live_lock);
	while (live && live->attach && !live->ready &&
	       !pthread_cond_timedwait(&live_ready, &live_lock, &until))
		;
	if (live && live->attach)
		agent_send(live, &h, sizeof(h), -1);
	pthread_mutex_unlock(&live_lock);
}

/* Attach mode: the agent's own thread serves the tracer from SPECS on. */
static void *attached(void *arg)
{
	struct agent *a = arg;

	if (serve(a)) {
		set_ready(a);
		set_live(NULL);
		agent_free(a);
		return NULL;
	}
	return watch(a);
}

/*
 * Called by uprobe trace -p, in a thread of the program it holds with ptrace
 * (see uprobes_agent.h): returns the tracer's end of a new private channel, or -errno.
 */
__attribute__((visibility("default"))) int uprobe_agent_attach(void)
{
	static int exit_hooked;
	struct agent *a;
	sigset_t all, old;
	pthread_t th;
	int pair[2], err;

	pthread_mutex_lock(&live_lock);
	if (live) {
		pthread_mutex_unlock(&live_lock);
		return -EBUSY;
	}
	a = calloc(1, sizeof(*a));
	if (!a || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair)) {
		err = errno;
		pthread_mutex_unlock(&live_lock);
		free(a);
		return -err;
	}
	fd_keep(&a->sock, pair[0]);
	a->attach = 1;
	if (!exit_hooked)
		exit_hooked = !on_exit(report_exit, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&th, NULL, attached, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pthread_mutex_unlock(&live_lock);
		close(pair[0]);
		close(pair[1]);
		free(a);
		return -err;
	}
	pthread_detach(th);
	live = a;
	pthread_mutex_unlock(&live_lock);
	return pair[1];
}

/*
 * Is fd, inherited as UPROBE_AGENT_FD, still the tracer's kind of socket? A
 * program that closed it (daemonizing) may have put a file, a pipe or a
 * connection of its own at that number before it exec'd: HELLO is never
 * written into those.
 */
static bool tracer_channel(int fd)
{
	int type = 0, domain = 0;
	socklen_t len = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_SEQPACKET)
		return false;
	len = sizeof(domain);
	return !getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) && domain == AF_UNIX;
}

/*
 * Runs in every image that loads libuprobes; only with UPROBE_AGENT_FD set
 * (by the tracer) does it do anything.
 */
__attribute__((constructor)) static void agent_init(void)
{
	static struct agent agent = { .sock = FD_KEPT_NONE };
	struct uprobe_agent_hdr h = { UPROBE_AGENT_HELLO, (uint32_t)getpid() };
	const char *env = getenv(UPROBE_AGENT_ENV_FD);
	char *end;
	int pair[2];
	long fd;

	if (!env || !*env)
		return;
	fd = strtol(env, &end, 10);
	if (*end || fd < 0 || fd > 65535 || !tracer_channel((int)fd))
		return;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
		return;
	if (send_fd((int)fd, &h, sizeof(h), pair[1])) {
		close(pair[0]);
		close(pair[1]);
		return; /* no tracer (any more): run untraced */
	}
	close(pair[1]);
	fd_keep(&agent.sock, pair[0]);
	set_live(&agent);
	if (serve(&agent) || start_watch(&agent)) {
		set_live(NULL);
		fd_kept_close(&agent.sock);
		trace_session_free(agent.session); /* detaches whatever was attached */
		agent.session = NULL;
	}
}
