/* SPDX-License-Identifier: MIT */
/*
 * Aggregations of the consumer, printed as bpftrace prints its maps
 * (bpftrace src/output/text.cpp and the histogram building of its format
 * code), so that output reads the same whichever tool produced it.
 *
 * count: "@name[key]: count" per key, one line each, ascending by count as
 * bpftrace sorts; bpftrace leaves ties in hash order, here they are ascending
 * by key (bytewise) so the output is reproducible. Nothing is printed for a
 * map without keys.
 *
 * hist (bpftrace's hist() with its default k = 0): bucket 0 holds negative
 * values, bucket 1 the value 0, bucket 2 the value 1, bucket i >= 3 the
 * values [2^(i-2), 2^(i-1)). Printed as
 *
 *   @name:
 *   [4, 8)                 3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
 *   [8, 16)                1 |@@@@@@@@@@@@@@@@@                                   |
 *   <empty line>
 *
 * from the lowest to the highest non-empty bucket (empty ones between are
 * printed with count 0): the range left-aligned in 16 columns ("(..., 0)",
 * "[0]", "[1]", "[2, 4)", then bounds that are multiples of 1024 printed
 * with K, M, G, T, P, E: "[512, 1K)", "[1K, 2K)", ... "[4E, 8E)"), the count
 * right-aligned in 8, " |", a bar of '@' of width count * 52 / max computed
 * in single precision and truncated as bpftrace does, padded to 52, "|".
 * Nothing is printed for an empty histogram.
 *
 * A name is printed with a leading '@' unless it already has one.
 * Aggregations are not thread-safe.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "uprobes_trace.h"

#define HIST_BUCKETS 65 /* negative, 0, then [2^k, 2^(k+1)) for k = 0 .. 62 */
#define BAR_WIDTH    52

enum agg_kind { AGG_COUNT, AGG_HIST };

struct count_slot {
	char *key; /* NULL: free */
	uint64_t hash;
	uint64_t n;
};

struct trace_agg {
	enum agg_kind kind;
	char *name;
	/* count: open addressing, linear probing, cap a power of two */
	struct count_slot *slot;
	size_t cap, n;
	/* hist */
	uint64_t bucket[HIST_BUCKETS];
};

static struct trace_agg *agg_new(enum agg_kind kind, const char *name)
{
	struct trace_agg *a;

	if (!name) {
		errno = EINVAL;
		return NULL;
	}
	a = calloc(1, sizeof(*a));
	if (!a || !(a->name = strdup(name))) {
		free(a);
		errno = ENOMEM;
		return NULL;
	}
	a->kind = kind;
	return a;
}

UPROBE_API struct trace_agg *trace_agg_count_new(const char *name)
{
	return agg_new(AGG_COUNT, name);
}

UPROBE_API struct trace_agg *trace_agg_hist_new(const char *name)
{
	return agg_new(AGG_HIST, name);
}

UPROBE_API void trace_agg_free(struct trace_agg *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->cap; i++)
		free(a->slot[i].key);
	free(a->slot);
	free(a->name);
	free(a);
}

/* ---- count ------------------------------------------------------------------------- */

static uint64_t key_hash(const char *key)
{
	uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */

	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	return h;
}

static struct count_slot *count_find(struct count_slot *slot, size_t cap, const char *key,
				     uint64_t hash)
{
	size_t i = (size_t)hash & (cap - 1);

	while (slot[i].key && (slot[i].hash != hash || strcmp(slot[i].key, key)))
		i = (i + 1) & (cap - 1);
	return &slot[i];
}

static int count_grow(struct trace_agg *a)
{
	size_t cap = a->cap ? a->cap * 2 : 64;
	struct count_slot *slot = calloc(cap, sizeof(*slot));

	if (!slot)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++)
		if (a->slot[i].key)
			*count_find(slot, cap, a->slot[i].key, a->slot[i].hash) = a->slot[i];
	free(a->slot);
	a->slot = slot;
	a->cap = cap;
	return 0;
}

UPROBE_API int trace_agg_count_add(struct trace_agg *a, const char *key, uint64_t n)
{
	struct count_slot *s;
	uint64_t h;

	if (!a || !key || a->kind != AGG_COUNT)
		return -EINVAL;
	if ((a->n + 1) * 4 > a->cap * 3 && count_grow(a))
		return -ENOMEM;
	h = key_hash(key);
	s = count_find(a->slot, a->cap, key, h);
	if (!s->key) {
		s->key = strdup(key);
		if (!s->key)
			return -ENOMEM;
		s->hash = h;
		a->n++;
	}
	s->n += n;
	return 0;
}

static int count_cmp(const void *x, const void *y)
{
	const struct count_slot *a = *(const struct count_slot *const *)x;
	const struct count_slot *b = *(const struct count_slot *const *)y;

	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	return strcmp(a->key, b->key);
}

static const char *at_sign(const char *name)
{
	return name[0] == '@' ? "" : "@";
}

static int count_print(const struct trace_agg *a, FILE *out)
{
	const struct count_slot **v;
	size_t k = 0;

	if (!a->n)
		return 0;
	v = malloc(a->n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < a->cap; i++)
		if (a->slot[i].key)
			v[k++] = &a->slot[i];
	qsort(v, k, sizeof(*v), count_cmp);
	for (size_t i = 0; i < k; i++)
		fprintf(out, "%s%s[%s]: %" PRIu64 "\n", at_sign(a->name), a->name, v[i]->key,
			v[i]->n);
	free(v);
	return 0;
}

/* ---- hist -------------------------------------------------------------------------- */

static int hist_bucket(int64_t v)
{
	if (v < 0)
		return 0;
	if (v == 0)
		return 1;
	return 2 + (63 - __builtin_clzll((uint64_t)v));
}

UPROBE_API int trace_agg_hist_add(struct trace_agg *a, int64_t value)
{
	if (!a || a->kind != AGG_HIST)
		return -EINVAL;
	a->bucket[hist_bucket(value)]++;
	return 0;
}

UPROBE_API int trace_agg_hist_add_bucket(struct trace_agg *a, unsigned int bucket, uint64_t n)
{
	if (!a || a->kind != AGG_HIST || bucket >= HIST_BUCKETS)
		return -EINVAL;
	a->bucket[bucket] += n;
	return 0;
}

/* 2^power as bpftrace labels it: "512", "1K", "2M", ... "8E". */
static void pow2_label(char *buf, size_t len, unsigned int power)
{
	static const char suffix[] = "\0KMGTPE";
	unsigned int decade = power / 10;

	if (decade)
		snprintf(buf, len, "%llu%c", 1ull << (power - 10 * decade), suffix[decade]);
	else
		snprintf(buf, len, "%llu", 1ull << power);
}

/* The range of bucket i (see the top of the file). */
static void hist_range(char *buf, size_t len, int i)
{
	char lo[16], hi[16];

	if (i == 0) {
		snprintf(buf, len, "(..., 0)");
	} else if (i <= 2) {
		snprintf(buf, len, "[%d]", i - 1);
	} else {
		pow2_label(lo, sizeof(lo), (unsigned int)i - 2);
		pow2_label(hi, sizeof(hi), (unsigned int)i - 1);
		snprintf(buf, len, "[%s, %s)", lo, hi);
	}
}

static void hist_row(FILE *out, int i, uint64_t count, uint64_t max)
{
	/* bpftrace: int(count / float(max) * 52), in single precision */
	int width = (int)((float)count / (float)max * BAR_WIDTH);
	char range[40], bar[BAR_WIDTH + 1];

	hist_range(range, sizeof(range), i);
	memset(bar, '@', (size_t)width);
	bar[width] = 0;
	fprintf(out, "%-16s%8" PRIu64 " |%-*s|\n", range, count, BAR_WIDTH, bar);
}

static int hist_print(const struct trace_agg *a, FILE *out)
{
	int lo = -1, hi = -1;
	uint64_t max = 0;

	for (int i = 0; i < HIST_BUCKETS; i++) {
		if (!a->bucket[i])
			continue;
		if (lo < 0)
			lo = i;
		hi = i;
		if (a->bucket[i] > max)
			max = a->bucket[i];
	}
	if (lo < 0)
		return 0;
	fprintf(out, "%s%s:\n", at_sign(a->name), a->name);
	for (int i = lo; i <= hi; i++)
		hist_row(out, i, a->bucket[i], max);
	fputc('\n', out);
	return 0;
}

UPROBE_API int trace_agg_print(const struct trace_agg *a, FILE *out)
{
	int err;

	if (!a || !out)
		return -EINVAL;
	err = a->kind == AGG_COUNT ? count_print(a, out) : hist_print(a, out);
	if (!err && ferror(out))
		err = -EIO;
	return err;
}
