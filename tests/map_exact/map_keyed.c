/* SPDX-License-Identifier: MIT */
/*
 * bpftrace's @[arg0] = count() through the map API at a real probe: map_f
 * probed in this process (jump-optimized), its handler counting by its first
 * argument in a map; THREADS threads make N calls of map_f(i % 5) each. Every
 * key must count exactly THREADS * N / 5, with no update dropped, whatever the
 * hit rate. Usage: map_keyed [N [THREADS]] (default 5,000,000 x 4).
 */
#include <pthread.h>
#include <stdlib.h>

#include "testlib.h"
#include "trace/map/map.h"
#include "uprobes.h"

TL_DEFINE("map_exact");

static struct map_region *region;
static int by_arg0, hist_arg1;
static long n_calls;

__attribute__((noinline)) long map_f(long key, long i)
{
	__asm__ volatile("" : : "r"(key), "r"(i) : "memory");
	return key + i;
}

/* @[arg0] = count(); @h = hist(arg1) */
static void handler(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p;
	(void)ctx;
	map_agg_update(region, by_arg0, &regs->rdi, 1);
	map_agg_update(region, hist_arg1, NULL, (int64_t)regs->rsi);
}

static void *caller(void *arg)
{
	long sum = 0;

	(void)arg;
	for (long i = 0; i < n_calls; i++)
		sum += map_f(i % 5, i);
	return (void *)sum;
}

struct seen {
	uint64_t count[5];
	int other;
	uint64_t buckets[MAP_HIST_BUCKETS];
};

static int per_key(const void *key, const struct map_value *v, void *ctx)
{
	struct seen *s = ctx;
	uint64_t k;

	memcpy(&k, key, sizeof(k));
	if (k < 5)
		s->count[k] = v->count;
	else
		s->other++;
	return 0;
}

static int hist(const void *key, const struct map_value *v, void *ctx)
{
	struct seen *s = ctx;

	(void)key;
	memcpy(s->buckets, v->buckets, sizeof(s->buckets));
	return 0;
}

static void keyed_count_exact(int threads)
{
	struct map_def d1 = { .name = "@", .kind = MAP_COUNT, .key_size = 8 };
	struct map_def d2 = { .name = "@h", .kind = MAP_HIST };
	struct uprobe_opts o = { .sz = sizeof(o), .handler = handler,
				 .flags = UPROBE_F_HANDLER_NO_SIMD };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct map_stats st;
	struct seen s = { 0 };
	pthread_t th[64];
	struct uprobe *p;
	uint64_t want_hist = 0;

	region = map_region_create(NULL);
	by_arg0 = map_define(region, &d1);
	hist_arg1 = map_define(region, &d2);
	CHECK_EQ_INT(map_region_seal(region), 0);
	p = uprobe_attach_addr((void *)map_f, &o);
	CHECK(p != NULL);
	if (!p)
		return;
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, caller, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	printf("  mode %s, %d threads x %ld calls\n", uprobe_mode_name(info.mode), threads,
	       n_calls);
	uprobe_detach(p);
	CHECK_EQ_INT(map_read(region, by_arg0, per_key, &s), 0);
	for (int k = 0; k < 5; k++)
		CHECK_EQ_U64(s.count[k], (uint64_t)threads * (uint64_t)(n_calls / 5));
	CHECK_EQ_INT(s.other, 0);
	CHECK_EQ_INT(map_read(region, hist_arg1, hist, &s), 0);
	/* arg1 is i = 0 .. N-1 in each thread: bucket 1 holds 0, bucket b >= 2 [2^(b-2), 2^(b-1)). */
	for (unsigned int b = 1; b < MAP_HIST_BUCKETS; b++) {
		uint64_t lo = b == 1 ? 0 : 1ull << (b - 2), hi = b == 1 ? 1 : 1ull << (b - 1);
		uint64_t n = (uint64_t)n_calls;
		uint64_t want = lo >= n ? 0 : ((hi < n ? hi : n) - lo) * (uint64_t)threads;

		CHECK_EQ_U64(s.buckets[b], want);
		want_hist += s.buckets[b];
	}
	CHECK_EQ_U64(want_hist, (uint64_t)threads * (uint64_t)n_calls);
	CHECK_EQ_INT(map_stats_get(region, by_arg0, &st), 0);
	CHECK_EQ_U64(st.dropped_full + st.dropped_shard + st.dropped_nested + st.corrupt, 0);
	uprobe_free(p);
	map_region_free(region);
}

int main(int argc, char **argv)
{
	int threads = argc > 2 ? atoi(argv[2]) : 4;

	n_calls = argc > 1 ? atol(argv[1]) : 5000000;
	if (threads < 1 || threads > 64 || n_calls < 5)
		return 2;
	tl_begin();
	keyed_count_exact(threads);
	tl_end("keyed_count_exact");
	TL_EXIT();
}
