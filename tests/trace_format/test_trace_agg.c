/* SPDX-License-Identifier: MIT */
/*
 * Golden tests of the aggregations: count maps and log2 histograms printed
 * as bpftrace prints them. Every expected text is written out from
 * bpftrace's rules (src/output/text.cpp: the range in 16 columns, the count
 * in 8, a bar of count * 52 / max '@' in single precision, truncated; counts
 * ascending), not pasted from this library's output.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "testlib.h"
#include "uprobes_trace.h"

TL_DEFINE("trace_agg");

struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static void mem_close(struct mem *m)
{
	fclose(m->f);
	free(m->buf);
}

/* What trace_agg_print() prints (free with mem_close). */
static const char *agg_text(struct trace_agg *a, struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
	CHECK_EQ_INT(trace_agg_print(a, m->f), 0);
	fflush(m->f);
	return m->buf;
}

static void agg_count(void)
{
	struct trace_agg *a = trace_agg_count_new("calls");
	struct mem m;

	CHECK_EQ_INT(trace_agg_count_add(a, "read", 3), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "write", 1), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "open", 3), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "close", 10), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "read", 2), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "mmap", 0), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "b", 7), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "a", 7), 0);
	CHECK_EQ_INT(trace_agg_count_add(a, "", 1), 0);
	CHECK_STR(agg_text(a, &m), "@calls[mmap]: 0\n"
				   "@calls[]: 1\n"
				   "@calls[write]: 1\n"
				   "@calls[open]: 3\n"
				   "@calls[read]: 5\n"
				   "@calls[a]: 7\n"
				   "@calls[b]: 7\n"
				   "@calls[close]: 10\n");
	mem_close(&m);
	CHECK_EQ_INT(trace_agg_hist_add(a, 1), -EINVAL);
	CHECK_EQ_INT(trace_agg_count_add(a, NULL, 1), -EINVAL);
	trace_agg_free(a);

	a = trace_agg_count_new("@");
	CHECK_STR(agg_text(a, &m), ""); /* bpftrace prints no line for an empty map */
	mem_close(&m);
	CHECK_EQ_INT(trace_agg_count_add(a, "bash", 2), 0);
	CHECK_STR(agg_text(a, &m), "@[bash]: 2\n");
	mem_close(&m);
	trace_agg_free(a);
}

/* 5000 keys, the table grows many times; key i counted i % 10 times, one by one. */
static void agg_count_many(void)
{
	struct trace_agg *a = trace_agg_count_new("k");
	size_t cap = 5000 * 16, n = 0;
	char key[16], *want = malloc(cap);
	struct mem m;
	int err = 0;

	for (int i = 0; i < 5000; i++) {
		snprintf(key, sizeof(key), "k%04d", i);
		err |= trace_agg_count_add(a, key, 0);
		for (int k = 0; k < i % 10; k++)
			err |= trace_agg_count_add(a, key, 1);
	}
	CHECK_EQ_INT(err, 0);
	for (int c = 0; c < 10; c++)
		for (int i = c; i < 5000; i += 10)
			n += snprintf(want + n, cap - n, "@k[k%04d]: %d\n", i, c);
	CHECK_STR(agg_text(a, &m), want);
	mem_close(&m);
	free(want);
	trace_agg_free(a);
}

static void hist_add_all(struct trace_agg *a, const int64_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		CHECK_EQ_INT(trace_agg_hist_add(a, v[i]), 0);
}

/* Bars: count * 52 / max in single precision, truncated: 2/3 -> 34, 1/3 -> 17. */
static void agg_hist_small(void)
{
	static const int64_t v[] = { INT64_MIN, -1, 0, 0, 0, 1, 2, 3, 4, 7, 8, 63 };
	struct trace_agg *a = trace_agg_hist_new("h");
	struct mem m;

	hist_add_all(a, v, sizeof(v) / sizeof(v[0]));
	CHECK_STR(agg_text(a, &m),
		  "@h:\n"
		  "(..., 0)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |\n"
		  "[0]                    3 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
		  "[1]                    1 |@@@@@@@@@@@@@@@@@                                   |\n"
		  "[2, 4)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |\n"
		  "[4, 8)                 2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@                  |\n"
		  "[8, 16)                1 |@@@@@@@@@@@@@@@@@                                   |\n"
		  "[16, 32)               0 |                                                    |\n"
		  "[32, 64)               1 |@@@@@@@@@@@@@@@@@                                   |\n"
		  "\n");
	mem_close(&m);
	CHECK_EQ_INT(trace_agg_count_add(a, "x", 1), -EINVAL);
	trace_agg_free(a);
}

/* Powers of two and their neighbours, K and M labels, starting above [1]. */
static void agg_hist_kilo(void)
{
	static const int64_t v[] = { 1023, 1024, 2047, 2048, (1 << 20) - 1, 1 << 20 };
	struct trace_agg *a = trace_agg_hist_new("@lat");
	struct mem m;

	hist_add_all(a, v, sizeof(v) / sizeof(v[0]));
	CHECK_STR(agg_text(a, &m),
		  "@lat:\n"
		  "[512, 1K)              1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
		  "[1K, 2K)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
		  "[2K, 4K)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
		  "[4K, 8K)               0 |                                                    |\n"
		  "[8K, 16K)              0 |                                                    |\n"
		  "[16K, 32K)             0 |                                                    |\n"
		  "[32K, 64K)             0 |                                                    |\n"
		  "[64K, 128K)            0 |                                                    |\n"
		  "[128K, 256K)           0 |                                                    |\n"
		  "[256K, 512K)           0 |                                                    |\n"
		  "[512K, 1M)             1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
		  "[1M, 2M)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@                          |\n"
		  "\n");
	mem_close(&m);
	trace_agg_free(a);
}

static void agg_hist_huge(void)
{
	static const int64_t tera[] = { (1ll << 40) - 1, 1ll << 40, 1ll << 50 };
	static const int64_t exa[] = { 1ll << 62, INT64_MAX };
	struct trace_agg *a = trace_agg_hist_new("t");
	struct mem m;

	hist_add_all(a, tera, 3);
	CHECK_STR(agg_text(a, &m),
		  "@t:\n"
		  "[512G, 1T)             1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
		  "[1T, 2T)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
		  "[2T, 4T)               0 |                                                    |\n"
		  "[4T, 8T)               0 |                                                    |\n"
		  "[8T, 16T)              0 |                                                    |\n"
		  "[16T, 32T)             0 |                                                    |\n"
		  "[32T, 64T)             0 |                                                    |\n"
		  "[64T, 128T)            0 |                                                    |\n"
		  "[128T, 256T)           0 |                                                    |\n"
		  "[256T, 512T)           0 |                                                    |\n"
		  "[512T, 1P)             0 |                                                    |\n"
		  "[1P, 2P)               1 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
		  "\n");
	mem_close(&m);
	trace_agg_free(a);

	a = trace_agg_hist_new("e");
	CHECK_STR(agg_text(a, &m), ""); /* empty: nothing */
	mem_close(&m);
	hist_add_all(a, exa, 2);
	CHECK_STR(agg_text(a, &m),
		  "@e:\n"
		  "[4E, 8E)               2 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|\n"
		  "\n");
	mem_close(&m);
	trace_agg_free(a);
}

int main(void)
{
	RUN(agg_count);
	RUN(agg_count_many);
	RUN(agg_hist_small);
	RUN(agg_hist_kilo);
	RUN(agg_hist_huge);
	TL_EXIT();
}
