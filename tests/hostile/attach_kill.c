/* SPDX-License-Identifier: MIT */
/*
 * attach_kill: run a command (uprobe trace -p ...) under ptrace and kill it
 * at a chosen point of its work, chosen by events rather than time: its Nth
 * system call among those that act on or wait for the process it attaches
 * to (ptrace, wait4, process_vm_*, pidfd_*, sendmsg, recvmsg) or report
 * (write), counted from its first ptrace(2), where attaching begins. Only
 * those stop it (a seccomp filter returning SECCOMP_RET_TRACE): the others
 * run at full speed.
 *
 * The processes CMD starts (uprobe trace -p's guard) are followed and their
 * system calls counted with CMD's; a signal goes to CMD alone. Every one is
 * traced until it exits (the filter stays with it), and attach_kill waits for
 * them all.
 *
 *   attach_kill count -- CMD...  counts CMD's system calls from its first
 *				ptrace up to its write of "uprobe: tracing"
 *				(attached), prints "syscalls N", then ends CMD
 *				with SIGTERM; exits with CMD's status
 *   attach_kill SIG N -- CMD...  sends SIG (a number) to CMD as it enters
 *				that Nth system call, or its write of "uprobe:
 *				tracing" if that comes first, then lets CMD go
 *				on; prints "signal SIG at
 *				syscall N (number NR)", or "ended before
 *				syscall N"; exits with CMD's status (128+SIG if
 *				killed)
 */
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char attached[] = "uprobe: tracing";

/* SECCOMP_RET_TRACE for the system calls counted, in the command (before its exec). */
static int watch_syscalls(void)
{
	static const int nrs[] = { SYS_ptrace, SYS_wait4, SYS_process_vm_readv,
				   SYS_process_vm_writev, SYS_pidfd_open, SYS_pidfd_getfd,
				   SYS_sendmsg, SYS_recvmsg, SYS_write };
	enum { N = sizeof(nrs) / sizeof(nrs[0]) };
	struct sock_filter f[4 + N + 2] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	for (int i = 0; i < N; i++) /* match: to the last instruction, RET_TRACE */
		f[4 + i] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nrs[i],
							(unsigned char)(N - i), 0);
	f[4 + N] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
	f[5 + N] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE);
	return prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog);
}

static int status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* The write(2) being entered writes the "attached" message. */
static int writes_attached(pid_t pid, const struct __ptrace_syscall_info *si)
{
	char buf[sizeof(attached) - 1];
	struct iovec l = { buf, sizeof(buf) }, r = { (void *)si->seccomp.args[1], sizeof(buf) };

	return si->seccomp.nr == SYS_write && si->seccomp.args[0] == 2 &&
	       si->seccomp.args[2] >= sizeof(buf) &&
	       process_vm_readv(pid, &l, 1, &r, 1, 0) == sizeof(buf) &&
	       !memcmp(buf, attached, sizeof(buf));
}

int main(int argc, char **argv)
{
	int counting = argc > 2 && !strcmp(argv[1], "count") && !strcmp(argv[2], "--");
	int sig = counting ? 0 : argc > 4 ? atoi(argv[1]) : 0;
	long n = 0, at = counting ? 0 : argc > 4 ? atol(argv[2]) : 0;
	char **cmd = argv + (counting ? 3 : 4);
	int st = -1, ws, seen_ptrace = 0;
	pid_t pid, w;

	if (!counting && (argc < 5 || strcmp(argv[3], "--") || sig <= 0 || at <= 0)) {
		fprintf(stderr, "usage: attach_kill count -- CMD... | attach_kill SIG N -- CMD...\n");
		return 2;
	}
	pid = fork();
	if (pid == 0) {
		ptrace(PTRACE_TRACEME, 0, NULL, NULL);
		raise(SIGSTOP);
		if (watch_syscalls()) {
			perror("attach_kill: seccomp");
			_exit(126);
		}
		execvp(cmd[0], cmd);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFSTOPPED(st) ||
	    ptrace(PTRACE_SETOPTIONS, pid, NULL,
		   (void *)(PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEEXEC | PTRACE_O_EXITKILL |
			    PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE)) ||
	    ptrace(PTRACE_CONT, pid, NULL, NULL)) {
		perror("attach_kill");
		return 1;
	}
	/*
	 * CMD and what it starts (uprobe's guard process, which inherits the
	 * filter: without a tracer its watched calls would fail with ENOSYS),
	 * each traced until it exits; their calls counted together.
	 */
	while ((w = waitpid(-1, &ws, __WALL)) > 0) {
		struct __ptrace_syscall_info si;
		int deliver = 0, att;

		if (!WIFSTOPPED(ws)) {
			if (w == pid)
				st = ws;
			continue;
		}
		if ((ws >> 16) == PTRACE_EVENT_SECCOMP &&
		    ptrace(PTRACE_GET_SYSCALL_INFO, w, (void *)sizeof(si), &si) > 0 &&
		    si.op == PTRACE_SYSCALL_INFO_SECCOMP) {
			seen_ptrace |= si.seccomp.nr == SYS_ptrace;
			n += seen_ptrace;
			att = w == pid && seen_ptrace && writes_attached(w, &si);
			if (att && counting) {
				printf("syscalls %ld\n", n);
				fflush(stdout);
				kill(pid, SIGTERM);
				counting = 0;
				at = -1;
			} else if (at > 0 && (n == at || att)) {
				kill(pid, sig);
				printf("signal %d at syscall %ld (number %llu)\n", sig, n,
				       (unsigned long long)si.seccomp.nr);
				fflush(stdout);
				at = -1;
			}
		} else if ((ws >> 16) == 0 && (w == pid || WSTOPSIG(ws) != SIGSTOP)) {
			deliver = WSTOPSIG(ws); /* a signal of its own (not a new child's first stop) */
		}
		if (ptrace(PTRACE_CONT, w, NULL, (void *)(long)deliver) && errno != ESRCH)
			break;
	}
	if (st == -1)
		return 1;
	if (at > 0)
		printf("ended before syscall %ld\n", at);
	return status_of(st);
}
