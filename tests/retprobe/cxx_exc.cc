/* SPDX-License-Identifier: MIT */
/*
 * C++ exceptions through return-probed frames (run by test_retprobe).
 *
 * main -> f1 -> f2 -> f3, f3 throws std::runtime_error; RAII objects in f2
 * and f3 print their destruction. Scenarios: no throw; caught in main; caught
 * in f1 (which then returns normally); rethrown from a catch (...) in f2 and
 * caught in main or in f1; a silent loop of all of them; a normal call at
 * the end. Then (silent) a recursion 1100 deep, beyond UPROBE_RET_DEPTH, that
 * throws from the bottom to main, and again caught 51 frames deep.
 *
 * Usage: cxx_exc default|noopt. With RETPROBE_NOPROBE=1 in the environment
 * nothing is probed. stdout is a transcript that must not depend on the
 * probes; a probed run then prints "--- reports ---" and the handlers'
 * records (E entry, R return, U unwound, M a marker the program logged),
 * one per line, then the counters of each probe and the process.
 */
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "uprobes.h"

#define NOIPA	  __attribute__((noinline, noipa))
#define OPAQUE(x) asm volatile("" : "+r"(x))

enum { THROW = 1, CATCH_F1 = 2, RETHROW_F2 = 4 };

/* ---- the log: written by the handlers (async-signal-safe) and markers ---- */

struct rec {
	char kind;
	int fn;	  /* index into names, or -1 for a marker */
	long arg; /* first argument of the call */
	long rax;
	const char *text;
};

static const char *const names[] = {"f1", "f2", "f3", "rec"};
#define NFN 4
static rec recs[4096];
static std::atomic<unsigned> nrec;
static std::atomic<unsigned> bad;
static std::atomic<unsigned> null_cookies;
static bool logging = true;
static bool quiet;

static rec *rec_new()
{
	unsigned i = nrec.fetch_add(1);

	return i < sizeof(recs) / sizeof(recs[0]) ? &recs[i] : nullptr;
}

static void mark(const char *text)
{
	rec *r;

	if (!logging || !(r = rec_new()))
		return;
	r->kind = 'M';
	r->fn = -1;
	r->text = text;
}

static void on_entry(struct uprobe *, struct uprobe_regs *regs, void *ctx)
{
	int fn = (int)(intptr_t)ctx;
	uint64_t *c = uprobe_cookie();
	rec *r;

	if (c)
		*c = regs->rdi;
	else
		null_cookies.fetch_add(1);
	if (!logging || !(r = rec_new()))
		return;
	r->kind = 'E';
	r->fn = fn;
	r->arg = (long)regs->rdi;
}

extern "C" long x_f1(long x, int mode);
extern "C" long x_f2(long x, int mode);
extern "C" long x_f3(long x, int mode);
extern "C" long x_rec(long n, long catch_at);
static void *const fns[] = {(void *)x_f1, (void *)x_f2, (void *)x_f3, (void *)x_rec};

static void on_ret(struct uprobe *, struct uprobe_regs *regs, const struct uprobe_ret *ret,
		   void *ctx)
{
	int fn = (int)(intptr_t)ctx;
	bool unw = ret->flags & UPROBE_RET_UNWOUND;
	rec *r;

	if (ret->func != (uint64_t)(uintptr_t)fns[fn] || regs->rip != ret->ret_addr ||
	    regs->rsp != ret->entry_sp + 8 || (unw && (regs->rax || regs->rdx)))
		bad.fetch_add(1);
	if (!logging || !(r = rec_new()))
		return;
	r->kind = unw ? 'U' : 'R';
	r->fn = fn;
	r->arg = (long)ret->cookie;
	r->rax = (long)regs->rax;
}

/* ---- the program ---------------------------------------------------------- */

struct Noisy {
	const char *name;
	long v;

	Noisy(const char *n, long val) : name(n), v(val)
	{
		if (!quiet)
			std::printf("  ctor %s(%ld)\n", name, v);
	}
	~Noisy()
	{
		if (!quiet)
			std::printf("  dtor %s(%ld)\n", name, v);
	}
};

extern "C" NOIPA long x_f3(long x, int mode)
{
	Noisy n("f3", x);

	OPAQUE(x);
	if (mode & THROW)
		throw std::runtime_error("boom " + std::to_string(x));
	return x + 3;
}

extern "C" NOIPA long x_f2(long x, int mode)
{
	Noisy n("f2", x);
	long r;

	if (mode & RETHROW_F2) {
		try {
			r = x_f3(x + 1, mode);
		} catch (...) {
			mark("catch f2");
			if (!quiet)
				std::printf("  f2 rethrows\n");
			throw;
		}
	} else {
		r = x_f3(x + 1, mode);
	}
	OPAQUE(r);
	return r * 2;
}

extern "C" NOIPA long x_f1(long x, int mode)
{
	long r;

	if (mode & CATCH_F1) {
		try {
			r = x_f2(x + 1, mode);
		} catch (const std::exception &e) {
			mark("catch f1");
			if (!quiet)
				std::printf("  f1 caught: %s\n", e.what());
			r = -1;
		}
		OPAQUE(r);
		return r + 1000;
	}
	r = x_f2(x + 1, mode);
	OPAQUE(r);
	return r + 1;
}

extern "C" NOIPA long x_rec(long n, long catch_at)
{
	long r;

	if (n == 0)
		throw std::runtime_error("deep");
	if (n == catch_at) {
		try {
			r = x_rec(n - 1, catch_at);
		} catch (const std::exception &) {
			r = -n;
		}
	} else {
		r = x_rec(n - 1, catch_at);
	}
	OPAQUE(r);
	return r + 1;
}

static void deep(long catch_at)
{
	try {
		std::printf("deep %ld: result %ld\n", catch_at, x_rec(1100, catch_at));
	} catch (const std::exception &e) {
		std::printf("deep %ld: main caught: %s\n", catch_at, e.what());
	}
}

/* One call of f1 from main; returns its result or -1 when main caught. */
static long scenario(const char *name, long x, int mode)
{
	long r;

	mark(name);
	if (!quiet)
		std::printf("%s: x=%ld mode=%d\n", name, x, mode);
	try {
		r = x_f1(x, mode);
		if (!quiet)
			std::printf("  result %ld\n", r);
	} catch (const std::runtime_error &e) {
		mark("catch main");
		if (!quiet)
			std::printf("  main caught: %s\n", e.what());
		r = -1;
	}
	return r;
}

int main(int argc, char **argv)
{
	bool probe = !std::getenv("RETPROBE_NOPROBE");
	unsigned flags = argc > 1 && !std::strcmp(argv[1], "noopt") ? UPROBE_F_NO_OPTIMIZE : 0;
	static const int loop_modes[] = {0, THROW, THROW | CATCH_F1, THROW | RETHROW_F2};
	struct uprobe *p[NFN] = {};
	long sum = 0;
	int i;

	if (probe) {
		for (i = 0; i < NFN; i++) {
			struct uprobe_opts o = {};

			o.sz = sizeof(o);
			o.handler = on_entry;
			o.ret_handler = on_ret;
			o.ctx = (void *)(intptr_t)i;
			o.flags = flags;
			p[i] = uprobe_attach_addr(fns[i], &o);
			if (!p[i]) {
				/* On stdout: test_retprobe's t_cxx checks a forced refusal. */
				std::printf("attach %s: errno %d: %s\n", names[i], errno,
					    uprobe_last_error());
				return 2;
			}
			/* The path its returns must take ("site", "hijack"), when asked. */
			const char *want = std::getenv("RETPROBE_WANT_PATH");
			struct uprobe_info info = {};

			info.sz = sizeof(info);
			if (want && (uprobe_get_info(p[i], &info) ||
				     std::strcmp(uprobe_ret_path_name(info.ret_path), want))) {
				std::fprintf(stderr, "%s: returns by %s, want %s: %s\n", names[i],
					     uprobe_ret_path_name(info.ret_path), want,
					     info.ret_reason);
				return 3;
			}
		}
	}
	scenario("scenario 1", 1, 0);
	scenario("scenario 2", 10, THROW);
	scenario("scenario 3", 20, THROW | CATCH_F1);
	scenario("scenario 4", 30, THROW | RETHROW_F2);
	scenario("scenario 5", 40, THROW | RETHROW_F2 | CATCH_F1);
	scenario("scenario 6", 50, 0);

	mark("loop");
	logging = false;
	quiet = true;
	for (i = 0; i < 200; i++)
		sum += scenario("loop", i, loop_modes[i % 4]);
	logging = true;
	quiet = false;
	std::printf("loop sum %ld\n", sum);

	scenario("scenario 7", 60, 0);
	logging = false;
	deep(-1);
	deep(1050);
	std::fflush(stdout);
	if (!probe)
		return 0;

	std::printf("--- reports ---\n");
	unsigned n = nrec.load();
	if (n > sizeof(recs) / sizeof(recs[0]))
		std::printf("log overflow\n");
	for (unsigned k = 0; k < n && k < sizeof(recs) / sizeof(recs[0]); k++) {
		const rec &r = recs[k];

		if (r.kind == 'M')
			std::printf("M %s\n", r.text);
		else if (r.kind == 'R')
			std::printf("R %s %ld %ld\n", names[r.fn], r.arg, r.rax);
		else
			std::printf("%c %s %ld\n", r.kind, names[r.fn], r.arg);
	}
	for (i = 0; i < NFN; i++) {
		struct uprobe_info info = {};

		info.sz = sizeof(info);
		uprobe_get_info(p[i], &info);
		std::printf("%s: hits=%llu ret_hits=%llu unwound=%llu missed=%llu\n", names[i],
			    (unsigned long long)info.hits, (unsigned long long)info.ret_hits,
			    (unsigned long long)info.ret_unwound,
			    (unsigned long long)info.ret_missed);
	}
	std::printf("bad=%u null_cookies=%u\n", bad.load(), null_cookies.load());
	struct uprobe_stats s = {};
	s.sz = sizeof(s);
	uprobe_get_stats(&s);
	std::printf("stats: ret_hits=%llu ret_unwound=%llu ret_missed=%llu ret_orphaned=%llu\n",
		    (unsigned long long)s.ret_hits, (unsigned long long)s.ret_unwound,
		    (unsigned long long)s.ret_missed, (unsigned long long)s.ret_orphaned);
	for (i = 0; i < NFN; i++)
		uprobe_free(p[i]);
	return 0;
}
