/* SPDX-License-Identifier: MIT */
/*
 * The tracer <-> agent protocol (launch mode). The tracer starts the command
 * with libuprobes preloaded and UPROBE_AGENT_FD naming one end of a
 * SOCK_SEQPACKET socketpair. Every process image that loads the library with
 * that variable set (the command, and whatever it execs) runs the agent's
 * constructor before main:
 *
 *   agent -> tracer  HELLO   on the shared fd, with a private socketpair end
 *                            (SCM_RIGHTS): the rest goes over that one
 *   tracer -> agent  SPECS   the probe lines, '\n'-separated
 *   agent -> tracer  READY   one status per spec, with the session's memfd
 *   tracer -> agent  GO      run on (main), or ABORT: a probe the user asked
 *                            for was refused in the command itself; the
 *                            image exits with status 126 before main
 *   tracer -> agent  STOP    (or the socket closes: the tracer died)
 *   agent -> tracer  STOPPED per-spec hits, skipped hits and execution mode
 *
 * The agent detaches every probe when the tracer stops it or disappears, and
 * never stops the program. Processes forked without exec share their parent's
 * probes and rings.
 *
 * Attach mode (uprobe trace -p PID) reaches the agent without an environment:
 * the tracer makes one of the process's threads call AGENT_ATTACH_SYM(), which
 * creates the private socketpair, starts the agent's thread on one end and
 * returns the other end's number; the tracer takes that descriptor with
 * pidfd_getfd() and has the thread close it. From SPECS on the exchange is the
 * same, except that ABORT detaches what was attached and lets the program run
 * on, and that the agent sends EXITING (n: the exit status) when the program
 * calls exit() while traced. A second tracer is refused (-EBUSY) while one is
 * attached.
 */
#ifndef UPROBES_AGENT_PROTO_H
#define UPROBES_AGENT_PROTO_H

#include <stdint.h>

#define AGENT_ENV_FD "UPROBE_AGENT_FD"
#define AGENT_ATTACH_SYM "uprobe_agent_attach"
#define AGENT_MAX_SPECS 1024
#define AGENT_MSG_MAX (192 * 1024)

enum agent_msg_type {
	AGENT_HELLO = 1,
	AGENT_SPECS,
	AGENT_READY,
	AGENT_STOP,
	AGENT_STOPPED,
	AGENT_GO,
	AGENT_ABORT,
	AGENT_EXITING,
};

struct agent_hdr {
	uint32_t type; /* enum agent_msg_type */
	uint32_t n;    /* HELLO: pid; SPECS: bytes of text; READY/STOPPED: entries */
};

/* READY: one per spec. */
struct agent_status {
	int32_t err;	 /* 0, or -errno */
	char mode[16];	 /* execution mode when attached (uprobe_mode_name) */
	char msg[172];	 /* uprobe_last_error() when err */
};

/* STOPPED: one per spec (zeroes for specs that were not attached). */
struct agent_count {
	uint64_t hits, skipped, ret_hits, ret_missed;
	char mode[16];
};

#endif
