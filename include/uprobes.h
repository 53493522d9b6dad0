/* SPDX-License-Identifier: MIT */
/*
 * libuprobes — user-space dynamic probes for Linux x86-64.
 *
 * A probe is a breakpoint on one instruction of the calling process. When a
 * thread reaches it, the handler runs in that thread with the registers as they
 * were at the probed instruction; then the instruction runs (emulated, executed
 * out of line, or single-stepped) and the program continues as if nothing
 * happened.
 *
 * Conventions: functions return 0 or a negative errno; constructors return NULL
 * and set errno. After any failure, uprobe_last_error() returns a message for
 * the calling thread that names the token, offset or bytes at fault. The library
 * never prints and never exits; see uprobe_set_log().
 *
 * Handlers run inside a SIGTRAP handler (breakpoint mode): they must be
 * async-signal-safe. A probe hit from inside a handler is not recursed into: it
 * is skipped and counted (uprobe_info.skipped).
 */
#ifndef UPROBES_H
#define UPROBES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define UPROBES_VERSION_MAJOR 0
#define UPROBES_VERSION_MINOR 1

#define UPROBE_API __attribute__((visibility("default")))

/*
 * Signals the library owns once a probe is attached: SIGTRAP (breakpoints)
 * and UPROBE_QUIESCE_SIGNAL, the real-time signal it sends the process's
 * other threads to move them out of code being patched (SIGRTMAX, as a
 * constant). The program's own dispositions for both are chained behind the
 * library's and keep working. A debugger or tracer that stops the process's
 * threads may meet this signal while probes go in or come out (uprobe trace -p
 * restarts the system calls it cuts short).
 */
#define UPROBE_QUIESCE_SIGNAL 64

struct uprobe;

/*
 * Registers at the probed instruction. rip is the probed address and rsp the
 * stack pointer as the instruction will see it. A handler may change any field;
 * the change takes effect. If it changes rip, the probed instruction is not
 * executed and the thread resumes at the new rip.
 */
#if defined(__aarch64__)
/*
 * aarch64 (docs/aarch64.md): x[0..30] (x30 is the link register), sp, pc the
 * probed address, pstate with the condition flags NZCV in bits 31..28.
 */
struct uprobe_regs {
	uint64_t x[31];
	uint64_t sp;
	uint64_t pc;
	uint64_t pstate;
};
#else
struct uprobe_regs {
	uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
	uint64_t rax, rcx, rdx, rsi, rdi;
	uint64_t rip;
	uint64_t rflags;
	uint64_t rsp;
};
#endif

typedef void (*uprobe_handler_fn)(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);

/* An xmm register as the return handler sees it. */
union uprobe_xmm {
	uint8_t b[16];
	uint32_t u32[4];
	uint64_t u64[2];
	float f[4];
	double d[2];
};

enum uprobe_ret_flags {
	/*
	 * The frame did not return: it was left by a C++ exception, a longjmp,
	 * pthread_exit or the thread's end. regs then hold only rip (where the
	 * call would have returned) and rsp; rax, rdx and xmm are zero.
	 */
	UPROBE_RET_UNWOUND = 1u << 0,
};

/* What a return handler learns about the call that returned. */
struct uprobe_ret {
	uint64_t func;	    /* the probed function's entry address */
	uint64_t ret_addr;  /* the call site: where the function returns to */
	uint64_t cookie;    /* set by the entry handler of the same call (uprobe_cookie()) */
	uint64_t entry_sp;  /* rsp at entry (it points at the return address) */
	unsigned int flags; /* enum uprobe_ret_flags */
	union uprobe_xmm xmm0, xmm1; /* floating-point return registers */
};

/*
 * Return handler: runs when a call of the probed function returns, with the
 * registers at that moment (rip = the call site, rax/rdx the integer result;
 * changes to general registers take effect, to rip and rsp are ignored).
 * Same rules as an entry handler (no recursion, async-signal-safe).
 */
typedef void (*uprobe_ret_handler_fn)(struct uprobe *probe, struct uprobe_regs *regs,
				      const struct uprobe_ret *ret, void *ctx);

enum uprobe_flags {
	/* Execute out of line even instructions that could be emulated. */
	UPROBE_F_NO_EMULATE = 1u << 0,
	/* Single-step (trap flag) the out-of-line copy instead of boosting it. */
	UPROBE_F_SINGLESTEP = 1u << 1,
	/*
	 * Accept an address that no symbol or .eh_frame FDE covers (JIT code)
	 * without proving it is an instruction boundary. Use with care.
	 */
	UPROBE_F_NO_BOUNDARY_CHECK = 1u << 2,
	/* Never jump-optimize: always use the breakpoint (int3) path. */
	UPROBE_F_NO_OPTIMIZE = 1u << 3,
	/*
	 * The handler touches no SIMD/x87 state (built with -mgeneral-regs-only
	 * and calling nothing that does): a jump-optimized hit then skips saving
	 * the extended state (xsavec/xrstor, ~100+ ns). Breakpoint hits always
	 * preserve it (the kernel's signal frame does).
	 */
	UPROBE_F_HANDLER_NO_SIMD = 1u << 4,
	/*
	 * The handler does not read regs->rflags. At a function entry (where the
	 * status flags are dead by the ABI) a jump-optimized hit then does not
	 * read them either (no pushfq, ~1 ns): the handler sees rflags as 0x202.
	 * The same for the return handler at the return sites (the exits
	 * patched, uprobe_info.ret_path UPROBE_RET_SITE) of exits built for it;
	 * exits built for a return handler that reads them serve it as they are.
	 * Elsewhere, and on breakpoint hits, the flag changes nothing.
	 */
	UPROBE_F_HANDLER_NO_FLAGS = 1u << 5,
	/*
	 * uprobe_analyze() at a function entry: also say how a return probe
	 * there would catch the returns (uprobe_info.ret_path): this decodes
	 * the whole function. Ignored by uprobe_attach().
	 */
	UPROBE_F_ANALYZE_RET = 1u << 6,
	/*
	 * The handler's only work is to add 1 to a per-thread counter: at a
	 * function entry with UPROBE_F_HANDLER_NO_FLAGS and _NO_SIMD (x86-64),
	 * the record this probe creates gets the count stub, which once
	 * uprobe_count_enable() is called adds 1 to the counter itself, without
	 * the handler (see there). Elsewhere, or on a record another consumer
	 * made, nothing changes: uprobe_count_stub() says which.
	 */
	UPROBE_F_COUNT_STUB = 1u << 7,
};

struct uprobe_opts {
	size_t sz; /* sizeof(struct uprobe_opts) */
	uprobe_handler_fn handler;
	void *ctx;
	unsigned int flags; /* enum uprobe_flags */
	/*
	 * Return probe (optional, with or without handler): the location must
	 * be a function entry. Where every exit of the function can be patched
	 * (uprobe_info.ret_path UPROBE_RET_SITE) the exits report the returns;
	 * elsewhere, at each call the return address is swapped for the
	 * library's return trampoline (UPROBE_RET_HIJACK). Either way a
	 * per-thread stack follows UPROBE_RET_DEPTH calls; deeper calls run
	 * unprobed on return and are counted (uprobe_info.ret_missed).
	 * UPROBE_RET_PATH=hijack (read at each attach) takes the hijack
	 * everywhere, =site-strict refuses (ENOTSUP) where it would be taken,
	 * =site-only also where a tail jump would hand the call to it (forced
	 * by uprobe trace -p's agent in a process that maps libstdc++). C++ exceptions, backtrace(),
	 * longjmp, signal handlers (also on sigaltstack), fork and
	 * swapcontext keep working (see docs/architecture.md). Refused on
	 * functions that return twice or that no call enters (ENOTSUP).
	 */
	uprobe_ret_handler_fn ret_handler;
	/*
	 * Optional: every skipped hit (uprobe_info.skipped) is also added here,
	 * atomically, e.g. in memory shared with a tracer, where the count sums
	 * over the process's forks and outlives the process.
	 */
	uint64_t *skipped_counter;
};

/* Calls per thread a return probe can follow at once. */
#define UPROBE_RET_DEPTH 1024

/*
 * In an entry handler of a probe with a return handler: the 64-bit cookie of
 * this call, handed to the return handler of the same call (e.g. a timestamp).
 * NULL elsewhere, or when the call is beyond UPROBE_RET_DEPTH.
 */
UPROBE_API uint64_t *uprobe_cookie(void);

/*
 * Attach a probe in the calling process.
 *
 * path:     an ELF file mapped in this process (the executable or a loaded
 *           library); NULL means the main executable.
 * location: "symbol", "symbol+0x10" (decimal or hex offset), or a file offset
 *           "0x1139" exactly as in the kernel's uprobe_events.
 *           A symbol may be "name@VERSION" / "name@@VERSION", "name@plt", a
 *           demangled C++ name ("ns::Foo::bar(int)", or "ns::Foo::bar" when
 *           unique) or "fn_<hex>" (an .eh_frame function of a stripped file);
 *           symbols come also from separate debug files and MiniDebugInfo
 *           (see uprobe_symbols()).
 *
 * The address must be an instruction boundary: the library decodes the
 * containing function (its symbol, or the .eh_frame FDE) to prove it.
 *
 * Errors (errno): ENOENT path does not exist; ENOEXEC not an x86-64 ELF file;
 * ENXIO file not mapped in this process or offset not in executable code;
 * ESRCH unknown symbol; EINVAL malformed location or bad argument;
 * ERANGE offset beyond the function or file, or no out-of-line memory within
 * ±2 GiB; EILSEQ offset inside an instruction; ENOTSUP instruction that cannot
 * be probed; EINVAL also for a return handler on a location that is not a
 * function entry; ENOTSUP also for a return handler in a Go binary (its
 * runtime moves stacks and reads return addresses), on a function that
 * returns twice (setjmp, vfork, getcontext: the second return would find no
 * saved return address) or that no call enters (the ELF entry point, a
 * signal frame, code entered by a jump: the top of the stack is no return
 * address to swap; see UPROBE_SYM_RETURNS_TWICE, UPROBE_SYM_NOT_CALLED); ENOMEM.
 */
UPROBE_API struct uprobe *uprobe_attach(const char *path, const char *location, const struct uprobe_opts *opts);

/* Attach at an address of the calling process (it must lie in mapped code). */
UPROBE_API struct uprobe *uprobe_attach_addr(const void *addr, const struct uprobe_opts *opts);

/*
 * Detach: restore the original instruction. When this returns, the handler is
 * not running and will not run again for this probe. The object stays valid
 * (for uprobe_get_info) until uprobe_free(). Detaching a probe that is not
 * attached returns -ENOENT.
 */
UPROBE_API int uprobe_detach(struct uprobe *probe);

/* Detach if attached, then free. NULL is accepted. */
UPROBE_API void uprobe_free(struct uprobe *probe);

/*
 * Count stub (UPROBE_F_COUNT_STUB). While probe is attached, alone on its
 * record, and enabled with off (a multiple of 8, not 0), a hit of a thread
 * whose count base is set (uprobe_count_thread) adds 1 to the 64-bit word at
 * base + off with one non-atomic increment, and neither the handler runs
 * nor the hit is counted in uprobe_info.hits: the caller's word has it. A
 * hit of a thread without a base, or while the probe shares its record or
 * is not enabled, runs the handler as before: the handler is the fallback
 * and must count into the same total. Each thread's word must be its own
 * (the add is not atomic) and no other code of the thread may write it.
 *
 * uprobe_count_enable(probe, 0), and uprobe_detach() of an enabled probe,
 * return once no thread can write through the old offset any more (threads
 * preempted inside the stub are moved to its handler's path), so the words
 * may then be freed. 0, -ENOTSUP (not the count stub: uprobe_count_stub()),
 * -EINVAL, -EDEADLK (inside a handler).
 */
UPROBE_API int uprobe_count_enable(struct uprobe *probe, uint64_t off);
/* The same for n probes, with one quiescence; the first error, the others done. */
UPROBE_API int uprobe_count_enable_many(struct uprobe *const *probes, const uint64_t *offs,
					size_t n);
/*
 * The stubs of n probes off without waiting: no signal reaches the target's
 * threads (the wait's signals cut short the system calls of threads that
 * restart none). A thread between its load of the offset and its add may
 * still add 1 through the old offset, once, shortly after: the words must
 * stay writable memory for the process's life (a hit racing the switch-off
 * may be lost). A later uprobe_detach() does not wait either. Errors as above.
 */
UPROBE_API int uprobe_count_off_nowait(struct uprobe *const *probes, size_t n);
/* The calling thread's count base, NULL: none (its hits run the handler). Reset in a fork child. */
UPROBE_API void uprobe_count_thread(void *base);
/* 1 when probe's record has the count stub, else 0. */
UPROBE_API int uprobe_count_stub(const struct uprobe *probe);

/* One element of a batch. Either path+location or addr (path and location NULL). */
struct uprobe_spec {
	const char *path;
	const char *location;
	const void *addr;
	uprobe_handler_fn handler;
	void *ctx;
	unsigned int flags; /* enum uprobe_flags */
	uprobe_ret_handler_fn ret_handler; /* see struct uprobe_opts */
};

enum uprobe_batch_flags {
	/* Attach every spec that can be attached; by default one failure attaches none. */
	UPROBE_BATCH_PARTIAL = 1u << 0,
};

struct uprobe_batch_opts {
	size_t sz;	    /* sizeof(struct uprobe_batch_opts) */
	unsigned int flags; /* enum uprobe_batch_flags */
	int *errs;	    /* optional: per-spec 0 or -errno */
};

/*
 * Attach n probes with one pass over the text and one cross-core
 * synchronisation. probes[i] receives the probe of specs[i] (NULL if it failed).
 * Returns the number attached, or -errno of the first failure when the batch is
 * all-or-nothing (then nothing is attached); uprobe_last_error() names the spec
 * index and the reason.
 */
UPROBE_API int uprobe_attach_many(const struct uprobe_spec *specs, size_t n, struct uprobe **probes,
		       const struct uprobe_batch_opts *opts);

/* Detach n probes with one synchronisation. Returns 0 or the first -errno. */
UPROBE_API int uprobe_detach_many(struct uprobe **probes, size_t n);

/*
 * Bracket a run of uprobe_attach() (or trace_event_attach()) calls made by
 * this thread: in between, each file's symbols are read once, each path is
 * looked up (stat) once, and the process's mappings are not read again for
 * every probe. Nests. Files stay
 * open until the outermost uprobe_batch_end(). Changes speed only:
 * attaching 1,000 probes to one binary takes milliseconds instead of
 * a second or so.
 */
UPROBE_API void uprobe_batch_begin(void);
UPROBE_API void uprobe_batch_end(void);

enum uprobe_mode {
	UPROBE_MODE_NONE = 0,	  /* not analysed / refused */
	UPROBE_MODE_EMULATE,	  /* the instruction is emulated in the trap handler */
	UPROBE_MODE_XOL,	  /* executed out of line, then a jump back (boosted) */
	UPROBE_MODE_SINGLESTEP,	  /* executed out of line under the trap flag, then fixed up */
	UPROBE_MODE_OPTIMIZED,	  /* jmp to a trampoline: no trap, no syscall */
};

/* How a return probe catches the returns of its function. */
enum uprobe_ret_path {
	UPROBE_RET_NONE = 0, /* no return handler, or not a function entry */
	UPROBE_RET_HIJACK,   /* the return address swapped at each call (the fallback) */
	UPROBE_RET_SITE,     /* the function's exits (ret, tail jumps) patched */
};

/* "none", "hijack", "site". */
UPROBE_API const char *uprobe_ret_path_name(enum uprobe_ret_path path);

struct uprobe_info {
	size_t sz;		/* sizeof(struct uprobe_info), set by the caller */
	uint64_t addr;		/* probed address in this process */
	uint64_t file_offset;	/* offset of the instruction in the file */
	char path[256];		/* file the probe lives in */
	char symbol[128];	/* containing function, "" when unknown */
	uint64_t symbol_offset; /* offset from the start of that function */
	enum uprobe_mode mode;
	char reason[128];	/* why that mode (or why refused) */
	char opt_reason[128];	/* why not jump-optimized ("" when optimized) */
	uint8_t window_len;	/* bytes replaced by the jump when optimized */
	uint8_t insn[15];	/* original instruction bytes */
	uint8_t insn_len;
	char insn_text[96];	/* its disassembly (Intel syntax) */
	int attached;
	uint64_t hits;		/* hits of the probe: entry handler calls, or entries when it has none */
	uint64_t skipped;	/* hits from inside a handler, not recursed into */
	uint64_t singlestep_fallbacks; /* hits of this probe executed by single-step */
	/* return probes */
	int has_ret_handler;
	uint64_t ret_hits;	/* return handler calls, including unwound reports */
	uint64_t ret_unwound;	/* of which frames left without returning */
	uint64_t ret_missed;	/* calls beyond UPROBE_RET_DEPTH: no return report */
	/*
	 * How the returns are caught (docs/architecture.md "Return sites"); from
	 * uprobe_analyze() only with UPROBE_F_ANALYZE_RET.
	 */
	enum uprobe_ret_path ret_path;
	int ret_site_ok;	/* every exit of the function can be patched */
	uint32_t ret_sites;	/* its exits patched (or patchable): ret, tail jumps */
	char ret_reason[192];	/* the exits ("3 return sites: 2 ret, 1 tail jump"), or why not */
};

UPROBE_API int uprobe_get_info(const struct uprobe *probe, struct uprobe_info *info);

/*
 * Analyse a location without attaching: fills info (mode, reason, instruction,
 * symbol) exactly as uprobe_attach would decide. Returns 0 or -errno, like
 * uprobe_attach; a refused instruction returns -ENOTSUP with info->reason set.
 */
UPROBE_API int uprobe_analyze(const char *path, const char *location, unsigned int flags,
		   struct uprobe_info *info);

UPROBE_API const char *uprobe_mode_name(enum uprobe_mode mode);

/* ---- symbols ------------------------------------------------------------------------ */

enum uprobe_sym_flags {
	UPROBE_SYM_IFUNC = 1u << 0, /* STT_GNU_IFUNC: vaddr is the resolver */
	UPROBE_SYM_PLT = 1u << 1,   /* a PLT stub: name is NAME@plt */
	UPROBE_SYM_EH = 1u << 2,    /* no symbol: bounds from an .eh_frame FDE, name fn_<hex vaddr> */
	UPROBE_SYM_DEBUG = 1u << 3, /* from a separate debug file or .gnu_debugdata */
	/* A return probe is refused here (ENOTSUP), as it could not follow the calls: */
	UPROBE_SYM_RETURNS_TWICE = 1u << 4, /* setjmp, sigsetjmp, vfork, getcontext, savectx
					       (also after '_'/'__', and their PLT stubs) */
	UPROBE_SYM_NOT_CALLED = 1u << 5,    /* no call enters it: the ELF entry point, a signal
					       frame, code a jump enters (its CFI says so) */
};

struct uprobe_sym {
	const char *name;     /* as shown: demangled for C++, NAME@plt, fn_<hex> */
	const char *short_name; /* C++: name without a template's return type
				   ("ns::max<int>(int, int)"); else name */
	const char *location; /* what uprobe_attach() takes for exactly this function:
				 the ELF name (mangled), NAME@VERSION / NAME@@VERSION for a
				 versioned one, NAME@plt, fn_<hex> */
	const char *version;  /* "GLIBC_2.14", or NULL */
	uint64_t vaddr;	      /* virtual address in the file */
	uint64_t size;
	uint64_t file_offset; /* 0 when not in a PT_LOAD segment */
	int bind;	      /* STB_GLOBAL, STB_WEAK, STB_LOCAL (PLT stubs and FDEs: local) */
	unsigned int flags;   /* enum uprobe_sym_flags */
};

/* Called per function; return non-zero to stop. The strings live until it returns. */
typedef int (*uprobe_sym_fn)(const struct uprobe_sym *sym, void *ctx);

/*
 * Every function of the ELF file at path that a location can name, from
 * .symtab, .dynsym, a separate debug file (by build-id or .gnu_debuglink,
 * under /usr/lib/debug or $UPROBE_DEBUG_DIR), MiniDebugInfo (.gnu_debugdata)
 * and the PLT; aliases (several names of one address) are all reported, in
 * address order. When no function symbol is defined at all (strip
 * --strip-all), the .eh_frame FDEs are reported instead, as fn_<hex vaddr>.
 * pattern (NULL: all) is a shell glob matched against the shown name, the
 * qualified C++ name without parameters ("ns::Foo::*") and the ELF name.
 * Returns the number of functions passed to fn, or -errno.
 */
UPROBE_API int uprobe_symbols(const char *path, const char *pattern, uprobe_sym_fn fn, void *ctx);

/* Process-wide counters: nothing is lost silently. */
struct uprobe_stats {
	size_t sz;		       /* sizeof(struct uprobe_stats) */
	uint64_t hits;		       /* handler calls, all probes */
	uint64_t skipped;	       /* recursive hits not recursed into */
	uint64_t stale_traps;	       /* traps on a probe removed meanwhile, replayed */
	uint64_t foreign_traps;	       /* SIGTRAPs that were not ours, passed to the program */
	uint64_t singlestep_fallbacks; /* instructions single-stepped, all probes */
	uint64_t probes_attached;
	uint64_t xol_slots;	       /* out-of-line slots in use (kept by detached probes too) */
	uint64_t threads_moved;	       /* threads moved out of a window being patched */
	uint64_t ret_hits;	       /* return handler calls, including unwound reports */
	uint64_t ret_unwound;	       /* frames left without returning (exception, longjmp ...) */
	uint64_t ret_missed;	       /* calls beyond UPROBE_RET_DEPTH, not followed */
	uint64_t ret_orphaned;	       /* returns of calls whose probe was detached meanwhile */
	/* Return probes attached (and still attached) by path (uprobe_info.ret_path): */
	uint64_t ret_site_probes;      /* their function's exits patched */
	uint64_t ret_hijack_fallbacks; /* the hijack: exits not patchable (ret_reason says
					  why), or UPROBE_RET_PATH=hijack */
};

UPROBE_API int uprobe_get_stats(struct uprobe_stats *stats);

/*
 * The library owns SIGTRAP (breakpoints) and SIGRTMAX (quiescence requests)
 * and chains the program's own handlers behind its own through the
 * interposed sigaction(). A program that installs a handler with the raw
 * rt_sigaction system call bypasses that: breakpoint hits then reach its
 * handler and resume in the middle of the probed instruction. Every attach
 * and detach takes such signals back (the program's handler is chained, a
 * warning is logged); a program that may do this calls uprobe_check_signals()
 * from time to time (uprobe trace's agent does, every 100 ms). Hits that
 * arrive before then are lost to the program's handler; jump-optimized probes
 * need no signal. Returns the number of signals taken back. Not for handlers.
 */
UPROBE_API int uprobe_check_signals(void);

/*
 * The cache of per-file facts (docs/architecture.md, "Caches": $UPROBE_CACHE_DIR,
 * else $XDG_CACHE_HOME/uprobes, else ~/.cache/uprobes), which every traced
 * process may add to, bounded: when its files take more than the limit, the
 * least recently used go (the later of their access and change times) until
 * they take 3/4 of it. Only the cache's own files are counted or removed
 * (sym-, br-, cfi-, nm- and an- files, and the temporaries they are written
 * under: one an hour old is a dead writer's, removed whatever the limit).
 * limit in bytes; 0: $UPROBE_CACHE_MAX_MB MiB, else UPROBE_CACHE_LIMIT_DEFAULT.
 * u (may be NULL) gets the directory, the limit and what the call counted and
 * removed. 0; -ENOENT: no cache (UPROBE_CACHE_DIR="", no home) or not this
 * user's alone; -EINVAL: UPROBE_CACHE_MAX_MB is not a number of MiB; other
 * -errno: the directory could not be read. Not for handlers. The library
 * never calls it by itself (a directory scan has no place in a traced
 * program's start-up): uprobe trace does, once a day; a program that uses
 * the library alone calls it from time to time.
 */
#define UPROBE_CACHE_LIMIT_DEFAULT (256ull << 20)
enum uprobe_cache_flags {
	UPROBE_CACHE_DAILY = 1 << 0, /* only when the last trim is a day old (one stat else) */
	UPROBE_CACHE_CLEAR = 1 << 1, /* remove every file of the cache, whatever the limit */
	UPROBE_CACHE_COUNT = 1 << 2, /* count, remove nothing */
};
struct uprobe_cache_usage {
	char dir[4096];
	uint64_t limit;			      /* bytes */
	uint64_t files, bytes;		      /* the cache's, after the call (disk blocks) */
	uint64_t removed_files, removed_bytes;
	int skipped; /* UPROBE_CACHE_DAILY, trimmed less than a day ago: nothing counted */
};
UPROBE_API int uprobe_cache_trim(uint64_t limit, unsigned int flags,
				 struct uprobe_cache_usage *u);

enum uprobe_log_level { UPROBE_LOG_ERROR, UPROBE_LOG_WARN, UPROBE_LOG_INFO, UPROBE_LOG_DEBUG };

typedef void (*uprobe_log_fn)(enum uprobe_log_level level, const char *msg, void *ctx);

/* Install a log callback (NULL: silence, the default). Not for use in handlers. */
UPROBE_API void uprobe_set_log(uprobe_log_fn fn, void *ctx);

/* Message of the calling thread's last failed call ("" if none). */
UPROBE_API const char *uprobe_last_error(void);

#ifdef __cplusplus
}
#endif

#endif /* UPROBES_H */
