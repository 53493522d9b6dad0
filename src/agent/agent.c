/* SPDX-License-Identifier: MIT */
/*
 * The agent: the tracer's representative inside the traced process (see
 * uprobes_agent.h). It lives in libuprobes and does nothing unless UPROBE_AGENT_FD is
 * set. Its constructor attaches the tracer's probes before main runs; a
 * thread of its own then waits for the tracer to stop it, or to vanish, and
 * detaches everything. The program is never stopped or killed by it.
 *
 * A secure-execution image (setuid, setgid, file capabilities: AT_SECURE)
 * takes no orders from its caller's environment, as the loader ignores
 * LD_PRELOAD there; nor does an image whose credentials are not its tracer's.
 * Either only says that it is not traced (HELLO_SECURE), and carries no data.
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
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <link.h>
#include <sys/auxv.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uprobes_agent.h"
#include "uprobes_trace.h"
#include "agent/agent_lang.h"
#include "core/batch.h"
#include "core/retpatch.h"
#include "trace/map/map.h"
#include "util/fd.h"
#include "util/pool.h"

#define AGENT_CHECK_MS 100
#define COUNTS_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define STATUS_SEALS (COUNTS_SEALS | F_SEAL_WRITE)

struct agent {
	struct fd_kept sock; /* private channel to the tracer */
	int attach; /* attach mode: never exit the program, free everything at the end */
	int ready;  /* READY is out (or will never be): exit() may report */
	uint32_t n; /* probes (SPECS) */
	struct trace_session *session;
	struct uprobe_agent_count *counts; /* the tracer's counts memfd, mapped; or NULL */
	size_t counts_len;
	struct map_region *maps; /* SPECS's maps: the probes aggregate there; or NULL */
	struct uprobe_agent_aggs aggs;
	struct agent_lang *lang; /* or a bpftrace program's probes (agent_lang.c) */
	int maps_err; /* SPECS had maps that could not be used: every probe fails with it */
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

/* One message with up to two descriptors (-1: none). */
static int send_fds(int sock, const void *buf, size_t len, int fd0, int fd1)
{
	char cbuf[CMSG_SPACE(2 * sizeof(int))] = { 0 };
	int fds[2] = { fd0, fd1 }, nfd = (fd0 >= 0) + (fd1 >= 0);
	struct iovec iov = { (void *)buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1 };
	struct cmsghdr *c;

	if (nfd) {
		m.msg_control = cbuf;
		m.msg_controllen = CMSG_SPACE((size_t)nfd * sizeof(int));
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN((size_t)nfd * sizeof(int));
		memcpy(CMSG_DATA(c), fd0 >= 0 ? fds : fds + 1, (size_t)nfd * sizeof(int));
	}
	return sendmsg(sock, &m, MSG_NOSIGNAL) == (ssize_t)len ? 0 : -1;
}

/* To the tracer, if the channel is still ours: 0 or -1. */
static int agent_send(struct agent *a, const void *buf, size_t len, int fd0, int fd1)
{
	return fd_kept_valid(&a->sock) ? send_fds(a->sock.fd, buf, len, fd0, fd1) : -1;
}

/*
 * One message of exactly len bytes and two to four descriptors (fds[2],
 * fds[3] -1 when not sent), else -1 (all closed).
 */
static int recv_fds(int sock, void *buf, size_t len, int fds[4])
{
	char cbuf[CMSG_SPACE(5 * sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			    .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int got_fds = 0;
	ssize_t got;

	do
		got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
	while (got < 0 && errno == EINTR);
	fds[0] = fds[1] = fds[2] = fds[3] = -1;
	for (c = got >= 0 ? CMSG_FIRSTHDR(&m) : NULL; c; c = CMSG_NXTHDR(&m, c)) {
		size_t k = c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS
				   ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int)
				   : 0;

		for (size_t i = 0; i < k; i++, got_fds++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (got_fds < 4)
				fds[got_fds] = fd;
			else
				close(fd);
		}
	}
	if (got == (ssize_t)len && got_fds >= 2 && got_fds <= 4 &&
	    !(m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
		return 0;
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return -1;
}

/* A memfd sealed against at least seals, of at least len bytes. */
static int memfd_is_sealed(int fd, int seals, size_t len)
{
	struct stat st;
	int have = fcntl(fd, F_GET_SEALS);

	return have >= 0 && (have & seals) == seals && !fstat(fd, &st) && st.st_size >= 0 &&
	       (size_t)st.st_size >= len;
}

/* The probe lines, copied out of the tracer's memfd once: malloc'd, NUL-terminated. */
static char *read_text(int fd, uint64_t len)
{
	char *text = len <= UPROBE_AGENT_TEXT_MAX ? malloc(len + 1) : NULL;
	size_t done = 0;

	while (text && done < len) {
		ssize_t got = pread(fd, text + done, len - done, (off_t)done);

		if (got <= 0) {
			free(text);
			return NULL;
		}
		done += (size_t)got;
	}
	if (text)
		text[len] = 0;
	return text;
}

/* The tracer's counts, shared by every image: mapped only when it cannot shrink under a hit. */
static void map_counts(struct agent *a, int fd)
{
	size_t len = (size_t)a->n * sizeof(struct uprobe_agent_count);
	void *p;

	if (!memfd_is_sealed(fd, COUNTS_SEALS, len))
		return;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return;
	a->counts = p;
	a->counts_len = len;
}

/*
 * A probe's status while the probes go in: its message malloc'd, of any
 * length up to UPROBE_AGENT_MSG_MAX - 1 (NULL: none, or no memory for it).
 */
struct agent_status {
	int32_t err;
	char mode[16];
	char *msg;
};

/* s's message, replacing any: cut to UPROBE_AGENT_MSG_MAX - 1 bytes. */
static void __attribute__((format(printf, 2, 3))) status_say(struct agent_status *s,
							     const char *fmt, ...)
{
	va_list ap;
	char *m;

	va_start(ap, fmt);
	if (vasprintf(&m, fmt, ap) < 0)
		m = NULL;
	va_end(ap);
	if (m && strlen(m) >= UPROBE_AGENT_MSG_MAX)
		m[UPROBE_AGENT_MSG_MAX - 1] = 0;
	free(s->msg);
	s->msg = m;
}

static void statuses_free(struct agent_status *st, uint32_t n)
{
	for (uint32_t i = 0; st && i < n; i++)
		free(st[i].msg);
	pool_bulk_free(st, n * sizeof(*st));
}

/* len bytes of buf at off of fd: 0 or -1. */
static int pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	for (size_t done = 0; done < len;) {
		ssize_t put = pwrite(fd, (const char *)buf + done, len - done, off + (off_t)done);

		if (put <= 0)
			return -1;
		done += (size_t)put;
	}
	return 0;
}

/*
 * The statuses in a sealed memfd (READY's first descriptor), or -1: the n
 * records (uprobes_agent.h), then the messages one after another, each where
 * its record's msg_off says. Two writes, whatever n (thousands of probes).
 */
static int status_memfd(const struct agent_status *st, uint32_t n)
{
	size_t len = (size_t)n * sizeof(struct uprobe_agent_status), text_len = 0;
	struct uprobe_agent_status *rec = calloc(n ? n : 1, sizeof(*rec));
	int fd = -1;
	char *text;

	for (uint32_t i = 0; rec && i < n; i++) {
		rec[i].err = st[i].err;
		memcpy(rec[i].mode, st[i].mode, sizeof(rec[i].mode));
		rec[i].msg_off = (uint32_t)text_len;
		rec[i].msg_len = st[i].msg ? (uint32_t)strlen(st[i].msg) : 0;
		text_len += rec[i].msg_len;
	}
	text = rec ? malloc(text_len ? text_len : 1) : NULL;
	for (uint32_t i = 0; text && i < n; i++)
		if (rec[i].msg_len)
			memcpy(text + rec[i].msg_off, st[i].msg, rec[i].msg_len);
	if (text)
		fd = memfd_create("uprobes-status", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd >= 0 && (pwrite_all(fd, rec, len, 0) || pwrite_all(fd, text, text_len, (off_t)len) ||
			fcntl(fd, F_ADD_SEALS, STATUS_SEALS))) {
		close(fd);
		fd = -1;
	}
	free(text);
	free(rec);
	return fd;
}

/*
 * The probe's mode, and for a return probe how its returns are caught
 * ("hijack; return sites possible: 2 return sites: 2 ret" or "hijack: WHY"),
 * in the status's message (empty on success otherwise).
 */
static void mode_of(const struct trace_event *ev, struct agent_status *s)
{
	const struct uprobe *p = trace_event_probe(ev);
	enum uprobe_mode mode = core_probe_mode(p);
	const char *why = "";
	bool site_ok = false;
	/* an entry event's probe catches returns when a return event shares it (TRACE_BATCH_PAIR) */
	enum uprobe_ret_path path = trace_event_is_return(ev) ? core_probe_ret_path(p, &site_ok, &why)
							      : UPROBE_RET_NONE;

	snprintf(s->mode, sizeof(s->mode), "%s", uprobe_mode_name(mode));
	if (mode != UPROBE_MODE_NONE && path != UPROBE_RET_NONE)
		status_say(s, "%s%s%s", uprobe_ret_path_name(path),
			   site_ok && path == UPROBE_RET_HIJACK ? "; return sites possible: " : ": ",
			 why);
}

/* The reason alone, without the "GROUP/EVENT: PATH:LOCATION: " the tracer knows already. */
static const char *reason(const struct trace_spec *spec, const char *msg)
{
	size_t g = strlen(spec->group), e = strlen(spec->event), p = strlen(spec->path);
	size_t s = spec->symbol ? strlen(spec->symbol) : 0;
	const char *colon;

	if (!strncmp(msg, spec->group, g) && msg[g] == '/' && !strncmp(msg + g + 1, spec->event, e) &&
	    !strncmp(msg + g + 1 + e, ": ", 2))
		msg += g + e + 3;
	if (!strncmp(msg, spec->path, p) && msg[p] == ':' && strstr(msg + p, ": "))
		return strstr(msg + p, ": ") + 2;
	/* a short name's file by its path ("/usr/lib/.../libc.so.6:f: " for "libc:f") */
	colon = strstr(msg, ": ");
	if (s && colon && msg[0] == '/' && (size_t)(colon - msg) > s + 1 &&
	    colon[-(long)s - 1] == ':' && !strncmp(colon - s, spec->symbol, s) &&
	    !memchr(msg, ' ', (size_t)(colon - msg)))
		msg = colon + 2;
	return msg;
}

/* SPECS's maps, and what to aggregate there (its blob); -errno when unusable. */
static int attach_maps(struct agent *a, int fd)
{
	const struct uprobe_agent_aggs *g;
	size_t len;
	int n;

	a->maps = map_region_attach(fd);
	if (!a->maps)
		return -errno;
	g = map_region_blob(a->maps, &len);
	if (g && len >= sizeof(struct uprobe_agent_lang) && g->magic == UPROBE_AGENT_LANG_MAGIC) {
		a->lang = agent_lang_new(a->maps, g, len, a->n);
		if (!a->lang)
			return -errno;
		/* its `@ = count()` maps' words (lang_map_info.count_stub), as below */
		map_region_count_claim(a->maps);
		return 0;
	}
	if (!g || len != sizeof(*g) || g->magic != UPROBE_AGENT_AGGS_MAGIC)
		return -EINVAL;
	a->aggs = *g;
	a->aggs.hist_arg[sizeof(a->aggs.hist_arg) - 1] = 0;
	a->aggs.filter_arg[sizeof(a->aggs.filter_arg) - 1] = 0;
	n = map_count(a->maps);
	if (a->aggs.count_map >= n || a->aggs.filtered_map >= n || a->aggs.hist_map >= n)
		return -EINVAL;
	/*
	 * The threads' count bases into this region's shards (one region per
	 * process, ever: a second tracer's, -EBUSY, counts without the stub).
	 */
	map_region_count_claim(a->maps);
	return 0;
}

static int arg_index(const struct trace_spec *spec, const char *name)
{
	for (int k = 0; *name && k < spec->n_args; k++)
		if (!strcmp(spec->args[k].name, name))
			return k;
	return -1;
}

/* What probe i aggregates: SPECS's aggregations, its own fetch-args looked up by name. */
static void agg_of(const struct agent *a, const struct trace_spec *spec, uint32_t i,
		   struct trace_event_agg *g)
{
	*g = (struct trace_event_agg){
		.maps = (struct trace_maps *)a->maps, .count_map = a->aggs.count_map,
		.filtered_map = a->aggs.filtered_map, .hist_map = a->aggs.hist_map,
		.hist_arg = strcmp(a->aggs.hist_arg, "latency") ? arg_index(spec, a->aggs.hist_arg)
			    : spec->kind == TRACE_RETPROBE    ? TRACE_AGG_LATENCY
							      : -1,
		.filter_arg = arg_index(spec, a->aggs.filter_arg),
		.filter_op = (enum trace_filter_op)a->aggs.filter_op,
		.filter_value = a->aggs.filter_value, .key = i,
		.latency_mult = a->aggs.latency_mult,
	};
}

/*
 * What attach_all() holds for every probe until they are in: its line, its
 * options. The parsed specs (28 KiB each) are made one at a time, as
 * trace_event_attach_many() asks for them (spec_get), and freed once their
 * event is prepared.
 */
struct agent_batch {
	struct agent *a;
	struct agent_status *st;
	char **lines;
	struct trace_event_opts *opts;
	struct trace_event_agg *aggs;
	struct trace_event **events;
};

/* Probe i's spec and options, or NULL with its failure in its status (left out). */
static const struct trace_spec *spec_get(uint32_t i, void *ctx)
{
	struct agent_batch *b = ctx;
	struct agent *a = b->a;
	struct agent_status *s = &b->st[i];
	struct uprobe_agent_hdr h = { UPROBE_AGENT_PROGRESS, i };
	struct trace_error err;
	struct trace_spec *spec;
	char why[UPROBE_AGENT_MSG_MAX];

	if (i && !(i % UPROBE_AGENT_PROGRESS_EVERY)) /* thousands take a while */
		agent_send(a, &h, sizeof(h), -1, -1);
	if (!b->lines[i]) {
		s->err = -EINVAL;
		status_say(s, "no probe line %u in SPECS", i + 1);
		return NULL;
	}
	spec = trace_spec_parse(b->lines[i], &err);
	b->opts[i] = (struct trace_event_opts){
		.sz = sizeof(b->opts[i]), .skipped_counter = a->counts ? &a->counts[i].skipped : NULL,
	};
	if (!spec || a->maps_err) {
		s->err = a->maps_err ? a->maps_err : -EINVAL;
		if (a->maps_err)
			status_say(s, "maps unusable: %s", strerror(-a->maps_err));
		else
			status_say(s, "column %d: %s", err.column, err.msg);
		trace_spec_free(spec);
		return NULL;
	}
	if (a->lang &&
	    agent_lang_agg(a->lang, a->session, i, spec, &b->aggs[i], why, sizeof(why))) {
		s->err = -EINVAL;
		status_say(s, "%s", why);
		trace_spec_free(spec);
		return NULL;
	}
	if (a->maps && !a->lang)
		agg_of(a, spec, i, &b->aggs[i]);
	if (a->maps)
		b->opts[i].agg = &b->aggs[i];
	return spec;
}

static void spec_put(uint32_t i, const struct trace_spec *spec, void *ctx)
{
	(void)i, (void)ctx;
	trace_spec_free((struct trace_spec *)spec);
}

/*
 * trace_event_attach_many's report of probe i failing: the reason alone (its
 * line parsed again to know what to leave out).
 */
static void attach_failed(uint32_t i, int err, const char *msg, void *ctx)
{
	struct agent_batch *b = ctx;
	struct agent_status *s = &b->st[i];
	struct trace_error perr;
	struct trace_spec *spec = b->lines[i] ? trace_spec_parse(b->lines[i], &perr) : NULL;

	s->err = err < 0 && err > -4096 ? err : -EINVAL;
	status_say(s, "%s", spec ? reason(spec, msg) : msg);
	trace_spec_free(spec);
}

/* Every probe in at once. */
static void attach_batch(struct agent_batch *b, char *text)
{
	struct trace_event_batch_opts o = {
		.sz = sizeof(o), .opts = b->opts, .on_error = attach_failed, .ctx = b,
		.spec_get = spec_get, .spec_put = spec_put, .flags = TRACE_BATCH_PAIR,
	};
	struct agent *a = b->a;
	char *save = NULL, *line = strtok_r(text, "\n", &save);
	int ret;

	for (uint32_t i = 0; i < a->n; i++, line = strtok_r(NULL, "\n", &save))
		b->lines[i] = line;
	ret = trace_event_attach_many(a->session, NULL, a->n, b->events, &o);
	for (uint32_t i = 0; ret < 0 && i < a->n; i++)
		if (!b->st[i].err) {
			b->st[i].err = ret;
			status_say(&b->st[i], "%s", uprobe_last_error());
		}
	for (uint32_t i = 0; ret >= 0 && i < a->n; i++)
		if (b->events[i])
			mode_of(b->events[i], &b->st[i]);
}

/*
 * Attach what can be attached here; one status per probe (n of them, whatever
 * the text holds). The specs are not kept: each event has its plan.
 */
static void attach_all(struct agent *a, char *text, struct agent_status *st)
{
	size_t n = a->n ? a->n : 1;
	/* pool_bulk_alloc: 10,000 probes' arrays are megabytes, made present at once */
	struct agent_batch b = {
		.a = a, .st = st,
		.lines = pool_bulk_alloc(n * sizeof(*b.lines)),
		.opts = pool_bulk_alloc(n * sizeof(*b.opts)),
		.aggs = pool_bulk_alloc(n * sizeof(*b.aggs)),
		.events = pool_bulk_alloc(n * sizeof(*b.events)),
	};

	if (b.lines && b.opts && b.aggs && b.events) {
		attach_batch(&b, text);
	} else {
		for (uint32_t i = 0; i < a->n; i++) {
			st[i].err = -ENOMEM;
			status_say(&st[i], "out of memory");
		}
	}
	pool_bulk_free(b.events, n * sizeof(*b.events));
	pool_bulk_free(b.aggs, n * sizeof(*b.aggs));
	pool_bulk_free(b.opts, n * sizeof(*b.opts));
	pool_bulk_free(b.lines, n * sizeof(*b.lines));
}

/* Every probe out at once, with one synchronisation. */
static void detach_all(struct agent *a)
{
	if (!a->session)
		return;
	trace_session_record(a->session, 0); /* every probe stops at once */
	trace_session_detach(a->session);
}

static void agent_free(struct agent *a)
{
	trace_session_free(a->session); /* detaches whatever is still attached */
	if (a->counts)
		munmap(a->counts, a->counts_len);
	map_region_free(a->maps); /* the probes are out: no handler uses it */
	agent_lang_free(a->lang);
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
	ssize_t got;

	core_quiet(true); /* the agent's thread: none of its calls is the program's */
	got = watch_recv(a, &h);

	set_live(NULL);
	detach_all(a);
	if (got == sizeof(h) && h.type == UPROBE_AGENT_STOP) {
		h = (struct uprobe_agent_hdr){ UPROBE_AGENT_STOPPED, 0 };
		agent_send(a, &h, sizeof(h), -1, -1);
	}
	if (a->attach)
		agent_free(a);
	else
		fd_kept_close(&a->sock);
	return NULL;
}

/* Attach the probes of SPECS and answer READY. 0, or -1 if the tracer is gone. */
static int attach_and_report(struct agent *a, char *text)
{
	struct agent_status *st = pool_bulk_alloc(a->n * sizeof(*st));
	struct uprobe_agent_hdr h = { UPROBE_AGENT_READY, a->n };
	/*
	 * Counted in the target (the tracer's aggregations, not -e): no probe
	 * writes a record (fetch_entry_handler), so one ring, not 8: each is three
	 * mappings and a control page written here, and as many mapped and read
	 * by the tracer, in every traced image.
	 */
	struct trace_session_opts so = { .sz = sizeof(so),
					 .n_rings = a->maps && !a->lang && !a->maps_err ? 1 : 0 };
	int fd, ret;

	if (!st)
		return -1;
	a->session = trace_session_new(&so);
	uprobe_batch_begin();
	if (a->session) {
		trace_session_record(a->session, 0); /* every probe starts at once */
		attach_all(a, text, st);
	} else {
		for (uint32_t i = 0; i < a->n; i++) {
			st[i].err = -ENOMEM;
			status_say(&st[i], "no trace session: %s", strerror(errno));
		}
	}
	/*
	 * The statuses' memfd before recording starts: its allocations are the
	 * agent's, which a probe on malloc must not count as the program's.
	 */
	fd = status_memfd(st, a->n);
	statuses_free(st, a->n);
	if (a->session)
		trace_session_record(a->session, 1);
	uprobe_batch_end();
	ret = fd < 0 ? -1
		     : agent_send(a, &h, sizeof(h), fd,
				  a->session ? trace_session_fd(a->session) : -1);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* SPECS in, READY out, then GO. 0 to trace on; -1 to run untraced. */
static int serve(struct agent *a)
{
	struct uprobe_agent_specs sp;
	struct uprobe_agent_hdr h;
	char *text = NULL;
	int fds[4], ret = -1;

	if (!fd_kept_valid(&a->sock) || recv_fds(a->sock.fd, &sp, sizeof(sp), fds))
		return -1;
	if (sp.h.type == UPROBE_AGENT_SPECS && sp.h.n && sp.h.n <= UPROBE_AGENT_MAX_SPECS) {
		a->n = sp.h.n;
		text = read_text(fds[0], sp.text_len);
		if (text)
			map_counts(a, fds[1]);
		if (text && fds[2] >= 0)
			a->maps_err = attach_maps(a, fds[2]);
		if (text && !a->maps_err && a->lang && fds[3] >= 0) /* the language's ustack */
			a->maps_err = agent_lang_set_stacks(a->lang, fds[3]);
	}
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (!text)
		return -1;
	ret = attach_and_report(a, text);
	free(text);
	set_ready(a);
	if (ret)
		return -1;
	if (!fd_kept_valid(&a->sock) || recv(a->sock.fd, &h, sizeof(h), 0) != sizeof(h))
		return -1; /* the tracer is gone: run untraced */
	if (h.type == UPROBE_AGENT_ABORT && !a->attach)
		_exit(126); /* before main: the tracer reported why */
	return h.type == UPROBE_AGENT_GO ? 0 : -1;
}

/*
 * Every signal but the synchronous ones the library owns: the program's
 * signals stay its own threads'; a breakpoint trap or a fault-safe read's
 * fault in the agent's threads (they call libc, which may be probed, and
 * patch text) must reach the library's handlers, and the kernel kills a
 * thread whose synchronous signal arrives blocked. Nor can the raw mask
 * count on the interposed pthread_sigmask: a library loaded by dlopen
 * (uprobe trace -p) binds to libc's.
 */
static void agent_thread_mask(sigset_t *set)
{
	sigfillset(set);
	sigdelset(set, SIGTRAP);
	sigdelset(set, SIGSEGV);
	sigdelset(set, SIGBUS);
}

/* The watcher thread, with the program's signals blocked (agent_thread_mask). */
static int start_watch(struct agent *a)
{
	sigset_t all, old;
	pthread_t th;
	int err;

	agent_thread_mask(&all);
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
	core_quiet(true); /* the program's thread, exiting: these calls are the agent's */
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += 1;
	pthread_mutex_lock(&live_lock);
	while (live && live->attach && !live->ready &&
	       !pthread_cond_timedwait(&live_ready, &live_lock, &until))
		;
	if (live && live->attach)
		agent_send(live, &h, sizeof(h), -1, -1);
	pthread_mutex_unlock(&live_lock);
	core_quiet(false);
}

static int find_libstdcxx(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	return info->dlpi_name && strstr(info->dlpi_name, "libstdc++.so") != NULL;
}

/*
 * Attach mode: libuprobes came in with dlopen, so its unwinder interposers
 * (core/retunwind.c) do not interpose. In a program that maps libstdc++ a C++
 * exception would unwind into the return trampoline: return probes take the
 * return sites only (nothing swaps a return address), and one that would
 * need the hijack is refused, with this reason.
 */
static void attach_ret_path(void)
{
	if (dl_iterate_phdr(find_libstdcxx, NULL))
		retpatch_force_site_only(UPROBE_AGENT_SITE_ONLY_WHY);
}

/* Attach mode: the agent's own thread serves the tracer from SPECS on. */
static void *attached(void *arg)
{
	struct agent *a = arg;

	core_quiet(true); /* the agent's thread: none of its calls is the program's */
	attach_ret_path();
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

	if (getauxval(AT_SECURE))
		return -EPERM; /* the tracer refuses these first; the agent does too */
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
	agent_thread_mask(&all);
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
 * The control socket UPROBE_AGENT_FD names, if it is one: a SOCK_SEQPACKET
 * AF_UNIX socket, never a descriptor the program opened for itself (a
 * program that closed it, daemonizing, may have put a file, a pipe or a
 * connection of its own at that number before it exec'd). *peer gets the
 * credentials of the process that made it (the tracer). -1 if none.
 */
static int control_socket(const char *env, struct ucred *peer)
{
	socklen_t len = sizeof(int);
	int type = 0, domain = 0;
	char *end;
	long fd;

	if (!env || !*env)
		return -1;
	fd = strtol(env, &end, 10);
	if (*end || fd < 0 || fd > 65535)
		return -1;
	if (getsockopt((int)fd, SOL_SOCKET, SO_TYPE, &type, &len) || type != SOCK_SEQPACKET ||
	    getsockopt((int)fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) || domain != AF_UNIX)
		return -1;
	len = sizeof(*peer);
	if (getsockopt((int)fd, SOL_SOCKET, SO_PEERCRED, peer, &len))
		return -1;
	return (int)fd;
}

/* The tracer (peer) is root, or has every uid and gid of this process: what ptrace asks. */
static int tracer_may_trace(const struct ucred *peer)
{
	uid_t ru, eu, su;
	gid_t rg, eg, sg;

	if (getresuid(&ru, &eu, &su) || getresgid(&rg, &eg, &sg))
		return 0;
	return peer->uid == 0 ||
	       (peer->uid == ru && peer->uid == eu && peer->uid == su && peer->gid == rg &&
		peer->gid == eg && peer->gid == sg);
}

/*
 * A secure-execution image, or one of other credentials than its tracer's,
 * is not traced. It says so (HELLO_SECURE: its pid, nothing else) only when
 * the socket's maker runs as its real user, who knows that pid already.
 */
static void say_untraced(int fd, const struct ucred *peer)
{
	struct uprobe_agent_hdr h = { UPROBE_AGENT_HELLO_SECURE, (uint32_t)getpid() };

	if (peer->uid == getuid())
		send(fd, &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT);
}

/*
 * Runs in every image that loads libuprobes; only with UPROBE_AGENT_FD set
 * (by the tracer) does it do anything. In a secure-execution image the
 * variable is the caller's word and is read only to say "not traced".
 */
__attribute__((constructor)) static void agent_init(void)
{
	static struct agent agent = { .sock = FD_KEPT_NONE };
	int secure = getauxval(AT_SECURE) != 0;
	struct uprobe_agent_hdr h = { UPROBE_AGENT_HELLO, (uint32_t)getpid() };
	struct ucred peer;
	int pair[2], fd;

	fd = control_socket(secure ? getenv(UPROBE_AGENT_ENV_FD)
				   : secure_getenv(UPROBE_AGENT_ENV_FD), &peer);
	if (fd < 0)
		return;
	if (secure || !tracer_may_trace(&peer)) {
		say_untraced(fd, &peer);
		return;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair))
		return;
	if (send_fds(fd, &h, sizeof(h), pair[1], -1)) {
		close(pair[0]);
		close(pair[1]);
		return; /* no tracer (any more): run untraced */
	}
	close(pair[1]);
	fd_keep(&agent.sock, pair[0]);
	set_live(&agent);
	core_quiet(true); /* the agent's calls are not the program's (its probes attach here) */
	if (serve(&agent) || start_watch(&agent)) {
		set_live(NULL);
		fd_kept_close(&agent.sock);
		trace_session_free(agent.session); /* detaches whatever was attached */
		agent.session = NULL;
	}
	core_quiet(false);
}
