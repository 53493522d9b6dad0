/* SPDX-License-Identifier: MIT */
/*
 * Probe analyses kept per file (jump_memo.h). Decoding the probed function
 * (Zydis: its dlopen, relocation and tables, ~20 page faults) was the largest
 * part left of a traced image's start-up that depended only on the file; now
 * the first image to probe a function stores what the decoder said, and
 * every later one maps it:
 *
 *   an-<file identity>-<function's file offset>-<probe's offset>.uan
 *     struct memo_hdr      magic, version, the sizes of the structs below,
 *                          the build-id of the library that wrote it, the
 *                          function's length and the probe's offset in it
 *     struct arch_insn     the probed instruction  } addresses relative to
 *     struct arch_window   its window's plan        } the function's start
 *     uint8_t[func_len]    the function's bytes the analysis was made of
 *
 * Untrusted: any program of this user's can write the cache, and a file on
 * disk may have changed since (patched, rebuilt with the same build-id). So a
 * memo is used only when (memo_valid): its checksum holds (cache_map); it was
 * written by this very build of the library (the analysis' rules may differ
 * between builds); the function's bytes it holds equal, byte for byte, the
 * bytes this process has mapped now; and every instruction it describes is
 * made of those bytes, at its place, with lengths that add up to the window.
 * Otherwise the function is decoded as before (and its memo replaced). Only a
 * window that can be optimized is stored: a refusal's reason names absolute
 * addresses, and refusals are rare at the function entries most probes use.
 * x86-64 only (aarch64's decoder is a table lookup, cheap to run).
 */
#include <errno.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/jump.h"
#include "core/jump_memo.h"
#include "sym/sym.h"
#include "util/cache.h"

#if defined(__x86_64__)

#define MEMO_MAGIC 0x6f6d656du /* "memo" */
#define MEMO_VERSION 1u
#define MEMO_FUNC_MAX (64u << 10) /* larger functions are decoded each time */
/*
 * Memos written by one process at most: an attach of thousands of probes
 * does not leave thousands of files. What a memo spares is the decoder's
 * loading; once it is loaded, decoding a function costs about what opening
 * and mapping its memo does, so no memo is looked up then.
 */
#define MEMO_STORES_MAX 64

/* A mapping of a file as the branch index (core/branches.c) is keyed. */
struct memo_map {
	uint64_t file_offset, len;	   /* the mapping's */
	uint64_t dev, ino, size, mtime_ns; /* the file's */
	struct sym_ident ident;
};

struct memo_hdr {
	uint32_t magic, version;
	uint32_t insn_size, win_size; /* sizeof(struct arch_insn), sizeof(struct arch_window) */
	uint8_t lib_id[20];	      /* this library's build-id */
	uint32_t func_len, probe_off;
	struct arch_insn insn;
	struct arch_window win;
	struct memo_map map; /* the branch fact's: valid for this mapping of this file */
	uint32_t no_branch;  /* 1: no branch nor landing pad of the mapping into the window */
	uint32_t pad;
};

/*
 * The one probe being attached (rec_get: analyze_at, then jump_plan): its
 * memo, loaded or to be stored. Keyed by the probe's address and function.
 */
static struct memo_slot {
	uint64_t addr, func_start, func_size;
	ino_t ino;
	bool loaded;		/* hdr holds a memo valid for these bytes */
	bool br_loaded;		/* ... and its branch fact for this mapping */
	bool noted;		/* hdr.insn was decoded here, no plan yet */
	bool planned;		/* hdr.win planned here (or loaded), to store */
	struct memo_map map;	/* this mapping's identity */
	struct memo_hdr hdr;	/* relative addresses */
	uint8_t *bytes;		/* the function's bytes (malloc'd) */
	size_t len;
} slot;

static unsigned stores; /* memos this process wrote */
/*
 * Memos this process mapped: a memo spares loading the decoder, which a bulk
 * attach amortizes over thousands of probes; each memo costs about eight
 * system calls and a checksum. After MEMO_ASKS_MAX, the decoder decodes.
 */
#define MEMO_ASKS_MAX 64
static unsigned asks;

/* This library's build-id (0s when it has none: then no memo is written or used). */
static struct {
	uint8_t id[20];
	bool done, found;
} lib;

static int lib_id_cb(struct dl_phdr_info *info, size_t size, void *arg)
{
	uintptr_t me = (uintptr_t)arg;
	bool mine = false;

	(void)size;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t start = info->dlpi_addr + ph->p_vaddr;

		if (ph->p_type == PT_LOAD && me >= start && me - start < ph->p_memsz)
			mine = true;
	}
	for (unsigned i = 0; mine && i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
		const uint8_t *end = p + ph->p_memsz;

		if (ph->p_type != PT_NOTE)
			continue;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const uint8_t *name = p + sizeof(*n);
			const uint8_t *desc = name + ((n->n_namesz + 3) & ~3u);

			if (desc + n->n_descsz > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && n->n_descsz) {
				memcpy(lib.id, desc,
				       n->n_descsz < sizeof(lib.id) ? n->n_descsz : sizeof(lib.id));
				lib.found = true;
				return 1;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return mine;
}

static bool lib_id_known(void)
{
	if (!lib.done) {
		dl_iterate_phdr(lib_id_cb, (void *)(uintptr_t)lib_id_cb);
		lib.done = true;
	}
	return lib.found;
}

/*
 * Where t's memo is kept: 0, its name and the mapping's identity in map, or -1
 * (not a file's function, no identity).
 */
static int memo_name(const struct probe_target *t, char *name, size_t len, struct memo_map *map)
{
	struct sym_file *f;
	char suffix[64];

	if (t->image || t->path[0] != '/' || !t->func_start || t->addr < t->func_start ||
	    !lib_id_known())
		return -1;
	f = sym_file_open(t->path);
	if (!f)
		return -1;
	if (sym_file_ino(f) != t->map_ino) {
		sym_file_close(f);
		return -1;
	}
	memset(map, 0, sizeof(*map));
	sym_file_ident(f, &map->ident);
	map->file_offset = t->file_offset - (t->addr - t->map_start);
	map->len = t->map_end - t->map_start;
	map->dev = sym_file_dev(f);
	map->ino = sym_file_ino(f);
	map->size = sym_file_size(f);
	map->mtime_ns = sym_file_mtime_ns(f);
	sym_file_close(f);
	snprintf(suffix, sizeof(suffix), "-%lx-%lx.uan", t->file_offset - (t->addr - t->func_start),
		 t->addr - t->func_start);
	sym_ident_name(&map->ident, "an-", suffix, name, len);
	return 0;
}

/* Addresses of an instruction moved by delta (relative <-> this process's). */
static void insn_rebase(struct arch_insn *ai, uint64_t delta)
{
	ai->addr += delta;
	ai->target += delta;
	ai->riprel_addr += delta;
}

static void memo_rebase(struct memo_hdr *h, uint64_t delta)
{
	insn_rebase(&h->insn, delta);
	for (unsigned k = 0; k < ARCH_WINDOW_MAX; k++)
		insn_rebase(&h->win.insn[k], delta);
	for (unsigned i = 0; i < sizeof(h->win.tables) / sizeof(h->win.tables[0]); i++)
		h->win.tables[i] += delta;
}

/* Is ai (relative addresses) an instruction made of func's bytes at off? */
static bool insn_sane(const struct arch_insn *ai, const uint8_t *func, size_t len, size_t off)
{
	return ai->len && ai->len <= ARCH_INSN_MAX && off + ai->len <= len && ai->addr == off &&
	       !memcmp(ai->bytes, func + off, ai->len) && ai->op <= ARCH_OP_NO_RETURN &&
	       ai->riprel_off < ai->len && ai->modrm_off < ai->len && ai->cond < 16 &&
	       ai->reg < sizeof(struct uprobe_regs) / sizeof(uint64_t);
}

/*
 * The memo h (size bytes, as mapped) for the function whose bytes are
 * func[0..len) and the probe at off: what it describes is made of these bytes.
 */
static bool memo_valid(const struct memo_hdr *h, size_t size, const uint8_t *func, size_t len,
		       size_t off)
{
	const struct arch_window *w = &h->win;
	unsigned sum = 0;
	uint8_t no_return;

	if (size != sizeof(*h) + len || h->magic != MEMO_MAGIC || h->version != MEMO_VERSION ||
	    h->insn_size != sizeof(struct arch_insn) || h->win_size != sizeof(struct arch_window) ||
	    memcmp(h->lib_id, lib.id, sizeof(lib.id)) || h->func_len != len || h->probe_off != off ||
	    memcmp(h + 1, func, len) || !insn_sane(&h->insn, func, len, off))
		return false;
	memcpy(&no_return, &w->no_return, 1); /* a bool read from a file: any byte */
	if (h->no_branch > 1 || !w->n || w->n > ARCH_WINDOW_MAX || no_return > 1 ||
	    w->ntables > sizeof(w->tables) / sizeof(w->tables[0]) ||
	    !memchr(w->indirect_why, 0, sizeof(w->indirect_why)))
		return false;
	for (unsigned k = 0; k < w->n; k++) {
		if (w->orig_off[k] != sum || !insn_sane(&w->insn[k], func, len, off + sum))
			return false;
		sum += w->insn[k].len;
	}
	/* The window's first instruction is the probed one, analysed alike. */
	return sum == w->len && sum >= ARCH_JMP_LEN && off + sum <= len &&
	       !memcmp(&w->insn[0], &h->insn, sizeof(h->insn));
}

static void slot_reset(const struct probe_target *t)
{
	free(slot.bytes);
	memset(&slot, 0, sizeof(slot));
	slot.addr = t->addr;
	slot.func_start = t->func_start;
	slot.func_size = t->func_size;
	slot.ino = t->map_ino;
}

static bool slot_is(const struct probe_target *t)
{
	return slot.addr == t->addr && slot.func_start == t->func_start &&
	       slot.func_size == t->func_size && slot.ino == t->map_ino;
}


int jump_memo_insn(const struct probe_target *t, struct arch_insn *ai)
{
	char name[200];
	size_t size;
	void *mem;

	slot_reset(t);
	if (arch_insn_decoder_loaded() && stores >= MEMO_STORES_MAX)
		return -ENOENT;
	if (memo_name(t, name, sizeof(name), &slot.map) || !(slot.bytes = jump_read_function(t, MEMO_FUNC_MAX, &slot.len)))
		return -ENOENT;
	if (arch_insn_decoder_loaded() || asks >= MEMO_ASKS_MAX)
		return -ENOENT; /* decoded here, then stored (jump_memo_plan) */
	asks++;
	mem = cache_map(name, &size);
	if (!mem)
		return -ENOENT;
	if (memo_valid(mem, size, slot.bytes, slot.len, t->addr - t->func_start)) {
		slot.hdr = *(const struct memo_hdr *)mem;
		memo_rebase(&slot.hdr, t->func_start);
		slot.loaded = true;
		/* The same file where it was, unchanged: what its branch index would say. */
		slot.br_loaded = slot.hdr.no_branch &&
				 !memcmp(&slot.hdr.map, &slot.map, sizeof(slot.map));
		*ai = slot.hdr.insn;
	}
	munmap(mem, size);
	return slot.loaded ? 0 : -ENOENT;
}

void jump_memo_note_insn(const struct probe_target *t, const struct arch_insn *ai)
{
	if (!slot_is(t) || slot.loaded || !slot.bytes)
		return;
	slot.hdr.insn = *ai;
	slot.noted = true;
}

/*
 * Store the slot's instruction and window (this process's addresses), with
 * the branch index's answer for this mapping: no branch into the window.
 */
static void memo_store(const struct probe_target *t)
{
	size_t off = t->addr - t->func_start;
	struct memo_hdr *h;
	char name[200];

	if (stores >= MEMO_STORES_MAX || memo_name(t, name, sizeof(name), &slot.map) ||
	    !(h = malloc(sizeof(*h) + slot.len)))
		return;
	stores++;
	memset(h, 0, sizeof(*h));
	h->magic = MEMO_MAGIC;
	h->version = MEMO_VERSION;
	h->insn_size = sizeof(struct arch_insn);
	h->win_size = sizeof(struct arch_window);
	h->func_len = (uint32_t)slot.len;
	h->probe_off = (uint32_t)off;
	h->insn = slot.hdr.insn;
	h->win = slot.hdr.win;
	h->map = slot.map;
	h->no_branch = 1;
	memcpy(h->lib_id, lib.id, sizeof(lib.id));
	memo_rebase(h, -t->func_start);
	memcpy(h + 1, slot.bytes, slot.len);
	/* What would not be used is not stored (another probe's int3 in the bytes, ...). */
	if (memo_valid(h, sizeof(*h) + slot.len, slot.bytes, slot.len, off))
		cache_store(name, h, sizeof(*h) + slot.len);
	free(h);
}

int jump_memo_plan(const struct probe_target *t, const uint8_t *func, size_t len, size_t pad,
		   struct arch_window *w, char *why, size_t whylen)
{
	/* A window in the padding is not kept: the memo holds the extent's bytes only. */
	bool same = !pad && slot_is(t) && slot.bytes && slot.len == len &&
		    !memcmp(slot.bytes, func, len);
	int err;

	slot.planned = false;
	if (same && slot.loaded) {
		*w = slot.hdr.win;
		slot.planned = true;
		return 0;
	}
	err = arch_window_plan(func, len, pad, t->func_start, t->addr, w, why, whylen);
	if (!err && same && slot.noted) {
		slot.hdr.win = *w;
		slot.planned = true;
	}
	slot.noted = false;
	return err;
}

int jump_memo_branches(const struct probe_target *t, uint64_t lo, uint64_t hi, uint64_t *src,
		       uint64_t *target)
{
	bool ours = slot_is(t) && slot.planned && lo == t->addr &&
		    hi == t->addr + slot.hdr.win.len;
	int err;

	if (ours && slot.br_loaded)
		return 0;
	err = branches_into(t, lo, hi, src, target);
	if (!err && ours)
		memo_store(t);
	slot.planned = false;
	return err;
}

#else /* no memo: the analysis is decoded each time */

int jump_memo_insn(const struct probe_target *t, struct arch_insn *ai)
{
	(void)t;
	(void)ai;
	return -ENOENT;
}

void jump_memo_note_insn(const struct probe_target *t, const struct arch_insn *ai)
{
	(void)t;
	(void)ai;
}

int jump_memo_plan(const struct probe_target *t, const uint8_t *func, size_t len, size_t pad,
		   struct arch_window *w, char *why, size_t whylen)
{
	return arch_window_plan(func, len, pad, t->func_start, t->addr, w, why, whylen);
}

int jump_memo_branches(const struct probe_target *t, uint64_t lo, uint64_t hi, uint64_t *src,
		       uint64_t *target)
{
	return branches_into(t, lo, hi, src, target);
}

#endif
