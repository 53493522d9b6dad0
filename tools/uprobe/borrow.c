/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace -p: one thread of a running process borrowed to call
 * functions in it (dlopen, the agent's entry point, close), for attach.c.
 *
 *  1. Borrow: PTRACE_SEIZE and PTRACE_INTERRUPT, one thread after another,
 *     until one stops where it holds no lock of libc's or the dynamic
 *     loader's: asleep in a restartable system call, or running code outside
 *     libc and ld.so. The others are let go at once.
 *  2. The way back, before anything changes (see below): a signal frame on
 *     the thread's stack holding everything it had, and a stub that returns
 *     into it.
 *  3. Calls: each with its return address on the way back; this process
 *     watches the thread's system calls (PTRACE_SYSCALL) for the stub's
 *     rt_sigreturn, and takes the result there.
 *  4. The end: every register (general, x87/SSE/AVX state) put back at a
 *     ptrace stop in the signal path, where the kernel restarts a system call
 *     the borrowing interrupted as if nothing happened.
 *
 * The way back. A borrowed call must never return to nowhere: uprobe may die
 * at any moment (SIGKILL, the OOM killer, a crash), and the thread would then
 * run on alone. So every call returns into code of the process that puts the
 * thread back by itself: rt_sigreturn on a kernel signal frame written on its
 * stack at the borrowing. rt_sigreturn restores every general register, the
 * flags, the whole xsave state (x87, SSE, AVX, AVX-512: the called functions
 * may clobber any vector register) and the signal mask; its uc_stack is made
 * a no-op (an invalid mode, which the kernel ignores) so that the thread's
 * alternate signal stack stays as it is. Until the stub is mapped, the way
 * back is libc's own __restore_rt; the stub then keeps each call's result in
 * rdi for this process to read at the stop. The thread's stack, from its rsp
 * at the borrowing down:
 *
 *   rsp0 - 128      red zone, untouched
 *   data            a call's argument data (dlopen's path)
 *   fpstate         64-byte aligned: the xsave image, then FP_XSTATE_MAGIC2
 *   siginfo         128 bytes, unused (rt_sigreturn checks the whole frame)
 *   ucontext        uc_flags, uc_stack, sigcontext (registers, -> fpstate), mask
 *   slot            the return address: a called function's rsp at its entry
 *   ...             the called functions' frames
 *
 * The stub, one r-x page mapped by a borrowed mmap and unmapped by the last
 * call:
 *
 *   +0   48 89 c7         mov %rax,%rdi      a call's result, kept in rdi
 *   +3   b8 0f 00 00 00   mov $15,%eax       rt_sigreturn: the thread is back
 *   +8   0f 05            syscall            unless uprobe stops it here
 *   +10  eb f7            jmp +3
 *   +12  89 c7            mov %eax,%edi      uprobe_agent_attach()'s socket,
 *   +14  b8 03 00 00 00   mov $3,%eax        closed in the process once
 *   +19  0f 05            syscall            uprobe took it at this close's
 *   +21  eb ec            jmp +3             entry (or died: the agent sees EOF)
 *
 * The frame's registers point a system call the borrowing interrupted back at
 * its syscall instruction: after rt_sigreturn it starts again; one that would
 * have gone on with restart_syscall() (nanosleep, poll) starts over, for its
 * whole time. That is only when uprobe died. Otherwise the last call,
 * munmap(stub), returns through libc's __restore_rt, and uprobe stops the
 * thread before it gets there (PTRACE_INTERRUPT after munmap's system call)
 * and puts the registers back itself, with the kernel's own restart.
 */
#include <cpuid.h>
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/ucontext.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "borrow.h"
#include "cli.h"
#include "uprobes.h"

#define CALL_TIMEOUT_MS 5000
/*
 * How long the threads are tried for a safe point. 1 s was too short on a
 * loaded machine (CI failed there twice, the bench too): a user would
 * rather wait than be told to try again.
 */
#define BORROW_TIMEOUT_MS 5000
#define DATA_MAX (PATH_MAX + 64)
#define PAGE 4096

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

static int write_mem(pid_t pid, uint64_t addr, const void *data, size_t len)
{
	struct iovec l = { (void *)data, len }, r = { (void *)addr, len };

	return process_vm_writev(pid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* ---- mappings and symbols of the target ------------------------------------------------ */

int find_maps(pid_t pid, const char *name, bool prefix, struct mapping *out, int max)
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

		if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %*s %*s %n", &m.start,
			   &m.end, m.perms, &m.offset, &pos) < 4 || !pos || line[pos] != '/')
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

/* What sym_file_offset looks for, and the best found so far. */
struct sym_want {
	const char *name;
	uint64_t off;
	bool is_default; /* off is the plain or NAME@@VERSION one */
};

static int sym_offset_of(const struct uprobe_sym *s, void *ctx)
{
	struct sym_want *w = ctx;
	const char *at = strchr(s->location, '@');
	size_t n = at ? (size_t)(at - s->location) : strlen(s->location);
	bool plain = !at || at[1] == '@';

	if ((s->flags & (UPROBE_SYM_PLT | UPROBE_SYM_EH | UPROBE_SYM_IFUNC)) || !s->file_offset ||
	    n != strlen(w->name) || strncmp(s->location, w->name, n))
		return 0;
	if (!w->off || (plain && !w->is_default)) {
		w->off = s->file_offset;
		w->is_default = plain;
	}
	return w->is_default; /* the default version found: stop */
}

/*
 * File offset of a defined function's (default version's) code, or 0. Through
 * the library's symbols (its cache), not libelf: the command does not link
 * libelf (the library opens it when it needs it).
 */
static uint64_t sym_file_offset(const char *file, const char *sym)
{
	struct sym_want w = { .name = sym };

	if (uprobe_symbols(file, sym, sym_offset_of, &w) < 0)
		return 0;
	return w.off;
}

uint64_t target_sym(const struct borrowed *b, const char *name, bool prefix, const char *sym,
		    char *path_out, size_t len)
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

/* ---- 1. borrowing a thread ------------------------------------------------------------- */

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

/* B->tid, stopped at a safe point, is ours: it is watched at its system calls from now on. */
static int borrowed(struct borrowed *b, pid_t tid)
{
	b->tid = tid;
	b->state = AT_BORROW;
	b->taken_fd = -1;
	b->watch_nr = -1;
	return ptrace(PTRACE_SETOPTIONS, tid, NULL, (void *)PTRACE_O_TRACESYSGOOD) ? -1 : 0;
}

int borrow(struct borrowed *b, const char *name)
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
					return -err;
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
						 b->pid, name, sigabbrev_np(WSTOPSIG(st)), b->pid);
			}
			/* A signal being delivered: let it be delivered, untouched. */
			if ((st >> 16) != PTRACE_EVENT_STOP ||
			    ptrace(PTRACE_GETREGS, tid, NULL, &b->regs)) {
				ptrace(PTRACE_DETACH, tid, NULL,
				       (void *)(long)((st >> 16) ? 0 : WSTOPSIG(st)));
				continue;
			}
			/*
			 * epoll_wait, for one, fails with EINTR at our stop: made to
			 * start again at once, should uprobe die before it lets go.
			 */
			if (ptrace_restart_syscall(tid, &b->regs, false))
				ptrace(PTRACE_SETREGS, tid, NULL, &b->regs);
			if (safe_point(b->pid, &b->regs)) {
				b->xiov = (struct iovec){ b->xstate, sizeof(b->xstate) };
				if (ptrace(PTRACE_GETREGSET, tid, (void *)NT_X86_XSTATE, &b->xiov) ||
				    borrowed(b, tid)) {
					ptrace(PTRACE_DETACH, tid, NULL, NULL);
					return cli_error(CLI_EXIT_FAIL, "-p %d: cannot read thread %d's "
							 "FPU state: %s", b->pid, tid, strerror(errno));
				}
				return 0;
			}
			ptrace(PTRACE_DETACH, tid, NULL, NULL);
		}
		if (!tried && kill(b->pid, 0))
			return cli_error(CLI_EXIT_FAIL, "-p %d: no such process (it exited)", b->pid);
		nap_us(1000);
	}
	return cli_error(CLI_EXIT_FAIL,
			 "-p %d (%s): no thread came to a point where it holds none of libc's "
			 "locks within %d ms; try again", b->pid, name, BORROW_TIMEOUT_MS);
}

/* ---- 2. the way back ------------------------------------------------------------------- */

/* mov $15,%rax; syscall: glibc's __restore_rt, the restorer of its signal handlers. */
static const uint8_t restore_rt[] = { 0x48, 0xc7, 0xc0, 0x0f, 0x00, 0x00, 0x00, 0x0f, 0x05 };

static const uint8_t stub_code[24] = {
	0x48, 0x89, 0xc7,		/* +0   mov %rax,%rdi */
	0xb8, 0x0f, 0x00, 0x00, 0x00,	/* +3   mov $15,%eax (rt_sigreturn) */
	0x0f, 0x05,			/* +8   syscall */
	0xeb, 0xf7,			/* +10  jmp +3 */
	0x89, 0xc7,			/* +12  mov %eax,%edi */
	0xb8, 0x03, 0x00, 0x00, 0x00,	/* +14  mov $3,%eax (close) */
	0x0f, 0x05,			/* +19  syscall */
	0xeb, 0xec,			/* +21  jmp +3 */
	0xcc,
};
#define STUB_RESULT 0
#define STUB_SIGRETURN_END 10
#define STUB_CLOSE 12
#define STUB_CLOSE_END 21

/* The kernel's signal frame (arch/x86/include/asm/sigframe.h), from its ucontext on. */
struct kernel_ucontext {
	uint64_t uc_flags;
	uint64_t uc_link;
	stack_t uc_stack;
	uint64_t gregs[NGREG]; /* struct sigcontext: r8 .. cr2, in glibc's REG_* order */
	uint64_t fpstate;
	uint64_t reserved1[8];
	uint64_t sigmask;
};
_Static_assert(sizeof(struct kernel_ucontext) == 304, "struct ucontext of x86-64");
#define SIGINFO_SIZE 128

#define UC_FP_XSTATE 0x1
#define UC_SIGCONTEXT_SS 0x2
#define UC_STRICT_RESTORE_SS 0x4
#define SS_NO_CHANGE 3 /* neither 0, SS_ONSTACK nor SS_DISABLE: restore_altstack() ignores it */

/* struct _fpx_sw_bytes, in the sw_reserved bytes of the fxsave area. */
#define FPX_SW_OFF 464
#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
struct fpx_sw_bytes {
	uint32_t magic1, extended_size;
	uint64_t xfeatures;
	uint32_t xstate_size, padding[7];
};

/* libc's __restore_rt in the target, found by its bytes in libc's executable mapping. */
static uint64_t find_restore_rt(pid_t pid)
{
	static uint8_t buf[65536 + sizeof(restore_rt)];
	struct mapping maps[16];
	int n = find_maps(pid, "libc.so.6", false, maps, 16);

	for (int i = 0; i < n; i++) {
		for (uint64_t at = maps[i].start; maps[i].perms[2] == 'x' && at < maps[i].end;
		     at += 65536) {
			size_t len = maps[i].end - at < sizeof(buf) ? maps[i].end - at : sizeof(buf);
			struct iovec l = { buf, len }, r = { (void *)at, len };
			const uint8_t *hit;

			if (process_vm_readv(pid, &l, 1, &r, 1, 0) != (ssize_t)len)
				break;
			hit = memmem(buf, len, restore_rt, sizeof(restore_rt));
			if (hit)
				return at + (uint64_t)(hit - buf);
		}
	}
	return 0;
}

/*
 * Bytes of the xsave image that hold state (xstate_bv), as rt_sigreturn
 * reads them: the legacy area and the header, then each component present
 * at its standard offset (CPUID leaf 0xd). 0 if more than LEN.
 */
static size_t xsave_used(const uint8_t *x, size_t len)
{
	uint64_t bv;
	size_t used = 576;

	memcpy(&bv, x + 512, sizeof(bv));
	for (unsigned i = 2; i < 63; i++) {
		unsigned size, off, ecx, edx;

		if (!(bv & (1ULL << i)))
			continue;
		__cpuid_count(0xd, i, size, off, ecx, edx);
		if (off + size > used)
			used = off + size;
	}
	return used <= len ? used : 0;
}

/* The thread's registers as rt_sigreturn is to restore them. */
static void frame_regs(const struct user_regs_struct *r, uint64_t *g)
{
	uint64_t ip = r->rip, ax = r->rax;
	long err = -(long)r->rax;

	/*
	 * Asleep in a system call (-ERESTARTSYS, -ERESTARTNOINTR,
	 * -ERESTARTNOHAND, -ERESTART_RESTARTBLOCK): back at its syscall
	 * instruction, which runs it again.
	 */
	if ((long)r->orig_rax >= 0 && (err == 512 || err == 513 || err == 514 || err == 516)) {
		ip -= 2;
		ax = r->orig_rax;
	}
	g[REG_R8] = r->r8, g[REG_R9] = r->r9, g[REG_R10] = r->r10, g[REG_R11] = r->r11;
	g[REG_R12] = r->r12, g[REG_R13] = r->r13, g[REG_R14] = r->r14, g[REG_R15] = r->r15;
	g[REG_RDI] = r->rdi, g[REG_RSI] = r->rsi, g[REG_RBP] = r->rbp, g[REG_RBX] = r->rbx;
	g[REG_RDX] = r->rdx, g[REG_RAX] = ax, g[REG_RCX] = r->rcx, g[REG_RSP] = r->rsp;
	g[REG_RIP] = ip, g[REG_EFL] = r->eflags;
	g[REG_CSGSFS] = (r->cs & 0xffff) | (r->ss & 0xffff) << 48;
}

/*
 * The signal frame on the thread's stack (see the diagram at the top):
 * B->slot and B->data. 0 or -1 (nothing written that the thread would see).
 */
static int write_frame(struct borrowed *b)
{
	static uint8_t fp[BORROW_XSTATE_MAX + 4];
	struct kernel_ucontext uc = { .uc_flags = UC_FP_XSTATE | UC_SIGCONTEXT_SS |
						  UC_STRICT_RESTORE_SS,
				      .uc_stack = { .ss_flags = SS_NO_CHANGE } };
	struct fpx_sw_bytes sw = { .magic1 = FP_XSTATE_MAGIC1 };
	size_t used = xsave_used(b->xstate, b->xiov.iov_len);
	uint32_t magic2 = FP_XSTATE_MAGIC2;
	uint64_t fp_at, uc_at;

	if (!used || ptrace(PTRACE_GETSIGMASK, b->tid, (void *)sizeof(uc.sigmask), &uc.sigmask))
		return -1;
	b->data = (b->regs.rsp - 128 - DATA_MAX) & ~15ULL;
	fp_at = (b->data - used - sizeof(magic2)) & ~63ULL;
	uc_at = (fp_at - SIGINFO_SIZE - sizeof(uc)) & ~15ULL;
	b->slot = uc_at - 8; /* rsp + 8 is 16-byte aligned at a function's entry */
	frame_regs(&b->regs, uc.gregs);
	uc.fpstate = fp_at;
	/* ptrace's image has XCR0's user features where the frame's sw bytes go. */
	memcpy(fp, b->xstate, used);
	memcpy(&sw.xfeatures, b->xstate + FPX_SW_OFF, sizeof(sw.xfeatures));
	sw.xstate_size = (uint32_t)used;
	sw.extended_size = (uint32_t)(used + sizeof(magic2));
	memcpy(fp + FPX_SW_OFF, &sw, sizeof(sw));
	memcpy(fp + used, &magic2, sizeof(magic2));
	return write_mem(b->pid, fp_at, fp, used + sizeof(magic2)) ||
	       write_mem(b->pid, uc_at, &uc, sizeof(uc)) ? -1 : 0;
}

/* ---- 3. calls -------------------------------------------------------------------------- */

enum { STOP_ON, STOP_DONE, STOP_FAIL };

/* At the stub's close: a copy of the descriptor for this process, before it goes. */
static void take_fd(struct borrowed *b, int fd)
{
	int pidfd = fd < 0 ? -1 : (int)syscall(SYS_pidfd_open, b->pid, 0);

	b->taken_fd = pidfd < 0 ? -1 : (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
	b->taken_err = b->taken_fd < 0 ? errno : 0;
	if (pidfd >= 0)
		close(pidfd);
}

/* The call has come back: the way back's rt_sigreturn, from the slot's frame. */
static bool way_back(const struct borrowed *b, const struct __ptrace_syscall_info *si)
{
	return si->entry.nr == SYS_rt_sigreturn && si->stack_pointer == b->slot + 8 &&
	       ((b->stub && si->instruction_pointer == b->stub + STUB_SIGRETURN_END) ||
		si->instruction_pointer == b->sigreturn + sizeof(restore_rt));
}

static void syscall_entry(struct borrowed *b, const struct __ptrace_syscall_info *si)
{
	if (b->stub && si->entry.nr == SYS_close &&
	    si->instruction_pointer == b->stub + STUB_CLOSE_END)
		take_fd(b, (int)si->entry.args[0]);
	if ((long)si->entry.nr == b->watch_nr &&
	    !memcmp(si->entry.args, b->watch_args, (size_t)b->watch_nargs * sizeof(uint64_t)))
		b->watching = true;
}

/*
 * One stop of the thread in a call: STOP_DONE at the way back (*RET: the
 * result the stub keeps in rdi), or at the exit of the watched system call
 * when UNTIL_EXIT (*RET: its result); else it goes on.
 */
static int call_stop(struct borrowed *b, int st, bool until_exit, uint64_t *ret)
{
	struct __ptrace_syscall_info si;
	long deliver = 0;

	if (WSTOPSIG(st) != (SIGTRAP | 0x80)) {
		if (!(st >> 16))
			deliver = WSTOPSIG(st); /* the program's own signal, as it would have been */
	} else if (ptrace(PTRACE_GET_SYSCALL_INFO, b->tid, (void *)sizeof(si), &si) <= 0) {
		return STOP_FAIL;
	} else if (si.op == PTRACE_SYSCALL_INFO_ENTRY && way_back(b, &si)) {
		*ret = si.entry.args[0];
		return STOP_DONE;
	} else if (si.op == PTRACE_SYSCALL_INFO_ENTRY) {
		syscall_entry(b, &si);
	} else if (si.op == PTRACE_SYSCALL_INFO_EXIT && b->watching) {
		b->watching = false;
		b->watch_ret = (uint64_t)si.exit.rval;
		if (until_exit) {
			*ret = b->watch_ret;
			return STOP_DONE;
		}
	}
	return ptrace(PTRACE_SYSCALL, b->tid, NULL, (void *)deliver) ? STOP_FAIL : STOP_ON;
}

/*
 * FN(A[0..5]) in the thread, stopped at a way back or where it was borrowed,
 * returning to RET_TO; until the way back's stop, or until the exit of the
 * watched system call when UNTIL_EXIT. 0, or -1 (RUNNING if it was resumed).
 */
static int run_call(struct borrowed *b, uint64_t fn, const uint64_t a[6], uint64_t ret_to,
		    bool until_exit, uint64_t *ret)
{
	struct user_regs_struct r = b->regs;
	uint64_t end = ms_now() + CALL_TIMEOUT_MS;
	int st, got;

	if (write_mem(b->pid, b->slot, &ret_to, sizeof(ret_to)))
		return -1;
	r.rsp = b->slot;
	r.rip = fn;
	r.rdi = a[0], r.rsi = a[1], r.rdx = a[2], r.rcx = a[3], r.r8 = a[4], r.r9 = a[5];
	r.rax = 0;		   /* no vector registers for a variadic callee */
	r.orig_rax = (uint64_t)-1; /* no system call to restart, nor the way back's to make */
	r.eflags &= ~0x400ULL;	   /* DF clear, as the ABI requires at a call */
	if (ptrace(PTRACE_SETREGS, b->tid, NULL, &r))
		return -1;
	b->state = RUNNING;
	if (ptrace(PTRACE_SYSCALL, b->tid, NULL, NULL))
		return -1;
	while ((got = wait_stop(b->tid, &st, (int)(end - ms_now()))) == 1) {
		int how = call_stop(b, st, until_exit, ret);

		if (how == STOP_DONE) {
			b->state = AT_WAY_BACK;
			return 0;
		}
		if (how == STOP_FAIL || ms_now() >= end)
			break;
	}
	return -1;
}

/* The stub, mapped by mmap() returning to libc's __restore_rt. */
static int map_stub(struct borrowed *b)
{
	uint64_t a[6] = { 0, PAGE, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
			  (uint64_t)-1, 0 }, ret, at;
	uint64_t fn = target_sym(b, "libc.so.6", false, "mmap", NULL, 0);

	b->watch_nr = SYS_mmap;
	b->watch_nargs = 4;
	memcpy(b->watch_args, a, sizeof(b->watch_args));
	b->watch_ret = (uint64_t)-1;
	if (!fn || run_call(b, fn, a, b->sigreturn, false, &ret))
		return -1;
	b->watch_nr = -1;
	at = b->watch_ret;
	if ((int64_t)at < 0 || (at & (PAGE - 1)))
		return -1;
	/* Pokes write through the page's protection (FOLL_FORCE), as a debugger's breakpoints. */
	for (size_t i = 0; i < sizeof(stub_code); i += 8) {
		uint64_t word;

		memcpy(&word, stub_code + i, 8);
		if (ptrace(PTRACE_POKEDATA, b->tid, (void *)(at + i), (void *)word))
			return -1;
	}
	b->stub = at;
	return 0;
}

int borrow_way_back(struct borrowed *b, const char *name)
{
	b->sigreturn = find_restore_rt(b->pid);
	if (!b->sigreturn)
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): no rt_sigreturn code (__restore_rt) "
				 "in its libc.so.6: not glibc?", b->pid, name), -1;
	if (write_frame(b))
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): cannot write a signal frame on thread "
				 "%d's stack: %s", b->pid, name, b->tid, strerror(errno)), -1;
	if (map_stub(b))
		return cli_error(CLI_EXIT_FAIL, "-p %d (%s): cannot map a page of code in thread "
				 "%d", b->pid, name, b->tid), -1;
	return 0;
}

int borrow_call(struct borrowed *b, uint64_t fn, uint64_t a0, uint64_t a1, const void *data,
		size_t len, bool close_result, uint64_t *ret)
{
	uint64_t a[6] = { a0, a1 };

	if (b->state != AT_WAY_BACK || !b->stub || len > DATA_MAX)
		return -1;
	if (data) {
		if (write_mem(b->pid, b->data, data, len))
			return -1;
		a[0] = b->data;
	}
	b->taken_fd = -1;
	return run_call(b, fn, a, b->stub + (close_result ? STUB_CLOSE : STUB_RESULT), false, ret);
}

/* ---- 4. the end ------------------------------------------------------------------------ */

int borrow_park(struct borrowed *b)
{
	uint64_t a[6] = { b->stub, b->stub ? PAGE : 0 }, ret;
	uint64_t fn = target_sym(b, "libc.so.6", false, "munmap", NULL, 0), end;
	int st;

	if (b->state != AT_WAY_BACK)
		return b->state == RUNNING ? -1 : 0;
	/*
	 * munmap(stub), or munmap(0, 0) without one: a call with one system
	 * call, after which the thread is stopped in the signal path, its way
	 * back still ahead of it (libc's __restore_rt).
	 */
	b->watch_nr = SYS_munmap;
	b->watch_nargs = 2;
	memcpy(b->watch_args, a, sizeof(b->watch_args));
	if (!fn || run_call(b, fn, a, b->sigreturn, true, &ret))
		return -1;
	b->watch_nr = -1;
	b->stub = 0;
	if (ptrace(PTRACE_INTERRUPT, b->tid, NULL, NULL) || ptrace(PTRACE_CONT, b->tid, NULL, NULL))
		return -1;
	b->state = RUNNING;
	end = ms_now() + CALL_TIMEOUT_MS;
	while (wait_stop(b->tid, &st, (int)(end - ms_now())) == 1) {
		if ((st >> 16) == PTRACE_EVENT_STOP && WSTOPSIG(st) == SIGTRAP) {
			b->state = AT_PARKED;
			return 0;
		}
		/* The program's signal goes on; a group stop does not hold this thread. */
		if (ptrace(PTRACE_CONT, b->tid, NULL, (void *)(long)((st >> 16) ? 0 : WSTOPSIG(st))))
			break;
	}
	return -1;
}

/*
 * A thread in a call, or stopped with the way back ahead of it: it goes back
 * by itself. One that does not stop now is let go by uprobe's exit.
 */
static void let_go(struct borrowed *b)
{
	long sig = 0;
	int st;

	if (b->state == RUNNING) {
		if (ptrace(PTRACE_INTERRUPT, b->tid, NULL, NULL) || wait_stop(b->tid, &st, 1000) != 1)
			return;
		if (!(st >> 16) && WSTOPSIG(st) != (SIGTRAP | 0x80))
			sig = WSTOPSIG(st); /* a signal of its own, being delivered */
	}
	ptrace(PTRACE_DETACH, b->tid, NULL, (void *)sig);
}

void borrow_release(struct borrowed *b, bool guarded)
{
	if (b->state != AT_BORROW && b->state != AT_PARKED) {
		let_go(b);
		return;
	}
	ptrace(PTRACE_SETREGSET, b->tid, (void *)NT_X86_XSTATE, &b->xiov);
	ptrace(PTRACE_SETREGS, b->tid, NULL, &b->regs);
	ptrace(guarded ? PTRACE_CONT : PTRACE_DETACH, b->tid, NULL, NULL);
}
