/* SPDX-License-Identifier: MIT */
/*
 * SIGTRAP (and quiescence signal) ownership.
 *
 * Our handler is installed once (SA_SIGINFO | SA_NODEFER | SA_ONSTACK |
 * SA_RESTART). SA_NODEFER matters: a probe hit inside a handler (ours or the
 * program's) must trap again, and the kernel kills a thread whose breakpoint
 * trap arrives while SIGTRAP is blocked. For the same reason the interposed
 * sigprocmask/pthread_sigmask/sigaction below never let SIGTRAP be blocked.
 *
 * The program keeps its view of SIGTRAP: sigaction(SIGTRAP, ...) after our
 * install stores the program's disposition as the "chained" one and returns
 * the previous chained one; traps that are not ours are delivered to it exactly
 * as the kernel would have (handler called, or default action: death).
 *
 * The chained disposition is double-buffered so that the signal handler can
 * read it while a sigaction() call in another thread replaces it.
 *
 * Our handlers return through a restorer of our own (arch sigreturn.S), not
 * libc's __restore_rt, which may be probed: the raw rt_sigaction installs them.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifdef __x86_64__
#include "arch/x86_64/sigreturn.h"
#endif
#include "ubp/ubp.h"

/* glibc's own entry point: never interposed, unlike "sigaction". */
extern int __sigaction(int sig, const struct sigaction *act, struct sigaction *old);

static ubp_trap_fn trap_fn;
static int installed;
static pthread_mutex_t chain_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t foreign_traps;

/*
 * The signals we own: SIGTRAP (breakpoints, redirects) and ubp_quiesce_sig()
 * (quiescence requests; a real-time signal, because two SIGTRAPs pending at
 * once merge into one and a breakpoint trap would be lost). Each keeps the
 * program's disposition, double-buffered for the signal handler to read.
 */
struct owned {
	int sig;
	int active; /* our handler is installed */
	struct sigaction chained[2];
	int cur;
};

/*
 * SIGSEGV and SIGBUS are owned only once a fault-safe read exists
 * (ubp_fault_install): a fetch-arg that reads a bad pointer must come back
 * as a fault, not kill the program, and a synchronous fault on a blocked
 * signal kills the thread, so from then on they are never blocked either.
 */
enum { OWN_TRAP, OWN_QUIESCE, OWN_SEGV, OWN_BUS, N_OWNED };

static struct owned owned[N_OWNED] = {
	{ .sig = SIGTRAP }, { .sig = UBP_QUIESCE_SIG_DEFAULT }, { .sig = SIGSEGV }, { .sig = SIGBUS },
};
static ubp_trap_fn fault_fn;

static struct owned *owned_of(int sig)
{
	for (unsigned i = 0; i < N_OWNED; i++)
		if (owned[i].sig == sig && __atomic_load_n(&owned[i].active, __ATOMIC_ACQUIRE))
			return &owned[i];
	return NULL;
}

static void chained_get(struct owned *o, struct sigaction *out)
{
	*out = o->chained[__atomic_load_n(&o->cur, __ATOMIC_ACQUIRE)];
}

/* Keep our signals out of every mask. */
static void mask_strip(sigset_t *set)
{
	for (unsigned i = 0; i < N_OWNED; i++)
		if (__atomic_load_n(&owned[i].active, __ATOMIC_ACQUIRE))
			sigdelset(set, owned[i].sig);
}

static bool mask_has_owned(const sigset_t *set)
{
	for (unsigned i = 0; i < N_OWNED; i++)
		if (__atomic_load_n(&owned[i].active, __ATOMIC_ACQUIRE) &&
		    sigismember(set, owned[i].sig) == 1)
			return true;
	return false;
}

/* Caller holds chain_lock. */
static void chained_set_locked(struct owned *o, const struct sigaction *act)
{
	int next = !o->cur;

	o->chained[next] = *act;
	mask_strip(&o->chained[next].sa_mask);
	__atomic_store_n(&o->cur, next, __ATOMIC_RELEASE);
}

static long raw_sigprocmask(int how, const sigset_t *set, sigset_t *old)
{
	return syscall(SYS_rt_sigprocmask, how, set, old, _NSIG / 8);
}

/* The default action (SIGTRAP: core dump; a real-time signal: terminate), as without us. */
static void chain_default(int sig)
{
	struct sigaction dfl;
	sigset_t one;

	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	__sigaction(sig, &dfl, NULL);
	sigemptyset(&one);
	sigaddset(&one, sig);
	raw_sigprocmask(SIG_UNBLOCK, &one, NULL);
	syscall(SYS_tgkill, getpid(), syscall(SYS_gettid), sig);
}

static void chain(int sig, siginfo_t *si, ucontext_t *uc)
{
	struct owned *o = owned_of(sig);
	struct sigaction act;
	sigset_t old;

	if (!o)
		return;
	if (sig == SIGTRAP)
		__atomic_fetch_add(&foreign_traps, 1, __ATOMIC_RELAXED);
	chained_get(o, &act);
	if (!(act.sa_flags & SA_SIGINFO) && act.sa_handler == SIG_IGN) {
		/* The kernel ignores a sent signal, but forces death on a real trap. */
		if (si->si_code > 0)
			chain_default(sig);
		return;
	}
	if (!(act.sa_flags & SA_SIGINFO) && act.sa_handler == SIG_DFL) {
		chain_default(sig);
		return;
	}
	if (act.sa_flags & SA_RESETHAND) {
		struct sigaction dfl;

		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		pthread_mutex_lock(&chain_lock);
		chained_set_locked(o, &dfl);
		pthread_mutex_unlock(&chain_lock);
	}
	raw_sigprocmask(SIG_BLOCK, &act.sa_mask, &old);
	if (act.sa_flags & SA_SIGINFO)
		act.sa_sigaction(sig, si, uc);
	else
		act.sa_handler(sig);
	raw_sigprocmask(SIG_SETMASK, &old, NULL);
}

static void ubp_sigtrap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	if (trap_fn && trap_fn(si, uc))
		return;
	chain(sig, si, uc);
}

static void ubp_sigfault(int sig, siginfo_t *si, void *ucv);

static void ubp_sigquiesce(int sig, siginfo_t *si, void *ucv)
{
	if (ubp_quiesce_signal(si, ucv))
		return;
	chain(sig, si, ucv);
}

/*
 * The signals with a handler (SigCgt of /proc/self/status: bit sig - 1), or
 * every signal when that cannot be read. Only a handler's mask matters here,
 * and asking each signal's action was 64 rt_sigaction calls in every traced
 * image (~60 us on this VM; this read: ~8 us).
 */
static uint64_t caught_signals(void)
{
	char buf[4096], *p;
	uint64_t mask = 0;
	/* Through syscall(), as raw_sigprocmask: libc's open and read may be probed. */
	long fd = syscall(SYS_openat, AT_FDCWD, "/proc/self/status", O_RDONLY | O_CLOEXEC);
	long n = fd >= 0 ? syscall(SYS_read, fd, buf, sizeof(buf) - 1) : -1;

	if (fd >= 0)
		syscall(SYS_close, fd);
	if (n <= 0)
		return ~0ull;
	buf[n] = 0;
	p = strstr(buf, "\nSigCgt:\t");
	if (!p)
		return ~0ull;
	for (p += 9; *p != '\n'; p++) {
		int d = *p >= '0' && *p <= '9' ? *p - '0' : *p >= 'a' && *p <= 'f' ? *p - 'a' + 10 : -1;

		if (d < 0)
			return ~0ull;
		mask = mask << 4 | (uint64_t)d;
	}
	return mask;
}

/* Other handlers installed before us may block our signals while they run. */
static void unblock_owned_everywhere(void)
{
	uint64_t caught = caught_signals();
	sigset_t ours;

	for (int sig = 1; sig < _NSIG; sig++) {
		struct sigaction act;

		if (owned_of(sig) || sig == SIGKILL || sig == SIGSTOP ||
		    (sig <= 64 && !(caught >> (sig - 1) & 1)))
			continue;
		if (__sigaction(sig, NULL, &act) || !mask_has_owned(&act.sa_mask))
			continue;
		mask_strip(&act.sa_mask);
		__sigaction(sig, &act, NULL);
	}
	sigemptyset(&ours);
	for (unsigned i = 0; i < N_OWNED; i++)
		if (__atomic_load_n(&owned[i].active, __ATOMIC_ACQUIRE))
			sigaddset(&ours, owned[i].sig);
	raw_sigprocmask(SIG_UNBLOCK, &ours, NULL);
}

/* Our handler of each owned signal. */
static void (*const owned_handler[N_OWNED])(int, siginfo_t *, void *) = {
	[OWN_TRAP] = ubp_sigtrap,
	[OWN_QUIESCE] = ubp_sigquiesce,
	[OWN_SEGV] = ubp_sigfault,
	[OWN_BUS] = ubp_sigfault,
};

#ifdef __x86_64__
#ifndef SA_RESTORER
#define SA_RESTORER 0x04000000
#endif

/* The kernel's struct sigaction (x86-64), as rt_sigaction takes it. */
struct ksigaction {
	void (*handler)(int, siginfo_t *, void *);
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

/* Our handler for sig, returning through our own restorer: 0 or -1 (errno). */
static int own_install(int sig, void (*handler)(int, siginfo_t *, void *))
{
	struct ksigaction act = {
		.handler = handler,
		.flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART | SA_RESTORER,
		.restorer = uprobes_sigreturn,
	};

	return syscall(SYS_rt_sigaction, sig, &act, NULL, sizeof(act.mask)) ? -1 : 0;
}
#else
/* Where the kernel provides the signal return (vDSO), libc's sigaction is enough. */
static int own_install(int sig, void (*handler)(int, siginfo_t *, void *))
{
	struct sigaction act;

	memset(&act, 0, sizeof(act));
	act.sa_sigaction = handler;
	act.sa_flags = SA_SIGINFO | SA_NODEFER | SA_ONSTACK | SA_RESTART;
	sigemptyset(&act.sa_mask);
	return __sigaction(sig, &act, NULL);
}
#endif

/* Install our handler for owned[i], keeping the previous disposition chained. */
static int own_locked(unsigned i)
{
	struct sigaction old;

	if (__sigaction(owned[i].sig, NULL, &old) || own_install(owned[i].sig, owned_handler[i]))
		return -errno;
	chained_set_locked(&owned[i], &old);
	__atomic_store_n(&owned[i].active, 1, __ATOMIC_RELEASE);
	return 0;
}

/*
 * Take back every owned signal whose handler is no longer ours: the program
 * replaced it with the raw rt_sigaction system call, which the interposed
 * sigaction never sees (or it runs where nothing is interposed: a library
 * loaded by dlopen). The handler found there becomes the chained one, as if
 * the program had called sigaction. Caller holds chain_lock.
 */
static uint64_t reclaim_locked(void)
{
	uint64_t taken = 0;

	for (unsigned i = 0; i < N_OWNED; i++) {
		struct sigaction cur;

		if (!owned[i].active || __sigaction(owned[i].sig, NULL, &cur))
			continue;
		if ((cur.sa_flags & SA_SIGINFO) && cur.sa_sigaction == owned_handler[i])
			continue;
		if (!own_locked(i))
			taken |= 1ull << (owned[i].sig - 1);
	}
	if (taken)
		unblock_owned_everywhere();
	return taken;
}

int ubp_quiesce_sig(void)
{
	return __atomic_load_n(&owned[OWN_QUIESCE].sig, __ATOMIC_RELAXED);
}

/*
 * Choose and own the quiescence signal: the one the environment names
 * (UPROBE_QUIESCE_SIGNAL=N), else SIGRTMAX, else the highest real-time signal
 * below it that rt_sigaction accepts. Valgrind keeps SIGRTMAX for itself and
 * refuses it with EINVAL; no kernel does. Caller holds chain_lock.
 */
static int own_quiesce_locked(void)
{
	const char *env = getenv("UPROBE_QUIESCE_SIGNAL");
	int err = -EINVAL;

	if (env && *env) {
		char *end;
		long n = strtol(env, &end, 10);

		if (*end || n < SIGRTMIN || n > SIGRTMAX)
			return -EINVAL;
		owned[OWN_QUIESCE].sig = (int)n;
		return own_locked(OWN_QUIESCE);
	}
	for (int sig = SIGRTMAX; sig >= SIGRTMIN && err == -EINVAL; sig--) {
		__atomic_store_n(&owned[OWN_QUIESCE].sig, sig, __ATOMIC_RELAXED);
		err = own_locked(OWN_QUIESCE);
	}
	return err;
}

int ubp_signal_install(ubp_trap_fn fn)
{
	int ret = 0;

	pthread_mutex_lock(&chain_lock);
	trap_fn = fn;
	if (installed)
		goto out;
	ret = own_locked(OWN_TRAP);
	if (!ret)
		ret = own_quiesce_locked();
	if (ret)
		goto out;
	__atomic_store_n(&installed, 1, __ATOMIC_RELEASE);
	unblock_owned_everywhere();
out:
	pthread_mutex_unlock(&chain_lock);
	return ret;
}

uint64_t ubp_signal_reclaim(void)
{
	uint64_t taken;

	pthread_mutex_lock(&chain_lock);
	taken = reclaim_locked();
	pthread_mutex_unlock(&chain_lock);
	return taken;
}

static void ubp_sigfault(int sig, siginfo_t *si, void *ucv)
{
	ubp_trap_fn fn = __atomic_load_n(&fault_fn, __ATOMIC_ACQUIRE);

	if (fn && fn(si, ucv))
		return;
	chain(sig, si, ucv);
}

int ubp_fault_install(ubp_trap_fn fn)
{
	int ret = 0;

	pthread_mutex_lock(&chain_lock);
	__atomic_store_n(&fault_fn, fn, __ATOMIC_RELEASE);
	if (owned[OWN_SEGV].active)
		goto out;
	ret = own_locked(OWN_SEGV);
	if (!ret)
		ret = own_locked(OWN_BUS);
	if (!ret)
		unblock_owned_everywhere();
out:
	pthread_mutex_unlock(&chain_lock);
	return ret;
}

uint64_t ubp_foreign_traps(void)
{
	return __atomic_load_n(&foreign_traps, __ATOMIC_RELAXED);
}

/* ---- interposed libc entry points (exported, see src/libuprobes.map) ---- */

__attribute__((visibility("default"))) int sigaction(int sig, const struct sigaction *act,
						      struct sigaction *old)
{
	struct owned *o = owned_of(sig);
	struct sigaction copy;

	if (o) {
		pthread_mutex_lock(&chain_lock);
		if (old)
			chained_get(o, old);
		if (act)
			chained_set_locked(o, act);
		pthread_mutex_unlock(&chain_lock);
		return 0;
	}
	if (act && mask_has_owned(&act->sa_mask)) {
		copy = *act;
		mask_strip(&copy.sa_mask);
		act = &copy;
	}
	return __sigaction(sig, act, old);
}

typedef void (*sighandler_fn)(int);

/* signal() semantics of glibc: BSD (SA_RESTART, the signal itself blocked). */
static sighandler_fn signal_via_sigaction(int sig, sighandler_fn handler, int flags)
{
	struct sigaction act, old;

	memset(&act, 0, sizeof(act));
	act.sa_handler = handler;
	act.sa_flags = flags;
	sigemptyset(&act.sa_mask);
	if (!(flags & SA_NODEFER))
		sigaddset(&act.sa_mask, sig);
	if (sigaction(sig, &act, &old))
		return SIG_ERR;
	return old.sa_handler;
}

__attribute__((visibility("default"))) sighandler_fn signal(int sig, sighandler_fn handler)
{
	return signal_via_sigaction(sig, handler, SA_RESTART);
}

__attribute__((visibility("default"))) sighandler_fn bsd_signal(int sig, sighandler_fn handler)
{
	return signal_via_sigaction(sig, handler, SA_RESTART);
}

__attribute__((visibility("default"))) sighandler_fn sysv_signal(int sig, sighandler_fn handler)
{
	return signal_via_sigaction(sig, handler, SA_RESETHAND | SA_NODEFER);
}

typedef int (*sigmask_fn)(int, const sigset_t *, sigset_t *);

static const sigset_t *mask_without_trap(int how, const sigset_t *set, sigset_t *copy)
{
	if (!set || how == SIG_UNBLOCK || !mask_has_owned(set))
		return set;
	*copy = *set;
	mask_strip(copy);
	return copy;
}

__attribute__((visibility("default"))) int sigprocmask(int how, const sigset_t *set,
							sigset_t *old)
{
	static sigmask_fn real;
	sigset_t copy;

	if (!real)
		real = (sigmask_fn)dlsym(RTLD_NEXT, "sigprocmask");
	if (!real) {
		errno = ENOSYS;
		return -1;
	}
	return real(how, mask_without_trap(how, set, &copy), old);
}

__attribute__((visibility("default"))) int pthread_sigmask(int how, const sigset_t *set,
							    sigset_t *old)
{
	static sigmask_fn real;
	sigset_t copy;

	if (!real)
		real = (sigmask_fn)dlvsym(RTLD_NEXT, "pthread_sigmask", "GLIBC_2.32");
	if (!real)
		real = (sigmask_fn)dlsym(RTLD_NEXT, "pthread_sigmask");
	if (!real)
		return ENOSYS;
	return real(how, mask_without_trap(how, set, &copy), old);
}
