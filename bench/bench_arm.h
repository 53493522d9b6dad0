/* SPDX-License-Identifier: MIT */
/*
 * Arming what the benches time (bench_arm.c), the same way in every program:
 * this library's probe with its mode checked, a kernel uprobe or uretprobe
 * of the uprobe PMU (perf_event_open, no tracefs), and bpftrace count() in a
 * process of its own.
 */
#ifndef BENCH_ARM_H
#define BENCH_ARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "uprobes.h"
#include "harness.h"

/* ---- this library ------------------------------------------------------------------ */

/* The mode a library case must get, or it is not measured. */
enum bench_want { WANT_ANY, WANT_OPT, WANT_TRAP };

/*
 * A case of this library's probe at addr (bench_lib_arm): a program's row
 * type starts with it. Armed, it is uprobe_attach_addr() with these
 * handlers and flags, then the checks: the mode is the one wanted, a return
 * handler is reported when there is one, and the first byte shows the mode
 * (the jmp e9 of an optimized probe, the int3 cc of the others); c.mode and
 * c.reason say what it got. Disarmed, its counts add up and it is freed.
 */
struct bench_lib {
	struct bench_case c;
	const void *addr;
	unsigned int flags;
	uprobe_handler_fn handler;
	uprobe_ret_handler_fn ret_handler;
	void *ctx;
	enum bench_want want;
	/* state */
	struct uprobe *probe;
	uint64_t hits, ret_hits;	  /* uprobe_info's, over every measurement */
	uint64_t ret_unwound, ret_missed; /* the same */
};

extern const struct bench_arm bench_lib_arm;
/*
 * bench_lib_arm's arm, and the case's return probe must take path
 * (UPROBE_RET_PATH=hijack set around the attach for the hijack's row, so that
 * both paths are measured side by side on one function): else disarmed, not
 * measured, with the analysis's reason in c->why.
 */
int bench_lib_arm_ret(struct bench_case *c, enum uprobe_ret_path path);
/* What uprobe_analyze says of sym (in path, NULL: this process) with flags, on one line. */
void bench_lib_analysis(const char *path, const char *sym, unsigned int flags);

/* ---- kernel uprobes (perf_event_open) ---------------------------------------------- */

/* The uprobe PMU: its type and the config bit of a uretprobe; why not, when not. */
struct bench_pmu {
	int type;	  /* -1: no kernel uprobes (why) */
	int retprobe_bit; /* -1: no uretprobes (ret_why) */
	char why[BENCH_WHY_LEN];
	char ret_why[BENCH_WHY_LEN];
};

/* Read from sysfs on first use. */
const struct bench_pmu *bench_pmu(void);

/*
 * A case's counting kernel uprobe and/or uretprobe on this task at path:off
 * (c->arg of a case armed with bench_kuprobe_arm). The counts add up over
 * every measurement.
 */
struct bench_kuprobe {
	bool entry, ret;	 /* which events */
	const char *path;	 /* set before the first measurement ... */
	uint64_t off;		 /* ... with the file offset */
	const char *unavailable; /* non-NULL: why there is no path or offset */
	/* state */
	int fd[2];		 /* entry, return: -1 when closed */
	uint64_t hits, ret_hits; /* counted by the kernel */
	bool unreadable;	 /* a count could not be read */
};

#define BENCH_KUPROBE(entry_, ret_)                            \
	{                                                      \
		.entry = entry_, .ret = ret_, .fd = { -1, -1 } \
	}

extern const struct bench_arm bench_kuprobe_arm;

/* ---- bpftrace ---------------------------------------------------------------------- */

/*
 * One bpftrace process per measurement (c->arg of a case armed with
 * bench_bpftrace_arm, which is slow): "-p <this pid> -e 'BEGIN {
 * printf("ready\n"); } ATTACH:<exe>:SYM { @hits = count(); ACTION }'". It is
 * ready when it printed "ready" (BEGIN runs once every probe is attached) and
 * its kernel probe's int3 is at addr; once stopped (SIGINT: it prints its
 * maps and exits), the text must come back.
 */
struct bench_bpftrace {
	const char *attach;  /* "uprobe" or "uretprobe" */
	const char *sym;     /* a function of this executable */
	const void *addr;    /* its address here */
	const uint8_t *text; /* the bytes at addr, unprobed */
	size_t text_len;
	const char *action; /* more statements after "@hits = count();", or NULL */
	char *out;	    /* non-NULL: what it printed when stopped, the last time */
	size_t out_len;
	/* state */
	pid_t pid;
	int fd;	       /* its output */
	uint64_t hits; /* its counts, over every measurement */
};

#define BENCH_BPFTRACE(attach_, fn, bytes)                                                \
	{                                                                                 \
		.attach = attach_, .sym = #fn, .addr = (const void *)(fn), .text = bytes, \
		.text_len = sizeof(bytes), .pid = -1, .fd = -1                            \
	}

extern const struct bench_arm bench_bpftrace_arm;

#endif
