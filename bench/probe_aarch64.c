// SPDX-License-Identifier: MIT
/*
 * aarch64 probe cost under qemu-aarch64 (issue 20), as ratios only: qemu's
 * times say nothing of a real core's, but within one run they compare the
 * ways a hit can go. A function F (add x0, x0, #1; ret) is called in a loop:
 *
 *   unprobed   F as it is
 *   jump       F's first instruction a b to a trampoline (jump.h), empty handler
 *   jump_simd  the same, the trampoline built for a handler that may use SIMD
 *              (on a CPU with SVE: z0-z31, p0-p15, FFR saved and restored)
 *   brk        F's first instruction brk: SIGTRAP, out-of-line slot, sigreturn
 *
 * Rounds interleave the three; medians of ns per call. Prints the table, then
 * "summary: jump_x=... jump_simd_x=... brk_x=... brk_over_jump=..." (ratios
 * to unprobed, and brk's cost over jump's).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "arch/aarch64/insn.h"
#include "arch/aarch64/jump.h"
#include "bench_util.h"
#include "harness.h"

enum { UNPROBED, JUMP, JUMP_SIMD, BRK, NMODES };
static const char *const names[NMODES] = { "unprobed", "jump", "jump_simd", "brk" };

static uint8_t *page;
static uint32_t words[NMODES];
static volatile uint64_t hits;

static void on_trap(int sig, siginfo_t *si, void *ctx)
{
	ucontext_t *uc = ctx;

	(void)sig;
	(void)si;
	hits++;
	uc->uc_mcontext.pc = (uint64_t)(uintptr_t)(page + 256); /* the slot */
}

static void on_hit(void *rec, struct uprobe_regs *regs)
{
	(void)rec;
	(void)regs;
	hits++;
}

static int setup(void)
{
	static uint8_t tramp[ARCH_TRAMP_MAX];
	uint32_t code[2] = { 0x91000400u, 0xd65f03c0u }; /* add x0, x0, #1; ret */
	uint8_t slot[ARCH_XOL_SLOT_SIZE];
	struct arch_insn ai;
	struct sigaction sa;
	int n;

	page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	if (page == MAP_FAILED)
		return -1;
	memcpy(page, code, sizeof(code));
	if (arch_insn_analyze(&ai, page, 4, (uintptr_t)page, NULL, 0) ||
	    arch_xol_build(&ai, (uintptr_t)page + 256, slot) != 8 ||
	    (n = arch_jump_build(&ai, (uintptr_t)page + 1024, on_hit, NULL, false, tramp,
				 NULL)) < 0)
		return -1;
	memcpy(page + 1024, tramp, n);
	if ((n = arch_jump_build(&ai, (uintptr_t)page + 2048, on_hit, NULL, true, tramp, NULL)) < 0)
		return -1;
	memcpy(page + 2048, tramp, n);
	memcpy(page + 256, slot, 8);
	__builtin___clear_cache((char *)page, (char *)page + 4096);
	words[UNPROBED] = code[0];
	words[JUMP] = arch_jump_insn((uintptr_t)page, (uintptr_t)page + 1024);
	words[JUMP_SIMD] = arch_jump_insn((uintptr_t)page, (uintptr_t)page + 2048);
	words[BRK] = ARCH_BREAKPOINT;
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_trap;
	sa.sa_flags = SA_SIGINFO;
	return sigaction(SIGTRAP, &sa, NULL);
}

/* ns per call of n calls in mode m; x0 must come back n higher. */
static double measure(int m, uint64_t n, int *bad)
{
	uint64_t (*f)(uint64_t) = (uint64_t (*)(uint64_t))(uintptr_t)page;
	uint64_t x = 0, h0 = hits, t0;

	*(volatile uint32_t *)page = words[m];
	__builtin___clear_cache((char *)page, (char *)page + 4);
	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		x = f(x);
	t0 = now_ns() - t0;
	*bad |= x != n || hits - h0 != (m == UNPROBED ? 0 : n);
	return (double)t0 / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	struct bench_cfg cfg = { .rounds = 7 };
	double ns[NMODES][BENCH_MAX_ROUNDS], med[NMODES];
	uint64_t calls[NMODES] = { 2000000, 200000, 50000, 20000 };
	int bad = 0;

	if (bench_parse(&cfg, argc, argv, "", "[-r rounds]"))
		return 2;
	if (cfg.quick)
		for (int m = 0; m < NMODES; m++)
			calls[m] /= 10;
	if (setup()) {
		perror("setup");
		return 1;
	}
	for (int r = 0; r < cfg.rounds; r++)
		for (int k = 0; k < NMODES; k++) {
			int m = (r + k) % NMODES; /* rotate the order */

			ns[m][r] = measure(m, calls[m], &bad);
		}
	printf("%-10s %12s %10s\n", "mode", "ns/call", "x unprobed");
	for (int m = 0; m < NMODES; m++) {
		qsort(ns[m], cfg.rounds, sizeof(double), cmp_double);
		med[m] = ns[m][cfg.rounds / 2];
		printf("%-10s %12.1f %10.1f\n", names[m], med[m], med[m] / med[UNPROBED]);
	}
	bench_check(!bad, false, "every call's add ran once, every probed call hit once");
	bench_sum("jump_x", "%.1f", med[JUMP] / med[UNPROBED]);
	bench_sum("jump_simd_x", "%.1f", med[JUMP_SIMD] / med[UNPROBED]);
	bench_sum("brk_x", "%.1f", med[BRK] / med[UNPROBED]);
	bench_sum("brk_over_jump", "%.1f", (med[BRK] - med[UNPROBED]) / (med[JUMP] - med[UNPROBED]));
	bench_sum_print();
	return bench_failures() ? 1 : 0;
}
