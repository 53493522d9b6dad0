/* SPDX-License-Identifier: MIT */
/*
 * The order of the library's constructors. The agent's (agent_init) attaches
 * the tracer's probes and starts recording, so it runs last: a call that
 * another constructor made after it (pthread_atfork, clock_gettime) would be
 * counted as the program's. The others take a priority, which puts them
 * before every constructor without one (.init_array.NNNNN comes first).
 */
#ifndef UPROBES_UTIL_CTOR_H
#define UPROBES_UTIL_CTOR_H

#define UPROBES_CTOR_EARLY __attribute__((constructor(200)))

#endif
