/* SPDX-License-Identifier: MIT */
/*
 * Unwinders and stack switches, interposed for return probes.
 *
 * A followed call's return address on the stack is the return trampoline's.
 * Anything that walks the stack from the return addresses -- C++ exceptions,
 * backtrace(), _Unwind_Backtrace, a thread's forced unwind -- must see the
 * real ones. These entry points are exported under the version nodes of
 * libgcc_s, libstdc++ and glibc (src/libuprobes.map), so that calls through
 * the PLT come here first: the slots of the calls on this stack get their
 * return addresses back (ret_unhook), the real function runs, and afterwards
 * the slots of calls still alive are hooked again (ret_resync):
 *
 *   throw       _Unwind_RaiseException / _Resume / _Resume_or_Rethrow /
 *               _ForcedUnwind unhook; a landing pad does not come back, so
 *               the catch (__cxa_begin_catch) resyncs: calls below the
 *               catching frame were unwound and are reported so
 *   backtrace   unhook, walk, resync; our own frame is left out of the result
 *   pthread_exit  every call of the thread is reported unwound first
 *
 * makecontext and sigaltstack tell the shadow stack which memory is another
 * stack (ret_add_stack), so stack pointers are compared only within one.
 *
 * Not covered: unwinders linked statically into a program, and glibc's own
 * calls into libgcc_s (pthread_cancel): see docs/limitations.md.
 */
#include <dlfcn.h>
#include <execinfo.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <unwind.h>

#include "core/retpatch.h"
#include "core/retprobe.h"

#define UPROBE_EXPORT __attribute__((visibility("default")))

/* The caller's stack pointer once we return: everything below is ours. */
#define CALLER_SP() ((uint64_t)__builtin_frame_address(0) + 16)

static void *real_fn(const char *name, const char *version)
{
	void *fn = dlvsym(RTLD_NEXT, name, version);

	return fn ? fn : dlsym(RTLD_NEXT, name);
}

#define REAL(type, name, version)                                   \
	static __typeof__(type) real_;                              \
	if (!real_)                                                 \
		real_ = (type)real_fn(name, version);               \
	if (!real_)                                                 \
		abort(); /* interposed, yet no next definition */

UPROBE_EXPORT _Unwind_Reason_Code _Unwind_RaiseException(struct _Unwind_Exception *exc)
{
	REAL(_Unwind_Reason_Code (*)(struct _Unwind_Exception *), "_Unwind_RaiseException",
	     "GCC_3.0");
	_Unwind_Reason_Code code;

	ret_unhook(CALLER_SP());
	code = real_(exc);
	/* No handler found (std::terminate follows): nothing was unwound. */
	ret_resync(CALLER_SP());
	return code;
}

UPROBE_EXPORT void _Unwind_Resume(struct _Unwind_Exception *exc)
{
	REAL(void (*)(struct _Unwind_Exception *), "_Unwind_Resume", "GCC_3.0");

	ret_unhook(CALLER_SP());
	real_(exc);
}

UPROBE_EXPORT _Unwind_Reason_Code _Unwind_Resume_or_Rethrow(struct _Unwind_Exception *exc)
{
	REAL(_Unwind_Reason_Code (*)(struct _Unwind_Exception *), "_Unwind_Resume_or_Rethrow",
	     "GCC_3.3");
	_Unwind_Reason_Code code;

	ret_unhook(CALLER_SP());
	code = real_(exc);
	ret_resync(CALLER_SP());
	return code;
}

UPROBE_EXPORT _Unwind_Reason_Code _Unwind_ForcedUnwind(struct _Unwind_Exception *exc,
						       _Unwind_Stop_Fn stop, void *arg)
{
	REAL(_Unwind_Reason_Code (*)(struct _Unwind_Exception *, _Unwind_Stop_Fn, void *),
	     "_Unwind_ForcedUnwind", "GCC_3.0");
	_Unwind_Reason_Code code;

	ret_unhook(CALLER_SP());
	code = real_(exc, stop, arg);
	ret_resync(CALLER_SP());
	retpatch_resync(CALLER_SP());
	return code;
}

UPROBE_EXPORT void *__cxa_begin_catch(void *exc)
{
	REAL(void *(*)(void *), "__cxa_begin_catch", "CXXABI_1.3");

	/* The catching frame called us: what was below it is gone. */
	ret_resync(CALLER_SP());
	retpatch_resync(CALLER_SP());
	return real_(exc);
}

struct bt_arg {
	_Unwind_Trace_Fn fn;
	void *arg;
	int seen;
};

/* Leave our own frame out: the caller expects its own frame first. */
static _Unwind_Reason_Code bt_skip_self(struct _Unwind_Context *ctx, void *p)
{
	struct bt_arg *a = p;

	if (!a->seen++)
		return _URC_NO_REASON;
	return a->fn(ctx, a->arg);
}

UPROBE_EXPORT _Unwind_Reason_Code _Unwind_Backtrace(_Unwind_Trace_Fn fn, void *arg)
{
	REAL(_Unwind_Reason_Code (*)(_Unwind_Trace_Fn, void *), "_Unwind_Backtrace", "GCC_3.3");
	struct bt_arg a = { fn, arg, 0 };
	_Unwind_Reason_Code code;

	ret_unhook(CALLER_SP());
	code = real_(bt_skip_self, &a);
	ret_resync(CALLER_SP());
	return code;
}

UPROBE_EXPORT int backtrace(void **buffer, int size)
{
	REAL(int (*)(void **, int), "backtrace", "GLIBC_2.2.5");
	void *small[128], **tmp = small;
	int n;

	if (size <= 0)
		return 0;
	/* One more frame than asked: the first is ours, the caller's comes next. */
	if ((size_t)size + 1 > sizeof(small) / sizeof(small[0]) &&
	    !(tmp = malloc(((size_t)size + 1) * sizeof(*tmp))))
		return 0;
	ret_unhook(CALLER_SP());
	n = real_(tmp, size + 1);
	ret_resync(CALLER_SP());
	n = n > 0 ? n - 1 : 0;
	memcpy(buffer, tmp + 1, (size_t)n * sizeof(*tmp));
	if (tmp != small)
		free(tmp);
	return n;
}

UPROBE_EXPORT void pthread_exit(void *retval)
{
	REAL(void (*)(void *), "pthread_exit", "GLIBC_2.2.5");

	ret_exit_thread(CALLER_SP());
	retpatch_exit_thread();
	real_(retval);
	__builtin_unreachable();
}

UPROBE_EXPORT void makecontext(ucontext_t *ucp, void (*func)(void), int argc, ...)
{
	REAL(void (*)(ucontext_t *, void (*)(void), int, ...), "makecontext", "GLIBC_2.2.5");
	long a[16] = { 0 };
	va_list ap;

	va_start(ap, argc);
	for (int i = 0; i < argc && i < 16; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	ret_add_stack((uint64_t)ucp->uc_stack.ss_sp,
		      (uint64_t)ucp->uc_stack.ss_sp + ucp->uc_stack.ss_size, false);
	/* Extra variadic arguments are ignored by the callee. */
	real_(ucp, func, argc, a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9],
	      a[10], a[11], a[12], a[13], a[14], a[15]);
}

UPROBE_EXPORT int sigaltstack(const stack_t *ss, stack_t *old)
{
	REAL(int (*)(const stack_t *, stack_t *), "sigaltstack", "GLIBC_2.2.5");
	int ret = real_(ss, old);

	if (!ret && ss && !(ss->ss_flags & SS_DISABLE))
		ret_add_stack((uint64_t)ss->ss_sp, (uint64_t)ss->ss_sp + ss->ss_size, true);
	return ret;
}
