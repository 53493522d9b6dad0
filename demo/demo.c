/* SPDX-License-Identifier: MIT */
/*
 * The bundled demo: a small program that probes itself and libc through
 * libuprobes and prints what the probes saw. Run it with `make demo`.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "trace_demo.h"

#define MAX_SEEN 16

/* What a handler saw, copied out of the trap for printing afterwards. */
struct seen {
	uint64_t arg1, arg2, rsp;
};

struct tally {
	const char *what;
	unsigned n;
	struct seen seen[MAX_SEEN];
	unsigned nret;
	uint64_t ret[MAX_SEEN], ns[MAX_SEEN]; /* return values and latencies */
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts); /* async-signal-safe */
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

__attribute__((noinline)) long demo_fib(long n)
{
	__asm__ volatile("" ::: "memory");
	return n < 2 ? n : demo_fib(n - 1) + demo_fib(n - 2);
}

__attribute__((noinline)) unsigned demo_checksum(const char *s, unsigned seed)
{
	unsigned h = seed;

	while (*s)
		h = h * 31 + (unsigned char)*s++;
	return h;
}

/* Async-signal-safe: only stores into preallocated memory. */
static void record(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	struct tally *t = ctx;

	(void)p;
	if (t->n < MAX_SEEN)
		t->seen[t->n] = (struct seen){ regs->rdi, regs->rsi, regs->rsp };
	t->n++;
	if (uprobe_cookie()) /* a return probe follows this call: start its clock */
		*uprobe_cookie() = now_ns();
}

/* At the return of the same call: the result, and the entry's cookie. */
static void record_ret(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *r,
		       void *ctx)
{
	struct tally *t = ctx;

	(void)p;
	if (t->nret < MAX_SEEN) {
		t->ret[t->nret] = regs->rax;
		t->ns[t->nret] = now_ns() - r->cookie;
	}
	t->nret++;
}

static void show(struct uprobe *p, const struct tally *t)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	(void)t;
	uprobe_get_info(p, &info);
	printf("probe %s+0x%" PRIx64 " in %s\n", info.symbol, info.symbol_offset, info.path);
	printf("  at 0x%" PRIx64 ": '%s' -> %s (%s)\n", info.addr, info.insn_text,
	       uprobe_mode_name(info.mode), info.reason);
	printf("  hits: %" PRIu64 "\n", info.hits);
}

/* What the trace-events half watches: checksums of three words, three mallocs. */
static void workload(void)
{
	const char *words[] = { "user", "space", "probes" };
	void *volatile blocks[3];

	for (unsigned i = 0; i < 3; i++)
		demo_checksum(words[i], i);
	for (unsigned i = 0; i < 3; i++)
		blocks[i] = malloc(1000 * (i + 1));
	for (unsigned i = 0; i < 3; i++)
		free(blocks[i]);
}

int main(void)
{
	char exe[4096];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	struct tally fib = { .what = "demo_fib" }, sum = { .what = "demo_checksum" };
	struct tally str = { .what = "strlen" }, mal = { .what = "malloc" };
	struct uprobe_spec specs[] = {
		{ .location = "demo_fib", .handler = record, .ctx = &fib },
		{ .location = "demo_checksum", .handler = record, .ctx = &sum,
		  .ret_handler = record_ret },
		{ .path = "/lib/x86_64-linux-gnu/libc.so.6", .location = "strlen",
		  .handler = record, .ctx = &str },
		{ .path = "/lib/x86_64-linux-gnu/libc.so.6", .location = "malloc",
		  .handler = record, .ctx = &mal },
	};
	struct uprobe_stats stats = { .sz = sizeof(stats) };
	struct uprobe *probes[4];
	void *volatile blocks[3];
	const char *words[] = { "user", "space", "probes" };
	long r;

	if (uprobe_attach_many(specs, 4, probes, NULL) < 0) {
		fprintf(stderr, "demo: attach failed: %s\n", uprobe_last_error());
		return 1;
	}
	r = demo_fib(10);
	printf("demo_fib(10) = %ld\n", r);
	for (unsigned i = 0; i < 3; i++)
		printf("demo_checksum(\"%s\") = %u, strlen = %zu\n", words[i],
		       demo_checksum(words[i], i), strlen(words[i]));
	for (unsigned i = 0; i < 3; i++)
		blocks[i] = malloc(1000 * (i + 1));
	for (unsigned i = 0; i < 3; i++)
		free(blocks[i]);
	printf("\n");
	show(probes[0], &fib);
	printf("  first calls: n=%" PRIu64 ", n=%" PRIu64 ", n=%" PRIu64 "\n", fib.seen[0].arg1,
	       fib.seen[1].arg1, fib.seen[2].arg1);
	show(probes[1], &sum);
	for (unsigned i = 0; i < sum.n && i < 3; i++)
		printf("  call %u: s=\"%s\" seed=%" PRIu64 " -> returned %" PRIu64 " after %" PRIu64
		       " ns\n", i, (const char *)sum.seen[i].arg1, sum.seen[i].arg2, sum.ret[i],
		       sum.ns[i]);
	show(probes[2], &str);
	show(probes[3], &mal);
	for (unsigned i = 0; i < mal.n && i < MAX_SEEN; i++)
		if (mal.seen[i].arg1 >= 1000)
			printf("  malloc(%" PRIu64 ")\n", mal.seen[i].arg1);
	uprobe_get_stats(&stats);
	printf("\nall probes: %" PRIu64 " hits, %" PRIu64 " returns, %" PRIu64
	       " skipped (recursive), %" PRIu64 " single-stepped, %" PRIu64
	       " out-of-line slots\n", stats.hits, stats.ret_hits, stats.skipped,
	       stats.singlestep_fallbacks, stats.xol_slots);
	if (uprobe_detach_many(probes, 4)) {
		fprintf(stderr, "demo: detach failed: %s\n", uprobe_last_error());
		return 1;
	}
	printf("\ndetached; demo_fib(10) = %ld again, hits unchanged: %u\n", demo_fib(10), fib.n);
	if (uprobe_detach(probes[0]) == -ENOENT)
		printf("detaching twice is refused: %s\n", uprobe_last_error());
	for (unsigned i = 0; i < 4; i++)
		uprobe_free(probes[i]);
	if (n <= 0)
		return 1;
	exe[n] = 0;
	return trace_demo(exe, workload);
}
