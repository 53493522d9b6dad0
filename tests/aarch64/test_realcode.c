// SPDX-License-Identifier: MIT
/*
 * Every instruction of real code probed at once, under qemu-aarch64:
 *
 *   a64work   realcode_work.c, -O2 with PAC and BTI (jump table, qsort
 *             comparator, recursion, doubles)
 *   libc      two dozen functions of Debian's arm64 libc.so.6, whole (their
 *             .dynsym sizes): strverscmp, qsort_r, inet_ntop, fcvt_r ...
 *
 * Each workload runs unprobed, then with a brk on each of those instructions
 * (trap path: emulation or an out-of-line slot each), then with a b to a
 * trampoline on each. Results must equal the unprobed run's, and each
 * instruction must be hit as often in both modes. Exclusive accesses and the
 * instructions between them are left alone (refused: a trap there would make
 * the store-exclusive fail forever).
 */
#include <arpa/inet.h>
#include <netinet/ether.h>
#include <search.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "realcode.h"
#include "sites.h"
#include "testlib.h"

TL_DEFINE("aarch64_realcode");

extern uint8_t __start_a64work[], __stop_a64work[];

/* ---- the libc workload ------------------------------------------------------------------ */

static const char *const libc_funcs[] = {
	"strverscmp", "qsort_r",  "rand_r",	   "ffsll",   "ffs",	 "strspn",   "hsearch_r",
	"srandom_r",  "random_r", "l64a",	   "a64l",    "bsearch", "getsubopt", "inet_ntop",
	"inet_pton",  "inet_aton", "ether_ntoa_r", "strsep", "strtok_r", "ldiv",    "erand48_r",
	"ecvt_r",     "fcvt_r",
};

static int cmp_int(const void *a, const void *b, void *arg)
{
	(void)arg;
	return *(const int *)a - *(const int *)b;
}

static int cmp_int2(const void *a, const void *b)
{
	return cmp_int(a, b, NULL);
}

static uint64_t fold(uint64_t h, uint64_t v)
{
	return (h ^ v) * 0x100000001b3ull;
}

static uint64_t fold_str(uint64_t h, const char *s)
{
	while (*s)
		h = fold(h, (uint8_t)*s++);
	return h;
}

static uint64_t libc_work(void)
{
	static const char *const vers[][2] = { { "foo10", "foo9" }, { "a0001", "a01" },
					       { "1.2.10", "1.2.9" }, { "x", "x" } };
	struct random_data rd = { 0 };
	struct hsearch_data ht = { 0 };
	unsigned short xs[3] = { 1, 2, 3 };
	char state[64], buf[128], opts[64], *p, *save, *val;
	char *const tokens[] = { "ro", "rw", "size", NULL };
	int v[100], key = 42, *found;
	unsigned seed = 7;
	struct in6_addr a6;
	struct in_addr a4;
	uint64_t h = 0;
	double d;
	int32_t r;
	ENTRY e, *ep;
	int dec, sign;

	for (unsigned i = 0; i < 4; i++)
		h = fold(h, (uint64_t)(strverscmp(vers[i][0], vers[i][1]) > 0) + 2 * !strverscmp(vers[i][0], vers[i][1]));
	for (int i = 0; i < 100; i++)
		v[i] = rand_r(&seed) % 1000;
	qsort_r(v, 100, sizeof(v[0]), cmp_int, NULL);
	for (int i = 0; i < 100; i++)
		h = fold(h, (uint64_t)v[i]);
	v[37] = key;
	qsort_r(v, 100, sizeof(v[0]), cmp_int, NULL);
	found = bsearch(&key, v, 100, sizeof(v[0]), cmp_int2);
	h = fold(h, found ? (uint64_t)*found : 0);
	h = fold(h, (uint64_t)ffsll(0x100000000000ll) + (uint64_t)ffs(0x80));
	h = fold(h, strspn("abcabcxyz", "abc"));
	hcreate_r(32, &ht);
	e.key = "k1";
	e.data = (void *)1;
	hsearch_r(e, ENTER, &ep, &ht);
	e.key = "k1";
	h = fold(h, hsearch_r(e, FIND, &ep, &ht) ? (uint64_t)(uintptr_t)ep->data : 99);
	hdestroy_r(&ht);
	initstate_r(3, state, sizeof(state), &rd);
	srandom_r(11, &rd);
	for (int i = 0; i < 20; i++) {
		random_r(&rd, &r);
		h = fold(h, (uint64_t)r);
	}
	h = fold_str(h, l64a(123456789));
	h = fold(h, (uint64_t)a64l("abcdef"));
	snprintf(opts, sizeof(opts), "ro,size=42,bogus");
	p = opts;
	while (*p)
		h = fold(h, (uint64_t)getsubopt(&p, tokens, &val) + 3);
	inet_pton(AF_INET6, "2001:db8::ff00:42:8329", &a6);
	h = fold_str(h, inet_ntop(AF_INET6, &a6, buf, sizeof(buf)));
	inet_aton("192.168.1.77", &a4);
	h = fold_str(h, inet_ntop(AF_INET, &a4, buf, sizeof(buf)));
	h = fold_str(h, ether_ntoa_r((const struct ether_addr *)"\x00\x1b\x21\xaa\xbb\xcc", buf));
	snprintf(buf, sizeof(buf), "one two,three");
	p = buf;
	while ((val = strsep(&p, " ,")))
		h = fold_str(h, val);
	snprintf(buf, sizeof(buf), "a;b;;c");
	for (val = strtok_r(buf, ";", &save); val; val = strtok_r(NULL, ";", &save))
		h = fold_str(h, val);
	h = fold(h, (uint64_t)ldiv(-1234567, 89).rem);
	for (int i = 0; i < 5; i++) {
		erand48_r(xs, &(struct drand48_data){ 0 }, &d);
		h = fold(h, (uint64_t)(d * 1e9));
	}
	ecvt_r(3.14159265, 6, &dec, &sign, buf, sizeof(buf));
	h = fold_str(h, buf);
	fcvt_r(-2.718281828, 4, &dec, &sign, buf, sizeof(buf));
	h = fold_str(fold(h, (uint64_t)dec + (uint64_t)sign), buf);
	return h;
}

/* One of libc_funcs: probe its every instruction (aliases: once). */
static int add_if_listed(uint8_t *code, size_t size, const char *name, void *arg)
{
	int *added = arg;

	for (size_t k = 0; k < sizeof(libc_funcs) / sizeof(libc_funcs[0]); k++)
		if (size && !strcmp(name, libc_funcs[k]) && (*added & (1 << k)) == 0) {
			*added |= 1 << k;
			return sites_add(code, size, 0);
		}
	return 0;
}

/* The libc functions' code, from the .dynsym of the libc this process runs. */
static int add_libc(void)
{
	int added = 0;

	if (sites_each_function((void *)strverscmp, add_if_listed, &added))
		return -1;
	if (added != (1 << (sizeof(libc_funcs) / sizeof(libc_funcs[0]))) - 1)
		printf("  libc: found %#x of the functions\n", added);
	return added == (1 << (sizeof(libc_funcs) / sizeof(libc_funcs[0]))) - 1 ? 0 : -1;
}

/* ---- the test ----------------------------------------------------------------------------- */

static bool same_out(const struct realcode_out *a, const struct realcode_out *b)
{
	return a->sorted_sum == b->sorted_sum && a->fib == b->fib && a->interp == b->interp &&
	       a->poly == b->poly && a->hash == b->hash;
}

static void test_every_instruction(void)
{
	struct realcode_out plain, brk, jump;
	uint64_t libc_plain, libc_brk, libc_jump;
	size_t hit = 0;
	unsigned long total = 0;

	realcode_run(&plain);
	libc_plain = libc_work();
	if (sites_add(__start_a64work, (size_t)(__stop_a64work - __start_a64work), 0) ||
	    add_libc()) {
		TL_FAIL("setting the probes up failed");
		return;
	}
	sites_ready("aarch64_realcode/test_every_instruction");
	sites_patch(SITES_BRK);
	realcode_run(&brk);
	libc_brk = libc_work();
	sites_patch(SITES_JUMP);
	realcode_run(&jump);
	libc_jump = libc_work();
	sites_patch(SITES_ORIG);
	CHECK(same_out(&plain, &brk));
	CHECK(same_out(&plain, &jump));
	CHECK_EQ_U64(libc_brk, libc_plain);
	CHECK_EQ_U64(libc_jump, libc_plain);
	for (size_t i = 0; i < nsites; i++) {
		if (sites[i].hits_brk != sites[i].hits_jump)
			TL_FAIL("%#llx (%08x): %lu brk hits, %lu trampoline hits",
				(unsigned long long)sites[i].addr, sites[i].ai.insn, sites[i].hits_brk,
				sites[i].hits_jump);
		hit += sites[i].hits_brk != 0;
		total += sites[i].hits_brk;
	}
	printf("  %zu instructions probed (%zu refused, %zu inside exclusive sequences), %zu hit, "
	       "%lu hits a mode\n",
	       nsites, nrefused, nexclusive, hit, total);
	CHECK(nsites > 1500);
	CHECK(hit * 2 >= nsites); /* the workloads go through most of the code */
}

int main(void)
{
	RUN(test_every_instruction);
	TL_EXIT();
}
