/* SPDX-License-Identifier: MIT */
/* Trampoline templates (tramp_templates.S) and how to instantiate one. */
#ifndef UPROBES_ARCH_TRAMPOLINE_H
#define UPROBES_ARCH_TRAMPOLINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ucontext.h>

#include "uprobes.h"

#define TRAMP_DATA_WORDS 6
#define TRAMP_MAX 768

/*
 * Data words at the start of every trampoline. LEAN_INLINE has neither SIMD
 * nor a body: its words 4 and 5 hold the C its slow paths call, and two more
 * words follow, 6 and 7: &ret_nstacks and &ret_tramp.
 */
enum { TRAMP_DISPATCH, TRAMP_REDIRECT, TRAMP_REC, TRAMP_ADDR, TRAMP_XSAVE_SIZE, TRAMP_BODY };
enum { TRAMP_RET_ENTER = TRAMP_XSAVE_SIZE, TRAMP_MOVED = TRAMP_BODY, TRAMP_NSTACKS, TRAMP_RET_TRAMP };

/*
 * The C side of a trampoline: run the consumers on regs. Returns non-zero
 * when the handler changed rip, rsp (or, at a function entry, rflags): the
 * trampoline then traps into uprobes_redirect_trap to load the whole context.
 */
typedef int (*tramp_dispatch_fn)(void *rec, struct uprobe_regs *regs);

/*
 * The kinds of trampoline: FLAGS saves and restores rflags (anywhere in a
 * function); ENTRY saves them for the handler to see but does not restore
 * them (a function entry: they are dead); LEAN is ENTRY's code with the lean
 * C side (dispatch_entry_lean); LEAN_NOFLAGS does not read them either (a
 * function entry, UPROBE_F_HANDLER_NO_FLAGS: the handler sees 0x202, see
 * tramp_templates.S); EXIT is ENTRY without storing rip nor testing for the
 * redirect (return sites: the C side sets rip and never redirects);
 * EXIT_NOFLAGS is EXIT without reading rflags (every return handler of the
 * function has UPROBE_F_HANDLER_NO_FLAGS: they see 0x202); LEAN_INLINE is
 * LEAN_NOFLAGS's fast path in the probe's own trampoline (no SIMD, srcu
 * readers without fences), entered past its slow paths (entry_off).
 */
enum tramp_kind {
	TRAMP_KIND_FLAGS,
	TRAMP_KIND_ENTRY,
	TRAMP_KIND_LEAN,
	TRAMP_KIND_LEAN_NOFLAGS,
	TRAMP_KIND_EXIT, /* a return site's (core/retpatch.c): no rip, no redirect; no SIMD variant */
	TRAMP_KIND_EXIT_NOFLAGS, /* EXIT without pushfq (return handlers see 0x202) */
	TRAMP_KIND_COUNT, /* LEAN_NOFLAGS's stub that counts by itself (uprobe_count_enable); no SIMD */
	TRAMP_KIND_LEAN_INLINE,
	TRAMP_KIND_EXIT_INLINE,	       /* EXIT with retpatch_exit()'s common case in it (a ret's) */
	TRAMP_KIND_EXIT_INLINE_NOFLAGS, /* ... without reading rflags */
};

/* Where a trampoline's regs sit below the probed thread's rsp. */
#define TRAMP_REGS_BELOW_RSP (128 + 144)

/*
 * Build a trampoline into out (TRAMP_MAX bytes): the template, then the
 * window copy. simd: save the extended state around the handler. Returns the
 * offset of the window copy (the copy itself is written by the caller), or
 * -ENOTSUP when the CPU lacks xsavec for the SIMD variant.
 */
int arch_tramp_template(uint8_t *out, enum tramp_kind kind, bool simd, tramp_dispatch_fn fn,
			void *rec, uint64_t addr);

/*
 * The inline kinds' fast paths read thread-locals at %fs displacements
 * written into the template (out, from arch_tramp_template): self_tls,
 * srcu_tls.self's, and cookie_tls, ret_cur_cookie's (the core's, initial-exec).
 * Where the jump (or a window copy's jmp) enters a trampoline of the kind:
 * past the slow paths of an inline kind, else right after the data words.
 */
void arch_tramp_tls(uint8_t *out, enum tramp_kind kind, int32_t self_tls, int32_t cookie_tls);
int arch_tramp_entry_off(enum tramp_kind kind);

/*
 * The count stub (TRAMP_KIND_COUNT): a thread preempted between its load of
 * the record's count slot and its add holds a slot and a base that
 * uprobe_count_enable(p, 0) is taking away. Moves such a thread, stopped in
 * the trampoline at tramp, to the stub's slow path (the handler's); true when
 * it did.
 */
bool arch_count_fixup(ucontext_t *uc, uint64_t tramp);

/*
 * The calling thread's count base (uprobe_count_thread; core/dispatch.c):
 * what the count stub adds its record's count slot to. Initial-exec: one
 * offset from %fs in every thread, the stub's displacement.
 */
extern __thread uint8_t *uprobes_count_base
	__attribute__((tls_model("initial-exec"), visibility("hidden")));

/* What the inline lean entry's push reads (core/retprobe.c): see retpatch_push_fast(). */
extern uint64_t ret_tramp __attribute__((visibility("hidden")));
extern unsigned ret_nstacks __attribute__((visibility("hidden")));

/* The core's dispatch functions (core/dispatch.c) the trampolines call. */
int dispatch_optimized(void *rec, struct uprobe_regs *regs);
int dispatch_entry_lean(void *rec, struct uprobe_regs *regs);
void dispatch_lean_ret_enter(void *rec, struct uprobe *c, struct uprobe_regs *regs, int id);
void dispatch_lean_redirect(void *rec);

/* The address the redirect trap reports (rip - 1 of its SIGTRAP). */
uint64_t arch_redirect_trap_addr(void);

/* What the return trampoline saves: its argument to dispatch_return(). */
struct ret_frame {
	struct uprobe_regs regs;
	union uprobe_xmm xmm0, xmm1;
};

/* The return trampoline (ret_tramp.S): where a return probe makes a call return. */
uint64_t arch_ret_tramp_addr(void);

/*
 * Return probes (core/retprobe.c): a followed call is known by its key, the
 * stack slot of its return address (rsp at the function's entry). The hijack
 * rewrites that slot; an unwinder's walk can have it back (ARCH_RET_IN_MEMORY).
 */
#define ARCH_RET_IN_MEMORY 1

/* The saved return address is the slot itself (ret_unhook writes it): not searched. */
static inline uint64_t arch_ret_saved_at(uint64_t key, uint64_t low, uint64_t tramp,
					 uint64_t *was)
{
	(void)key;
	(void)low;
	(void)tramp;
	(void)was;
	return 0;
}

static inline uint64_t arch_ret_saved_form(uint64_t key, uint64_t was, uint64_t tramp, uint64_t ra)
{
	(void)key;
	(void)was;
	(void)tramp;
	return ra;
}

/* At a function's entry: the call's key. */
static inline uint64_t arch_ret_key(const struct uprobe_regs *r)
{
	return r->rsp;
}

/* At the entry: the call's return address, and where the call is to return. */
static inline uint64_t arch_ret_get(const struct uprobe_regs *r, uint64_t key)
{
	(void)r;
	return *(uint64_t *)key;
}

static inline void arch_ret_set(struct uprobe_regs *r, uint64_t key, uint64_t ra)
{
	(void)r;
	*(uint64_t *)key = ra;
}

/* In the return trampoline: the key of the call that returned there. */
static inline uint64_t arch_ret_frame_key(const struct ret_frame *f)
{
	return f->regs.rsp - 8;
}

/* The trampoline goes on to ra (its final jmp reads the slot). */
static inline void arch_ret_frame_resume(struct ret_frame *f, uint64_t key, uint64_t ra)
{
	(void)f;
	*(uint64_t *)key = ra;
}

/* The stack pointer once the call keyed key has returned. */
static inline uint64_t arch_ret_sp_after(uint64_t key)
{
	return key + 8;
}

/* A stack walk's frame of canonical frame address cfa: its call's key. */
static inline uint64_t arch_ret_key_of_cfa(uint64_t cfa)
{
	return cfa - 8;
}

typedef void (*simd_call_fn)(void *a, void *b, const void *c, void *d);

/*
 * Call fn(a, b, c, d) with the extended state saved around it (for handlers
 * that may use SIMD), or directly when the CPU lacks xsavec.
 */
void arch_simd_call(simd_call_fn fn, void *a, void *b, const void *c, void *d);

#endif
