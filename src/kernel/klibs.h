/* SPDX-License-Identifier: MIT */
/*
 * libtracefs and libtraceevent, opened (dlopen) by the kernel backend when it
 * is first used, not linked: libuprobes is loaded in every traced image, which
 * never needs them, and each library a process loads costs its start-up
 * (~0.15 ms of CPU for these two: docs/benchmarks.md). Only the calls
 * kgroup.c makes.
 */
#ifndef UPROBES_KERNEL_KLIBS_H
#define UPROBES_KERNEL_KLIBS_H

#include <event-parse.h>
#include <tracefs.h>

struct klibs {
	__typeof__(tracefs_tracing_dir) *tracing_dir;
	__typeof__(tracefs_dynevent_get_all) *dynevent_get_all;
	__typeof__(tracefs_dynevent_info) *dynevent_info;
	__typeof__(tracefs_dynevent_destroy) *dynevent_destroy;
	__typeof__(tracefs_dynevent_list_free) *dynevent_list_free;
	__typeof__(tep_alloc) *tep_alloc;
	__typeof__(tep_free) *tep_free;
	__typeof__(tep_parse_format) *tep_parse_format;
	__typeof__(tep_find_field) *tep_find_field;
};

/* The libraries' calls (opened once, thread-safe), or NULL with -errno in *err and a log. */
const struct klibs *klibs_get(int *err);

#endif
