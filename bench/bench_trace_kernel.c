/* SPDX-License-Identifier: MIT */
/*
 * bench_trace's kernel row: the kernel's own uprobe trace event with the same
 * fetch-args ("p:benchk/ev EXE:0xOFF a=%di b=%si" in tracefs uprobe_events),
 * its hits read from uprobe_profile. It writes its records into the ftrace
 * ring buffer, which nobody reads during the run (it overwrites, as it does
 * by default): its row is the cost of producing them, like the library's.
 * tracefs is mounted if it is not, and unmounted at exit; the event is
 * removed on every exit path, a signal's included.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench_trace.h"
#include "bench_trace_target.h"
#include "bench_util.h"

#define KEV_GROUP "benchk"
#define KEV_NAME  "ev"

static char tfs_dir[64];
static char tfs_events[96], tfs_enable[128], tfs_profile[96], tfs_errlog[96];
static char kev_def[PATH_MAX + 64];
static volatile sig_atomic_t kev_live; /* the kernel event exists (maybe enabled) */
static volatile sig_atomic_t tfs_mounted;
char kernel_why[BENCH_WHY_LEN];

/* Append s to a tracefs file (O_APPEND: never truncate uprobe_events). Signal-safe. */
static int tfs_write(const char *path, const char *s)
{
	size_t len = strlen(s);
	int fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC), err = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, s, len);
	if (n < 0)
		err = -errno;
	else if ((size_t)n != len)
		err = -EIO;
	close(fd);
	return err;
}

/* Disable and remove the kernel event if it exists. Signal-safe. */
static void kernel_remove(void)
{
	int err;

	if (!kev_live)
		return;
	tfs_write(tfs_enable, "0");
	/* ENOENT: the main thread removed it just before a signal came. */
	err = tfs_write(tfs_events, "-:" KEV_GROUP "/" KEV_NAME);
	if (!err || err == -ENOENT)
		kev_live = 0;
}

void kernel_cleanup(void)
{
	kernel_remove();
	if (tfs_mounted) {
		umount2(tfs_dir, MNT_DETACH);
		tfs_mounted = 0;
	}
}

static pid_t main_tid;

/*
 * Only the main thread creates, enables and removes the kernel event: a
 * signal taken by another thread (the library's, the producer) is passed on
 * to it, so that the cleanup never races with the main thread's own writes.
 */
static void on_signal(int sig)
{
	if ((pid_t)syscall(SYS_gettid) != main_tid) {
		syscall(SYS_tgkill, getpid(), main_tid, sig);
		return;
	}
	kernel_cleanup();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void install_cleanup(void)
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGABRT};
	struct sigaction sa;

	main_tid = (pid_t)syscall(SYS_gettid);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, NULL);
	atexit(kernel_cleanup);
}

/* The last line of tracefs's error_log, "" when there is none. */
static void tfs_last_error(char *buf, size_t len)
{
	char line[512];
	FILE *f = fopen(tfs_errlog, "re");

	buf[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f))
		if (line[0] != '\n')
			snprintf(buf, len, "%s", line);
	fclose(f);
	buf[strcspn(buf, "\n")] = 0;
}

static int tfs_find(void)
{
	static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
	char p[128];

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(p, sizeof(p), "%s/uprobe_events", dirs[i]);
		if (!access(p, W_OK)) {
			snprintf(tfs_dir, sizeof(tfs_dir), "%s", dirs[i]);
			return 0;
		}
	}
	snprintf(tfs_dir, sizeof(tfs_dir), "%s", dirs[0]);
	if (mount("nodev", tfs_dir, "tracefs", 0, NULL)) {
		snprintf(kernel_why, sizeof(kernel_why), "mount -t tracefs nodev %s: %s", tfs_dir,
			 strerror(errno));
		return -1;
	}
	tfs_mounted = 1;
	printf("mounted tracefs on %s (unmounted at exit)\n", tfs_dir);
	snprintf(p, sizeof(p), "%s/uprobe_events", tfs_dir);
	if (access(p, W_OK)) {
		snprintf(kernel_why, sizeof(kernel_why), "%s: %s", p, strerror(errno));
		return -1;
	}
	return 0;
}

/* The kernel writes an event's records only while tracing_on is 1 (the default). */
static bool tfs_tracing_on(void)
{
	char p[128];
	int c = '1';
	FILE *f;

	snprintf(p, sizeof(p), "%s/tracing_on", tfs_dir);
	f = fopen(p, "re");
	if (f) {
		c = fgetc(f);
		fclose(f);
	}
	return c != '0';
}

void kernel_setup(void)
{
	uint64_t m;

	if (kernel_why[0])
		return;
	if (strpbrk(exe_path, " \t")) {
		snprintf(kernel_why, sizeof(kernel_why), "the path %s has a blank", exe_path);
		return;
	}
	if (!maps_offset((const void *)bench_trace_target, &m) && m != off_target)
		printf("warning: /proc/self/maps puts bench_trace_target at file offset 0x%" PRIx64
		       ", not 0x%" PRIx64 "\n",
		       m, off_target);
	install_cleanup();
	if (tfs_find())
		return;
	snprintf(tfs_events, sizeof(tfs_events), "%s/uprobe_events", tfs_dir);
	snprintf(tfs_enable, sizeof(tfs_enable), "%s/events/" KEV_GROUP "/" KEV_NAME "/enable",
		 tfs_dir);
	snprintf(tfs_profile, sizeof(tfs_profile), "%s/uprobe_profile", tfs_dir);
	snprintf(tfs_errlog, sizeof(tfs_errlog), "%s/error_log", tfs_dir);
	snprintf(kev_def, sizeof(kev_def),
		 "p:" KEV_GROUP "/" KEV_NAME " %s:0x%" PRIx64 " a=%%di b=%%si", exe_path,
		 off_target);
	/* A run killed by SIGKILL may have left it: the name is this program's own. */
	tfs_write(tfs_events, "-:" KEV_GROUP "/" KEV_NAME);
	printf("kernel event: %s%s\n", kev_def,
	       tfs_tracing_on() ? "" : " (tracing_on is 0: its records are not written)");
}

int kernel_arm(struct bench_case *c)
{
	char log[256];
	int err;

	if (kernel_why[0])
		return snprintf(c->why, sizeof(c->why), "%s", kernel_why), -1;
	kev_live = 1; /* first: a signal during the write must still remove it */
	err = tfs_write(tfs_events, kev_def);
	if (err) {
		kev_live = 0;
		tfs_last_error(log, sizeof(log));
		snprintf(c->why, sizeof(c->why), "writing '%s' to %s: %s%s%s", kev_def, tfs_events,
			 strerror(-err), log[0] ? "; error_log: " : "", log);
		return -1;
	}
	err = tfs_write(tfs_enable, "1");
	if (err) {
		snprintf(c->why, sizeof(c->why), "%s: %s", tfs_enable, strerror(-err));
		kernel_remove();
		return -1;
	}
	snprintf(c->mode, sizeof(c->mode), "kernel");
	return 0;
}

/* The hits uprobe_profile counts for our event: "  PATH EVENT HITS" per line. */
static int kernel_hits(uint64_t *hits)
{
	char line[PATH_MAX + 128], path[PATH_MAX], ev[128];
	FILE *f = fopen(tfs_profile, "re");
	int ret = -1;
	uint64_t n;

	if (!f)
		return -1;
	while (ret && fgets(line, sizeof(line), f))
		if (sscanf(line, "%4095s %127s %" SCNu64, path, ev, &n) == 3 &&
		    !strcmp(path, exe_path) && !strcmp(ev, KEV_NAME)) {
			*hits = n;
			ret = 0;
		}
	fclose(f);
	return ret;
}

int kernel_disarm(struct bench_case *c, uint64_t *hits)
{
	uint64_t n = 0;
	int err = tfs_write(tfs_enable, "0");

	if (err || kernel_hits(&n)) {
		snprintf(c->why, sizeof(c->why), "%s",
			 err ? "disabling the kernel event failed" :
			       "no hit count in uprobe_profile");
		c->failed = true;
	}
	*hits += n;
	err = tfs_write(tfs_events, "-:" KEV_GROUP "/" KEV_NAME);
	if (err) {
		snprintf(c->why, sizeof(c->why), "removing the kernel event: %s", strerror(-err));
		c->failed = true;
		return -1;
	}
	kev_live = 0;
	return c->failed ? -1 : 0;
}
