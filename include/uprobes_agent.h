/* SPDX-License-Identifier: MIT */
/*
 * libuprobes agent protocol: how a tracer process (the uprobe command, or any
 * other) gets probes into a program and its rings back. The agent is part of
 * libuprobes and does nothing unless a tracer speaks to it, in one of two ways.
 *
 * Launch mode: the tracer starts the command with libuprobes preloaded and
 * UPROBE_AGENT_FD naming one end of a SOCK_SEQPACKET socketpair. Every process
 * image that loads the library with that variable set (the command, and
 * whatever it execs) runs the agent's constructor before main:
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
 * the tracer makes one of the process's threads call uprobe_agent_attach(),
 * which creates the private socketpair, starts the agent's thread on one end
 * and returns the other end's number; the tracer takes that descriptor with
 * pidfd_getfd() and has the thread close it. From SPECS on the exchange is the
 * same, except that ABORT detaches what was attached and lets the program run
 * on, and that the agent sends EXITING (n: the exit status) when the program
 * calls exit() while traced. A second tracer is refused (-EBUSY) while one is
 * attached.
 *
 * Every message starts with struct uprobe_agent_hdr; integers are in the host's
 * byte order (both ends run on one machine). The records that the probes write
 * are read with the consumer of uprobes_trace.h from the memfd of READY.
 */
#ifndef UPROBES_AGENT_H
#define UPROBES_AGENT_H

#include <stdint.h>

#define UPROBE_AGENT_ENV_FD "UPROBE_AGENT_FD"
#define UPROBE_AGENT_ATTACH_SYM "uprobe_agent_attach"
#define UPROBE_AGENT_MAX_SPECS 1024
#define UPROBE_AGENT_MSG_MAX (192 * 1024)

enum uprobe_agent_msg_type {
	UPROBE_AGENT_HELLO = 1,
	UPROBE_AGENT_SPECS,
	UPROBE_AGENT_READY,
	UPROBE_AGENT_STOP,
	UPROBE_AGENT_STOPPED,
	UPROBE_AGENT_GO,
	UPROBE_AGENT_ABORT,
	UPROBE_AGENT_EXITING,
};

struct uprobe_agent_hdr {
	uint32_t type; /* enum uprobe_agent_msg_type */
	uint32_t n;    /* HELLO: pid; SPECS: bytes of text; READY/STOPPED: entries */
};

/* READY: one per spec. */
struct uprobe_agent_status {
	int32_t err;	 /* 0, or -errno */
	char mode[16];	 /* execution mode when attached (uprobe_mode_name) */
	char msg[172];	 /* uprobe_last_error() when err */
};

/* STOPPED: one per spec (zeroes for specs that were not attached). */
struct uprobe_agent_count {
	uint64_t hits, skipped, ret_hits, ret_missed;
	char mode[16];
};

/*
 * Attach mode, called in the traced process by a tracer (through ptrace):
 * start the agent on a new private socketpair and return the number of the
 * tracer's end, or -errno (-EBUSY: a tracer is attached already).
 */
int uprobe_agent_attach(void);

#endif
