/* SPDX-License-Identifier: MIT */
/*
 * libuprobes: the bpftrace language for user-space probes (docs/language.md).
 *
 * A program is parsed, checked and compiled once (lang_program_new); its
 * errors are bpftrace's ("stdin:1:14-17: ERROR: ...", the line, a ~~~ line).
 * BEGIN, END and interval probes run in the tracer; uprobe/uretprobe/usdt
 * probes run their plan in the traced process. Maps are printed as bpftrace
 * prints them.
 */
#ifndef UPROBES_LANG_H
#define UPROBES_LANG_H

#include <stdint.h>
#include <stdio.h>

#include "uprobes.h"

#ifdef __cplusplus
extern "C" {
#endif

struct lang_program;

/*
 * Parse, check and compile `text`; `name` is the file name in messages
 * ("stdin" for -e). Returns NULL only without memory (errno ENOMEM); a
 * program with errors is returned with lang_program_errors() > 0. A text
 * longer than LANG_MAX_TEXT bytes is one such error ("program too large"),
 * not parsed.
 */
#define LANG_MAX_TEXT (1u << 20)
UPROBE_API struct lang_program *lang_program_new(const char *name, const char *text);
UPROBE_API void lang_program_free(struct lang_program *p);
/* The number of errors; *diag (may be NULL) receives their text ("" when none). */
UPROBE_API int lang_program_errors(const struct lang_program *p, const char **diag);
/* The AST in the shape of bpftrace's -d ("AST after: parser", no types). */
UPROBE_API void lang_program_dump(const struct lang_program *p, FILE *out);
/* The compiled plan, one instruction a line (for -d and tests). */
UPROBE_API void lang_program_dump_plan(const struct lang_program *p, FILE *out);

/* The number of attach points that need a traced process (uprobe:, uretprobe:, usdt:). */
UPROBE_API int lang_program_target_probes(const struct lang_program *p);

/*
 * Probes in a traced process (uprobe -e ... -c/-p/--). 0, or -ENOTSUP with
 * *why naming the attach point at fault: what the agent cannot run yet.
 */
UPROBE_API int lang_program_target_check(const struct lang_program *p, char *why, size_t len);
/*
 * One probe line (uprobes_trace.h's spec syntax) per attach point of the
 * traced process: "p:lang/pN_aM PATH:FUNC[+OFF]" (r: for uretprobe, usdt:PATH:PROVIDER:NAME),
 * PATH the attach point's, or exe when it has none (the command). Returns
 * their count and a NULL-terminated array (lang_program_specs_free), or
 * -errno (-ENOENT: an attach point without a path and exe NULL).
 */
UPROBE_API int lang_program_specs(const struct lang_program *p, const char *exe, char ***lines);
UPROBE_API void lang_program_specs_free(char **lines);
/*
 * What is said of a probe line of lang_program_specs (or of a line expanded
 * from it), at its attach point in the program, as bpftrace says an error
 * ("stdin:1:1-28: ERROR: MSG", the line, a ~~~ line) or, warning non-zero, a
 * warning ("WARNING:"): event is the line's event ("lang/pN_aM" or "pN_aM").
 * A malloc'd text, or NULL when event is not one of the program's attach points.
 */
UPROBE_API char *lang_program_probe_diag(const struct lang_program *p, const char *event,
					 int warning, const char *msg);
/*
 * The probe lines the traced process's agent got (text: '\n'-separated, the
 * lines of lang_program_specs after wildcards are expanded; line i is event
 * i): their names, so that probe as a map key (event i's id, i + 1) is named
 * in full when the maps print. Once, before the run; 0 or -ENOMEM.
 */
UPROBE_API int lang_program_name_events(struct lang_program *p, const char *text, size_t len);
struct trace_maps;
/* The program's maps, in its order, in a region not yet sealed; 0 or -errno with *why. */
UPROBE_API int lang_program_define_maps(const struct lang_program *p, struct trace_maps *m,
					char *why, size_t len);

/*
 * The stack table of the program's ustack keys (made at the first call, freed
 * with the program): a memfd to hand to the agents with SPECS, after the maps
 * (uprobes_agent.h). -ENOENT when no probe uses ustack, else -errno.
 */
UPROBE_API int lang_program_stack_fd(struct lang_program *p);

/* Output formats of the tracer side. */
enum lang_output { LANG_OUT_TEXT, LANG_OUT_JSON };

/*
 * Tracer-side run of the probes that do not need a traced process: BEGIN,
 * then interval probes until exit() or SIGINT/SIGTERM, then END, with maps
 * kept in the tracer, printing to `out` as bpftrace does
 * (every non-empty map at the end; LANG_OUT_JSON: bpftrace's -f json lines).
 * Returns 0, or -errno (-EINVAL: the program has errors).
 */
UPROBE_API int lang_program_run_local(struct lang_program *p, enum lang_output fmt, FILE *out);
/*
 * The same with a process to follow (uprobe -e with -c/-p and no probe of a
 * traced process, as bpftrace runs them): after BEGIN (unless it called
 * exit()), after_begin(ctx) starts the command or opens the process and
 * returns a descriptor that is readable once it ended (a pidfd): that ends
 * the run as Ctrl-C does; -1: none; below -1: -errno, the run is abandoned
 * (no END) and that is returned.
 */
UPROBE_API int lang_program_run_local_with(struct lang_program *p, enum lang_output fmt,
					   FILE *out, int (*after_begin)(void *ctx), void *ctx);

/*
 * The tracer's side of a run with probes in a traced process: before the
 * process is traced, "Attaching N probes..." (n: the probe lines, plus BEGIN
 * and END) and BEGIN; at the end, the region's maps merged, END, then every
 * map as bpftrace prints it. Maps written by BEGIN are not kept (the
 * region's values replace them). 0 or -errno.
 */
UPROBE_API int lang_program_run_begin(struct lang_program *p, int n, enum lang_output fmt,
				      FILE *out);
UPROBE_API int lang_program_run_end(struct lang_program *p, struct trace_maps *m,
				    enum lang_output fmt, FILE *out);

/*
 * The same, while the process is traced (uprobe -e with printf, exit,
 * interval probes ...): lang_run_new prints "Attaching N probes..." (n: the
 * probe lines; BEGIN, END and interval probes added) and runs BEGIN on the
 * maps of m (sealed: lang_program_define_maps); NULL + errno.
 * lang_run_record performs what a probe emitted (the payload of a ring
 * record of one of its events: printf, print, clear, zero, exit), in the
 * order the records are read; 0 or -EINVAL (not such a record).
 * lang_run_tick runs the interval probes due (the maps merged first) and
 * returns the ms until the next one is (-1: none). lang_run_exited: exit()
 * was called (tracing is to stop; nothing emitted after it is performed).
 * lang_run_end: the maps merged, END, every map printed; *faults (may be
 * NULL): the str() reads that faulted in the target. Frees r; 0 or -errno.
 */
struct lang_run;
UPROBE_API struct lang_run *lang_run_new(struct lang_program *p, struct trace_maps *m, int n,
					 enum lang_output fmt, FILE *out);
UPROBE_API int lang_run_record(struct lang_run *r, const void *data, size_t len);
UPROBE_API int lang_run_tick(struct lang_run *r);
UPROBE_API int lang_run_exited(const struct lang_run *r);
/*
 * How many records performed since the last call were ones a thread of the
 * target waits on (print, clear, zero of a map): the loop reads again soon.
 */
UPROBE_API int lang_run_waited(struct lang_run *r);
UPROBE_API int lang_run_end(struct lang_run *r, uint64_t *faults);
/*
 * A run whose probes never traced (an attach point refused, the command
 * killed before its main): freed without END and without printing a map, as
 * bpftrace prints none when it cannot attach.
 */
UPROBE_API void lang_run_free(struct lang_run *r);
/*
 * Calls that a uretprobe saw left by an exception or longjmp (unwound): its
 * plan does not run there (bpftrace's uretprobe runs at a return), so each is
 * counted instead, over every traced process. Before lang_run_end.
 */
UPROBE_API uint64_t lang_run_unwound(struct lang_run *r);

/*
 * The kernel backend (docs/kernel-backend.md): uprobe:, uretprobe: and usdt:
 * probes made kernel events in every process that maps their file (or a
 * command's, a process's), the plan run in the tracer per event.
 *
 * lang_program_kernel_specs: the probe lines of lang_program_specs with the
 * fetch-args each attach point's plan reads ("a0=%di:u64", "rv=%ax:u64",
 * "s0=+0(%di):string" for str(arg0)). Their count, or -errno with *why:
 * -ENOTSUP names what no kernel event carries (uid, gid, ustack, str() of an
 * expression), -ENOENT an attach point without a path and exe NULL.
 */
UPROBE_API int lang_program_kernel_specs(const struct lang_program *p, const char *exe,
					 char ***lines, char *why, size_t len);

struct lang_krun;
struct trace_spec;
struct trace_layout;
struct trace_record;
/* Maps kept here, output to out; NULL with errno (EINVAL: the program has errors). */
UPROBE_API struct lang_krun *lang_krun_new(struct lang_program *p, enum lang_output fmt, FILE *out);
/*
 * Records of event_id id come from spec (a line of lang_program_kernel_specs,
 * globs and usdt markers expanded, event "pN_aM[_K]"), payload l. 0 or -errno.
 */
UPROBE_API int lang_krun_bind(struct lang_krun *r, uint32_t id, const struct trace_spec *spec,
			     const struct trace_layout *l);
/* "Attaching N probes..." (n: probe lines; BEGIN, END, interval added), BEGIN. 1 after exit(). */
UPROBE_API int lang_krun_begin(struct lang_krun *r, int n);
/* One event (a trace_record_fn, ctx the run): its probe's plan. 1 once exit() was called. */
UPROBE_API int lang_krun_record(const struct trace_record *rec, void *ctx);
/* Interval probes that are due run; the CLOCK_MONOTONIC ns of the next (UINT64_MAX: none). */
UPROBE_API uint64_t lang_krun_intervals(struct lang_krun *r);
UPROBE_API int lang_krun_exited(const struct lang_krun *r);
/* str() reads that found no string (the kernel's read faulted). */
UPROBE_API uint64_t lang_krun_errors(const struct lang_krun *r);
/* END, every map printed, r freed. */
UPROBE_API void lang_krun_end(struct lang_krun *r);
/* r freed, nothing run or printed. */
UPROBE_API void lang_krun_free(struct lang_krun *r);

#ifdef __cplusplus
}
#endif

#endif
