// SPDX-License-Identifier: MIT
/*
 * The real library on aarch64 under qemu-aarch64: probes attached with the
 * public API (include/uprobes.h: uprobe_attach, uprobe_attach_many,
 * uprobe_get_info, uprobe_detach) on functions of this program
 * (engine_targets.S), one instruction class each, in breakpoint mode
 * (UPROBE_F_NO_OPTIMIZE: brk #0x5a1, then emulated or out of line) and in jump
 * mode (one b to a trampoline). Each case: the mode the library chose, the word
 * in the text, hit counts exact, the registers the handler sees (x0, x1, pc,
 * sp, nzcv), a handler's register change taking effect, the results equal to
 * the unprobed run's, and the original word back after detach.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("aarch64_engine");

long eng_add(long a, long b);
long eng_lit(long a);
long eng_cond(long a);
long eng_cbz(long a);
long eng_call(long a, long b);
long eng_adr(void);
long eng_flags(long a, long b);
long eng_excl(long *p);
long eng_regs(long a);
long eng_tbz(long a);
long eng_adrp(long a);
long eng_b(long a);
long eng_blr(long a, long b, long (*fn)(long, long));
long eng_ldrq(long a);
extern char eng_blr_at[];
long eng_regs_x1(long a, long b) __asm__("eng_regs"); /* x1 = b on entry */
extern char eng_regs_at[];
extern char eng_add_ret[], eng_cond_at[], eng_call_at[], eng_flags_at[];

#define BRK_WORD (0xd4200000u | 0x5a1u << 5)
#define CALLS 50

struct seen {
	uint64_t hits;
	struct uprobe_regs last;
	long add_x1; /* added to x1 by the handler */
};

static void on_hit(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	struct seen *s = ctx;

	(void)p;
	__atomic_fetch_add(&s->hits, 1, __ATOMIC_RELAXED);
	s->last = *regs;
	regs->x[1] += s->add_x1;
}

static uint32_t word_at(const void *addr)
{
	return *(const volatile uint32_t *)addr;
}

/* sp of a call made from here (sp does not move inside a function body on aarch64) */
static __attribute__((noinline)) long call2(long (*fn)(long, long), long a, long b, uint64_t *sp)
{
	uint64_t v;

	__asm__ volatile("mov %0, sp" : "=r"(v));
	*sp = v;
	return fn(a, b);
}

static long eng_lit2(long a, long b) { (void)b; return eng_lit(a); }
static long eng_cond2(long a, long b) { (void)b; return eng_cond(a); }
static long eng_cbz2(long a, long b) { (void)b; return eng_cbz(a); }
static long eng_adr2(long a, long b) { (void)a, (void)b; return eng_adr(); }
static long eng_tbz2(long a, long b) { (void)b; return eng_tbz(a); }
static long eng_adrp2(long a, long b) { (void)b; return eng_adrp(a); }
static long eng_b2(long a, long b) { (void)b; return eng_b(a); }
static long eng_blr2(long a, long b) { return eng_blr(a, b, eng_add); }
static long eng_ldrq2(long a, long b) { (void)b; return eng_ldrq(a); }

static long ref(const char *fn, long a, long b)
{
	if (!strcmp(fn, "eng_add")) return a + b;
	if (!strcmp(fn, "eng_lit")) return a + 0x1122334455667788l;
	if (!strcmp(fn, "eng_cond")) return a < 5 ? 200 : 100;
	if (!strcmp(fn, "eng_cbz")) return a ? 7 : 9;
	if (!strcmp(fn, "eng_call")) return 2 * (a + b);
	if (!strcmp(fn, "eng_adr")) return 0x0123456789abcdefl;
	if (!strcmp(fn, "eng_tbz")) return a & 8 ? 1 : 2;
	if (!strcmp(fn, "eng_adrp")) return a + 0x5050;
	if (!strcmp(fn, "eng_b")) return a + 3;
	if (!strcmp(fn, "eng_blr")) return a + b + 1;
	if (!strcmp(fn, "eng_ldrq")) return a ^ 0x00ff00ff00ff00ffl ^ 0x1234000000004321l;
	return a - b < 0;
}

static long (*fn_of(const char *fn))(long, long)
{
	if (!strcmp(fn, "eng_add")) return eng_add;
	if (!strcmp(fn, "eng_lit")) return eng_lit2;
	if (!strcmp(fn, "eng_cond")) return eng_cond2;
	if (!strcmp(fn, "eng_cbz")) return eng_cbz2;
	if (!strcmp(fn, "eng_call")) return eng_call;
	if (!strcmp(fn, "eng_adr")) return eng_adr2;
	if (!strcmp(fn, "eng_tbz")) return eng_tbz2;
	if (!strcmp(fn, "eng_adrp")) return eng_adrp2;
	if (!strcmp(fn, "eng_b")) return eng_b2;
	if (!strcmp(fn, "eng_blr")) return eng_blr2;
	if (!strcmp(fn, "eng_ldrq")) return eng_ldrq2;
	return eng_flags;
}

struct target {
	const char *fn, *loc; /* the function called, the probe's location */
	void *addr;
	enum uprobe_mode brk_mode; /* with UPROBE_F_NO_OPTIMIZE */
	int sp_delta;		   /* sp at the probe below the caller's */
};

static struct target targets[] = {
	{ "eng_add", "eng_add", (void *)eng_add, UPROBE_MODE_XOL, 0 },
	{ "eng_add", "eng_add+4", eng_add_ret, UPROBE_MODE_XOL, 0 },
	{ "eng_lit", "eng_lit", (void *)eng_lit, UPROBE_MODE_EMULATE, 0 },
	{ "eng_cond", "eng_cond+4", eng_cond_at, UPROBE_MODE_EMULATE, 0 },
	{ "eng_cbz", "eng_cbz", (void *)eng_cbz, UPROBE_MODE_EMULATE, 0 },
	{ "eng_call", "eng_call+8", eng_call_at, UPROBE_MODE_EMULATE, 16 },
	{ "eng_adr", "eng_adr", (void *)eng_adr, UPROBE_MODE_EMULATE, 0 },
	{ "eng_flags", "eng_flags+4", eng_flags_at, UPROBE_MODE_XOL, 0 },
	{ "eng_tbz", "eng_tbz", (void *)eng_tbz, UPROBE_MODE_EMULATE, 0 },
	{ "eng_adrp", "eng_adrp", (void *)eng_adrp, UPROBE_MODE_EMULATE, 0 },
	{ "eng_b", "eng_b", (void *)eng_b, UPROBE_MODE_EMULATE, 0 },
	{ "eng_blr", "eng_blr+8", eng_blr_at, UPROBE_MODE_EMULATE, 16 },
	{ "eng_ldrq", "eng_ldrq", (void *)eng_ldrq, UPROBE_MODE_EMULATE, 0 },
};
#define NTARGETS (sizeof(targets) / sizeof(targets[0]))

/* Arguments of call i: both sides of every condition. */
static void args_of(int i, long *a, long *b)
{
	*a = (i % 3 == 0) ? 0 : (i % 2 ? i : -i);
	*b = (i * 7) % 11 - 5;
}

static void run_target(const struct target *t, bool jump)
{
	struct seen s = { 0 };
	struct uprobe_opts o = { .sz = sizeof(o), .handler = on_hit, .ctx = &s,
				 .flags = jump ? 0 : UPROBE_F_NO_OPTIMIZE };
	struct uprobe_info info = { .sz = sizeof(info) };
	uint32_t orig = word_at(t->addr);
	long (*fn)(long, long) = fn_of(t->fn);
	struct uprobe *p;

	p = uprobe_attach(NULL, t->loc, &o);
	if (!p) {
		TL_FAIL("%s: uprobe_attach: %s", t->loc, uprobe_last_error());
		return;
	}
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_U64(info.addr, (uintptr_t)t->addr);
	if (jump) {
		CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
		CHECK_EQ_U64(word_at(t->addr) >> 26, 0x05); /* b imm26 */
		if (info.mode != UPROBE_MODE_OPTIMIZED)
			printf("  %s: %s; not optimized: %s\n", t->loc, info.reason, info.opt_reason);
	} else {
		CHECK_EQ_INT(info.mode, t->brk_mode);
		CHECK_EQ_U64(word_at(t->addr), BRK_WORD);
	}
	for (int i = 0; i < CALLS; i++) {
		long a, b, got;
		uint64_t sp;

		args_of(i, &a, &b);
		got = call2(fn, a, b, &sp);
		CHECK_EQ_U64(got, ref(t->fn, a, b));
		CHECK_EQ_U64(s.hits, (uint64_t)i + 1);
		CHECK_EQ_U64(s.last.pc, (uintptr_t)t->addr);
		CHECK_EQ_U64(s.last.sp, sp - t->sp_delta);
		if (!strcmp(t->loc, "eng_blr+8"))
			CHECK_EQ_U64(s.last.x[2], (uintptr_t)eng_add);
		if (!strcmp(t->loc, "eng_add") || !strcmp(t->loc, "eng_call+8") ||
		    !strcmp(t->loc, "eng_blr+8")) {
			CHECK_EQ_U64(s.last.x[0], a);
			CHECK_EQ_U64(s.last.x[1], b);
		}
		if (!strcmp(t->loc, "eng_add+4"))
			CHECK_EQ_U64(s.last.x[0], a + b);
		if (!strcmp(t->loc, "eng_flags+4")) {
			CHECK_EQ_U64(s.last.x[0], a - b);
			CHECK_EQ_U64(s.last.pstate >> 31 & 1, a - b < 0); /* N */
			CHECK_EQ_U64(s.last.pstate >> 30 & 1, a == b);	    /* Z */
		}
		if (!strcmp(t->loc, "eng_cond+4"))
			CHECK_EQ_U64(s.last.pstate >> 31 & 1, a < 5);
		if (tl_case_failed)
			break;
	}
	/* the handler's change of x1 at eng_add's entry takes effect */
	if (!strcmp(t->loc, "eng_add")) {
		s.add_x1 = 1000;
		CHECK_EQ_INT(eng_add(3, 4), 1007);
		s.add_x1 = 0;
	}
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_U64(info.hits, s.hits);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	CHECK_EQ_U64(word_at(t->addr), orig);
	{
		uint64_t sp, before = s.hits;
		long a, b;

		args_of(1, &a, &b);
		CHECK_EQ_U64(call2(fn, a, b, &sp), ref(t->fn, a, b));
		CHECK_EQ_U64(s.hits, before);
	}
	uprobe_free(p);
}

static void test_brk(void)
{
	for (size_t i = 0; i < NTARGETS; i++)
		run_target(&targets[i], false);
}

static void test_jump(void)
{
	for (size_t i = 0; i < NTARGETS; i++)
		run_target(&targets[i], true);
}

/* The reasons the library gives for aarch64's classes. */
static void test_analyze(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	CHECK_EQ_INT(uprobe_analyze(NULL, "eng_cond+4", UPROBE_F_NO_OPTIMIZE, &info), 0);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_EMULATE);
	CHECK_STR(info.reason, "emulated: conditional branch");
	CHECK_EQ_INT(info.insn_len, 4);
	CHECK_CONTAINS(info.insn_text, "b.lt");
	CHECK_EQ_INT(uprobe_analyze(NULL, "eng_add", UPROBE_F_NO_OPTIMIZE, &info), 0);
	CHECK_STR(info.reason, "executed out of line, then a branch back");
	CHECK_EQ_INT(uprobe_analyze(NULL, "eng_add", 0, &info), 0);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_EQ_INT(info.window_len, 4);
	CHECK_EQ_INT(uprobe_analyze(NULL, "eng_add+2", 0, &info), -EILSEQ);
}

/* Emulation disabled: a PC-relative instruction cannot run out of line, it is emulated anyway. */
static void test_no_emulate(void)
{
	struct seen s = { 0 };
	struct uprobe_opts o = { .sz = sizeof(o), .handler = on_hit, .ctx = &s,
				 .flags = UPROBE_F_NO_EMULATE };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach(NULL, "eng_cbz", &o), *q;

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_EMULATE);
	CHECK_STR(info.reason, "emulated: compare and branch (cannot run out of line)");
	CHECK_EQ_INT(eng_cbz(0), 9);
	CHECK_EQ_INT(eng_cbz(1), 7);
	CHECK_EQ_U64(s.hits, 2);
	q = uprobe_attach(NULL, "eng_add", &o);
	CHECK(q != NULL);
	CHECK_EQ_INT(uprobe_get_info(q, &info), 0);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_XOL);
	CHECK_EQ_INT(eng_add(1, 2), 3);
	CHECK_EQ_U64(s.hits, 3);
	uprobe_free(q);
	uprobe_free(p);
}

/* Every target at once, in one batch, brk and jump mixed; then one detach. */
static void test_batch(void)
{
	struct uprobe_spec specs[2 * NTARGETS];
	struct uprobe *probes[2 * NTARGETS];
	struct seen s[2 * NTARGETS];
	size_t n = 0;

	memset(s, 0, sizeof(s));
	for (size_t i = 0; i < NTARGETS; i++) {
		/* eng_add+4 is inside nothing: every probe is its own instruction */
		specs[n] = (struct uprobe_spec){ .location = targets[i].loc, .handler = on_hit,
						 .ctx = &s[n], .flags = i % 2 ? UPROBE_F_NO_OPTIMIZE : 0 };
		n++;
	}
	CHECK_EQ_INT(uprobe_attach_many(specs, n, probes, NULL), (int)n);
	for (int i = 0; i < CALLS; i++) {
		long a, b;

		args_of(i, &a, &b);
		for (size_t k = 0; k < NTARGETS; k++)
			if (k == 0 || strcmp(targets[k].fn, targets[k - 1].fn))
				CHECK_EQ_U64(fn_of(targets[k].fn)(a, b), ref(targets[k].fn, a, b));
	}
	for (size_t k = 0; k < n; k++) {
		/* eng_add runs directly and from eng_call and eng_blr */
		uint64_t want = !strcmp(targets[k].fn, "eng_add") ? 3 * CALLS : CALLS;

		CHECK_EQ_U64(s[k].hits, want);
	}
	CHECK_EQ_INT(uprobe_detach_many(probes, n), 0);
	for (size_t k = 0; k < n; k++)
		uprobe_free(probes[k]);
}

/* Exclusive sequences: the load, the store and what lies between are refused, with the reason. */
static void test_exclusive(void)
{
	static const char *const locs[] = { "eng_excl", "eng_excl+4", "eng_excl+8" };
	struct seen s = { 0 };
	uint32_t orig = word_at((void *)eng_excl);
	long v = 41;

	for (unsigned f = 0; f < 2; f++) {
		struct uprobe_opts o = { .sz = sizeof(o), .handler = on_hit, .ctx = &s,
					 .flags = f ? UPROBE_F_NO_OPTIMIZE : 0 };

		for (unsigned i = 0; i < 3; i++) {
			struct uprobe *p;

			errno = 0;
			p = uprobe_attach(NULL, locs[i], &o);
			CHECK(p == NULL);
			CHECK_EQ_INT(errno, ENOTSUP);
			CHECK_CONTAINS(uprobe_last_error(), locs[i]);
			CHECK_CONTAINS(uprobe_last_error(), i == 1 ? "inside the exclusive sequence"
								  : "exclusive");
			uprobe_free(p);
		}
		/* after the store-exclusive: probed */
		struct uprobe *p = uprobe_attach(NULL, "eng_excl+16", &o);

		CHECK(p != NULL);
		CHECK_EQ_INT(eng_excl(&v), 42 + f);
		uprobe_free(p);
	}
	CHECK_EQ_U64(s.hits, 2);
	CHECK_EQ_U64(word_at((void *)eng_excl), orig);
}

static uint64_t new_pc;

/* Check x9..x15 as eng_regs set them; change x9; move pc if new_pc is set. */
static void on_regs(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	struct seen *s = ctx;

	(void)p;
	s->hits++;
	for (unsigned r = 9; r <= 15; r++)
		if (regs->x[r] != r)
			s->add_x1 = -1; /* a mismatch, reported by the test */
	regs->x[9] = 100;
	if (new_pc)
		regs->pc = new_pc;
}

/*
 * The handler sees every register the program set and its writes take effect;
 * a handler that moves pc resumes there, the instruction skipped (jump mode:
 * the trampoline leaves through its redirect trap).
 */
static void test_handler_regs(void)
{
	for (unsigned f = 0; f < 2; f++) {
		struct seen s = { 0 };
		struct uprobe_opts o = { .sz = sizeof(o), .handler = on_regs, .ctx = &s,
					 .flags = f ? UPROBE_F_NO_OPTIMIZE : 0 };
		struct uprobe_info info = { .sz = sizeof(info) };
		struct uprobe *p = uprobe_attach(NULL, "eng_regs+28", &o);

		CHECK(p != NULL);
		if (!p)
			return;
		CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
		CHECK_EQ_INT(info.mode, f ? UPROBE_MODE_XOL : UPROBE_MODE_OPTIMIZED);
		CHECK_EQ_U64(info.addr, (uintptr_t)eng_regs_at);
		new_pc = 0;
		CHECK_EQ_INT(eng_regs(1), 1 + 100 + 15); /* x9 as the handler left it */
		/* the add skipped: x1 keeps the caller's 7, the result is a + 7 */
		new_pc = (uintptr_t)eng_regs_at + 4;
		CHECK_EQ_INT(eng_regs_x1(1, 7), 1 + 7);
		new_pc = 0;
		CHECK_EQ_INT(eng_regs(2), 2 + 100 + 15);
		CHECK_EQ_U64(s.hits, 3);
		CHECK_EQ_INT(s.add_x1, 0);
		uprobe_free(p);
	}
}

static uint64_t fault_at;

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig, (void)si;
	_exit(uc->uc_mcontext.pc == fault_at ? 0 : 3);
}

/*
 * A literal load whose literal cannot be read faults at the instruction, as it
 * would unprobed: the program's SIGSEGV handler sees pc at the probed ldr (the
 * library's fault-safe read and SIGSEGV hook, installed with the probe). In a
 * child per mode: the handler exits with 0 then.
 */
static void test_literal_fault(void)
{
	long pg = sysconf(_SC_PAGESIZE);

	for (unsigned f = 0; f < 2; f++) {
		pid_t pid = fork();
		int st = -1;

		if (!pid) {
			uint8_t *m = mmap(NULL, 2 * pg, PROT_READ | PROT_WRITE,
					  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			uint32_t *code = (uint32_t *)(m + pg - 8);
			struct uprobe_opts o = { .sz = sizeof(o), .handler = on_hit,
						 .ctx = &(struct seen){ 0 },
						 .flags = UPROBE_F_NO_BOUNDARY_CHECK |
							  (f ? UPROBE_F_NO_OPTIMIZE : 0) };
			struct sigaction sa = { .sa_sigaction = on_segv, .sa_flags = SA_SIGINFO };

			if (m == MAP_FAILED)
				_exit(10);
			code[0] = 0x58000000u | (16 / 4) << 5; /* ldr x0, .+16: in the next page */
			code[1] = 0xd65f03c0u;		     /* ret */
			if (mprotect(m, pg, PROT_READ | PROT_EXEC) || munmap(m + pg, pg))
				_exit(11);
			__builtin___clear_cache((char *)code, (char *)(code + 2));
			fault_at = (uintptr_t)code;
			sigaction(SIGSEGV, &sa, NULL);
			if (!uprobe_attach_addr(code, &o)) {
				printf("  attach: %s\n", uprobe_last_error());
				_exit(12);
			}
			((long (*)(void))(uintptr_t)code)();
			_exit(13);
		}
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st));
		CHECK_EQ_INT(WEXITSTATUS(st), 0);
	}
}

static int prog_traps;

static void on_prog_trap(int sig, siginfo_t *si, void *ucv)
{
	ucontext_t *uc = ucv;

	(void)sig, (void)si;
	prog_traps++;
	uc->uc_mcontext.pc += 4; /* past the brk */
}

/*
 * A brk of the program's own (__builtin_trap's #0x3e8, gdb's #0) reaches the
 * program's SIGTRAP handler while probes are attached; also where a detached
 * probe was (its record stays: without the word's check its trap would be
 * replayed as a late one of the probe, forever). The latter in a child, with
 * an alarm.
 */
static void test_foreign_brk(void)
{
	struct sigaction sa = { .sa_sigaction = on_prog_trap, .sa_flags = SA_SIGINFO }, old;
	struct seen s = { 0 };
	struct uprobe_opts o = { .sz = sizeof(o), .handler = on_hit, .ctx = &s,
				 .flags = UPROBE_F_NO_OPTIMIZE };
	struct uprobe *p = uprobe_attach(NULL, "eng_add", &o);

	CHECK(p != NULL);
	CHECK_EQ_INT(sigaction(SIGTRAP, &sa, &old), 0);
	__asm__ volatile("brk #0x3e8" ::: "memory");
	__asm__ volatile("brk #0" ::: "memory");
	CHECK_EQ_INT(prog_traps, 2);
	CHECK_EQ_INT(eng_add(2, 3), 5);
	CHECK_EQ_U64(s.hits, 1);
	uprobe_free(p);

	pid_t pid = fork();
	int st = -1;

	if (!pid) {
		uint32_t *code = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		struct uprobe_opts oc = { .sz = sizeof(oc), .handler = on_hit, .ctx = &s,
					  .flags = UPROBE_F_NO_BOUNDARY_CHECK };

		alarm(10);
		if (code == MAP_FAILED)
			_exit(10);
		code[0] = 0xd503201fu; /* nop */
		code[1] = 0xd65f03c0u; /* ret */
		__builtin___clear_cache((char *)code, (char *)(code + 2));
		p = uprobe_attach_addr(code, &oc);
		if (!p)
			_exit(11);
		((void (*)(void))(uintptr_t)code)();
		uprobe_free(p);
		code[0] = 0xd4200000u | 0x3e8u << 5; /* brk #0x3e8 */
		__builtin___clear_cache((char *)code, (char *)(code + 2));
		prog_traps = 0;
		((void (*)(void))(uintptr_t)code)();
		_exit(prog_traps == 1 && s.hits == 2 ? 0 : 12);
	}
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st));
	CHECK_EQ_INT(WEXITSTATUS(st), 0);
	sigaction(SIGTRAP, &old, NULL);
}

#define THREADS 4
#define THREAD_CALLS 2000

static void *worker(void *arg)
{
	long sum = 0;

	for (long i = 0; i < THREAD_CALLS; i++)
		sum += eng_call(i, 1) - 2 * (i + 1);
	*(long *)arg = sum;
	return NULL;
}

/* Four threads through a jump probe (the bl) and a brk probe (eng_add's entry). */
static void test_threads(void)
{
	struct seen s1 = { 0 }, s2 = { 0 };
	struct uprobe_opts o1 = { .sz = sizeof(o1), .handler = on_hit, .ctx = &s1 };
	struct uprobe_opts o2 = { .sz = sizeof(o2), .handler = on_hit, .ctx = &s2,
				  .flags = UPROBE_F_NO_OPTIMIZE };
	struct uprobe *p = uprobe_attach(NULL, "eng_call+8", &o1);
	struct uprobe *q = uprobe_attach(NULL, "eng_add", &o2);
	pthread_t th[THREADS];
	long sums[THREADS];

	CHECK(p && q);
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, &sums[i]);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ_INT(sums[i], 0);
	}
	CHECK_EQ_U64(s1.hits, THREADS * THREAD_CALLS);
	CHECK_EQ_U64(s2.hits, THREADS * THREAD_CALLS);
	uprobe_free(p);
	uprobe_free(q);
}

static int stop_workers;
static long worker_calls[THREADS], worker_wrong[THREADS];

static void *busy_worker(void *arg)
{
	long k = (long)(intptr_t)arg;

	for (long i = 0; !__atomic_load_n(&stop_workers, __ATOMIC_ACQUIRE); i++) {
		if (eng_call(i, k) != 2 * (i + k) || eng_cbz(i & 1) != (i & 1 ? 7 : 9))
			worker_wrong[k]++;
		worker_calls[k]++;
	}
	return NULL;
}

/*
 * Probes put in and taken out 20 times (brk and jump alternately, on the bl
 * and on cbz at an entry) while four threads run through them: every result
 * right, and the hits no more than the calls.
 */
static void test_patch_under_threads(void)
{
	struct seen s = { 0 };
	pthread_t th[THREADS];
	long calls = 0;

	stop_workers = 0;
	for (long k = 0; k < THREADS; k++)
		pthread_create(&th[k], NULL, busy_worker, (void *)(intptr_t)k);
	for (int r = 0; r < 20; r++) {
		struct uprobe_opts o = { .sz = sizeof(o), .handler = on_hit, .ctx = &s,
					 .flags = r % 2 ? UPROBE_F_NO_OPTIMIZE : 0 };
		struct uprobe *p = uprobe_attach(NULL, "eng_call+8", &o);
		struct uprobe *q = uprobe_attach(NULL, "eng_cbz", &o);

		CHECK(p && q);
		for (volatile int spin = 0; spin < 20000; spin++)
			;
		uprobe_free(p);
		uprobe_free(q);
	}
	__atomic_store_n(&stop_workers, 1, __ATOMIC_RELEASE);
	for (int k = 0; k < THREADS; k++) {
		pthread_join(th[k], NULL);
		CHECK_EQ_INT(worker_wrong[k], 0);
		calls += worker_calls[k];
	}
	CHECK(s.hits > 0 && s.hits <= 2 * (uint64_t)calls);
	printf("  %ld calls, %lu hits\n", calls, (unsigned long)s.hits);
}

int main(void)
{
	RUN(test_brk);
	RUN(test_jump);
	RUN(test_analyze);
	RUN(test_no_emulate);
	RUN(test_batch);
	RUN(test_exclusive);
	RUN(test_handler_regs);
	RUN(test_literal_fault);
	RUN(test_foreign_brk);
	RUN(test_threads);
	RUN(test_patch_under_threads);
	TL_EXIT();
}
