/* SPDX-License-Identifier: MIT */
/*
 * Return sites, the hot side (see retpatch.h): the per-thread stack of entry
 * records, the entry push and the exit trampolines' C side. No libc, no
 * locks, no SIMD (HOT_CFLAGS): it runs in trampolines and the SIGTRAP
 * handler, wherever the program is.
 *
 * Records are ordered as the calls nest: on one stack the newest has the
 * lowest sp. An exit at sp first drops (reports unwound) the records above
 * it that are gone (ret_frame_gone: below sp on the same stack, or on a
 * sigaltstack left), then reports those at sp of its own function, newest
 * first. A record at the same sp of another function is gone too (a call
 * longjmp'd out of whose caller called again). A push drops the gone ones
 * the same way, and a record of the same consumer at the same sp (its call
 * did not return). Records of other stacks (coroutines) wait.
 *
 * A signal handler that interrupts a push or an exit (busy) follows no call
 * of its own: its entries are counted missed, its exits find no record.
 */
#include <pthread.h>
#include <sys/mman.h>
#include <sys/syscall.h>

#include "arch/arch.h"
#include "arch/x86_64/retsite.h"
#include "core/retpatch.h"
#include "core/retprobe.h"
#include "core/srcu.h"

pthread_key_t retpatch_key;

static void stat_inc(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

static struct rp_stack *rp_new(void)
{
	long p = raw_syscall6(SYS_mmap, 0, sizeof(struct rp_stack), PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p < 0 && p > -4096)
		return NULL;
	rp_self = (struct rp_stack *)p;
	/* A plain TLS store for small keys (as retprobe.c's). */
	pthread_setspecific(retpatch_key, rp_self);
	return rp_self;
}

/* The consumer of e if it is still attached (read section held), else NULL. */
static struct uprobe *rp_consumer(const struct rp_entry *e)
{
	for (struct uprobe *c = __atomic_load_n(&e->rec->consumers, __ATOMIC_ACQUIRE); c;
	     c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE))
		if (c == e->c && c->id == e->c_id)
			return c;
	return NULL;
}

typedef void (*rp_simd_fn)(void *, void *, const void *, void *);

/* Run e's return handler (read section held, id >= 0). Inlined: the exit's hot path. */
static inline __attribute__((always_inline)) void rp_report(const struct rp_entry *e, struct uprobe_regs *regs, struct uprobe_ret *r,
		      int id)
{
	struct uprobe *c = rp_consumer(e);

	if (!c) {
		stat_inc(&core_stats.ret_orphaned);
		return;
	}
	r->func = e->fn;
	r->ret_addr = e->ra;
	r->cookie = e->cookie;
	r->entry_sp = e->sp;
	if (c->flags & UPROBE_F_HANDLER_NO_SIMD)
		c->ret_handler(c, regs, r, c->ctx);
	else
		arch_simd_call((rp_simd_fn)c->ret_handler, c, regs, r, c->ctx);
	if (id < CORE_FAST_IDS)
		__atomic_store_n(&c->fast_hits[id].ret, c->fast_hits[id].ret + 1,
				 __ATOMIC_RELAXED);
	else
		stat_inc(&c->ret_hits);
	if (r->flags & UPROBE_RET_UNWOUND)
		stat_inc(&c->ret_unwound);
}

/* e's frame is gone without returning: say so. */
static void rp_unwound(const struct rp_entry *e, int id)
{
	struct uprobe_regs regs = { 0 };
	struct uprobe_ret r = { .flags = UPROBE_RET_UNWOUND };

	arch_regs_set_pc_sp(&regs, e->ra, e->sp + 8);
	/* Calls below it that took the hijack are gone too, and newer: first. */
	ret_drop_newer(e->sp, id);
	rp_report(e, &regs, &r, id);
}

/* Drop the records on top for which gone(e) says so, reporting them unwound. */
#define RP_DROP_WHILE(rs, id, gone_expr)                          \
	while ((rs)->n) {                                         \
		const struct rp_entry *e = &(rs)->e[(rs)->n - 1]; \
		if (!(gone_expr))                                 \
			break;                                    \
		rp_unwound(e, id);                                \
		(rs)->n--;                                        \
	}

uint64_t *retpatch_push(struct probe_rec *rec, struct uprobe *c, uint64_t sp, int id)
{
	struct rp_stack *rs = rp_self;
	struct rp_entry *e;

	if (__builtin_expect(!rs, 0) && !(rs = rp_new()))
		goto missed;
	if (rs->busy)
		goto missed;
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	/* At our sp: another consumer of this call, or a call that did not return. */
	RP_DROP_WHILE(rs, id, e->sp == sp ? e->fn != rec->addr || (e->c == c &&
									  e->c_id == c->id)
					  : ret_frame_gone(e->sp, sp));
	if (rs->n == UPROBE_RET_DEPTH) {
		__atomic_signal_fence(__ATOMIC_SEQ_CST);
		rs->busy = 0;
		goto missed;
	}
	e = &rs->e[rs->n];
	e->sp = sp;
	e->ra = ret_real_address(sp, *(uint64_t *)sp);
	e->rec = rec;
	e->c = c;
	e->c_id = c->id;
	e->cookie = 0;
	e->fn = rec->addr;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->n++;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
	return &e->cookie;
missed:
	stat_inc(&c->ret_missed);
	return NULL;
}

static bool rp_mine(const struct rp_entry *e, const struct retpatch_exit *x, uint64_t slot)
{
	return e->sp == slot && e->fn == x->fn;
}

/* Is e, not of this call, gone seen from the exit at slot? */
static bool rp_gone_at_exit(const struct rp_entry *e, uint64_t slot)
{
	return e->sp == slot || ret_frame_gone(e->sp, slot);
}

/*
 * The newest record of this call (index + 1), or 0. Newer records may be
 * of other stacks (a coroutine's frames interleave with the thread's); the
 * search stops at an older live frame of this stack.
 */
static unsigned rp_find(const struct rp_stack *rs, const struct retpatch_exit *x, uint64_t slot)
{
	for (unsigned i = rs->n; i-- > 0;) {
		const struct rp_entry *e = &rs->e[i];

		if (rp_mine(e, x, slot))
			return i + 1;
		if (e->sp > slot && ret_same_stack(e->sp, slot))
			return 0; /* older, on our stack: ours would be above it */
	}
	return 0;
}

/* Remove the records [from, to) keeping the order of the others. */
static void rp_remove(struct rp_stack *rs, unsigned from, unsigned to)
{
	unsigned k = from;

	for (unsigned i = to; i < rs->n; i++)
		rs->e[k++] = rs->e[i];
	rs->n = k;
}

/*
 * Every case but the common one (retpatch_exit): several records of this
 * call (consumers), records to drop first, none of ours, a tail jump out.
 * busy and the read section held.
 */
static __attribute__((noinline)) void rp_exit_slow(const struct retpatch_exit *x,
						   struct rp_stack *rs, struct uprobe_regs *regs,
						   struct uprobe_ret *r, uint64_t slot, int id)
{
	unsigned top = rp_find(rs, x, slot), bottom;

	if (!top) {
		RP_DROP_WHILE(rs, id, rp_gone_at_exit(e, slot));
		return;
	}
	/* Newer records: gone if below us on this stack, alive on another stack. */
	for (unsigned i = rs->n; i-- > top;) {
		if (rp_gone_at_exit(&rs->e[i], slot)) {
			rp_unwound(&rs->e[i], id);
			rp_remove(rs, i, i + 1);
		}
	}
	for (bottom = top - 1; bottom > 0 && rp_mine(&rs->e[bottom - 1], x, slot); bottom--)
		;
	if (x->kind == ARCH_EXIT_RET) {
		/* As the hijack shows a return: rip the call site, rsp after the ret. */
		for (unsigned i = top; i-- > bottom;) {
			regs->rip = rs->e[i].ra;
			regs->rsp = slot + 8;
			rp_report(&rs->e[i], regs, r, id);
		}
	} else {
		/*
		 * A tail jump out: the callee's return is this call's. Hand the
		 * call to the hijack (the return address swapped now), cookie and
		 * all, oldest consumer first as the entry pushed them.
		 */
		for (unsigned i = bottom; i < top; i++) {
			const struct rp_entry *e = &rs->e[i];
			struct uprobe *c = rp_consumer(e);
			uint64_t *cookie;

			if (!c) {
				stat_inc(&core_stats.ret_orphaned);
				continue;
			}
			cookie = ret_push(e->rec, c, regs, id); /* at regs->rsp: slot */
			if (cookie)
				*cookie = e->cookie;
		}
	}
	rp_remove(rs, bottom, top);
}

void retpatch_exit_slow(const struct retpatch_exit *x, struct uprobe_regs *regs, int id)
{
	struct rp_stack *rs = rp_self;
	struct uprobe_ret r; /* filled field by field: no rep stos on every return */

	r.flags = 0;
	/* Nothing since the exit has run SIMD code: the return registers are as there. */
	__asm__ volatile("movdqu %%xmm0, %0\n\tmovdqu %%xmm1, %1" : "=m"(r.xmm0), "=m"(r.xmm1));
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rp_exit_slow(x, rs, regs, &r, regs->rsp, id);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
}

int retpatch_exit_tail(void *xp, struct uprobe_regs *regs)
{
	struct rp_stack *rs = rp_self;
	int id;

	/* The EXIT templates do not store rsp: regs lie a fixed distance below it. */
	regs->rsp = (uint64_t)regs + ARCH_TRAMP_REGS_BELOW_SP;
	if (!rs)
		return 0;
	id = srcu_read_lock();
	if (id >= 0 && !rs->busy)
		retpatch_exit_slow(xp, regs, id);
	srcu_read_unlock();
	return 0;
}

/* Normal context (unwinders): the records dropped as gone from sp, or all. */
static void rp_drop(uint64_t sp, bool all)
{
	struct rp_stack *rs = rp_self;
	int id;

	if (!rs || !rs->n || rs->busy)
		return;
	id = srcu_read_lock();
	if (id < 0) {
		srcu_read_unlock();
		return;
	}
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	RP_DROP_WHILE(rs, id, all || (e->sp != sp && ret_frame_gone(e->sp, sp)));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
	srcu_read_unlock();
}

void retpatch_drop_newer(uint64_t slot, int id)
{
	struct rp_stack *rs = rp_self;

	if (!rs || !rs->n || rs->busy || id < 0)
		return;
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	RP_DROP_WHILE(rs, id, e->sp < slot && ret_frame_gone(e->sp, slot));
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
}

void retpatch_drop_orphans(void)
{
	struct rp_stack *rs = rp_self;

	if (!rs || rs->busy)
		return;
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = rs->n; i-- > 0;) {
		if (rp_consumer(&rs->e[i]))
			continue;
		stat_inc(&core_stats.ret_orphaned);
		rp_remove(rs, i, i + 1);
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
}

void retpatch_resync(uint64_t sp)
{
	rp_drop(sp, false);
}

void retpatch_exit_thread(void)
{
	rp_drop(0, true);
}

void retpatch_thread_end(void *p)
{
	struct rp_stack *rs = p;

	if (rp_self == rs)
		rp_drop(0, true);
	rp_self = NULL;
	raw_syscall6(SYS_munmap, (long)rs, sizeof(*rs), 0, 0, 0, 0);
}
