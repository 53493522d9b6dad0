/* SPDX-License-Identifier: MIT */
/*
 * libFuzzer target for the spec parser: any input is parsed; a refused one
 * must come back with EINVAL or E2BIG and an error inside the line; an
 * accepted one is formatted, the canonical text parsed again and compared
 * (parse(format(x)) == x, format a fixed point), and formatting into a short
 * buffer must give a prefix of the full text. Any breach abort()s, so the
 * fuzzer keeps the input. Built by `make fuzz` (see fuzz/README.md).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "uprobes_trace.h"
#include "trace_spec/spec_cmp.h"

static char *format_new(const struct trace_spec *s)
{
	int n = trace_spec_format(s, NULL, 0);
	char *buf;

	if (n <= 0)
		abort();
	buf = malloc((size_t)n + 1);
	if (!buf)
		abort();
	if (trace_spec_format(s, buf, (size_t)n + 1) != n || strlen(buf) != (size_t)n)
		abort();
	return buf;
}

static void check_refused(const char *line, const struct trace_error *err)
{
	if (errno != EINVAL && errno != E2BIG)
		abort();
	if (!err->msg[0] || err->column < 0 || (size_t)err->column > strlen(line))
		abort();
	if (!memchr(err->token, 0, sizeof(err->token)) || strlen(err->token) > strlen(line))
		abort();
}

static void check_short_buffer(const struct trace_spec *s, const char *full, size_t size)
{
	size_t n = strlen(full), len = size % (n + 1);
	char *buf = malloc(len + 1);

	if (!buf)
		abort();
	if (trace_spec_format(s, buf, len) != (int)n)
		abort();
	if (len && (strlen(buf) != len - 1 || strncmp(buf, full, len - 1)))
		abort();
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct trace_error err, err2;
	struct trace_spec *s, *s2;
	char *line = malloc(size + 1), *canon, *again, why[64];

	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = 0;
	errno = 0;
	s = trace_spec_parse(line, &err);
	if (!s) {
		check_refused(line, &err);
		free(line);
		return 0;
	}
	canon = format_new(s);
	s2 = trace_spec_parse(canon, &err2);
	if (!s2 || spec_cmp(s, s2, why, sizeof(why)))
		abort();
	again = format_new(s2);
	if (strcmp(canon, again))
		abort();
	check_short_buffer(s, canon, size);
	free(again);
	trace_spec_free(s2);
	free(canon);
	trace_spec_free(s);
	free(line);
	return 0;
}
