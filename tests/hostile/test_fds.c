/* SPDX-License-Identifier: MIT */
/*
 * A program that closes the library's descriptors while probes are in
 * (daemonizing: close_range(3, ~0), or /dev/null dup2'ed over 3..1023), in
 * breakpoint (XOL) and jump mode: the probes keep counting every call,
 * uprobe_detach() puts the file's bytes back, and nothing is ever written into
 * a file of the program's that took a freed descriptor number. Each case runs
 * in a child of its own, which alarm() ends if it spins.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hostile/hostile.h"
#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("hostile_fds");

#ifndef PR_SET_MDWE /* Debian 12's headers predate it (Linux 6.3) */
#define PR_SET_MDWE 65
#define PR_MDWE_REFUSE_EXEC_GAIN 1
#endif

#define CALLS 1000
#define CHILD_SECONDS 60 /* a bound on failure only: a case takes milliseconds */

static uint64_t hits;

static void count(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r, (void)ctx;
	__atomic_fetch_add(&hits, 1, __ATOMIC_RELAXED);
}

/* Run fn in a child: its checks fail the case, and so does its death. */
static void in_child(void (*fn)(void))
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		alarm(CHILD_SECONDS);
		fn();
		fflush(stdout);
		_exit(tl_case_failed);
	}
	CHECK(pid > 0);
	if (pid <= 0 || waitpid(pid, &st, 0) != pid)
		return;
	if (WIFSIGNALED(st))
		TL_FAIL("the child was killed by signal %d (%s)", WTERMSIG(st),
			WTERMSIG(st) == SIGALRM ? "still running: spinning on a trap?"
						 : strsignal(WTERMSIG(st)));
	else if (WEXITSTATUS(st))
		tl_case_failed = 1;
}

static void close_all(void)
{
	CHECK_EQ_INT(syscall(SYS_close_range, 3, ~0U, 0), 0);
}

static void dup2_devnull(void)
{
	int null = open("/dev/null", O_RDWR);

	CHECK(null >= 0);
	for (int fd = 3; fd < 1024; fd++)
		if (fd != null)
			dup2(null, fd);
}

/* Fill the lowest free numbers with empty files of the program's own. */
static void take_numbers(int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		fds[i] = open("/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
		CHECK(fds[i] >= 0);
	}
}

static void check_untouched(const int *fds, int n)
{
	for (int i = 0; i < n; i++) {
		struct stat st;

		CHECK_EQ_INT(fstat(fds[i], &st), 0);
		if (st.st_size)
			TL_FAIL("descriptor %d (the program's file) grew to %lld bytes", fds[i],
				(long long)st.st_size);
	}
}

/*
 * The probe counts every call before and after closer(), and its removal
 * leaves the file's bytes; the program's own files at the freed numbers are
 * never written.
 */
static void probed_through(int (*fn)(int), size_t len, unsigned flags, void (*closer)(void),
			   enum uprobe_mode want)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count, .flags = flags };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach_addr((void *)fn, &o);
	long sum = 0;
	int mine[8];

	if (!p) {
		TL_FAIL("attach: %s", uprobe_last_error());
		return;
	}
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_INT(info.mode, want);
	CHECK_EQ_INT(hostile_text_is_file((void *)fn, len), 0);
	for (int i = 0; i < CALLS; i++)
		sum += fn(i);
	closer();
	take_numbers(mine, 8);
	for (int i = 0; i < CALLS; i++)
		sum += fn(i);
	CHECK_EQ_U64(hits, 2 * CALLS);
	if (uprobe_detach(p))
		TL_FAIL("detach: %s", uprobe_last_error());
	CHECK_EQ_INT(hostile_text_is_file((void *)fn, len), 1);
	for (int i = 0; i < CALLS; i++)
		sum += fn(i);
	CHECK_EQ_U64(hits, 2 * CALLS);
	CHECK_EQ_INT(sum, 3 * (CALLS * (CALLS - 1) / 2) + 3 * CALLS * (fn == hostile_xol ? 1 : 2));
	check_untouched(mine, 8);
	uprobe_free(p);
}

static void child_xol_close_range(void)
{
	probed_through(hostile_xol, HOSTILE_XOL_LEN, UPROBE_F_NO_OPTIMIZE, close_all,
		       UPROBE_MODE_XOL);
}

static void child_xol_dup2(void)
{
	probed_through(hostile_xol, HOSTILE_XOL_LEN, UPROBE_F_NO_OPTIMIZE, dup2_devnull,
		       UPROBE_MODE_XOL);
}

static void child_jmp_close_range(void)
{
	probed_through(hostile_jmp, HOSTILE_JMP_LEN, 0, close_all, UPROBE_MODE_OPTIMIZED);
}

static void child_jmp_dup2(void)
{
	probed_through(hostile_jmp, HOSTILE_JMP_LEN, 0, dup2_devnull, UPROBE_MODE_OPTIMIZED);
}

/* The probes went in before the fork: the child's writes go to its own text. */
static void child_after_fork_close_range(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count,
				 .flags = UPROBE_F_NO_OPTIMIZE };
	struct uprobe *p = uprobe_attach_addr((void *)hostile_xol, &o);
	pid_t pid;
	int st;

	CHECK(p != NULL);
	pid = fork();
	if (pid == 0) {
		close_all();
		hits = 0;
		CHECK_EQ_INT(hostile_xol(1), 2);
		CHECK_EQ_INT(uprobe_detach(p), 0);
		CHECK_EQ_INT(hostile_text_is_file((void *)hostile_xol, HOSTILE_XOL_LEN), 1);
		CHECK_EQ_INT(hostile_xol(2), 3);
		CHECK_EQ_U64(hits, 1);
		_exit(tl_case_failed);
	}
	CHECK(pid > 0 && waitpid(pid, &st, 0) == pid && WIFEXITED(st) && !WEXITSTATUS(st));
	/* The parent's probe is still in. */
	CHECK_EQ_INT(hostile_text_is_file((void *)hostile_xol, HOSTILE_XOL_LEN), 0);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	CHECK_EQ_INT(hostile_text_is_file((void *)hostile_xol, HOSTILE_XOL_LEN), 1);
	uprobe_free(p);
}

/* A mount namespace of the child's own (false: skip the case, saying why). */
static bool own_mounts(const char *name)
{
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL)) {
		printf("SKIP: %s/%s: no mount namespace: %s\n", tl_suite, name, strerror(errno));
		return false;
	}
	return true;
}

/* No /proc: nothing can be resolved, and the refusal says why. */
static void child_no_proc(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };

	if (!own_mounts("no_proc"))
		return;
	CHECK_EQ_INT(umount2("/proc", MNT_DETACH), 0);
	CHECK(uprobe_attach_addr((void *)hostile_xol, &o) == NULL);
	CHECK_EQ_INT(errno, ENOENT);
	CHECK_CONTAINS(uprobe_last_error(),
		       "cannot read /proc/self/maps: No such file or directory (is /proc mounted?)");
}

/*
 * A file of the program's own over /proc/PID/mem (a tmpfs file takes a write at
 * any offset): the library sees that it is not its memory and never writes
 * there; mprotect writes the text instead, and under W^X (PR_SET_MDWE) the
 * attach is refused, saying why.
 */
static void child_fake_mem(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count,
				 .flags = UPROBE_F_NO_OPTIMIZE };
	char dir[] = "/tmp/hostile-memXXXXXX", file[64], mem[64];
	struct uprobe *p;
	struct stat st;

	if (!own_mounts("fake_mem"))
		return;
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(mount("none", dir, "tmpfs", 0, NULL), 0);
	snprintf(file, sizeof(file), "%s/mem", dir);
	snprintf(mem, sizeof(mem), "/proc/%d/mem", getpid());
	CHECK_EQ_INT(close(open(file, O_CREAT | O_RDWR, 0600)), 0);
	CHECK_EQ_INT(mount(file, mem, NULL, MS_BIND, NULL), 0);
	p = uprobe_attach_addr((void *)hostile_xol, &o);
	if (!p)
		TL_FAIL("attach over a fake /proc/self/mem: %s", uprobe_last_error());
	CHECK_EQ_INT(hostile_xol(1), 2);
	CHECK_EQ_U64(hits, 1);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	CHECK_EQ_INT(hostile_text_is_file((void *)hostile_xol, HOSTILE_XOL_LEN), 1);
	uprobe_free(p);
	CHECK_EQ_INT(prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0), 0);
	CHECK(uprobe_attach_addr((void *)hostile_jmp, &o) == NULL);
	CHECK_EQ_INT(errno, EACCES);
	CHECK_CONTAINS(uprobe_last_error(), "/proc/self/mem: not this process's memory");
	CHECK_CONTAINS(uprobe_last_error(), "mprotect: Permission denied");
	CHECK_EQ_INT(hostile_text_is_file((void *)hostile_jmp, HOSTILE_JMP_LEN), 1);
	CHECK_EQ_INT(stat(file, &st), 0);
	CHECK_EQ_INT(st.st_size, 0);
	umount2(mem, MNT_DETACH);
	umount2(dir, MNT_DETACH);
	rmdir(dir);
}

/*
 * The text cannot be written back at all (the program closed the library's
 * descriptor, a file sits over /proc/PID/mem, W^X forbids mprotect): detach
 * says so, and the breakpoint left in keeps running the original instruction
 * instead of replaying its trap forever.
 */
static void child_detach_unwritable(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count,
				 .flags = UPROBE_F_NO_OPTIMIZE };
	char dir[] = "/tmp/hostile-memXXXXXX", file[64], mem[64];
	struct uprobe *p = uprobe_attach_addr((void *)hostile_xol, &o);
	long sum = 0;

	CHECK(p != NULL);
	if (!p || !own_mounts("detach_unwritable"))
		return;
	CHECK(mkdtemp(dir) != NULL);
	CHECK_EQ_INT(mount("none", dir, "tmpfs", 0, NULL), 0);
	snprintf(file, sizeof(file), "%s/mem", dir);
	snprintf(mem, sizeof(mem), "/proc/%d/mem", getpid());
	CHECK_EQ_INT(close(open(file, O_CREAT | O_RDWR, 0600)), 0);
	CHECK_EQ_INT(mount(file, mem, NULL, MS_BIND, NULL), 0);
	close_all();
	CHECK_EQ_INT(prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0), 0);
	CHECK_EQ_INT(uprobe_detach(p), -EACCES);
	CHECK_CONTAINS(uprobe_last_error(), "detached, but its patch stays in the text");
	CHECK_CONTAINS(uprobe_last_error(), "cannot write the original byte at 0x");
	CHECK_EQ_INT(hostile_text_is_file((void *)hostile_xol, HOSTILE_XOL_LEN), 0);
	for (int i = 0; i < CALLS; i++)
		sum += hostile_xol(i);
	CHECK_EQ_INT(sum, CALLS * (CALLS + 1) / 2);
	CHECK_EQ_U64(hits, 0);
	uprobe_free(p);
}

#define CASE(name)                          \
	static void name(void)              \
	{                                   \
		in_child(child_##name);     \
	}
CASE(xol_close_range)
CASE(xol_dup2)
CASE(jmp_close_range)
CASE(jmp_dup2)
CASE(after_fork_close_range)
CASE(no_proc)
CASE(fake_mem)
CASE(detach_unwritable)

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(xol_close_range);
	RUN(xol_dup2);
	RUN(jmp_close_range);
	RUN(jmp_dup2);
	RUN(after_fork_close_range);
	RUN(no_proc);
	RUN(fake_mem);
	RUN(detach_unwritable);
	TL_EXIT();
}
