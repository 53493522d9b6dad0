/* SPDX-License-Identifier: MIT */
/*
 * The aarch64 return trampoline (ret_tramp.S): where a return probe makes a
 * call return. The same contract as x86-64's (arch/x86_64/trampoline.h), so
 * that core/retprobe.c serves both.
 */
#ifndef UPROBES_ARCH_A64_TRAMPOLINE_H
#define UPROBES_ARCH_A64_TRAMPOLINE_H

#include <stdbool.h>
#include <stdint.h>
#include <ucontext.h>

#include "uprobes.h"

/*
 * What the return trampoline saves: its argument to dispatch_return(), which
 * sets regs.pc to where the call returns (the original x30). v0 and v1 hold
 * floating-point return values (in the public API's union uprobe_xmm).
 */
struct ret_frame {
	struct uprobe_regs regs;
	union uprobe_xmm xmm0, xmm1;
};

/* Defined by the core: pops the shadow stack, runs the handlers, sets regs.pc. */
void dispatch_return(struct ret_frame *f);

/* The return trampoline's address: what an entry probe puts in x30. */
uint64_t arch_ret_tramp_addr(void);

/*
 * At a function's entry (regs at its first instruction): make the call return
 * into the trampoline; returns the original return address.
 */
static inline uint64_t arch_ret_hijack(struct uprobe_regs *regs)
{
	uint64_t orig = regs->x[30];

	regs->x[30] = arch_ret_tramp_addr();
	return orig;
}

/*
 * Return probes (core/retprobe.c): a followed call is known by its key, sp at
 * the function's entry (the stack pointer the call returns with). The return
 * address is in x30 there: the hijack swaps regs->x[30], which the trap path
 * and the jump trampoline load back. Once the function saved x30 (signed by
 * its paciasp, where it has one) its place is the function's business
 * (ARCH_RET_IN_MEMORY 0): a stack walk of our own maps the trampoline back
 * (stack/unwind.c).
 */
#define ARCH_RET_IN_MEMORY 0

/*
 * But an unwinder (a C++ throw, pthread_exit) must find the real return
 * address where the function saved x30, or it stops at the trampoline, which
 * has no CFI, and the program ends (std::terminate). ret_unhook finds that
 * place and writes the real address there in the form the function's x30
 * had there: as it was (no PAC) or signed as the function's paciasp or
 * pacibsp signed the trampoline's (modifier: sp at the entry, the key). The
 * hint-space forms are no-ops where the CPU has no pointer authentication.
 */
#define ARCH_RET_SCAN (256u << 10)

static inline uint64_t a64_pacia1716(uint64_t ptr, uint64_t mod)
{
	register uint64_t x17 __asm__("x17") = ptr;
	register uint64_t x16 __asm__("x16") = mod;

	__asm__("hint #8" : "+r"(x17) : "r"(x16)); /* pacia1716 */
	return x17;
}

static inline uint64_t a64_pacib1716(uint64_t ptr, uint64_t mod)
{
	register uint64_t x17 __asm__("x17") = ptr;
	register uint64_t x16 __asm__("x16") = mod;

	__asm__("hint #10" : "+r"(x17) : "r"(x16)); /* pacib1716 */
	return x17;
}

/*
 * Where the call keyed key saved its return address (tramp, as its x30 was):
 * the highest word in [low, key) that holds tramp plain or signed with the
 * key as modifier, low being the next newer call's key or the unwinder's sp
 * (a function's frame lies between its key and its callees'). 0: not found
 * (the function keeps x30 in a register, or saved it elsewhere, or more than
 * ARCH_RET_SCAN bytes below its key): left alone.
 * *was: the word found.
 */
static inline uint64_t arch_ret_saved_at(uint64_t key, uint64_t low, uint64_t tramp,
					 uint64_t *was)
{
	uint64_t a = a64_pacia1716(tramp, key), b = a64_pacib1716(tramp, key);

	for (uint64_t at = (key & ~7ull) - 8; at >= low && at < key && key - at <= ARCH_RET_SCAN;
	     at -= 8) {
		uint64_t v = *(const uint64_t *)at;

		if (v == tramp || v == a || v == b) {
			*was = v;
			return at;
		}
	}
	return 0;
}

/* ra in the form tramp had in was (arch_ret_saved_at), for the call keyed key. */
static inline uint64_t arch_ret_saved_form(uint64_t key, uint64_t was, uint64_t tramp, uint64_t ra)
{
	if (was == tramp)
		return ra;
	if (was == a64_pacia1716(tramp, key))
		return a64_pacia1716(ra, key);
	return a64_pacib1716(ra, key);
}

static inline uint64_t arch_ret_key(const struct uprobe_regs *r)
{
	return r->sp;
}

static inline uint64_t arch_ret_get(const struct uprobe_regs *r, uint64_t key)
{
	(void)key;
	return r->x[30];
}

static inline void arch_ret_set(struct uprobe_regs *r, uint64_t key, uint64_t ra)
{
	(void)key;
	r->x[30] = ra;
}

/* ret leaves sp as at the entry. */
static inline uint64_t arch_ret_frame_key(const struct ret_frame *f)
{
	return f->regs.sp;
}

/* ret_tramp.S loads x30 from regs.pc and returns there. */
static inline void arch_ret_frame_resume(struct ret_frame *f, uint64_t key, uint64_t ra)
{
	(void)key;
	f->regs.pc = ra;
}

static inline uint64_t arch_ret_sp_after(uint64_t key)
{
	return key;
}

static inline uint64_t arch_ret_key_of_cfa(uint64_t cfa)
{
	return cfa;
}

typedef void (*simd_call_fn)(void *a, void *b, const void *c, void *d);

/*
 * A return handler's call: the return trampoline saved every q register and
 * fpsr/fpcr before dispatch_return(), so a handler may use SIMD as it is.
 */
static inline void arch_simd_call(simd_call_fn fn, void *a, void *b, const void *c, void *d)
{
	fn(a, b, c, d);
}

/* The count stub's base (core/dispatch.c); no stub reads it here. */
extern __thread uint8_t *uprobes_count_base
	__attribute__((tls_model("initial-exec"), visibility("hidden")));

/* No count stub here (x86-64's TRAMP_KIND_COUNT): no thread is ever inside one. */
static inline bool arch_count_fixup(ucontext_t *uc, uint64_t tramp)
{
	(void)uc;
	(void)tramp;
	return false;
}

#endif
