/* SPDX-License-Identifier: MIT */
/*
 * The public API: attach, detach, information.
 *
 * Attaching a batch is three passes under registry_lock:
 *   prepare  resolve each location, analyse the instruction, find or build
 *            (and publish) its probe_rec with the out-of-line slot written;
 *   link     add each consumer to its record;
 *   arm      write int3 into every record not yet installed, then one
 *            cross-core synchronisation for the whole batch.
 * Detaching mirrors it: unlink, restore the first byte of every record left
 * without consumers, synchronise once, mark those records inactive, wait for
 * handlers in flight (srcu), and only then return.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/batch.h"
#include "core/core.h"
#include "core/jump.h"
#include "core/jump_memo.h"
#include "core/resolve.h"
#include "core/retpatch.h"
#include "core/retsite.h"
#include "core/retprobe.h"
#include "core/srcu.h"
#include "sym/sym.h"
#include "arch/arch.h"
#include "ubp/ubp.h"
#include "util/log.h"
#include "util/pool.h"
#include "xol/xol.h"

#define EXEC_FLAGS \
	(UPROBE_F_NO_EMULATE | UPROBE_F_SINGLESTEP | UPROBE_F_NO_OPTIMIZE | \
	 UPROBE_F_HANDLER_NO_SIMD | UPROBE_F_HANDLER_NO_FLAGS)

static pthread_once_t core_once = PTHREAD_ONCE_INIT;

static void core_init(void)
{
	srcu_init();
}

/*
 * Take back the signal handlers the program replaced with the raw
 * rt_sigaction system call (its handlers are chained behind ours) and say so.
 * Every attach and detach starts here: both may trap (an int3 at a head while
 * a jump goes in or out) and attach may send the quiescence signal.
 */
static int signals_reclaim(void)
{
	uint64_t taken = ubp_signal_reclaim();
	int n = 0;

	for (int sig = 1; sig <= 64; sig++) {
		if (!(taken & (1ull << (sig - 1))))
			continue;
		char rt[16];

		snprintf(rt, sizeof(rt), "RTMAX-%d", SIGRTMAX - sig);
		log_msg(UPROBE_LOG_WARN, "SIG%s had been taken over with the raw rt_sigaction "
			"system call: the library's handler is back, the program's runs behind it",
			sig == SIGRTMAX ? "RTMAX" : sig >= SIGRTMIN ? rt : sigabbrev_np(sig));
		n++;
	}
	return n;
}

static int core_ready(void)
{
	int err;

	pthread_once(&core_once, core_init);
	err = ubp_signal_install(dispatch_trap);
	if (err)
		return log_error(-err, "cannot install the SIGTRAP handler: %s", strerror(-err));
	signals_reclaim();
	return 0;
}

int uprobe_check_signals(void)
{
	return signals_reclaim();
}

/* How a hit will execute the instruction, and why. */
static enum uprobe_mode choose_mode(const struct arch_insn *ai, unsigned flags, char *why,
				    size_t len)
{
	if (!(flags & UPROBE_F_NO_EMULATE) && arch_insn_can_emulate(ai)) {
		snprintf(why, len, "%s", arch_emulate_reason(ai));
		return UPROBE_MODE_EMULATE;
	}
	if (arch_insn_needs_singlestep(ai)) {
		snprintf(why, len, "single-stepped: a call through memory executed out of line "
				   "pushes the slot's address; fixed up after the step");
		return UPROBE_MODE_SINGLESTEP;
	}
	if ((flags & UPROBE_F_SINGLESTEP) && arch_insn_can_singlestep(ai)) {
		snprintf(why, len, "single-stepped out of line (UPROBE_F_SINGLESTEP)");
		return UPROBE_MODE_SINGLESTEP;
	}
	arch_xol_reason(ai, arch_insn_can_emulate(ai), why, len);
	return UPROBE_MODE_XOL;
}

/* Allocate and fill the out-of-line slot of a new record. */
static int rec_build_slot(struct probe_rec *rec)
{
	uint8_t code[ARCH_XOL_SLOT_SIZE];
	uint64_t lo, hi;
	int len, err;

	arch_xol_window(&rec->insn, &lo, &hi);
	rec->slot = xol_alloc(ARCH_XOL_SLOT_SIZE, lo, hi, rec->addr);
	if (!rec->slot)
		return log_error(ERANGE, "no memory for an out-of-line slot within " ARCH_XOL_REACH
				 " of 0x%lx", rec->addr);
	len = arch_xol_make(&rec->insn, rec->slot, rec->mode == UPROBE_MODE_SINGLESTEP, code);
	if (len == -ENOTSUP) {
		/*
		 * Cannot run out of line (x86-64's call *%rsp, aarch64's PC-relative
		 * classes): emulate it whatever the flags.
		 */
		xol_free(rec->slot, ARCH_XOL_SLOT_SIZE);
		rec->slot = 0;
		rec->mode = UPROBE_MODE_EMULATE;
		snprintf(rec->reason, sizeof(rec->reason), "%s (cannot run out of line)",
			 arch_emulate_reason(&rec->insn));
		return 0;
	}
	err = len < 0 ? len : xol_write(rec->slot, code, len);
	if (err) {
		xol_free(rec->slot, ARCH_XOL_SLOT_SIZE);
		return log_error(-err, "cannot write the out-of-line slot at 0x%lx: %s", rec->slot,
				 len < 0 || err == -E2BIG ? strerror(-err) : ubp_text_error());
	}
	return 0;
}

/*
 * The instructions around t->addr (ARCH_SITE_BEFORE/_AFTER bytes, within its
 * function, else its mapping) for arch_insn_check_site: aarch64 refuses an
 * instruction inside an exclusive sequence (a trap clears the monitor).
 */
static int check_site(const struct probe_target *t, char *why, size_t whylen)
{
	uint8_t buf[ARCH_SITE_BEFORE + ARCH_SITE_AFTER + 1];
	uint64_t lo = t->func_start ? t->func_start : t->map_start;
	uint64_t hi = t->func_start && t->func_size ? t->func_start + t->func_size : t->map_end;
	uint64_t start, end;

	if (!ARCH_SITE_BEFORE && !ARCH_SITE_AFTER)
		return 0;
	if (hi > t->map_end)
		hi = t->map_end;
	start = t->addr - lo > ARCH_SITE_BEFORE ? t->addr - ARCH_SITE_BEFORE : lo;
	end = hi - t->addr > ARCH_SITE_AFTER ? t->addr + ARCH_SITE_AFTER : hi;
	if (start > t->addr || end <= t->addr)
		return 0;
	target_read(t, start, buf, end - start);
	return arch_insn_check_site(buf, end - start, t->addr - start, start, why, whylen);
}

static int analyze_at(const struct probe_target *t, struct arch_insn *ai)
{
	uint8_t buf[ARCH_INSN_MAX];
	size_t avail = t->map_end - t->addr;
	char why[256];
	int err;

	if (!jump_memo_insn(t, ai))
		return 0; /* decoded by an earlier image, from these very bytes */
	if (avail > sizeof(buf))
		avail = sizeof(buf);
	target_read(t, t->addr, buf, avail);
	err = arch_insn_analyze(ai, buf, avail, t->addr, why, sizeof(why));
	if (!err)
		err = check_site(t, why, sizeof(why));
	if (err)
		return log_error(-err, "%s", why);
	jump_memo_note_insn(t, ai);
	return 0;
}

/*
 * A record of the batch being attached (not installed yet, so no thread can
 * use it) whose window covers a probe that comes later in the batch: it takes
 * the breakpoint path instead. A trampoline built in this batch never ran: it
 * is given back once the batch has written it. One from an earlier attach
 * (the record reused) is kept: a thread may still be in its copy.
 */
static int rec_demote(struct probe_rec *rec, uint64_t other)
{
	rec->mode = choose_mode(&rec->insn, rec->flags, rec->reason, sizeof(rec->reason));
	snprintf(rec->opt_reason, sizeof(rec->opt_reason),
		 "another probe at +%lu is inside the window", other - rec->addr);
	memcpy(rec->orig, rec->insn.bytes, ARCH_PATCH_HEAD_LEN);
	rec->orig_len = ARCH_PATCH_HEAD_LEN;
	if (rec->tramp_deferred)
		xol_free_deferred(rec->tramp, rec->tramp_size);
	rec->tramp = rec->copy = 0;
	rec->tramp_deferred = false; /* whether it gets written or not, it is not used */
	rec->count_stub = false;
	return rec->mode == UPROBE_MODE_EMULATE ? 0 : rec_build_slot(rec);
}

/*
 * A probe and its hit lines, one object of probe_pool; records come from
 * rec_pool and are never freed (a detached record stays, orphaned, for the
 * next probe at its address). Pools, not malloc: pool.h says why.
 */
#define PROBE_HEAD (((sizeof(struct uprobe) + 63) & ~(size_t)63))
static struct pool probe_pool = POOL_INIT(PROBE_HEAD + CORE_FAST_IDS * sizeof(struct hit_line));
static struct pool rec_pool = POOL_INIT(sizeof(struct probe_rec));

/* The record a new consumer of t with flags joins: existing, or new and published. */
static int rec_get(const struct probe_target *t, unsigned flags, struct probe_rec **out)
{
	struct probe_rec *old = registry_lookup(t->addr), *rec;
	struct arch_insn ai;
	int err;

	struct probe_rec *cover = jump_covering(t->addr);

	if (cover && cover->ret_exit)
		return log_error(EBUSY, "0x%lx is inside the patched return site at 0x%lx of a "
				 "return probe", t->addr, cover->addr);
	if (cover && cover->installed)
		return log_error(EBUSY, "0x%lx is inside the jump of the optimized probe at 0x%lx",
				 t->addr, cover->addr);
	if (old && old->ret_exit && (old->installed || old->pending))
		return log_error(EBUSY, "0x%lx is a patched return site of a return probe",
				 t->addr);
	if (cover) {
		err = rec_demote(cover, t->addr);
		if (err)
			return err;
	}
	err = analyze_at(t, &ai);
	if (err)
		return err;
	/* aarch64's literal loads: an unreadable literal must fault at the instruction */
	if (arch_insn_reads_safe(&ai) && (err = ubp_fault_install(arch_safe_read_fault)))
		return log_error(-err, "cannot install the SIGSEGV handler for the literal's "
				 "fault-safe read: %s", strerror(-err));
	bool count_want = flags & UPROBE_F_COUNT_STUB;

	flags &= EXEC_FLAGS;
	/*
	 * (one whose trampoline could not be written is replaced: batch_write_trampolines;
	 * so is one left by probes gone whose trampoline is not the count stub asked now,
	 * or the other way round. One with consumers, or taken by this batch (an entry
	 * and a return event of one function), is shared: the stub counts nothing then)
	 */
	if (old && !old->ret_exit && !old->tramp_lost && old->flags == flags &&
	    (old->consumers || old->pending || old->count_want == count_want) &&
	    old->insn.len == ai.len && !memcmp(old->insn.bytes, ai.bytes, ai.len)) {
		rec_set_pending(old);
		*out = old;
		return 0;
	}
	if (old && old->consumers)
		return log_error(EEXIST, "0x%lx is already probed with other execution flags (%s)",
				 t->addr, uprobe_mode_name(old->mode));
	/* on a line of its own: its hot head (core.h) is one line; zeroed */
	rec = pool_alloc(&rec_pool);
	if (!rec)
		return log_error(ENOMEM, "out of memory");
	rec->addr = t->addr;
	rec->insn = ai;
	rec->flags = flags;
	rec->count_want = count_want;
	memcpy(rec->orig, ai.bytes, ARCH_PATCH_HEAD_LEN);
	rec->orig_len = ARCH_PATCH_HEAD_LEN;
	if (jump_build(rec, t)) {
		err = 0;
	} else if (t->addr == t->func_start &&
		   !(flags & (UPROBE_F_NO_OPTIMIZE | UPROBE_F_NO_EMULATE | UPROBE_F_SINGLESTEP)) &&
		   jump_entry_path() == JUMP_ENTRY_STRICT) {
		/* UPROBE_ENTRY_PATH=lean-strict: no breakpoint fallback at an entry. */
		err = log_error(ENOTSUP, "0x%lx: function entry not jump-optimized (%s) and "
				"UPROBE_ENTRY_PATH=lean-strict", t->addr, rec->opt_reason);
	} else {
		rec->mode = choose_mode(&ai, flags, rec->reason, sizeof(rec->reason));
		err = rec->mode == UPROBE_MODE_EMULATE ? 0 : rec_build_slot(rec);
	}
	if (!err)
		err = registry_publish(rec);
	if (err) {
		pool_free(&rec_pool, rec);
		return err;
	}
	rec_set_pending(rec);
	*out = rec;
	return 0;
}

static void probe_set_target(struct uprobe *p, const struct probe_target *t)
{
	snprintf(p->path, sizeof(p->path), "%s", t->path);
	snprintf(p->symbol, sizeof(p->symbol), "%s", t->symbol);
	p->symbol_offset = t->symbol_offset;
	p->file_offset = t->file_offset;
}

static const char *spec_name(const struct uprobe_spec *s, char *buf, size_t len)
{
	if (s->path || s->location)
		snprintf(buf, len, "%s:%s", s->path ? s->path : "(self)",
			 s->location ? s->location : "");
	else
		snprintf(buf, len, "%p", s->addr);
	return buf;
}

static struct uprobe *probe_new(void)
{
	static uint64_t last_id;
	/* its head (next ... ctx), all a hit reads of it, on one line; zeroed */
	struct uprobe *p = pool_alloc(&probe_pool);

	if (p) {
		p->fast_hits = (struct hit_line *)((char *)p + PROBE_HEAD);
		p->id = ++last_id; /* registry_lock */
	}
	return p;
}

static void probe_delete(struct uprobe *p)
{
	pool_free(&probe_pool, p);
}

/*
 * A return probe swaps the return address found at rsp: only true at the
 * first instruction of a function.
 */
static int ret_check_entry(const struct probe_target *t, unsigned flags)
{
	int err;

	if (!t->func_start && !(flags & UPROBE_F_NO_BOUNDARY_CHECK))
		return log_error(EINVAL, "return probes need a function entry, and no symbol or "
				 ".eh_frame entry covers 0x%lx", t->addr);
	if (t->func_start && t->addr != t->func_start)
		return log_error(EINVAL, "return probes need a function entry: 0x%lx is %s+0x%lx",
				 t->addr, t->symbol[0] ? t->symbol : "its function",
				 t->addr - t->func_start);
	if (t->go)
		return log_error(ENOTSUP, "%s is a Go binary: its runtime copies goroutine stacks "
				 "and walks return addresses, which a return probe replaces",
				 t->path);
	if (t->ret_refusal && t->symbol[0] && !t->symbol_offset)
		return log_error(ENOTSUP, "no return probe on %s: %s", t->symbol, t->ret_why);
	if (t->ret_refusal)
		return log_error(ENOTSUP, "no return probe at 0x%lx: %s", t->addr, t->ret_why);
	err = ret_setup();
	return err ? log_error(-err, "cannot set up return probes: %s", strerror(-err)) : 0;
}

/* Resolve, analyse and find the record of one spec. Caller holds registry_lock. */
static int probe_prepare(const struct uprobe_spec *s, struct uprobe **out)
{
	unsigned flags = s->flags | (s->ret_handler ? RESOLVE_RETURN : 0);
	struct probe_target t;
	struct uprobe *p;
	char name[320];
	int err;

	if (s->path || s->location)
		err = resolve_location(s->path, s->location, flags, &t);
	else if (s->addr)
		err = resolve_address((uint64_t)s->addr, flags, &t) ?:
		      resolve_check_boundary(&t, flags);
	else
		err = log_error(EINVAL, "no location and no address");
	if (!err && s->ret_handler)
		err = ret_check_entry(&t, s->flags);
	p = err ? NULL : probe_new();
	if (!err && !p)
		err = log_error(ENOMEM, "out of memory");
	if (!err)
		err = rec_get(&t, s->ret_handler ? s->flags & ~UPROBE_F_COUNT_STUB : s->flags,
			      &p->rec);
	if (err) {
		probe_delete(p);
		log_error_prefix("%s", spec_name(s, name, sizeof(name)));
		return err;
	}
	p->ret_handler = s->ret_handler;
	p->flags = s->flags; /* retpatch_prepare() reads UPROBE_F_HANDLER_NO_FLAGS */
	if (s->ret_handler) {
		err = retpatch_prepare(p, &t);
		if (err) {
			probe_delete(p);
			log_error_prefix("%s", spec_name(s, name, sizeof(name)));
			return err;
		}
	}
	p->handler = s->handler;
	p->ctx = s->ctx;
	probe_set_target(p, &t);
	*out = p;
	return 0;
}

/*
 * The count stub's switch of rec (core.h): its only consumer's count offset,
 * else 0. registry_lock. True when it went from a slot to 0: a thread may
 * still hold the old slot (count_quiesce).
 */
static bool rec_count_update(struct probe_rec *rec)
{
	struct uprobe *c = rec->consumers;
	uint64_t was = rec->count_slot, slot = 0;

	if (rec->count_stub && c && !c->next && c->attached)
		slot = c->count_off;
	__atomic_store_n(&rec->count_slot, slot, __ATOMIC_RELEASE);
	return was && !slot;
}

struct count_set {
	struct probe_rec *const *recs;
	size_t n;
};

static void count_fixup(ucontext_t *uc, void *arg)
{
	const struct count_set *set = arg;

	for (size_t i = 0; i < set->n; i++)
		if (set->recs[i] && arch_count_fixup(uc, set->recs[i]->tramp)) {
			__atomic_fetch_add(&core_stats.threads_moved, 1, __ATOMIC_RELAXED);
			return;
		}
}

/*
 * The records' count slots were just taken away (rec_count_update): every
 * thread between its load of one and its add is moved to the stub's slow
 * path, so that when this returns no stub writes through an old slot. A
 * thread in a system call or asleep is never inside the stub (it makes no
 * call); a preempted one is signalled (ubp_quiesce).
 */
static void count_quiesce(struct probe_rec *const *recs, size_t n)
{
	struct count_set set = { recs, n };

	if (n)
		ubp_quiesce(count_fixup, &set);
}

static void probe_link(struct uprobe *p)
{
	struct probe_rec *rec = p->rec;

	p->next = rec->consumers;
	__atomic_store_n(&rec->consumers, p, __ATOMIC_RELEASE);
	p->attached = true;
	core_stats.probes_attached++;
	/* A second consumer: the stub stops counting (a hit in flight counts for the first). */
	rec_count_update(rec);
}

/* True when p's record stopped counting in its stub (count_quiesce it). */
static bool probe_unlink(struct uprobe *p)
{
	struct uprobe **pp = &p->rec->consumers;

	while (*pp != p)
		pp = &(*pp)->next;
	__atomic_store_n(pp, p->next, __ATOMIC_RELEASE);
	p->attached = false;
	core_stats.probes_attached--;
	return rec_count_update(p->rec);
}

#define COUNT_QUIESCE_BATCH 64

/*
 * uprobe_count_enable_many() (offs NULL: every offset 0), and
 * uprobe_count_off_nowait() when !wait. No allocation: a trace session
 * switches its stubs on after recording started, where a probe on malloc
 * would count the library's own calls (symbols/libc_probe).
 */
static int count_enable(struct uprobe *const *probes, const uint64_t *offs, size_t n, bool wait)
{
	struct probe_rec *taken[COUNT_QUIESCE_BATCH];
	size_t n_taken = 0;
	int err = 0;

	log_clear_error();
	if (n && !probes)
		return log_report(log_error(EINVAL, "no probes"));
	if (srcu_in_reader())
		return log_report(log_error(EDEADLK, "cannot change a count from inside a probe "
					    "handler"));
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < n; i++) {
		struct uprobe *p = probes[i];
		uint64_t off = offs ? offs[i] : 0;

		if (!p) {
			err = err ? err : log_error(EINVAL, "no probe");
			continue;
		}
		if (off && (!p->attached || !p->rec->count_stub || (off & 7))) {
			err = err ? err : log_error(ENOTSUP, "probe %s%s%s+0x%lx: %s", p->path,
						    p->path[0] ? ":" : "", p->symbol,
						    p->symbol_offset,
						    off & 7 ? "the count's offset is not a multiple of 8"
							    : "its trampoline is not the count stub");
			continue;
		}
		p->count_off = off;
		if (!rec_count_update(p->rec) || !wait)
			continue;
		taken[n_taken++] = p->rec;
		if (n_taken == COUNT_QUIESCE_BATCH) { /* one quiescence per batch */
			count_quiesce(taken, n_taken);
			n_taken = 0;
		}
	}
	count_quiesce(taken, n_taken);
	pthread_mutex_unlock(&registry_lock);
	return log_report(err);
}

int uprobe_count_enable_many(struct uprobe *const *probes, const uint64_t *offs, size_t n)
{
	if (n && !offs)
		return log_report(log_error(EINVAL, "no offsets"));
	return count_enable(probes, offs, n, true);
}

int uprobe_count_enable(struct uprobe *p, uint64_t off)
{
	return count_enable(&p, &off, 1, true);
}

int uprobe_count_off_nowait(struct uprobe *const *probes, size_t n)
{
	return count_enable(probes, NULL, n, false);
}

int uprobe_count_stub(const struct uprobe *p)
{
	return p && p->rec && p->rec->count_stub;
}

/*
 * Take patches out, in reverse (see REC_* in core.h): head back to int3 (hits
 * keep being handled through the copy), tail restored, then the original head
 * byte. A record is marked inactive only once its original bytes are back: one
 * whose write failed stays in the text as it is, active, and its hits run the
 * original instruction. Returns 0 or the first error.
 */
static int recs_disarm(struct probe_rec **recs, size_t n)
{
	int err = 0;

	if (recs_patch(recs, n, REC_JMP, REC_JMP_TAIL, &err))
		ubp_sync_cores();
	if (recs_patch(recs, n, REC_JMP_TAIL, REC_INT3, &err))
		ubp_sync_cores();
	if (recs_patch(recs, n, REC_INT3, REC_CLEAN, &err))
		ubp_sync_cores();
	/* Only now can no thread trap on these: replay any late trap as the original. */
	for (size_t i = 0; i < n; i++)
		if (recs[i]->installed == REC_CLEAN)
			__atomic_store_n(&recs[i]->active, 0, __ATOMIC_RELEASE);
	return err;
}

/*
 * Has r been seen? seen is an open-addressing set of cap slots (a power of
 * two, more than the records put in); r goes in if not.
 */
static bool rec_seen(struct probe_rec **seen, size_t cap, struct probe_rec *r)
{
	size_t i = ((uintptr_t)r >> 4) * 0x9e3779b97f4a7c15ull >> 20;

	for (i &= cap - 1; seen[i]; i = (i + 1) & (cap - 1))
		if (seen[i] == r)
			return true;
	seen[i] = r;
	return false;
}

/*
 * The distinct records of probes that are installed and have no consumer
 * left. Duplicates are found with a set (thousands of probes detach at once);
 * without memory for it, by a pass over those found so far.
 */
static size_t recs_orphaned(struct uprobe **probes, size_t n, struct probe_rec **out)
{
	size_t m = 0, cap = 16;
	struct probe_rec **seen;

	while (cap < 2 * n)
		cap *= 2;
	seen = calloc(cap, sizeof(*seen));
	for (size_t i = 0; i < n; i++) {
		struct probe_rec *r = probes[i] ? probes[i]->rec : NULL;
		bool dup = false;

		if (!r || !r->installed || r->consumers)
			continue;
		if (seen)
			dup = rec_seen(seen, cap, r);
		for (size_t j = 0; !seen && j < m && !dup; j++)
			dup = out[j] == r;
		if (!dup)
			out[m++] = r;
	}
	free(seen);
	return m;
}

/* Unlink and disarm a prepared, linked set (failure of an all-or-nothing batch). */
static void batch_rollback(struct uprobe **probes, size_t n, struct probe_rec **recs)
{
	for (size_t i = 0; i < n; i++)
		if (probes[i] && probes[i]->attached)
			probe_unlink(probes[i]);
	recs_disarm(recs, recs_orphaned(probes, n, recs));
	retpatch_release(probes, n);
	srcu_synchronize();
	for (size_t i = 0; i < n; i++) {
		probe_delete(probes[i]);
		probes[i] = NULL;
	}
}

/* Spec i failed with err (its message is uprobe_last_error()): tell each's caller. */
static void batch_failed(const struct core_batch_each *each, size_t i, int err)
{
	if (each && each->on_error)
		each->on_error(i, err, each->ctx);
}

static int batch_prepare(const struct uprobe_spec *specs, size_t n, struct uprobe **probes,
			 bool partial, int *errs, const struct core_batch_each *each)
{
	int first = 0;

	for (size_t i = 0; i < n; i++) {
		int err = probe_prepare(&specs[i], &probes[i]);

		if (errs)
			errs[i] = err;
		if (!err)
			continue;
		if (!first)
			first = err;
		if (partial)
			batch_failed(each, i, err);
		if (!partial) {
			if (n > 1)
				log_error_prefix("spec %zu", i);
			return first;
		}
	}
	return first;
}

/*
 * The batch's trampolines, held by xol_write_deferred(), written a run of
 * neighbours at a time. Where a run could not be written, each probe whose
 * record's trampoline was held fails (its record is marked tramp_lost: never
 * armed, and the next probe there builds a new one). Until then a record is
 * shared as usual: an entry and a return probe of one function share one.
 * first: batch_prepare's result; returns it, or the write's error where the
 * batch is all or nothing.
 */
static int batch_write_trampolines(struct uprobe **probes, size_t n, bool partial, int *errs,
				   const struct core_batch_each *each, int first)
{
	int err = xol_defer_end();

	recs_pending_settle(err != 0);
	for (size_t i = 0; i < n; i++) {
		struct probe_rec *rec = probes[i] ? probes[i]->rec : NULL;

		/*
		 * Several probes of the batch may share the record: each fails. (One
		 * rec_set_pending could not list is settled here.)
		 */
		if (!rec || !(rec->tramp_deferred || rec->tramp_lost))
			continue;
		rec->tramp_deferred = false;
		if (!err)
			continue;
		rec->tramp_lost = true;
		log_error(-err, "cannot write the trampoline at 0x%lx: %s", rec->tramp,
			  ubp_text_error());
		if (!partial)
			return first ? first : err;
		if (errs)
			errs[i] = err;
		batch_failed(each, i, err);
		probe_delete(probes[i]);
		probes[i] = NULL;
		first = first ? first : err;
	}
	return first;
}

/*
 * Link every prepared probe, then write int3 into each record not in the
 * text yet (int3: every mode starts there), those on one page in one write.
 * A record is fresh while neither installed nor active; marking it active
 * before its int3 goes in takes it once, however many probes of the batch
 * share it. Probes whose record could not be armed come out again. fresh and
 * opt have room for n records each.
 */
static int batch_arm(struct uprobe **probes, size_t n, bool partial, int *errs,
		     struct probe_rec **fresh, struct probe_rec **opt,
		     const struct core_batch_each *each)
{
	size_t nfresh = 0, nopt = 0;
	int attached = 0, err = 0;

	for (size_t i = 0; i < n; i++) {
		struct probe_rec *rec = probes[i] ? probes[i]->rec : NULL;

		if (!rec)
			continue;
		probe_link(probes[i]);
		if (rec->installed || rec->active)
			continue;
		__atomic_store_n(&rec->active, 1, __ATOMIC_RELEASE);
		fresh[nfresh++] = rec;
	}
	recs_patch(fresh, nfresh, REC_CLEAN, REC_INT3, &err);
	for (size_t k = 0; k < nfresh; k++) {
		if (!fresh[k]->installed)
			__atomic_store_n(&fresh[k]->active, 0, __ATOMIC_RELEASE);
		else if (fresh[k]->mode == UPROBE_MODE_OPTIMIZED)
			opt[nopt++] = fresh[k];
	}
	for (size_t i = 0; i < n; i++) {
		if (!probes[i] || probes[i]->rec->installed) {
			attached += probes[i] != NULL;
			continue;
		}
		err = err ? err : -EIO;
		if (errs)
			errs[i] = err;
		if (!partial)
			return err;
		batch_failed(each, i, err);
		probe_unlink(probes[i]);
		probe_delete(probes[i]);
		probes[i] = NULL;
	}
	ubp_sync_cores();
	if (nopt)
		jump_install(opt, nopt);
	return attached;
}

int core_attach_many(const struct uprobe_spec *specs, size_t n, struct uprobe **probes,
		     const struct uprobe_batch_opts *opts, const struct core_batch_each *each)
{
	bool partial = opts && (opts->flags & UPROBE_BATCH_PARTIAL);
	struct probe_rec **recs;
	int *errs = opts && opts->sz >= offsetof(struct uprobe_batch_opts, errs) + sizeof(int *)
			    ? opts->errs
			    : NULL;
	int err, ret;

	log_clear_error();
	if ((!specs || !probes) && n)
		return log_report(log_error(EINVAL, "specs and probes must not be NULL"));
	err = core_ready();
	if (err)
		return log_report(err);
	memset(probes, 0, n * sizeof(*probes));
	pthread_mutex_lock(&registry_lock);
	sym_batch_begin();
	xol_defer_begin();
	err = batch_prepare(specs, n, probes, partial, errs, each);
	err = batch_write_trampolines(probes, n, partial, errs, each, err);
	sym_batch_end();
	if (err && !partial) {
		for (size_t i = 0; i < n; i++)
			probe_delete(probes[i]), probes[i] = NULL;
		recs_clear_pending();
		pthread_mutex_unlock(&registry_lock);
		return log_report(err);
	}
	for (size_t i = 0; each && i < n; i++) /* before any hit can count */
		if (probes[i]) {
			probes[i]->skipped_also = each->skipped ? each->skipped[i] : NULL;
			probes[i]->skipped_too = each->skipped_too ? each->skipped_too[i] : NULL;
		}
	recs = calloc(n ? 2 * n : 1, sizeof(*recs)); /* fresh records, optimized ones */
	if (recs)
		retpatch_arm(probes, n); /* return sites before the entries that push */
	ret = recs ? batch_arm(probes, n, partial, errs, recs, recs + n, each)
		   : log_error(ENOMEM, "out of memory");
	if (ret < 0 && recs)
		batch_rollback(probes, n, recs);
	for (size_t i = 0; ret >= 0 && i < n; i++)
		retpatch_count(probes[i], 1);
	recs_clear_pending();
	pthread_mutex_unlock(&registry_lock);
	free(recs);
	return log_report(ret);
}

int uprobe_attach_many(const struct uprobe_spec *specs, size_t n, struct uprobe **probes,
		       const struct uprobe_batch_opts *opts)
{
	return core_attach_many(specs, n, probes, opts, NULL);
}

void uprobe_batch_begin(void)
{
	sym_batch_begin();
}

void uprobe_batch_end(void)
{
	sym_batch_end();
}

static struct uprobe *attach_one(const struct uprobe_spec *s, const struct uprobe_opts *opts)
{
	struct uprobe *p = NULL;
	uint64_t *skipped_at = opts && opts->sz >= offsetof(struct uprobe_opts, skipped_counter) +
							 sizeof(opts->skipped_counter)
				       ? opts->skipped_counter
				       : NULL;
	struct core_batch_each each = { .skipped = &skipped_at };
	int ret = core_attach_many(s, 1, &p, NULL, &each);

	if (ret < 0) {
		errno = -ret;
		return NULL;
	}
	return p;
}

/* Fields of opts the caller's sz covers (opts may predate return probes). */
static void opts_to_spec(const struct uprobe_opts *opts, struct uprobe_spec *s)
{
	if (!opts)
		return;
	s->handler = opts->handler;
	s->ctx = opts->ctx;
	s->flags = opts->flags;
	if (opts->sz >= offsetof(struct uprobe_opts, ret_handler) + sizeof(opts->ret_handler))
		s->ret_handler = opts->ret_handler;
}

struct uprobe *uprobe_attach(const char *path, const char *location, const struct uprobe_opts *opts)
{
	struct uprobe_spec s = { .path = path, .location = location ? location : "" };

	opts_to_spec(opts, &s);
	return attach_one(&s, opts);
}

struct uprobe *uprobe_attach_addr(const void *addr, const struct uprobe_opts *opts)
{
	struct uprobe_spec s = { .addr = addr };

	if (!addr) {
		errno = -log_report(log_error(EINVAL, "NULL address"));
		return NULL;
	}
	opts_to_spec(opts, &s);
	return attach_one(&s, opts);
}

int uprobe_detach_many(struct uprobe **probes, size_t n)
{
	struct probe_rec **recs;
	int err = 0, disarm_err;
	size_t n_counting = 0;

	log_clear_error();
	if (srcu_in_reader())
		return log_report(log_error(EDEADLK, "cannot detach from inside a probe handler"));
	recs = calloc(n ? n : 1, sizeof(*recs));
	if (!recs)
		return log_report(log_error(ENOMEM, "out of memory"));
	signals_reclaim();
	pthread_mutex_lock(&registry_lock);
	for (size_t i = 0; i < n; i++) {
		struct uprobe *p = probes[i];

		if (!p || !p->attached) {
			if (!err)
				err = log_error(ENOENT, "probe %s%s%s+0x%lx is not attached",
						p ? p->path : "(null)", p ? ":" : "",
						p ? p->symbol : "", p ? p->symbol_offset : 0);
			continue;
		}
		if (probe_unlink(p))
			recs[n_counting++] = p->rec;
		retpatch_count(p, -1);
	}
	count_quiesce(recs, n_counting); /* before recs holds the orphaned records */
	disarm_err = recs_disarm(recs, recs_orphaned(probes, n, recs));
	retpatch_release(probes, n); /* the exits after the entries: no push without its pop */
	if (disarm_err && !err) {
		log_error_prefix("detached, but its patch stays in the text (hits run the "
				 "original instructions)");
		err = disarm_err;
	}
	srcu_synchronize();
	/* No handler runs for them any more: their counts are final. */
	for (size_t i = 0; i < n; i++) {
		if (!probes[i] || probes[i]->attached || probes[i]->retired)
			continue;
		probe_sum(probes[i], &core_stats.retired);
		probes[i]->retired = true;
	}
	pthread_mutex_unlock(&registry_lock);
	free(recs);
	return log_report(err);
}

int uprobe_detach(struct uprobe *probe)
{
	return uprobe_detach_many(&probe, 1);
}

void uprobe_free(struct uprobe *probe)
{
	if (!probe)
		return;
	if (probe->attached)
		uprobe_detach(probe);
	probe_delete(probe);
}

/* UPROBE_F_ANALYZE_RET: the path a return probe at t would use. */
static void analyze_ret_path(const struct probe_target *t, struct uprobe_info *info)
{
	struct retsite_verdict v;

	retsite_decide(t, info->mode == UPROBE_MODE_OPTIMIZED ? NULL
			  : info->opt_reason[0] ? info->opt_reason : info->reason, &v);
	info->ret_path = v.path;
	info->ret_site_ok = v.ok;
	info->ret_sites = v.sites;
	snprintf(info->ret_reason, sizeof(info->ret_reason), "%s", v.why);
}

int uprobe_analyze(const char *path, const char *location, unsigned int flags,
		   struct uprobe_info *info)
{
	struct probe_target t;
	struct arch_insn ai;
	int err;

	log_clear_error();
	if (!info || info->sz < sizeof(*info))
		return log_report(log_error(EINVAL, "info is NULL or info->sz is too small"));
	memset((char *)info + sizeof(info->sz), 0, sizeof(*info) - sizeof(info->sz));
	pthread_mutex_lock(&registry_lock);
	err = resolve_location(path, location, flags | RESOLVE_FILE_IMAGE, &t);
	if (!err) {
		info->addr = t.addr;
		info->file_offset = t.file_offset;
		snprintf(info->path, sizeof(info->path), "%s", t.path);
		snprintf(info->symbol, sizeof(info->symbol), "%s", t.symbol);
		info->symbol_offset = t.symbol_offset;
		err = analyze_at(&t, &ai);
		if (err)
			snprintf(info->reason, sizeof(info->reason), "%s", uprobe_last_error());
	}
	if (!err) {
		memcpy(info->insn, ai.bytes, ai.len);
		info->insn_len = ai.len;
		arch_insn_format(ai.bytes, ai.len, ai.addr, info->insn_text,
				 sizeof(info->insn_text));
		struct probe_rec *rec = calloc(1, sizeof(*rec));

		if (rec) {
			rec->addr = t.addr;
			rec->flags = flags & EXEC_FLAGS;
			if (jump_plan(rec, &t)) {
				info->mode = UPROBE_MODE_OPTIMIZED;
				info->window_len = rec->win.len;
				snprintf(info->reason, sizeof(info->reason),
					 "jump-optimized: %u-byte window of %u instruction%s%s",
					 rec->win.len, rec->win.n, rec->win.n > 1 ? "s" : "",
					 rec->at_entry ? " (function entry)" : "");
			} else {
				snprintf(info->opt_reason, sizeof(info->opt_reason), "%s",
					 rec->opt_reason);
			}
			free(rec);
		}
		if (info->mode != UPROBE_MODE_OPTIMIZED)
			info->mode = choose_mode(&ai, flags, info->reason, sizeof(info->reason));
	}
	if (!err && (flags & UPROBE_F_ANALYZE_RET) && t.addr == t.func_start)
		analyze_ret_path(&t, info);
	resolve_release(&t);
	pthread_mutex_unlock(&registry_lock);
	if (err)
		log_error_prefix("%s:%s", path ? path : "(self)", location ? location : "");
	return log_report(err);
}

int core_locate(const char *path, const char *location, unsigned int flags, uint64_t *addr,
		uint64_t *file_offset)
{
	struct probe_target t;
	int err;

	log_clear_error();
	pthread_mutex_lock(&registry_lock);
	err = resolve_location(path, location, flags | RESOLVE_FILE_IMAGE, &t);
	if (!err) {
		*addr = t.addr;
		*file_offset = t.file_offset;
	}
	resolve_release(&t);
	pthread_mutex_unlock(&registry_lock);
	if (err)
		log_error_prefix("%s:%s", path ? path : "(self)", location ? location : "");
	return err;
}

enum uprobe_mode core_probe_mode(const struct uprobe *p)
{
	return p ? p->rec->mode : UPROBE_MODE_NONE;
}

enum uprobe_ret_path core_probe_ret_path(const struct uprobe *p, bool *site_ok, const char **why)
{
	if (!p || !p->ret_handler)
		return UPROBE_RET_NONE;
	*site_ok = p->ret_site.ok;
	*why = p->ret_site.why;
	return (enum uprobe_ret_path)p->ret_site.path;
}
