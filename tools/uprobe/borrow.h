/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace -p: one thread of a running process, borrowed with ptrace to
 * call functions in it (borrow.c), for attach.c. Private to tools/uprobe.
 *
 * A call never returns to nowhere: each returns into code that puts the
 * thread back as it was borrowed, whether or not uprobe is still there to
 * see it (see "the way back" in borrow.c). Killing uprobe at any moment
 * leaves the process running as before.
 */
#ifndef UPROBE_BORROW_H
#define UPROBE_BORROW_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/user.h>

#define BORROW_XSTATE_MAX 16384

/* Where the borrowed thread is, between calls. */
enum borrow_state {
	AT_BORROW,  /* stopped where it was borrowed, nothing changed */
	AT_WAY_BACK, /* stopped at the way back's rt_sigreturn, after a call */
	AT_PARKED,  /* stopped for the registers to go back (borrow_release) */
	RUNNING,    /* in a call that did not come back in time */
};

struct borrowed {
	pid_t pid, tid;
	char root[64]; /* /proc/PID/root: its files as it sees them */
	struct user_regs_struct regs; /* as interrupted */
	uint8_t xstate[BORROW_XSTATE_MAX];
	struct iovec xiov;
	enum borrow_state state;
	/* The way back (borrow.c). */
	uint64_t slot;	    /* return address; the signal frame just above */
	uint64_t data;	    /* room for a call's data, above the frame */
	uint64_t sigreturn; /* libc's rt_sigreturn (__restore_rt) */
	uint64_t stub;	    /* the stub page, once mapped */
	int taken_fd;	    /* the descriptor taken at the stub's close, or -1 */
	int taken_err;	    /* errno of pidfd_getfd when taken_fd is -1 */
	/* A system call of a call whose result is wanted: number, first arguments. */
	long watch_nr;
	int watch_nargs;
	uint64_t watch_args[4], watch_ret;
	bool watching; /* at its entry: its exit is the next syscall stop */
};

struct mapping {
	uint64_t start, end, offset;
	char perms[5];
	char path[PATH_MAX];
};

/*
 * Mappings of the file whose base name is NAME (or starts with it when
 * PREFIX). Returns the number found, or -1.
 */
int find_maps(pid_t pid, const char *name, bool prefix, struct mapping *out, int max);

/* Address of SYM in the target's mapping of a file named NAME (see find_maps). */
uint64_t target_sym(const struct borrowed *b, const char *name, bool prefix, const char *sym,
		    char *path_out, size_t len);

/*
 * Seize one thread of B->pid after another until one stops at a point where
 * it holds no lock of libc's or ld.so's. 0 with B->tid borrowed (AT_BORROW);
 * -EPERM or -EACCES when ptrace is refused (the caller says why); -1 after
 * saying why otherwise. NAME is the process's, for messages.
 */
int borrow(struct borrowed *b, const char *name);

/*
 * Prepare the way back (the signal frame on the thread's stack, the stub):
 * 0, or -1 after saying why. Nothing of the thread has changed on failure
 * but the stub may be left unmapped.
 */
int borrow_way_back(struct borrowed *b, const char *name);

/*
 * FN(A0, A1) in the borrowed thread; with DATA, LEN bytes of it are copied
 * into the thread first and A0 points to them. CLOSE_RESULT: the stub closes
 * the (int) result in the process after this process took a copy of it
 * (B->taken_fd). 0 with the result in *RET; -1 if the call did not come back
 * (the thread is RUNNING: it comes back by itself).
 */
int borrow_call(struct borrowed *b, uint64_t fn, uint64_t a0, uint64_t a1, const void *data,
		size_t len, bool close_result, uint64_t *ret);

/*
 * The end: the stub unmapped, the thread stopped where its registers can go
 * back with the kernel's own system call restart (AT_PARKED). 0 or -1.
 */
int borrow_park(struct borrowed *b);

/*
 * Every register back (parked or never changed); the thread goes on, still
 * under ptrace when GUARDED. A thread that cannot be parked is let go: it
 * puts itself back.
 */
void borrow_release(struct borrowed *b, bool guarded);

#endif
