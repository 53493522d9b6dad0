// SPDX-License-Identifier: MIT
/*
 * Threads through a probe on aarch64, under qemu-aarch64: four threads call
 * F (add x0, x0, #1; ret) in a loop while the main thread rewrites F's first
 * instruction, one aligned 4-byte store each time, between the original, brk
 * (trap path, out-of-line slot) and b to a trampoline (jump.h), and each time
 * waits until every thread has gone through the new form (progress, not
 * time). Each thread's x0 must equal its number of calls: the instruction ran
 * exactly once per call in every form, whichever a thread saw. Meanwhile each
 * thread takes SIGUSR1 at any point, inside a trampoline or the trap handler
 * included, and its handler calls F too: F(41) must be 42 there as well.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "arch/aarch64/insn.h"
#include "arch/aarch64/jump.h"
#include "arch/aarch64/regs.h"
#include "testlib.h"

TL_DEFINE("aarch64_threads");

#define NTHREADS 4
#define ROUNDS 20
#define F_OFF 0
#define SLOT_OFF 256
#define TRAMP_OFF 1024

static uint8_t *page;
static struct arch_insn insn;
static uint32_t orig_word, brk_word, jump_word;
static volatile int stop;
static unsigned long hits_brk[NTHREADS], hits_jump[NTHREADS];
static __thread int self;
static unsigned long usr1_calls[NTHREADS];
static volatile int usr1_bad;

static uint64_t f_addr(void)
{
	return (uint64_t)(uintptr_t)(page + F_OFF);
}

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	if (uc->uc_mcontext.pc == f_addr()) {
		__atomic_add_fetch(&hits_brk[self], 1, __ATOMIC_RELAXED);
		uc->uc_mcontext.pc = (uint64_t)(uintptr_t)(page + SLOT_OFF);
		return;
	}
	if (arch_jump_redirect(uc) > 0)
		return;
	abort();
}

static void jump_hit(void *rec, struct uprobe_regs *regs)
{
	(void)rec;
	if (regs->pc == f_addr())
		__atomic_add_fetch(&hits_jump[self], 1, __ATOMIC_RELAXED);
}

/* Signals land anywhere, a trampoline's frame or the SIGTRAP handler included. */
static void on_usr1(int sig)
{
	uint64_t (*f)(uint64_t) = (uint64_t (*)(uint64_t))(uintptr_t)f_addr();

	(void)sig;
	if (f(41) != 42)
		usr1_bad = 1;
	__atomic_add_fetch(&usr1_calls[self], 1, __ATOMIC_RELAXED);
}

struct worker {
	pthread_t tid;
	int id;
	uint64_t calls, x0;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	uint64_t (*f)(uint64_t) = (uint64_t (*)(uint64_t))(uintptr_t)f_addr();

	self = w->id;
	while (!__atomic_load_n(&stop, __ATOMIC_ACQUIRE)) {
		w->x0 = f(w->x0);
		w->calls++;
	}
	return NULL;
}

/* One aligned 4-byte store, then the cache maintenance. */
static void patch(uint32_t word)
{
	__atomic_store_n((uint32_t *)(page + F_OFF), word, __ATOMIC_RELEASE);
	__builtin___clear_cache((char *)page + F_OFF, (char *)page + F_OFF + 4);
}

/* Wait until every thread has gone through the current form once more. */
static void wait_all(unsigned long *hits)
{
	unsigned long seen[NTHREADS];

	for (int i = 0; i < NTHREADS; i++)
		seen[i] = __atomic_load_n(&hits[i], __ATOMIC_RELAXED);
	for (int i = 0; i < NTHREADS; i++)
		while (__atomic_load_n(&hits[i], __ATOMIC_RELAXED) == seen[i])
			sched_yield();
}

static void setup(void)
{
	static uint8_t tramp[ARCH_TRAMP_MAX];
	uint32_t code[2] = { 0x91000400u /* add x0, x0, #1 */, 0xd65f03c0u /* ret */ };
	uint8_t slot[ARCH_XOL_SLOT_SIZE];
	struct sigaction sa;
	int len;

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	CHECK(page != MAP_FAILED);
	memcpy(page + F_OFF, code, sizeof(code));
	CHECK_EQ_INT(arch_insn_analyze(&insn, page + F_OFF, 4, f_addr(), NULL, 0), 0);
	CHECK_EQ_INT(insn.op, ARCH_OP_XOL);
	len = arch_xol_build(&insn, (uintptr_t)(page + SLOT_OFF), slot);
	CHECK_EQ_INT(len, 8);
	memcpy(page + SLOT_OFF, slot, len);
	len = arch_jump_build(&insn, (uintptr_t)(page + TRAMP_OFF), jump_hit, NULL, false, tramp, NULL);
	CHECK(len > 0 && TRAMP_OFF + len <= 4096);
	memcpy(page + TRAMP_OFF, tramp, len);
	__builtin___clear_cache((char *)page, (char *)page + 4096);
	orig_word = code[0];
	brk_word = ARCH_BREAKPOINT;
	jump_word = arch_jump_insn(f_addr(), (uintptr_t)(page + TRAMP_OFF));
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER; /* a SIGUSR1 handler inside it may hit brk */
	sigaction(SIGTRAP, &sa, NULL);
	sa.sa_handler = on_usr1;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGUSR1, &sa, NULL);
}

/* Signal every thread and wait until each has run its handler. */
static void signal_all(struct worker *w)
{
	for (int i = 0; i < NTHREADS; i++) {
		unsigned long seen = __atomic_load_n(&usr1_calls[i], __ATOMIC_RELAXED);

		pthread_kill(w[i].tid, SIGUSR1);
		while (__atomic_load_n(&usr1_calls[i], __ATOMIC_RELAXED) == seen)
			sched_yield();
	}
}

static void test_patch_under_threads(void)
{
	struct worker w[NTHREADS] = { 0 };
	unsigned long brk_total = 0, jump_total = 0;

	setup();
	for (int i = 0; i < NTHREADS; i++) {
		w[i].id = i;
		pthread_create(&w[i].tid, NULL, work, &w[i]);
	}
	for (int r = 0; r < ROUNDS; r++) {
		patch(brk_word);
		wait_all(hits_brk);
		signal_all(w);
		patch(jump_word);
		wait_all(hits_jump);
		signal_all(w);
		patch(orig_word);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < NTHREADS; i++) {
		pthread_join(w[i].tid, NULL);
		CHECK_EQ_U64(w[i].x0, w[i].calls);
		brk_total += hits_brk[i];
		jump_total += hits_jump[i];
		CHECK(hits_brk[i] >= ROUNDS && hits_jump[i] >= ROUNDS);
		CHECK(hits_brk[i] + hits_jump[i] <= w[i].calls + usr1_calls[i]);
		CHECK_EQ_U64(usr1_calls[i], 2 * ROUNDS);
	}
	CHECK(!usr1_bad);
	printf("  %d threads, %d rounds: %lu brk hits, %lu trampoline hits\n", NTHREADS, ROUNDS,
	       brk_total, jump_total);
}

int main(void)
{
	RUN(test_patch_under_threads);
	TL_EXIT();
}
