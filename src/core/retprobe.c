/* SPDX-License-Identifier: MIT */
/*
 * Return probes: a shadow stack per thread.
 *
 * Hot code (trampolines, the SIGTRAP handler): no libc, no locks, no SIMD.
 *
 * Each followed call has an entry (slot, orig, probe, cookie), oldest first.
 * Calls normally return in the reverse order, and the return trampoline finds
 * its entry on top. The rest is about calls that never return:
 *
 *   longjmp, exceptions  frames below the current stack pointer on the same
 *                        stack are gone; they are reported as unwound when the
 *                        thread next pushes or pops at or above them
 *   other stacks         a signal handler on a sigaltstack, a makecontext
 *                        coroutine: their frames interleave with the thread's
 *                        own; stack pointers are only compared within a stack
 *                        (ret_add_stack() knows the other stacks' bounds)
 *   unwinders            see retunwind.c: the slots get their return
 *                        addresses back while an unwinder walks
 *   other threads        a coroutine suspended inside a followed call and
 *                        resumed by another thread returns there: that
 *                        thread takes the entries from their owner's stack
 *                        (ret_take_foreign), which then drops them unseen
 *
 * A signal handler that interrupts an operation on the shadow stack (busy)
 * does not follow its own calls: they are counted as missed.
 *
 * The architecture says where a call's return address is (arch_ret_*): a
 * call's key ("slot") is the stack slot of its return address on x86-64 (rsp
 * at the entry), sp at the entry on aarch64 (the return address in x30). In
 * both, a frame below another on a stack has a lower key.
 */
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/arch.h"
#include "core/retpatch.h"
#include "core/retprobe.h"
#include "core/srcu.h"

#define RET_GRAVE 64		 /* entries dropped as unwound, kept for ret_lost() */
#define RET_STACKS 256		 /* other stacks known by their bounds */
#define RET_NEAR (256ull << 20)	 /* farther apart than this: not one stack */
#define RET_ALL 4096		 /* shadow stacks another thread can look into */
#define RET_TAKEN 1		 /* in a slot: the entry was taken by another thread */
#define RET_TAKE_MAX 16		 /* consumers of one call taken at once */

struct ret_entry {
	uint64_t slot; /* the call's key (arch_ret_key): where the return address lives on x86-64 */
	uint64_t orig; /* the return address */
	struct probe_rec *rec;
	struct uprobe *c;
	uint64_t c_id;
	uint64_t cookie;
	uint64_t unhooked; /* the slot holds orig again (an unwinder walks) */
	/*
	 * Without the return address in memory (!ARCH_RET_IN_MEMORY): where
	 * ret_unhook found the function's saved copy of it, what was there (the
	 * trampoline, in the function's form) and what it wrote (orig, so).
	 */
	uint64_t saved_at, saved_hook, saved_orig;
};

/*
 * One per thread that followed a call. Registered in ret_all and never
 * unmapped: a thread's end releases it (owner 0) for a later thread. Other
 * threads read the entries (ret_take_foreign): mod is odd while the owner
 * changes them (a sequence lock; the owner never waits).
 */
struct ret_stack {
	unsigned n; /* entries in use */
	unsigned n_unhooked;
	unsigned busy;
	unsigned grave_next;
	unsigned mod;
	int owner;	 /* 1 while a thread uses it */
	bool registered; /* in ret_all */
	struct ret_entry grave[RET_GRAVE];
	struct ret_entry e[UPROBE_RET_DEPTH];
};

__thread uint64_t *ret_cur_cookie __attribute__((tls_model("initial-exec")));
static __thread struct ret_stack *ret_self __attribute__((tls_model("initial-exec")));
static pthread_key_t ret_key;
uint64_t ret_tramp; /* arch_ret_tramp_addr(), once set up */

static struct {
	uint64_t lo, hi;
	bool alt; /* a sigaltstack: its frames never outlive the interrupted code */
} ret_stacks[RET_STACKS];
unsigned ret_nstacks;
static uint64_t ret_stacks_dropped;
static struct ret_stack *ret_all[RET_ALL];
static unsigned ret_nall; /* slots of ret_all handed out (a slot may still be NULL) */

static void stat_inc(uint64_t *counter)
{
	__atomic_fetch_add(counter, 1, __ATOMIC_RELAXED);
}

/* The owner changes entries: other threads reading them retry (ret_take_foreign). */
static void mod_begin(struct ret_stack *rs)
{
	__atomic_store_n(&rs->mod, rs->mod + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void mod_end(struct ret_stack *rs)
{
	__atomic_store_n(&rs->mod, rs->mod + 1, __ATOMIC_RELEASE);
}

/* A stack a thread that ended released, emptied. */
static struct ret_stack *ret_stack_claim(void)
{
	unsigned n = __atomic_load_n(&ret_nall, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n && i < RET_ALL; i++) {
		struct ret_stack *rs = __atomic_load_n(&ret_all[i], __ATOMIC_ACQUIRE);
		int free_owner = 0;

		if (!rs || !__atomic_compare_exchange_n(&rs->owner, &free_owner, 1, false,
							 __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			continue;
		rs->n_unhooked = rs->busy = 0;
		for (unsigned k = 0; k < RET_GRAVE; k++)
			rs->grave[k].slot = 0;
		return rs;
	}
	return NULL;
}

static struct ret_stack *ret_stack_new(void)
{
	struct ret_stack *rs = ret_stack_claim();
	unsigned i;

	if (!rs) {
		long p = raw_syscall6(SYS_mmap, 0, sizeof(struct ret_stack), PROT_READ | PROT_WRITE,
				      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p < 0 && p > -4096)
			return NULL;
		rs = (struct ret_stack *)p;
		rs->owner = 1;
		i = __atomic_fetch_add(&ret_nall, 1, __ATOMIC_RELAXED);
		rs->registered = i < RET_ALL;
		if (rs->registered)
			__atomic_store_n(&ret_all[i], rs, __ATOMIC_RELEASE);
	}
	ret_self = rs;
	/* Thread exit reports what is left (ret_thread_end). A plain TLS store for small keys. */
	pthread_setspecific(ret_key, ret_self);
	return ret_self;
}

static int stack_of(uint64_t a)
{
	unsigned n = __atomic_load_n(&ret_nstacks, __ATOMIC_ACQUIRE);

	for (unsigned i = 0; i < n; i++)
		if (a >= ret_stacks[i].lo && a < ret_stacks[i].hi)
			return (int)i;
	return -1;
}

/* Are two stack addresses of this thread on the same stack? */
static bool same_stack(uint64_t a, uint64_t b)
{
	int s = stack_of(a);

	if (s != stack_of(b))
		return false;
	return s >= 0 || (a > b ? a - b : b - a) < RET_NEAR;
}

/*
 * Is e's frame gone, seen from code running at slot? Either it is below slot
 * on the same stack, or it belongs to a signal handler that ran on an
 * alternate stack we are no longer on (handler frames are nested inside the
 * code they interrupted; a coroutine's frames are not and stay).
 */
static bool entry_dead(const struct ret_entry *e, uint64_t slot)
{
	int st;

	if (e->slot & RET_TAKEN)
		return true;
	if (same_stack(e->slot, slot))
		return e->slot <= slot;
	st = stack_of(e->slot);
	return st >= 0 && ret_stacks[st].alt;
}

bool ret_same_stack(uint64_t a, uint64_t b)
{
	return same_stack(a, b);
}

bool ret_frame_gone(uint64_t slot, uint64_t sp)
{
	struct ret_entry e = { .slot = slot };

	return entry_dead(&e, sp);
}

void ret_add_stack(uint64_t lo, uint64_t hi, bool alt)
{
	static int lock;
	unsigned n;

	if (lo >= hi)
		return;
	while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
		;
	n = ret_nstacks;
	for (unsigned i = 0; i < n; i++) {
		if (ret_stacks[i].lo == lo || ret_stacks[i].hi == hi) {
			/* A stack reused (coroutine pools): new bounds. */
			__atomic_store_n(&ret_stacks[i].lo, lo, __ATOMIC_RELAXED);
			__atomic_store_n(&ret_stacks[i].hi, hi, __ATOMIC_RELEASE);
			ret_stacks[i].alt = alt;
			goto out;
		}
	}
	if (n == RET_STACKS) {
		ret_stacks_dropped++;
		goto out;
	}
	ret_stacks[n].lo = lo;
	ret_stacks[n].hi = hi;
	ret_stacks[n].alt = alt;
	__atomic_store_n(&ret_nstacks, n + 1, __ATOMIC_RELEASE);
out:
	__atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
}

/* The consumer of e if it is still attached (read section held), else NULL. */
static struct uprobe *entry_consumer(const struct ret_entry *e)
{
	for (struct uprobe *c = __atomic_load_n(&e->rec->consumers, __ATOMIC_ACQUIRE); c;
	     c = __atomic_load_n(&c->next, __ATOMIC_ACQUIRE))
		if (c == e->c && c->id == e->c_id)
			return c;
	return NULL;
}

typedef void (*ret_simd_fn)(void *, void *, const void *, void *);

/* Run e's return handler (read section held: id >= 0, or -1 when nested). */
static void ret_report(const struct ret_entry *e, struct uprobe_regs *regs,
		       struct uprobe_ret *r, int id)
{
	struct uprobe *c = entry_consumer(e);

	if (!c) {
		stat_inc(&core_stats.ret_orphaned);
		return;
	}
	if (id < 0) {
		probe_count_skipped(c);
		return;
	}
	r->func = e->rec->addr;
	r->ret_addr = e->orig;
	r->cookie = e->cookie;
	r->entry_sp = e->slot;
	if (c->flags & UPROBE_F_HANDLER_NO_SIMD)
		c->ret_handler(c, regs, r, c->ctx);
	else
		arch_simd_call((ret_simd_fn)c->ret_handler, c, regs, r, c->ctx);
	if (id < CORE_FAST_IDS)
		__atomic_store_n(&c->fast_hits[id].ret, c->fast_hits[id].ret + 1,
				 __ATOMIC_RELAXED);
	else
		stat_inc(&c->ret_hits);
	if (r->flags & UPROBE_RET_UNWOUND)
		stat_inc(&c->ret_unwound);
}

/*
 * e's frame is gone without returning: say so, and remember it a while.
 * Unless another thread took it: it returned there.
 */
static void ret_unwound(struct ret_stack *rs, const struct ret_entry *e, int id)
{
	struct uprobe_regs regs = { 0 };
	struct uprobe_ret r = { .flags = UPROBE_RET_UNWOUND };

	arch_regs_set_pc_sp(&regs, e->orig, arch_ret_sp_after(e->slot));

	if (e->slot & RET_TAKEN)
		return;
	rs->grave[rs->grave_next++ % RET_GRAVE] = *e;
	/* Calls below it that took the site path are gone too, and newer: first. */
	retpatch_drop_newer(e->slot, id);
	ret_report(e, &regs, &r, id);
}

/* Remove entry i (its slot untouched), keeping the order of the others. */
static void ret_remove(struct ret_stack *rs, unsigned i)
{
	mod_begin(rs);
	if (rs->e[i].unhooked)
		rs->n_unhooked--;
	for (unsigned k = i + 1; k < rs->n; k++)
		rs->e[k - 1] = rs->e[k];
	rs->n--;
	mod_end(rs);
}

/*
 * Unhooked entries on limit's stack whose slot is below limit are gone (as
 * are those whose slot was overwritten); the others are hooked again. On
 * another stack they wait, unless their slot is intact.
 */
static void ret_resync_locked(struct ret_stack *rs, uint64_t limit, int id)
{
	for (unsigned i = rs->n; i-- > 0 && rs->n_unhooked;) {
		struct ret_entry *e = &rs->e[i];
		bool here = same_stack(e->slot, limit);

		if (!e->unhooked || (e->slot & RET_TAKEN))
			continue;
		uint64_t *at = (uint64_t *)(ARCH_RET_IN_MEMORY ? e->slot : e->saved_at);
		uint64_t put = ARCH_RET_IN_MEMORY ? e->orig : e->saved_orig;

		if (!(here && e->slot < limit) && at && *at == put) {
			*at = ARCH_RET_IN_MEMORY ? ret_tramp : e->saved_hook;
			mod_begin(rs);
			e->unhooked = 0;
			mod_end(rs);
			rs->n_unhooked--;
		} else if (here) {
			ret_unwound(rs, e, id);
			ret_remove(rs, i);
		}
	}
}

uint64_t *ret_push(struct probe_rec *rec, struct uprobe *c, struct uprobe_regs *regs, int id)
{
	struct ret_stack *rs = ret_self;
	struct ret_entry *e;
	uint64_t slot = arch_ret_key(regs), orig;

	/* Site-only, an exit not written (core/retpatch.c retpatch_arm): not followed. */
	if (__builtin_expect(c->ret_site.path == UPROBE_RET_NONE, 0))
		goto missed;
	if (__builtin_expect(!rs, 0) && !(rs = ret_stack_new()))
		goto missed;
	if (rs->busy)
		goto missed;
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	if (rs->n_unhooked)
		ret_resync_locked(rs, slot + 1, id);
	orig = arch_ret_get(regs, slot);
	if (orig == ret_tramp) {
		/* A second consumer of this call, or a tail call back into the function. */
		if (!rs->n || rs->e[rs->n - 1].slot != slot)
			goto missed_busy;
		orig = rs->e[rs->n - 1].orig;
	} else {
		while (rs->n && entry_dead(&rs->e[rs->n - 1], slot)) {
			ret_unwound(rs, &rs->e[rs->n - 1], id);
			ret_remove(rs, rs->n - 1);
		}
	}
	if (rs->n == UPROBE_RET_DEPTH)
		goto missed_busy;
	mod_begin(rs);
	e = &rs->e[rs->n];
	e->slot = slot;
	e->orig = orig;
	e->rec = rec;
	e->c = c;
	e->c_id = c->id;
	e->cookie = 0;
	e->unhooked = 0;
	rs->n++;
	mod_end(rs);
	arch_ret_set(regs, slot, ret_tramp);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
	return &e->cookie;
missed_busy:
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
missed:
	stat_inc(&c->ret_missed);
	return NULL;
}

uint64_t ret_tramp_address(void)
{
	return __atomic_load_n(&ret_tramp, __ATOMIC_RELAXED);
}

uint64_t ret_real_address(uint64_t slot, uint64_t ra)
{
	const struct ret_stack *rs = ret_self;

	if (!rs || ra != __atomic_load_n(&ret_tramp, __ATOMIC_RELAXED))
		return ra;
	for (unsigned i = rs->n; i-- > 0;)
		if (rs->e[i].slot == slot)
			return rs->e[i].orig;
	/*
	 * Without the return address in memory (aarch64) a walk by frame records
	 * knows only a bound: the call's key (sp at its entry) is at or above
	 * the frame record. The newest call at or above it is that frame's.
	 */
	for (unsigned i = rs->n; !ARCH_RET_IN_MEMORY && i-- > 0;)
		if (rs->e[i].slot >= slot && !(rs->e[i].slot & RET_TAKEN))
			return rs->e[i].orig;
	return ra;
}

/*
 * rs's mod once even (the owner is between changes), or 1 when it stays odd
 * (the owner stopped inside a change: by a debugger, say).
 */
static unsigned mod_read(struct ret_stack *rs)
{
	for (unsigned tries = 0; tries < 100000; tries++) {
		unsigned mod = __atomic_load_n(&rs->mod, __ATOMIC_ACQUIRE);

		if (!(mod & 1))
			return mod;
		if (tries % 1024 == 1023)
			raw_syscall6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
		arch_cpu_relax();
	}
	return 1;
}

/* Did the owner change rs's entries since mod_read() returned mod? */
static bool mod_changed(struct ret_stack *rs, unsigned mod)
{
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	return mod & 1 || __atomic_load_n(&rs->mod, __ATOMIC_RELAXED) != mod;
}

/*
 * Copy the hooked entries of rs for slot (oldest first) into out, from one
 * consistent reading, then mark them taken (RET_TAKEN in their slot) for
 * their owner, who drops them unseen. A mark made while the owner moved
 * entries may be lost with the copy it was on: marked again until a pass
 * sees no change.
 */
static unsigned ret_take_from(struct ret_stack *rs, uint64_t slot, struct ret_entry *out)
{
	unsigned k = 0, mod, tries = 0;

	do {
		if ((mod = mod_read(rs)) & 1)
			return 0;
		k = 0;
		for (unsigned i = 0; i < rs->n && i < UPROBE_RET_DEPTH && k < RET_TAKE_MAX; i++)
			if (rs->e[i].slot == slot && !rs->e[i].unhooked)
				out[k++] = rs->e[i];
	} while (mod_changed(rs, mod) && ++tries < 1000);
	if (!k || tries == 1000)
		return 0;
	do {
		if ((mod = mod_read(rs)) & 1)
			break;
		for (unsigned i = 0; i < rs->n && i < UPROBE_RET_DEPTH; i++) {
			uint64_t want = slot;

			__atomic_compare_exchange_n(&rs->e[i].slot, &want, slot | RET_TAKEN, false,
						    __ATOMIC_RELAXED, __ATOMIC_RELAXED);
		}
	} while (mod_changed(rs, mod) && ++tries < 2000);
	return k;
}

/*
 * A call followed by another thread returns here: a coroutine suspended
 * inside it there was resumed by this thread. Its entries, from whichever
 * shadow stack holds them.
 */
static unsigned ret_take_foreign(struct ret_stack *self, uint64_t slot, struct ret_entry *out)
{
	unsigned n = __atomic_load_n(&ret_nall, __ATOMIC_ACQUIRE), k = 0;

	for (unsigned i = 0; i < n && i < RET_ALL && !k; i++) {
		struct ret_stack *rs = __atomic_load_n(&ret_all[i], __ATOMIC_ACQUIRE);

		if (rs && rs != self && __atomic_load_n(&rs->owner, __ATOMIC_ACQUIRE))
			k = ret_take_from(rs, slot, out);
	}
	return k;
}

/*
 * No entry for a slot the trampoline returned through. The entry was taken
 * for unwound (a stack we could not tell apart): the return address is still
 * in the graveyard. Or another thread followed the call (ret_take_foreign):
 * its returns are reported here. Without either there is nowhere to go: a
 * function that returns twice (the known ones are refused at attach time).
 */
static uint64_t ret_lost(struct ret_stack *rs, uint64_t slot, struct uprobe_regs *regs,
			 struct uprobe_ret *r, int id)
{
	static const char msg[] = "uprobes: return trampoline: no shadow entry for this return "
				  "(a function that returns twice?): the return address is lost; "
				  "aborting\n";
	struct ret_entry taken[RET_TAKE_MAX];
	unsigned n;

	for (unsigned k = 0; rs && k < RET_GRAVE; k++) {
		const struct ret_entry *g = &rs->grave[(rs->grave_next - 1 - k) % RET_GRAVE];

		if (g->slot == slot && g->orig)
			return g->orig;
	}
	n = ret_take_foreign(rs, slot, taken);
	/* Newest first, as in dispatch_return(). */
	for (unsigned i = n; i-- > 0;) {
		arch_regs_set_pc_sp(regs, taken[0].orig, arch_ret_sp_after(slot));
		ret_report(&taken[i], regs, r, id);
	}
	if (n)
		return taken[0].orig;
	raw_syscall6(SYS_write, 2, (long)msg, sizeof(msg) - 1, 0, 0, 0);
	__builtin_trap();
}

void dispatch_return(struct ret_frame *f)
{
	struct ret_stack *rs = ret_self;
	uint64_t slot = arch_ret_frame_key(f), orig;
	struct uprobe_ret r = { .xmm0 = f->xmm0, .xmm1 = f->xmm1 };
	int id = srcu_read_lock();
	unsigned top, bottom;

	if (!rs && !(rs = ret_stack_new())) {
		/* A coroutine's call followed by another thread, and no memory for ours. */
		orig = ret_lost(NULL, slot, &f->regs, &r, id);
		arch_ret_frame_resume(f, slot, orig);
		srcu_read_unlock();
		return;
	}
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	top = rs->n;
	if (__builtin_expect(top && rs->e[top - 1].slot == slot && !rs->n_unhooked &&
			     (top == 1 || rs->e[top - 2].slot != slot), 1)) {
		/* The common case: our entry on top, alone. */
		struct ret_entry *e = &rs->e[top - 1];

		orig = e->orig;
		arch_regs_set_pc_sp(&f->regs, orig, arch_ret_sp_after(slot));
		ret_report(e, &f->regs, &r, id);
		mod_begin(rs);
		rs->n = top - 1;
		mod_end(rs);
		goto out;
	}
	if (rs->n_unhooked)
		ret_resync_locked(rs, slot + 1, id);
	for (top = rs->n; top > 0 && rs->e[top - 1].slot != slot; top--)
		;
	if (!top) {
		orig = ret_lost(rs, slot, &f->regs, &r, id);
		goto out;
	}
	/* Newer entries: gone if below us on this stack, alive on another stack. */
	for (unsigned i = rs->n; i-- > top;) {
		if (entry_dead(&rs->e[i], slot)) {
			ret_unwound(rs, &rs->e[i], id);
			ret_remove(rs, i);
		}
	}
	for (bottom = top - 1; bottom > 0 && rs->e[bottom - 1].slot == slot; bottom--)
		;
	orig = rs->e[bottom].orig;
	arch_regs_set_pc_sp(&f->regs, orig, arch_ret_sp_after(slot));
	/* Newest first: a tail call's callee returns before its caller. */
	for (unsigned i = top; i-- > bottom;) {
		struct ret_entry e = rs->e[i];

		ret_report(&e, &f->regs, &r, id);
		arch_regs_set_pc_sp(&f->regs, orig, arch_ret_sp_after(slot));
	}
	for (unsigned i = top; i-- > bottom;)
		ret_remove(rs, i);
out:
	arch_ret_frame_resume(f, slot, orig);
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
	srcu_read_unlock();
}

/* Normal context, around unwinders. */
static struct ret_stack *ret_enter(int *id)
{
	struct ret_stack *rs = ret_self;

	if (!rs || rs->busy)
		return NULL;
	*id = srcu_read_lock();
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	return rs;
}

static void ret_leave(struct ret_stack *rs)
{
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
	srcu_read_unlock();
}

/*
 * ret_unhook without the return address in memory (aarch64): each followed
 * call on sp's stack above sp, newest first, has the copy of its return
 * address that it saved itself (its frame record) found between its key and
 * the newer call's (arch_ret_saved_at) and put back in that copy's form.
 * A call whose copy is not found stays hooked: an unwinder stops there, as it
 * did before. Other stacks (a signal's, a coroutine's) are left alone.
 */
static void unhook_saved(struct ret_stack *rs, uint64_t sp)
{
	uint64_t low = sp;

	for (unsigned i = rs->n; i-- > 0;) {
		struct ret_entry *e = &rs->e[i];
		uint64_t at, was = 0;

		if ((e->slot & RET_TAKEN) || !same_stack(e->slot, sp) || e->slot < sp)
			continue;
		at = e->unhooked ? 0 : arch_ret_saved_at(e->slot, low, ret_tramp, &was);
		low = e->slot;
		if (!at)
			continue;
		mod_begin(rs);
		e->saved_at = at;
		e->saved_hook = was;
		e->saved_orig = arch_ret_saved_form(e->slot, was, ret_tramp, e->orig);
		*(uint64_t *)at = e->saved_orig;
		e->unhooked = 1;
		mod_end(rs);
		rs->n_unhooked++;
	}
}

/*
 * The unwinder walks this stack from sp up and, through a signal frame or a
 * coroutine's link, may go on to the thread's own stack (never freed while
 * the thread lives). Other stacks (suspended coroutines) are left alone.
 */
void ret_unhook(uint64_t sp)
{
	int id;
	struct ret_stack *rs = ret_enter(&id);
	bool away = stack_of(sp) >= 0;

	if (!rs)
		return;
	if (!ARCH_RET_IN_MEMORY) {
		unhook_saved(rs, sp);
		ret_leave(rs);
		return;
	}
	for (unsigned i = 0; i < rs->n; i++) {
		struct ret_entry *e = &rs->e[i];
		bool here = same_stack(e->slot, sp);

		if (e->unhooked || (e->slot & RET_TAKEN) || (here && e->slot < sp) ||
		    (!here && !(away && stack_of(e->slot) < 0)))
			continue;
		if (*(uint64_t *)e->slot == ret_tramp)
			*(uint64_t *)e->slot = e->orig;
		mod_begin(rs);
		e->unhooked = 1;
		mod_end(rs);
		rs->n_unhooked++;
	}
	ret_leave(rs);
}

void ret_resync(uint64_t sp)
{
	int id;
	struct ret_stack *rs = ret_enter(&id);

	if (!rs)
		return;
	if (rs->n_unhooked)
		ret_resync_locked(rs, sp, id);
	ret_leave(rs);
}

/* Report every entry as unwound; restore the slots on sp's stack. */
static void ret_drop_all(struct ret_stack *rs, uint64_t sp, int id)
{
	while (rs->n) {
		struct ret_entry *e = &rs->e[rs->n - 1];

		if (ARCH_RET_IN_MEMORY && sp && !e->unhooked && !(e->slot & RET_TAKEN) &&
		    e->slot >= sp && same_stack(e->slot, sp) && *(uint64_t *)e->slot == ret_tramp)
			*(uint64_t *)e->slot = e->orig;
		ret_unwound(rs, e, id);
		ret_remove(rs, rs->n - 1);
	}
}

void ret_drop_newer(uint64_t slot, int id)
{
	struct ret_stack *rs = ret_self;

	if (!rs || !rs->n || rs->busy || id < 0)
		return;
	rs->busy = 1;
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	while (rs->n && !(rs->e[rs->n - 1].slot & RET_TAKEN) && rs->e[rs->n - 1].slot < slot &&
	       same_stack(rs->e[rs->n - 1].slot, slot) && !rs->e[rs->n - 1].unhooked) {
		ret_unwound(rs, &rs->e[rs->n - 1], id);
		ret_remove(rs, rs->n - 1);
	}
	__atomic_signal_fence(__ATOMIC_SEQ_CST);
	rs->busy = 0;
}

void ret_exit_thread(uint64_t sp)
{
	int id;
	struct ret_stack *rs = ret_enter(&id);

	if (!rs)
		return;
	ret_drop_all(rs, sp, id);
	ret_leave(rs);
}

/*
 * pthread key destructor: the thread ends with calls pending (pthread_cancel),
 * or still running: glibc's __nptl_deallocate_tsd, which runs the destructors,
 * returns after this one freed the shadow stack. Calls above us on this stack
 * get their return addresses back (reported now, unwound: they return
 * unfollowed); a slot a forced unwind left is no longer ret_tramp.
 */
static void ret_thread_end(void *p)
{
	struct ret_stack *rs = p;
	int id = srcu_read_lock();

	ret_drop_all(rs, (uint64_t)__builtin_frame_address(0), id);
	srcu_read_unlock();
	ret_self = NULL;
	if (rs->registered) /* other threads may be reading it: kept for the next thread */
		__atomic_store_n(&rs->owner, 0, __ATOMIC_RELEASE);
	else
		raw_syscall6(SYS_munmap, (long)rs, sizeof(*rs), 0, 0, 0, 0);
}

static int ret_setup_err;

static void ret_setup_once(void)
{
	stack_t ss;

	ret_setup_err = -pthread_key_create(&ret_key, ret_thread_end);
	if (!ret_setup_err)
		__atomic_store_n(&ret_tramp, arch_ret_tramp_addr(), __ATOMIC_RELEASE);
	if (!sigaltstack(NULL, &ss) && !(ss.ss_flags & SS_DISABLE))
		ret_add_stack((uint64_t)ss.ss_sp, (uint64_t)ss.ss_sp + ss.ss_size, true);
}

int ret_setup(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, ret_setup_once);
	return ret_setup_err;
}

uint64_t *uprobe_cookie(void)
{
	return ret_cur_cookie;
}
