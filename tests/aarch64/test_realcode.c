// SPDX-License-Identifier: MIT
/*
 * Every instruction of compiler-generated code probed at once, under
 * qemu-aarch64: the workload of realcode_work.c (-O2, PAC and BTI, section
 * a64work) runs unprobed, then with a brk on each of its instructions (trap
 * path: emulation or an out-of-line slot each), then with a b to a trampoline
 * on each. Its results must equal the unprobed run's, and each instruction
 * must be hit as often in both modes.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "arch/aarch64/insn.h"
#include "arch/aarch64/jump.h"
#include "arch/aarch64/regs.h"
#include "arch/safe_read.h"
#include "realcode.h"
#include "testlib.h"

TL_DEFINE("aarch64_realcode");

extern uint8_t __start_a64work[], __stop_a64work[];

#define SLOT_STRIDE ARCH_XOL_SLOT_SIZE
#define TRAMP_STRIDE ARCH_TRAMP_MAX

static size_t n;
static struct arch_insn *insns;
static uint8_t *usable, *area; /* area: n slots, then n trampolines */
static unsigned long *hits_brk, *hits_jump;

static uint64_t text(size_t i)
{
	return (uint64_t)(uintptr_t)(__start_a64work + 4 * i);
}

static void on_signal(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;
	uint64_t pc = uc->uc_mcontext.pc;
	struct uprobe_regs regs;
	struct arch_vregs vr;
	size_t i = (pc - text(0)) / 4;

	if ((sig == SIGSEGV || sig == SIGBUS) && arch_safe_read_fault(si, uc))
		return;
	if (sig != SIGTRAP)
		abort();
	if (pc < text(0) || pc >= text(n) || !usable[i]) {
		if (arch_jump_redirect(uc) > 0)
			return;
		abort();
	}
	hits_brk[i]++;
	if (!arch_insn_can_emulate(&insns[i])) {
		uc->uc_mcontext.pc = (uint64_t)(uintptr_t)(area + i * SLOT_STRIDE);
		return;
	}
	regs_from_ucontext(&regs, uc);
	regs_vregs(uc, &vr);
	if (arch_emulate(&insns[i], &regs, &vr))
		abort();
	regs_to_ucontext(&regs, uc);
}

static void on_hit(void *rec, struct uprobe_regs *regs)
{
	(void)rec;
	hits_jump[(regs->pc - text(0)) / 4]++;
}

static void put_word(size_t i, uint32_t w)
{
	memcpy(__start_a64work + 4 * i, &w, 4);
}

static void flush(void)
{
	__builtin___clear_cache((char *)__start_a64work, (char *)__stop_a64work);
}

/* The slots and trampolines within +-128 MiB of the code: just past it. */
static int map_area(void)
{
	size_t len = n * (SLOT_STRIDE + TRAMP_STRIDE), pg = (size_t)sysconf(_SC_PAGESIZE);

	for (uint64_t hint = (text(n) + (1u << 20)) & ~(uint64_t)(pg - 1); hint < text(0) + (96u << 20);
	     hint += 1u << 20) {
		area = mmap((void *)(uintptr_t)hint, len, PROT_READ | PROT_WRITE | PROT_EXEC,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
		if (area != MAP_FAILED)
			return 0;
	}
	return -1;
}

static int setup(void)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = (uintptr_t)__start_a64work & ~(pg - 1);
	struct sigaction sa;

	n = (size_t)(__stop_a64work - __start_a64work) / 4;
	insns = calloc(n, sizeof(*insns));
	usable = calloc(n, 1);
	hits_brk = calloc(n, sizeof(*hits_brk));
	hits_jump = calloc(n, sizeof(*hits_jump));
	if (!insns || !usable || !hits_brk || !hits_jump || map_area() ||
	    mprotect((void *)lo, (uintptr_t)__stop_a64work - lo, PROT_READ | PROT_WRITE | PROT_EXEC))
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_signal;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigaction(SIGTRAP, &sa, NULL);
	sigaction(SIGSEGV, &sa, NULL);
	return 0;
}

/* Analyse every word; build its slot and its trampoline. Returns how many are probed. */
static size_t prepare(size_t *refused)
{
	size_t probed = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t *slot = area + i * SLOT_STRIDE, *tramp = area + n * SLOT_STRIDE + i * TRAMP_STRIDE;

		if (arch_insn_analyze(&insns[i], __start_a64work + 4 * i, 4, text(i), NULL, 0)) {
			(*refused)++;
			continue;
		}
		if (!arch_insn_can_emulate(&insns[i]) &&
		    arch_xol_build(&insns[i], (uintptr_t)slot, slot) < 0)
			continue;
		if (arch_jump_build(&insns[i], (uintptr_t)tramp, on_hit, NULL, tramp, NULL) < 0)
			continue;
		usable[i] = 1;
		probed++;
	}
	__builtin___clear_cache((char *)area, (char *)area + n * (SLOT_STRIDE + TRAMP_STRIDE));
	return probed;
}

/* Run the workload with every usable word replaced (brk, or b to its trampoline). */
static void run_probed(bool jump, struct realcode_out *out)
{
	for (size_t i = 0; i < n; i++)
		if (usable[i])
			put_word(i, jump ? arch_jump_insn(text(i), (uintptr_t)(area + n * SLOT_STRIDE +
									      i * TRAMP_STRIDE))
					 : ARCH_BREAKPOINT);
	flush();
	realcode_run(out);
	for (size_t i = 0; i < n; i++)
		if (usable[i])
			put_word(i, insns[i].insn);
	flush();
}

static void check_out(const char *mode, const struct realcode_out *a, const struct realcode_out *b)
{
	if (a->sorted_sum != b->sorted_sum || a->fib != b->fib || a->interp != b->interp ||
	    a->poly != b->poly || a->hash != b->hash)
		TL_FAIL("%s: results differ: sorted %llx/%llx fib %llu/%llu interp %lld/%lld "
			"poly %a/%a hash %llx/%llx",
			mode, (unsigned long long)a->sorted_sum, (unsigned long long)b->sorted_sum,
			(unsigned long long)a->fib, (unsigned long long)b->fib,
			(long long)a->interp, (long long)b->interp, a->poly, b->poly,
			(unsigned long long)a->hash, (unsigned long long)b->hash);
}

static void test_every_instruction(void)
{
	struct realcode_out plain, brk, jump;
	size_t refused = 0, probed, hit = 0;
	unsigned long total = 0;

	realcode_run(&plain);
	if (setup()) {
		TL_FAIL("setup failed");
		return;
	}
	probed = prepare(&refused);
	run_probed(false, &brk);
	check_out("brk", &plain, &brk);
	run_probed(true, &jump);
	check_out("jump", &plain, &jump);
	for (size_t i = 0; i < n; i++) {
		if (hits_brk[i] != hits_jump[i])
			TL_FAIL("word %zu (%08x): %lu brk hits, %lu trampoline hits", i, insns[i].insn,
				hits_brk[i], hits_jump[i]);
		hit += hits_brk[i] != 0;
		total += hits_brk[i];
	}
	printf("  %zu words: %zu probed, %zu refused (padding), %zu hit, %lu hits a mode\n", n,
	       probed, refused, hit, total);
	CHECK(probed + refused == n);
	CHECK(hit * 10 >= probed * 8); /* the workload goes through most of its code */
	CHECK(total > 10000);
}

int main(void)
{
	RUN(test_every_instruction);
	TL_EXIT();
}
