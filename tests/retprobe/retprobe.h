/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the return-probe tests: one descriptor per probed
 * function, generic entry/return handlers that record into a static event
 * log (handlers must be async-signal-safe: no printf, no malloc), and checks
 * run afterwards by the test code.
 */
#ifndef RETPROBE_H
#define RETPROBE_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "testlib.h"
#include "uprobes.h"

/* A real call: not inlined, not cloned, no interprocedural assumptions. */
#define NOIPA __attribute__((noinline, noipa))
/* Make a value opaque, so a call before it is not turned into a tail call. */
#define OPAQUE(x) asm volatile("" : "+r"(x))

/* What the test prints for a function's result in an event sequence. */
enum rk {
	RK_LONG, /* rax as a long */
	RK_INT,	 /* eax as an int */
	RK_NONE, /* not printed (double results, ...) */
};

enum { LOG_ENTRY = 1, LOG_RET = 2, LOG_ALL = 3 };

/* Bits of fdesc.bad: inconsistencies seen by the return handler. */
enum {
	BAD_FUNC = 1,	 /* ret->func is not the probed function */
	BAD_RIP = 2,	 /* regs->rip != ret->ret_addr */
	BAD_RSP = 4,	 /* regs->rsp != ret->entry_sp + 8 */
	BAD_UNWREGS = 8, /* an unwound report with rax or rdx not 0 */
	BAD_FLAGS = 16,	 /* unknown bits in ret->flags */
	BAD_NOCTX = 32,	 /* handler called without our ctx */
};

/* One probed function. Counters are written by the handlers. */
struct fdesc {
	const char *name;
	const void *fn;
	long (*expect)(long arg); /* result for first argument arg (NULL: unchecked) */
	enum rk rk;
	int log;		    /* LOG_* bits: append events to evlog */
	long rax_add, rdx_add;	    /* the return handler adds these to rax/rdx */
	void (*on_entry)(long arg); /* called by the entry handler (async-signal-safe) */

	struct uprobe *probe; /* set by rp_attach */
	int no_entry;	      /* attached without entry handler */
	int has_ret;	      /* attached with the return handler */
	_Atomic uint64_t ent, ret, unw;
	_Atomic uint64_t cookie_null;	/* entries with uprobe_cookie() == NULL */
	_Atomic uint64_t cookie_in_ret; /* uprobe_cookie() != NULL in the return handler */
	_Atomic uint64_t bad_val;	/* normal returns with a result != expect(arg) */
	_Atomic unsigned int bad;	/* BAD_* */
};

struct ev {
	char kind; /* 'E' entry, 'R' return, 'U' unwound, 'M' marker */
	struct fdesc *d;
	const char *text; /* marker text */
	long arg;	  /* rdi at entry; for R/U recovered from the cookie */
	uint64_t rax, rdx, rip, rsp;
	uint64_t func, ret_addr, cookie, entry_sp;
	unsigned int flags;
	union uprobe_xmm xmm0;
	pid_t tid;
	int cookie_null;
};

#define EV_MAX 16384
extern struct ev evlog[EV_MAX];
extern _Atomic unsigned int nev;
extern _Atomic unsigned int ev_overflow;

/* The cookie the entry handler stores for first argument arg. */
static inline uint64_t cookie_of(long arg)
{
	return (uint64_t)(arg * 7 + 1);
}

void h_entry(struct uprobe *p, struct uprobe_regs *regs, void *ctx);
void h_ret(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *ret, void *ctx);
/* Handlers that do nothing. */
void h_noop_entry(struct uprobe *p, struct uprobe_regs *regs, void *ctx);
void h_noop_ret(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *ret, void *ctx);

/* The attach that returned p failed with errno want and said why (uprobe_last_error). */
void expect_refusal(struct uprobe *p, int want, const char *what);

/* check_probe: do not check this count. */
#define ANY UINT64_MAX

void fd_reset(struct fdesc *d);
struct uprobe *rp_attach(struct fdesc *d, unsigned int flags, int entry, int ret);
struct uprobe *rp_attach_loc(struct fdesc *d, const char *loc, unsigned int flags, int entry,
			     int ret);
/* Free d's probe now (and forget it). */
void rp_free(struct fdesc *d);
void rp_detach_all(void);

void ev_reset(void);
unsigned int ev_count(void);
void ev_mark(const char *text);
/* The nth (from 0) event of that kind and function, NULL if none. */
struct ev *ev_find(char kind, const struct fdesc *d, int nth);
/* "E f(1), R f(1)=3, ..." of the logged events. */
void ev_seq(char *buf, size_t n);
/* The logged sequence must equal want (TL_FAIL with both otherwise). */
void check_seq_(const char *want, const char *file, int line);
#define check_seq(want) check_seq_(want, __FILE__, __LINE__)
/* Append "E name(arg)" etc. to a sequence being built. */
void seq_add(char *buf, size_t n, char kind, const struct fdesc *d, long arg, long val);

/* info and handler counters of one probe, and the handler's sanity bits. */
void check_probe_(struct fdesc *d, uint64_t hits, uint64_t ret_hits, uint64_t unwound,
		  uint64_t missed, const char *file, int line);
#define check_probe(d, h, r, u, m) check_probe_(d, h, r, u, m, __FILE__, __LINE__)
/* An R or U event against the entry event of the same call. */
void check_ret_ev_(const struct ev *e, const struct ev *r, uint64_t want_ra, const char *file,
		   int line);
#define check_ret_ev(e, r, ra) check_ret_ev_(e, r, ra, __FILE__, __LINE__)

void get_stats(struct uprobe_stats *s);
pid_t rp_gettid(void);

/* Cases in other files. */
void t_longjmp(unsigned int flags);
void t_longjmp_into_probed(unsigned int flags);
void t_siglongjmp(unsigned int flags);
void t_longjmp_loop(unsigned int flags);
void t_pthread_exit(unsigned int flags);
void t_pthread_cancel(unsigned int flags);
void t_signal_raise(unsigned int flags);
void t_signal_altstack_malloc(unsigned int flags);
void t_signal_altstack_mmap(unsigned int flags);
void t_signal_altstack_above(unsigned int flags);
void t_signal_alarm(unsigned int flags);
void t_signal_alarm_altstack(unsigned int flags);
void t_fork(unsigned int flags);
void t_swapcontext(unsigned int flags);
void t_siglongjmp_altstack(unsigned int flags);
void t_siglongjmp_altstack_loop(unsigned int flags);
void t_longjmp_thread_end(unsigned int flags);
void t_refuse_returns_twice(unsigned int flags);
void t_refuse_no_caller(unsigned int flags);
void t_thread_end_live(unsigned int flags);
void t_coroutine_other_thread(unsigned int flags);

#endif
