/* SPDX-License-Identifier: MIT */
/*
 * Private to stack/. A file's CFI compiled ahead into a table the unwinder
 * only looks up: the idea of the kernel's ORC (arch/x86/kernel/unwind_orc.c,
 * built by objtool) and of SFrame, applied to .eh_frame. The DWARF
 * interpreter (sym/cfi.c) runs once per file, here; a hit never runs it.
 *
 * The table is one position-independent block (in memory, and byte for byte
 * in the cache file, cfi_cache.c). Addresses are file virtual addresses
 * relative to text_start; u32 offsets cover 4 GiB of text.
 *
 *   offset  size
 *   0       64        struct cfi_table_hdr
 *   64      4 * N     u32 ip[N]: row i starts at text_start + ip[i];
 *                     ascending; row i ends where row i + 1 starts (the
 *                     last one at text_start + span)
 *   ..      8 * N     struct cfi_row row[N] (8-aligned: padding before)
 *   ..      4 * (B+1) u32 block[B + 1]: B = (span >> CFI_BLOCK_SHIFT) + 1;
 *                     block[b] is the last row starting at or before
 *                     text_start + (b << CFI_BLOCK_SHIFT); block[B] = N - 1
 *
 * A lookup of address a: rel = a - text_start; b = rel >> CFI_BLOCK_SHIFT;
 * the row is the last i in [block[b], block[b + 1]] with ip[i] <= rel (a
 * binary search over a handful of rows, as ORC's orc_lookup does).
 *
 * A row (8 bytes):
 *
 *   byte 0..3  s32 cfa_off
 *   byte 4..5  s16 bp_off
 *   byte 6     kind: bits 0-2 enum cfi_kind, bit 3 CFI_F_DEREF (CFA =
 *              *(reg + cfa_off)), bits 4-5 enum cfi_bp (where the caller's
 *              rbp is), bit 6 CFI_F_FAST (the common case: CFI_CALL, CFA =
 *              rsp or rbp + cfa_off, rbp unchanged or saved at CFA - 16),
 *              bit 7 CFI_F_BP_BASE (with CFI_F_FAST: the CFA is rbp-based)
 *   byte 7     cfa_reg: DWARF number (0..15; 6 rbp, 7 rsp); CFI_PLT: k
 *
 *   CFI_CALL     CFA = reg + cfa_off (or *(reg + cfa_off)); the return
 *                address at CFA - 8; the caller's rsp is the CFA
 *   CFI_SIGNAL   a sigreturn trampoline (__restore_rt): rsp points at the
 *                ucontext of the interrupted code, all its registers there
 *   CFI_END      the return address is undefined: the outermost frame
 *   CFI_PLT      CFA = rsp + cfa_off, + 8 when (rip & 15) >= k
 *   CFI_UNKNOWN  no CFI here (a gap between FDEs), or none this unwinder
 *                follows: frame pointers are tried
 *
 *   CFI_BP_SAME  rbp unchanged      CFI_BP_CFA  saved at CFA + bp_off
 *   CFI_BP_BP    saved at rbp + bp_off (realigned stacks)
 *   CFI_BP_LOST  not known: a caller whose CFA is rbp-based cannot be followed
 */
#ifndef UPROBES_STACK_CFI_TABLE_H
#define UPROBES_STACK_CFI_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CFI_MAGIC 0x49464355u /* "UCFI" */
#define CFI_VERSION 2
#define CFI_BLOCK_SHIFT 8
#define CFI_MAX_ROWS (1u << 24)

enum cfi_kind { CFI_UNKNOWN, CFI_CALL, CFI_SIGNAL, CFI_END, CFI_PLT };
enum cfi_bp { CFI_BP_SAME, CFI_BP_CFA, CFI_BP_BP, CFI_BP_LOST };

#define CFI_F_DEREF 0x08
#define CFI_F_FAST 0x40
#define CFI_F_BP_BASE 0x80
#define CFI_KIND(k) ((k) & 7)
#define CFI_BP(k) (((k) >> 4) & 3)

struct cfi_row {
	int32_t cfa_off;
	int16_t bp_off;
	uint8_t kind;
	uint8_t cfa_reg;
};

_Static_assert(sizeof(struct cfi_row) == 8, "cfi_row layout");

struct cfi_table_hdr {
	uint32_t magic, version;
	uint32_t n_rows, n_blocks; /* N, B + 1 */
	uint64_t text_start, span; /* file vaddrs [text_start, text_start + span) */
	uint64_t size;		   /* of the whole table */
	uint32_t rows_off, block_off;
	uint32_t ident_off; /* struct sym_ident after the blocks (the cache checks it) */
	uint32_t pad[3];
};

_Static_assert(sizeof(struct cfi_table_hdr) == 64, "cfi_table_hdr layout");

/*
 * A lookup cache entry: the row itself beside its tag, so that a hit reads
 * one cache line (not the tag, then the row array). tag = (rel + 1) << 32 |
 * cfi_cache_check(row, rel): written row first, tag last, but two writers
 * can interleave; a reader takes the entry only if the check matches the
 * row it read, so a torn entry is a miss.
 */
struct cfi_cache_ent {
	uint64_t tag;
	uint64_t row; /* struct cfi_row's 8 bytes */
};

/* A table in memory: the block (malloc'd or mapped), its parts, and a lookup cache. */
struct cfi_table {
	uint64_t text_start, span; /* the header's, here: one line less to read at a lookup */
	const struct cfi_table_hdr *hdr;
	const uint32_t *ip;
	const struct cfi_row *row;
	const uint32_t *block;
	void *mem;	 /* what to free (malloc'd) or unmap (cached file) */
	size_t map_len;	 /* non-zero: mem is mapped */
	struct cfi_cache_ent *cache; /* CFI_CACHE entries, see cfi_lookup() */
};

union cfi_row_word {
	struct cfi_row r;
	uint64_t w;
};

static inline uint32_t cfi_cache_check(uint64_t row, uint64_t rel)
{
	return (uint32_t)(((row ^ rel) * 0x9e3779b97f4a7c15ull) >> 32);
}

#define CFI_CACHE 1024

struct sym_file;

/*
 * Compile f's CFI rows (sym_cfi_rows) into a table: NULL + errno (ENOENT:
 * the file has no CFI; ENOMEM; E2BIG: more than CFI_MAX_ROWS rows).
 */
struct cfi_table *cfi_table_compile(struct sym_file *f);
/*
 * A table from len bytes at mem (a cached file, or anything else): every
 * offset, count, row and block is checked first; NULL + errno (EINVAL).
 * The table refers to mem (map_len: the caller's mapping, unmapped at free).
 */
struct cfi_table *cfi_table_from(void *mem, size_t len, size_t map_len);
void cfi_table_free(struct cfi_table *t);

/*
 * The row at file address vaddr into *out: false outside the table.
 * Signal-safe (the unwinder's, compiled with it). The cache is racy by
 * design: an entry another thread overwrote, or tore, is only a miss.
 */
static inline bool cfi_lookup(const struct cfi_table *t, uint64_t vaddr, struct cfi_row *out)
{
	uint64_t rel = vaddr - t->text_start, tag;
	struct cfi_cache_ent *e;
	union cfi_row_word row;
	uint32_t lo, hi, b;

	if (rel >= t->span)
		return false;
	e = &t->cache[((rel * 0x9e3779b97f4a7c15ull) >> 54) & (CFI_CACHE - 1)];
	tag = __atomic_load_n(&e->tag, __ATOMIC_RELAXED);
	row.w = __atomic_load_n(&e->row, __ATOMIC_RELAXED);
	if (tag >> 32 == rel + 1 && (uint32_t)tag == cfi_cache_check(row.w, rel)) {
		*out = row.r;
		return true;
	}
	b = (uint32_t)(rel >> CFI_BLOCK_SHIFT);
	lo = t->block[b];
	hi = t->block[b + 1];
	while (lo < hi) { /* the last row starting at or before rel */
		uint32_t mid = lo + (hi - lo + 1) / 2;

		if (t->ip[mid] <= rel)
			lo = mid;
		else
			hi = mid - 1;
	}
	row.r = t->row[lo];
	__atomic_store_n(&e->row, row.w, __ATOMIC_RELAXED);
	__atomic_store_n(&e->tag, (rel + 1) << 32 | cfi_cache_check(row.w, rel), __ATOMIC_RELAXED);
	*out = row.r;
	return true;
}

/*
 * cfi_cache.c: f's table from the cache directory, else compiled and stored
 * there (best effort). NULL + errno as cfi_table_compile(). The directory is
 * $UPROBE_CACHE_DIR (empty: no cache), else $XDG_CACHE_HOME/uprobes, else
 * $HOME/.cache/uprobes; only a directory and files of this user that no one
 * else can write are used.
 */
struct cfi_table *cfi_table_get(struct sym_file *f);

#endif
