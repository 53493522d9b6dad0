/* SPDX-License-Identifier: MIT */
/*
 * A chain of 18 functions for bench_stack: CHAIN_top() calls f1, which calls
 * f2 ... down to CHAIN_leaf(), the probed one; each uses the result of its
 * call (no tail calls). Built three times (bench/bench_stack.mk) with CHAIN
 * and the flags of each road a walk takes: frame pointers with CFI (fp),
 * without frame pointers (cfi), frame pointers and no CFI at all (nocfi).
 */
#define CAT_(a, b) a##b
#define CAT(a, b) CAT_(a, b)
#define FN(x) CAT(CHAIN, x)

volatile int FN(_sink);

#ifdef LEAF_HOOK /* bench_stack_loop: the leaf hands its registers to the hook */
void LEAF_HOOK(void);
#endif

__attribute__((noinline)) int FN(_leaf)(int x)
{
#ifdef LEAF_HOOK
	LEAF_HOOK();
#endif
	FN(_sink) = x;
	return x + 1;
}

#define STEP(i, next)                                              \
	__attribute__((noinline)) int FN(_f##i)(int x)             \
	{                                                          \
		int r = FN(next)(x + 1);                           \
		FN(_sink) = r;                                     \
		return r + 1;                                      \
	}

STEP(16, _leaf)
STEP(15, _f16) STEP(14, _f15) STEP(13, _f14) STEP(12, _f13) STEP(11, _f12) STEP(10, _f11)
STEP(9, _f10) STEP(8, _f9) STEP(7, _f8) STEP(6, _f7) STEP(5, _f6) STEP(4, _f5) STEP(3, _f4)
STEP(2, _f3) STEP(1, _f2)

__attribute__((noinline)) int FN(_top)(int x)
{
	int r = FN(_f1)(x);

	FN(_sink) = r;
	return r;
}
