/* SPDX-License-Identifier: MIT */
#ifndef DEMO_TRACE_DEMO_H
#define DEMO_TRACE_DEMO_H

/* Trace the demo's functions with trace events while workload runs; print what came. */
int trace_demo(const char *exe, void (*workload)(void));

#endif
