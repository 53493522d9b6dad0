/* SPDX-License-Identifier: MIT */
/*
 * Return probes in the calling process.
 *
 * Every case runs in a forked child (a crash or hang of one case is reported
 * as that case's failure and the others still run) and, where the mode can
 * matter, once per mode: default (jump-optimized when possible) and
 * UPROBE_F_NO_OPTIMIZE (int3). Each case first runs its code unprobed to get
 * the reference results and return addresses, then probed from the same call
 * sites, and compares exactly.
 *
 * This file: the shared handlers and checks, and the cases on return values,
 * register changes, non-entry locations, the depth limit, detach in flight,
 * backtrace() (also from a signal handler, on a sigaltstack too), a tail
 * call between probed functions, two return probes on one function, and the
 * C++ exception program (cxx_exc, run as a child).
 * rp_unwind.c: longjmp, siglongjmp, pthread_exit, pthread_cancel, a thread
 * ending after a longjmp.
 * rp_stacks.c: signal handlers (also on sigaltstack), siglongjmp out of a
 * sigaltstack handler, fork, swapcontext.
 * rp_refuse.c: functions that return twice or that no call enters, refused;
 * a call still running when its thread's shadow stack is freed; a coroutine
 * resumed by another thread inside a followed call.
 *
 * Usage: test_retprobe [substring]  runs only the cases whose name contains it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <execinfo.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <unwind.h>

#include "retprobe.h"

TL_DEFINE("retprobe");

/* ---- event log and generic handlers ---------------------------------- */

struct ev evlog[EV_MAX];
_Atomic unsigned int nev;
_Atomic unsigned int ev_overflow;

pid_t rp_gettid(void)
{
	return (pid_t)syscall(SYS_gettid);
}

static struct ev *ev_new(void)
{
	unsigned int i = atomic_fetch_add(&nev, 1);
	struct ev *e;

	if (i >= EV_MAX) {
		atomic_fetch_add(&ev_overflow, 1);
		return NULL;
	}
	e = &evlog[i];
	*e = (struct ev){.tid = rp_gettid()};
	return e;
}

void ev_reset(void)
{
	atomic_store(&nev, 0);
	atomic_store(&ev_overflow, 0);
}

unsigned int ev_count(void)
{
	unsigned int n = atomic_load(&nev);

	return n < EV_MAX ? n : EV_MAX;
}

void ev_mark(const char *text)
{
	struct ev *e = ev_new();

	if (e) {
		e->kind = 'M';
		e->text = text;
	}
}

void h_entry(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	struct fdesc *d = ctx;
	uint64_t *c = uprobe_cookie();
	long arg = (long)regs->rdi;
	struct ev *e;

	(void)p;
	atomic_fetch_add(&d->ent, 1);
	if (c)
		*c = cookie_of(arg);
	else
		atomic_fetch_add(&d->cookie_null, 1);
	if (d->on_entry)
		d->on_entry(arg);
	if ((d->log & LOG_ENTRY) && (e = ev_new())) {
		e->kind = 'E';
		e->d = d;
		e->arg = arg;
		e->rax = regs->rax;
		e->rdx = regs->rdx;
		e->rip = regs->rip;
		e->rsp = regs->rsp;
		e->cookie_null = !c;
	}
}

void h_ret(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *ret, void *ctx)
{
	struct fdesc *d = ctx;
	int unw = !!(ret->flags & UPROBE_RET_UNWOUND);
	long arg = ((long)(ret->cookie - 1)) / 7;
	unsigned int bad = 0;
	struct ev *e;

	(void)p;
	if (ret->func != (uint64_t)(uintptr_t)d->fn)
		bad |= BAD_FUNC;
	if (regs->rip != ret->ret_addr)
		bad |= BAD_RIP;
	if (regs->rsp != ret->entry_sp + 8)
		bad |= BAD_RSP;
	if (ret->flags & ~(unsigned int)UPROBE_RET_UNWOUND)
		bad |= BAD_FLAGS;
	if (unw && (regs->rax || regs->rdx))
		bad |= BAD_UNWREGS;
	if (bad)
		atomic_fetch_or(&d->bad, bad);
	if (uprobe_cookie())
		atomic_fetch_add(&d->cookie_in_ret, 1);
	atomic_fetch_add(unw ? &d->unw : &d->ret, 1);
	if (!unw && d->expect && !d->no_entry) {
		long want = d->expect(arg);
		long got = (long)regs->rax;

		if (d->rk == RK_INT) {
			want = (int)want;
			got = (int)got;
		}
		if (got != want)
			atomic_fetch_add(&d->bad_val, 1);
	}
	if ((d->log & LOG_RET) && (e = ev_new())) {
		e->kind = unw ? 'U' : 'R';
		e->d = d;
		e->arg = arg;
		e->rax = regs->rax;
		e->rdx = regs->rdx;
		e->rip = regs->rip;
		e->rsp = regs->rsp;
		e->func = ret->func;
		e->ret_addr = ret->ret_addr;
		e->cookie = ret->cookie;
		e->entry_sp = ret->entry_sp;
		e->flags = ret->flags;
		e->xmm0 = ret->xmm0;
	}
	if (!unw) {
		regs->rax += (uint64_t)d->rax_add;
		regs->rdx += (uint64_t)d->rdx_add;
	}
}

/* ---- attaching -------------------------------------------------------- */

#define MAX_PROBES 32
static struct uprobe *attached[MAX_PROBES];

void fd_reset(struct fdesc *d)
{
	d->probe = NULL;
	d->no_entry = 0;
	d->has_ret = 0;
	atomic_store(&d->ent, 0);
	atomic_store(&d->ret, 0);
	atomic_store(&d->unw, 0);
	atomic_store(&d->cookie_null, 0);
	atomic_store(&d->cookie_in_ret, 0);
	atomic_store(&d->bad_val, 0);
	atomic_store(&d->bad, 0);
}

static struct uprobe *attach_common(struct fdesc *d, const char *loc, unsigned int flags, int entry,
				    int ret)
{
	struct uprobe_opts o = {
		.sz = sizeof(o),
		.handler = entry ? h_entry : NULL,
		.ret_handler = ret ? h_ret : NULL,
		.ctx = d,
		.flags = flags,
	};
	struct uprobe *p;
	int i;

	fd_reset(d);
	d->no_entry = !entry;
	d->has_ret = ret;
	p = loc ? uprobe_attach(NULL, loc, &o) : uprobe_attach_addr(d->fn, &o);
	if (!p) {
		TL_FAIL("attach %s: %s (%s)", d->name, strerror(errno), uprobe_last_error());
		return NULL;
	}
	d->probe = p;
	for (i = 0; i < MAX_PROBES; i++) {
		if (!attached[i]) {
			attached[i] = p;
			break;
		}
	}
	return p;
}

struct uprobe *rp_attach(struct fdesc *d, unsigned int flags, int entry, int ret)
{
	return attach_common(d, NULL, flags, entry, ret);
}

struct uprobe *rp_attach_loc(struct fdesc *d, const char *loc, unsigned int flags, int entry,
			     int ret)
{
	return attach_common(d, loc, flags, entry, ret);
}

/* The test freed p itself: forget it. */
static void rp_forget(struct uprobe *p)
{
	int i;

	for (i = 0; i < MAX_PROBES; i++)
		if (attached[i] == p)
			attached[i] = NULL;
}

void rp_free(struct fdesc *d)
{
	rp_forget(d->probe);
	uprobe_free(d->probe);
	d->probe = NULL;
}

void rp_detach_all(void)
{
	int i;

	for (i = 0; i < MAX_PROBES; i++) {
		uprobe_free(attached[i]);
		attached[i] = NULL;
	}
}

void get_stats(struct uprobe_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->sz = sizeof(*s);
	CHECK_EQ_INT(uprobe_get_stats(s), 0);
}

/* ---- checks ----------------------------------------------------------- */

void seq_add(char *buf, size_t n, char kind, const struct fdesc *d, long arg, long val)
{
	size_t len = strlen(buf);
	const char *sep = len ? ", " : "";

	if (len >= n)
		return;
	if (kind == 'R' && d->rk != RK_NONE && d->no_entry)
		snprintf(buf + len, n - len, "%sR %s=%ld", sep, d->name,
			 d->rk == RK_INT ? (long)(int)val : val);
	else if (kind == 'R' && d->rk != RK_NONE)
		snprintf(buf + len, n - len, "%sR %s(%ld)=%ld", sep, d->name, arg,
			 d->rk == RK_INT ? (long)(int)val : val);
	else if (kind == 'R' && d->no_entry)
		snprintf(buf + len, n - len, "%sR %s", sep, d->name);
	else
		snprintf(buf + len, n - len, "%s%c %s(%ld)", sep, kind, d->name, arg);
}

void ev_seq(char *buf, size_t n)
{
	unsigned int i, cnt = ev_count();

	buf[0] = 0;
	for (i = 0; i < cnt; i++) {
		const struct ev *e = &evlog[i];
		size_t len = strlen(buf);

		if (e->kind == 'M')
			snprintf(buf + len, n - len, "%sM %s", len ? ", " : "", e->text);
		else if (e->d)
			seq_add(buf, n, e->kind, e->d, e->arg, (long)e->rax);
		else
			snprintf(buf + len, n - len, "%s%c ?", len ? ", " : "",
				 e->kind ? e->kind : '0');
	}
	if (atomic_load(&ev_overflow)) {
		size_t len = strlen(buf);

		snprintf(buf + len, n - len, ", (overflow)");
	}
}

void check_seq_(const char *want, const char *file, int line)
{
	static char got[65536];

	ev_seq(got, sizeof(got));
	if (strcmp(got, want)) {
		printf("  %s:%d: event sequence\n    got:  %s\n    want: %s\n", file, line, got,
		       want);
		tl_case_failed = 1;
	}
}

#define PFAIL(fmt, ...)                                                               \
	do {                                                                          \
		printf("  %s:%d: %s: " fmt "\n", file, line, d->name, ##__VA_ARGS__); \
		tl_case_failed = 1;                                                   \
	} while (0)

#define PCMP(what, got, want)                                                   \
	do {                                                                    \
		uint64_t g_ = (got), w_ = (want);                               \
		if (g_ != w_)                                                   \
			PFAIL("%s = %" PRIu64 ", want %" PRIu64, what, g_, w_); \
	} while (0)

void check_probe_(struct fdesc *d, uint64_t hits, uint64_t ret_hits, uint64_t unwound,
		  uint64_t missed, const char *file, int line)
{
	struct uprobe_info info;
	int rc;

	if (!d->probe) {
		PFAIL("not attached");
		return;
	}
	memset(&info, 0, sizeof(info));
	info.sz = sizeof(info);
	rc = uprobe_get_info(d->probe, &info);
	if (rc) {
		PFAIL("uprobe_get_info: %d", rc);
		return;
	}
	if (hits != ANY)
		PCMP("info.hits", info.hits, hits);
	if (!d->no_entry)
		PCMP("entry handler calls", atomic_load(&d->ent), info.hits);
	PCMP("info.ret_hits", info.ret_hits, ret_hits);
	PCMP("info.ret_unwound", info.ret_unwound, unwound);
	PCMP("info.ret_missed", info.ret_missed, missed);
	PCMP("info.has_ret_handler", !!info.has_ret_handler, d->has_ret);
	PCMP("return handler calls", atomic_load(&d->ret) + atomic_load(&d->unw), ret_hits);
	PCMP("unwound reports seen", atomic_load(&d->unw), unwound);
	if (d->has_ret && !d->no_entry)
		PCMP("entries with a NULL cookie", atomic_load(&d->cookie_null), missed);
	PCMP("uprobe_cookie() != NULL in the return handler", atomic_load(&d->cookie_in_ret), 0);
	PCMP("returns with a wrong result", atomic_load(&d->bad_val), 0);
	if (atomic_load(&d->bad))
		PFAIL("bad return reports: %s%s%s%s%s", (d->bad & BAD_FUNC) ? "func " : "",
		      (d->bad & BAD_RIP) ? "rip!=ret_addr " : "",
		      (d->bad & BAD_RSP) ? "rsp!=entry_sp+8 " : "",
		      (d->bad & BAD_UNWREGS) ? "unwound-rax/rdx!=0 " : "",
		      (d->bad & BAD_FLAGS) ? "flags " : "");
}

void check_ret_ev_(const struct ev *e, const struct ev *r, uint64_t want_ra, const char *file,
		   int line)
{
	const struct fdesc *d;

	if (!e || !r) {
		printf("  %s:%d: missing %s event\n", file, line, e ? "return" : "entry");
		tl_case_failed = 1;
		return;
	}
	d = e->d;
	PCMP("ret->func", r->func, (uint64_t)(uintptr_t)d->fn);
	if (want_ra)
		PCMP("ret->ret_addr", r->ret_addr, want_ra);
	PCMP("regs->rip at return", r->rip, r->ret_addr);
	PCMP("ret->entry_sp", r->entry_sp, e->rsp);
	PCMP("regs->rsp at return", r->rsp, e->rsp + 8);
	PCMP("ret->cookie", r->cookie, cookie_of(e->arg));
	PCMP("ret->flags", r->flags, r->kind == 'U' ? UPROBE_RET_UNWOUND : 0);
	if (r->kind == 'U') {
		PCMP("unwound rax", r->rax, 0);
		PCMP("unwound rdx", r->rdx, 0);
	}
}

struct ev *ev_find(char kind, const struct fdesc *d, int nth)
{
	unsigned int i, cnt = ev_count();

	for (i = 0; i < cnt; i++)
		if (evlog[i].kind == kind && evlog[i].d == d && nth-- == 0)
			return &evlog[i];
	return NULL;
}

/* ---- case 1, 2: return values and register changes ---------------------- */

struct pair {
	long a, b;
};

enum { RA_INT, RA_PTR, RA_DBL, RA_PAIR, NRA };
static uint64_t ra_seen[NRA];
/* In a probed run this reads the trampoline; the unprobed run's value counts. */
#define RECORD_RA(i) (ra_seen[i] = (uint64_t)(uintptr_t)__builtin_return_address(0))

int ptr_table[16];

NOIPA int rp_int(long a, long b, long c)
{
	RECORD_RA(RA_INT);
	OPAQUE(a);
	return (int)(a * b + c);
}

NOIPA int *rp_ptr(long i)
{
	RECORD_RA(RA_PTR);
	OPAQUE(i);
	return &ptr_table[i];
}

NOIPA double rp_dbl(long n, double x)
{
	RECORD_RA(RA_DBL);
	OPAQUE(n);
	return x * (double)n / 3.0 + 0.1;
}

NOIPA struct pair rp_pair(long x, long y)
{
	struct pair p;

	RECORD_RA(RA_PAIR);
	OPAQUE(x);
	p.a = x * 3 - y;
	p.b = y * 5 - x;
	return p;
}

/* One call site per function, shared by the unprobed and probed runs. */
NOIPA static int call_int(long a, long b, long c)
{
	int r = rp_int(a, b, c);

	OPAQUE(r);
	return r;
}

NOIPA static int *call_ptr(long i)
{
	int *r = rp_ptr(i);

	OPAQUE(r);
	return r;
}

NOIPA static double call_dbl(long n, double x)
{
	double r = rp_dbl(n, x);

	asm volatile("" : "+x"(r));
	return r;
}

NOIPA static struct pair call_pair(long x, long y)
{
	struct pair p = rp_pair(x, y);

	OPAQUE(p.a);
	OPAQUE(p.b);
	return p;
}

static struct fdesc d_int = {.name = "rp_int", .fn = rp_int, .rk = RK_INT, .log = LOG_ALL};
static struct fdesc d_ptr = {.name = "rp_ptr", .fn = rp_ptr, .rk = RK_LONG, .log = LOG_ALL};
static struct fdesc d_dbl = {.name = "rp_dbl", .fn = rp_dbl, .rk = RK_NONE, .log = LOG_ALL};
static struct fdesc d_pair = {.name = "rp_pair", .fn = rp_pair, .rk = RK_LONG, .log = LOG_ALL};

#define NV 3
static const long v_int[NV][3] = {{-7, 9, 3}, {6, 7, 0}, {-3, -4, -20}};
static const long v_ptr[NV] = {3, 0, 15};
static const long v_dn[NV] = {5, -3, 7};
static const double v_dx[NV] = {1.25, 0.3, -2.7};
static const long v_pair[NV][2] = {{4, 9}, {-5, 6}, {1L << 40, -3}};

struct results {
	int i;
	int *p;
	double d;
	struct pair pr;
};

static void call_all(int k, struct results *r)
{
	r->i = call_int(v_int[k][0], v_int[k][1], v_int[k][2]);
	r->p = call_ptr(v_ptr[k]);
	r->d = call_dbl(v_dn[k], v_dx[k]);
	r->pr = call_pair(v_pair[k][0], v_pair[k][1]);
}

/* Reference results and return addresses, from unprobed calls. */
static void reference(struct results *want, uint64_t *ra)
{
	int k;

	for (k = 0; k < NV; k++)
		call_all(k, &want[k]);
	memcpy(ra, ra_seen, sizeof(ra_seen));
	CHECK_EQ_INT(want[0].i, -60);
	CHECK(want[1].p == &ptr_table[0]);
	CHECK_EQ_U64(want[2].pr.b, -3 * 5 - (1L << 40));
}

static int attach_four(unsigned int flags)
{
	return rp_attach_loc(&d_int, "rp_int", flags, 1, 1) && rp_attach(&d_ptr, flags, 1, 1) &&
	       rp_attach(&d_dbl, flags, 1, 1) && rp_attach(&d_pair, flags, 1, 1);
}

static void t_retvals(unsigned int flags)
{
	struct results want[NV], got[NV];
	struct uprobe_stats s0, s1;
	uint64_t ra[NRA];
	char seq[4096] = "";
	int k;

	CHECK(uprobe_cookie() == NULL);
	reference(want, ra);
	if (!attach_four(flags))
		return;
	CHECK(uprobe_cookie() == NULL);
	get_stats(&s0);
	ev_reset();
	for (k = 0; k < NV; k++)
		call_all(k, &got[k]);
	get_stats(&s1);
	CHECK(uprobe_cookie() == NULL);

	for (k = 0; k < NV; k++) {
		CHECK_EQ_INT(got[k].i, want[k].i);
		CHECK(got[k].p == want[k].p);
		CHECK(!memcmp(&got[k].d, &want[k].d, sizeof(double)));
		CHECK_EQ_U64(got[k].pr.a, want[k].pr.a);
		CHECK_EQ_U64(got[k].pr.b, want[k].pr.b);
		seq_add(seq, sizeof(seq), 'E', &d_int, v_int[k][0], 0);
		seq_add(seq, sizeof(seq), 'R', &d_int, v_int[k][0], want[k].i);
		seq_add(seq, sizeof(seq), 'E', &d_ptr, v_ptr[k], 0);
		seq_add(seq, sizeof(seq), 'R', &d_ptr, v_ptr[k], (long)want[k].p);
		seq_add(seq, sizeof(seq), 'E', &d_dbl, v_dn[k], 0);
		seq_add(seq, sizeof(seq), 'R', &d_dbl, v_dn[k], 0);
		seq_add(seq, sizeof(seq), 'E', &d_pair, v_pair[k][0], 0);
		seq_add(seq, sizeof(seq), 'R', &d_pair, v_pair[k][0], want[k].pr.a);
	}
	check_seq(seq);

	for (k = 0; k < NV; k++) {
		struct ev *r;

		check_ret_ev(ev_find('E', &d_int, k), ev_find('R', &d_int, k), ra[RA_INT]);
		check_ret_ev(ev_find('E', &d_ptr, k), ev_find('R', &d_ptr, k), ra[RA_PTR]);
		check_ret_ev(ev_find('E', &d_dbl, k), ev_find('R', &d_dbl, k), ra[RA_DBL]);
		check_ret_ev(ev_find('E', &d_pair, k), ev_find('R', &d_pair, k), ra[RA_PAIR]);
		r = ev_find('R', &d_dbl, k);
		if (r && memcmp(&r->xmm0.d[0], &want[k].d, sizeof(double)))
			TL_FAIL("rp_dbl call %d: xmm0.d[0] = %a, want %a", k, r->xmm0.d[0],
				want[k].d);
		r = ev_find('R', &d_pair, k);
		if (r)
			CHECK_EQ_U64(r->rdx, want[k].pr.b);
	}
	check_probe(&d_int, NV, NV, 0, 0);
	check_probe(&d_ptr, NV, NV, 0, 0);
	check_probe(&d_dbl, NV, NV, 0, 0);
	check_probe(&d_pair, NV, NV, 0, 0);
	CHECK_EQ_U64(s1.hits - s0.hits, 4 * NV);
	CHECK_EQ_U64(s1.ret_hits - s0.ret_hits, 4 * NV);
	CHECK_EQ_U64(s1.ret_unwound - s0.ret_unwound, 0);
	CHECK_EQ_U64(s1.ret_missed - s0.ret_missed, 0);
	CHECK_EQ_U64(s1.ret_orphaned - s0.ret_orphaned, 0);
}

/* A probe with only a return handler. */
static void t_ret_only(unsigned int flags)
{
	struct fdesc d = {.name = "rp_int", .fn = rp_int, .rk = RK_INT, .log = LOG_ALL};
	struct results want[NV], got[NV];
	uint64_t ra[NRA];
	char seq[1024] = "";
	int k;

	reference(want, ra);
	if (!rp_attach_loc(&d, "rp_int+0", flags, 0, 1))
		return;
	ev_reset();
	for (k = 0; k < NV; k++)
		call_all(k, &got[k]);
	for (k = 0; k < NV; k++) {
		struct ev *r = ev_find('R', &d, k);

		CHECK_EQ_INT(got[k].i, want[k].i);
		seq_add(seq, sizeof(seq), 'R', &d, 0, want[k].i);
		if (!r)
			continue;
		CHECK_EQ_U64(r->func, (uintptr_t)rp_int);
		CHECK_EQ_U64(r->ret_addr, ra[RA_INT]);
		CHECK_EQ_U64(r->rip, r->ret_addr);
		CHECK_EQ_U64(r->rsp, r->entry_sp + 8);
		CHECK_EQ_U64(r->flags, 0);
		/* Same call path each time: the same stack depth. */
		CHECK_EQ_U64(r->entry_sp, ev_find('R', &d, 0)->entry_sp);
	}
	check_seq(seq);
	check_probe(&d, ANY, NV, 0, 0);
}

/* Entry-only probe: no cookie in its handler, no return reports. */
static void t_entry_only(unsigned int flags)
{
	struct fdesc d = {.name = "rp_ptr", .fn = rp_ptr, .rk = RK_LONG, .log = LOG_ALL};
	struct results want[NV], got[NV];
	uint64_t ra[NRA];
	int k;

	reference(want, ra);
	if (!rp_attach(&d, flags, 1, 0))
		return;
	for (k = 0; k < NV; k++)
		call_all(k, &got[k]);
	for (k = 0; k < NV; k++)
		CHECK(got[k].p == want[k].p);
	check_probe(&d, NV, 0, 0, 0);
	CHECK_EQ_U64(atomic_load(&d.cookie_null), NV);
}

/* Case 2: the return handler changes rax/rdx; the caller sees the change. */
static void t_modify_rax(unsigned int flags)
{
	struct results want[NV], got[NV];
	uint64_t ra[NRA];
	int k;

	reference(want, ra);
	d_int.rax_add = 1000;
	d_ptr.rax_add = sizeof(int);
	d_pair.rax_add = 1;
	d_pair.rdx_add = -1;
	if (!attach_four(flags))
		return;
	for (k = 0; k < NV; k++)
		call_all(k, &got[k]);
	for (k = 0; k < NV; k++) {
		CHECK_EQ_INT(got[k].i, want[k].i + 1000);
		CHECK(got[k].p == want[k].p + 1);
		CHECK(!memcmp(&got[k].d, &want[k].d, sizeof(double)));
		CHECK_EQ_U64(got[k].pr.a, want[k].pr.a + 1);
		CHECK_EQ_U64(got[k].pr.b, want[k].pr.b - 1);
	}
	check_probe(&d_int, NV, NV, 0, 0);
	check_probe(&d_pair, NV, NV, 0, 0);
}

/* ---- case 3: a return handler needs a function entry ------------------- */

void h_noop_ret(struct uprobe *p, struct uprobe_regs *r, const struct uprobe_ret *ret, void *c)
{
	(void)p, (void)r, (void)ret, (void)c;
}

void h_noop_entry(struct uprobe *p, struct uprobe_regs *r, void *c)
{
	(void)p, (void)r, (void)c;
}

void expect_refusal(struct uprobe *p, int want, const char *what)
{
	int err = errno;

	if (p) {
		TL_FAIL("%s: attached, want %s", what, strerror(want));
		uprobe_free(p);
		return;
	}
	if (err != want)
		TL_FAIL("%s: errno %d (%s), want %d (%s): %s", what, err, strerror(err), want,
			strerror(want), uprobe_last_error());
	if (!uprobe_last_error() || !uprobe_last_error()[0])
		TL_FAIL("%s: uprobe_last_error() is empty", what);
}

static void t_non_entry(unsigned int flags)
{
	struct uprobe_opts o = {
		.sz = sizeof(o), .handler = h_noop_entry, .ret_handler = h_noop_ret, .flags = flags};
	struct uprobe_opts ro = {.sz = sizeof(o), .ret_handler = h_noop_ret, .flags = flags};
	struct uprobe_opts eo = {.sz = sizeof(o), .handler = h_noop_entry, .flags = flags};
	struct uprobe_info info;
	struct uprobe_stats s0, s1;
	unsigned int off = 0;
	int i;

	get_stats(&s0);
	/* The first two instruction boundaries after the entry. */
	for (i = 0; i < 2; i++) {
		struct uprobe_spec spec = {
			.path = NULL, .handler = h_noop_entry, .ret_handler = h_noop_ret, .flags = flags};
		struct uprobe_batch_opts bo = {.sz = sizeof(bo)};
		struct uprobe *bp = NULL, *p;
		char loc[64], what[96];
		int errs[1] = {0}, rc;

		memset(&info, 0, sizeof(info));
		info.sz = sizeof(info);
		snprintf(loc, sizeof(loc), "rp_int+%u", off);
		if (uprobe_analyze(NULL, loc, flags, &info) || !info.insn_len) {
			TL_FAIL("uprobe_analyze(%s): %s", loc, uprobe_last_error());
			return;
		}
		off += info.insn_len;
		snprintf(loc, sizeof(loc), "rp_int+%u", off);
		memset(&info, 0, sizeof(info));
		info.sz = sizeof(info);
		/* A real boundary: a plain probe may go there. */
		CHECK_EQ_INT(uprobe_analyze(NULL, loc, flags, &info), 0);
		p = uprobe_attach(NULL, loc, &eo);
		if (!p)
			TL_FAIL("plain probe at %s: %s", loc, uprobe_last_error());
		uprobe_free(p);

		errno = 0;
		snprintf(what, sizeof(what), "%s entry+ret", loc);
		expect_refusal(uprobe_attach(NULL, loc, &o), EINVAL, what);
		errno = 0;
		snprintf(what, sizeof(what), "%s ret only", loc);
		expect_refusal(uprobe_attach(NULL, loc, &ro), EINVAL, what);
		errno = 0;
		snprintf(what, sizeof(what), "addr rp_int+%u", off);
		expect_refusal(uprobe_attach_addr((const char *)(uintptr_t)rp_int + off, &o), EINVAL, what);

		spec.location = loc;
		bo.errs = errs;
		rc = uprobe_attach_many(&spec, 1, &bp, &bo);
		CHECK_EQ_INT(rc, -EINVAL);
		CHECK_EQ_INT(errs[0], -EINVAL);
		CHECK(bp == NULL);
		if (bp)
			uprobe_free(bp);
	}
	get_stats(&s1);
	CHECK_EQ_U64(s1.probes_attached, s0.probes_attached);
	CHECK_EQ_INT(call_int(6, 7, 0), 42);
}

/* ---- case 4: recursion beyond UPROBE_RET_DEPTH ------------------------- */

#define REC_N 10000

NOIPA long rp_rec(long n)
{
	long r;

	if (n <= 1)
		return 3;
	r = rp_rec(n - 1);
	OPAQUE(r); /* no tail-recursion accumulator */
	return r + 3 * n;
}

static long ex_rec(long n)
{
	return 3 * n * (n + 1) / 2;
}

NOIPA static long call_rec(long n)
{
	long r = rp_rec(n);

	OPAQUE(r);
	return r;
}

static void t_recursion(unsigned int flags)
{
	struct fdesc d = {
		.name = "rp_rec", .fn = rp_rec, .expect = ex_rec, .rk = RK_LONG, .log = LOG_RET};
	long want = call_rec(REC_N), got;
	struct uprobe_stats s0, s1;
	unsigned int i, bad = 0;
	char seq[1024] = "";

	CHECK_EQ_U64(want, ex_rec(REC_N));
	if (!rp_attach(&d, flags, 1, 1))
		return;
	get_stats(&s0);
	ev_reset();
	got = call_rec(REC_N);
	get_stats(&s1);
	CHECK_EQ_U64(got, want);
	check_probe(&d, REC_N, UPROBE_RET_DEPTH, 0, REC_N - UPROBE_RET_DEPTH);
	CHECK_EQ_U64(s1.ret_missed - s0.ret_missed, REC_N - UPROBE_RET_DEPTH);
	CHECK_EQ_U64(s1.ret_hits - s0.ret_hits, UPROBE_RET_DEPTH);
	CHECK_EQ_INT(ev_count(), UPROBE_RET_DEPTH);
	/* Followed: the outermost calls, depth 1..1024; they return innermost first. */
	for (i = 0; i < ev_count() && i < UPROBE_RET_DEPTH; i++) {
		const struct ev *e = &evlog[i];
		long depth = UPROBE_RET_DEPTH - i, n = REC_N + 1 - depth;

		if (e->kind != 'R' || e->arg != n || (long)e->rax != ex_rec(n) ||
		    e->cookie != cookie_of(n) || e->rip != e->ret_addr ||
		    e->rsp != e->entry_sp + 8) {
			if (!bad++)
				TL_FAIL("report %u: kind %c arg %ld rax %ld, want R arg %ld (depth "
					"%ld) rax %ld",
					i, e->kind, e->arg, (long)e->rax, n, depth, ex_rec(n));
		}
	}
	CHECK_EQ_INT(bad, 0);
	/* The stack of followed calls is empty again: short recursions are whole. */
	ev_reset();
	CHECK_EQ_U64(call_rec(3), ex_rec(3));
	seq_add(seq, sizeof(seq), 'R', &d, 1, ex_rec(1));
	seq_add(seq, sizeof(seq), 'R', &d, 2, ex_rec(2));
	seq_add(seq, sizeof(seq), 'R', &d, 3, ex_rec(3));
	check_seq(seq);
	check_probe(&d, REC_N + 3, UPROBE_RET_DEPTH + 3, 0, REC_N - UPROBE_RET_DEPTH);
}

/* ---- beyond the brief: two followed calls on one return-address slot ----- */

static uint64_t tc_ra;

NOIPA long tc_g(long x)
{
	tc_ra = (uint64_t)(uintptr_t)__builtin_return_address(0);
	OPAQUE(x);
	return x * 4 + 1;
}

/* At -O2 a sibling call: tc_g enters with the return address tc_f had. */
NOIPA long tc_f(long x)
{
	x += 3;
	OPAQUE(x);
	return tc_g(x);
}

NOIPA static long call_tc(long x)
{
	long r = tc_f(x);

	OPAQUE(r);
	return r;
}

/*
 * make check-forced: tc_f (add; jmp tc_g) has its tail jump inside the entry's
 * jump, only the hijack follows its return: refused, naming why. tc_g alone,
 * entered by that jump, reports the one call returning to call_tc.
 */
static void t_tail_call_forced(struct fdesc *dg, unsigned int flags, long want, uint64_t ra)
{
	struct uprobe_opts o = {.sz = sizeof(o), .handler = h_noop_entry,
				.ret_handler = h_noop_ret, .flags = flags};
	char seq[256] = "";

	expect_refusal(uprobe_attach(NULL, "tc_f", &o), ENOTSUP, "r: on tc_f");
	CHECK_CONTAINS(uprobe_last_error(), ": its exits cannot be patched "
		       "(UPROBE_RET_PATH=site-strict): the tail jump at +0x4: its window "
		       "overlaps the entry's jump");
	if (!rp_attach(dg, flags, 1, 1))
		return;
	ev_reset();
	CHECK_EQ_U64(call_tc(5), want);
	seq_add(seq, sizeof(seq), 'E', dg, 8, 0);
	seq_add(seq, sizeof(seq), 'R', dg, 8, want);
	check_seq(seq);
	check_ret_ev(ev_find('E', dg, 0), ev_find('R', dg, 0), ra);
	check_probe(dg, 1, 1, 0, 0);
}

/*
 * Both calls return to call_tc: tc_g through tc_f's hooked return address.
 * Reports in LIFO order, as for nested calls: tc_g's, then tc_f's.
 */
static void t_tail_call(unsigned int flags)
{
	struct fdesc df = {.name = "tc_f", .fn = tc_f, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc dg = {.name = "tc_g", .fn = tc_g, .rk = RK_LONG, .log = LOG_ALL};
	long want = call_tc(5);
	uint64_t ra = tc_ra; /* in call_tc (tc_f jumped to tc_g) */
	char seq[1024] = "";
	struct ev *ef, *eg, *rf, *rg;

	CHECK_EQ_U64(want, 33);
	if (forced_ret_path()) {
		t_tail_call_forced(&dg, flags, want, ra);
		return;
	}
	if (!rp_attach(&df, flags, 1, 1) || !rp_attach(&dg, flags, 1, 1))
		return;
	ev_reset();
	CHECK_EQ_U64(call_tc(5), want);
	ef = ev_find('E', &df, 0);
	eg = ev_find('E', &dg, 0);
	rf = ev_find('R', &df, 0);
	rg = ev_find('R', &dg, 0);
	seq_add(seq, sizeof(seq), 'E', &df, 5, 0);
	seq_add(seq, sizeof(seq), 'E', &dg, 8, 0);
	seq_add(seq, sizeof(seq), 'R', &dg, 8, want);
	seq_add(seq, sizeof(seq), 'R', &df, 5, want);
	check_seq(seq);
	if (ef && eg && ef->rsp != eg->rsp)
		printf("  note: tc_f is not a sibling call here (test premise weaker)\n");
	/* Both report the real call site, not the trampoline. */
	check_ret_ev(ef, rf, ra);
	check_ret_ev(eg, rg, ra);
	check_probe(&df, 1, 1, 0, 0);
	check_probe(&dg, 1, 1, 0, 0);
}

/* Two probes with return handlers on one function: each follows the call. */
static void t_two_probes(unsigned int flags)
{
	struct fdesc a = {.name = "rp_int", .fn = rp_int, .rk = RK_INT, .log = LOG_ALL};
	struct fdesc b = {
		.name = "rp_int", .fn = rp_int, .rk = RK_INT, .log = LOG_ALL, .rax_add = 7};
	struct results want[NV], got[NV];
	uint64_t ra[NRA];
	int k, j;

	reference(want, ra);
	if (!rp_attach(&a, flags, 1, 1) || !rp_attach(&b, flags, 1, 1))
		return;
	ev_reset();
	for (k = 0; k < NV; k++)
		call_all(k, &got[k]);
	for (k = 0; k < NV; k++) {
		/* b adds 7 to the result: the caller sees it once. */
		CHECK_EQ_INT(got[k].i, want[k].i + 7);
		for (j = 0; j < 2; j++) {
			struct fdesc *d = j ? &b : &a;
			struct ev *e = ev_find('E', d, k), *r = ev_find('R', d, k);

			check_ret_ev(e, r, ra[RA_INT]);
			if (!e || !r)
				continue;
			CHECK_EQ_U64(e->arg, v_int[k][0]);
			/* a may run after b: then it sees b's change. */
			if ((int)r->rax != want[k].i && (int)r->rax != want[k].i + 7)
				TL_FAIL("%c: call %d returned %d, want %d", 'a' + j, k, (int)r->rax,
					want[k].i);
		}
	}
	CHECK_EQ_INT(ev_count(), 4 * NV);
	check_probe(&a, NV, NV, 0, 0);
	check_probe(&b, NV, NV, 0, 0);
}

/* ---- case 10: detach while a call is in flight ------------------------- */

static struct uprobe *dt_target;
static int dt_mode; /* 0 nothing, 1 detach, 2 free */

NOIPA void dt_cb(void)
{
	if (dt_mode == 1) {
		CHECK_EQ_INT(uprobe_detach(dt_target), 0);
	} else if (dt_mode == 2) {
		rp_forget(dt_target);
		uprobe_free(dt_target);
	}
	dt_mode = 0;
}

NOIPA long dt_fn(long x)
{
	OPAQUE(x);
	dt_cb();
	return x * 9 + 4;
}

NOIPA long dt_rec(long n)
{
	long r;

	if (n == 0) {
		dt_cb();
		return 1;
	}
	r = dt_rec(n - 1);
	OPAQUE(r);
	return r * 2 + n;
}

NOIPA static long call_dt(long (*fn)(long), long x)
{
	long r = fn(x);

	OPAQUE(r);
	return r;
}

static long ex_dt(long x)
{
	return x * 9 + 4;
}

static void detach_in_flight(unsigned int flags, int mode, long (*fn)(long), long x, int frames)
{
	struct fdesc d = {
		.name = fn == dt_fn ? "dt_fn" : "dt_rec", .fn = fn, .rk = RK_LONG, .log = LOG_ALL};
	long want = call_dt(fn, x);
	struct uprobe_stats s0, s1, s2;
	char seq[1024] = "";
	int i;

	if (!rp_attach(&d, flags, 1, 1))
		return;
	dt_target = d.probe;
	get_stats(&s0);
	ev_reset();
	dt_mode = mode;
	CHECK_EQ_U64(call_dt(fn, x), want);
	get_stats(&s1);
	for (i = 0; i < frames; i++)
		seq_add(seq, sizeof(seq), 'E', &d, x - i, 0);
	check_seq(seq);
	CHECK_EQ_U64(atomic_load(&d.ret) + atomic_load(&d.unw), 0);
	CHECK_EQ_U64(s1.ret_orphaned - s0.ret_orphaned, frames);
	CHECK_EQ_U64(s1.ret_hits - s0.ret_hits, 0);
	if (mode == 1)
		check_probe(&d, frames, 0, 0, 0);

	/* Later calls: unprobed, correct, nothing counted. */
	ev_reset();
	CHECK_EQ_U64(call_dt(fn, x), want);
	CHECK_EQ_INT(ev_count(), 0);

	/* A new probe on the same function works normally. */
	if (!rp_attach(&d, flags, 1, 1))
		return;
	ev_reset();
	CHECK_EQ_U64(call_dt(fn, x), want);
	get_stats(&s2);
	CHECK_EQ_U64(s2.ret_orphaned - s1.ret_orphaned, 0);
	check_probe(&d, frames, frames, 0, 0);
	if (fn == dt_fn) {
		seq[0] = 0;
		seq_add(seq, sizeof(seq), 'E', &d, x, 0);
		seq_add(seq, sizeof(seq), 'R', &d, x, ex_dt(x));
		check_seq(seq);
	}
}

static void t_detach_in_flight(unsigned int flags)
{
	detach_in_flight(flags, 1, dt_fn, 5, 1);
}

static void t_free_in_flight(unsigned int flags)
{
	detach_in_flight(flags, 2, dt_fn, -8, 1);
}

static void t_detach_in_flight_nested(unsigned int flags)
{
	detach_in_flight(flags, 1, dt_rec, 2, 3);
}

/* ---- case 12: backtrace() and _Unwind_Backtrace ------------------------ */

#define BT_MAX 48

struct bt_list {
	int n, un;
	char sym[BT_MAX][192];
	uint64_t ip[BT_MAX];
	char uname[BT_MAX][96];
	uint64_t uip[BT_MAX];
};

static struct bt_list bt_now, bt_lists[2];

static _Unwind_Reason_Code bt_cb(struct _Unwind_Context *ctx, void *arg)
{
	struct bt_list *l = arg;
	uint64_t ip = _Unwind_GetIP(ctx);
	Dl_info di;

	if (l->un >= BT_MAX)
		return _URC_END_OF_STACK;
	l->uip[l->un] = ip;
	/* ip - 1: a return address may be past the end of a noreturn call's function. */
	if (ip && dladdr((void *)(uintptr_t)(ip - 1), &di) && di.dli_sname)
		snprintf(l->uname[l->un], sizeof(l->uname[0]), "%s", di.dli_sname);
	else
		snprintf(l->uname[l->un], sizeof(l->uname[0]), "?");
	l->un++;
	return _URC_NO_REASON;
}

NOIPA void bt_collect(void)
{
	void *buf[BT_MAX];
	char **s;
	int i;

	bt_now.n = backtrace(buf, BT_MAX);
	s = backtrace_symbols(buf, bt_now.n);
	for (i = 0; i < bt_now.n; i++) {
		bt_now.ip[i] = (uintptr_t)buf[i];
		snprintf(bt_now.sym[i], sizeof(bt_now.sym[0]), "%s", s ? s[i] : "?");
	}
	free(s);
	bt_now.un = 0;
	_Unwind_Backtrace(bt_cb, &bt_now);
}

static int bt_in_signal; /* collect from a SIGUSR1 handler raised in bt_f3 */

static void bt_sig_handler(int sig)
{
	(void)sig;
	bt_collect();
}

NOIPA long bt_f3(long x)
{
	OPAQUE(x);
	if (bt_in_signal)
		raise(SIGUSR1);
	else
		bt_collect();
	return x * 3 + 1;
}

NOIPA long bt_f2(long x)
{
	long r = bt_f3(x + 1);

	OPAQUE(r);
	return r + 2;
}

NOIPA long bt_f1(long x)
{
	long r = bt_f2(x + 1);

	OPAQUE(r);
	return r + 3;
}

static void bt_print(const struct bt_list *l, const char *what)
{
	int i;

	printf("    %s backtrace():\n", what);
	for (i = 0; i < l->n; i++)
		printf("      %s\n", l->sym[i]);
	printf("    %s _Unwind_Backtrace:\n", what);
	for (i = 0; i < l->un; i++)
		printf("      %#" PRIx64 " %s\n", l->uip[i], l->uname[i]);
}

static int bt_same(const struct bt_list *a, const struct bt_list *b)
{
	int i;

	if (a->n != b->n || a->un != b->un)
		return 0;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->sym[i], b->sym[i]) || a->ip[i] != b->ip[i])
			return 0;
	for (i = 0; i < a->un; i++)
		if (strcmp(a->uname[i], b->uname[i]) || a->uip[i] != b->uip[i])
			return 0;
	return 1;
}

/* bt_f3, bt_f2, bt_f1 must appear in this order, consecutively. */
static int bt_has_chain(const struct bt_list *l)
{
	int i;

	for (i = 0; i + 2 < l->un; i++)
		if (!strcmp(l->uname[i], "bt_f3") && !strcmp(l->uname[i + 1], "bt_f2") &&
		    !strcmp(l->uname[i + 2], "bt_f1"))
			return 1;
	return 0;
}

/* Pass 0 unprobed, pass 1 probed; the branch stays in here so that the caller
 * has a single call site (jump threading would otherwise duplicate it). */
NOIPA static long bt_pass(int pass, unsigned int flags, struct fdesc **ds)
{
	long r;

	if (pass == 1) {
		if (!rp_attach(ds[0], flags, 1, 1) || !rp_attach(ds[1], flags, 1, 1) ||
		    !rp_attach(ds[2], flags, 1, 1))
			return -1;
		ev_reset();
	}
	r = bt_f1(7);
	OPAQUE(r);
	memcpy(&bt_lists[pass], &bt_now, sizeof(bt_now));
	return r;
}

static void backtrace_case(unsigned int flags)
{
	struct fdesc d1 = {.name = "bt_f1", .fn = bt_f1, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d2 = {.name = "bt_f2", .fn = bt_f2, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc d3 = {.name = "bt_f3", .fn = bt_f3, .rk = RK_LONG, .log = LOG_ALL};
	struct fdesc *ds[3] = {&d1, &d2, &d3};
	long res[2];
	char seq[1024] = "";
	int pass;

	for (pass = 0; pass < 2; pass++) {
		OPAQUE(pass); /* not unrolled: the same return addresses both times */
		res[pass] = bt_pass(pass, flags, ds);
	}
	CHECK_EQ_U64(res[0], (9 * 3 + 1 + 2) + 3);
	CHECK_EQ_U64(res[1], res[0]);
	if (!bt_has_chain(&bt_lists[0]))
		TL_FAIL("unprobed _Unwind_Backtrace lacks bt_f3, bt_f2, bt_f1 (test premise)");
	CHECK(bt_lists[0].n > 4);
	if (!bt_same(&bt_lists[0], &bt_lists[1])) {
		TL_FAIL("backtraces differ");
		bt_print(&bt_lists[0], "unprobed");
		bt_print(&bt_lists[1], "probed");
	}
	seq_add(seq, sizeof(seq), 'E', &d1, 7, 0);
	seq_add(seq, sizeof(seq), 'E', &d2, 8, 0);
	seq_add(seq, sizeof(seq), 'E', &d3, 9, 0);
	seq_add(seq, sizeof(seq), 'R', &d3, 9, 28);
	seq_add(seq, sizeof(seq), 'R', &d2, 8, 30);
	seq_add(seq, sizeof(seq), 'R', &d1, 7, 33);
	check_seq(seq);
	check_probe(&d1, 1, 1, 0, 0);
	check_probe(&d2, 1, 1, 0, 0);
	check_probe(&d3, 1, 1, 0, 0);
}

static void t_backtrace(unsigned int flags)
{
	backtrace_case(flags);
}

/*
 * Beyond the brief: the same from a signal handler raised in bt_f3, so the
 * unwinders cross a signal frame into the probed frames; also with the
 * handler on a sigaltstack (the probed frames are then on another stack).
 */
static void backtrace_signal(unsigned int flags, int alt)
{
	struct sigaction sa = {.sa_handler = bt_sig_handler, .sa_flags = alt ? SA_ONSTACK : 0};
	stack_t ss = {.ss_size = 64 * 1024};

	sigemptyset(&sa.sa_mask);
	if (alt) {
		ss.ss_sp = mmap(NULL, ss.ss_size, PROT_READ | PROT_WRITE,
				MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (ss.ss_sp == MAP_FAILED || sigaltstack(&ss, NULL)) {
			TL_FAIL("cannot set up the alternate stack");
			return;
		}
	}
	sigaction(SIGUSR1, &sa, NULL);
	bt_in_signal = 1;
	backtrace_case(flags);
}

static void t_backtrace_signal(unsigned int flags)
{
	backtrace_signal(flags, 0);
}

static void t_backtrace_signal_altstack(unsigned int flags)
{
	backtrace_signal(flags, 1);
}

/* ---- case 11: C++ exceptions (cxx_exc, run as a child) ----------------- */

static const char cxx_want_reports[] =
	"M scenario 1\n"
	"E f1 1\nE f2 2\nE f3 3\nR f3 3 6\nR f2 2 12\nR f1 1 13\n"
	"M scenario 2\n"
	"E f1 10\nE f2 11\nE f3 12\nU f3 12\nU f2 11\nU f1 10\nM catch main\n"
	"M scenario 3\n"
	"E f1 20\nE f2 21\nE f3 22\nU f3 22\nU f2 21\nM catch f1\nR f1 20 999\n"
	"M scenario 4\n"
	"E f1 30\nE f2 31\nE f3 32\nU f3 32\nM catch f2\nU f2 31\nU f1 30\nM catch main\n"
	"M scenario 5\n"
	"E f1 40\nE f2 41\nE f3 42\nU f3 42\nM catch f2\nU f2 41\nM catch f1\nR f1 40 999\n"
	"M scenario 6\n"
	"E f1 50\nE f2 51\nE f3 52\nR f3 52 55\nR f2 51 110\nR f1 50 111\n"
	"M loop\n"
	"M scenario 7\n"
	"E f1 60\nE f2 61\nE f3 62\nR f3 62 65\nR f2 61 130\nR f1 60 131\n"
	"f1: hits=207 ret_hits=207 unwound=102 missed=0\n"
	"f2: hits=207 ret_hits=207 unwound=154 missed=0\n"
	"f3: hits=207 ret_hits=207 unwound=154 missed=0\n"
	/*
	 * x_rec(1100) twice, 1101 calls each: the outer 1024 followed, 77
	 * missed. Thrown to main: 1024 unwound. Caught at depth 51 (n = 1050):
	 * depths 52..1024 unwound (973), 1..51 return normally.
	 */
	"rec: hits=2202 ret_hits=2048 unwound=1997 missed=154\n"
	"bad=0 null_cookies=154\n"
	"stats: ret_hits=2669 ret_unwound=2407 ret_missed=154 ret_orphaned=0\n";

static char *run_child(const char *path, const char *arg, int noprobe, int *status)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap);
	int fds[2];
	pid_t pid;
	ssize_t n;

	if (!buf || pipe(fds))
		return NULL;
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], 1);
		close(fds[0]);
		close(fds[1]);
		if (noprobe)
			setenv("RETPROBE_NOPROBE", "1", 1);
		else
			unsetenv("RETPROBE_NOPROBE");
		execl(path, path, arg, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	while ((n = read(fds[0], buf + len, cap - len - 1)) > 0) {
		len += n;
		if (cap - len < 4096) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
	}
	buf[len] = 0;
	close(fds[0]);
	waitpid(pid, status, 0);
	return buf;
}

/* Line number and both lines of the first difference. */
static void print_first_diff(const char *got, const char *want)
{
	const char *g = got, *w = want, *gl = got, *wl = want;
	int line = 1;

	while (*g && *g == *w) {
		if (*g == '\n') {
			line++;
			gl = g + 1;
			wl = w + 1;
		}
		g++, w++;
	}
	printf("    first difference at line %d:\n    got:  %.*s\n    want: %.*s\n", line,
	       (int)strcspn(gl, "\n"), gl, (int)strcspn(wl, "\n"), wl);
}

static void t_cxx_bin(unsigned int flags, const char *bin, const char *want_path)
{
	const char *sepstr = "--- reports ---\n";
	char exe[PATH_MAX], path[PATH_MAX + 16];
	char *plain, *probed, *sep;
	int st1 = -1, st2 = -1;
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	if (n <= 0) {
		TL_FAIL("readlink /proc/self/exe: %s", strerror(errno));
		return;
	}
	exe[n] = 0;
	snprintf(path, sizeof(path), "%s/%s", dirname(exe), bin);
	if (want_path)
		setenv("RETPROBE_WANT_PATH", want_path, 1);
	else
		unsetenv("RETPROBE_WANT_PATH");
	plain = run_child(path, flags & UPROBE_F_NO_OPTIMIZE ? "noopt" : "default", 1, &st1);
	probed = run_child(path, flags & UPROBE_F_NO_OPTIMIZE ? "noopt" : "default", 0, &st2);
	if (!plain || !probed) {
		TL_FAIL("cannot run %s", path);
		goto out;
	}
	if (!WIFEXITED(st1) || WEXITSTATUS(st1))
		TL_FAIL("unprobed %s: status %#x", path, st1);
	if (!WIFEXITED(st2) || WEXITSTATUS(st2))
		TL_FAIL("probed %s: status %#x", path, st2);
	CHECK(strlen(plain) > 200);
	CHECK(strstr(plain, sepstr) == NULL);
	sep = strstr(probed, sepstr);
	if (!sep) {
		TL_FAIL("probed run printed no reports; its output:\n%s", probed);
		goto out;
	}
	*sep = 0;
	if (strcmp(probed, plain)) {
		TL_FAIL("transcripts differ (probed vs unprobed)");
		print_first_diff(probed, plain);
	}
	sep += strlen(sepstr);
	if (strcmp(sep, cxx_want_reports)) {
		TL_FAIL("return reports differ");
		print_first_diff(sep, cxx_want_reports);
		printf("    got:\n%s", sep);
	}
out:
	unsetenv("RETPROBE_WANT_PATH");
	free(plain);
	free(probed);
}

/*
 * cxx_exc's functions have .cold parts (the hijack); cxx_exc_site is the
 * same program built without them (-fno-reorder-blocks-and-partition): the
 * same reports with every return probe on the patched path (the hijack when
 * UPROBE_RET_PATH=hijack).
 */
/*
 * make check-forced: cxx_exc's first probed function, x_f1, jumps to its .cold
 * part: with the hijack forced off cxx_exc refuses to run, saying why (exit 2).
 */
static void t_cxx_refused(unsigned int flags)
{
	char exe[PATH_MAX], path[PATH_MAX + 16];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *out;
	int st = -1;

	if (n <= 0) {
		TL_FAIL("readlink /proc/self/exe: %s", strerror(errno));
		return;
	}
	exe[n] = 0;
	snprintf(path, sizeof(path), "%s/cxx_exc", dirname(exe));
	out = run_child(path, flags & UPROBE_F_NO_OPTIMIZE ? "noopt" : "default", 0, &st);
	if (!out) {
		TL_FAIL("cannot run %s", path);
		return;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 2)
		TL_FAIL("cxx_exc: status %#x, want exit 2 (refused)", st);
	CHECK(!strncmp(out, "attach f1: errno 95: 0x", 23)); /* ENOTSUP, nothing run */
	CHECK_CONTAINS(out, ": its exits cannot be patched (UPROBE_RET_PATH=site-strict): '");
	CHECK_CONTAINS(out, "' at +0x");
	CHECK_CONTAINS(out, " jumps to x_f1.cold, a part of a function elsewhere\n");
	free(out);
}

static void t_cxx(unsigned int flags)
{
	const char *env = getenv("UPROBE_RET_PATH");
	bool hijack = env && !strcmp(env, "hijack");

	if (forced_ret_path())
		t_cxx_refused(flags);
	else
		t_cxx_bin(flags, "cxx_exc", "hijack");
	t_cxx_bin(flags, "cxx_exc_site", hijack ? "hijack" : "site");
}

/* ---- runner ----------------------------------------------------------- */

/*
 * A case that has used this much CPU time without ending spins forever. (One
 * that hangs asleep is stopped by tests/run.sh, which sees no output.) CPU
 * time, not wall time: a loaded machine makes a case slower, not wrong.
 */
#define CASE_CPU_S 30

static const char *filter;

static void run_isolated(const char *name, void (*fn)(unsigned int), unsigned int flags)
{
	struct timespec used;
	clockid_t cpu;
	int status = 0, have_cpu;
	pid_t pid, w;

	if (filter && !strstr(name, filter))
		return;
	fflush(stdout);
	pid = fork();
	if (pid < 0) {
		printf("FAIL: %s/%s: fork: %s\n", tl_suite, name, strerror(errno));
		tl_total_failed++;
		return;
	}
	if (pid == 0) {
		tl_begin();
		fn(flags);
		rp_detach_all();
		tl_end(name);
		fflush(stdout);
		_exit(tl_case_failed ? 1 : 0);
	}
	have_cpu = !clock_getcpuclockid(pid, &cpu);
	while ((w = waitpid(pid, &status, WNOHANG)) == 0) {
		if (have_cpu && !clock_gettime(cpu, &used) && used.tv_sec >= CASE_CPU_S) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			printf("FAIL: %s/%s: %d s of CPU time and not done\n", tl_suite, name,
			       CASE_CPU_S);
			tl_total_failed++;
			return;
		}
		usleep(2000);
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return;
	tl_total_failed++;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 1)
		return; /* the FAIL line is printed */
	if (WIFSIGNALED(status))
		printf("FAIL: %s/%s: killed by signal %d (%s)\n", tl_suite, name, WTERMSIG(status),
		       strsignal(WTERMSIG(status)));
	else
		printf("FAIL: %s/%s: exit status %d\n", tl_suite, name, WEXITSTATUS(status));
}

static void run_modes(const char *name, void (*fn)(unsigned int))
{
	char full[128];

	snprintf(full, sizeof(full), "%s_default", name);
	run_isolated(full, fn, 0);
	snprintf(full, sizeof(full), "%s_noopt", name);
	run_isolated(full, fn, UPROBE_F_NO_OPTIMIZE);
	/* The fallback: every return by the return address swapped (docs/architecture.md). */
	const char *was = getenv("UPROBE_RET_PATH"); /* e.g. site-strict for the whole run */
	char saved[32];

	snprintf(saved, sizeof(saved), "%s", was ? was : "");
	snprintf(full, sizeof(full), "%s_hijack", name);
	setenv("UPROBE_RET_PATH", "hijack", 1);
	run_isolated(full, fn, 0);
	if (was)
		setenv("UPROBE_RET_PATH", saved, 1);
	else
		unsetenv("UPROBE_RET_PATH");
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	filter = argc > 1 ? argv[1] : NULL;

	run_modes("retvals", t_retvals);
	run_modes("ret_only", t_ret_only);
	run_modes("entry_only_cookie", t_entry_only);
	run_modes("modify_rax", t_modify_rax);
	run_modes("non_entry_einval", t_non_entry);
	run_modes("recursion_depth", t_recursion);
	run_modes("longjmp", t_longjmp);
	run_modes("longjmp_into_probed", t_longjmp_into_probed);
	run_modes("siglongjmp", t_siglongjmp);
	run_modes("longjmp_loop", t_longjmp_loop);
	run_modes("signal_raise", t_signal_raise);
	run_modes("signal_altstack_malloc", t_signal_altstack_malloc);
	run_modes("signal_altstack_mmap", t_signal_altstack_mmap);
	run_modes("signal_altstack_above", t_signal_altstack_above);
	run_modes("signal_alarm", t_signal_alarm);
	run_modes("signal_alarm_altstack", t_signal_alarm_altstack);
	run_modes("fork", t_fork);
	run_modes("swapcontext", t_swapcontext);
	run_modes("pthread_exit", t_pthread_exit);
	run_modes("pthread_cancel", t_pthread_cancel);
	run_modes("detach_in_flight", t_detach_in_flight);
	run_modes("free_in_flight", t_free_in_flight);
	run_modes("detach_in_flight_nested", t_detach_in_flight_nested);
	run_modes("cxx_exceptions", t_cxx);
	run_modes("backtrace", t_backtrace);
	run_modes("backtrace_signal", t_backtrace_signal);
	run_modes("backtrace_signal_altstack", t_backtrace_signal_altstack);
	run_modes("tail_call", t_tail_call);
	run_modes("two_ret_probes_one_func", t_two_probes);
	run_modes("siglongjmp_altstack", t_siglongjmp_altstack);
	run_modes("siglongjmp_altstack_loop", t_siglongjmp_altstack_loop);
	run_modes("longjmp_then_thread_end", t_longjmp_thread_end);
	run_modes("refuse_returns_twice", t_refuse_returns_twice);
	run_modes("refuse_no_caller", t_refuse_no_caller);
	run_modes("thread_end_live", t_thread_end_live);
	run_modes("coroutine_other_thread", t_coroutine_other_thread);
	TL_EXIT();
}
