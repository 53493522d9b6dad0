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

#include "uprobes.h"

#define MAX_SEEN 16

/* What a handler saw, copied out of the trap for printing afterwards. */
struct seen {
	uint64_t arg1, arg2, rsp;
};

struct tally {
	const char *what;
	unsigned n;
	struct seen seen[MAX_SEEN];
};

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
}

static void show(struct uprobe *p, const struct tally *t)
{
	struct uprobe_info info = { .sz = sizeof(info) };

	uprobe_get_info(p, &info);
	printf("probe %s+0x%" PRIx64 " at 0x%" PRIx64 " [%s] '%s'\n", info.symbol,
	       info.symbol_offset, info.addr, uprobe_mode_name(info.mode), info.insn_text);
	printf("  mode reason: %s\n", info.reason);
	printf("  hits: %" PRIu64 " (handler saw %u)\n", info.hits, t->n);
}

int main(void)
{
	struct tally fib = { .what = "demo_fib" }, sum = { .what = "demo_checksum" };
	struct tally str = { .what = "strlen" };
	struct uprobe_spec specs[] = {
		{ .location = "demo_fib", .handler = record, .ctx = &fib },
		{ .location = "demo_checksum", .handler = record, .ctx = &sum },
		{ .path = "/lib/x86_64-linux-gnu/libc.so.6", .location = "strlen",
		  .handler = record, .ctx = &str },
	};
	struct uprobe *probes[3];
	const char *words[] = { "user", "space", "probes" };
	long r;

	if (uprobe_attach_many(specs, 3, probes, NULL) < 0) {
		fprintf(stderr, "demo: attach failed: %s\n", uprobe_last_error());
		return 1;
	}
	r = demo_fib(10);
	printf("demo_fib(10) = %ld\n", r);
	for (unsigned i = 0; i < 3; i++)
		printf("demo_checksum(\"%s\") = %u, strlen = %zu\n", words[i],
		       demo_checksum(words[i], i), strlen(words[i]));
	printf("\n");
	show(probes[0], &fib);
	printf("  first calls: n=%" PRIu64 ", n=%" PRIu64 ", n=%" PRIu64 "\n", fib.seen[0].arg1,
	       fib.seen[1].arg1, fib.seen[2].arg1);
	show(probes[1], &sum);
	for (unsigned i = 0; i < sum.n && i < 3; i++)
		printf("  call %u: s=\"%s\" seed=%" PRIu64 "\n", i, (const char *)sum.seen[i].arg1,
		       sum.seen[i].arg2);
	show(probes[2], &str);
	if (uprobe_detach_many(probes, 3)) {
		fprintf(stderr, "demo: detach failed: %s\n", uprobe_last_error());
		return 1;
	}
	printf("\ndetached; demo_fib(10) = %ld again, hits unchanged: %u\n", demo_fib(10), fib.n);
	if (uprobe_detach(probes[0]) == -ENOENT)
		printf("detaching twice is refused: %s\n", uprobe_last_error());
	for (unsigned i = 0; i < 3; i++)
		uprobe_free(probes[i]);
	return 0;
}
