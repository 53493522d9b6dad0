/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace -p PID: getting the agent into a process that is already
 * running (see uprobes_agent.h for what happens once it is there).
 *
 *  1. Refuse what must not be traced, naming the reason: no such process, a
 *     zombie or stopped one, one traced already, a setuid program, seccomp,
 *     another user's process.
 *  2. Borrow one thread with ptrace (borrow.c), at a point where it holds no
 *     lock of libc's or the dynamic loader's: asleep in a restartable system
 *     call, or running code outside libc and ld.so.
 *  3. In that thread, call dlopen(libuprobes) unless the library is already
 *     there, then the agent's entry point, which returns the number of a new
 *     private socket; take that descriptor with pidfd_getfd() and have the
 *     thread close() its copy. Each call returns into code of the process
 *     that puts the thread back by itself (rt_sigreturn on a signal frame
 *     written at the borrowing), so that uprobe's death at any moment leaves
 *     the process as it was: see "the way back" in borrow.c.
 *  4. Put back every register (general, x87/SSE/AVX state) and let it go on.
 *     A system call the stop interrupted is restarted as if nothing happened.
 *
 * The other threads are never stopped: installing the probes is then the
 * agent's business, and the library's quiescence stops each running thread
 * in a signal handler and moves it out of any window being patched. Holding
 * them in ptrace stops instead could deadlock the agent on a lock one of them
 * holds (malloc's, stdio's). Until the probes are in, every thread stays under
 * ptrace nonetheless (guard.c), to restart a system call the quiescence
 * signal cuts short.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <unistd.h>

#include "uprobes_agent.h"
#include "borrow.h"
#include "cli.h"

/* ---- 1. refusals ---------------------------------------------------------------------- */

struct proc_status {
	char name[64];
	char state;
	pid_t tracer;
	unsigned uid[2], gid[2]; /* real, effective */
	int seccomp;
	unsigned long long cap_prm; /* permitted capabilities */
};

static int read_status(pid_t pid, struct proc_status *ps)
{
	char path[64], line[256];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	memset(ps, 0, sizeof(*ps));
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "Name:", 5))
			sscanf(line + 5, " %63[^\n]", ps->name);
		else if (!strncmp(line, "State:", 6))
			sscanf(line + 6, " %c", &ps->state);
		else if (!strncmp(line, "TracerPid:", 10))
			sscanf(line + 10, "%d", &ps->tracer);
		else if (!strncmp(line, "Uid:", 4))
			sscanf(line + 4, "%u %u", &ps->uid[0], &ps->uid[1]);
		else if (!strncmp(line, "Gid:", 4))
			sscanf(line + 4, "%u %u", &ps->gid[0], &ps->gid[1]);
		else if (!strncmp(line, "Seccomp:", 8))
			sscanf(line + 8, "%d", &ps->seccomp);
		else if (!strncmp(line, "CapPrm:", 7))
			sscanf(line + 7, "%llx", &ps->cap_prm);
	}
	fclose(f);
	return 0;
}

/* This process's capability set FIELD ("CapEff:", "CapPrm:") of /proc/self/status. */
static unsigned long long own_caps(const char *field)
{
	char line[256];
	unsigned long long caps = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, field, strlen(field)))
			caps = strtoull(line + strlen(field), NULL, 16);
	if (f)
		fclose(f);
	return caps;
}

static bool have_cap_sys_ptrace(void)
{
	return own_caps("CapEff:") & (1ULL << 19); /* CAP_SYS_PTRACE */
}

/* "cap_net_raw, cap_sys_admin": the names of the capabilities in CAPS. */
static const char *cap_names(unsigned long long caps, char *buf, size_t len)
{
	static const char *const names[] = {
		"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
		"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
		"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
		"sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
		"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
		"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
		"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
	};
	size_t at = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < 64 && at < len; i++) {
		if (!(caps & (1ULL << i)))
			continue;
		if (i < sizeof(names) / sizeof(names[0]))
			at += (size_t)snprintf(buf + at, len - at, "%scap_%s", at ? ", " : "", names[i]);
		else
			at += (size_t)snprintf(buf + at, len - at, "%scapability %u", at ? ", " : "", i);
	}
	return buf;
}

static const char *user_name(unsigned uid, char *buf, size_t len)
{
	struct passwd *pw = getpwuid(uid);

	snprintf(buf, len, "%s", pw ? pw->pw_name : "?");
	return buf;
}

/* PID runs this program (it holds the threads under ptrace while it attaches). */
static bool is_uprobe(pid_t pid)
{
	char path[64], me[PATH_MAX], it[PATH_MAX];
	ssize_t a, b;

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	a = readlink(path, it, sizeof(it));
	b = readlink("/proc/self/exe", me, sizeof(me));
	return a > 0 && a == b && !memcmp(it, me, (size_t)a);
}

/*
 * The uprobe a tracer that runs uprobe belongs to: the tracer is the guard
 * process of a uprobe attaching (guard_proc.c), forked by it; the guard itself
 * once that uprobe is gone.
 */
static pid_t uprobe_of(pid_t tracer)
{
	char path[64], line[128];
	pid_t parent = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", tracer);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "PPid: %d", &parent) == 1)
			break;
	if (f)
		fclose(f);
	return parent > 1 && is_uprobe(parent) ? parent : tracer;
}

static int refuse(pid_t pid, const struct proc_status *ps)
{
	char exe[64], who[64], me_name[64];
	unsigned me = geteuid();
	struct stat st;

	if (pid == getpid())
		return cli_error(CLI_EXIT_FAIL, "-p %d: that is uprobe itself", pid);
	if (ps->state == 'Z' || ps->state == 'X')
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): the process has exited (zombie)", pid,
				 ps->name);
	if (ps->tracer && is_uprobe(ps->tracer))
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): another uprobe (PID %d) is attaching to the process; "
				 "one uprobe traces a process at a time", pid, ps->name,
				 uprobe_of(ps->tracer));
	if (ps->tracer)
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): already traced by PID %d (a debugger?); a process "
				 "has one ptrace tracer at a time", pid, ps->name, ps->tracer);
	if (ps->state == 'T')
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): the process is stopped (SIGSTOP); resume it with "
				 "'kill -CONT %d' first", pid, ps->name, pid);
	if (me != 0 && !have_cap_sys_ptrace() &&
	    (ps->uid[0] != me || ps->uid[1] != me))
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): the process belongs to user %s (uid %u) and you are "
				 "%s (uid %u); attaching needs the rights ptrace needs: the same "
				 "user, or root", pid, ps->name,
				 user_name(ps->uid[1], who, sizeof(who)), ps->uid[1],
				 user_name(me, me_name, sizeof(me_name)), me);
	snprintf(exe, sizeof(exe), "/proc/%d/exe", pid);
	if (ps->uid[0] != ps->uid[1] || ps->gid[0] != ps->gid[1] ||
	    (!stat(exe, &st) && (st.st_mode & (S_ISUID | S_ISGID))))
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): a setuid/setgid program (uid %u, euid %u, gid %u, "
				 "egid %u); uprobe does not load code into privileged programs",
				 pid, ps->name, ps->uid[0], ps->uid[1], ps->gid[0], ps->gid[1]);
	if (ps->seccomp)
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): the process runs under seccomp (%s mode); the "
				 "agent's system calls could kill it", pid, ps->name,
				 ps->seccomp == 1 ? "strict" : "filter");
	return 0;
}

/*
 * Why ptrace refused (EPERM) a process of the caller's own user: it has
 * capabilities the caller has not, or it is not dumpable (it said so with
 * prctl, or it gained privileges at exec: the files of its /proc directory are
 * then root's),
 * or Yama's ptrace_scope. Empty when none of these is seen.
 */
static const char *refused_why(pid_t pid, const struct proc_status *ps, char *buf, size_t len)
{
	unsigned long long extra = ps->cap_prm & ~own_caps("CapPrm:");
	char path[64], names[512], scope[16] = "";
	struct stat st;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if (extra) {
		snprintf(buf, len, ": the process has capabilities that you have not (%s); only "
			 "root, or a holder of CAP_SYS_PTRACE, may attach",
			 cap_names(extra, names, sizeof(names)));
		return buf;
	}
	if (!stat(path, &st) && st.st_uid == 0 && ps->uid[1] != 0) {
		snprintf(buf, len, ": the process is not dumpable (PR_SET_DUMPABLE 0, or it gained "
			 "privileges when it was started); only root, or a holder of "
			 "CAP_SYS_PTRACE, may attach");
		return buf;
	}
	fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, scope, sizeof(scope) - 1) < 0)
			scope[0] = 0;
		close(fd);
		scope[strcspn(scope, "\n")] = 0;
	}
	if (scope[0] && scope[0] != '0')
		snprintf(buf, len, " (kernel.yama.ptrace_scope is %s: only root, or a tracer the "
			 "process allowed, may attach)", scope);
	else
		buf[0] = 0;
	return buf;
}

/*
 * ptrace exists here. qemu-user (an aarch64 uprobe run on x86-64, docs/aarch64.md)
 * does not emulate it: every request fails with ENOSYS. A request about ourselves,
 * whom we do not trace, fails with ESRCH where ptrace exists.
 */
static bool ptrace_available(void)
{
	errno = 0;
	return ptrace(PTRACE_PEEKDATA, getpid(), NULL, NULL) != -1 || errno != ENOSYS;
}

#define NO_PTRACE_MSG                                                                           \
	"attaching needs ptrace, which this system does not provide (qemu-user does not "      \
	"emulate it); launch the program instead: 'uprobe trace PROBE... -- COMMAND'"

static int ptrace_refused(pid_t pid, const struct proc_status *ps, int err)
{
	char why[768] = "";

	if (err == ENOSYS)
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): " NO_PTRACE_MSG, pid, ps->name);
	if (err == ESRCH)
		return cli_error(CLI_EXIT_FAIL, "-p %d: no such process (it exited)", pid);
	if (err == EPERM || err == EACCES)
		refused_why(pid, ps, why, sizeof(why));
	return cli_error(CLI_EXIT_FAIL, "-p %d (%s): ptrace: %s%s", pid, ps->name, strerror(err),
			 why);
}

/* ---- 2. the agent, loaded and started in a borrowed thread (borrow.c) ---------------------- */

static int read_string(pid_t pid, uint64_t addr, char *out, size_t len)
{
	struct iovec l = { out, len - 1 }, rem = { (void *)addr, len - 1 };
	ssize_t n = process_vm_readv(pid, &l, 1, &rem, 1, 0);

	out[n > 0 ? n : 0] = 0;
	return n > 0 ? 0 : -1;
}

/* libuprobes loaded with dlopen(): 0, or -1 after saying why. */
static int load_agent(struct borrowed *b, const char *lib, const char *name)
{
	uint64_t dlopen_fn = target_sym(b, "libc.so.6", false, "dlopen", NULL, 0);
	uint64_t dlerror_fn = target_sym(b, "libc.so.6", false, "dlerror", NULL, 0);
	uint64_t ret = 0;
	char why[256] = "";

	if (!dlopen_fn)
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): no dlopen in the process (statically linked, or not "
				 "glibc 2.34 or later): the agent cannot be loaded", b->pid, name), -1;
	if (borrow_call(b, dlopen_fn, 0, RTLD_NOW, lib, strlen(lib) + 1, false, &ret))
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): dlopen(%s) in thread %d did not return",
				 b->pid, name, lib, b->tid), -1;
	if (ret)
		return 0;
	if (dlerror_fn && !borrow_call(b, dlerror_fn, 0, 0, NULL, 0, false, &ret) && ret)
		read_string(b->pid, ret, why, sizeof(why));
	return cli_error(CLI_EXIT_FAIL, "-p %d (%s): cannot load the agent: %s", b->pid, name,
			 why[0] ? why : lib), -1;
}

/*
 * The agent loaded (or found) and started: the tracer's end of its channel.
 * uprobe_agent_attach() returns into the stub's close: the socket is taken
 * (pidfd_getfd: no path, no name; only a process allowed to ptrace the target
 * can) at that close's entry, then closed in the process, also when uprobe
 * dies before (the agent then sees EOF and ends).
 */
static int start_agent(struct borrowed *b, const char *lib, const char *name)
{
	char path[PATH_MAX];
	uint64_t fn, ret = 0;
	int fd;

	fn = target_sym(b, "libuprobes.so", true, UPROBE_AGENT_ATTACH_SYM, path, sizeof(path));
	if (!fn && find_maps(b->pid, "libuprobes.so", true, (struct mapping[1]){ 0 }, 1) > 0)
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): it has a libuprobes without an agent (%s); use the "
				 "uprobe built with that library", b->pid, name, path), -1;
	if (!fn) {
		if (load_agent(b, lib, name))
			return -1;
		fn = target_sym(b, "libuprobes.so", true, UPROBE_AGENT_ATTACH_SYM, NULL, 0);
		if (!fn)
			return cli_error(CLI_EXIT_FAIL, "-p %d (%s): %s loaded, but %s not found "
					 "in it", b->pid, name, lib, UPROBE_AGENT_ATTACH_SYM), -1;
	}
	if (borrow_call(b, fn, 0, 0, NULL, 0, true, &ret))
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): the agent did not start", b->pid, name), -1;
	fd = (int)ret; /* an int in eax */
	if (fd < 0)
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): the agent refused: %s", b->pid, name,
				 fd == -EBUSY ? "another uprobe is tracing the process" :
						strerror(-fd)), -1;
	if (b->taken_fd < 0)
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): pidfd_getfd: %s", b->pid, name,
				 strerror(b->taken_err)), -1;
	fcntl(b->taken_fd, F_SETFD, FD_CLOEXEC);
	return b->taken_fd;
}

/*
 * Steps 2 to 4, in the guard process (guard_proc.c), which stays the tracer
 * of every thread until the probes are in: the agent's socket, or -1.
 */
static int attach_borrowed(pid_t pid, const char *name, const char *lib)
{
	static struct borrowed b;
	struct proc_status ps;
	int sock = -1, err;
	bool guarded;

	memset(&b, 0, sizeof(b));
	b.pid = pid;
	snprintf(b.root, sizeof(b.root), "/proc/%d/root", pid);
	err = borrow(&b, name);
	if (err == -EPERM || err == -EACCES) {
		if (read_status(pid, &ps))
			return cli_error(CLI_EXIT_FAIL, "-p %d: no such process (it exited)", pid), -1;
		ptrace_refused(pid, &ps, -err);
		return -1;
	}
	if (err)
		return -1;
	if (!borrow_way_back(&b, name))
		sock = start_agent(&b, lib, name);
	if (borrow_park(&b) && sock >= 0) {
		close(sock);
		sock = -1;
		cli_error(CLI_EXIT_FAIL, "-p %d (%s): thread %d did not come back from its last "
			  "call; it goes back by itself", pid, name, b.tid);
	}
	guarded = sock >= 0 && !guard_begin(pid, b.tid);
	borrow_release(&b, guarded);
	return sock;
}

int attach_agent(pid_t pid, const char *lib, bool ret_probes)
{
	struct proc_status ps;

	if (read_status(pid, &ps))
		return cli_error(CLI_EXIT_FAIL, "-p %d: no such process", pid), -1;
	if (!ptrace_available())
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): " NO_PTRACE_MSG, pid, ps.name), -1;
	if (refuse(pid, &ps))
		return -1;
	/*
	 * Return probes in a process that maps libstdc++: the agent sees it and
	 * takes the return sites only (the unwinders, not interposed by a
	 * library loaded with dlopen, see the real return addresses); a probe
	 * whose function would need the return-address hijack is refused with
	 * its reason, by name (src/agent/agent.c attach_ret_path).
	 */
	(void)ret_probes;
	return guard_proc_attach(pid, ps.name, lib, attach_borrowed);
}

/* ---- the end of a process that is not our child ------------------------------------------ */

/*
 * The kernel's process events connector (root only) reports every exit with
 * its wait status; a process we did not start has no other way to tell us
 * how it died. Returns a socket to pass to attach_exit_status(), or -1.
 */
int attach_exit_watch(void)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC };
	char buf[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(enum proc_cn_mcast_op))] = { 0 };
	struct nlmsghdr *nl = (struct nlmsghdr *)buf;
	struct cn_msg *cn = NLMSG_DATA(nl);
	enum proc_cn_mcast_op op = PROC_CN_MCAST_LISTEN;
	int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);

	if (fd < 0)
		return -1;
	nl->nlmsg_len = NLMSG_LENGTH(sizeof(*cn) + sizeof(op));
	nl->nlmsg_type = NLMSG_DONE;
	nl->nlmsg_pid = (uint32_t)getpid();
	cn->id.idx = CN_IDX_PROC;
	cn->id.val = CN_VAL_PROC;
	cn->len = sizeof(op);
	memcpy(cn->data, &op, sizeof(op));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    send(fd, buf, nl->nlmsg_len, 0) != (ssize_t)nl->nlmsg_len) {
		close(fd);
		return -1;
	}
	return fd;
}

/* 1 with PID's wait status in *STATUS once its exit was reported, else 0. */
int attach_exit_status(int fd, pid_t pid, int *status)
{
	char buf[8192] __attribute__((aligned(NLMSG_ALIGNTO)));
	ssize_t n;

	while (fd >= 0 && (n = recv(fd, buf, sizeof(buf), 0)) > 0) {
		for (struct nlmsghdr *nl = (struct nlmsghdr *)buf; NLMSG_OK(nl, (size_t)n);
		     nl = NLMSG_NEXT(nl, n)) {
			const struct cn_msg *cn = NLMSG_DATA(nl);
			const struct proc_event *ev = (const struct proc_event *)cn->data;

			if (ev->what == PROC_EVENT_EXIT && ev->event_data.exit.process_pid == pid &&
			    ev->event_data.exit.process_tgid == pid) {
				*status = (int)ev->event_data.exit.exit_code;
				return 1;
			}
		}
	}
	return 0;
}

bool attach_process_runs(pid_t pid)
{
	struct proc_status ps;

	return !read_status(pid, &ps) && ps.state != 'Z' && ps.state != 'X';
}
