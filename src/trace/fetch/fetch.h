/* SPDX-License-Identifier: MIT */
/*
 * trace/fetch — what a hit records. Above spec (it reads struct trace_spec)
 * and transport (it writes ring records). Fetch-args resolved from DWARF by
 * name (dwarf.c, dwarf_loc.c; private dwarf_priv.h), the record layout that
 * producer and consumer both derive from a spec (layout.c), plans compiled
 * once (fetch.c) and evaluated at every hit (fetch_eval.c, hot path).
 *
 * Fetch-args compiled into a plan once, when an event is attached, and
 * evaluated at every hit from the registers (fetch_eval.c, signal-safe, no
 * system call, no libc call). Memory is read through the fault-safe routines
 * of arch/x86_64/safe_read.S: a bad pointer marks the arg as faulted.
 */
#ifndef UPROBES_TRACE_FETCH_FETCH_H
#define UPROBES_TRACE_FETCH_FETCH_H

#include <stdbool.h>
#include <stdint.h>

#include "uprobes_trace.h"
#include "trace/map/map.h"
#include "trace/transport/ring.h"

enum fetch_kind {
	FK_INT,	   /* one scalar, stored as 8 bytes */
	FK_ARRAY,  /* count elements of size bytes */
	FK_STRING, /* text at the address (arrays of strings are refused) */
	FK_COMM,   /* the thread's name */
	FK_IMMSTR, /* constant text */
	FK_USTACK, /* the user stack: count frames at most; imm: at a function's entry */
};

/*
 * One compiled fetch-arg: v = base, then deref[0 .. n_deref-1] as in
 * struct trace_fetch, with $stackN, $argN > 6, @ADDR and @+FILEOFF turned
 * into a base and dereferences. For FK_INT with n_deref == 0 the base is the
 * value; otherwise (and for arrays and strings) the last dereference gives
 * the address.
 */
struct fetch_arg {
	uint8_t kind;	  /* enum fetch_kind */
	uint8_t base_reg; /* word index in struct uprobe_regs, or FETCH_IMM */
	uint8_t n_deref;
	uint8_t size;	  /* bytes of the last load (element size) */
	uint8_t sign;	  /* sign-extend from size */
	uint8_t bf_lshift, bf_rshift; /* bitfield: v = (v << l) >> r; both 0 otherwise */
	uint16_t count;
	uint32_t field_off;
	uint32_t str_len; /* FK_IMMSTR */
	uint64_t imm;	  /* base when base_reg == FETCH_IMM */
	const char *str;  /* FK_IMMSTR */
	int64_t deref[TRACE_MAX_DEREF + 2];
};

#define FETCH_IMM 0xff

struct fetch_plan {
	int n_args;
	int has_dynamic;       /* strings: two passes */
	uint32_t bitmap_len, fixed_len;
	struct fetch_arg args[];
};

/*
 * Compile spec for a probe at addr (in this process), whose file offset is
 * file_off in path. NULL + errno (EINVAL: the token is in uprobe_last_error).
 */
struct fetch_plan *fetch_compile(const struct trace_spec *spec, uint64_t addr, const char *path,
				 uint64_t file_off);
void fetch_plan_free(struct fetch_plan *plan);
/*
 * A fetch-arg of plan starts from %flags (as written, or its DWARF location):
 * without one the event's probe is attached with UPROBE_F_HANDLER_NO_FLAGS
 * (no pushfq/popfq at a function entry's jump-optimized hits).
 */
bool fetch_plan_reads_flags(const struct fetch_plan *plan);

/*
 * File offset off of path as an address of this process, biased like the
 * segment holding probe_off (mapped at probe_addr): 0, -ERANGE or -errno.
 */
int fetch_file_off_addr(const char *path, uint64_t probe_addr, uint64_t probe_off, uint64_t off,
			uint64_t *addr);

/*
 * $ustack (fetch_stack.c): the stack unwinder set up (stack/), the arg
 * compiled for a probe at file offset file_off of path. 0 or -errno.
 */
int fetch_ustack_compile(const struct trace_spec *spec, const struct trace_arg *ta,
			 const char *path, uint64_t file_off, struct fetch_arg *a);
/* A compiled $ustack arg is freed (fetch_plan_free): the stack layer's user goes. */
void fetch_ustack_release(void);

/* The frames of one record's stacks: unwound once, in the first pass (hot path). */
struct fetch_ustack {
	unsigned int n; /* 0: not unwound (no $ustack in the plan) */
	uint64_t frames[TRACE_MAX_USTACK];
};

/* Bytes of a's stack in the record, unwinding into us the first time (hot path). */
uint32_t fetch_ustack_len(const struct fetch_arg *a, const struct uprobe_regs *regs,
			  struct fetch_ustack *us);

/* A thread's identity and name as the hot path caches them. */
struct fetch_thread {
	uint32_t pid, tid;
	char comm[16];
	const void *comm_sent; /* the rings that last received this thread's name */
};

/* The calling thread's cache: fetch_self() (fetch_self.h). */
/* Forget it (in a fork child: new pid and tid). */
void fetch_thread_reset(void);

/*
 * Evaluate plan at a hit and write one record into rings. Signal-safe.
 * Returns 0, or -ENOSPC when the ring was full (counted there).
 */
int fetch_emit(struct trace_rings *rings, const struct fetch_plan *plan, uint32_t event_id,
	       uint32_t flags, const struct uprobe_regs *regs, uint64_t ip, uint64_t func,
	       uint64_t entry_tsc);

/*
 * An event that aggregates in the target (trace_event_agg) rather than
 * records: map ids (-1: none), the plan's arg indexes (-1: none).
 */
struct fetch_agg {
	/* what a count-only hit reads first (fetch_event keeps them on its line) */
	int count_map, filter_arg;
	uint32_t key;
	int hist_map;
	struct map_region *maps;
	uint64_t count_hash; /* count_map's hash of key (map_agg_key_hash) */
	void (*run)(void *run_ctx, const struct uprobe_regs *regs, uint64_t entry_tsc,
		    const uint64_t *args);
	/* the rest */
	int filtered_map, hist_arg;
	enum trace_filter_op filter_op;
	int64_t filter_value;
	uint64_t latency_mult; /* hist_arg TRACE_AGG_LATENCY: ns = ticks * mult >> 32 */
	void *run_ctx; /* run set: it replaces the filter, count and histogram */
};

/*
 * Evaluate agg at a hit: the filter, the count, the histogram. entry_tsc: a
 * return probe's call entry (0 otherwise). Signal-safe.
 */
void fetch_aggregate(const struct fetch_agg *agg, const struct fetch_plan *plan,
		     const struct uprobe_regs *regs, uint64_t entry_tsc);

/*
 * What an event's handlers need at a hit (their ctx). An aggregating hit
 * reads recording, agg, plan and agg_store's first fields: one cache line
 * when the event is 64-byte aligned (trace_event). With thousands of probes
 * (every function of a server) a hit's lines are rarely cached: each line it
 * touches is a miss.
 */
struct fetch_event {
	const int *recording; /* the session's switch (trace_session_record) */
	const struct fetch_agg *agg; /* NULL: records into rings; else &agg_store */
	const struct fetch_plan *plan;
	struct fetch_agg agg_store;
	struct trace_rings *rings;
	uint32_t id;
	/* A return event that shares this entry's probe (TRACE_BATCH_PAIR), and its handler */
	const struct fetch_event *pair;
	uprobe_ret_handler_fn pair_ret;
};
_Static_assert(offsetof(struct fetch_event, agg_store.run) + sizeof(void *) <= 64,
	       "a count-only hit's fields of fetch_event on one cache line");

/* Probe handlers (ctx: struct fetch_event), built without SIMD. */
void fetch_entry_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
/* What agg does at a hit is one count() (no run, filter or histogram): fetch_count_handler. */
static inline bool fetch_count_only(const struct fetch_agg *agg)
{
	return agg && !agg->run && agg->count_map >= 0 && agg->filter_arg < 0 && agg->hist_map < 0;
}
/* An entry handler for fetch_count_only events: recording, then the count alone. */
void fetch_count_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
/* Entry half of a return probe: the call's cookie becomes its entry TSC. */
void fetch_stamp_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
void fetch_return_handler(struct uprobe *probe, struct uprobe_regs *regs,
			  const struct uprobe_ret *ret, void *ctx);
/* The return handler of an entry event's probe shared with a return event: the latter's. */
void fetch_pair_return_handler(struct uprobe *probe, struct uprobe_regs *regs,
			       const struct uprobe_ret *ret, void *ctx);
/*
 * What an event does at a hit is its agg.run, without fetch-args (a
 * program's uprobe or uretprobe, not its usdt): fetch_run_handler and
 * fetch_run_return_handler, fetch_aggregate's call alone.
 */
static inline bool fetch_run_only(const struct fetch_agg *agg, const struct fetch_plan *plan)
{
	return agg && agg->run && !plan->n_args;
}
void fetch_run_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
void fetch_run_return_handler(struct uprobe *probe, struct uprobe_regs *regs,
			      const struct uprobe_ret *ret, void *ctx);

#endif
