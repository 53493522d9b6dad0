// SPDX-License-Identifier: MIT
/*
 * Compiler-generated code for test_realcode: built with -O2 and
 * -mbranch-protection=standard (paciasp/autiasp, bti c: what Debian's arm64
 * libraries are made of) into a section of its own, whose every instruction
 * the test probes at once. Jump tables (adr, ldrb, br), calls through
 * pointers from libc (qsort's comparator), recursion, doubles, 128-bit
 * multiplies, loops with conditional branches and compares, exclusive loops.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "realcode.h"

#define WORK __attribute__((section("a64work"), noinline))

WORK static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

WORK static uint64_t fib(unsigned n)
{
	return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/* A tiny stack machine: a switch the compiler turns into a jump table. */
WORK static int64_t interp(const uint8_t *code, size_t n, int64_t x)
{
	int64_t st[16];
	int sp = 0;

	st[sp++] = x;
	for (size_t pc = 0; pc < n; pc++) {
		switch (code[pc]) {
		case 0: st[sp] = st[sp - 1]; sp++; break;
		case 1: if (sp > 1) { sp--; st[sp - 1] += st[sp]; } break;
		case 2: if (sp > 1) { sp--; st[sp - 1] *= st[sp]; } break;
		case 3: st[sp - 1] ^= st[sp - 1] >> 7; break;
		case 4: st[sp - 1] = -st[sp - 1]; break;
		case 5: st[sp++] = (int64_t)pc * 31; break;
		case 6: if (sp > 1) sp--; break;
		case 7: st[sp - 1] = st[sp - 1] < 0 ? ~st[sp - 1] : st[sp - 1] + 1; break;
		default: st[sp - 1] += code[pc]; break;
		}
		if (sp >= 15)
			sp = 1;
	}
	return st[sp - 1];
}

/* Dense cases with bodies of their own: a jump table (adr; ldrb; add; br). */
WORK static uint64_t op_table(unsigned op, uint64_t x)
{
	switch (op) {
	case 0: return x * 3 + 1;
	case 1: return x >> 3 | x << 61;
	case 2: return x ^ 0x5555aaaa5555aaaaull;
	case 3: return x / 7 + 11;
	case 4: return ~x + 13;
	case 5: return x * x - 17;
	case 6: return (x & 0xffff) << 20 | 19;
	case 7: return x % 1000003 + 23;
	case 8: return __builtin_popcountll(x) + 29;
	case 9: return __builtin_clzll(x | 1) * 31;
	case 10: return x + (x >> 17) * 37;
	case 11: return (x << 7) - x + 41;
	}
	return x;
}

WORK static double poly(double x, int n)
{
	double acc = 0, p = 1;

	for (int i = 0; i < n; i++) {
		acc += p / (i + 1);
		p *= x;
	}
	return acc;
}

WORK static uint64_t mix128(uint64_t a, uint64_t b)
{
	__uint128_t m = (__uint128_t)a * b;

	return (uint64_t)m ^ (uint64_t)(m >> 64);
}

WORK static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (uint8_t)*s++) * 16777619u;
	return h;
}

/*
 * Exclusive loops (built with -mno-outline-atomics: ldaxr ... stlxr inline).
 * Their loads and stores are refused and what lies between them left alone:
 * a trap there would clear the monitor and the store would fail forever.
 */
WORK static uint64_t atomics(void)
{
	static uint32_t counter;
	static uint64_t word;
	uint64_t expected = 5;

	__atomic_store_n(&counter, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&word, 5, __ATOMIC_RELEASE);
	for (int i = 0; i < 50; i++)
		__atomic_fetch_add(&counter, (uint32_t)i, __ATOMIC_ACQ_REL);
	__atomic_compare_exchange_n(&word, &expected, 9, 0, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
	return __atomic_load_n(&counter, __ATOMIC_ACQUIRE) * 16 + word;
}

WORK void realcode_run(struct realcode_out *out)
{
	static const uint8_t prog[] = { 0, 5, 1, 3, 0, 2, 4, 7, 9, 6, 0, 1, 3, 11, 2, 7 };
	static const char *const words[] = { "alpha", "beta", "gamma", "delta", "epsilon" };
	uint32_t v[64];
	uint64_t s = 0x9e3779b97f4a7c15ull;

	for (int i = 0; i < 64; i++) {
		s = mix128(s, 0x2545f4914f6cdd1dull + (uint64_t)i);
		v[i] = (uint32_t)s;
	}
	qsort(v, 64, sizeof(v[0]), cmp_u32);
	out->sorted_sum = 0;
	for (int i = 0; i < 64; i++)
		out->sorted_sum = out->sorted_sum * 31 + v[i];
	out->fib = fib(15);
	out->interp = 0;
	for (int i = -20; i < 20; i++)
		out->interp ^= interp(prog, sizeof(prog), i * 1234567);
	for (unsigned i = 0; i < 200; i++)
		out->interp += (int64_t)op_table(i % 13, (uint64_t)out->interp + i);
	out->poly = poly(0.37, 40) + poly(-1.5, 12);
	out->hash = atomics();
	for (unsigned i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		out->hash = out->hash * 7 + hash_str(words[i]);
}
