/* SPDX-License-Identifier: MIT */
/*
 * libuprobes trace events: probes described as text in the kernel's
 * uprobe_events grammar, fetch-args evaluated at each hit without ever
 * faulting the target, records in shared-memory ring buffers that another
 * process consumes, and the formatters and aggregations of the consumer.
 *
 * Two sides use this header:
 *  - the producer (in the traced process): trace_spec_parse() a line,
 *    trace_event_attach() it to a trace_session; hits write records;
 *  - the consumer (anywhere, usually the tracer process): maps the session's
 *    memfd with trace_consumer_new(), polls records with a callback, formats
 *    or aggregates them. It parses the same spec lines to learn each event's
 *    record layout (trace_layout_of()), so no layout travels in the buffer.
 *
 * Conventions as in uprobes.h: 0 or -errno; constructors return NULL and set
 * errno; opts structs start with size_t sz.
 */
#ifndef UPROBES_TRACE_H
#define UPROBES_TRACE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "uprobes.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- limits (the kernel's, from kernel/trace/trace_probe.h) ---------------------- */

#define TRACE_MAX_ARGS 128	   /* MAX_TRACE_ARGS */
#define TRACE_MAX_ARG_NAME 32	   /* MAX_ARG_NAME_LEN, including the NUL */
#define TRACE_MAX_EVENT_NAME 64	   /* MAX_EVENT_NAME_LEN, including the NUL */
#define TRACE_MAX_ARRAY 64	   /* MAX_ARRAY_LEN */
#define TRACE_MAX_DEREF 15	   /* nested +OFF(...) per fetch-arg */
#define TRACE_MAX_STRING 4096	   /* bytes copied per string fetch-arg (with NUL) */
#define TRACE_MAX_USTACK 127	   /* frames of a $ustack fetch-arg (bpftrace's cap) */
#define TRACE_DEFAULT_GROUP "uprobes"

/* ---- spec: one line of the uprobe_events language, parsed -------------------------- */

enum trace_kind {
	TRACE_PROBE,	/* p: entry (any instruction) */
	TRACE_RETPROBE, /* r: or %return: function return */
	TRACE_DELETE,	/* -:[GRP/]EVENT */
};

/* Where a fetch-arg's value starts (before any dereference). */
enum trace_base {
	TRACE_B_REG,	/* %REG: reg = enum trace_reg */
	TRACE_B_ADDR,	/* @ADDR: imm = absolute address in the target (implies one deref) */
	TRACE_B_FILEOFF,/* @+FILEOFF: imm = file offset in PATH (implies one deref) */
	TRACE_B_STACKN, /* $stackN: imm = N, the Nth 8-byte word above the stack pointer */
	TRACE_B_STACK,	/* $stack: the stack pointer */
	TRACE_B_RETVAL, /* $retval: rax (aarch64: x0) at return (return probes only) */
	TRACE_B_COMM,	/* $comm: the thread's name (string) */
	TRACE_B_ARGN,	/* $argN (extension): imm = N >= 1, integer argument N at entry
			 * (System V: rdi...r9 then the stack; aarch64: x0..x7) */
	TRACE_B_IMM,	/* \IMM: imm = the value */
	TRACE_B_IMMSTR, /* \"str": str = the text */
	TRACE_B_DWARF,	/* NAME[->MEMBER|.MEMBER]... (extension): str = the expression, to
			 * be turned into one of the above by trace_spec_resolve_dwarf() */
	TRACE_B_USTACK, /* $ustack, $ustackN (extension): imm = N, the most frames of the
			 * user stack at the hit (1..127; $ustack: 127); type TRACE_T_USTACK */
};

/*
 * Registers by their kernel names (struct pt_regs order is irrelevant here). Each
 * architecture has its own set; TRACE_R_SP is the stack pointer in both.
 */
#if defined(__aarch64__)
/* aarch64: %x0..%x30, %sp, %pc, %pstate; here the word index in struct uprobe_regs. */
enum trace_reg {
	TRACE_R_X0, TRACE_R_X1, TRACE_R_X2, TRACE_R_X3, TRACE_R_X4, TRACE_R_X5,
	TRACE_R_X6, TRACE_R_X7, TRACE_R_X8, TRACE_R_X9, TRACE_R_X10, TRACE_R_X11,
	TRACE_R_X12, TRACE_R_X13, TRACE_R_X14, TRACE_R_X15, TRACE_R_X16, TRACE_R_X17,
	TRACE_R_X18, TRACE_R_X19, TRACE_R_X20, TRACE_R_X21, TRACE_R_X22, TRACE_R_X23,
	TRACE_R_X24, TRACE_R_X25, TRACE_R_X26, TRACE_R_X27, TRACE_R_X28, TRACE_R_X29,
	TRACE_R_X30, TRACE_R_SP, TRACE_R_PC, TRACE_R_PSTATE,
	TRACE_R_COUNT
};
#else
enum trace_reg {
	TRACE_R_AX, TRACE_R_BX, TRACE_R_CX, TRACE_R_DX, TRACE_R_SI, TRACE_R_DI,
	TRACE_R_BP, TRACE_R_SP, TRACE_R_R8, TRACE_R_R9, TRACE_R_R10, TRACE_R_R11,
	TRACE_R_R12, TRACE_R_R13, TRACE_R_R14, TRACE_R_R15, TRACE_R_IP, TRACE_R_FLAGS,
	TRACE_R_COUNT
};
#endif

enum trace_type {
	TRACE_T_U8, TRACE_T_U16, TRACE_T_U32, TRACE_T_U64,
	TRACE_T_S8, TRACE_T_S16, TRACE_T_S32, TRACE_T_S64,
	TRACE_T_X8, TRACE_T_X16, TRACE_T_X32, TRACE_T_X64,
	TRACE_T_CHAR,
	TRACE_T_STRING,	 /* NUL-terminated text at the address */
	TRACE_T_USTRING, /* same in user space (identical for user probes) */
	TRACE_T_BITFIELD,/* b<width>@<offset>/<container bits> */
	TRACE_T_USTACK,	 /* $ustack: the stack's return addresses (uprobes_stack.h) */
};

/*
 * One fetch-arg. Its value is computed as:
 *   v = base;  then for each deref[i], i = 0 (innermost) .. n_deref-1:
 *       v = *(uint64_t *)(v + deref[i])         for all but the last
 *       v = *(TYPE *)(v + deref[i])             for the last one
 * @ADDR and @+FILEOFF carry one implicit dereference with offset 0 (n_deref
 * counts it). With n_deref == 0 the value is the base itself, truncated to
 * the type. A string type needs a memory reference (a deref, @ADDR, $comm or
 * \"str"): its last dereference yields the address of the text.
 */
struct trace_fetch {
	enum trace_base base;
	enum trace_reg reg;
	uint64_t imm;
	char *str; /* TRACE_B_IMMSTR, TRACE_B_DWARF */
	int n_deref;
	int64_t deref[TRACE_MAX_DEREF + 1];
};

struct trace_arg {
	char name[TRACE_MAX_ARG_NAME];
	char *text;	 /* the fetch-arg as written, without NAME= and :TYPE */
	struct trace_fetch fetch;
	enum trace_type type; /* for a bitfield: the container's unsigned type */
	int is_bitfield;
	uint8_t bf_width, bf_offset; /* bits; container size = type size */
	unsigned int array_len;	     /* 0: scalar; TYPE[N]: N (1..TRACE_MAX_ARRAY) */
	int type_given;		     /* :TYPE was written (else x64, or string for $comm) */
};

struct trace_spec {
	enum trace_kind kind;
	char group[TRACE_MAX_EVENT_NAME];
	char event[TRACE_MAX_EVENT_NAME];
	int event_given;     /* name written by the user (else auto-named) */
	char *path;	     /* as written: "/bin/bash", "./prog", or a short name "libc" */
	char *symbol;	     /* PATH:SYMBOL[+OFF] (NULL when PATH:OFFSET) */
	uint64_t offset;     /* file offset (PATH:OFFSET) or offset from the symbol */
	int has_ref_ctr;
	uint64_t ref_ctr_offset; /* (REF_CTR_OFFSET): file offset of a USDT semaphore */
	int bpftrace_style;	 /* written as uprobe:/uretprobe: */
	int n_args;
	struct trace_arg args[TRACE_MAX_ARGS];
	/*
	 * sdt:PROVIDER:NAME or usdt:PATH:PROVIDER:NAME (path is then PATH, else
	 * NULL): an SDT marker, to turn into a probe at its place with
	 * trace_spec_resolve_sdt() before anything else is done with the spec.
	 */
	char *sdt_provider, *sdt_name;
};

/* Where and why a line was refused, like the kernel's tracing/error_log. */
struct trace_error {
	int column;	   /* 0-based column of the offending token in the line */
	char token[64];	   /* the token (truncated) */
	char msg[128];	   /* the kernel's wording where the kernel has the error */
};

/*
 * Parse one line: "p|r[:[GRP/][EVENT]] PATH:OFFSET[%return][(REF_CTR_OFFSET)]
 * [FETCHARGS]", "-:[GRP/]EVENT", "PATH:SYMBOL[+OFF]" (extension), and
 * "uprobe:PATH:FUNC" / "uretprobe:PATH:FUNC" (bpftrace style). Default names
 * follow the kernel: group "uprobes", event p_<file>_0x<offset> (file = path
 * basename up to its first '.', '-' or '_'), args arg1...; for symbols the
 * perf-probe naming <symbol>[_<off>] and <symbol>__return.
 * Returns a spec to free with trace_spec_free(), or NULL with errno EINVAL
 * (err filled), E2BIG (limits; err filled) or ENOMEM.
 */
UPROBE_API struct trace_spec *trace_spec_parse(const char *line, struct trace_error *err);
UPROBE_API void trace_spec_free(struct trace_spec *spec);

/*
 * The canonical text of a parsed spec, every default made explicit, e.g.
 *   "p:uprobes/p_bash_0x4245c0 /bin/bash:0x4245c0 arg1=%ax:x64"
 * Parsing the output again gives the same spec. Returns the length that the
 * full text needs (snprintf-style).
 */
UPROBE_API int trace_spec_format(const struct trace_spec *spec, char *buf, size_t len);

/*
 * Turn the DWARF expressions of spec (fetch-args such as "req->hdr.len", base
 * TRACE_B_DWARF) into plain fetch-args, from the debug info of the ELF file
 * at path (spec->path may be a short name; path is the file it names). The
 * variable is looked up in the scopes that contain the probe's address; its
 * location there becomes a register, +OFF(...) dereferences or a constant,
 * and its type the fetch type unless :TYPE was written. Debug info is read
 * from path itself, else from /usr/lib/debug/.build-id/xx/yyyy.debug.
 * Returns 0 (nothing to do is 0 too), or -errno with err filled (token: the
 * offending name) and the full message in uprobe_last_error(): -ENOENT (no
 * variable or member of that name: the message lists those in scope),
 * -ENODATA (no debug info, or optimized out here), -ENOTSUP (a location or
 * type that cannot be fetched), -EINVAL. On failure spec is unchanged.
 */
UPROBE_API int trace_spec_resolve_dwarf(struct trace_spec *spec, const char *path,
					 struct trace_error *err);

/* ---- record layout ----------------------------------------------------------------- */

/*
 * A record's payload, derived from the spec alone (producer and consumer
 * agree without exchanging it):
 *
 *   [fault bitmap: one bit per arg, (n_args + 63) / 64 u64 words]
 *   [arg 0 field][arg 1 field]...        fields 8-byte aligned
 *   [string bytes ...]                   dynamic part
 *
 * Field of a scalar (integer, char, bitfield): 8 bytes, the value converted
 *   (sign-extended for sN, zero-extended otherwise, bitfield extracted).
 * Field of an array TYPE[N]: N elements of the type's size, packed, padded to 8.
 * Field of a string: uint32 offset of its bytes from the payload start, uint32
 *   length (no NUL); the bytes follow the fixed part.
 * Field of a stack ($ustack): the same, its bytes being 8-aligned u64
 *   addresses, leaf first: the probed address, then each caller's return
 *   address (at most 127).
 * An arg whose memory read faulted has its bit set and its field zeroed.
 */
struct trace_field {
	char name[TRACE_MAX_ARG_NAME];
	enum trace_type type;
	int is_bitfield;
	unsigned int elem_size;	 /* bytes of one element as stored (8 for scalars) */
	unsigned int count;	 /* 1, or N for arrays */
	unsigned int array_len;	 /* 0 for a scalar, N for TYPE[N] (also N == 1) */
	unsigned int offset;	 /* of the field in the payload */
};

struct trace_layout {
	int n_fields;
	unsigned int bitmap_len; /* bytes */
	unsigned int fixed_len;	 /* bytes of bitmap + fields */
	struct trace_field fields[TRACE_MAX_ARGS];
};

UPROBE_API int trace_layout_of(const struct trace_spec *spec, struct trace_layout *layout);

/* ---- records as the consumer sees them --------------------------------------------- */

enum trace_rec_flags {
	TRACE_REC_RETURN = 1u << 0,  /* a return probe's record */
	TRACE_REC_UNWOUND = 1u << 1, /* the frame was left without returning */
};

struct trace_record {
	uint32_t event_id; /* trace_event_id() on the producer side: index of the spec */
	uint32_t flags;	   /* enum trace_rec_flags */
	uint64_t ts_ns;	   /* CLOCK_MONOTONIC nanoseconds */
	uint64_t entry_ts_ns; /* return records: when the call entered (0 if unknown) */
	uint32_t pid, tid, cpu;
	const char *comm;  /* the thread's name as last reported, "" if unknown */
	uint64_t ip;	   /* entry: probed address; return: the call site returned to */
	uint64_t func;	   /* return: the function's entry address */
	const uint8_t *data; /* payload (see struct trace_layout) */
	uint32_t data_len;
};

/* ---- producer: sessions and events (in the traced process) ------------------------- */

struct trace_session;
struct trace_event;

struct trace_session_opts {
	size_t sz;		  /* sizeof(struct trace_session_opts) */
	unsigned int n_rings;	  /* rings (default: 2 x CPUs + 1, at least 8); ring 0 is shared */
	size_t ring_bytes;	  /* bytes per ring, a power of two >= 4096 (default 1 MiB) */
};

/*
 * A session owns one memfd holding every ring. Threads are spread over the
 * rings (a thread always writes to the same ring, so its order is kept).
 */
UPROBE_API struct trace_session *trace_session_new(const struct trace_session_opts *opts);
/*
 * Detach and free its events (their pointers become invalid), unmap. The
 * memfd stays valid for consumers that mapped it.
 */
UPROBE_API void trace_session_free(struct trace_session *s);
/* The memfd to hand to a consumer (dup it or pass it over a socket). */
UPROBE_API int trace_session_fd(const struct trace_session *s);
/*
 * Detach every attached event of the session with one synchronisation of
 * the threads (detaching them one by one costs one each); they stay valid,
 * detached, until trace_session_free(). Returns 0 or the first -errno.
 */
UPROBE_API int trace_session_detach(struct trace_session *s);
/*
 * Record the session's events (on, the default) or drop them uncounted
 * (off). Attaching or detaching many events takes time; switching the
 * session off first and on afterwards makes them start and stop together,
 * so that entry and return counts agree up to the calls in flight.
 */
UPROBE_API void trace_session_record(struct trace_session *s, int on);

/*
 * Attach the probe described by spec (not TRACE_DELETE) in this process. id is
 * written into each record (the consumer's key to the spec and its layout).
 * Errors as uprobe_attach, plus EINVAL for a fetch-arg that does not fit the
 * probe ($retval outside a return probe, @+FILEOFF outside the file). The
 * message (uprobe_last_error()) names the token.
 */
UPROBE_API struct trace_event *trace_event_attach(struct trace_session *s,
						  const struct trace_spec *spec, uint32_t id);
struct trace_event_agg;

struct trace_event_opts {
	size_t sz;	    /* sizeof(struct trace_event_opts) */
	unsigned int flags; /* enum uprobe_flags, e.g. UPROBE_F_NO_OPTIMIZE */
	uint64_t *skipped_counter; /* optional: see uprobe_opts.skipped_counter */
	/*
	 * Optional: aggregate every hit into maps in the target (copied) instead
	 * of writing a record into the session's rings (docs/maps.md).
	 */
	const struct trace_event_agg *agg;
};

/* trace_event_attach with options (opts may be NULL). */
UPROBE_API struct trace_event *trace_event_attach_opts(struct trace_session *s,
						       const struct trace_spec *spec, uint32_t id,
						       const struct trace_event_opts *opts);
UPROBE_API int trace_event_detach(struct trace_event *ev);

/* Options of trace_event_attach_many(). */
struct trace_event_batch_opts {
	size_t sz; /* sizeof(struct trace_event_batch_opts) */
	/* Optional: opts[i] (each with its sz) for specs[i]; NULL: none for any. */
	const struct trace_event_opts *opts;
	/*
	 * Optional: called once for each spec that is not attached (not in spec
	 * order: those refused before the probes go in come first), with its
	 * error and message ("GROUP/EVENT: PATH:LOCATION: why").
	 */
	void (*on_error)(uint32_t i, int err, const char *msg, void *ctx);
	void *ctx;
	uint32_t first_id; /* spec i gets id first_id + i */
	/*
	 * When specs is NULL: spec i is asked for (spec_get, in order, NULL to
	 * leave it out) when its turn comes and handed back (spec_put) once its
	 * event is prepared, so that one spec at a time is held however many
	 * go in. opts[i] is read after spec_get(i) returns.
	 */
	const struct trace_spec *(*spec_get)(uint32_t i, void *ctx);
	void (*spec_put)(uint32_t i, const struct trace_spec *spec, void *ctx);
	uint32_t failed;   /* out: specs not attached (NULL specs not counted) */
	unsigned int flags; /* TRACE_BATCH_* */
};

/*
 * trace_event_batch_opts.flags. TRACE_BATCH_PAIR: a return event without an
 * entry handler (its trace_event_agg.run) and an entry event of the same
 * path, location and flags share one probe, whose handler is the entry's and
 * return handler the return event's: one consumer at the address, which the
 * trampoline's fast path serves (two take the core's C dispatch). Detaching
 * either event detaches both; a skipped hit counts in both skipped counters.
 */
#define TRACE_BATCH_PAIR 1u

/*
 * Attach n events at once (spec i gets id first_id + i; a NULL spec is left out;
 * specs may be NULL when opts->spec_get hands them out one at a time):
 * each spec is checked and compiled as by trace_event_attach_opts(), then
 * every probe goes in with one pass over the text and one cross-core
 * synchronisation, instead of one per probe. events[i] is the event of
 * specs[i], or NULL when it failed (reported to on_error). Returns how many
 * were attached, or -EINVAL / -ENOMEM when none could be tried.
 */
UPROBE_API int trace_event_attach_many(struct trace_session *s,
				       const struct trace_spec *const *specs, uint32_t n,
				       struct trace_event **events,
				       struct trace_event_batch_opts *opts);
UPROBE_API void trace_event_free(struct trace_event *ev);
/* ev's probe: one of a TRACE_BATCH_PAIR pair is the other's too. */
UPROBE_API struct uprobe *trace_event_probe(const struct trace_event *ev);
/* 1 when ev is a return probe's (its spec's TRACE_RETPROBE), else 0. */
UPROBE_API int trace_event_is_return(const struct trace_event *ev);

/* ---- consumer (any process that has the memfd) ------------------------------------- */

struct trace_consumer;

/*
 * rec->data and rec->comm are valid only during the call. They point into the
 * consumer's own copy of the record, never into the shared rings: the traced
 * process cannot change a record between a check and a use.
 */
typedef int (*trace_record_fn)(const struct trace_record *rec, void *ctx);

/*
 * Map a session's memfd. The traced process writes that memory, so nothing
 * in it is trusted: the fd must be a memfd sealed against resizing
 * (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL, as trace_session_new() makes
 * it), else NULL with errno EPERM; its size is taken once (fstat) and must be
 * the header's; the header is read once and checked (EINVAL, the message
 * names the field). See docs/security.md, "Shared memory".
 */
UPROBE_API struct trace_consumer *trace_consumer_new(int memfd);
UPROBE_API void trace_consumer_free(struct trace_consumer *c);

/*
 * Call fn for every committed record, ring by ring, oldest first within a
 * ring; wait up to timeout_ms (0: do not wait, -1: forever) when none is
 * ready. One poll reads at most TRACE_POLL_BYTES of records (or one ring's
 * size, if larger) and at most a lap of each ring; the next poll goes on
 * where it stopped. A non-zero return of fn stops early and is returned.
 * Returns the number of records consumed, or -errno.
 *
 * A ring holding what no producer writes (a length word that cannot be, a
 * record type that does not exist, positions that cannot be, its consumer
 * position moved by someone else) is corrupted: the consumer stops reading
 * it for good, and the poll that found it returns -EBADMSG (after reading
 * the other rings; fn has seen their records) with uprobe_last_error()
 * "ring N corrupted at POS (WHY); stopped reading it". trace_consumer_stats()
 * keeps the count and the first one.
 */
UPROBE_API int trace_consumer_poll(struct trace_consumer *c, int timeout_ms, trace_record_fn fn,
				   void *ctx);

#define TRACE_POLL_BYTES (8u << 20)

/* Events lost are counted apart for event ids below this (trace_consumer_lost). */
#define TRACE_LOST_IDS 16383u

/*
 * Events only (thread-name records are not counted). produced, lost and
 * lost_rings come from counters the traced process writes: they are what
 * its producers reported; lost_corrupted says when they cannot be right.
 */
struct trace_ring_stats {
	size_t sz;	   /* sizeof(struct trace_ring_stats) */
	uint64_t produced; /* consumed + lost + still in the rings (exact when producers are idle) */
	uint64_t consumed; /* records read by consumers (any consumer of this memfd, ever) */
	uint64_t lost;	   /* records dropped because a ring was full */
	uint64_t lost_rings; /* rings that lost at least one record */
	/*
	 * Lost counters that cannot be right (one went down since the last
	 * read, one exceeds 2^56, or the per-event ones sum to less than the
	 * per-ring ones): lost is then unknown, not a count.
	 */
	uint64_t lost_corrupted;
	uint64_t corrupted_rings; /* rings the consumer stopped reading (trace_consumer_poll) */
	uint64_t corrupted_ring;  /* the first of them, when corrupted_rings != 0 ... */
	uint64_t corrupted_pos;	  /* ... the position where it went wrong */
	char corruption[128];	  /* ... and the message, "" if none */
	/*
	 * Threads whose name the consumer forgot: it keeps the last 32768 to
	 * 65536 threads seen (rec->comm is "" for a thread it forgot).
	 */
	uint64_t threads_forgotten;
};

/* produced == consumed + lost + (records still in the rings). 0 or -EINVAL. */
UPROBE_API int trace_consumer_stats(struct trace_consumer *c, struct trace_ring_stats *st);

/*
 * Events lost per event id, as the producers counted them: lost[id] for
 * id < n (0 for ids from TRACE_LOST_IDS up: those are only in the total).
 * Returns 0, -EINVAL, or -EBADMSG when a counter cannot be right (over
 * 2^56; lost[] is filled anyway).
 */
UPROBE_API int trace_consumer_lost(struct trace_consumer *c, uint64_t *lost, size_t n);

/*
 * Blocking (on) or not (off, the default): with it, a producer that finds its
 * ring full waits for space (spinning, then sched_yield) instead of dropping
 * the event, up to 1 s; a wait that times out turns blocking off for the
 * session (the consumer is taken for gone), so the traced program never
 * hangs on a dead consumer. Call with off before the consumer stops reading.
 * 0 or -EINVAL.
 */
UPROBE_API int trace_consumer_set_blocking(struct trace_consumer *c, int on);
/*
 * Sync (on) or not (off, the default): with it, producers may wait until the
 * consumer has performed a record of theirs (its callback returned), up to
 * 1 s (uprobe -e's print, clear and zero in the traced process: they take
 * effect at the hit). A wait that times out turns it off for the session.
 * Call with off before the consumer stops reading. 0 or -EINVAL.
 */
UPROBE_API int trace_consumer_set_sync(struct trace_consumer *c, int on);

/* ---- formatters -------------------------------------------------------------------- */

struct trace_event_desc {
	const struct trace_spec *spec;
	const struct trace_layout *layout;
};

enum trace_format { TRACE_FMT_TEXT, TRACE_FMT_JSON, TRACE_FMT_PERFETTO };

struct trace_formatter;

/*
 * events[id] describes records with event_id == id. Text: the ftrace
 * trace_pipe line; JSON: one object per line; Perfetto: Chrome trace-event
 * JSON (one document; trace_formatter_free() closes it).
 */
UPROBE_API struct trace_formatter *trace_formatter_new(enum trace_format fmt, FILE *out,
						       const struct trace_event_desc *events,
						       size_t n_events);
UPROBE_API int trace_formatter_write(struct trace_formatter *f, const struct trace_record *rec);
UPROBE_API void trace_formatter_free(struct trace_formatter *f);

/*
 * The value of field i of a record as text, the way all formatters print it
 * ("0x1f", "-3", "\"text\"", "{1,2,3}", "(fault)"). Returns the length
 * needed (snprintf-style).
 */
UPROBE_API int trace_field_format(const struct trace_layout *layout, const struct trace_record *rec,
				  int i, char *buf, size_t len);
/* Field i as an integer (0 and -EFAULT on a fault, -EINVAL for a string or array). */
UPROBE_API int trace_field_int(const struct trace_layout *layout, const struct trace_record *rec,
			       int i, int64_t *out);

/* ---- aggregations ------------------------------------------------------------------- */

struct trace_agg;

/* Counts by key (text), printed like bpftrace's "@name[key]: count", ascending. */
UPROBE_API struct trace_agg *trace_agg_count_new(const char *name);
UPROBE_API int trace_agg_count_add(struct trace_agg *a, const char *key, uint64_t n);

/* log2 histogram of a value (or a latency in ns), printed like bpftrace's hist(). */
UPROBE_API struct trace_agg *trace_agg_hist_new(const char *name);
UPROBE_API int trace_agg_hist_add(struct trace_agg *a, int64_t value);

UPROBE_API int trace_agg_print(const struct trace_agg *a, FILE *out);
UPROBE_API void trace_agg_free(struct trace_agg *a);

/* A histogram's bucket (as trace_maps_read gives them: 0 negative, 1 zero, 2 + log2) n times. */
UPROBE_API int trace_agg_hist_add_bucket(struct trace_agg *a, unsigned int bucket, uint64_t n);

/* ---- maps in the target (docs/maps.md) -------------------------------------------- */

/*
 * Aggregations updated by the probe handlers themselves, in shared memory
 * that the tracer owns (per-thread shards, no lock, no system call): exact at
 * any hit rate, and kept when the traced process dies. The tracer makes the
 * region (new, define, seal), hands trace_maps_fd() to the agents (SPECS, see
 * uprobes_agent.h) and reads the merged values with trace_maps_read(), which
 * treats the region as hostile (the traced process can write all of it).
 */
struct trace_maps;

enum trace_map_kind { /* as bpftrace's: count() sum() min() max() avg() stats() hist() lhist() */
	TRACE_MAP_COUNT = 1,
	TRACE_MAP_SUM,
	TRACE_MAP_MIN,
	TRACE_MAP_MAX,
	TRACE_MAP_AVG,
	TRACE_MAP_STATS,
	TRACE_MAP_HIST,
	TRACE_MAP_LHIST,
	TRACE_MAP_LAST,	 /* @x = v: the last write */
	TRACE_MAP_VALUE, /* shared value map: get, set, add, delete */
};

struct trace_map_def {
	size_t sz; /* sizeof(struct trace_map_def) */
	const char *name;
	enum trace_map_kind kind;
	uint32_t key_size;    /* 0 .. 256 bytes */
	uint32_t max_entries; /* 0: 4096 */
	int64_t lhist_min, lhist_max, lhist_step;
	/*
	 * TRACE_MAP_COUNT with a 4-byte key (or none: 1): keys 0 .. dense - 1
	 * also get a word per thread that an agent's count-only probe counts
	 * into from its trampoline (the count stub; docs/architecture.md), read
	 * back by trace_maps_read. Such a map cannot be cleared or zeroed.
	 */
	uint32_t dense;
};
#define TRACE_MAP_MAX_DENSE 65536u /* trace_map_def.dense */

struct trace_map_value {
	uint64_t count;
	int64_t sum, min, max, value;
	uint32_t n_buckets;
	const uint64_t *buckets; /* valid during the callback only */
	const void *bytes;	 /* TRACE_MAP_VALUE: the value's 8 bytes (callback only) */
};

struct trace_map_stats {
	size_t sz; /* sizeof(struct trace_map_stats) */
	uint64_t dropped_full;	 /* new keys refused: the map was full */
	uint64_t dropped_shard;	 /* updates of threads without a shard that could not take
				  * the overflow shard's lock */
	uint64_t dropped_nested; /* updates nested in one of the same thread (signal handler) */
	uint64_t corrupt;	 /* entries the reader found impossible (hostile target) */
	uint64_t entries;	 /* distinct keys at the last read */
};

/* n_shards: threads updating at once (0: 128). NULL + errno. */
UPROBE_API struct trace_maps *trace_maps_new(unsigned int n_shards);
/* A map's id (0, 1, ...) or -errno; trace_maps_error() names the field at fault. */
UPROBE_API int trace_maps_define(struct trace_maps *m, const struct trace_map_def *def);
/* Bytes for the agents (at most 4096), before trace_maps_seal. */
UPROBE_API int trace_maps_set_blob(struct trace_maps *m, const void *data, size_t len);
UPROBE_API int trace_maps_seal(struct trace_maps *m);
UPROBE_API int trace_maps_fd(const struct trace_maps *m);
UPROBE_API const char *trace_maps_error(const struct trace_maps *m);
/* Every distinct key of map id, its shards merged; cb's non-zero ends the walk. */
UPROBE_API int trace_maps_read(struct trace_maps *m, int id,
			       int (*cb)(const void *key, const struct trace_map_value *v,
					 void *ctx),
			       void *ctx);
UPROBE_API int trace_maps_stats(struct trace_maps *m, int id, struct trace_map_stats *st);
UPROBE_API int trace_maps_clear(struct trace_maps *m, int id);
UPROBE_API int trace_maps_zero(struct trace_maps *m, int id);
UPROBE_API void trace_maps_free(struct trace_maps *m);

/*
 * What a probe aggregates in the target (trace_event_opts.agg). Map ids are
 * those of maps; -1: none. The key of count_map and filtered_map is key (the
 * probe's index, 4 bytes); hist_map has no key. hist_arg and filter_arg are
 * indexes of the spec's fetch-args (-1: none; an arg that faults or is not an
 * integer is not added, and fails the filter), or for hist_arg
 * TRACE_AGG_LATENCY.
 */
enum trace_filter_op { TRACE_FILTER_EQ, TRACE_FILTER_NE, TRACE_FILTER_LT, TRACE_FILTER_LE,
		       TRACE_FILTER_GT, TRACE_FILTER_GE };

struct trace_event_agg {
	struct trace_maps *maps;
	int count_map;	  /* +1 per hit that passes the filter */
	int filtered_map; /* +1 per hit that does not */
	int hist_map;
	int hist_arg;
	int filter_arg;
	enum trace_filter_op filter_op;
	int64_t filter_value;
	uint32_t key;
	/*
	 * hist_arg TRACE_AGG_LATENCY (return probes): the histogram is of the
	 * call's duration in ns, (return TSC - entry TSC) * latency_mult >> 32.
	 */
	uint64_t latency_mult;
	/*
	 * Optional: instead of the above, run(run_ctx, regs, entry_tsc, args) at
	 * every hit (a bpftrace program's plan, src/lang/hit.c). It runs in the
	 * probe handler: async-signal-safe, no allocation, no lock. entry_tsc: a
	 * return probe's call entry, 0 otherwise. args: NULL when the spec has no
	 * fetch-args, else its first six as integers (0 for one that faults or is
	 * not an integer): a USDT marker's arguments. regs->rflags is not to be
	 * read (the probe is attached with UPROBE_F_HANDLER_NO_FLAGS unless a
	 * fetch-arg reads %flags: at a function entry it reads 0x202).
	 * With run, a return probe's call left by an exception or longjmp
	 * (UPROBE_RET_UNWOUND) does not run it: filtered_map (a keyless sum, or
	 * -1) counts it instead.
	 */
	void (*run)(void *run_ctx, const struct uprobe_regs *regs, uint64_t entry_tsc,
		    const uint64_t *args);
	void *run_ctx;
};

#define TRACE_AGG_LATENCY (-2)

/* ---- SDT (USDT) markers ------------------------------------------------------------ */

/* One .note.stapsdt note of an ELF file. */
struct trace_sdt_marker {
	char *provider, *name;
	char *args;	     /* the note's argument string ("-4@%edi 8@-16(%rbp)"), "" if none */
	char *fetchargs;     /* decoded: " arg1=%di:s32 arg2=-0x10(%bp):u64", or NULL ... */
	char *error;	     /* ... with why, naming the argument */
	uint64_t pc;	     /* address as linked (after the .stapsdt.base adjustment) */
	uint64_t offset;     /* file offset of pc: the probe's place */
	uint64_t semaphore;  /* address of the semaphore (0: none) */
	uint64_t semaphore_offset; /* its file offset (0: none) */
};

/* The markers of the ELF file at path: their count (>= 0) or -errno. */
UPROBE_API int trace_sdt_list(const char *path, struct trace_sdt_marker **out);
UPROBE_API void trace_sdt_list_free(struct trace_sdt_marker *m, int n);

/*
 * Where an sdt:/usdt: spec looks for its marker: the files process pid maps
 * executable (0: this process), or, with exe set, that executable (found on
 * PATH when it has no '/'; a "#!" script's interpreter) and the libraries it
 * needs (DT_NEEDED, searched like the dynamic loader's default paths).
 */
struct trace_sdt_where {
	size_t sz; /* sizeof(struct trace_sdt_where) */
	pid_t pid;
	const char *exe;
};

/*
 * Turn an sdt:/usdt: spec into plain probes: one spec per place of the
 * marker (a marker in an inlined function has several), each
 *   p:GRP/EVENT /path/file:0xOFF[(0xSEMOFF)] arg1=...:TYPE ...
 * with the marker's arguments as fetch-args, or the spec's own fetch-args in
 * which $argN stands for the marker's Nth argument. Up to max specs go to
 * out[]; returns their count or -errno, with err filled (msg names the
 * marker or the argument). A spec that is not sdt is copied unchanged.
 */
UPROBE_API int trace_spec_resolve_sdt(const struct trace_spec *spec,
				      const struct trace_sdt_where *where, struct trace_spec **out,
				      int max, struct trace_error *err);

#ifdef __cplusplus
}
#endif

#endif
