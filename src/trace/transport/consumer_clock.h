/* SPDX-License-Identifier: MIT */
/*
 * Private to trace/transport: the consumer's TSC -> CLOCK_MONOTONIC conversion. Producers stamp records
 * with rdtsc (a few ns, no system call); the consumer keeps pairs (TSC,
 * CLOCK_MONOTONIC) sampled by itself and converts along the line through the
 * oldest and the newest pair, from the newest one.
 *
 * Sampling: the first pair is the process's own, taken when the library was
 * loaded (waited for when that is less than 1 ms ago: not in uprobe trace,
 * whose consumers are made after an image's exec and dynamic loading),
 * another when the consumer is made, then one whenever the time since the
 * newest pair reaches the span of all pairs, capped at 1 s (then every
 * second, during polls); the last 16 pairs are kept. Each pair is the best of 7 tries (clock_gettime between
 * two rdtsc, the narrowest bracket wins), within ~10-30 ns.
 *
 * Precision, when the kernel's clocksource is the TSC (CLOCK_MONOTONIC is
 * then itself a linear function of it, slewed by NTP): a pair's error e
 * (~20 ns) plus the slope's error 2e / span times the distance to the newest
 * pair. Because sampling doubles its interval, a record converted while polls
 * run is within ~2-3 e (under 0.1 us) of the clock_gettime() its producer
 * would have read; a backlog read much later, or records older than the
 * consumer, drift by 2e / span per unit of distance (~40 ppm right after
 * creation, < 0.01 ppm after 16 s). With another clocksource (hpet,
 * kvm-clock...) the fit is still linear but CLOCK_MONOTONIC is not derived
 * from the TSC: expect microseconds; trace_consumer_new() logs a warning.
 */
#ifndef UPROBES_TRACE_TRANSPORT_CONSUMER_CLOCK_H
#define UPROBES_TRACE_TRANSPORT_CONSUMER_CLOCK_H

#include <stdint.h>

#define CONSUMER_CLOCK_PAIRS 16

struct clock_pair {
	uint64_t tsc, ns;
};

struct consumer_clock {
	struct clock_pair p[CONSUMER_CLOCK_PAIRS]; /* p[0] oldest .. p[n - 1] newest */
	int n;
	int tsc_is_clocksource;
	double ns_per_tick; /* slope through p[0] and p[n - 1] */
	uint64_t next_tsc;  /* sample again once the TSC passes this */
};

/* Two pairs, >= 1 ms apart (sleeps only when the library was loaded < 1 ms ago). Logs a warning when the TSC is not the clocksource. */
void consumer_clock_init(struct consumer_clock *k);
/* A new pair if one is due (cheap otherwise: one rdtsc). */
void consumer_clock_tick(struct consumer_clock *k);

static inline uint64_t consumer_clock_ns(const struct consumer_clock *k, uint64_t tsc)
{
	const struct clock_pair *last = &k->p[k->n - 1];
	double off = (double)(int64_t)(tsc - last->tsc) * k->ns_per_tick;

	if (off <= -(double)last->ns)
		return 0;
	if (off >= 9e18)
		return UINT64_MAX;
	return last->ns + (uint64_t)(int64_t)off;
}

#endif
