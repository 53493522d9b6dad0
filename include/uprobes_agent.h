/* SPDX-License-Identifier: MIT */
/*
 * libuprobes agent protocol: how a tracer process (the uprobe command, or any
 * other) gets probes into a program and its rings back. The agent is part of
 * libuprobes and does nothing unless a tracer speaks to it, in one of two ways.
 *
 * Launch mode: the tracer starts the command with libuprobes preloaded and
 * UPROBE_AGENT_FD naming one end of a SOCK_SEQPACKET socketpair (the control
 * socket, inherited by every descendant). Every process image that loads the
 * library with that variable set (the command, and whatever it execs) runs the
 * agent's constructor before main:
 *
 *   agent -> tracer  HELLO   on the control socket (n: pid), with a private
 *                            socketpair end (SCM_RIGHTS): the rest goes over
 *                            that one. The tracer sets SO_PASSCRED: the kernel
 *                            adds the sender's pid, uid and gid.
 *   tracer -> agent  SPECS   struct uprobe_agent_specs (n: probes), with two
 *                            memfds: the probe lines ('\n'-separated, text_len
 *                            bytes) and the counts (one struct uprobe_agent_count
 *                            per probe, shared by every image: the agent adds
 *                            its skipped hits there as they happen), and
 *                            optionally a third: the maps (trace_maps_fd),
 *                            whose blob is a struct uprobe_agent_aggs: the
 *                            probes then aggregate in the process instead of
 *                            writing records (or a struct uprobe_agent_lang),
 *                            and after the maps optionally a fourth: the
 *                            stack table of a program's ustack keys (a memfd
 *                            of uprobe_stack_reader's layout, made by the
 *                            tracer; the agent interns stacks and leaves its
 *                            mappings there)
 *   agent -> tracer  PROGRESS n: probes attached so far, every
 *                            UPROBE_AGENT_PROGRESS_EVERY (thousands take seconds)
 *   agent -> tracer  READY   n: probes, with two memfds: the statuses (one
 *                            struct uprobe_agent_status per probe) and the
 *                            session's rings (none when it has no session)
 *   tracer -> agent  GO      run on (main), or ABORT: a probe the user asked
 *                            for was refused in the command itself; the
 *                            image exits with status 126 before main
 *   tracer -> agent  STOP    (or the socket closes: the tracer died)
 *   agent -> tracer  STOPPED every probe is out (n: 0)
 *
 * A process image started in secure-execution mode (setuid, setgid, file
 * capabilities: AT_SECURE, where the loader ignores LD_PRELOAD) is never
 * traced: its agent says HELLO_SECURE (n: pid; nothing else, no descriptor)
 * when the control socket's peer is its real user, and nothing more.
 *
 * Each memfd is sealed by the process that made it (F_SEAL_SHRINK,
 * F_SEAL_GROW and F_SEAL_SEAL; F_SEAL_WRITE too unless the other side writes
 * into it), and the receiver checks the seals and sizes before it reads: see
 * docs/security.md for what each side trusts.
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
 * are read with the consumer of uprobes_trace.h from the rings' memfd.
 */
#ifndef UPROBES_AGENT_H
#define UPROBES_AGENT_H

#include <stdint.h>

#define UPROBE_AGENT_ENV_FD "UPROBE_AGENT_FD"
#define UPROBE_AGENT_ATTACH_SYM "uprobe_agent_attach"
#define UPROBE_AGENT_MAX_SPECS 65536	  /* probes in one run */
#define UPROBE_AGENT_TEXT_MAX (64u << 20) /* bytes of probe lines in one run */
#define UPROBE_AGENT_PROGRESS_EVERY 256

enum uprobe_agent_msg_type {
	UPROBE_AGENT_HELLO = 1,
	UPROBE_AGENT_SPECS,
	UPROBE_AGENT_READY,
	UPROBE_AGENT_STOP,
	UPROBE_AGENT_STOPPED,
	UPROBE_AGENT_GO,
	UPROBE_AGENT_ABORT,
	UPROBE_AGENT_EXITING,
	UPROBE_AGENT_HELLO_SECURE,
	UPROBE_AGENT_PROGRESS,
};

/*
 * Attach mode in a process that maps libstdc++: the agent takes return probes
 * on the return sites only, and a refusal for want of the hijack says this
 * (the tracer then goes on with the other probes, see trace_agents.c).
 */
#define UPROBE_AGENT_SITE_ONLY_WHY \
	"attach mode, libstdc++ mapped: no return address may be swapped"

struct uprobe_agent_hdr {
	uint32_t type; /* enum uprobe_agent_msg_type */
	uint32_t n; /* HELLO, HELLO_SECURE: pid; SPECS, READY, PROGRESS: probes; EXITING: status */
};

/* SPECS, with the memfds of the probe lines and of the counts (SCM_RIGHTS, in that order). */
struct uprobe_agent_specs {
	struct uprobe_agent_hdr h;
	uint64_t text_len; /* bytes of probe lines at the start of the first memfd */
};

/*
 * The blob of SPECS's maps (trace_maps_set_blob): what every probe aggregates
 * (struct trace_event_agg). Map ids, or -1; the count and filtered maps are
 * keyed by the probe's index (uint32_t). The agent looks the fetch-arg names
 * up in each probe's line; a probe without such an arg has no filter (keeps
 * every hit) or adds nothing to the histogram, as the tracer's own would.
 * hist_arg "latency": the histogram of return probes' call durations.
 */
#define UPROBE_AGENT_AGGS_MAGIC 0x53474741u /* "AGGS" */
/*
 * Or a bpftrace program (uprobe -e): struct uprobe_agent_lang then its text.
 * The maps of the region are the program's, in its order; probe line i's
 * event is "pN_aM...": attach point M of the program's probe N. The agent
 * compiles the text (the plan the tracer made) and runs probe N's plan at
 * every hit. latency_mult: ns per TSC tick << 32 (nsecs); start_tsc: the
 * TSC when tracing began (elapsed).
 */
#define UPROBE_AGENT_LANG_MAGIC 0x474e414cu /* "LANG" */
struct uprobe_agent_lang {
	uint32_t magic;
	uint32_t text_len; /* bytes of text after this header, no NUL */
	uint64_t latency_mult;
	uint64_t start_tsc;
};
struct uprobe_agent_aggs {
	uint32_t magic;
	int32_t count_map, filtered_map, hist_map;
	int32_t filter_op; /* enum trace_filter_op */
	uint32_t pad;
	int64_t filter_value;
	char hist_arg[32];   /* TRACE_MAX_ARG_NAME, NUL-terminated; "" none; "latency": */
	char filter_arg[32]; /* likewise */
	uint64_t latency_mult; /* ns = TSC ticks * latency_mult >> 32 (return probes) */
};

/*
 * READY's first memfd: one per probe, in the order of the lines, then the
 * messages' text: status i's message is the msg_len bytes (no NUL among
 * them) at msg_off of the text that follows the last status. The memfd is
 * the traced process's: the tracer checks every offset and length against
 * its size, and the size against UPROBE_AGENT_MSG_MAX per probe.
 */
#define UPROBE_AGENT_MSG_MAX 1024 /* a message's bytes, less one (the library's: < 512) */
struct uprobe_agent_status {
	int32_t err;	  /* 0, or -errno (-4095..-1) */
	char mode[16];	  /* execution mode when attached (uprobe_mode_name), NUL-terminated */
	uint32_t msg_off; /* uprobe_last_error() when err; how returns are caught when not */
	uint32_t msg_len; /* 0: no message; else < UPROBE_AGENT_MSG_MAX */
};

/* SPECS's second memfd: one per probe, in the order of the lines. */
struct uprobe_agent_count {
	uint64_t skipped; /* hits not recursed into, over every process traced (atomic adds) */
};

/*
 * Attach mode, called in the traced process by a tracer (through ptrace):
 * start the agent on a new private socketpair and return the number of the
 * tracer's end, or -errno (-EBUSY: a tracer is attached already; -EPERM: a
 * secure-execution process).
 */
int uprobe_agent_attach(void);

#endif
