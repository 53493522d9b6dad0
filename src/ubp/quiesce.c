/* SPDX-License-Identifier: MIT */
/*
 * Signal-based quiescence: make every other running thread of the process
 * pass through a function of ours with its interrupted context, so that a
 * thread stopped inside a window being patched can be moved out of it.
 *
 * Only threads in state R (running or runnable: preempted anywhere) are
 * signalled. A sleeping thread sits in a system call, whose instruction is
 * never inside a window (syscall cannot be probed), and it can only reach a
 * window through its first byte, which already holds int3. Sleepers are left
 * alone so that their system calls are not interrupted.
 *
 * The request is ubp_quiesce_sig() (a real-time signal: queued, never merged
 * with a pending breakpoint SIGTRAP, which a second SIGTRAP would be) with
 * SI_QUEUE and a cookie; the program's own uses of that signal are chained.
 */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sched.h>
#include <time.h>
#include <unistd.h>

#include "ubp/ubp.h"

struct linux_dirent64 {
	uint64_t d_ino;
	int64_t d_off;
	unsigned short d_reclen;
	unsigned char d_type;
	char d_name[];
};

static int quiesce_cookie;
static ubp_fixup_fn quiesce_fn;
static void *quiesce_arg;
static unsigned quiesce_acks;

bool ubp_quiesce_signal(siginfo_t *si, ucontext_t *uc)
{
	if (si->si_code != SI_QUEUE || si->si_value.sival_ptr != &quiesce_cookie ||
	    si->si_pid != (pid_t)syscall(SYS_getpid))
		return false;
	if (__atomic_load_n(&quiesce_fn, __ATOMIC_ACQUIRE))
		quiesce_fn(uc, quiesce_arg);
	__atomic_fetch_add(&quiesce_acks, 1, __ATOMIC_RELEASE);
	return true;
}

static char thread_state(pid_t tid)
{
	char path[64], buf[512], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", tid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && p[1] == ' ' ? p[2] : 0;
}

static int quiesce_send(pid_t pid, pid_t tid)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = ubp_quiesce_sig();
	si.si_code = SI_QUEUE;
	si.si_pid = pid;
	si.si_uid = getuid();
	si.si_value.sival_ptr = &quiesce_cookie;
	return syscall(SYS_rt_tgsigqueueinfo, pid, tid, si.si_signo, &si) ? -errno : 0;
}

int ubp_quiesce(ubp_fixup_fn fn, void *arg)
{
	pid_t pid = getpid(), self = (pid_t)syscall(SYS_gettid);
	unsigned sent = 0, waited = 0;
	struct timespec t0, t1;
	char dents[4096] __attribute__((aligned(8)));
	long n;
	int fd;

	/*
	 * getdents64 rather than opendir: no malloc, whose entry may be one of the
	 * probes being installed (it would count a hit of the library's own).
	 */
	fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	quiesce_arg = arg;
	__atomic_store_n(&quiesce_acks, 0, __ATOMIC_RELAXED);
	__atomic_store_n(&quiesce_fn, fn, __ATOMIC_RELEASE);
	while ((n = syscall(SYS_getdents64, fd, dents, sizeof(dents))) > 0) {
		for (long pos = 0; pos < n;) {
			struct linux_dirent64 *de = (struct linux_dirent64 *)(dents + pos);
			pid_t tid = atoi(de->d_name);

			pos += de->d_reclen;
			if (tid <= 0 || tid == self || thread_state(tid) != 'R')
				continue;
			if (!quiesce_send(pid, tid))
				sent++;
		}
	}
	close(fd);
	/*
	 * The signalled threads answer when they next run: give them the CPU. A
	 * thread that exits before handling the signal never answers: wait one
	 * second at most.
	 */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (__atomic_load_n(&quiesce_acks, __ATOMIC_ACQUIRE) < sent) {
		sched_yield();
		if (!(++waited & 255)) {
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if ((t1.tv_sec - t0.tv_sec) * 1000000000L + (t1.tv_nsec - t0.tv_nsec) >
			    1000000000L)
				break;
		}
	}
	__atomic_store_n(&quiesce_fn, NULL, __ATOMIC_RELEASE);
	return 0;
}
