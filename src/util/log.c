/* SPDX-License-Identifier: MIT */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"

#define LOG_MSG_MAX 512

static __thread char last_error[LOG_MSG_MAX];
static uprobe_log_fn log_fn;
static void *log_ctx;

void uprobe_set_log(uprobe_log_fn fn, void *ctx)
{
	log_fn = fn;
	log_ctx = ctx;
}

const char *uprobe_last_error(void)
{
	return last_error;
}

void log_clear_error(void)
{
	last_error[0] = '\0';
}

int log_error(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof(last_error), fmt, ap);
	va_end(ap);
	return -err;
}

int log_report(int err)
{
	if (log_fn && err < 0)
		log_fn(UPROBE_LOG_ERROR, last_error, log_ctx);
	return err;
}

void log_error_prefix(const char *fmt, ...)
{
	char prefix[LOG_MSG_MAX], old[LOG_MSG_MAX];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, last_error, sizeof(old));
	snprintf(last_error, sizeof(last_error), "%s: %s", prefix, old);
}

void log_msg(enum uprobe_log_level level, const char *fmt, ...)
{
	char msg[LOG_MSG_MAX];
	va_list ap;

	if (!log_fn)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_fn(level, msg, log_ctx);
}
