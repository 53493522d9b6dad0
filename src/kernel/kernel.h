/* SPDX-License-Identifier: MIT */
/*
 * kernel/ — the kernel backend (public API: uprobes_kernel.h), private to the layer:
 *   kline.c    specs -> dynamic_events lines (symbols, short names, $argN)
 *   kgroup.c   tracefs: the tracer's group, the guard, stale groups, events
 *   kread.c    perf_event_open per event and CPU, rings, decoding into records;
 *              counting mode through the uprobe PMU
 *   kapi.c     the object of uprobes_kernel.h: new, add, enable, poll, count, free
 * Above trace/spec, trace/fetch (layouts) and core (resolve), beside trace/session.
 */
#ifndef UPROBES_KERNEL_KERNEL_H
#define UPROBES_KERNEL_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uprobes_kernel.h"

#define KERNEL_GROUP_PREFIX "uprobes_"
#define KERNEL_COMM_FIELD "__comm"
#define KERNEL_TRACEFS "/sys/kernel/tracing"

struct kevent {
	const struct trace_spec *spec;
	uint32_t id;	     /* the records' event_id */
	int kid;	     /* the kernel's event id (events/GROUP/eN/id), the samples' common_type */
	bool is_ret;
	struct trace_layout layout;
	/* where each field of layout is in the sample's raw data (from the event's format) */
	int *koff, *ksize; /* per field; ksize < 0: __data_loc */
	int comm_off;	     /* __comm's __data_loc, -1: none */
	uint32_t immstr_len; /* bytes of the spec's immediate strings (not in the samples) */
	int ip_off, func_off; /* __probe_ip / __probe_ret_ip, __probe_func */
	int *fds;	     /* one per CPU */
	char *path;	     /* counting mode: the file and offset for the uprobe PMU */
	uint64_t offset;
};

/* A sample taken out of a ring, waiting to be sorted by time and decoded. */
struct ksample {
	uint64_t time;
	uint32_t pid, tid, cpu, size;
	uint8_t *raw; /* malloc'd */
};

struct kring {
	int fd;
	void *base;
	size_t size; /* data bytes */
};

/* The opts' size of callers built before exclude_tid (accepted: the field is 0). */
#define KOPTS_MIN_SZ offsetof(struct trace_kernel_opts, exclude_tid)

struct trace_kernel {
	struct trace_kernel_opts opts;
	char tracefs[256];
	char group[64];
	int guard_fd;	/* the write end of the guard's pipe */
	pid_t guard_pid;
	int ncpu;
	struct kevent *ev;
	int n_ev, room;
	struct kring *rings; /* per CPU */
	bool enabled;
	uint64_t records, malformed;
	struct ksample *batch; /* kread.c: samples of one poll, sorted */
	size_t batch_room, batch_pos;
};

/* kline.c: close the file kept open for the next translation. */
void kline_cache_drop(void);
/* The probe's file (absolute) and file offset, proved an instruction boundary. */
int kline_place(const struct trace_spec *spec, char *path, size_t len, uint64_t *off,
		struct trace_error *err);

/* kgroup.c */
int kgroup_start(struct trace_kernel *k);
int kgroup_create(struct trace_kernel *k, const char *line);
int kgroup_event_id(const struct trace_kernel *k, const char *event);
int kgroup_layout(struct trace_kernel *k, struct kevent *e, const char *event);
void kgroup_remove(struct trace_kernel *k);

/* kread.c */
int kread_open(struct trace_kernel *k);
void kread_close(struct trace_kernel *k);

#endif
