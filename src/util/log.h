/* SPDX-License-Identifier: MIT */
/*
 * Error reporting: every failing call records a message for the calling thread
 * (uprobe_last_error); the public entry point that fails passes the final
 * message to the log callback (log_report). Never used from a signal handler.
 */
#ifndef UPROBES_UTIL_LOG_H
#define UPROBES_UTIL_LOG_H

#include "uprobes.h"

/* Record "msg" as the calling thread's last error; returns -err. */
int log_error(int err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* At an API boundary: pass the final message of a failure (err < 0) to the log callback. */
int log_report(int err);

/* Prefix the current message with "prefix: " (keeps the errno). */
void log_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void log_clear_error(void);
void log_msg(enum uprobe_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
