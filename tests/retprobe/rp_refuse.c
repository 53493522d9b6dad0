/* SPDX-License-Identifier: MIT */
/*
 * Return probes where no return could be followed, and returns the shadow
 * stack does not expect: a call still running when its thread's shadow stack
 * goes away, a call that returns on another thread.
 *
 *   returns_twice   setjmp, _setjmp, __sigsetjmp, vfork, __vfork, getcontext
 *                   by name, by address and through the PLT: ENOTSUP naming
 *                   the function (a longjmp back would find no shadow entry:
 *                   SIGILL); an entry probe on each attaches
 *   no_caller       the program's entry point (_start: argc on top of the
 *                   stack), ld.so's lazy-binding resolver (entered by a jump
 *                   with two words pushed), libc's signal return trampoline,
 *                   a .cold part; a PLT stub (a CFA expression) is followed
 *   thread_end_live r: on glibc's __nptl_deallocate_tsd, which runs the
 *                   thread's key destructors (ours frees the shadow stack)
 *                   and then returns: reported unwound, and the thread ends
 *                   normally (it was SIGILL)
 *   coroutine_other_thread  a coroutine suspended inside a followed call is
 *                   resumed by another thread, where the call returns: its
 *                   return is reported there, once (it was SIGILL)
 */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "retprobe.h"

static const char *libc_path(void)
{
	static Dl_info di;

	if (!di.dli_fname && !dladdr((void *)printf, &di))
		return NULL;
	return di.dli_fname;
}

/*
 * A return probe at path:loc (addr when loc is NULL) is refused with ENOTSUP
 * and a message holding name and why; an entry probe there attaches.
 */
static void expect_refused(const char *path, const char *loc, const void *addr, unsigned int flags,
			   const char *name, const char *why)
{
	struct uprobe_opts ro = {.sz = sizeof(ro), .ret_handler = h_noop_ret, .flags = flags};
	struct uprobe_opts eo = {.sz = sizeof(eo), .handler = h_noop_entry, .flags = flags};
	struct uprobe *p = loc ? uprobe_attach(path, loc, &ro) : uprobe_attach_addr(addr, &ro);
	char what[160];

	snprintf(what, sizeof(what), "r: on %s", name);
	expect_refusal(p, ENOTSUP, what);
	CHECK_CONTAINS(uprobe_last_error(), name);
	CHECK_CONTAINS(uprobe_last_error(), why);
	p = loc ? uprobe_attach(path, loc, &eo) : uprobe_attach_addr(addr, &eo);
	if (!p)
		TL_FAIL("entry probe on %s: %s (%s)", name, strerror(errno), uprobe_last_error());
	uprobe_free(p);
}

/* Keeps _setjmp@plt, __sigsetjmp@plt, vfork@plt and getcontext@plt in this program. */
NOIPA static int use_plt_stubs(void)
{
	jmp_buf jb;
	sigjmp_buf sjb;
	ucontext_t uc;
	volatile int n = 0;

	if (!setjmp(jb))
		n++;
	if (!sigsetjmp(sjb, 1))
		n++;
	if (!getcontext(&uc))
		n++;
	if (!vfork())
		_exit(0);
	return n;
}

void t_refuse_returns_twice(unsigned int flags)
{
	static const char *const names[] = {"setjmp", "_setjmp", "__sigsetjmp",
					    "vfork",  "__vfork", "getcontext"};
	static const char *const plt[] = {"_setjmp@plt", "__sigsetjmp@plt", "vfork@plt",
					  "getcontext@plt"};
	const char *libc = libc_path();
	size_t i;

	if (!libc) {
		TL_FAIL("no path for libc");
		return;
	}
	if (flags == 0x7fffffff)
		use_plt_stubs(); /* never: only its PLT stubs are wanted */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		void *addr = dlsym(RTLD_DEFAULT, names[i]);

		expect_refused(libc, names[i], NULL, flags, names[i], "returns twice");
		if (!addr)
			TL_FAIL("dlsym %s: %s", names[i], dlerror());
		else
			expect_refused(NULL, NULL, addr, flags, names[i], "returns twice");
	}
	for (i = 0; i < sizeof(plt) / sizeof(plt[0]); i++)
		expect_refused(NULL, plt[i], NULL, flags, plt[i], "returns twice");
}

void t_refuse_no_caller(unsigned int flags)
{
	struct uprobe_opts ro = {.sz = sizeof(ro), .ret_handler = h_noop_ret, .flags = flags};
	const char *libc = libc_path();
	struct uprobe *p;

	expect_refused(NULL, "_start", NULL, flags, "_start", "ELF entry point");
	expect_refused("/lib64/ld-linux-x86-64.so.2", "_dl_runtime_resolve_xsavec", NULL, flags,
		       "_dl_runtime_resolve_xsavec", "a jump enters it, not a call");
	/* Local symbols: only with libc6-dbg. */
	p = libc ? uprobe_attach(libc, "__restore_rt", &ro) : NULL;
	uprobe_free(p);
	if (errno == ESRCH) {
		printf("  __restore_rt, __assert_fail_base.cold not found (no libc6-dbg)\n");
	} else {
		expect_refused(libc, "__restore_rt", NULL, flags, "__restore_rt", "signal frame");
		expect_refused(libc, "__assert_fail_base.cold", NULL, flags,
			       "__assert_fail_base.cold", "a jump enters it, not a call");
	}
	/* A PLT stub's CFA is an expression, right at a call: its calls are followed. */
	p = uprobe_attach(NULL, "free@plt", &ro);
	if (forced_ret_path()) {
		/*
		 * By the hijack only: the lazy stub's last jump goes to PLT0 (no
		 * symbol, taken for a cold part). make check-forced: refused for that
		 * alone, not for want of a caller.
		 */
		expect_refusal(p, ENOTSUP, "r: on free@plt");
		CHECK_CONTAINS(uprobe_last_error(), "free@plt: its exits cannot be patched "
			       "(UPROBE_RET_PATH=site-strict): 'jmp ");
		CHECK_CONTAINS(uprobe_last_error(), "' at +0xb jumps to fn_");
		CHECK_CONTAINS(uprobe_last_error(), " (no symbol; entered mid-frame or branching "
			       "back into this one: a cold part), a part of a function elsewhere");
		return;
	}
	if (!p)
		TL_FAIL("r: on free@plt: %s (%s)", strerror(errno), uprobe_last_error());
	uprobe_free(p);
}

static pid_t te_tid;

static void *te_nothing(void *arg)
{
	te_tid = rp_gettid();
	return arg;
}

void t_thread_end_live(unsigned int flags)
{
	struct fdesc d = {.name = "__nptl_deallocate_tsd", .rk = RK_NONE, .log = LOG_ALL};
	struct uprobe_opts eo = {.sz = sizeof(eo), .handler = h_noop_entry, .flags = flags};
	struct uprobe_info info = {.sz = sizeof(info)};
	struct uprobe *p = uprobe_attach(libc_path(), d.name, &eo);
	pthread_t t;
	void *v = NULL;
	unsigned int i;

	if (!p && errno == ESRCH) {
		printf("SKIP: retprobe/thread_end_live: %s: no libc6-dbg\n", d.name);
		fflush(stdout);
		_exit(0);
	}
	if (!p || uprobe_get_info(p, &info)) {
		TL_FAIL("%s: %s", d.name, uprobe_last_error());
		uprobe_free(p);
		return;
	}
	uprobe_free(p);
	d.fn = (const void *)info.addr;
	if (!rp_attach(&d, flags, 1, 1))
		return;
	ev_reset();
	if (pthread_create(&t, NULL, te_nothing, (void *)5L)) {
		TL_FAIL("pthread_create failed");
		return;
	}
	pthread_join(t, &v);
	CHECK_EQ_INT((long)v, 5);
	CHECK_EQ_INT(ev_count(), 2);
	for (i = 0; i < ev_count() && i < 2; i++) {
		CHECK_EQ_INT(evlog[i].kind, i ? 'U' : 'E');
		CHECK_EQ_INT(evlog[i].tid, te_tid);
	}
	if (ev_count() == 2)
		check_ret_ev(&evlog[0], &evlog[1], 0);
	check_probe(&d, 1, 1, 1, 0);
}

/* ---- a coroutine that moves to another thread ------------------------------ */

#define MG_STACK (64 * 1024)

static ucontext_t mg_co, mg_main, mg_thread;
static long mg_result;
static pid_t mg_tid;

/* Suspends the coroutine inside this call; the call returns where it is resumed. */
NOIPA static long mg_f(long x)
{
	swapcontext(&mg_co, &mg_main);
	OPAQUE(x);
	return x + 1;
}

NOIPA static long mg_g(long x)
{
	OPAQUE(x);
	return x * 2;
}

static void mg_body(void)
{
	mg_result = mg_f(41);
} /* then uc_link: back to the resuming thread */

static void *mg_resume(void *arg)
{
	mg_tid = rp_gettid();
	swapcontext(&mg_thread, &mg_co);
	return arg;
}

void t_coroutine_other_thread(unsigned int flags)
{
	struct fdesc df = {.name = "mg_f", .fn = mg_f, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc dg = {.name = "mg_g", .fn = mg_g, .rk = RK_LONG, .log = LOG_ALL};
	void *stack = malloc(MG_STACK);
	char seq[256] = "";
	pthread_t t;

	/*
	 * A call that returns on another thread is followed by the hijack only:
	 * the site path's records are per thread (docs/architecture.md, "Return
	 * sites"). The child process of this case takes the hijack.
	 */
	setenv("UPROBE_RET_PATH", "hijack", 1);
	if (!stack || !rp_attach(&df, flags, 1, 1) || !rp_attach(&dg, flags, 1, 1))
		goto out;
	getcontext(&mg_co);
	mg_co.uc_stack.ss_sp = stack;
	mg_co.uc_stack.ss_size = MG_STACK;
	mg_co.uc_link = &mg_thread;
	makecontext(&mg_co, mg_body, 0);
	ev_reset();
	swapcontext(&mg_main, &mg_co); /* back here from inside mg_f */
	if (pthread_create(&t, NULL, mg_resume, NULL)) {
		TL_FAIL("pthread_create failed");
		goto out;
	}
	pthread_join(t, NULL);
	CHECK_EQ_INT(mg_result, 42);
	/* This thread's next followed call does not report mg_f's call again. */
	CHECK_EQ_INT(mg_g(5), 10);
	seq_add(seq, sizeof(seq), 'E', &df, 41, 0);
	seq_add(seq, sizeof(seq), 'R', &df, 41, 42);
	seq_add(seq, sizeof(seq), 'E', &dg, 5, 0);
	seq_add(seq, sizeof(seq), 'R', &dg, 5, 10);
	check_seq(seq);
	if (ev_count() == 4) {
		CHECK_EQ_INT(evlog[0].tid, rp_gettid());
		CHECK_EQ_INT(evlog[1].tid, mg_tid);
		check_ret_ev(&evlog[0], &evlog[1], 0);
	}
	check_probe(&df, 1, 1, 0, 0);
	check_probe(&dg, 1, 1, 0, 0);
out:
	rp_detach_all();
	free(stack);
}
