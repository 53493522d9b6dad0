/* SPDX-License-Identifier: MIT */
/*
 * bpftrace's @[arg0] = count() through the map API at a real probe: map_f
 * probed in this process (jump-optimized), its handler counting by its first
 * argument in a map; THREADS threads make N calls of map_f(i % 5) each. Every
 * key must count exactly THREADS * N / 5, with no update dropped, whatever the
 * hit rate. Usage: map_keyed [N [THREADS]] (default 5,000,000 x 4).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "trace/map/map.h"
#include "trace/map/map_shm.h"
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


/*
 * The count stub into a dense count map (uprobe trace --count's path): two
 * entry probes whose handler is the fallback count of its key, enabled with
 * their dense words; THREADS threads call map_g0 N times and map_g1 N / 2
 * times, then a fork child calls map_g0 1000 times (its own shard, its base
 * reset). Each key exact; the stub took hits (its words are not 0).
 */
static int dense_map;
static uint32_t dense_keys[2] = { 0, 1 };

__attribute__((noinline)) long map_g0(long i)
{
	__asm__ volatile("" : : "r"(i) : "memory");
	return i + 1;
}

__attribute__((noinline)) long map_g1(long i)
{
	__asm__ volatile("" : : "r"(i) : "memory");
	return i + 2;
}

static void dense_handler(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p;
	(void)regs;
	map_agg_count(region, dense_map, ctx);
}

static void *dense_caller(void *arg)
{
	long sum = 0;

	(void)arg;
	for (long i = 0; i < n_calls; i++) {
		sum += map_g0(i);
		if (i & 1)
			sum += map_g1(i);
	}
	return (void *)sum;
}

static int dense_key(const void *key, const struct map_value *v, void *ctx)
{
	struct seen *s = ctx;
	uint32_t k;

	memcpy(&k, key, sizeof(k));
	if (k < 5)
		s->count[k] = v->count;
	else
		s->other++;
	return 0;
}

static void dense_count_exact(int threads)
{
	struct map_def d = { .name = "@c", .kind = MAP_COUNT, .key_size = 4, .dense = 2 };
	struct uprobe_opts o = { .sz = sizeof(o), .handler = dense_handler,
				 .flags = UPROBE_F_COUNT_STUB | UPROBE_F_HANDLER_NO_SIMD |
					  UPROBE_F_HANDLER_NO_FLAGS };
	struct uprobe *p[2];
	uint64_t offs[2], stub = 0;
	struct seen s = { 0 };
	pthread_t th[64];
	int status = -1;
	pid_t child;

	region = map_region_create(NULL);
	dense_map = map_define(region, &d);
	CHECK_EQ_INT(map_region_seal(region), 0);
	CHECK_EQ_INT(map_region_count_claim(region), 0);
	for (int k = 0; k < 2; k++) {
		o.ctx = &dense_keys[k];
		p[k] = uprobe_attach_addr(k ? (void *)map_g1 : (void *)map_g0, &o);
		CHECK(p[k] != NULL);
		if (!p[k])
			return;
		offs[k] = map_dense_slot(region, dense_map, (uint32_t)k);
		CHECK(offs[k] != 0);
	}
	if (uprobe_count_stub(p[0]))
		CHECK_EQ_INT(uprobe_count_enable_many(p, offs, 2), 0);
	for (int i = 0; i < threads; i++)
		pthread_create(&th[i], NULL, dense_caller, NULL);
	for (int i = 0; i < threads; i++)
		pthread_join(th[i], NULL);
	child = fork();
	if (child == 0) {
		long sum = 0;

		for (long i = 0; i < 1000; i++)
			sum += map_g0(i);
		_exit(sum == 500500 ? 0 : 1);
	}
	CHECK(child > 0);
	waitpid(child, &status, 0);
	CHECK_EQ_INT(status, 0);
	for (int k = 0; k < 2; k++)
		CHECK_EQ_INT(uprobe_count_enable(p[k], 0), 0);
	for (uint32_t sh = 0; sh <= region->n_shards; sh++)
		stub += *(const uint64_t *)(region->base + region->shards_off +
					    (uint64_t)sh * region->shard_stride +
					    region->maps[dense_map].dense_off);
	printf("  %d threads x %ld calls, %llu counted by the stub\n", threads, n_calls,
	       (unsigned long long)stub);
	if (uprobe_count_stub(p[0]))
		CHECK(stub > 0);
	CHECK_EQ_INT(map_read(region, dense_map, dense_key, &s), 0);
	CHECK_EQ_U64(s.count[0], (uint64_t)threads * (uint64_t)n_calls + 1000);
	CHECK_EQ_U64(s.count[1], (uint64_t)threads * (uint64_t)(n_calls / 2));
	CHECK_EQ_INT(s.other, 0);
	CHECK_EQ_INT(map_clear(region, dense_map), -ENOTSUP);
	for (int k = 0; k < 2; k++)
		uprobe_free(p[k]);
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
	tl_begin();
	dense_count_exact(threads);
	tl_end("dense_count_exact");
	TL_EXIT();
}
