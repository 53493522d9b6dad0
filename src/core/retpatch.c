/* SPDX-License-Identifier: MIT */
/*
 * Return sites, the attach side (see retpatch.h): the path a return probe
 * takes, the exit records and their trampolines, putting them in and out.
 *
 * An exit's trampoline (one XOL allocation):
 *
 *   tramp+0     the EXIT template (tramp_templates.S): data words, save all,
 *               call retpatch_exit(exit, regs), restore all but rflags (dead
 *               at a return, see exit_tramp()); then falls into
 *   tramp+off   the exit itself: ret / ret imm16 as it was; jmp target (a tail
 *               jump, also the taken side of a conditional one); the GOT jump
 *               with its displacement re-targeted
 *   copy        (the patched jump lands here) the window's instructions
 *               before the exit, relocated (optimize.c), then a jmp to
 *               tramp+48; for a conditional tail jump: j<not cc> over it,
 *               then a jmp back after the jcc (not taken: no exit)
 *
 * Exit records are probe_recs (ret_exit set) in the registry, so that the
 * trap path runs their copy while a jump goes in or out, the patch protocol
 * and the quiescence (window_fixup: copy_off of the exit leads to the
 * report) are the entry probes', and other probes keep out of their windows.
 * Like every record they are never freed; a later attach reuses them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/x86_64/emit.h"
#include "arch/x86_64/optimize.h"
#include "core/jump.h"
#include "core/retpatch.h"
#include "core/retprobe.h"
#include "core/retsite.h"
#include "core/srcu.h"
#include "ubp/ubp.h"
#include "util/log.h"
#include "xol/xol.h"

#define EXIT_CODE_MAX (TRAMP_MAX + 256)

/* The exits of one function, as last prepared (registry_lock). */
struct rp_fn {
	struct rp_fn *next;
	uint64_t addr;
	unsigned n;
	struct retpatch_exit *x[ARCH_RETSITE_MAX];
};

static struct rp_fn *rp_fns;

static char forced_why[160]; /* set once site-only is forced (registry_lock or before) */

void retpatch_force_site_only(const char *why)
{
	snprintf(forced_why, sizeof(forced_why), "%s", why && *why ? why : "site-only");
}

enum retpatch_mode retpatch_mode(void)
{
	const char *v = getenv("UPROBE_RET_PATH");

	if (forced_why[0])
		return RETPATCH_ONLY;
	if (v && !strcmp(v, "hijack"))
		return RETPATCH_HIJACK;
	if (v && !strcmp(v, "site-strict"))
		return RETPATCH_STRICT;
	if (v && !strcmp(v, "site-only"))
		return RETPATCH_ONLY;
	return RETPATCH_SITE;
}

/* The refusal's parenthesis: what made the hijack unavailable. */
static const char *mode_why(enum retpatch_mode mode)
{
	if (mode == RETPATCH_STRICT)
		return "UPROBE_RET_PATH=site-strict";
	return forced_why[0] ? forced_why : "UPROBE_RET_PATH=site-only";
}

static struct rp_fn *fn_find(uint64_t addr)
{
	for (struct rp_fn *f = rp_fns; f; f = f->next)
		if (f->addr == addr)
			return f;
	return NULL;
}

static bool fn_in_use(uint64_t addr);

static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static int key_err;

static void key_init(void)
{
	key_err = pthread_key_create(&retpatch_key, retpatch_thread_end);
}

/* Another probe (installed or pending) whose bytes meet [lo, hi)? Its address in *at. */
static bool window_taken(uint64_t lo, uint64_t hi, const struct retpatch_exit *mine,
			 uint64_t *at)
{
	struct probe_rec *cover = jump_covering(lo);

	if (cover && cover != &mine->rec) {
		*at = cover->addr;
		return true;
	}
	for (uint64_t a = lo; a < hi; a++) {
		struct probe_rec *r = registry_lookup(a);

		if (r && r != &mine->rec && (r->installed || r->pending || r->consumers)) {
			*at = a;
			return true;
		}
	}
	return false;
}

/* Write x's trampoline for exit e whose window bytes are b. 0 or -errno, why set. */
static int exit_tramp(struct retpatch_exit *x, const struct arch_exit *e, const uint8_t *b,
		      char *why, size_t len)
{
	struct probe_rec *rec = &x->rec;
	struct arch_window w = { .len = e->win_len };
	uint8_t code[EXIT_CODE_MAX];
	unsigned npre = 0, pos = 0;
	const struct arch_insn *ex;
	uint64_t lo, hi, t;
	enum tramp_kind kind;
	int off, p, size;

	while (e->win + pos < e->addr) {
		if (npre + 1 >= ARCH_WINDOW_MAX ||
		    arch_insn_analyze(&w.insn[npre], b + pos, e->win_len - pos, e->win + pos, NULL,
				      0)) {
			snprintf(why, len, "the instruction at 0x%lx before the %s cannot be "
				 "relocated", e->win + pos, arch_exit_kind_name(e->kind));
			return -ENOTSUP;
		}
		w.orig_off[npre] = pos;
		pos += w.insn[npre++].len;
	}
	ex = &w.insn[npre];
	if (e->win + pos != e->addr ||
	    arch_insn_analyze(&w.insn[npre], b + pos, e->win_len - pos, e->addr, NULL, 0) ||
	    ex->len != e->len) {
		snprintf(why, len, "the %s at 0x%lx does not decode as analysed",
			 arch_exit_kind_name(e->kind), e->addr);
		return -ENOTSUP;
	}
	w.orig_off[npre] = pos;
	w.n = npre + 1;
	arch_window_range(&w, &lo, &hi);
	/*
	 * The EXIT template: rflags saved for the handler, not restored. At a
	 * ret and at a tail jump (the callee's entry) the status flags are dead
	 * and DF is clear by the ABI; a conditional tail jump's condition was
	 * tested before (the stub below). Spares popfq (~20 cycles); rip is
	 * retpatch_exit()'s to set, and it never asks for the redirect. A tail
	 * jump's exit has its own C side: the ret's need not test the kind.
	 * EXIT_NOFLAGS when the return handlers do not read rflags (x->nofl,
	 * exit_get()): not even pushfq.
	 */
	kind = x->nofl ? TRAMP_KIND_EXIT_NOFLAGS : TRAMP_KIND_EXIT;
	/* A ret's: retpatch_exit's common case in the trampoline, where readers need no fence. */
	if (e->kind == ARCH_EXIT_RET && !srcu_use_fence && !jump_inline_off())
		kind = x->nofl ? TRAMP_KIND_EXIT_INLINE_NOFLAGS : TRAMP_KIND_EXIT_INLINE;
	off = arch_tramp_template(code, kind, false,
				  e->kind == ARCH_EXIT_RET ? retpatch_exit : retpatch_exit_tail, x,
				  e->addr);
	if (off >= 0)
		arch_tramp_tls(code, kind, jump_tls_off(&srcu_tls.self), 0);
	size = off + 16 + ARCH_WINDOW_COPY_MAX + 16;
	t = xol_alloc(size, lo, hi, e->win);
	if (off < 0 || !t) {
		snprintf(why, len, "no memory for a trampoline within ±2 GiB of 0x%lx", e->addr);
		return -ERANGE;
	}
	p = off;
	switch (e->kind) {
	case ARCH_EXIT_RET:
		memcpy(code + p, ex->bytes, ex->len);
		p += ex->len;
		break;
	case ARCH_EXIT_TAIL:
	case ARCH_EXIT_TAIL_JCC:
		p = emit_jmp(code, p, t, e->target);
		break;
	default: /* ARCH_EXIT_TAIL_GOT */
		p = emit_insn(ex, code, p, t);
		break;
	}
	rec->tramp = t;
	rec->copy = t + (p < 0 ? 0 : p);
	if (p >= 0 && npre) {
		struct arch_window pre = w;
		int n;

		pre.n = npre;
		pre.len = e->addr - e->win;
		n = arch_window_copy(&pre, rec->copy, code + p);
		/* It ends with a jmp back to the exit (5 bytes): to the report instead. */
		for (unsigned k = 0; k < npre; k++)
			w.copy_off[k] = pre.copy_off[k];
		p = n < 0 ? n : p + n - ARCH_JMP_LEN;
	}
	if (p >= 0) {
		w.copy_off[npre] = t + p - rec->copy;
		if (e->kind == ARCH_EXIT_TAIL_JCC) {
			code[p++] = 0x70 | (ex->cond ^ 1); /* not taken: */
			code[p++] = ARCH_JMP_LEN;	   /* over the report, */
		}
		p = emit_jmp(code, p, t, t + arch_tramp_entry_off(kind));
		if (p >= 0 && e->kind == ARCH_EXIT_TAIL_JCC)
			p = emit_jmp(code, p, t, e->addr + e->len); /* on after the jcc */
	}
	if (p < 0 || xol_write(t, code, p)) {
		xol_free(t, size);
		snprintf(why, len, "cannot write the trampoline of the %s at 0x%lx: %s",
			 arch_exit_kind_name(e->kind), e->addr,
			 p < 0 ? "out of reach" : ubp_text_error());
		return p < 0 ? -ERANGE : -EIO;
	}
	w.copy_len = p - (rec->copy - t);
	rec->win = w;
	rec->insn = w.insn[0];
	return 0;
}

/* Build x's trampoline for exit e (bytes b) and point its jump there. 0, or -1 with why set. */
static int exit_build(struct retpatch_exit *x, const struct arch_exit *e, const uint8_t *b,
		      char *why, size_t len)
{
	if (exit_tramp(x, e, b, why, len))
		return -1;
	x->rec.jmp_to = x->rec.copy;
	if (e->in_entry)
		snprintf(x->rec.reason, sizeof(x->rec.reason), "return site: the ret at 0x%lx, "
			 "under the entry's jump: patched at 0x%lx in its trampoline, trampoline "
			 "at 0x%lx%s", e->target, e->addr, x->rec.tramp,
			 x->nofl ? ", rflags not read" : "");
	else
		snprintf(x->rec.reason, sizeof(x->rec.reason), "return site: the %s at 0x%lx, "
			 "%u-byte window, trampoline at 0x%lx%s", arch_exit_kind_name(e->kind),
			 e->addr, e->win_len, x->rec.tramp, x->nofl ? ", rflags not read" : "");
	return 0;
}

/*
 * A reused exit whose trampoline does not read rflags, for a return handler
 * that reads them: rebuilt reading them while it is out of the text (its old
 * trampoline is left as it is: a thread may still be in a handler called
 * from it); in the text, under return handlers that do not read them, the
 * new one cannot take this exit. 0, or -1 with why set.
 */
static int exit_want_flags(struct retpatch_exit *x, const struct arch_exit *e, const uint8_t *b,
			   char *why, size_t len)
{
	if (x->rec.installed || x->rec.active) {
		snprintf(why, len, "the %s at 0x%lx is patched for return handlers that do not "
			 "read rflags (UPROBE_F_HANDLER_NO_FLAGS)", arch_exit_kind_name(e->kind),
			 e->addr);
		return -1;
	}
	x->nofl = false;
	return exit_build(x, e, b, why, len);
}

/*
 * A ret under the entry's jump (e->in_entry) runs only in the relocated copy
 * of the window in entry's trampoline: there is its window, the ret and the
 * 4 bytes after it, which nothing runs (bytes of the window after the ret,
 * where no branch lands: the jump's own check; the copy's jmp back; the
 * trampoline's int3 padding). *out is that exit, its ret's address in the
 * text kept in target; b gets its bytes as the trampoline holds them
 * (arch_window_copy makes the same copy again). 0, or -1 with why set: the
 * entry is not jump-optimized.
 */
static int exit_in_copy(const struct probe_rec *entry, const struct arch_exit *e,
			struct arch_exit *out, uint8_t b[ARCH_JMP_LEN], char *why, size_t len)
{
	uint8_t code[ARCH_WINDOW_COPY_MAX];
	struct arch_window w;
	unsigned k = 0;
	int n = -1;

	memset(code, 0xcc, sizeof(code));
	if (entry->mode == UPROBE_MODE_OPTIMIZED && entry->copy && entry->at_entry) {
		w = entry->win;
		while (k < w.n && entry->addr + w.orig_off[k] != e->addr)
			k++;
		if (k < w.n && w.insn[k].len == e->len)
			n = arch_window_copy(&w, entry->copy, code);
	}
	if (n < 0 || entry->copy + w.copy_off[k] + ARCH_JMP_LEN > entry->tramp + entry->tramp_size ||
	    memcmp(code + w.copy_off[k], w.insn[k].bytes, e->len)) {
		retsite_in_entry_why(why, len, e->addr - entry->addr,
				     entry->mode == UPROBE_MODE_OPTIMIZED ? "its window differs"
				     : entry->opt_reason[0] ? entry->opt_reason : entry->reason);
		return -1;
	}
	*out = *e;
	out->addr = out->win = entry->copy + w.copy_off[k];
	out->win_len = ARCH_JMP_LEN;
	out->target = e->addr;
	memcpy(b, code + w.copy_off[k], ARCH_JMP_LEN);
	return 0;
}

/*
 * The record for exit e of t's function: reused, or built and published.
 * nofl: the return handler does not read rflags (EXIT_NOFLAGS for a new
 * record; a reused record reading them serves it too). copy: the window's
 * bytes when it is in a trampoline (exit_in_copy), else NULL: read from t.
 */
static struct retpatch_exit *exit_get(const struct probe_target *t, const struct arch_exit *e,
				      const uint8_t *copy, bool nofl, char *why, size_t len)
{
	struct probe_rec *old = registry_lookup(e->win);
	struct retpatch_exit *x = old && old->ret_exit ? (struct retpatch_exit *)old : NULL;
	uint8_t b[ARCH_INSN_MAX];
	uint64_t at;

	if (e->win_len > ARCH_INSN_MAX) {
		snprintf(why, len, "the window of the %s at 0x%lx is %u bytes (at most %u)",
			 arch_exit_kind_name(e->kind), e->addr, e->win_len, ARCH_INSN_MAX);
		return NULL;
	}
	if (copy)
		memcpy(b, copy, e->win_len);
	else
		target_read(t, e->win, b, e->win_len);
	if (x && x->fn == t->func_start && x->rec.orig_len == e->win_len &&
	    !memcmp(x->rec.orig, b, e->win_len)) {
		if (x->nofl && !nofl && exit_want_flags(x, e, b, why, len))
			return NULL;
		rec_set_pending(&x->rec);
		return x;
	}
	if (window_taken(e->win, e->win + e->win_len, x, &at)) {
		snprintf(why, len, "a probe at 0x%lx is in the window of the %s at 0x%lx", at,
			 arch_exit_kind_name(e->kind), e->addr);
		return NULL;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		snprintf(why, len, "out of memory");
		return NULL;
	}
	x->fn = t->func_start;
	x->kind = e->kind;
	x->rec.addr = e->win;
	x->rec.ret_exit = true;
	x->rec.mode = UPROBE_MODE_OPTIMIZED;
	x->nofl = nofl;
	if (exit_build(x, e, b, why, len)) {
		free(x);
		return NULL;
	}
	memcpy(x->rec.orig, b, e->win_len);
	x->rec.orig_len = e->win_len;
	if (registry_publish(&x->rec)) {
		snprintf(why, len, "out of memory");
		return NULL; /* its trampoline stays unused */
	}
	rec_set_pending(&x->rec);
	return x;
}

/*
 * The exits of rs for t's function, whose entry record is entry, into its
 * rp_fn (only when all are there: the site consumers attached already take
 * theirs out by that list). 0, or -1 with why set.
 */
static int exits_get(const struct probe_target *t, const struct probe_rec *entry,
		     const struct arch_retsites *rs, bool nofl, char *why, size_t len)
{
	struct retpatch_exit *got[ARCH_RETSITE_MAX];
	struct rp_fn *f = fn_find(t->func_start);
	unsigned n = 0;

	if (!f) {
		f = calloc(1, sizeof(*f));
		if (!f) {
			snprintf(why, len, "out of memory");
			return -1;
		}
		f->addr = t->func_start;
		f->next = rp_fns;
		rp_fns = f;
	}
	for (unsigned i = 0; i < rs->n; i++) {
		const struct arch_exit *e = &rs->exit[i];
		struct arch_exit in_copy;
		uint8_t b[ARCH_JMP_LEN];

		if (!e->win_len)
			continue; /* a no-return call: nothing comes back */
		if (e->in_entry && exit_in_copy(entry, e, &in_copy, b, why, len))
			return -1;
		got[n] = e->in_entry ? exit_get(t, &in_copy, b, nofl, why, len)
				     : exit_get(t, e, NULL, nofl, why, len);
		if (!got[n++])
			return -1;
	}
	if (fn_in_use(f->addr) && f->n && (f->n != n || memcmp(f->x, got, n * sizeof(*got)))) {
		snprintf(why, len, "its exits changed under the return probes attached");
		return -1;
	}
	memcpy(f->x, got, n * sizeof(*got));
	f->n = n;
	return 0;
}

int retpatch_prepare(struct uprobe *p, const struct probe_target *t)
{
	static struct arch_retsites scratch; /* registry_lock */
	struct retsite_verdict *v = &p->ret_site;
	enum retpatch_mode mode = retpatch_mode();
	char why[160];

	bool strict = mode == RETPATCH_STRICT || mode == RETPATCH_ONLY;
	unsigned tails;
	bool nofl;

	memset(v, 0, sizeof(*v));
	v->path = UPROBE_RET_HIJACK;
	if (retsite_check(t, &scratch)) {
		snprintf(v->why, sizeof(v->why), "%s", scratch.why);
		if (strict)
			return log_error(ENOTSUP, "its exits cannot be patched (%s): %s",
					 mode_why(mode), scratch.why);
		return 0;
	}
	v->ok = 1;
	v->sites = scratch.n - scratch.count[ARCH_EXIT_NORETURN];
	retsite_summary(&scratch, v->why, sizeof(v->why));
	if (mode == RETPATCH_HIJACK)
		return 0;
	tails = scratch.count[ARCH_EXIT_TAIL] + scratch.count[ARCH_EXIT_TAIL_JCC] +
		scratch.count[ARCH_EXIT_TAIL_GOT];
	if (mode == RETPATCH_ONLY && tails) {
		v->ok = 0;
		return log_error(ENOTSUP, "its exits cannot be patched (%s): %u tail jump%s out, "
				 "where the call is handed to the return-address hijack",
				 mode_why(mode), tails, tails == 1 ? "" : "s");
	}
	pthread_once(&key_once, key_init);
	if (key_err)
		snprintf(why, sizeof(why), "no thread key: %s", strerror(key_err));
	nofl = p->flags & UPROBE_F_HANDLER_NO_FLAGS;
	if (key_err || exits_get(t, p->rec, &scratch, nofl, why, sizeof(why))) {
		size_t n = strlen(v->why);

		snprintf(v->why + n, sizeof(v->why) - n, "; hijack: %s", why);
		if (strict)
			return log_error(ENOTSUP, "its exits cannot be patched (%s): %s",
					 mode_why(mode), why);
		return 0;
	}
	v->path = UPROBE_RET_SITE;
	return 0;
}

static bool site_probe(const struct uprobe *p)
{
	return p && p->ret_handler && p->ret_site.path == UPROBE_RET_SITE;
}

static bool rec_listed(struct probe_rec **recs, size_t n, const struct probe_rec *r)
{
	for (size_t i = 0; i < n; i++)
		if (recs[i] == r)
			return true;
	return false;
}

/*
 * The exits of the site probes of probes[0..n), distinct, in a malloc'd
 * *out: not yet in (arm), or in and no longer needed by any site consumer of
 * their function (release).
 */
static size_t exits_of(struct uprobe **probes, size_t n, bool release, struct probe_rec ***out);

void retpatch_arm(struct uprobe **probes, size_t n)
{
	struct probe_rec **recs;
	size_t m = exits_of(probes, n, false, &recs);
	int err = 0;

	if (!recs)
		m = 0;
	for (size_t k = 0; k < m; k++)
		__atomic_store_n(&recs[k]->active, 1, __ATOMIC_RELEASE);
	recs_patch(recs, m, REC_CLEAN, REC_INT3, &err);
	for (size_t k = 0; k < m; k++)
		if (!recs[k]->installed)
			__atomic_store_n(&recs[k]->active, 0, __ATOMIC_RELEASE);
	if (m) {
		ubp_sync_cores();
		jump_install(recs, m);
	}
	free(recs);
	/* A probe with an exit not in the text (a write failed) takes the hijack. */
	for (size_t i = 0; i < n; i++) {
		struct rp_fn *f = site_probe(probes[i]) ? fn_find(probes[i]->rec->addr) : NULL;

		for (unsigned k = 0; f && k < f->n; k++) {
			struct retsite_verdict *v = &probes[i]->ret_site;
			size_t len = strlen(v->why);

			if (f->x[k]->rec.installed)
				continue;
			/* Site-only: no hijack; the returns of this probe are not followed. */
			v->path = retpatch_mode() == RETPATCH_ONLY ? UPROBE_RET_NONE
								   : UPROBE_RET_HIJACK;
			snprintf(v->why + len, sizeof(v->why) - len, "; hijack: %s",
				 uprobe_last_error());
			break;
		}
	}
}

/* Is a consumer of the function at addr still on the site path? */
static bool fn_in_use(uint64_t addr)
{
	struct probe_rec *rec = registry_lookup(addr);

	for (struct uprobe *c = rec ? rec->consumers : NULL; c; c = c->next)
		if (site_probe(c))
			return true;
	return false;
}

static size_t exits_of(struct uprobe **probes, size_t n, bool release, struct probe_rec ***out)
{
	size_t m = 0, cap = 0;
	struct probe_rec **recs = NULL;

	for (size_t i = 0; i < n; i++) {
		struct rp_fn *f = site_probe(probes[i]) ? fn_find(probes[i]->rec->addr) : NULL;

		if (!f || (release && fn_in_use(f->addr)))
			continue;
		for (unsigned k = 0; k < f->n; k++) {
			struct probe_rec *r = &f->x[k]->rec;

			if ((release ? !r->installed : r->installed || r->active) ||
			    rec_listed(recs, m, r))
				continue;
			if (m == cap) {
				struct probe_rec **more = realloc(recs, (cap = cap * 2 + 16) *
								      sizeof(*recs));

				if (!more)
					break;
				recs = more;
			}
			recs[m++] = r;
		}
	}
	*out = recs;
	return recs ? m : 0;
}

void retpatch_release(struct uprobe **probes, size_t n)
{
	struct probe_rec **recs;
	size_t m = exits_of(probes, n, true, &recs);
	int err = 0;

	retpatch_drop_orphans();
	/* As probe.c's recs_disarm: jump head back to int3, tail, then the original byte. */
	if (recs_patch(recs, m, REC_JMP, REC_JMP_TAIL, &err))
		ubp_sync_cores();
	if (recs_patch(recs, m, REC_JMP_TAIL, REC_INT3, &err))
		ubp_sync_cores();
	if (recs_patch(recs, m, REC_INT3, REC_CLEAN, &err))
		ubp_sync_cores();
	for (size_t k = 0; k < m; k++)
		if (recs[k]->installed == REC_CLEAN)
			__atomic_store_n(&recs[k]->active, 0, __ATOMIC_RELEASE);
	if (err)
		log_msg(UPROBE_LOG_WARN, "a return site stays patched: %s", uprobe_last_error());
	free(recs);
}

void retpatch_count(const struct uprobe *p, int delta)
{
	if (!p || !p->ret_handler)
		return;
	if (p->ret_site.path == UPROBE_RET_SITE)
		core_stats.ret_site_probes += delta;
	else
		core_stats.ret_hijack_fallbacks += delta;
}
