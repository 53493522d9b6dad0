/* SPDX-License-Identifier: MIT */
/*
 * libuprobes stacks, the tracer's side. Stacks are walked in the traced
 * process at each hit (uprobe trace's $ustack fetch-arg; the language's
 * ustack through the stack table) as lists of addresses; the tracer turns
 * them into names, also after the process has exited, and into the outputs
 * people read stacks in:
 *
 *   symbolizer   address of a process -> module + offset -> function +
 *                offset (C++ demangled; .symtab, .dynsym, debug files by
 *                build-id, MiniDebugInfo; fn_<hex> for stripped code), and
 *                with UPROBE_SYMBOLIZE_LINES source file:line and the calls
 *                inlined there (DWARF)
 *   text         bpftrace's ustack (map keys), perf script's callchain
 *   folded       "root;...;leaf COUNT" lines (flamegraph.pl, inferno, speedscope)
 *   flame graph  a self-contained interactive SVG (search, zoom, tooltips)
 *   reader       the stack table's memfd: frames by stack id
 *
 * Conventions as in uprobes.h: 0 or -errno; constructors return NULL and set
 * errno; opts structs start with size_t sz. Nothing here is signal-safe or
 * meant for the traced process.
 */
#ifndef UPROBES_STACK_H
#define UPROBES_STACK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "uprobes.h"
#include "uprobes_trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Frames a stack holds at most (bpftrace's ustack cap). */
#define UPROBE_STACK_MAX 127

/* ---- the mappings of traced processes -------------------------------------------- */

/*
 * A process that records stacks reports its executable mappings in its
 * rings, as records of this event id (never a spec's), when its first
 * $ustack event is attached and whenever they change (dlopen, dlclose).
 * Their payload:
 *
 *   u32 magic UPROBE_STACK_MAPS_MAGIC, u32 n, then n times:
 *   u64 start, end, offset, dev, ino; u32 path_len; u32 0;
 *   path_len bytes of path (no NUL), padded to 8
 *
 * A tracer passes every record to uprobe_symbolizer_take_record(), which
 * keeps these (checked: counts, lengths, bounds) and ignores the others.
 */
#define UPROBE_STACK_MAPS_EVENT 0xffffff00u
#define UPROBE_STACK_MAPS_MAGIC 0x50414d55u /* "UMAP" */

struct uprobe_mapping {
	uint64_t start, end, offset; /* [start, end) maps the file from offset */
	uint64_t dev, ino;	     /* the file's identity (0, 0: anonymous) */
	const char *path;	     /* "/usr/lib/...", "[vdso]", "[anon:name]", "" */
};

/*
 * The addresses of field i (a $ustack) of a record, leaf first, up to max:
 * their number, -EFAULT (none were recorded), or -EINVAL (not a stack field,
 * or one that does not lie inside the record).
 */
UPROBE_API int trace_field_ustack(const struct trace_layout *layout, const struct trace_record *rec,
				  int i, uint64_t *frames, unsigned int max);

/* ---- symbolizer ------------------------------------------------------------------ */

struct uprobe_symbolizer;

enum uprobe_symbolizer_flags {
	/* Source file:line of each frame and the calls inlined there (DWARF). */
	UPROBE_SYMBOLIZE_LINES = 1u << 0,
};

struct uprobe_symbolizer_opts {
	size_t sz;	    /* sizeof(struct uprobe_symbolizer_opts) */
	unsigned int flags; /* enum uprobe_symbolizer_flags */
};

UPROBE_API struct uprobe_symbolizer *uprobe_symbolizer_new(const struct uprobe_symbolizer_opts *o);
UPROBE_API void uprobe_symbolizer_free(struct uprobe_symbolizer *s);

/*
 * The mappings of pid, read now from /proc/PID/maps (and its parent, whose
 * mappings a forked child shares until it maps its own); kept after the
 * process is gone. uprobe_symbolize() reads them by itself the first time it
 * meets pid, or an address no known mapping of pid covers, while pid lives.
 * 0, or -errno (-ESRCH: no such process).
 */
UPROBE_API int uprobe_symbolizer_read_maps(struct uprobe_symbolizer *s, pid_t pid);
/* One mapping of pid (replacing those it overlaps). 0 or -errno. */
UPROBE_API int uprobe_symbolizer_add_mapping(struct uprobe_symbolizer *s, pid_t pid,
					     const struct uprobe_mapping *m);
/*
 * A record from the rings: if it reports mappings (UPROBE_STACK_MAPS_EVENT),
 * keep them for its pid and return 1; 0 for any other record; -EINVAL for a
 * mappings record that does not hold together (nothing of it is kept).
 */
UPROBE_API int uprobe_symbolizer_take_record(struct uprobe_symbolizer *s,
					     const struct trace_record *rec);

struct uprobe_frame {
	uint64_t addr;
	const char *module;	/* the mapping's path or name; "" when no mapping covers addr */
	uint64_t module_off;	/* file offset of addr in module */
	const char *func;	/* demangled; NULL when no symbol or FDE covers addr */
	const char *short_func; /* C++: without parameters ("ns::Foo::bar"); else func */
	uint64_t func_off;	/* addr - the function's start */
	const char *file;	/* UPROBE_SYMBOLIZE_LINES: source file, or NULL */
	unsigned int line;
	int inlined;		/* a call inlined into the next frame (same addr) */
};

/*
 * The frames at addr in pid: one, or with UPROBE_SYMBOLIZE_LINES one per
 * inlined call too, innermost first (up to max). ret_addr: addr is a return
 * address (function and line are those of the call, addr - 1; func_off still
 * counts to addr). Returns the number of frames (>= 1), or -EINVAL. Strings
 * live as long as the symbolizer.
 */
UPROBE_API int uprobe_symbolize(struct uprobe_symbolizer *s, pid_t pid, uint64_t addr,
				int ret_addr, struct uprobe_frame *out, unsigned int max);

/*
 * The formatter prints $ustack fields symbolized by s (which it does not
 * own; NULL: addresses only): text, under the event's line, one line per
 * frame as perf script's callchain (UPROBE_STACK_PERF); JSON, the field's
 * value is an array of {"ip","func","off","module","module_off"[,"file","line"]
 * [,"inlined"]} (func null for unknown code);
 * Perfetto, an array of the frames' bpftrace text. The caller still passes
 * every record to uprobe_symbolizer_take_record() first. 0 or -EINVAL.
 */
UPROBE_API int trace_formatter_set_symbolizer(struct trace_formatter *f,
					      struct uprobe_symbolizer *s);

enum uprobe_stack_style {
	/*
	 * bpftrace's ustack, as its map keys print it: each frame on its own
	 * line, indented 4 spaces, "function+offset" (decimal); unknown code
	 * "[unknown] 0x7f..." and the mapping's name in parentheses. With
	 * lines: " (file:line)" after each frame, inlined calls on their own
	 * lines marked "[inlined]".
	 */
	UPROBE_STACK_BPFTRACE,
	/* perf script's callchain: a tab, then "%16lx function+0xoff (module)" */
	UPROBE_STACK_PERF,
};

/*
 * Print frames[0 .. n) of pid, frame 0 being where the hit was (not a return
 * address), one line per frame (and inlined call). Returns 0 or -EIO.
 */
UPROBE_API int uprobe_stack_print(struct uprobe_symbolizer *s, pid_t pid, const uint64_t *frames,
				  unsigned int n, enum uprobe_stack_style style, FILE *out);

/* ---- folded stacks and flame graphs ------------------------------------------- */

struct uprobe_folded;

UPROBE_API struct uprobe_folded *uprobe_folded_new(void);
UPROBE_API void uprobe_folded_free(struct uprobe_folded *f);
/*
 * count more samples of the stack named names[0 .. n), root first (a ';' in
 * a name becomes ':', a line break a blank). 0 or -errno.
 */
UPROBE_API int uprobe_folded_add(struct uprobe_folded *f, const char *const *names, unsigned int n,
				 uint64_t count);
/*
 * The same for frames[0 .. n) of pid (leaf first, as captured), symbolized:
 * functions without offsets (inlined calls as frames of their own with
 * UPROBE_SYMBOLIZE_LINES), unknown code as "[unknown]", prefixed by the
 * process's comm when comm is not NULL. 0 or -errno.
 */
UPROBE_API int uprobe_folded_add_stack(struct uprobe_folded *f, struct uprobe_symbolizer *s,
				       pid_t pid, const char *comm, const uint64_t *frames,
				       unsigned int n, uint64_t count);
/* "root;...;leaf COUNT" lines, sorted, for flamegraph.pl and the like. 0 or -EIO. */
UPROBE_API int uprobe_folded_print(const struct uprobe_folded *f, FILE *out);
/* Samples in all. */
UPROBE_API uint64_t uprobe_folded_total(const struct uprobe_folded *f);

struct uprobe_flamegraph_opts {
	size_t sz;	    /* sizeof(struct uprobe_flamegraph_opts) */
	const char *title;  /* NULL: "Flame Graph" */
	const char *subtitle; /* NULL: none */
	unsigned int width; /* pixels (0: 1200) */
	const char *count_name; /* what a sample is ("samples", "calls"); NULL: "samples" */
};

/*
 * The flame graph of f as one SVG document: no network, no external file;
 * its script finds (search, also from the URL: #search=REGEX), zooms (a
 * click; #zoom=N zooms on the Nth frame of document order) and shows a
 * frame's name, count and share in its tooltip and the details line.
 * 0, or -EIO / -ENOMEM.
 */
UPROBE_API int uprobe_flamegraph_write(const struct uprobe_folded *f,
				       const struct uprobe_flamegraph_opts *opts, FILE *out);

/* ---- the stack table's reader ------------------------------------------------ */

struct uprobe_stack_reader;

/* Map the stack table's memfd (read-only). NULL + errno (EINVAL: not a stack table). */
UPROBE_API struct uprobe_stack_reader *uprobe_stack_reader_new(int memfd);
UPROBE_API void uprobe_stack_reader_free(struct uprobe_stack_reader *r);
/*
 * The frames of stack id (leaf first), up to max: their number, or -ENOENT
 * (no such stack, or not yet complete), -EINVAL (an entry that does not hold
 * together: it is not read).
 */
UPROBE_API int uprobe_stack_reader_get(struct uprobe_stack_reader *r, uint64_t id,
				       uint64_t *frames, unsigned int max);

/*
 * The mappings the processes that interned stacks left in the table (the
 * language's ustack: the agent writes them when its probes go in), each
 * given to s (uprobe_symbolizer_take_record) under its pid: frames can be
 * named after the processes exited. Returns how many were taken, or -EINVAL.
 */
UPROBE_API int uprobe_stack_reader_maps(struct uprobe_stack_reader *r,
					struct uprobe_symbolizer *s);

struct uprobe_stack_table_stats {
	size_t sz;	  /* sizeof(struct uprobe_stack_table_stats) */
	uint64_t stacks;  /* distinct stacks interned */
	uint64_t dropped; /* new stacks refused: the table was full */
	uint64_t capacity;
};

UPROBE_API int uprobe_stack_reader_stats(struct uprobe_stack_reader *r,
					 struct uprobe_stack_table_stats *st);

#ifdef __cplusplus
}
#endif

#endif
