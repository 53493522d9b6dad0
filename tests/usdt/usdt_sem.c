/* SPDX-License-Identifier: MIT */
/*
 * The markers of usdt_target with semaphores: <sys/sdt.h> gives every marker
 * of a translation unit built with _SDT_HAS_SEMAPHORES a semaphore named
 * PROVIDER_NAME_semaphore in .probes, which a tracer increments; the
 * *_ENABLED() test reads it, as dtrace -h headers define it.
 */
#define _SDT_HAS_SEMAPHORES 1
#include <sys/sdt.h>

#include "usdt_target.h"

unsigned short utest_guarded_semaphore __attribute__((section(".probes"), used));

#define UTEST_GUARDED_ENABLED() __builtin_expect(utest_guarded_semaphore != 0, 0)

int sem_round(int i)
{
	long big = -1000L * i - 1;

	if (UTEST_GUARDED_ENABLED()) {
		STAP_PROBE2(utest, guarded, i, big);
		return 1;
	}
	return 0;
}

unsigned short sem_value(void)
{
	return *(volatile unsigned short *)&utest_guarded_semaphore;
}
