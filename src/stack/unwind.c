/* SPDX-License-Identifier: MIT */
/*
 * The unwinder at a hit (hot path: built like the trap path, see the
 * Makefile's HOT_SRCS; no libc call, no system call, no lock, no SIMD).
 *
 * Each step looks the frame's address up in the compiled table of its
 * module (cfi_table.h) and applies the row; nothing is interpreted here.
 *
 *   frame 0          ip = the probed address, exact; every register known
 *                    (struct uprobe_regs): a CFA based on any register works
 *   a caller         ip = a return address: looked up at ip - 1 (the call
 *                    may be a function's last instruction); rsp = the callee's
 *                    CFA, rbp as the callee's row restores it
 *   after a signal   the interrupted code: ip exact, every register read from
 *                    the ucontext the signal frame holds (rsp points at it
 *                    in __restore_rt)
 *
 * Where no row applies (no CFI, JIT code, a gap) frame pointers are tried:
 * at frame 0 of a probe on a function's entry the return address is at rsp
 * (the function has pushed nothing yet: bpftrace's ustack, which walks rbp,
 * loses the caller there); elsewhere rbp -> [saved rbp][return address],
 * followed only while rbp lies above rsp, aligned, within a frame's reach.
 *
 * Every word is read with fault-safe loads (safe_read.S; inline in the
 * walk's loop, arch/x86_64/safe_read.h: a bad one ends the stack), a
 * caller's stack pointer must lie above its callee's (so a walk cannot
 * loop), and return addresses the return probes swapped for their
 * trampoline are put back (ret_real_address).
 *
 * The architecture (arch/arch.h) gives the registers, where a function's
 * entry has its return address, and whether CFI is read: on aarch64 not yet
 * (ARCH_UNWIND_CFI 0), every frame is walked by its frame record (x29 ->
 * [x29][x30], the layout of rbp's), return addresses PAC-stripped.
 */
#include <stddef.h>
#include <ucontext.h>

#include "arch/arch.h"
#include "core/retprobe.h"
#include "core/srcu.h"
#include "stack/cfi_table.h"
#include "stack/modules.h"
#include "stack/stack.h"
#include "stack/walk.h"

#define DW_RBP ARCH_DW_FP
#define DW_RSP ARCH_DW_SP
#define USER_TOP (1ull << 47)	    /* no user address at or above */
#define FP_REACH (64ull << 20)	    /* rbp further above rsp: not a frame of this stack */

struct uw_state {
	uint64_t ip, sp, bp;
	const struct uprobe_regs *regs; /* frame 0: every register */
	uint64_t uc;			/* after a signal frame: the ucontext, else 0 */
	uint64_t tramp;			/* the return probes' trampoline, 0: none */
	bool exact;			/* ip is where the frame is, not a return address */
};

static inline int load8(uint64_t addr, uint64_t *v)
{
	struct safe_word w = uprobes_safe_load8(addr);

	*v = w.v;
	return w.fault ? -1 : 0;
}

/* DWARF register n of this frame, where it is known: 0 or -1. */
static int reg_value(const struct uw_state *s, unsigned int n, uint64_t *v)
{
	int word = arch_dwarf_reg_word(n), off = arch_uc_dwarf_off(n);

	if (n == DW_RBP || n == DW_RSP) {
		*v = n == DW_RBP ? s->bp : s->sp;
		return 0;
	}
	if (word < 0)
		return -1;
	if (s->regs) {
		*v = ((const uint64_t *)s->regs)[word];
		return 0;
	}
	if (s->uc && off >= 0)
		return load8(s->uc + (uint64_t)off, v);
	return -1;
}

/* The caller's frame: its return address was at slot, its stack pointer is cfa. */
static int set_caller(struct uw_state *s, uint64_t ra, uint64_t cfa, uint64_t bp, uint64_t slot)
{
	ra = arch_ra_strip(ra);
	/* at an entry on aarch64 the caller's sp is the callee's (ARCH_ENTRY_CFA_OFF 0) */
	if (cfa + (s->regs && !ARCH_ENTRY_CFA_OFF) <= s->sp || ra < 4096 || ra >= USER_TOP)
		return -1;
	s->ip = ra == s->tramp ? ret_real_address(slot, ra) : ra;
	s->sp = cfa;
	s->bp = bp;
	s->regs = NULL;
	s->uc = 0;
	s->exact = false;
	return 0;
}

static int step_call(struct uw_state *s, const struct cfi_row *r)
{
	uint64_t cfa, ra, bp = s->bp;

	if (reg_value(s, r->cfa_reg, &cfa))
		return -1;
	cfa += (uint64_t)(int64_t)r->cfa_off;
	if (((r->kind & CFI_F_DEREF) && load8(cfa, &cfa)) || load8(cfa - 8, &ra))
		return -1;
	switch (CFI_BP(r->kind)) {
	case CFI_BP_CFA:
		if (load8(cfa + (uint64_t)(int64_t)r->bp_off, &bp))
			return -1;
		break;
	case CFI_BP_BP:
		if (load8(s->bp + (uint64_t)(int64_t)r->bp_off, &bp))
			return -1;
		break;
	case CFI_BP_LOST:
		bp = 0;
		break;
	}
	return set_caller(s, ra, cfa, bp, arch_ret_key_of_cfa(cfa));
}

/* A PLT stub: CFA = rsp + 8, 8 more once it pushed (byte k of its 16 on). */
static int step_plt(struct uw_state *s, const struct cfi_row *r)
{
	uint64_t cfa = s->sp + (uint64_t)(int64_t)r->cfa_off + ((s->ip & 15) >= r->cfa_reg ? 8 : 0);
	uint64_t ra;

	if (load8(cfa - 8, &ra))
		return -1;
	return set_caller(s, ra, cfa, s->bp, arch_ret_key_of_cfa(cfa));
}

/* __restore_rt: the interrupted code's registers are in the ucontext at rsp. */
static int step_signal(struct uw_state *s)
{
	uint64_t uc = s->sp, ip, sp, bp;

	if (load8(uc + ARCH_UC_PC_OFF, &ip) || load8(uc + (uint64_t)arch_uc_dwarf_off(DW_RSP), &sp) ||
	    load8(uc + (uint64_t)arch_uc_dwarf_off(DW_RBP), &bp) || ip < 4096 || ip >= USER_TOP)
		return -1;
	*s = (struct uw_state){ .ip = ip, .sp = sp, .bp = bp, .uc = uc, .tramp = s->tramp,
				.exact = true };
	return 0;
}

/*
 * A function's first instruction: the return address is on top of the stack
 * (x86-64), or in a register (aarch64's x30, the caller's sp unchanged).
 */
static int step_entry(struct uw_state *s)
{
	uint64_t ra = s->regs ? arch_regs_entry_ra(s->regs) : 0;

	if (!ra && load8(s->sp, &ra))
		return -1;
	return set_caller(s, ra, s->sp + ARCH_ENTRY_CFA_OFF, s->bp, s->sp);
}

/* Frame pointers: rbp -> [the caller's rbp][the return address]. */
static int step_fp(struct uw_state *s)
{
	uint64_t bp = s->bp, next, ra;

	if (bp < s->sp || (bp & 7) || bp - s->sp > FP_REACH || load8(bp, &next) ||
	    load8(bp + 8, &ra))
		return -1;
	return set_caller(s, ra, bp + 16, next, arch_ret_key_of_cfa(bp + 16));
}

static int step(struct uw_state *s, const struct cfi_row *r, bool entry)
{
	switch (r ? CFI_KIND(r->kind) : CFI_UNKNOWN) {
	case CFI_CALL:
		return step_call(s, r);
	case CFI_SIGNAL:
		return step_signal(s);
	case CFI_PLT:
		return step_plt(s, r);
	case CFI_END:
		return -1;
	default:
		return entry ? step_entry(s) : step_fp(s);
	}
}

/*
 * The walk's loop keeps the common frames to itself, in registers: a row
 * marked CFI_F_FAST (CFA = rsp or rbp + offset; the return address at CFA -
 * 8; rbp unchanged, or saved right below it, one paired load for both), and,
 * where no row applies, a frame pointer (the same paired load at rbp). What
 * it found at an address is kept in the set's walk cache (walk.h): the next
 * walk through that return address reads one word, no module search, no
 * table lookup. Any other row goes through step() with the state in memory.
 */
struct uw_module {
	uint64_t lo, span, bias; /* [lo, lo + span): one compare */
	const struct cfi_table *cfi;
};

static void module_enter(struct uw_module *u, const struct stack_modset *ms, uint64_t pc)
{
	const struct stack_module *m = stack_module_at(ms, pc);

	u->lo = m ? m->start : 1;
	u->span = m ? m->end - m->start : 0;
	u->bias = m ? m->bias : 0;
	u->cfi = m ? m->cfi : NULL;
}

/*
 * What the walk does at pc, from the walk cache, else from pc's row in its
 * module's table (into *row; *r: it, or NULL without one), as a desc of
 * walk.h, then kept for the next walks; 0 when the row is one for step().
 * entry: pc is frame 0 at a function's entry, where no row means the return
 * address at rsp (WALK_DESC_ENTRY), not a frame pointer: the cache keeps the
 * address's own rule (a probe's address is looked up at every hit).
 */
#define WALK_DESC_ENTRY (1u << WALK_OFF_SHIFT) /* CFA = rsp + 8, rbp unchanged */

static uint64_t walk_find(struct uw_module *u, const struct stack_modset *ms,
			  struct walk_cache *wc, uint64_t pc, bool entry, struct cfi_row *row,
			  const struct cfi_row **r)
{
	uint64_t d;

	*r = NULL;
	if (!wc || !(d = walk_cache_get(wc, pc))) {
		if (pc - u->lo >= u->span)
			module_enter(u, ms, pc);
		if (ARCH_UNWIND_CFI && u->cfi && cfi_lookup(u->cfi, pc - u->bias, row))
			*r = row;
		d = walk_desc_of(*r);
		if (d && wc && pc < USER_TOP)
			walk_cache_put(wc, pc, d);
	}
	return entry && (d & WALK_FP) ? WALK_DESC_ENTRY : d;
}

/*
 * A frame by desc d (walk.h, not WALK_END): its caller's ip, sp and bp, or
 * -1 where the frame ends the stack (a frame pointer that is none, a fault,
 * a caller's stack below its callee's, no return address).
 */
static inline __attribute__((always_inline)) int walk_apply(uint64_t d, uint64_t *ip,
							    uint64_t *sp, uint64_t *bp,
							    uint64_t tramp)
{
	uint64_t cfa, ra;
	struct safe_word w;

	if ((d & WALK_FP) && (*bp < *sp || (*bp & 7) || *bp - *sp > FP_REACH))
		return -1;
	cfa = ((d & WALK_BP_BASE) ? *bp : *sp) + walk_desc_off(d);
	if (d & WALK_BP_SAVED) {
		w = safe_load16_inline(cfa - 16); /* v: the saved rbp; fault: the return address */
		ra = arch_ra_strip(w.fault);
		if (cfa <= *sp || ra - 4096 >= USER_TOP - 4096)
			return -1;
		*bp = w.v;
	} else {
		w = safe_load8_inline(cfa - 8);
		ra = w.fault ? 0 : arch_ra_strip(w.v);
		if (cfa <= *sp || ra - 4096 >= USER_TOP - 4096)
			return -1;
	}
	*ip = ra == tramp ? ret_real_address(arch_ret_key_of_cfa(cfa), ra) : ra;
	*sp = cfa;
	return 0;
}

/*
 * The fast road: the callers whose rule the walk cache holds, one word read
 * a frame, everything in registers, from frames[n - 1] (a return address)
 * on. Stops at max, at an address the cache does not hold (or holds as the
 * end: the slow road looks again there), or at a frame that ends the stack
 * (a fault, a caller's stack below its callee's, no return address, a frame
 * pointer that is none): n | WALK_REFUSED, so that the slow road does not
 * fault on it again.
 * Not inlined: its few registers stay its own (inlined, the slow road's
 * state pushed them to the stack).
 *
 * A frame-pointer frame (CFA = rbp + 16, [the caller's rbp][the return
 * address] at rbp: what CFI says of code built with frame pointers, and the
 * rule where no CFI is) is told by one compare of the cache word, and its
 * paired load's address is rbp, which the frame before gave: the load does
 * not wait for the cache word (the branch is predicted), so a walk through
 * such frames waits on one load a frame, not on the load, the cache word
 * and the load again.
 */
#define WALK_DESC_BP16 (WALK_BP_BASE | WALK_BP_SAVED | 2u << WALK_OFF_SHIFT)
#define WALK_REFUSED 0x10000u /* above any depth */

static __attribute__((noinline)) unsigned walk_fast(struct walk_cache *wc, uint64_t *frames,
						     unsigned n, unsigned max, uint64_t *spp,
						     uint64_t *bpp, uint64_t tramp)
{
	uint64_t ip = frames[n - 1], sp = *spp, bp = *bpp;

	while (n < max) {
		uint64_t pc = ip - 1, cfa, ra;
		/* the desc if the slot holds pc, else bits above WALK_DESC_MASK */
		uint64_t x = __atomic_load_n(walk_slot(wc, pc), __ATOMIC_RELAXED) ^
			     pc << WALK_DESC_BITS;
		struct safe_word w;

		if (x == WALK_DESC_BP16) {
bp16:			/* CFA = rbp + 16, [the caller's rbp][the return address] at rbp */
			w = safe_load16_inline(bp);
			cfa = bp + 16;
			ra = arch_ra_strip(w.fault);
			if (cfa <= sp || ra - 4096 >= USER_TOP - 4096)
				goto refused;
			bp = w.v;
		} else {
			if (x - 1 >= WALK_DESC_MASK || (x & WALK_END)) /* not held, or the end */
				break;
			if (!(x & (WALK_FP | WALK_BP_BASE | WALK_BP_SAVED))) {
				/* CFA = rsp + off, rbp unchanged: code without frame pointers */
				cfa = sp + walk_desc_off(x);
				goto load8;
			}
			if (x & WALK_FP) {
				if (bp < sp || (bp & 7) || bp - sp > FP_REACH)
					goto refused;
				goto bp16;
			}
			cfa = ((x & WALK_BP_BASE) ? bp : sp) + walk_desc_off(x);
			if (x & WALK_BP_SAVED) {
				w = safe_load16_inline(cfa - 16);
				ra = arch_ra_strip(w.fault);
				if (cfa <= sp || ra - 4096 >= USER_TOP - 4096)
					goto refused;
				bp = w.v;
			} else {
load8:				w = safe_load8_inline(cfa - 8);
				ra = w.fault ? 0 : arch_ra_strip(w.v);
				if (cfa <= sp || ra - 4096 >= USER_TOP - 4096)
					goto refused;
			}
		}
		ip = ra == tramp ? ret_real_address(arch_ret_key_of_cfa(cfa), ra) : ra;
		sp = cfa;
		frames[n++] = ip;
	}
	*spp = sp;
	*bpp = bp;
	return n;
refused:
	*spp = sp;
	*bpp = bp;
	return n | WALK_REFUSED;
}

static inline __attribute__((always_inline)) unsigned
unwind(const struct stack_modset *ms, const struct uprobe_regs *regs, bool at_entry,
       uint64_t *frames, unsigned max)
{
	struct walk_cache *wc = ms ? ms->walk : NULL;
	struct uw_state s = { arch_regs_pc(regs), arch_regs_sp(regs), arch_regs_fp(regs), regs, 0,
			      ret_tramp_address(), true };
	struct uw_module u = { .lo = 1 };
	uint64_t ip = s.ip, sp = s.sp, bp = s.bp, tramp = s.tramp;
	unsigned n = 0;
	bool exact = true;

	if (max > STACK_MAX_DEPTH)
		max = STACK_MAX_DEPTH;
	if (!max)
		return 0;
	frames[n++] = ip;
	while (n < max) {
		bool entry = at_entry && n == 1; /* no row: the return address at rsp */
		const struct cfi_row *r;
		struct cfi_row row;
		uint64_t d;

		if (!exact && wc) {
			n = walk_fast(wc, frames, n, max, &sp, &bp, tramp);
			if (n & WALK_REFUSED) {
				n &= ~WALK_REFUSED;
				break;
			}
			ip = frames[n - 1];
			if (n >= max)
				break;
		}
		/* The slow road, one frame: its row looked up (and kept in the cache). */
		d = walk_find(&u, ms, wc, ip - !exact, entry, &row, &r);
		if (d & WALK_END)
			break;
		if (d) {
			if (walk_apply(d, &ip, &sp, &bp, tramp))
				break;
			exact = false;
			s.uc = 0;
			frames[n++] = ip;
			continue;
		}
		s = (struct uw_state){ ip, sp, bp, n == 1 ? regs : NULL, s.uc, tramp, exact };
		if (step(&s, r, entry))
			break;
		ip = s.ip;
		sp = s.sp;
		bp = s.bp;
		exact = s.exact;
		frames[n++] = ip;
	}
	return n;
}

/*
 * The set of modules is read in a read section (a probe's handler is in one
 * already: two counter updates): a refresh frees the set it replaced only
 * after the sections in progress then have ended (modules.h). No set yet:
 * stack_setup() has not run (nor srcu_init(), which it calls).
 */
unsigned stack_unwind(const struct uprobe_regs *regs, bool at_entry, uint64_t *frames,
		      unsigned max)
{
	const struct stack_modset *ms = stack_modules_current();
	unsigned n;

	if (ms) {
		srcu_read_lock();
		ms = stack_modules_current();
	}
	n = unwind(ms, regs, at_entry, frames, max);
	if (ms)
		srcu_read_unlock();
	return n;
}
