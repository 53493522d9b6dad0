/* SPDX-License-Identifier: MIT */
/* TSC calibration of the consumer: see consumer_clock.h for the method and its precision. */
#include <fcntl.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "arch/arch.h"
#include "trace/transport/consumer_clock.h"
#include "util/ctor.h"
#include "util/log.h"

#define CLOCKSOURCE "/sys/devices/system/clocksource/clocksource0/current_clocksource"

static struct clock_pair sample(void)
{
	struct clock_pair best = {0, 0};
	uint64_t best_gap = UINT64_MAX;

	for (int i = 0; i < 7; i++) {
		struct timespec ts;
		uint64_t t0 = arch_ticks_fenced(), t1;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		t1 = arch_ticks_fenced();
		if (t1 - t0 < best_gap) {
			best_gap = t1 - t0;
			best.tsc = t0 + (t1 - t0) / 2;
			best.ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		}
	}
	return best;
}

static void add_pair(struct consumer_clock *k, struct clock_pair p)
{
	uint64_t span, ticks_per_s;

	if (k->n == CONSUMER_CLOCK_PAIRS) {
		memmove(&k->p[0], &k->p[1], (CONSUMER_CLOCK_PAIRS - 1) * sizeof(k->p[0]));
		k->n--;
	}
	k->p[k->n++] = p;
	span = p.tsc - k->p[0].tsc;
	if (k->n < 2 || p.tsc <= k->p[0].tsc || p.ns <= k->p[0].ns) {
		k->next_tsc = p.tsc; /* no usable slope yet: sample at the next tick */
		return;
	}
	k->ns_per_tick = (double)(p.ns - k->p[0].ns) / (double)span;
	ticks_per_s = (uint64_t)(1e9 / k->ns_per_tick);
	k->next_tsc = p.tsc + (span < ticks_per_s ? span : ticks_per_s);
}

static int tsc_is_clocksource(void)
{
	char buf[32] = "";
	int fd = open(CLOCKSOURCE, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 && !strncmp(buf, ARCH_TICKS_CLOCKSOURCE "\n", sizeof(ARCH_TICKS_CLOCKSOURCE));
}

/*
 * The process's first pair, taken when the library is loaded: by the time a
 * consumer is made (an image's READY comes after its fork, exec and dynamic
 * loading) it is usually more than CALIBRATION_NS old, and a new consumer's
 * slope is drawn from it without waiting. A pair is a few hundred ns of
 * reads (no write, no system call with the vDSO), also in traced images,
 * where nothing uses it.
 */
#define CALIBRATION_NS 1000000u
static struct clock_pair first_pair;

UPROBES_CTOR_EARLY static void take_first_pair(void)
{
	first_pair = sample();
}

void consumer_clock_init(struct consumer_clock *k)
{
	struct clock_pair from = first_pair, now; /* read only: consumers of any thread */

	memset(k, 0, sizeof(*k));
	k->tsc_is_clocksource = tsc_is_clocksource();
	now = sample();
	if (!from.ns || now.ns < from.ns || now.tsc <= from.tsc)
		from = now; /* no constructor ran, or the TSC went back (another CPU's) */
	if (now.ns - from.ns < CALIBRATION_NS) { /* too young: wait out the rest */
		uint64_t left = CALIBRATION_NS - (now.ns - from.ns);

		nanosleep(&(struct timespec){ .tv_nsec = (long)left }, NULL);
		now = sample();
	}
	add_pair(k, from);
	add_pair(k, now);
	if (!k->tsc_is_clocksource)
		log_msg(UPROBE_LOG_INFO,
			"trace consumer: the clocksource (%s) is not the TSC: "
			"record timestamps are approximate",
			CLOCKSOURCE);
	if (k->ns_per_tick <= 0)
		log_msg(UPROBE_LOG_WARN, "trace consumer: the TSC did not advance over 1 ms: "
					 "record timestamps are wrong until it does");
}

void consumer_clock_tick(struct consumer_clock *k)
{
	if (arch_ticks() >= k->next_tsc)
		add_pair(k, sample());
}
