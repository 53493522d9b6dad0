/* SPDX-License-Identifier: MIT */
/*
 * Every direct branch of a code mapping and every exception landing pad of its
 * file, indexed by target, built once per mapping. A window must not be the target of any branch of the module, not
 * only of its own function: glibc's __mempcpy_*, for one, jumps to the
 * instruction after the first one of __memmove_* (a function of its own).
 */
#include <errno.h>
#include <stdlib.h>

#include "arch/x86_64/optimize.h"
#include "core/core.h"
#include "core/resolve.h"
#include "sym/sym.h"
#include "util/log.h"

struct branch_ref {
	uint64_t target, src;
};

struct branch_index {
	uint64_t start, end;
	ino_t ino;
	struct branch_ref *refs; /* sorted by target */
	size_t n, cap;
	struct branch_index *next;
};

static struct branch_index *indexes;

static void index_add(uint64_t src, uint64_t target, void *arg)
{
	struct branch_index *bi = arg;
	struct branch_ref *grown;

	if (bi->n == bi->cap) {
		bi->cap = bi->cap ? bi->cap * 2 : 4096;
		grown = realloc(bi->refs, bi->cap * sizeof(*grown));
		if (!grown)
			return; /* index_build notices n < branches */
		bi->refs = grown;
	}
	bi->refs[bi->n++] = (struct branch_ref){ target, src };
}

struct pad_ctx {
	struct branch_index *bi;
	uint64_t bias;
};

/* Landing pads are where the unwinder resumes: branch targets with no source. */
static void index_add_pad(uint64_t vaddr, void *arg)
{
	struct pad_ctx *pc = arg;

	index_add(0, vaddr + pc->bias, pc->bi);
}

static int ref_cmp(const void *a, const void *b)
{
	const struct branch_ref *x = a, *y = b;

	return x->target < y->target ? -1 : x->target > y->target;
}

static struct branch_index *index_build(const struct probe_target *t)
{
	size_t len = t->map_end - t->map_start, seen;
	struct branch_index *bi = calloc(1, sizeof(*bi));
	uint8_t *code = malloc(len);

	if (!bi || !code)
		goto err;
	bi->start = t->map_start;
	bi->end = t->map_end;
	bi->ino = t->map_ino;
	target_read(t, t->map_start, code, len);
	seen = arch_scan_branches(code, len, t->map_start, index_add, bi);
	if (seen != bi->n)
		goto err;
	free(code);
	if (t->path[0] == '/') {
		struct sym_file *f = sym_file_open(t->path);
		struct pad_ctx pc = { bi, t->bias };

		if (f)
			sym_landing_pads(f, index_add_pad, &pc);
		sym_file_close(f);
	}
	if (bi->n) /* qsort(NULL, 0) is undefined behaviour (UBSan) */
		qsort(bi->refs, bi->n, sizeof(*bi->refs), ref_cmp);
	bi->next = indexes;
	indexes = bi;
	return bi;
err:
	if (bi)
		free(bi->refs);
	free(bi);
	free(code);
	return NULL;
}

int branches_into(const struct probe_target *t, uint64_t lo, uint64_t hi, uint64_t *src,
		  uint64_t *target)
{
	struct branch_index *bi;
	size_t a = 0, b;

	for (bi = indexes; bi; bi = bi->next)
		if (bi->start == t->map_start && bi->end == t->map_end && bi->ino == t->map_ino)
			break;
	if (!bi && !(bi = index_build(t)))
		return -ENOMEM;
	/* First reference with target > lo. */
	b = bi->n;
	while (a < b) {
		size_t mid = (a + b) / 2;

		if (bi->refs[mid].target <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	if (a < bi->n && bi->refs[a].target < hi) {
		*src = bi->refs[a].src;
		*target = bi->refs[a].target;
		return 1;
	}
	return 0;
}
