/* SPDX-License-Identifier: MIT */
/*
 * usdt:PATH:NAME (no provider): a marker name in two providers (tick: alpha and
 * beta), one in one provider only (only: alpha). Each fires once a run.
 */
#include <sys/sdt.h>

int main(int argc, char **argv)
{
	(void)argv;
	STAP_PROBE1(alpha, tick, argc);
	STAP_PROBE1(beta, tick, argc);
	STAP_PROBE1(alpha, only, argc);
	return 0;
}
