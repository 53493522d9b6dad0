/* SPDX-License-Identifier: MIT */
/*
 * A file's CFI compiled into the lookup table of cfi_table.h: every row of
 * every FDE (sym_cfi_rows) turned into an 8-byte rule, sorted by address,
 * gaps between FDEs marked CFI_UNKNOWN, equal neighbours merged, and the
 * block index built. Also the checks that make a table read from anywhere
 * (a cache file) safe to look up, and the lookup itself (hot path).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <gelf.h>

#include "stack/cfi_table.h"
#include "sym/sym.h"

#define DW_RBP 6
#define DW_RSP 7

/* A row as compiled, before the table is laid out. */
struct cfi_span {
	uint64_t start, end;
	struct cfi_row r;
};

struct cfi_rows {
	struct cfi_span *v;
	size_t n, cap;
	int err;
};

static uint8_t bp_rule(const struct sym_cfi *c, int16_t *off)
{
	*off = 0;
	if (c->bp == SYM_RULE_SAME)
		return CFI_BP_SAME;
	if ((c->bp != SYM_RULE_CFA && !(c->bp == SYM_RULE_REG && c->bp_reg == DW_RBP)) ||
	    c->bp_off < INT16_MIN || c->bp_off > INT16_MAX)
		return CFI_BP_LOST;
	*off = (int16_t)c->bp_off;
	return c->bp == SYM_RULE_CFA ? CFI_BP_CFA : CFI_BP_BP;
}

/* What the unwinder does at a row: the rule of sym/cfi.c in 8 bytes. */
static struct cfi_row row_of(const struct sym_cfi *c)
{
	struct cfi_row r = { 0 };
	int16_t bp_off;
	uint8_t bp = bp_rule(c, &bp_off);

	if (c->signal)
		return (struct cfi_row){ .kind = CFI_SIGNAL };
	if (c->ra == SYM_RULE_UNDEFINED)
		return (struct cfi_row){ .kind = CFI_END };
	if (c->ra != SYM_RULE_CFA || c->ra_off != -8 || c->cfa_off < INT32_MIN ||
	    c->cfa_off > INT32_MAX)
		return r;
	if (c->cfa == SYM_CFA_PLT)
		return (struct cfi_row){ .cfa_off = (int32_t)c->cfa_off, .kind = CFI_PLT,
					 .cfa_reg = c->plt_k };
	if ((c->cfa != SYM_CFA_REG && c->cfa != SYM_CFA_DEREF) || c->cfa_reg > 15)
		return r;
	r.cfa_off = (int32_t)c->cfa_off;
	r.bp_off = bp_off;
	r.kind = CFI_CALL | (c->cfa == SYM_CFA_DEREF ? CFI_F_DEREF : 0) | (uint8_t)(bp << 4);
	r.cfa_reg = c->cfa_reg;
	if (c->cfa == SYM_CFA_REG && (c->cfa_reg == DW_RSP || c->cfa_reg == DW_RBP) &&
	    (bp == CFI_BP_SAME || (bp == CFI_BP_CFA && bp_off == -16)))
		r.kind |= CFI_F_FAST | (c->cfa_reg == DW_RBP ? CFI_F_BP_BASE : 0);
	return r;
}

static void row_add(const struct sym_cfi *c, void *arg)
{
	struct cfi_rows *rows = arg;

	if (rows->err)
		return;
	if (rows->n == rows->cap) {
		size_t cap = rows->cap ? 2 * rows->cap : 4096;
		struct cfi_span *v = cap > CFI_MAX_ROWS ? NULL : realloc(rows->v, cap * sizeof(*v));

		if (!v) {
			rows->err = cap > CFI_MAX_ROWS ? -E2BIG : -ENOMEM;
			return;
		}
		rows->v = v;
		rows->cap = cap;
	}
	rows->v[rows->n++] = (struct cfi_span){ c->start, c->end, row_of(c) };
}

/* A run of rows, each starting where the one before ended: one FDE, or FDEs end to end. */
struct cfi_run_ref {
	uint64_t start, end;
	size_t first, n;
};

static int run_cmp(const void *a, const void *b)
{
	const struct cfi_run_ref *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	return x->end < y->end ? -1 : x->end > y->end; /* the shorter (inner) one first */
}

/*
 * v[0 .. n) sorted by start into out: the rows of one FDE come in order, so
 * only the runs are sorted (thousands, not the tens of thousands of rows).
 * 0 or -ENOMEM.
 */
static int rows_sort(const struct cfi_span *v, size_t n, struct cfi_span *out)
{
	struct cfi_run_ref *runs = malloc(n * sizeof(*runs));
	size_t m = 0, k = 0;

	if (!runs)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (!m || v[i].start != runs[m - 1].end)
			runs[m++] = (struct cfi_run_ref){ v[i].start, v[i].start, i, 0 };
		runs[m - 1].end = v[i].end;
		runs[m - 1].n++;
	}
	qsort(runs, m, sizeof(*runs), run_cmp);
	for (size_t r = 0; r < m; r++) {
		memcpy(&out[k], &v[runs[r].first], runs[r].n * sizeof(*out));
		k += runs[r].n;
	}
	free(runs);
	return 0;
}

static bool row_eq(const struct cfi_row *a, const struct cfi_row *b)
{
	return !memcmp(a, b, sizeof(*a));
}

/*
 * The rows in address order as points (start, rule), each holding until the
 * next: where a span ends before the next one starts, a CFI_UNKNOWN point
 * marks the gap; a span overlapping the next one (an FDE nested in another)
 * is cut where the next starts; of FDEs starting at one address the first
 * (shorter) one counts. Equal neighbours merge. Returns the number of points
 * (at most 2n).
 */
static size_t rows_flatten(const struct cfi_span *v, size_t n, struct cfi_span *out)
{
	static const struct cfi_row unknown = { 0 };
	size_t m = 0;

	for (size_t i = 0, j; i < n; i = j) {
		uint64_t next, end;

		for (j = i + 1; j < n && v[j].start == v[i].start; j++)
			;
		next = j < n ? v[j].start : v[i].end;
		end = v[i].end < next ? v[i].end : next;
		if (!m || !row_eq(&out[m - 1].r, &v[i].r))
			out[m++] = (struct cfi_span){ v[i].start, end, v[i].r };
		if (end < next && !row_eq(&out[m - 1].r, &unknown))
			out[m++] = (struct cfi_span){ end, next, unknown };
		out[m - 1].end = next;
	}
	return m;
}

/* Bytes of a table of n rows over span bytes, with the offsets of its parts. */
static size_t table_layout(struct cfi_table_hdr *h, size_t n, uint64_t span)
{
	h->n_rows = (uint32_t)n;
	h->n_blocks = (uint32_t)((span >> CFI_BLOCK_SHIFT) + 2);
	h->rows_off = (uint32_t)((sizeof(*h) + 4 * n + 7) & ~7ul);
	h->block_off = (uint32_t)(h->rows_off + sizeof(struct cfi_row) * n);
	h->ident_off = (uint32_t)((h->block_off + 4ul * h->n_blocks + 7) & ~7ul);
	return h->ident_off + sizeof(struct sym_ident);
}

/* Fill the laid-out table from the flattened points p[0 .. n). */
static void table_fill(uint8_t *mem, const struct cfi_table_hdr *h, const struct cfi_span *p,
		       size_t n)
{
	uint32_t *ip = (uint32_t *)(mem + sizeof(*h));
	struct cfi_row *row = (struct cfi_row *)(mem + h->rows_off);
	uint32_t *block = (uint32_t *)(mem + h->block_off);
	size_t i = 0;

	for (size_t k = 0; k < n; k++) {
		ip[k] = (uint32_t)(p[k].start - h->text_start);
		row[k] = p[k].r;
	}
	for (uint32_t b = 0; b < h->n_blocks; b++) {
		uint64_t at = (uint64_t)b << CFI_BLOCK_SHIFT;

		while (i + 1 < n && ip[i + 1] <= at)
			i++;
		block[b] = (uint32_t)i;
	}
	block[h->n_blocks - 1] = (uint32_t)(n - 1);
}

static struct cfi_table *table_build(struct cfi_span *p, size_t n)
{
	struct cfi_table_hdr h = { .magic = CFI_MAGIC, .version = CFI_VERSION };
	uint8_t *mem;
	struct cfi_table *t;

	if (!n) {
		errno = ENOENT;
		return NULL;
	}
	h.text_start = p[0].start;
	h.span = p[n - 1].end - h.text_start;
	if (h.span >= UINT32_MAX) {
		errno = E2BIG;
		return NULL;
	}
	h.size = table_layout(&h, n, h.span);
	mem = calloc(1, h.size);
	if (!mem)
		return NULL;
	memcpy(mem, &h, sizeof(h));
	table_fill(mem, &h, p, n);
	t = cfi_table_from(mem, h.size, 0);
	if (!t)
		free(mem);
	return t;
}

struct cfi_table *cfi_table_compile(struct sym_file *f)
{
	struct cfi_rows rows = { 0 };
	struct cfi_table *t = NULL;
	struct cfi_span *sorted;

	if (sym_cfi_rows(f, row_add, &rows) || !rows.n) {
		free(rows.v);
		errno = rows.err ? -rows.err : ENOENT;
		return NULL;
	}
	/* sorted: n rows, then room for the 2n points rows_flatten() may make */
	sorted = malloc(3 * rows.n * sizeof(*sorted));
	if (sorted && !rows_sort(rows.v, rows.n, sorted))
		t = table_build(sorted + rows.n, rows_flatten(sorted, rows.n, sorted + rows.n));
	free(sorted);
	free(rows.v);
	if (t)
		sym_file_ident(f, (struct sym_ident *)((uint8_t *)t->mem + t->hdr->ident_off));
	return t;
}

/* A row marked fast is one (the unwinder trusts the mark). */
static bool fast_ok(const struct cfi_row *r)
{
	uint8_t bp = CFI_BP(r->kind);

	if (!(r->kind & CFI_F_FAST))
		return !(r->kind & CFI_F_BP_BASE);
	return (r->kind & (7 | CFI_F_DEREF)) == CFI_CALL &&
	       r->cfa_reg == ((r->kind & CFI_F_BP_BASE) ? DW_RBP : DW_RSP) &&
	       (bp == CFI_BP_SAME || (bp == CFI_BP_CFA && r->bp_off == -16));
}

/* Every part of a table inside its len bytes, every row and block sane. */
static bool table_valid(const struct cfi_table_hdr *h, size_t len)
{
	const uint8_t *mem = (const uint8_t *)h;
	const uint32_t *ip, *block;
	const struct cfi_row *row;
	struct cfi_table_hdr want = *h;

	if (len < sizeof(*h) || h->magic != CFI_MAGIC || h->version != CFI_VERSION || !h->n_rows ||
	    h->n_rows > CFI_MAX_ROWS || h->span >= UINT32_MAX || h->size != len ||
	    h->n_blocks != (h->span >> CFI_BLOCK_SHIFT) + 2 ||
	    table_layout(&want, h->n_rows, h->span) != len || memcmp(&want, h, sizeof(want)))
		return false;
	ip = (const uint32_t *)(mem + sizeof(*h));
	row = (const struct cfi_row *)(mem + h->rows_off);
	block = (const uint32_t *)(mem + h->block_off);
	for (uint32_t i = 0; i < h->n_rows; i++)
		if ((i && ip[i] <= ip[i - 1]) || ip[i] >= h->span || CFI_KIND(row[i].kind) > CFI_PLT ||
		    row[i].cfa_reg > 31 || !fast_ok(&row[i]))
			return false;
	for (uint32_t b = 0; b < h->n_blocks; b++)
		if (block[b] >= h->n_rows || (b && block[b] < block[b - 1]))
			return false;
	return true;
}

struct cfi_table *cfi_table_from(void *mem, size_t len, size_t map_len)
{
	const struct cfi_table_hdr *h = mem;
	struct cfi_table *t;

	if (!table_valid(h, len)) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(1, sizeof(*t));
	if (t)
		t->cache = calloc(CFI_CACHE, sizeof(*t->cache));
	if (!t || !t->cache) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	t->hdr = h;
	t->text_start = h->text_start;
	t->span = h->span;
	t->ip = (const uint32_t *)((const uint8_t *)mem + sizeof(*h));
	t->row = (const struct cfi_row *)((const uint8_t *)mem + h->rows_off);
	t->block = (const uint32_t *)((const uint8_t *)mem + h->block_off);
	t->mem = mem;
	t->map_len = map_len;
	return t;
}

void cfi_table_free(struct cfi_table *t)
{
	if (!t)
		return;
	if (t->map_len)
		munmap(t->mem, t->map_len);
	else
		free(t->mem);
	free(t->cache);
	free(t);
}
