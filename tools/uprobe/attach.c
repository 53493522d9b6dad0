/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace -p PID: getting the agent into a process that is already
 * running (see uprobes_agent.h for what happens once it is there).
 *
 *  1. Refuse what must not be traced, naming the reason: no such process, a
 *     zombie or stopped one, one traced already, a setuid program, seccomp,
 *     another user's process.
 *  2. Borrow one thread with ptrace: PTRACE_SEIZE, PTRACE_INTERRUPT. A thread
 *     is borrowed only at a point where it holds no lock of libc's or the
 *     dynamic loader's: asleep in a restartable system call, or running code
 *     outside libc and ld.so. Otherwise it runs on for a millisecond and is
 *     asked again, or the next thread is.
 *  3. In that thread, call dlopen(libuprobes) unless the library is already
 *     there, then the agent's entry point, which returns the number of a new
 *     private socket; take that descriptor with pidfd_getfd() and have the
 *     thread close() its copy. Each call returns to address 0, a SIGSEGV that
 *     the ptrace stop swallows.
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
#include <dirent.h>
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "uprobes_agent.h"
#include "cli.h"

#define CALL_TIMEOUT_MS 5000
#define BORROW_TIMEOUT_MS 1000
#define XSTATE_MAX 16384

struct borrowed {
	pid_t pid, tid;
	struct user_regs_struct regs; /* as interrupted */
	uint8_t xstate[XSTATE_MAX];
	struct iovec xiov;
	char root[64]; /* /proc/PID/root: its files as it sees them */
};

static uint64_t ms_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void nap_us(long us)
{
	struct timespec ts = { 0, us * 1000 };

	nanosleep(&ts, NULL);
}

/* ---- 1. refusals ---------------------------------------------------------------------- */

struct proc_status {
	char name[64];
	char state;
	pid_t tracer;
	unsigned uid[2], gid[2]; /* real, effective */
	int seccomp;
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
	}
	fclose(f);
	return 0;
}

static bool have_cap_sys_ptrace(void)
{
	char line[256];
	unsigned long long eff = 0;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "CapEff:", 7))
			eff = strtoull(line + 7, NULL, 16);
	if (f)
		fclose(f);
	return eff & (1ULL << 19); /* CAP_SYS_PTRACE */
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
				 "one uprobe traces a process at a time", pid, ps->name, ps->tracer);
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

static int ptrace_refused(pid_t pid, const struct proc_status *ps, int err)
{
	char buf[16] = "";
	int fd = open("/proc/sys/kernel/yama/ptrace_scope", O_RDONLY | O_CLOEXEC);

	if (fd >= 0) {
		if (read(fd, buf, sizeof(buf) - 1) < 0)
			buf[0] = 0;
		close(fd);
		buf[strcspn(buf, "\n")] = 0;
	}
	if (err == EPERM && buf[0] && buf[0] != '0')
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): ptrace: %s (kernel.yama.ptrace_scope is %s: only "
				 "root, or a tracer the process allowed, may attach)", pid,
				 ps->name, strerror(err), buf);
	if (err == ESRCH)
		return cli_error(CLI_EXIT_FAIL, "-p %d: no such process (it exited)", pid);
	return cli_error(CLI_EXIT_FAIL, "-p %d (%s): ptrace: %s", pid, ps->name, strerror(err));
}

/* ---- symbols in the target ---------------------------------------------------------- */

struct mapping {
	uint64_t start, end, offset;
	char path[PATH_MAX];
};

/*
 * Mappings of the file whose base name is NAME (or starts with it when
 * PREFIX), and where the interrupted IP lies. Returns the number found.
 */
static int find_maps(pid_t pid, const char *name, bool prefix, struct mapping *out, int max)
{
	char path[64], line[PATH_MAX + 128];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f) && n < max) {
		struct mapping m;
		const char *base;
		int pos = 0;

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %" SCNx64 " %*s %*s %n", &m.start,
			   &m.end, &m.offset, &pos) < 3 || !pos || line[pos] != '/')
			continue;
		snprintf(m.path, sizeof(m.path), "%s", line + pos);
		m.path[strcspn(m.path, "\n")] = 0;
		base = strrchr(m.path, '/') + 1;
		if (prefix ? !strncmp(base, name, strlen(name)) : !strcmp(base, name))
			out[n++] = m;
	}
	fclose(f);
	return n;
}

/* File offset of a defined function's (default version's) code, or 0. */
static uint64_t sym_file_offset(const char *file, const char *sym)
{
	uint64_t value = 0, off = 0;
	Elf_Scn *scn = NULL;
	Elf *e;
	int fd;

	elf_version(EV_CURRENT);
	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	e = elf_begin(fd, ELF_C_READ, NULL);
	while (e && !value && (scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (sh.sh_type != SHT_DYNSYM && sh.sh_type != SHT_SYMTAB))
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *nm;

			if (!gelf_getsym(d, (int)i, &s) || s.st_shndx == SHN_UNDEF ||
			    GELF_ST_TYPE(s.st_info) != STT_FUNC)
				continue;
			nm = elf_strptr(e, sh.sh_link, s.st_name);
			if (nm && !strcmp(nm, sym)) {
				value = s.st_value;
				break;
			}
		}
	}
	for (size_t i = 0, n = 0; e && value && !elf_getphdrnum(e, &n) && i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(e, (int)i, &ph) && ph.p_type == PT_LOAD && value >= ph.p_vaddr &&
		    value < ph.p_vaddr + ph.p_filesz)
			off = value - ph.p_vaddr + ph.p_offset;
	}
	if (e)
		elf_end(e);
	close(fd);
	return off;
}

/* Address of SYM in the target's mapping of a file named NAME (see find_maps). */
static uint64_t target_sym(const struct borrowed *b, const char *name, bool prefix,
			   const char *sym, char *path_out, size_t len)
{
	struct mapping maps[32];
	char file[PATH_MAX + 64];
	uint64_t off;
	int n = find_maps(b->pid, name, prefix, maps, 32);

	if (n <= 0)
		return 0;
	if (path_out)
		snprintf(path_out, len, "%s", maps[0].path);
	if (strstr(maps[0].path, " (deleted)")) /* replaced on disk: read what is mapped */
		snprintf(file, sizeof(file), "/proc/%d/map_files/%" PRIx64 "-%" PRIx64, b->pid,
			 maps[0].start, maps[0].end);
	else
		snprintf(file, sizeof(file), "%s%s", b->root, maps[0].path);
	off = sym_file_offset(file, sym);
	for (int i = 0; off && i < n; i++)
		if (!strcmp(maps[i].path, maps[0].path) && off >= maps[i].offset &&
		    off < maps[i].offset + (maps[i].end - maps[i].start))
			return maps[i].start + off - maps[i].offset;
	return 0;
}

/* ---- 2. borrowing a thread ------------------------------------------------------------- */

static bool restartable(const struct user_regs_struct *r)
{
	long rax = (long)r->rax;

	return (long)r->orig_rax >= 0 && rax >= -516 && rax <= -512; /* -ERESTART* */
}

/* Not holding any lock of libc's or ld.so's, as far as can be told from outside. */
static bool safe_point(pid_t pid, const struct user_regs_struct *r)
{
	static const char *const libs[] = { "libc.so", "ld-linux", "libpthread.so" };
	struct mapping maps[64];

	if (restartable(r))
		return true;
	for (size_t k = 0; k < sizeof(libs) / sizeof(libs[0]); k++) {
		int n = find_maps(pid, libs[k], true, maps, 64);

		for (int i = 0; i < n; i++)
			if (r->rip >= maps[i].start && r->rip < maps[i].end)
				return false;
	}
	return true;
}

/* Wait for TID's next stop; 1 stopped, 0 exited, -1 timeout or error. */
static int wait_stop(pid_t tid, int *status, int timeout_ms)
{
	uint64_t end = ms_now() + (uint64_t)timeout_ms;
	long us = 20;

	for (;;) {
		pid_t got = waitpid(tid, status, __WALL | WNOHANG);

		if (got == tid)
			return WIFSTOPPED(*status) ? 1 : 0;
		if (got < 0)
			return errno == EINTR ? -1 : 0;
		if (ms_now() >= end)
			return -1;
		nap_us(us);
		if (us < 1000)
			us *= 2;
	}
}

/*
 * Seize one thread after another until one stops at a safe point; the others
 * are released at once. Returns 0 with B->tid borrowed.
 */
static int borrow(struct borrowed *b, const struct proc_status *ps)
{
	uint64_t end = ms_now() + BORROW_TIMEOUT_MS;
	char dir[64];
	int err = 0;

	snprintf(dir, sizeof(dir), "/proc/%d/task", b->pid);
	while (ms_now() < end) {
		DIR *d = opendir(dir);
		struct dirent *de;
		pid_t tids[256];
		int n = 0, st, tried = 0;

		if (!d)
			return cli_error(CLI_EXIT_FAIL, "-p %d: no such process (it exited)", b->pid);
		tids[n++] = b->pid; /* the main thread first */
		while ((de = readdir(d)) && n < 256) {
			pid_t tid = atoi(de->d_name);

			if (tid > 0 && tid != b->pid)
				tids[n++] = tid;
		}
		closedir(d);
		for (int i = 0; i < n; i++) {
			pid_t tid = tids[i];

			if (ptrace(PTRACE_SEIZE, tid, NULL, NULL)) {
				err = errno;
				if (err == EPERM && ptrace_is_ours(b->pid, tid))
					continue; /* it did not stop last time: see below */
				if (err == EPERM || err == EACCES)
					return ptrace_refused(b->pid, ps, err);
				continue; /* that thread exited, or is a zombie leader */
			}
			tried++;
			/*
			 * Not stopped within 200 ms (uninterruptible sleep): it stays
			 * seized, since only a stopped thread can be detached, and stops
			 * when it wakes; guard.c takes it over and lets it go then.
			 */
			if (ptrace(PTRACE_INTERRUPT, tid, NULL, NULL) || wait_stop(tid, &st, 200) != 1) {
				ptrace(PTRACE_DETACH, tid, NULL, NULL);
				continue;
			}
			/* The process is being stopped (SIGSTOP): it stays so. */
			if ((st >> 16) == PTRACE_EVENT_STOP && WSTOPSIG(st) != SIGTRAP) {
				ptrace(PTRACE_DETACH, tid, NULL, NULL);
				return cli_error(CLI_EXIT_FAIL, "-p %d (%s): the process is stopped "
						 "(SIG%s); resume it with 'kill -CONT %d' first",
						 b->pid, ps->name, sigabbrev_np(WSTOPSIG(st)), b->pid);
			}
			/* A signal being delivered: let it be delivered, untouched. */
			if ((st >> 16) != PTRACE_EVENT_STOP ||
			    ptrace(PTRACE_GETREGS, tid, NULL, &b->regs)) {
				ptrace(PTRACE_DETACH, tid, NULL,
				       (void *)(long)((st >> 16) ? 0 : WSTOPSIG(st)));
				continue;
			}
			/* epoll_wait, for one, fails with EINTR at our stop. */
			ptrace_restart_syscall(tid, &b->regs, false);
			if (safe_point(b->pid, &b->regs)) {
				b->xiov = (struct iovec){ b->xstate, sizeof(b->xstate) };
				if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &b->xiov)) {
					ptrace(PTRACE_SETREGS, tid, NULL, &b->regs);
					ptrace(PTRACE_DETACH, tid, NULL, NULL);
					return cli_error(CLI_EXIT_FAIL, "-p %d: cannot read thread %d's "
							 "FPU state: %s", b->pid, tid, strerror(errno));
				}
				b->tid = tid;
				return 0;
			}
			ptrace(PTRACE_SETREGS, tid, NULL, &b->regs);
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
		}
		if (!tried && kill(b->pid, 0))
			return cli_error(CLI_EXIT_FAIL, "-p %d: no such process (it exited)", b->pid);
		nap_us(1000);
	}
	return cli_error(CLI_EXIT_FAIL,
			 "-p %d (%s): no thread came to a point where it holds none of libc's "
			 "locks within %d ms; try again", b->pid, ps->name, BORROW_TIMEOUT_MS);
}

/* Every register back; the thread goes on, still traced when GUARDED. */
static void give_back(struct borrowed *b, bool guarded)
{
	ptrace(PTRACE_SETREGSET, b->tid, (void *)NT_X86_XSTATE, &b->xiov);
	ptrace(PTRACE_SETREGS, b->tid, NULL, &b->regs);
	ptrace(guarded ? PTRACE_CONT : PTRACE_DETACH, b->tid, NULL, NULL);
}

/* ---- 3. calls in the borrowed thread ------------------------------------------------------ */

/*
 * FN(A0, A1) in the borrowed thread, on its own stack below the red zone;
 * DATA (if any) is copied there first and A0 points to it. Returns 0 with
 * the result in *RET; -1 if the call did not come back.
 */
static int call(struct borrowed *b, uint64_t fn, uint64_t a0, uint64_t a1, const void *data,
		size_t len, uint64_t *ret)
{
	struct user_regs_struct r = b->regs;
	uint64_t sp = (b->regs.rsp - 256 - len) & ~15ULL, zero = 0;
	uint64_t end = ms_now() + CALL_TIMEOUT_MS;
	int st;

	if (data) {
		struct iovec l = { (void *)data, len }, rem = { (void *)sp, len };

		if (process_vm_writev(b->pid, &l, 1, &rem, 1, 0) != (ssize_t)len)
			return -1;
		a0 = sp;
	}
	sp -= 8; /* the return address: 0 */
	{
		struct iovec l = { &zero, 8 }, rem = { (void *)sp, 8 };

		if (process_vm_writev(b->pid, &l, 1, &rem, 1, 0) != 8)
			return -1;
	}
	r.rsp = sp;
	r.rip = fn;
	r.rdi = a0;
	r.rsi = a1;
	r.rax = 0;
	r.orig_rax = (uint64_t)-1; /* no system call to restart here */
	r.eflags &= ~0x400ULL;	   /* DF clear, as the ABI requires at a call */
	if (ptrace(PTRACE_SETREGS, b->tid, NULL, &r) || ptrace(PTRACE_CONT, b->tid, NULL, NULL))
		return -1;
	while (ms_now() < end) {
		int sig, got = wait_stop(b->tid, &st, (int)(end - ms_now()));

		if (got <= 0)
			return -1;
		sig = WSTOPSIG(st);
		if ((st >> 16) == 0 && sig == SIGSEGV &&
		    !ptrace(PTRACE_GETREGS, b->tid, NULL, &r) && r.rip == 0) {
			*ret = r.rax;
			return 0;
		}
		/* The program's own signals reach it as they would have anyway. */
		ptrace(PTRACE_CONT, b->tid, NULL, (void *)(long)((st >> 16) ? 0 : sig));
	}
	return -1;
}

static int read_string(pid_t pid, uint64_t addr, char *out, size_t len)
{
	struct iovec l = { out, len - 1 }, rem = { (void *)addr, len - 1 };
	ssize_t n = process_vm_readv(pid, &l, 1, &rem, 1, 0);

	out[n > 0 ? n : 0] = 0;
	return n > 0 ? 0 : -1;
}

/* The agent loaded (or found) and started: the tracer's end of its channel. */
static int start_agent(struct borrowed *b, const char *lib, const char *name)
{
	char path[PATH_MAX], why[256];
	uint64_t fn, ret = 0;
	int pidfd, sock, fd;

	fn = target_sym(b, "libuprobes.so", true, UPROBE_AGENT_ATTACH_SYM, path, sizeof(path));
	if (!fn && find_maps(b->pid, "libuprobes.so", true, (struct mapping[1]){ 0 }, 1) > 0)
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): it has a libuprobes without an agent (%s); use the "
				 "uprobe built with that library", b->pid, name, path), -1;
	if (!fn) {
		uint64_t dlopen_fn = target_sym(b, "libc.so.6", false, "dlopen", NULL, 0);
		uint64_t dlerror_fn = target_sym(b, "libc.so.6", false, "dlerror", NULL, 0);

		if (!dlopen_fn)
			return cli_error(CLI_EXIT_FAIL,
					 "-p %d (%s): no dlopen in the process (statically linked, "
					 "or not glibc 2.34 or later): the agent cannot be loaded",
					 b->pid, name), -1;
		if (call(b, dlopen_fn, 0, RTLD_NOW, lib, strlen(lib) + 1, &ret))
			return cli_error(CLI_EXIT_FAIL, "-p %d (%s): dlopen(%s) in thread %d did "
					 "not return", b->pid, name, lib, b->tid), -1;
		if (!ret) {
			why[0] = 0;
			if (dlerror_fn && !call(b, dlerror_fn, 0, 0, NULL, 0, &ret) && ret)
				read_string(b->pid, ret, why, sizeof(why));
			return cli_error(CLI_EXIT_FAIL, "-p %d (%s): cannot load the agent: %s",
					 b->pid, name, why[0] ? why : lib), -1;
		}
		fn = target_sym(b, "libuprobes.so", true, UPROBE_AGENT_ATTACH_SYM, NULL, 0);
		if (!fn)
			return cli_error(CLI_EXIT_FAIL, "-p %d (%s): %s loaded, but %s not found "
					 "in it", b->pid, name, lib, UPROBE_AGENT_ATTACH_SYM), -1;
	}
	if (call(b, fn, 0, 0, NULL, 0, &ret))
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): the agent did not start", b->pid, name), -1;
	fd = (int)ret; /* an int in eax */
	if (fd < 0)
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): the agent refused: %s", b->pid, name,
				 fd == -EBUSY ? "another uprobe is tracing the process" :
						strerror(-fd)), -1;
	pidfd = (int)syscall(SYS_pidfd_open, b->pid, 0);
	sock = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	if (sock < 0)
		snprintf(why, sizeof(why), "%s", strerror(errno));
	if (pidfd >= 0)
		close(pidfd);
	fn = target_sym(b, "libc.so.6", false, "close", NULL, 0);
	if (!fn || call(b, fn, (uint64_t)fd, 0, NULL, 0, &ret)) {
		if (sock >= 0)
			close(sock);
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): cannot close the agent's socket in "
				 "the process", b->pid, name), -1;
	}
	if (sock < 0)
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): pidfd_getfd: %s", b->pid, name, why), -1;
	fcntl(sock, F_SETFD, FD_CLOEXEC);
	return sock;
}

int attach_agent(pid_t pid, const char *lib, bool ret_probes)
{
	static struct borrowed b;
	struct proc_status ps;
	int sock;

	if (read_status(pid, &ps))
		return cli_error(CLI_EXIT_FAIL, "-p %d: no such process", pid), -1;
	if (refuse(pid, &ps))
		return -1;
	/*
	 * Return probes need the unwinders interposed (src/core/retunwind.c),
	 * which a library loaded with dlopen cannot do: a C++ exception would
	 * unwind into the return trampoline.
	 */
	if (ret_probes &&
	    find_maps(pid, "libstdc++.so", true, (struct mapping[1]){ 0 }, 1) > 0)
		return cli_error(CLI_EXIT_FAIL,
				 "-p %d (%s): return probes in a C++ program need its unwinder "
				 "interposed, which only a launched command has; run it as "
				 "'uprobe trace PROBE... -- COMMAND'", pid, ps.name), -1;
	memset(&b, 0, sizeof(b));
	b.pid = pid;
	snprintf(b.root, sizeof(b.root), "/proc/%d/root", pid);
	if (borrow(&b, &ps))
		return -1;
	sock = start_agent(&b, lib, ps.name);
	give_back(&b, sock >= 0 && !guard_begin(pid, b.tid));
	return sock >= 0 ? sock : -1;
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
