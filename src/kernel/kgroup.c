// SPDX-License-Identifier: MIT
/*
 * tracefs life cycle of the kernel backend: the tracer's own group
 * ("uprobes_<pid>") in dynamic_events, its events created one line each,
 * their formats read with libtraceevent, and removal of the whole group
 * ("-:GROUP/") at the end.
 *
 * The guard: a process forked at the start, in a session of its own, holding
 * only the read end of a pipe whose write end only the tracer holds. When the tracer ends in any way
 * (SIGKILL included) the kernel closes that end, the guard reads EOF and
 * removes the group (retrying while the tracer's perf events, closed by the
 * same exit, still hold it busy), then exits. A guard killed with the tracer
 * (a SIGKILL of the whole process group) leaves the group to the next start,
 * which removes every uprobes_<pid> group whose pid is gone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kernel/kernel.h"
#include "kernel/klibs.h"
#include "trace/spec/spec.h"
#include "util/log.h"

static int tracefs_path(const struct trace_kernel *k, char *out, size_t len, const char *rel)
{
	int n = snprintf(out, len, "%s/%s", k->tracefs, rel);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* The kernel's last complaint (tracing/error_log), for a write it refused. */
static void kernel_complaint(const struct trace_kernel *k, char *out, size_t len)
{
	char path[PATH_MAX], buf[4096], *last = NULL, *p;
	ssize_t n = -1;
	int fd;

	out[0] = 0;
	if (tracefs_path(k, path, sizeof(path), "error_log"))
		return;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n <= 0)
		return;
	buf[n] = 0;
	/* Entries: "[time] trace_uprobe: error: WHY\n  Command: LINE\n  ^\n". */
	for (p = strstr(buf, "error: "); p; p = strstr(p + 1, "error: "))
		last = p + 7;
	if (last)
		snprintf(out, len, " (kernel: %.*s)", (int)strcspn(last, "\n"), last);
}

static int write_line(const struct trace_kernel *k, const char *line)
{
	char path[PATH_MAX];
	int fd, ret = 0;

	if (tracefs_path(k, path, sizeof(path), "dynamic_events"))
		return -ENAMETOOLONG;
	fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, line, strlen(line)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

/* Guard process: wait for the tracer's end, then remove its group. Async-signal-safe only. */
static __attribute__((noreturn)) void guard_main(int rd, const char *events, const char *cmd)
{
	struct timespec nap = { 0, 20 * 1000 * 1000 };
	char c;
	int fd;

	/*
	 * A session of its own: the terminal's Ctrl-C and a kill of the tracer's
	 * process group are the tracer's. (No sigaction here: libuprobes
	 * interposes it, and after fork only async-signal-safe calls are safe.)
	 */
	setsid();
	while (read(rd, &c, 1) < 0 && errno == EINTR)
		;
	/* The tracer is gone: its perf events may still be closing (EBUSY) for a moment. */
	for (int i = 0; i < 30000; i++) { /* 20 ms apart: the kernel takes ~50 ms a probe */
		fd = open(events, O_WRONLY | O_APPEND | O_CLOEXEC);
		if (fd < 0)
			break;
		if (write(fd, cmd, strlen(cmd)) >= 0 || errno == ENOENT) {
			close(fd);
			break;
		}
		close(fd);
		nanosleep(&nap, NULL);
	}
	_exit(0);
}

static int guard_start(struct trace_kernel *k)
{
	char events[PATH_MAX], cmd[96];
	int p[2];
	pid_t pid;

	if (tracefs_path(k, events, sizeof(events), "dynamic_events"))
		return -ENAMETOOLONG;
	snprintf(cmd, sizeof(cmd), "-:%s/", k->group);
	if (pipe2(p, O_CLOEXEC))
		return log_error(errno, "pipe: %s", strerror(errno));
	pid = fork();
	if (pid < 0) {
		close(p[0]);
		close(p[1]);
		return log_error(errno, "fork (the guard): %s", strerror(errno));
	}
	if (pid == 0) {
		/* Only the read end stays: another holder of the write end would keep it alive. */
		if (dup2(p[0], 3) == 3)
			syscall(SYS_close_range, 4, ~0u, 0);
		guard_main(3, events, cmd);
	}
	close(p[0]);
	k->guard_fd = p[1];
	k->guard_pid = pid;
	return 0;
}

static bool tracer_gone(const char *system)
{
	const char *p = system + strlen(KERNEL_GROUP_PREFIX);
	char *end;
	long pid;

	if (strncmp(system, KERNEL_GROUP_PREFIX, strlen(KERNEL_GROUP_PREFIX)))
		return false;
	pid = strtol(p, &end, 10);
	if (end == p || *end || pid <= 0 || pid > INT32_MAX)
		return false;
	return kill((pid_t)pid, 0) && errno == ESRCH;
}

int trace_kernel_remove_stale(void)
{
	struct tracefs_dynevent **all;
	int n = 0, err;
	const struct klibs *kl = klibs_get(&err);

	if (!kl)
		return err;
	all = kl->dynevent_get_all(TRACEFS_DYNEVENT_UPROBE | TRACEFS_DYNEVENT_URETPROBE, NULL);
	for (int i = 0; all && all[i]; i++) {
		char *system = NULL, *event = NULL;

		kl->dynevent_info(all[i], &system, &event, NULL, NULL, NULL);
		if (system && tracer_gone(system) && !kl->dynevent_destroy(all[i], true))
			n++;
		free(system);
		free(event);
	}
	kl->dynevent_list_free(all);
	return n;
}

static int check_tracefs(struct trace_kernel *k)
{
	int err;
	const struct klibs *kl = klibs_get(&err);
	const char *dir = kl ? kl->tracing_dir() : NULL;
	char path[PATH_MAX];
	struct stat st;

	if (!kl)
		return err;
	if (!dir || stat(dir, &st))
		return log_error(ENODEV, "tracefs is not mounted (as root: mount -t tracefs nodev "
				 "%s)", KERNEL_TRACEFS);
	snprintf(k->tracefs, sizeof(k->tracefs), "%s", dir);
	tracefs_path(k, path, sizeof(path), "dynamic_events");
	/* An unprivileged user may not even see the file (tracefs is 0700). */
	if (access(path, F_OK) && errno != EACCES)
		return log_error(ENOTSUP, "%s: missing: this kernel has no dynamic events "
				 "(CONFIG_UPROBE_EVENTS)", path);
	if (access(path, W_OK))
		return log_error(EACCES, "%s: %s: the kernel backend needs root, or CAP_PERFMON "
				 "with write access to tracefs", path, strerror(errno));
	return 0;
}

int kgroup_start(struct trace_kernel *k)
{
	char cmd[96];
	int ret = check_tracefs(k);

	if (ret)
		return ret;
	snprintf(k->group, sizeof(k->group), KERNEL_GROUP_PREFIX "%d", (int)getpid());
	trace_kernel_remove_stale();
	snprintf(cmd, sizeof(cmd), "-:%s/", k->group);
	write_line(k, cmd); /* a group of an earlier tracer of this pid: not ours to keep */
	return guard_start(k);
}

int kgroup_create(struct trace_kernel *k, const char *line)
{
	char why[256];
	int ret = write_line(k, line);

	if (!ret)
		return 0;
	kernel_complaint(k, why, sizeof(why));
	return log_error(-ret, "%s: %s%s", line, strerror(-ret), why);
}

static char *read_file(const char *path, size_t *len)
{
	size_t room = 4096, n = 0;
	char *buf = malloc(room), *q;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	while ((got = read(fd, buf + n, room - n - 1)) > 0) {
		n += (size_t)got;
		if (n + 1 == room && (q = realloc(buf, room *= 2)))
			buf = q;
		else if (n + 1 == room)
			break;
	}
	close(fd);
	buf[n] = 0;
	*len = n;
	return buf;
}

int kgroup_event_id(const struct trace_kernel *k, const char *event)
{
	char path[PATH_MAX], rel[192];
	size_t len;
	char *s;
	int id;

	snprintf(rel, sizeof(rel), "events/%s/%s/id", k->group, event);
	if (tracefs_path(k, path, sizeof(path), rel) || !(s = read_file(path, &len)))
		return log_error(ENOENT, "%s: cannot read the event's id", path);
	id = atoi(s);
	free(s);
	return id > 0 ? id : log_error(EINVAL, "%s: bad id", path);
}

/* Where field name lies in the raw sample: offset, and size (-1: __data_loc). */
static int field_place(const struct klibs *kl, struct tep_event *ev, const char *name, int *off,
		       int *size)
{
	struct tep_format_field *f = kl->tep_find_field(ev, name);

	if (!f)
		return -ENOENT;
	*off = f->offset;
	*size = (f->flags & TEP_FIELD_IS_DYNAMIC) ? -1 : f->size;
	return 0;
}

/* The event's format (libtraceevent) mapped onto the layout our formatters read. */
int kgroup_layout(struct trace_kernel *k, struct kevent *e, const char *event)
{
	int ret = 0, sz;
	const struct klibs *kl = klibs_get(&ret);
	struct tep_handle *tep = kl ? kl->tep_alloc() : NULL;
	struct tep_event *ev = NULL;
	char path[PATH_MAX], rel[192];
	size_t len = 0;
	char *fmt;

	if (!kl)
		return ret;
	snprintf(rel, sizeof(rel), "events/%s/%s/format", k->group, event);
	fmt = tracefs_path(k, path, sizeof(path), rel) ? NULL : read_file(path, &len);
	if (!tep || !fmt || kl->tep_parse_format(tep, &ev, fmt, len, k->group)) {
		ret = log_error(EINVAL, "%s: cannot read or parse the event's format", path);
		goto out;
	}
	trace_layout_of(e->spec, &e->layout);
	e->koff = calloc((size_t)e->layout.n_fields + 1, sizeof(int));
	e->ksize = calloc((size_t)e->layout.n_fields + 1, sizeof(int));
	if (!e->koff || !e->ksize) {
		ret = -ENOMEM;
		goto out;
	}
	for (int i = 0; i < e->layout.n_fields && !ret; i++)
		if (field_place(kl, ev, e->layout.fields[i].name, &e->koff[i], &e->ksize[i]))
			ret = log_error(EINVAL, "%s: no field '%s'", path, e->layout.fields[i].name);
	if (field_place(kl, ev, KERNEL_COMM_FIELD, &e->comm_off, &sz))
		e->comm_off = -1;
	e->func_off = -1;
	if (e->is_ret) {
		field_place(kl, ev, "__probe_func", &e->func_off, &sz);
		ret = ret ? ret : field_place(kl, ev, "__probe_ret_ip", &e->ip_off, &sz);
	} else {
		ret = ret ? ret : field_place(kl, ev, "__probe_ip", &e->ip_off, &sz);
	}
out:
	free(fmt);
	if (tep)
		kl->tep_free(tep);
	return ret;
}

void kgroup_remove(struct trace_kernel *k)
{
	char cmd[96];
	int st;

	if (k->group[0]) {
		snprintf(cmd, sizeof(cmd), "-:%s/", k->group);
		write_line(k, cmd);
	}
	if (k->guard_fd >= 0) {
		close(k->guard_fd); /* EOF: the guard finds nothing left and exits */
		k->guard_fd = -1;
		while (waitpid(k->guard_pid, &st, 0) < 0 && errno == EINTR)
			;
	}
}
