/* SPDX-License-Identifier: MIT */
/*
 * The stack capture alone, in a loop, for valgrind --tool=callgrind (no
 * probe: valgrind cannot run patched code): a chain of 18 calls (the fp or
 * the cfi road of bench_stack_chain.c) ends in a call to loop_hook, which
 * takes the registers at that point and captures the stack ITERS times,
 * touching THRASH KiB of memory between captures as the traced program's own
 * work would. Counts instructions and simulated cache misses of
 * stack_unwind() and stack_table_intern() per capture (MODE capture, the
 * default), or of stack_unwind() alone (MODE walk), or the capture from
 * loop_hook's first instruction, as bench_stack's probe at a function's entry
 * takes it (MODE entry: frame 0 is loop_hook, then the chain's 15 callers).
 * Run natively it prints
 * the time per capture too: the thread's CPU time (CLOCK_THREAD_CPUTIME_ID),
 * so that the waits of a loaded machine do not count; still take the minimum
 * of several runs:
 *   valgrind --tool=callgrind --cache-sim=yes build/bench/bench_stack_loop fp 20000 256
 *   valgrind --tool=callgrind --cache-sim=yes build/bench/bench_stack_loop cfi 20000 0 walk
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/srcu.h"
#include "stack/stack.h"

int loop_fp_top(int x), loop_cfi_top(int x);

static struct stack_table *table;
static unsigned long iters, thrash_kib, failed;
static int walk_only, at_entry;
static volatile unsigned char *thrash;
static double ns_per; /* the thread's CPU time per capture, thrash included */

/* rip: the return address into the leaf; rsp: the leaf's; rbp: as it was. */
void loop_hook_c(uint64_t rip, uint64_t rsp, uint64_t rbp);
__asm__(".globl loop_hook\n"
	".type loop_hook, @function\n"
	"loop_hook:\n"
	"	.cfi_startproc\n"
	"	movq (%rsp), %rdi\n"
	"	leaq 8(%rsp), %rsi\n"
	"	movq %rbp, %rdx\n"
	"	jmp loop_hook_c\n"
	"	.cfi_endproc\n");
void loop_hook(void);

void loop_hook_c(uint64_t rip, uint64_t rsp, uint64_t rbp)
{
	struct uprobe_regs regs;
	uint64_t id, frames[16];
	struct timespec t0, t1;

	memset(&regs, 0, sizeof(regs));
	regs.rip = rip;
	regs.rsp = rsp;
	regs.rbp = rbp;
	if (at_entry) { /* as a probe on loop_hook's first instruction sees them */
		regs.rip = (uint64_t)loop_hook;
		regs.rsp = rsp - 8;
	}
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	srcu_read_lock(); /* as a probe's dispatch holds one around its handlers */
	for (unsigned long i = 0; i < iters; i++) {
		for (unsigned long k = 0; k < thrash_kib * 1024; k += 64)
			thrash[k]++;
		if (walk_only ? stack_unwind(&regs, false, frames, 16) != 16
			      : stack_capture(table, &regs, at_entry, 16, &id) != 0)
			failed++;
	}
	srcu_read_unlock();
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
	ns_per = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / (iters ? iters : 1);
}

int main(int argc, char **argv)
{
	int fp = argc < 2 || !strcmp(argv[1], "fp");

	iters = argc > 2 ? strtoul(argv[2], NULL, 10) : 10000;
	thrash_kib = argc > 3 ? strtoul(argv[3], NULL, 10) : 0;
	walk_only = argc > 4 && !strcmp(argv[4], "walk");
	at_entry = argc > 4 && !strcmp(argv[4], "entry");
	thrash = calloc(thrash_kib + 1, 1024);
	if ((argc > 1 && !fp && strcmp(argv[1], "cfi")) ||
	    (argc > 4 && !walk_only && !at_entry && strcmp(argv[4], "capture")) || stack_setup() ||
	    !(table = stack_table_new(NULL)) || !thrash) {
		fprintf(stderr,
			"usage: bench_stack_loop fp|cfi [ITERS [THRASH_KIB [capture|walk|entry]]]\n");
		return 2;
	}
	(fp ? loop_fp_top : loop_cfi_top)(1);
	printf("%lu %s, %lu failed, %.1f ns each\n", iters, walk_only ? "walks" : "captures", failed,
	       ns_per);
	return failed != 0;
}
