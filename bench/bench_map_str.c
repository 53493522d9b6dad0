/* SPDX-License-Identifier: MIT */
/*
 * Maps of strings in the target (issue 16): the cost of a string value map's
 * set and get (64-byte values, two buffers a slot: map_shm.h) beside the
 * one-word value map's, one thread, a key per call out of 1,024 (tids), in one
 * run. Each row is a noinline loop of N calls, so that callgrind's inclusive
 * count of the loop / N is the instructions per call:
 *   valgrind --tool=callgrind --callgrind-out-file=F build/bench/bench_map_str -n 100000
 *   callgrind_annotate --inclusive=yes F | grep loop_
 * Without valgrind it prints ns per call (CLOCK_MONOTONIC, medians of 5 rounds), a
 * table and the summary line bench/run.sh collects.
 * Usage: bench_map_str [-n calls]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "trace/map/map.h"

static struct map_region *r;
static int int_map, str_map;
static char val[64] = "a string of bpftrace's sixty-three bytes at most, as comm is";

#define LOOP(name, body)                                  \
	static __attribute__((noinline)) void name(long n) \
	{                                                  \
		for (long i = 0; i < n; i++) {             \
			uint64_t k = (uint64_t)(i & 1023); \
			body;                              \
		}                                          \
	}
LOOP(loop_int_set, map_value_set(r, int_map, &k, i))
LOOP(loop_int_get, { int64_t v; map_value_get(r, int_map, &k, &v); })
LOOP(loop_str_set, map_value_set_bytes(r, str_map, &k, val))
LOOP(loop_str_get, { char v[64]; map_value_get_bytes(r, str_map, &k, v); })
LOOP(loop_str_del_set, { map_value_delete(r, str_map, &k);
			 map_value_set_bytes(r, str_map, &k, val); })

static double ns_per(void (*f)(long), long n)
{
	double best[5];

	for (int round = 0; round < 5; round++) {
		struct timespec a, b;

		clock_gettime(CLOCK_MONOTONIC, &a);
		f(n);
		clock_gettime(CLOCK_MONOTONIC, &b);
		best[round] = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / n;
	}
	for (int i = 0; i < 5; i++) /* median of 5 */
		for (int j = i + 1; j < 5; j++)
			if (best[j] < best[i]) {
				double t = best[i];
				best[i] = best[j];
				best[j] = t;
			}
	return best[2];
}

int main(int argc, char **argv)
{
	struct map_region_opts o = { .sz = sizeof(o), .n_shards = 4 };
	struct map_def di = { .name = "int", .kind = MAP_VALUE, .key_size = 8 };
	struct map_def ds = { .name = "str", .kind = MAP_VALUE, .key_size = 8, .value_size = 64 };
	long n = 1000000;
	int opt;

	while ((opt = getopt(argc, argv, "n:")) != -1)
		if (opt == 'n')
			n = atol(optarg);
	r = map_region_create(&o);
	if (!r || (int_map = map_define(r, &di)) < 0 || (str_map = map_define(r, &ds)) < 0 ||
	    map_region_seal(r)) {
		fprintf(stderr, "bench_map_str: no region\n");
		return 1;
	}
	loop_int_set(1024); /* every key there: the rows measure updates, not inserts */
	loop_str_set(1024);
	double is = ns_per(loop_int_set, n), ig = ns_per(loop_int_get, n);
	double ss = ns_per(loop_str_set, n), sg = ns_per(loop_str_get, n);
	double sd = ns_per(loop_str_del_set, n);

	printf("%-18s %8s\n", "row", "ns/call");
	printf("%-18s %8.1f\n%-18s %8.1f\n%-18s %8.1f\n%-18s %8.1f\n%-18s %8.1f\n",
	       "int set", is, "int get", ig, "str set", ss, "str get", sg, "str delete+set", sd);
	/* bench/run.sh collects this line */
	printf("summary: int_set_ns=%.1f int_get_ns=%.1f str_set_ns=%.1f str_get_ns=%.1f "
	       "str_delete_set_ns=%.1f\n", is, ig, ss, sg, sd);
	map_region_free(r);
	return 0;
}
