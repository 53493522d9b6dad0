// SPDX-License-Identifier: MIT
/*
 * Return probes of the real library on aarch64 (core/retprobe.c, the hijack of
 * x30) under qemu-aarch64, through the public API, in breakpoint mode
 * (UPROBE_F_NO_OPTIMIZE) and in jump mode. The targets are compiled with
 * -mbranch-protection=standard: they start with paciasp, which signs the
 * return trampoline's address, and their autiasp checks it (qemu's CPU has
 * PAC). Each case: exact entry and return counts, the return value in x0, pc
 * the call site, sp as at the entry, the cookie of the call, a return
 * handler's change of x0 taking effect; recursion (returns innermost first);
 * longjmp out of four frames (reported unwound, by sp, at the next call); two
 * consumers of one call; detach.
 */
#include <setjmp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("aarch64_retprobe");

#define CALLS 50

static long (*volatile opaque)(long); /* makes the targets non-leaf: paciasp/autiasp */
static long ident(long a) { return a; }

__attribute__((noipa)) long rp_add(long a, long b)
{
	return opaque(a) + b;
}

long rp_fact(long n);
long rp_deep(long n, long jump);
/* real recursion: the compiler would turn a direct self-call into a loop */
static long (*volatile fact_self)(long) = rp_fact;
static long (*volatile deep_self)(long, long) = rp_deep;

__attribute__((noipa)) long rp_fact(long n)
{
	if (n <= 1)
		return opaque(1);
	return n * fact_self(n - 1);
}

static jmp_buf deep_env;

__attribute__((noipa)) long rp_deep(long n, long jump)
{
	if (n == 0) {
		if (jump)
			longjmp(deep_env, 1);
		return opaque(0);
	}
	return deep_self(n - 1, jump) + 1;
}

/* Each call from here enters rp_deep with the same sp. */
__attribute__((noipa)) static long run_deep(long n, long jump)
{
	if (setjmp(deep_env))
		return -1;
	return rp_deep(n, jump);
}

/* sp of a call made from here (sp does not move inside a function body) */
static __attribute__((noipa)) long call_add(long a, long b, uint64_t *sp)
{
	uint64_t v;

	__asm__ volatile("mov %0, sp" : "=r"(v));
	*sp = v;
	return rp_add(a, b);
}

struct seen {
	uint64_t hits, rets, unwound;
	uint64_t entry_sp[16], entry_x30[16];
	long retval[16];
	uint64_t ret_pc[16], ret_sp[16], ret_entry_sp[16], ret_addr[16], cookie[16];
	unsigned flags[16];
	long add_x0; /* added to x0 by the return handler */
};

static void on_entry(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	struct seen *s = ctx;
	uint64_t *cookie = uprobe_cookie();

	(void)p;
	if (s->hits < 16) {
		s->entry_sp[s->hits] = regs->sp;
		s->entry_x30[s->hits] = regs->x[30];
	}
	if (cookie)
		*cookie = regs->x[0] * 3 + 1;
	s->hits++;
}

static void on_ret(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *r,
		   void *ctx)
{
	struct seen *s = ctx;
	unsigned k = (unsigned)(s->rets % 16);

	(void)p;
	s->retval[k] = (long)regs->x[0];
	s->ret_pc[k] = regs->pc;
	s->ret_sp[k] = regs->sp;
	s->ret_entry_sp[k] = r->entry_sp;
	s->ret_addr[k] = r->ret_addr;
	s->cookie[k] = r->cookie;
	s->flags[k] = r->flags;
	s->rets++;
	if (r->flags & UPROBE_RET_UNWOUND)
		s->unwound++;
	regs->x[0] += s->add_x0;
}

static struct uprobe *attach(const char *fn, struct seen *s, bool jump)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = on_entry, .ret_handler = on_ret,
				 .ctx = s, .flags = jump ? 0 : UPROBE_F_NO_OPTIMIZE };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach(NULL, fn, &o);

	if (!p) {
		TL_FAIL("%s: uprobe_attach: %s", fn, uprobe_last_error());
		return NULL;
	}
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_INT(info.ret_path, UPROBE_RET_HIJACK);
	if (jump)
		CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	else
		CHECK(info.mode == UPROBE_MODE_XOL || info.mode == UPROBE_MODE_EMULATE);
	return p;
}

static void counts(bool jump)
{
	struct seen s = { 0 };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = attach("rp_add", &s, jump);

	if (!p)
		return;
	for (long i = 0; i < CALLS; i++) {
		uint64_t sp;
		long got = call_add(i, 100 * i, &sp);
		unsigned k = (unsigned)(s.rets - 1) % 16;

		CHECK_EQ_U64(got, 101 * i);
		CHECK_EQ_U64(s.hits, (uint64_t)i + 1);
		CHECK_EQ_U64(s.rets, (uint64_t)i + 1);
		CHECK_EQ_U64(s.retval[k], 101 * i);
		CHECK_EQ_U64(s.ret_sp[k], sp);	     /* sp as at the entry */
		CHECK_EQ_U64(s.ret_entry_sp[k], sp);
		CHECK_EQ_U64(s.ret_pc[k], s.ret_addr[k]);
		CHECK_EQ_U64(s.cookie[k], (uint64_t)i * 3 + 1);
		CHECK_EQ_INT(s.flags[k], 0);
		/* the entry handler runs after the hijack: x30 is the return trampoline */
		if (i < 16) {
			CHECK_EQ_U64(s.entry_x30[i], s.entry_x30[0]);
			CHECK(s.entry_x30[i] != s.ret_addr[k]);
		}
		if (tl_case_failed)
			break;
	}
	/* the return handler's change of x0 is what the caller gets */
	s.add_x0 = 1000;
	CHECK_EQ_INT(rp_add(3, 4), 1007);
	s.add_x0 = 0;
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_U64(info.hits, CALLS + 1);
	CHECK_EQ_U64(info.ret_hits, CALLS + 1);
	CHECK_EQ_U64(info.ret_unwound, 0);
	CHECK_EQ_U64(info.ret_missed, 0);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	CHECK_EQ_INT(rp_add(5, 6), 11);
	CHECK_EQ_U64(s.rets, CALLS + 1);
	uprobe_free(p);
}

static void test_counts_brk(void)
{
	counts(false);
}

static void test_counts_jump(void)
{
	counts(true);
}

static void recursion(bool jump)
{
	struct seen s = { 0 };
	struct uprobe *p = attach("rp_fact", &s, jump);
	static const long want[] = { 1, 2, 6, 24, 120 };

	if (!p)
		return;
	for (int round = 0; round < 3; round++) {
		memset(&s, 0, offsetof(struct seen, add_x0));
		CHECK_EQ_INT(rp_fact(5), 120);
		CHECK_EQ_U64(s.hits, 5);
		CHECK_EQ_U64(s.rets, 5);
		for (unsigned i = 0; i < 5; i++) {
			CHECK_EQ_U64(s.retval[i], want[i]); /* innermost first */
			CHECK_EQ_U64(s.ret_sp[i], s.entry_sp[4 - i]);
			CHECK_EQ_U64(s.cookie[i], (uint64_t)(i + 1) * 3 + 1); /* n = i + 1 */
			CHECK_EQ_INT(s.flags[i], 0);
		}
		for (unsigned i = 1; i < 5; i++)
			CHECK(s.entry_sp[i] < s.entry_sp[i - 1]);
	}
	CHECK_EQ_INT(uprobe_detach(p), 0);
	uprobe_free(p);
}

static void test_recursion_brk(void)
{
	recursion(false);
}

static void test_recursion_jump(void)
{
	recursion(true);
}

static void longjmp_out(bool jump)
{
	struct seen s = { 0 };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = attach("rp_deep", &s, jump);

	if (!p)
		return;
	/* four frames left by longjmp: no return yet */
	CHECK_EQ_INT(run_deep(3, 1), -1);
	CHECK_EQ_U64(s.hits, 4);
	CHECK_EQ_U64(s.rets, 0);
	/* the next call from the same sp finds them gone: unwound, newest first */
	CHECK_EQ_INT(run_deep(3, 0), 3);
	CHECK_EQ_U64(s.hits, 8);
	CHECK_EQ_U64(s.rets, 8);
	CHECK_EQ_U64(s.unwound, 4);
	for (unsigned i = 0; i < 4; i++) {
		CHECK_EQ_INT(s.flags[i], UPROBE_RET_UNWOUND);
		CHECK_EQ_U64(s.ret_entry_sp[i], s.entry_sp[3 - i]);
		CHECK(s.ret_pc[i] != s.entry_x30[3 - i]); /* the call site, not the trampoline */
	}
	for (unsigned i = 4; i < 8; i++) {
		CHECK_EQ_INT(s.flags[i], 0);
		CHECK_EQ_U64(s.retval[i], i - 4);
		CHECK_EQ_U64(s.ret_sp[i], s.entry_sp[11 - i]);
	}
	/* and again, from a deeper frame: the same exact counts */
	CHECK_EQ_INT(run_deep(2, 1), -1);
	CHECK_EQ_INT(run_deep(2, 0), 2);
	CHECK_EQ_U64(s.hits, 14);
	CHECK_EQ_U64(s.rets, 14);
	CHECK_EQ_U64(s.unwound, 7);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_U64(info.ret_hits, 14);
	CHECK_EQ_U64(info.ret_unwound, 7);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	uprobe_free(p);
}

static void test_longjmp_brk(void)
{
	longjmp_out(false);
}

static void test_longjmp_jump(void)
{
	longjmp_out(true);
}

/* Two consumers of one call (the second finds x30 already the trampoline's). */
static void test_two_consumers(void)
{
	struct seen a = { 0 }, b = { 0 };
	struct uprobe *p = attach("rp_add", &a, true), *q = attach("rp_add", &b, true);

	for (long i = 0; i < CALLS; i++)
		CHECK_EQ_U64(rp_add(i, 1), i + 1);
	CHECK_EQ_U64(a.hits, CALLS);
	CHECK_EQ_U64(a.rets, CALLS);
	CHECK_EQ_U64(b.hits, CALLS);
	CHECK_EQ_U64(b.rets, CALLS);
	CHECK_EQ_U64(a.retval[(CALLS - 1) % 16], CALLS);
	CHECK_EQ_U64(b.retval[(CALLS - 1) % 16], CALLS);
	CHECK_EQ_U64(a.ret_addr[0], b.ret_addr[0]);
	if (p)
		uprobe_free(p);
	if (q)
		uprobe_free(q);
	CHECK_EQ_U64(rp_add(1, 1), 2);
	CHECK_EQ_U64(a.rets, CALLS);
}

int main(void)
{
	opaque = ident;
	RUN(test_counts_brk);
	RUN(test_counts_jump);
	RUN(test_recursion_brk);
	RUN(test_recursion_jump);
	RUN(test_longjmp_brk);
	RUN(test_longjmp_jump);
	RUN(test_two_consumers);
	TL_EXIT();
}
