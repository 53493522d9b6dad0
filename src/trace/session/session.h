/* SPDX-License-Identifier: MIT */
/*
 * Private to the library: what a session's users inside it (the agent's
 * bpftrace programs, src/agent/agent_lang.c) need beyond uprobes_trace.h.
 */
#ifndef UPROBES_TRACE_SESSION_SESSION_H
#define UPROBES_TRACE_SESSION_SESSION_H

struct trace_session;
struct trace_rings;

/* The session's rings: records written there are read by the tracer as its events'. */
struct trace_rings *trace_session_rings(struct trace_session *s);

#endif
