/* SPDX-License-Identifier: MIT */
/* The uprobe command: one file per subcommand, sharing these helpers. */
#ifndef UPROBE_CLI_H
#define UPROBE_CLI_H

/* Exit codes (also in docs/uprobe.1). */
enum {
	CLI_EXIT_OK = 0,
	CLI_EXIT_FAIL = 1,  /* a probe could not be attached, the command could not run */
	CLI_EXIT_USAGE = 2, /* bad options or probe syntax */
};

#include <stdbool.h>
#include <sys/types.h>
#include <stdint.h>

/*
 * The command's own architecture (tools/uprobe/arch/, one file per target, the
 * Makefile's choice): its ELF machine (e_machine, and its name for messages)
 * and the tick counter the library's agent stamps hits with (rdtsc on x86-64,
 * cntvct_el0 on aarch64).
 */
extern const int cli_elf_machine;
extern const char cli_arch_name[];
uint64_t cli_ticks(void);

int cmd_trace(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_lang(int argc, char **argv); /* uprobe -e PROGRAM, uprobe FILE.bt (lang.c) */
int cmd_cache(int argc, char **argv); /* uprobe cache (cache.c) */
/* The cache's bound kept, once a day, after a trace (cache.c). */
void cli_cache_daily(void);

/*
 * Attach mode (attach.c): load the agent into running process PID and start
 * it; returns the tracer's end of its private channel, with every thread of
 * PID under the guard process's ptrace until guard_proc_end(), or -1 after
 * saying why.
 */
int attach_agent(pid_t pid, const char *lib, bool ret_probes);

/*
 * The guard process (guard_proc.c), forked by uprobe and outliving it: it runs
 * ATTACH(PID, NAME, LIB) (borrow, agent, guard_begin()) as the tracer of every
 * thread and hands its result, the agent's socket, to uprobe: that socket, or
 * -1 after saying why. Then the guard_*() calls below run in it, on uprobe's
 * word: guard_proc_fd() is readable when it has news, guard_proc_service()
 * returns the stopping signal if the process was stopped (SIGSTOP) meanwhile,
 * guard_proc_end() is guard_end() there (the first call), then (the next call)
 * the guard's end, waited for TIMEOUT_MS. If uprobe dies, the guard lets every
 * thread go, each with the signal it is being delivered, and exits.
 */
typedef int guard_attach_fn(pid_t pid, const char *name, const char *lib);
int guard_proc_attach(pid_t pid, const char *name, const char *lib, guard_attach_fn *attach);
int guard_proc_fd(void);
int guard_proc_service(void);
unsigned guard_proc_end(int *stop_sig, int timeout_ms);

/*
 * While the agent of a process attached to puts its probes in (guard.c):
 * every thread is under ptrace, so that a system call the library's
 * quiescence signal cuts short starts again as if nothing happened.
 * guard_begin() seizes the threads besides HELD (0, or the borrowed one,
 * still stopped: the caller lets it go on); guard_fd() is readable when one
 * of them stopped; guard_service() handles their stops and returns the
 * stopping signal if the process was stopped (SIGSTOP) meanwhile;
 * guard_end() detaches them all, returns how many system calls it restarted
 * and sets *STOP_SIG as guard_service() returns it. A thread that did not stop
 * within TIMEOUT_MS (uninterruptible sleep) is let go by a later
 * guard_service() or guard_end().
 */
struct user_regs_struct;
int guard_begin(pid_t pid, pid_t held);
int guard_fd(void);
int guard_service(void);
unsigned guard_end(int *stop_sig, int timeout_ms);
/* The test hook's pause (UPROBE_TEST_GUARD_PAUSE, guard.c) ends when FD is readable. */
void guard_pause_on(int fd);

/*
 * At a ptrace stop of TID: R's system call, cut short by the signal being
 * delivered to a HANDLER or by the stop itself (!HANDLER), made to start again.
 * Returns whether R was changed (the caller writes it back).
 */
bool ptrace_restart_syscall(pid_t tid, struct user_regs_struct *r, bool handler);

/* Thread TID of PID is under our ptrace already (see borrow() in attach.c). */
bool ptrace_is_ours(pid_t pid, pid_t tid);

/*
 * How a process we did not start ended (attach.c): open the watch before
 * attaching (root only; -1 otherwise), then 1 and its wait status once known.
 */
int attach_exit_watch(void);
int attach_exit_status(int fd, pid_t pid, int *status);

/* PID exists and has not exited (attach.c). */
bool attach_process_runs(pid_t pid);

/*
 * A probe on a wildcard symbol (symexpand.c) in the file s->path names (a
 * path: tracer_glob_file made a short name one): one spec line per matching
 * function, each passed to add() (whose non-zero return stops and is
 * returned); or a CLI error code after saying why. as_bpftrace: uprobe -e's.
 */
struct trace_spec;
bool cli_symbol_is_wildcard(const char *symbol);
int cli_expand_wildcard(struct trace_spec *s, const char *text, bool as_bpftrace,
			int (*add)(void *ctx, const char *line), void *ctx);

/* name on PATH (list.c): the first executable regular file, in out; 0 or -ENOENT. */
int cli_find_on_path(const char *name, char *out, size_t len);

/* Does path open, its first bytes ELF's magic? (list.c) */
int cli_is_elf_file(const char *path);

/* "uprobe: " + message on stderr; returns code. */
int cli_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A probe that cannot be traced, its event named: said by the hook when one
 * is set and knows the event (uprobe -e: at the attach point in the program,
 * as bpftrace says an error), else as cli_error's "HEAD: MESSAGE". Returns code.
 */
int cli_probe_error(int code, const char *event, const char *head, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* The same for a note on a probe (uprobe -e: a warning). */
void cli_probe_note(const char *event, const char *head, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* The hook: the whole text to print for the event's message (malloc'd), or NULL. */
void cli_set_probe_hook(char *(*hook)(void *ctx, const char *event, int warning,
				      const char *msg),
			void *ctx);

#endif
