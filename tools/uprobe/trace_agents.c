/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace: the agents' side of the protocol (uprobes_agent.h). In launch
 * mode every image the command runs says HELLO on the shared socket and, once
 * trace_gate.c lets it in, is served from the tracing loop: SPECS out (the
 * probe lines and the counts in two sealed memfds), READY in (the statuses in
 * a memfd of the agent's, checked, and its rings), GO or ABORT out. In attach
 * mode attach.c hands over the one agent's channel and it is served at once.
 * At the end STOP, answered by STOPPED; the skipped hits are in the counts.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cli.h"
#include "trace.h"

#define TEXT_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL)
#define COUNTS_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define STATUS_SEALS TEXT_SEALS

/* A message as received: its length and flags, its descriptors, the sender's credentials. */
struct msg_in {
	ssize_t len;
	int flags;
	int fds[2]; /* the first two (-1: none); any more are closed */
	int n_fds;  /* how many came */
	bool has_cred;
	struct ucred cred;
};

static void msg_close(struct msg_in *in)
{
	for (int i = 0; i < 2; i++)
		if (in->fds[i] >= 0)
			close(in->fds[i]);
	in->fds[0] = in->fds[1] = -1;
}

static ssize_t recv_msg(int sock, void *buf, size_t len, struct msg_in *in, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred)) + CMSG_SPACE(8 * sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;

	*in = (struct msg_in){ .fds = { -1, -1 } };
	do
		in->len = recvmsg(sock, &m, MSG_CMSG_CLOEXEC | flags);
	while (in->len < 0 && errno == EINTR);
	in->flags = m.msg_flags;
	for (c = in->len >= 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS &&
		    c->cmsg_len == CMSG_LEN(sizeof(in->cred))) {
			memcpy(&in->cred, CMSG_DATA(c), sizeof(in->cred));
			in->has_cred = true;
		}
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0, k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i < k;
		     i++, in->n_fds++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (in->n_fds < 2)
				in->fds[in->n_fds] = fd;
			else
				close(fd);
		}
	}
	return in->len;
}

static int send_fds(int sock, const void *buf, size_t len, const int *fds, int n_fds)
{
	char cbuf[CMSG_SPACE(3 * sizeof(int))] = { 0 };
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = CMSG_SPACE((size_t)n_fds * sizeof(int)) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&m);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN((size_t)n_fds * sizeof(int));
	memcpy(CMSG_DATA(c), fds, (size_t)n_fds * sizeof(int));
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/*
 * poll() one descriptor while serving the threads' ptrace stops: a thread
 * stopped for the quiescence signal holds up the agent until it is let go.
 * 0 on timeout, or when the process was stopped (SIGSTOP) meanwhile.
 */
static int poll_guarded(struct pollfd *p, int timeout_ms)
{
	uint64_t end = now_ms() + (uint64_t)timeout_ms, now;
	struct pollfd two[2] = { *p, { .fd = -1, .events = POLLIN } };

	while ((now = now_ms()) < end) {
		if (guard_proc_service())
			return 0; /* the process was stopped */
		two[1].fd = guard_proc_fd(); /* -1 once the guard is gone */
		if (poll(two, 2, (int)(end - now)) < 0 && errno != EINTR)
			return -1;
		if (two[0].revents) {
			p->revents = two[0].revents;
			return 1;
		}
	}
	return 0;
}

/* Attach mode: the next message of the agent within timeout_ms, or -1. */
static ssize_t recv_wait(const struct tracer *t, int sock, void *buf, size_t len, struct msg_in *in,
			 int timeout_ms)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };
	int ready;

	/* Ctrl-C meanwhile is acted on afterwards: the exchange completes first. */
	if (t->guarding) {
		ready = poll_guarded(&p, timeout_ms);
	} else {
		do
			ready = poll(&p, 1, timeout_ms);
		while (ready < 0 && errno == EINTR);
	}
	*in = (struct msg_in){ .len = -1, .fds = { -1, -1 } };
	return ready > 0 ? recv_msg(sock, buf, len, in, MSG_DONTWAIT) : -1;
}

/* PATH:SYMBOL+OFF or PATH:0xOFF, as the probe names its place. */
const char *tracer_location(const struct trace_spec *s, char *buf, size_t len)
{
	if (s->symbol && s->offset)
		snprintf(buf, len, "%s:%s+0x%" PRIx64, s->path, s->symbol, s->offset);
	else if (s->symbol)
		snprintf(buf, len, "%s:%s", s->path, s->symbol);
	else
		snprintf(buf, len, "%s:0x%" PRIx64, s->path, s->offset);
	return buf;
}

/* msg (malloc'd) with its first "this process" as "PID pid": the new string, msg freed. */
static char *replace_this_process(char *msg, pid_t pid)
{
	char *at = strstr(msg, "this process"), *out;

	if (!at)
		return msg;
	if (asprintf(&out, "%.*sPID %d%s", (int)(at - msg), msg, (int)pid,
		     at + strlen("this process")) < 0)
		out = NULL;
	free(msg);
	return out;
}

/* ---- SPECS: the probe lines and the counts, in memfds every image gets ---------------- */

static int write_all(int fd, const void *buf, size_t len)
{
	for (size_t done = 0; done < len;) {
		ssize_t put = pwrite(fd, (const char *)buf + done, len - done, (off_t)done);

		if (put <= 0)
			return -1;
		done += (size_t)put;
	}
	return 0;
}

/* Made once, for the first image: the text sealed read-only, the counts sealed in size. */
static int make_specs(struct tracer *t)
{
	size_t counts_len = (size_t)t->n * sizeof(struct uprobe_agent_count);
	void *counts;

	if (t->specs_made)
		return 0;
	t->text_fd = memfd_create("uprobe-specs", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	t->counts_fd = memfd_create("uprobe-counts", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (t->text_fd < 0 || t->counts_fd < 0 || write_all(t->text_fd, t->text, t->text_len) ||
	    fcntl(t->text_fd, F_ADD_SEALS, TEXT_SEALS) ||
	    ftruncate(t->counts_fd, (off_t)counts_len) ||
	    fcntl(t->counts_fd, F_ADD_SEALS, COUNTS_SEALS))
		return cli_error(-1, "cannot hand the probes over: %s", strerror(errno));
	counts = mmap(NULL, counts_len, PROT_READ, MAP_SHARED, t->counts_fd, 0);
	if (counts == MAP_FAILED)
		return cli_error(-1, "cannot map the probes' counts: %s", strerror(errno));
	t->shared_counts = counts;
	t->specs_made = true;
	return 0;
}

static int send_specs(struct tracer *t, int sock)
{
	struct uprobe_agent_specs sp = { { UPROBE_AGENT_SPECS, (uint32_t)t->n }, t->text_len };
	int fds[4];

	if (make_specs(t))
		return -1;
	fds[0] = t->text_fd;
	fds[1] = t->counts_fd;
	fds[2] = tracer_maps_fd(t); /* the maps, when the probes aggregate in the target */
	fds[3] = t->lang_stacks ? t->lang_stacks_fd : -1; /* a program's ustack keys' table */
	return send_fds(sock, &sp, sizeof(sp), fds, fds[2] < 0 ? 2 : fds[3] >= 0 ? 4 : 3);
}

/* ---- READY: the statuses, checked before anything of them is used ------------------- */

static bool mode_known(const char *mode)
{
	for (int m = UPROBE_MODE_NONE; m <= UPROBE_MODE_OPTIMIZED; m++)
		if (!strcmp(mode, uprobe_mode_name((enum uprobe_mode)m)))
			return true;
	return false;
}

/* READY's statuses, copied out of the agent's memfd: the records, then their messages. */
struct statuses {
	struct uprobe_agent_status *st;
	const char *text; /* after the records */
	size_t text_len;
};

/* NULL, or what is wrong with status s (its message in text, text_len bytes). */
static const char *status_fault(const struct uprobe_agent_status *s, const char *text,
				size_t text_len)
{
	if (s->err > 0 || s->err < -4095)
		return "err is not 0 or -errno";
	if (!memchr(s->mode, 0, sizeof(s->mode)))
		return "mode is not NUL-terminated";
	if (s->msg_len >= UPROBE_AGENT_MSG_MAX)
		return "message longer than UPROBE_AGENT_MSG_MAX";
	if (s->msg_off > text_len || s->msg_len > text_len - s->msg_off)
		return "message beyond the end of the memfd";
	if (memchr(text + s->msg_off, 0, s->msg_len))
		return "message with a NUL in it";
	if (!s->err && !mode_known(s->mode))
		return "mode is not one of uprobe_mode_name()'s";
	return NULL;
}

/* Status i's message, malloc'd and printable (NULL: none, or no memory). */
static char *status_msg(const struct statuses *ss, int i)
{
	const struct uprobe_agent_status *s = &ss->st[i];
	char *m = s->msg_len ? strndup(ss->text + s->msg_off, s->msg_len) : NULL;

	return m ? tracer_printable(m) : NULL;
}

/*
 * READY's statuses, copied once out of the agent's memfd (sealed, so a
 * shmem file that no one can make block or shrink) and checked: 0 and *ss
 * filled (ss->st malloc'd), or -1 after the refusal. The memfd holds n
 * records and at most n messages of UPROBE_AGENT_MSG_MAX bytes.
 */
static int read_statuses(struct tracer *t, const struct agent_conn *a,
			 const struct uprobe_agent_hdr *h, int fd, struct statuses *ss)
{
	size_t len = (size_t)t->n * sizeof(struct uprobe_agent_status), size = 0;
	size_t max = len + (size_t)t->n * UPROBE_AGENT_MSG_MAX;
	int seals = fd >= 0 ? fcntl(fd, F_GET_SEALS) : -1;
	const char *bad = NULL;
	char fault[128] = "", *buf = NULL;
	struct stat sb;

	if (h->n != (uint32_t)t->n)
		snprintf(fault, sizeof(fault), "%u statuses for %d probes", h->n, t->n);
	else if (seals < 0 || (seals & STATUS_SEALS) != STATUS_SEALS || fstat(fd, &sb) ||
		 sb.st_size < 0 || (size_t)sb.st_size < len || (size_t)sb.st_size > max)
		snprintf(fault, sizeof(fault), "no sealed memfd of %zu to %zu bytes of statuses",
			 len, max);
	else if (!(buf = malloc((size = (size_t)sb.st_size) + 1)) ||
		 pread(fd, buf, size, 0) != (ssize_t)size)
		snprintf(fault, sizeof(fault), "cannot read its statuses");
	*ss = (struct statuses){ (struct uprobe_agent_status *)buf, buf + len, size - len };
	for (uint32_t i = 0; !fault[0] && i < h->n; i++)
		if ((bad = status_fault(&ss->st[i], ss->text, ss->text_len)))
			snprintf(fault, sizeof(fault), "status %u: %s", i + 1, bad);
	if (!fault[0])
		return 0;
	tracer_refuse(t, REF_READY, a->pid, "%s", fault);
	free(buf);
	ss->st = NULL;
	return -1;
}

/*
 * A refusal in the command's own image is fatal unless the probed file is
 * simply not mapped there (ENXIO, ENOENT): a program it execs may map it. A
 * running process (-p) has what it has: every refusal is fatal, but for a
 * return probe that would need the hijack where the agent takes the return
 * sites only (UPROBE_AGENT_SITE_ONLY_WHY): said, by name, and the others trace
 * (all of them refused so: fatal).
 */
static void note_statuses(struct tracer *t, const struct agent_conn *a, const struct statuses *ss)
{
	const struct uprobe_agent_status *st = ss->st;
	char loc[PATH_MAX + 160], in[96] = "", comm[48];
	const char *why;
	int site_only = 0;

	if (t->pid)
		snprintf(in, sizeof(in), " in PID %d%s", t->pid, tracer_comm(t->pid, comm, sizeof(comm)));
	for (int i = 0; i < t->n; i++) {
		if (!st[i].err) {
			t->attached[i]++;
			snprintf(t->mode[i], sizeof(t->mode[i]), "%s", st[i].mode);
			if (st[i].msg_len) { /* a return probe: how its returns are caught */
				free(t->ret[i]);
				t->ret[i] = status_msg(ss, i);
			}
			continue;
		}
		free(t->why[i]);
		t->why[i] = status_msg(ss, i); /* the agent's words, printable */
		if (t->pid && t->why[i]) /* the agent speaks of "this process" */
			t->why[i] = replace_this_process(t->why[i], t->pid);
		why = t->why[i] ? t->why[i] : st[i].msg_len ? "out of memory" : "";
		if (t->pid && strstr(why, UPROBE_AGENT_SITE_ONLY_WHY)) {
			fprintf(stderr, "uprobe: warning: not attached: %s/%s (%s)%s: %s\n",
				t->specs[i]->group, t->specs[i]->event,
				tracer_location(t->specs[i], loc, sizeof(loc)), in, why);
			site_only++;
			continue;
		}
		if (t->pid || (a->first && st[i].err != -ENXIO && st[i].err != -ENOENT)) {
			char head[sizeof(loc) + 256];

			snprintf(head, sizeof(head), "cannot attach %s/%s (%s)%s",
				 t->specs[i]->group, t->specs[i]->event,
				 tracer_location(t->specs[i], loc, sizeof(loc)), in);
			cli_probe_error(CLI_EXIT_FAIL, t->specs[i]->event, head, "%s", why);
			t->fatal = 1;
		}
	}
	if (site_only && site_only == t->n) {
		cli_error(CLI_EXIT_FAIL, "-p %d: no probe attached (return probes in a process that "
			  "maps libstdc++ take the return sites only)", t->pid);
		t->fatal = 1;
	}
}

/* ---- the images --------------------------------------------------------------------- */

static void agent_end(struct tracer *t, struct agent_conn *a)
{
	if (a->sock >= 0) {
		close(a->sock);
		t->live--;
	}
	a->sock = -1;
	a->state = AGENT_ENDED;
}

static struct agent_conn *agent_new(struct tracer *t, int sock, pid_t pid)
{
	struct agent_conn *a;

	if (t->n_agents == t->agents_room) {
		int room = t->agents_room ? 2 * t->agents_room : 16;

		a = realloc(t->agents, (size_t)room * sizeof(*a));
		if (!a)
			return NULL;
		t->agents = a;
		t->agents_room = room;
	}
	a = &t->agents[t->n_agents++];
	*a = (struct agent_conn){ .sock = sock, .pid = pid, .first = !t->accepted++ };
	t->live++;
	return a;
}

/*
 * READY: statuses checked, rings taken (trace_consumer_new() refuses a memfd
 * the agent could still shrink), then statuses noted and GO or ABORT. A
 * refused image has its socket closed: its agent detaches and runs on untraced.
 */
static void on_ready(struct tracer *t, struct agent_conn *a, const struct uprobe_agent_hdr *h,
		     struct msg_in *in)
{
	struct uprobe_agent_hdr go = { UPROBE_AGENT_GO, 0 };
	struct statuses ss;
	bool ok = !read_statuses(t, a, h, in->fds[0], &ss);

	if (ok && in->fds[1] >= 0 && !(a->cons = trace_consumer_new(in->fds[1])))
		tracer_refuse(t, REF_RINGS, a->pid, "%s",
			      *uprobe_last_error() ? uprobe_last_error() : strerror(errno));
	if (a->cons && t->blocking) /* --blocking: set before GO, before any event */
		trace_consumer_set_blocking(a->cons, 1);
	if (a->cons && t->lang_record) /* uprobe -e: print/clear/zero wait to be performed */
		trace_consumer_set_sync(a->cons, 1);
	msg_close(in);
	if (!ok || (in->n_fds > 1 && !a->cons)) {
		free(ss.st);
		agent_end(t, a);
		return;
	}
	note_statuses(t, a, &ss);
	free(ss.st);
	if (t->fatal)
		go.type = UPROBE_AGENT_ABORT;
	send(a->sock, &go, sizeof(go), MSG_NOSIGNAL);
	a->state = AGENT_TRACING;
	t->images++;
	t->child_traced |= a->pid == t->child && !t->pid;
}

/* One message (or the end) from an image's socket; launch mode. */
static void agent_readable(struct tracer *t, struct agent_conn *a)
{
	struct uprobe_agent_hdr h;
	struct msg_in in;
	ssize_t got = recv_msg(a->sock, &h, sizeof(h), &in, MSG_DONTWAIT);

	if (got < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (got == sizeof(h) && !(in.flags & (MSG_TRUNC | MSG_CTRUNC)) &&
	    a->state == AGENT_SERVING && h.type == UPROBE_AGENT_READY) {
		on_ready(t, a, &h, &in);
		return;
	}
	if (got == sizeof(h) && !in.n_fds && a->state == AGENT_SERVING &&
	    h.type == UPROBE_AGENT_PROGRESS)
		return;
	msg_close(&in);
	if (got > 0)
		tracer_refuse(t, REF_PROTOCOL, a->pid, "message type %u, %zd bytes, %s",
			      got >= 4 ? h.type : 0, got,
			      a->state == AGENT_SERVING ? "READY awaited" : "after GO");
	agent_end(t, a); /* ended (0), or out of turn: the agent detaches on its own */
}

/* Rings of ended images beyond MAX_KEPT_RINGS: the oldest drained a last time and let go. */
static void release_ended(struct tracer *t)
{
	int kept = 0, i, j;

	for (i = 0; i < t->n_agents; i++)
		kept += t->agents[i].cons != NULL;
	if (kept > MAX_KEPT_RINGS)
		tracer_drain(t);
	for (i = 0; i < t->n_agents && kept > MAX_KEPT_RINGS; i++) {
		struct trace_ring_stats st = { .sz = sizeof(st) };

		if (t->agents[i].state != AGENT_ENDED || !t->agents[i].cons)
			continue;
		if (!trace_consumer_stats(t->agents[i].cons, &st))
			t->lost += st.lost; /* the summary adds the rings still kept */
		trace_consumer_free(t->agents[i].cons);
		t->agents[i].cons = NULL;
		kept--;
	}
	for (i = j = 0; i < t->n_agents; i++) /* entries with nothing left go */
		if (t->agents[i].sock >= 0 || t->agents[i].cons)
			t->agents[j++] = t->agents[i];
	t->n_agents = j;
}

void tracer_service_agents(struct tracer *t)
{
	static struct pollfd p[MAX_LIVE_AGENTS];
	static int idx[MAX_LIVE_AGENTS];
	int n = 0;

	if (t->pid)
		return; /* attach mode: served at once; its end is tracer_reap()'s */
	for (int i = 0; i < t->n_agents && n < MAX_LIVE_AGENTS; i++)
		if (t->agents[i].sock >= 0) {
			p[n] = (struct pollfd){ .fd = t->agents[i].sock, .events = POLLIN };
			idx[n++] = i;
		}
	if (n && poll(p, (nfds_t)n, 0) > 0)
		for (int k = 0; k < n; k++)
			if (p[k].revents)
				agent_readable(t, &t->agents[idx[k]]);
	release_ended(t);
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
	struct agent_conn *a = agent_new(t, sock, pid);
	struct uprobe_agent_hdr h;
	struct msg_in in;
	ssize_t got;

	if (!a || send_specs(t, sock)) {
		if (a)
			agent_end(t, a);
		else
			close(sock);
		return -1;
	}
	/* A process attached to (-p) may call exit() before READY is out; 10 s without progress. */
	while ((got = recv_wait(t, sock, &h, sizeof(h), &in, 10000)) == sizeof(h) &&
	       (h.type == UPROBE_AGENT_PROGRESS || tracer_exiting(t, &h)))
		msg_close(&in);
	if (got == sizeof(h) && h.type == UPROBE_AGENT_READY)
		on_ready(t, a, &h, &in);
	else
		msg_close(&in);
	if (a->state != AGENT_TRACING) {
		agent_end(t, a);
		return -1;
	}
	return 0;
}

/* The control socket's every writer is gone (a zero-length message is no end). */
static bool writers_gone(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN | POLLRDHUP };

	return poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLRDHUP));
}

int tracer_accept_agent(struct tracer *t)
{
	struct uprobe_agent_hdr h;
	struct msg_in in;
	ssize_t got = recv_msg(t->ctl, &h, sizeof(h), &in, MSG_DONTWAIT);
	struct agent_conn *a;

	if (got == 0 && writers_gone(t->ctl))
		return -1;
	if (got < 0)
		return 0;
	if (!in.has_cred || got != sizeof(h) || (in.flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (h.type != UPROBE_AGENT_HELLO && h.type != UPROBE_AGENT_HELLO_SECURE)) {
		msg_close(&in);
		tracer_refuse(t, REF_MESSAGE, in.cred.pid, "%zd bytes%s, not a HELLO", got,
			      in.flags & (MSG_TRUNC | MSG_CTRUNC) ? " (truncated)" : "");
		return 0;
	}
	if (in.fds[1] >= 0)
		close(in.fds[1]);
	if (!tracer_gate_hello(t, &h, &in.cred, in.fds[0], in.n_fds))
		return 0;
	a = agent_new(t, in.fds[0], in.cred.pid);
	if (!a)
		close(in.fds[0]);
	else if (send_specs(t, a->sock))
		agent_end(t, a); /* that image runs untraced */
	return 0;
}

/* Wait for STOPPED (or the end) from every agent told to STOP, until end_ms. */
static void collect_stopped(struct tracer *t, uint64_t end_ms)
{
	static struct pollfd p[MAX_LIVE_AGENTS];
	static int idx[MAX_LIVE_AGENTS];
	uint64_t now;
	int n;

	while ((now = now_ms()) < end_ms) {
		n = 0;
		for (int i = 0; i < t->n_agents && n < MAX_LIVE_AGENTS; i++)
			if (t->agents[i].sock >= 0) {
				p[n] = (struct pollfd){ .fd = t->agents[i].sock, .events = POLLIN };
				idx[n++] = i;
			}
		if (!n || poll(p, (nfds_t)n, (int)(end_ms - now)) <= 0)
			break;
		for (int k = 0; k < n; k++) {
			struct agent_conn *a = &t->agents[idx[k]];
			struct uprobe_agent_hdr h;
			struct msg_in in;
			ssize_t got;

			if (!p[k].revents)
				continue;
			got = recv_msg(a->sock, &h, sizeof(h), &in, MSG_DONTWAIT);
			msg_close(&in);
			if (got < 0 && errno == EAGAIN)
				continue;
			if (got != sizeof(h) || !tracer_exiting(t, &h))
				agent_end(t, a); /* STOPPED, the end, or anything else */
		}
	}
}

void tracer_stop_agents(struct tracer *t)
{
	struct uprobe_agent_hdr h = { UPROBE_AGENT_STOP, 0 };

	for (int i = 0; i < t->n_agents; i++) {
		struct agent_conn *a = &t->agents[i];

		if (a->sock >= 0 && a->state == AGENT_SERVING)
			t->refused[REF_STOPPING]++; /* not served yet: it runs untraced */
		if (a->sock >= 0 && (a->state != AGENT_TRACING ||
				     send(a->sock, &h, sizeof(h), MSG_NOSIGNAL) != sizeof(h)))
			agent_end(t, a);
	}
	/* Every agent detaches at once; a second, plus time for many probes. */
	collect_stopped(t, now_ms() + 1000 + (uint64_t)t->n / 4);
	for (int i = 0; i < t->n_agents; i++)
		agent_end(t, &t->agents[i]);
	/* Read once: any image may write there. */
	for (int i = 0; t->shared_counts && i < t->n; i++)
		t->skipped[i] = __atomic_load_n(&t->shared_counts[i].skipped, __ATOMIC_RELAXED);
	if (t->ctl >= 0) /* a later HELLO fails at once: its image runs untraced, not blocked */
		close(t->ctl);
	t->ctl = -1;
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

/*
 * Launch mode under qemu-user (UPROBE_QEMU=/usr/bin/qemu-aarch64, docs/aarch64.md):
 * the host cannot exec COMMAND itself (no binfmt_misc), so that qemu runs it,
 * the preload given to its loader only (QEMU_SET_ENV: the host's loader would
 * refuse an arm64 library in qemu's own LD_PRELOAD). Spawned (vfork and exec),
 * not forked: qemu-user 7.2's fork hangs in the child here.
 */
static int launch_qemu(struct tracer *t, char **cmd, const char *qemu, const char *preload,
		       int pair[2])
{
	extern char **environ;
	posix_spawn_file_actions_t fa;
	size_t n = 0, ne = 0;
	char **argv, **envp, *set_env, *fd_env;
	int err;

	while (cmd[n])
		n++;
	while (environ[ne])
		ne++;
	argv = calloc(n + 2, sizeof(*argv));
	envp = calloc(ne + 3, sizeof(*envp));
	if (!argv || !envp || asprintf(&set_env, "QEMU_SET_ENV=LD_PRELOAD=%s", preload) < 0 ||
	    asprintf(&fd_env, "%s=%d", UPROBE_AGENT_ENV_FD, pair[1]) < 0)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	argv[0] = (char *)qemu;
	memcpy(argv + 1, cmd, n * sizeof(*cmd));
	ne = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "QEMU_SET_ENV=", 13) && strncmp(*e, UPROBE_AGENT_ENV_FD "=",
								strlen(UPROBE_AGENT_ENV_FD) + 1))
			envp[ne++] = *e;
	envp[ne++] = set_env;
	envp[ne++] = fd_env;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addclose(&fa, pair[0]);
	err = posix_spawnp(&t->child, qemu, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	free(argv);
	free(envp);
	free(set_env);
	free(fd_env);
	close(pair[1]);
	if (err)
		return cli_error(CLI_EXIT_FAIL, "cannot run '%s' (UPROBE_QEMU): %s", qemu,
				 strerror(err));
	t->child_pidfd = (int)syscall(SYS_pidfd_open, t->child, 0);
	return 0;
}

/*
 * The command's environment: this process's, LD_PRELOAD with libuprobes
 * first (after the ASan runtime, if any) and the agent's descriptor set.
 * Made before the command is spawned: the child of vfork() may not allocate.
 */
static char **launch_env(const char *lib, int fd)
{
	extern char **environ;
	char asan[PATH_MAX], **envp, *preload, *fd_env;
	const char *old = getenv("LD_PRELOAD");
	size_t n = 0, fd_len = strlen(UPROBE_AGENT_ENV_FD "=");

	asan_runtime(asan, sizeof(asan));
	while (environ[n])
		n++;
	envp = calloc(n + 3, sizeof(*envp));
	if (!envp)
		return NULL;
	if (asprintf(&preload, "LD_PRELOAD=%s%s%s%s", asan, lib, old && *old ? ":" : "",
		     old ? old : "") < 0) {
		free(envp);
		return NULL;
	}
	if (asprintf(&fd_env, "%s=%d", UPROBE_AGENT_ENV_FD, fd) < 0) {
		free(preload);
		free(envp);
		return NULL;
	}
	n = 0;
	for (char **e = environ; *e; e++)
		if (strncmp(*e, "LD_PRELOAD=", 11) && strncmp(*e, fd_env, fd_len))
			envp[n++] = *e;
	envp[n++] = preload;
	envp[n++] = fd_env;
	return envp;
}

static void launch_env_free(char **envp)
{
	size_t n = 0;

	while (envp[n])
		n++;
	free(envp[n - 1]); /* the two strings made by launch_env(), last */
	free(envp[n - 2]);
	free(envp);
}

/*
 * COMMAND, spawned by vfork() and execvpe(): a fork() copied this process's
 * page tables for an exec to throw away, and every page this process wrote
 * afterwards took a copy-on-write fault (the loop, the rings, the summary).
 * On this VM a page fault costs 15-35 us, and a traced /bin/true's start-up is
 * mostly faults (docs/benchmarks.md). The child shares our memory until its
 * exec: it only closes our end of the socket and execs; if the exec fails it
 * leaves why in exec_errno (the memory is ours) and exits 127 or 126, and
 * this side says why, as a shell does.
 */
static pid_t launch_vfork(char **cmd, char **envp, int close_fd, volatile int *exec_errno)
{
	pid_t pid;

	*exec_errno = 0;
	pid = vfork();
	if (pid == 0) {
		close(close_fd);
		execvpe(cmd[0], cmd, envp);
		*exec_errno = errno;
		_exit(errno == ENOENT ? 127 : 126);
	}
	return pid;
}

int tracer_launch(struct tracer *t, char **cmd)
{
	char lib[PATH_MAX], **envp;
	/* launch mode under qemu-user (docs/aarch64.md): COMMAND run by this qemu */
	const char *qemu = getenv("UPROBE_QEMU");
	volatile int exec_errno = 0;
	int pair[2], on = 1;

	if (tracer_library_path(lib, sizeof(lib)))
		return cli_error(CLI_EXIT_FAIL, "cannot find libuprobes.so to preload");
	/* SO_PASSCRED before any process can send: every HELLO carries its sender's pid and ids. */
	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair) ||
	    setsockopt(pair[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof(on)))
		return cli_error(CLI_EXIT_FAIL, "socketpair: %s", strerror(errno));
	if (make_specs(t))
		return CLI_EXIT_FAIL;
	tracer_check_command(t, cmd[0]);
	t->ctl = pair[0];
	if (qemu && *qemu) {
		char *preload;

		if (asprintf(&preload, "%s", lib) < 0)
			return cli_error(CLI_EXIT_FAIL, "out of memory");
		int rc = launch_qemu(t, cmd, qemu, preload, pair);

		free(preload);
		return rc;
	}
	envp = launch_env(lib, pair[1]);
	if (!envp)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	t->child = launch_vfork(cmd, envp, pair[0], &exec_errno);
	launch_env_free(envp);
	if (t->child < 0)
		return cli_error(CLI_EXIT_FAIL, "fork: %s", strerror(errno));
	if (exec_errno)
		fprintf(stderr, "uprobe: cannot run '%s': %s\n", cmd[0], strerror(exec_errno));
	close(pair[1]);
	/* The loop waits on it: the command's end is seen at once, not at the next nap's end. */
	t->child_pidfd = (int)syscall(SYS_pidfd_open, t->child, 0);
	return 0;
}
