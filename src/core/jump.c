/* SPDX-License-Identifier: MIT */
/*
 * Jump optimization decisions and the patch protocol (see optimize.h for the
 * window rules and docs/architecture.md for the whole picture).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "core/core.h"
#include "core/jump.h"
#include "core/jump_memo.h"
#include "core/resolve.h"
#include "core/retprobe.h"
#include "core/srcu.h"
#include "ubp/ubp.h"
#include "util/log.h"
#include "xol/xol.h"

/*
 * The optimized record (installed, or pending in the batch being attached)
 * whose jump would cover addr, other than one at addr itself.
 */
struct probe_rec *jump_covering(uint64_t addr)
{
	for (unsigned back = 1; back < REC_ORIG_MAX; back++) {
		struct probe_rec *r = registry_lookup(addr - back);

		if (r && (r->installed || r->pending) && r->orig_len > back)
			return r;
	}
	return NULL;
}

/* Another probe (installed, or pending in this batch) inside bytes 1.. of a would-be window? */
static bool window_holds_probe(uint64_t addr, unsigned len, unsigned *at)
{
	for (unsigned k = 1; k < len; k++) {
		const struct probe_rec *r = registry_lookup(addr + k);

		if (r && (r->installed || r->pending)) {
			*at = k;
			return true;
		}
	}
	return false;
}

static bool opt_refuse(struct probe_rec *rec, const char *why)
{
	snprintf(rec->opt_reason, sizeof(rec->opt_reason), "%s", why);
	return false;
}

/*
 * The original bytes of the function around t, at most max of them (NULL if
 * unknown, larger, or not in its mapping); *len is how many.
 */
uint8_t *jump_read_function(const struct probe_target *t, size_t max, size_t *len)
{
	uint8_t *buf;

	if (!t->func_start || !t->func_size || t->func_size > max || t->func_start >= t->map_end)
		return NULL;
	*len = t->func_size;
	if (t->func_start + *len > t->map_end)
		*len = t->map_end - t->func_start;
	buf = malloc(*len);
	if (buf)
		target_read(t, t->func_start, buf, *len);
	return buf;
}

enum jump_entry_path jump_entry_path(void)
{
	const char *v = getenv("UPROBE_ENTRY_PATH");

	if (v && !strcmp(v, "full"))
		return JUMP_ENTRY_FULL;
	if (v && !strcmp(v, "lean-strict"))
		return JUMP_ENTRY_STRICT;
	return JUMP_ENTRY_LEAN;
}

bool jump_inline_off(void)
{
	const char *v = getenv("UPROBE_INLINE");

	return v && !strcmp(v, "off");
}

int32_t jump_tls_off(const void *p)
{
	return (int32_t)((uintptr_t)p - (uintptr_t)__builtin_thread_pointer());
}

/* Write the trampoline (arch_tramp_begin/_finish): its code, the window's copy. */
static bool rec_build_trampoline(struct probe_rec *rec)
{
	uint8_t code[ARCH_TRAMP_BUF];
	struct arch_tramp_req req = {
		.win = &rec->win,
		.addr = rec->addr,
		.rec = rec,
		.simd = !(rec->flags & UPROBE_F_HANDLER_NO_SIMD),
		.at_entry = rec->at_entry,
		.entry_full = rec->at_entry && jump_entry_path() == JUMP_ENTRY_FULL,
		.no_flags = rec->flags & UPROBE_F_HANDLER_NO_FLAGS,
		.count = rec->count_want,
		.fence = srcu_use_fence,
		.no_inline = jump_inline_off(),
		.self_tls = jump_tls_off(&srcu_tls.self),
		.cookie_tls = jump_tls_off(&ret_cur_cookie),
	};
	const char *why = "";
	uint64_t lo, hi;
	int size, len, ret;

	size = arch_tramp_begin(&req, code, &lo, &hi, &why);
	if (size < 0)
		return opt_refuse(rec, why);
	rec->lean = req.lean;
	rec->lean_inline = req.inline_body;
	rec->count_stub = req.count_stub;
	rec->tramp = xol_alloc(size, lo, hi, rec->addr);
	rec->tramp_size = size;
	if (!rec->tramp)
		return opt_refuse(rec, "no memory for a trampoline within " ARCH_XOL_REACH);
	len = arch_tramp_finish(&req, code, rec->tramp, &rec->copy, &why);
	if (req.entry_off)
		rec->jmp_to = rec->tramp + req.entry_off;
	/* in a batch, written with its neighbours by core_attach_many (xol_defer_end) */
	if (len >= 0 && (ret = xol_write_deferred(rec->tramp, code, len, size)) >= 0) {
		rec->tramp_deferred = ret > 0;
		return true;
	}
	xol_free(rec->tramp, size);
	if (len < 0)
		return opt_refuse(rec, why);
	snprintf(rec->opt_reason, sizeof(rec->opt_reason), "cannot write the trampoline: %s",
		 ubp_text_error());
	return false;
}

/* Does the jump table at table (relative or absolute entries) reach into the window? */
static bool table_hits_window(const struct probe_target *t, uint64_t table, uint64_t lo,
			      uint64_t hi, uint64_t *hit)
{
	uint64_t fend = t->func_start + t->func_size;

	for (unsigned i = 0; i < 4096; i++) {
		int32_t rel;

		if (target_read_data(t, table + 4 * i, &rel, 4))
			break;
		*hit = table + rel;
		if (*hit < t->func_start || *hit >= fend)
			break;
		if (*hit > lo && *hit < hi)
			return true;
	}
	for (unsigned i = 0; !t->image && i < 4096; i++) {
		if (target_read_data(t, table + 8 * i, hit, 8) || *hit < t->func_start ||
		    *hit >= fend)
			break;
		if (*hit > lo && *hit < hi)
			return true;
	}
	return false;
}

/*
 * A function with indirect jumps: kprobes refuses them all. At a function
 * entry we read the jump tables the function addresses (lea x(%rip)) and
 * accept when no case lands in the window: compilers never make a switch
 * case of the prologue's second instruction. Elsewhere, refuse.
 */
static bool jump_tables_clear(const struct probe_target *t, const struct arch_window *w,
			      char *why, size_t len)
{
	uint64_t hit;

	if (t->addr != t->func_start) {
		snprintf(why, len, "%s (jump table?)", w->indirect_why);
		return false;
	}
	for (unsigned i = 0; i < w->ntables; i++) {
		if (table_hits_window(t, w->tables[i], t->addr, t->addr + w->len, &hit)) {
			snprintf(why, len, "a jump table at 0x%lx has a case at byte %lu of the window",
				 w->tables[i] - t->bias, hit - t->addr);
			return false;
		}
	}
	return true;
}

/*
 * The function of t ends fewer than ARCH_JMP_LEN bytes after the probe, its
 * first len bytes read: the window planned again with the padding after it
 * (nops where no function starts; lea 1(%rdi),%eax; ret; nopw ...), which
 * only a branch could reach (the branch checks cover the whole window). 0
 * (rec->win filled), or -1 with why set (the first plan's stands when there
 * is no padding).
 */
static int plan_in_padding(struct probe_rec *rec, const struct probe_target *t, size_t len,
			   char *why, size_t whylen)
{
	struct sym_file *f = sym_file_open(t->path);
	size_t pad = f ? resolve_padding_after(t, f, t->func_start + len) : 0;
	uint8_t *func = pad ? malloc(len + pad) : NULL;
	int err = -1;

	if (!f)
		log_clear_error(); /* no symbols: no padding known, the refusal stands */
	if (func) {
		target_read(t, t->func_start, func, len + pad);
		err = jump_memo_plan(t, func, len, pad, &rec->win, why, whylen) ? -1 : 0;
	}
	/* No function, even one without alignment, starts in the padding the window takes. */
	for (uint64_t a = t->func_start + len; !err && a < t->addr + rec->win.len; a++) {
		struct sym_func fn;

		if (!sym_func_at(f, a - t->bias, &fn)) {
			snprintf(why, whylen, "the window would take the padding after the function "
				 "up to 0x%lx, where %s starts", a - t->bias,
				 fn.name[0] ? fn.name : "a function");
			err = -1;
		}
	}
	free(func);
	sym_file_close(f);
	return err;
}

/*
 * Can rec (flags set) be jump-optimized? Fills rec->win, or rec->opt_reason.
 * Addresses in a reason are the file's (as objdump and `uprobe list` show
 * them): the same in every process, whatever its load address.
 */
bool jump_plan(struct probe_rec *rec, const struct probe_target *t)
{
	uint64_t src, dst;
	char why[192];
	uint8_t *func;
	size_t len;
	unsigned at;
	int err;

	if (rec->flags & (UPROBE_F_NO_OPTIMIZE | UPROBE_F_NO_EMULATE | UPROBE_F_SINGLESTEP))
		return opt_refuse(rec, "disabled by the probe's flags");
	func = jump_read_function(t, 1u << 20, &len);
	if (!func)
		return opt_refuse(rec, "the function's bounds are unknown");
	err = jump_memo_plan(t, func, len, 0, &rec->win, why, sizeof(why));
	free(func);
	if (err && t->addr + ARCH_JMP_LEN > t->func_start + len)
		err = plan_in_padding(rec, t, len, why, sizeof(why));
	if (err)
		return opt_refuse(rec, why);
	/* REC_ORIG_MAX bounds every arch's window: a longer one would overrun rec->orig */
	if (rec->win.len > sizeof(rec->orig))
		return opt_refuse(rec, "the window is longer than a record keeps");
	err = jump_memo_branches(t, t->addr, t->addr + rec->win.len, &src, &dst);
	if (err) {
		if (err > 0 && src)
			snprintf(why, sizeof(why), "the jump at 0x%lx targets byte %lu of the window",
				 src - t->bias, dst - t->addr);
		else if (err > 0)
			snprintf(why, sizeof(why), "a landing pad at 0x%lx is inside the window",
				 dst - t->bias);
		return opt_refuse(rec, err > 0 ? why : "out of memory");
	}
	if (rec->win.indirect_jmps && !jump_tables_clear(t, &rec->win, why, sizeof(why)))
		return opt_refuse(rec, why);
	if (window_holds_probe(t->addr, rec->win.len, &at)) {
		snprintf(why, sizeof(why), "another probe sits at +%u inside the window", at);
		return opt_refuse(rec, why);
	}
	rec->at_entry = t->addr == t->func_start;
	return true;
}

/*
 * Jump optimization where it is safe (see optimize.h). On refusal the record
 * keeps the reason and takes the breakpoint path.
 */
bool jump_build(struct probe_rec *rec, const struct probe_target *t)
{
	if (!jump_plan(rec, t))
		return false;
	if (rec->win.len > sizeof(rec->orig))
		return opt_refuse(rec, "the window is longer than a record holds");
	if (!rec_build_trampoline(rec))
		return false;
	rec->mode = UPROBE_MODE_OPTIMIZED;
	for (unsigned k = 0; k < rec->win.n; k++)
		memcpy(rec->orig + rec->win.orig_off[k], rec->win.insn[k].bytes, rec->win.insn[k].len);
	rec->orig_len = rec->win.len;
	snprintf(rec->reason, sizeof(rec->reason),
		 "jump-optimized: %u-byte window of %u instruction%s, trampoline at 0x%lx%s",
		 rec->win.len, rec->win.n, rec->win.n > 1 ? "s" : "", rec->tramp,
		 rec->count_stub ? " (function entry, lean, count stub)" :
		 rec->lean_inline ? " (function entry, lean, flags not read, inline)" :
		 rec->lean ? (rec->flags & UPROBE_F_HANDLER_NO_FLAGS ?
				      " (function entry, lean, flags not read)" :
				      " (function entry, lean)") :
		 rec->at_entry ? " (function entry)" : "");
	return true;
}

struct window_set {
	struct probe_rec **recs;
	size_t n;
};

/*
 * Signal context, in every other running thread: a thread stopped inside
 * bytes 1.. of a window about to be overwritten continues in the relocated
 * copy at the same instruction instead.
 */
static void window_fixup(ucontext_t *uc, void *arg)
{
	const struct window_set *set = arg;
	uint64_t rip = arch_uc_pc(uc);

	for (size_t i = 0; i < set->n; i++) {
		const struct probe_rec *r = set->recs[i];

		if (rip <= r->addr || rip >= r->addr + r->win.len)
			continue;
		for (unsigned k = 1; k < r->win.n && k < ARCH_WINDOW_MAX; k++) {
			if (rip != r->addr + r->win.orig_off[k])
				continue;
			arch_uc_set_pc(uc, r->copy + r->win.copy_off[k]);
			__atomic_fetch_add(&core_stats.threads_moved, 1, __ATOMIC_RELAXED);
		}
	}
}

/* The jump's bytes behind the breakpoint (none on aarch64: the b is one word). */
#define PATCH_TAIL_LEN (ARCH_JMP_LEN - ARCH_PATCH_HEAD_LEN)

/*
 * The bytes of rec in patch state `state`: the head (ARCH_PATCH_HEAD_LEN), then
 * the tail (the rest of the jump's ARCH_JMP_LEN bytes).
 */
static void patch_bytes(const struct probe_rec *rec, int state, uint8_t out[ARCH_JMP_LEN])
{
	uint64_t to = rec->jmp_to ? rec->jmp_to : arch_tramp_entry(rec->tramp);
	uint8_t jmp[ARCH_JMP_LEN] = { 0 };

	if (state >= REC_JMP_TAIL)
		arch_jump_bytes(rec->addr, to, jmp);
	if (state == REC_CLEAN)
		memcpy(out, rec->orig, ARCH_PATCH_HEAD_LEN);
	else if (state == REC_JMP)
		memcpy(out, jmp, ARCH_PATCH_HEAD_LEN);
	else
		arch_breakpoint_bytes(out);
	if (state >= REC_JMP_TAIL)
		memcpy(out + ARCH_PATCH_HEAD_LEN, jmp + ARCH_PATCH_HEAD_LEN, PATCH_TAIL_LEN);
	else
		memcpy(out + ARCH_PATCH_HEAD_LEN, rec->orig + ARCH_PATCH_HEAD_LEN, PATCH_TAIL_LEN);
}

/* What a step to `to` writes: the head, or the tail, of that state. */
static const char *patch_what(int to, bool tail)
{
	if (tail)
		return to == REC_INT3 ? "the original bytes" : "the jump's offset";
	return to == REC_CLEAN ? "the original byte" : to == REC_JMP ? "the jump" : "the breakpoint";
}

int rec_patch(struct probe_rec *rec, int to)
{
	uint8_t bytes[ARCH_JMP_LEN];
	int from = rec->installed, err;
	/* One step: between REC_INT3 and REC_JMP_TAIL the tail changes, elsewhere the head. */
	bool tail = from + to == REC_INT3 + REC_JMP_TAIL;

	if (to == from)
		return 0;
	if (to < REC_CLEAN || to > REC_JMP || (to != from + 1 && to != from - 1))
		return log_error(EINVAL, "0x%lx: no patch step from state %d to %d", rec->addr,
				 from, to);
	patch_bytes(rec, to, bytes);
	if (tail && !PATCH_TAIL_LEN)
		err = 0; /* nothing behind the breakpoint to write */
	else if (tail)
		err = ubp_text_write(rec->addr + ARCH_PATCH_HEAD_LEN, bytes + ARCH_PATCH_HEAD_LEN,
				     PATCH_TAIL_LEN);
	else
		err = ubp_text_write(rec->addr, bytes, ARCH_PATCH_HEAD_LEN);
	if (err)
		return log_error(-err, "cannot write %s at 0x%lx: %s", patch_what(to, tail),
				 rec->addr, ubp_text_error());
	rec->installed = to;
	return 0;
}

/*
 * recs_patch() with the writes of records that share a page in one write
 * (ubp_text_write_many). recs are distinct. Returns how many moved, or -1
 * without memory (nothing written).
 */
static ssize_t recs_patch_many(struct probe_rec **recs, size_t n, int from, int to, int *err)
{
	bool tail = from + to == REC_INT3 + REC_JMP_TAIL;
	struct ubp_patch *p = malloc((n ? n : 1) * sizeof(*p));
	uint8_t(*bytes)[ARCH_JMP_LEN] = malloc((n ? n : 1) * sizeof(*bytes));
	struct probe_rec **which = malloc((n ? n : 1) * sizeof(*which));
	ssize_t moved = 0;
	size_t m = 0;

	if (!p || !bytes || !which) {
		moved = -1;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		if (recs[i]->installed != from)
			continue;
		if (tail && !PATCH_TAIL_LEN) {
			recs[i]->installed = to; /* nothing behind the breakpoint to write */
			moved++;
			continue;
		}
		patch_bytes(recs[i], to, bytes[m]);
		p[m] = (struct ubp_patch){
			.addr = recs[i]->addr + (tail ? ARCH_PATCH_HEAD_LEN : 0),
			.bytes = bytes[m] + (tail ? ARCH_PATCH_HEAD_LEN : 0),
			.len = tail ? PATCH_TAIL_LEN : ARCH_PATCH_HEAD_LEN,
		};
		which[m++] = recs[i];
	}
	ubp_text_write_many(p, m);
	for (size_t k = 0; k < m; k++) {
		if (!p[k].err) {
			which[k]->installed = to;
			moved++;
		} else if (!*err) {
			*err = log_error(-p[k].err, "cannot write %s at 0x%lx: %s",
					 patch_what(to, tail), which[k]->addr, ubp_text_error());
		}
	}
out:
	free(which);
	free(bytes);
	free(p);
	return moved;
}

/* Move every record of recs in state `from` one step to `to`. Returns how many moved. */
size_t recs_patch(struct probe_rec **recs, size_t n, int from, int to, int *err)
{
	size_t moved = 0;
	ssize_t many;

	/* A step, one state either way (rec_patch says why not otherwise). */
	if (from >= REC_CLEAN && from <= REC_JMP && to >= REC_CLEAN && to <= REC_JMP &&
	    (to == from + 1 || to == from - 1) && (many = recs_patch_many(recs, n, from, to, err)) >= 0)
		return (size_t)many;
	for (size_t i = 0; i < n; i++) {
		int e;

		if (recs[i]->installed != from)
			continue;
		e = rec_patch(recs[i], to);
		if (!e)
			moved++;
		else if (!*err)
			*err = e;
	}
	return moved;
}

/*
 * int3 is already at the head of every window and the cores are synchronised:
 * no thread can newly enter a window. Move the threads already inside, then
 * write the jump's tail, synchronise, and its head. A record whose write
 * fails stays behind its int3, where hits run through the trap path.
 */
void jump_install(struct probe_rec **recs, size_t n)
{
	struct window_set set = { recs, n };
	bool multi = false;
	int err = 0;

	/* A thread is never inside a one-instruction window: skip the round trip. */
	for (size_t i = 0; i < n && !multi; i++)
		multi = recs[i]->win.n > 1;
	if (multi)
		ubp_quiesce(window_fixup, &set);
	if (recs_patch(recs, n, REC_INT3, REC_JMP_TAIL, &err))
		ubp_sync_cores();
	if (recs_patch(recs, n, REC_JMP_TAIL, REC_JMP, &err))
		ubp_sync_cores();
	if (err)
		log_msg(UPROBE_LOG_WARN, "%s; the probe takes the breakpoint path",
			uprobe_last_error());
}
