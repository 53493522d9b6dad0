// SPDX-License-Identifier: MIT
/*
 * A/B of the function-entry trampolines in one process (issue 18): five
 * copies of the same function, one unprobed, one probed through the entry
 * trampoline of before (UPROBE_ENTRY_PATH=full at its attach), one through
 * the lean one, one through the lean one that does not read the flags
 * (UPROBE_F_HANDLER_NO_FLAGS: the inline lean entry), one through the same
 * as a stub calling the shared body (UPROBE_INLINE=off at its attach), each
 * with an empty NO_SIMD handler. Batches of calls
 * to each are interleaved; the minimum batch of each is kept, which drops the
 * batches a loaded machine preempted. Prints ns per call of each and each
 * probe's ns above the unprobed call.
 *
 *   bench_lean [batches [calls]]   (defaults 400 and 20000)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "uprobes.h"

int lean_t_native(int x), lean_t_full(int x), lean_t_lean(int x), lean_t_nofl(int x),
	lean_t_shared(int x);

static void empty(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r, (void)ctx;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* One batch of calls through fn (volatile: the calls stay calls). */
static uint64_t batch(int (*volatile fn)(int), unsigned calls)
{
	uint64_t t0 = now_ns();
	int acc = 0;

	for (unsigned i = 0; i < calls; i++)
		acc += fn((int)i);
	__asm__ volatile("" : : "r"(acc));
	return now_ns() - t0;
}

/* path: UPROBE_ENTRY_PATH's value; "shared": lean with UPROBE_INLINE=off. */
static struct uprobe *attach(const char *sym, const char *path, unsigned flags)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = empty,
				 .flags = UPROBE_F_HANDLER_NO_SIMD | flags };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p;

	if (!strcmp(path, "shared"))
		setenv("UPROBE_INLINE", "off", 1);
	else
		setenv("UPROBE_ENTRY_PATH", path, 1);
	p = uprobe_attach(NULL, sym, &o);
	unsetenv("UPROBE_ENTRY_PATH");
	unsetenv("UPROBE_INLINE");
	if (!p) {
		fprintf(stderr, "bench_lean: %s: %s\n", sym, uprobe_last_error());
		exit(1);
	}
	uprobe_get_info(p, &info);
	printf("%s: %s\n", sym, info.reason);
	return p;
}

int main(int argc, char **argv)
{
	unsigned batches = argc > 1 ? (unsigned)atoi(argv[1]) : 400;
	unsigned calls = argc > 2 ? (unsigned)atoi(argv[2]) : 20000;
	int (*const fns[5])(int) = { lean_t_native, lean_t_full, lean_t_lean, lean_t_nofl,
				     lean_t_shared };
	const char *names[5] = { "native", "entry, full", "entry, lean", "lean, NO_FLAGS",
				 "... shared body" };
	uint64_t best[5] = { UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
	struct uprobe *full = attach("lean_t_full", "full", 0);
	struct uprobe *lean = attach("lean_t_lean", "lean", 0);
	struct uprobe *nofl = attach("lean_t_nofl", "lean", UPROBE_F_HANDLER_NO_FLAGS);
	struct uprobe *shared = attach("lean_t_shared", "shared", UPROBE_F_HANDLER_NO_FLAGS);

	for (unsigned b = 0; b < batches; b++) {
		for (unsigned k = 0; k < 5; k++) {
			uint64_t t = batch(fns[k], calls);

			if (t < best[k])
				best[k] = t;
		}
	}
	for (unsigned k = 0; k < 5; k++)
		printf("%-15s %6.2f ns/call  %+6.2f ns\n", names[k], (double)best[k] / calls,
		       (double)(best[k] - best[0]) / calls);
	printf("summary: lean_native_ns=%.2f lean_full_ns=%.2f lean_lean_ns=%.2f "
	       "lean_noflags_ns=%.2f lean_shared_ns=%.2f\n",
	       (double)best[0] / calls, (double)(best[1] - best[0]) / calls,
	       (double)(best[2] - best[0]) / calls, (double)(best[3] - best[0]) / calls,
	       (double)(best[4] - best[0]) / calls);
	uprobe_free(full);
	uprobe_free(lean);
	uprobe_free(nofl);
	uprobe_free(shared);
	return 0;
}
