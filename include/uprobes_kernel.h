/* SPDX-License-Identifier: MIT */
/*
 * libuprobes' kernel backend: the same probe lines (uprobes_trace.h), probed
 * by the kernel's uprobe engine in every process that maps the file, started
 * before or after the tracer. The specs are translated into tracefs
 * dynamic_events lines in a group of this tracer's own ("uprobes_<pid>"),
 * read from per-CPU perf rings and decoded with each event's format into the
 * same struct trace_record (and payload layout, trace_layout_of()) as the
 * agent's rings give: the formatters and aggregations serve both backends.
 *
 * Nothing is left behind: the group is removed by trace_kernel_free(), and
 * by a guard process if the tracer dies without it (SIGKILL); groups of dead
 * tracers are removed by the next trace_kernel_new().
 *
 * Needs root (or CAP_PERFMON with write access to tracefs) and tracefs
 * mounted at /sys/kernel/tracing. Conventions as in uprobes.h.
 */
#ifndef UPROBES_KERNEL_H
#define UPROBES_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uprobes_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The dynamic_events line of spec (a plain probe: sdt: resolved, DWARF
 * fetch-args resolved) as event GROUP/EVENT:
 *   "p:GROUP/EVENT /abs/path:0xFILEOFF[(0xREFCTR)] NAME=FETCHARG:TYPE..."
 * A symbol becomes its file offset (proved an instruction boundary), a short
 * library name ("libc") the path this process, then the loader's default
 * directories, then PATH give; $argN becomes %di, %si, %dx, %cx, %r8, %r9,
 * then $stack(N-6). With comm set, " __comm=$comm:string" is appended (the
 * thread's name at the hit; trace_kernel decodes it into rec->comm).
 * Returns the length of the line (snprintf-style) or -errno with err filled
 * (token: what the kernel cannot take; the message in uprobe_last_error()).
 */
UPROBE_API int trace_kernel_line(const struct trace_spec *spec, const char *group,
				 const char *event, int comm, char *buf, size_t len,
				 struct trace_error *err);

/* The absolute path of a file named as in a spec ("libc", "./prog", "/bin/bash"). */
UPROBE_API int trace_kernel_path(const char *name, char *out, size_t len);

struct trace_kernel;

struct trace_kernel_opts {
	size_t sz;		/* sizeof(struct trace_kernel_opts) */
	pid_t pid;		/* 0: every process; > 0: that process only (its threads) */
	int inherit;		/* with pid: and the processes it starts after the enable */
	unsigned int ring_pages; /* pages per CPU ring, a power of two (default 256: 1 MiB) */
	int counting;		/* count hits only, through the uprobe PMU: no trace event,
				 * no record (trace_kernel_count), nothing in tracefs */
	pid_t exclude_tid;	/* > 0: no record of the thread of that id (a filter in the
				 * kernel, common_pid != tid; not in counting mode): a
				 * tracer's own reading thread, whose work (malloc) would
				 * otherwise hit its probes and feed its rings forever */
};

/*
 * Check tracefs and the rights (errors name what is missing: EACCES/EPERM
 * "needs root or CAP_PERFMON", ENODEV "mount -t tracefs nodev
 * /sys/kernel/tracing"), remove the groups of tracers that are gone, start
 * the guard. NULL with errno and uprobe_last_error() on failure.
 */
UPROBE_API struct trace_kernel *trace_kernel_new(const struct trace_kernel_opts *opts);
/* The group of this tracer ("uprobes_<pid>"). */
UPROBE_API const char *trace_kernel_group(const struct trace_kernel *k);
/*
 * Create the kernel event for spec (kept by pointer until free); records of
 * its hits carry event_id id. 0 or -errno (the kernel's own complaint from
 * tracing/error_log in uprobe_last_error()).
 */
UPROBE_API int trace_kernel_add(struct trace_kernel *k, const struct trace_spec *spec, uint32_t id);
/* Open the perf events of every added probe on every CPU and enable them. 0 or -errno. */
UPROBE_API int trace_kernel_enable(struct trace_kernel *k);
/*
 * Decoded records of every CPU's ring, oldest first within one poll (merged by
 * time), waiting up to timeout_ms when none is ready. rec->comm, ->data are
 * valid during the call only; fn's non-zero return stops the poll. Returns the
 * number of records or -errno.
 */
UPROBE_API int trace_kernel_poll(struct trace_kernel *k, int timeout_ms, trace_record_fn fn,
				 void *ctx);

struct trace_kernel_stats {
	size_t sz;	   /* sizeof(struct trace_kernel_stats) */
	uint64_t records;  /* decoded and passed on */
	uint64_t lost;	   /* dropped by the kernel, ring full (exact: PERF_FORMAT_LOST) */
	uint64_t malformed; /* samples that fit no event of ours, not passed on */
};

UPROBE_API int trace_kernel_stats(const struct trace_kernel *k, struct trace_kernel_stats *st);
/*
 * The probe of event_id id, as the kernel counted, summed over the CPUs: its
 * hits (every hit, also those dropped or of processes filtered out: exact in
 * counting mode) and the samples dropped because a ring was full (NULLs
 * allowed). 0, -ENOENT (no such probe) or -EINVAL (not enabled).
 */
UPROBE_API int trace_kernel_count(const struct trace_kernel *k, uint32_t id, uint64_t *hits,
				  uint64_t *lost);
/*
 * Stop the kernel's probes writing records (their perf events disabled); what
 * the rings hold can still be polled, and a poll ends once they are empty
 * (a stop's last drain: a probe hit ever faster, or by the drain itself,
 * would never let it end). 0 or -errno.
 */
UPROBE_API int trace_kernel_disable(struct trace_kernel *k);
/* Disable, close, remove the group, stop the guard. */
UPROBE_API void trace_kernel_free(struct trace_kernel *k);

/* Remove the groups uprobes_<pid> of tracers that are gone; their count or -errno. */
UPROBE_API int trace_kernel_remove_stale(void);

#ifdef __cplusplus
}
#endif

#endif
