/* SPDX-License-Identifier: MIT */
/*
 * trace/output — records made readable, in the tracer: the formatters (text,
 * JSON, Perfetto: format.c), field values (field.c, the one place that reads
 * a payload) and aggregations (agg.c). Above spec (types) and transport (the
 * records the consumer hands over); the API is public (uprobes_trace.h:
 * trace_formatter_*, trace_field_*, trace_agg_*). Consumer side only:
 * nothing here runs in the traced process or is signal-safe.
 *
 * This header: what format.c and field.c share, an output sink, the record
 * checks and the value printers.
 */
#ifndef UPROBES_TRACE_OUTPUT_FORMAT_H
#define UPROBES_TRACE_OUTPUT_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#include "uprobes_trace.h"

/*
 * Output of one record or value: grows buf with realloc (grow), or fills a
 * caller's buffer snprintf-style, counting in len what did not fit.
 */
struct fmt_sink {
	char *buf;
	size_t cap;
	size_t len; /* bytes the output needs (may exceed cap when !grow) */
	int grow;
	int err; /* -ENOMEM once growing failed */
};

void fmt_write(struct fmt_sink *s, const void *p, size_t n);
void fmt_puts(struct fmt_sink *s, const char *str);
void fmt_putc(struct fmt_sink *s, char c);
/* Short, bounded formats only (numbers, a comm): at most 127 bytes. */
void fmt_printf(struct fmt_sink *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Bytes as text, escaped so that the line stays one line and the terminal
 * takes no control from it (field.c says how); quote, if not 0, is escaped too.
 */
void fmt_text(struct fmt_sink *s, const uint8_t *p, size_t n, char quote);
/* Bytes as a JSON string (escaped; invalid UTF-8 bytes as \u00XX). */
void fmt_json_str(struct fmt_sink *s, const uint8_t *p, size_t n);
/* A C string of at most max bytes as a JSON string ("" for NULL). */
void fmt_json_cstr(struct fmt_sink *s, const char *str, size_t max);

/*
 * Every field of r, strings included, lies inside r's payload (of at least
 * l->fixed_len bytes): 0 or -EINVAL. The calls below need a checked record.
 */
int fmt_record_check(const struct trace_layout *l, const struct trace_record *r);
/* Arg i's bit in the fault bitmap. */
int fmt_faulted(const struct trace_record *r, int i);

enum fmt_style {
	STYLE_TEXT,	/* trace_field_format: 0x1f, -3, 'c', "text", {1,2}, (fault) */
	STYLE_JSON,	/* JSON values; a faulted arg is null */
	STYLE_PERFETTO, /* JSON values; a faulted arg is "(fault)" */
};

void fmt_field(struct fmt_sink *s, const struct trace_layout *l, const struct trace_record *r,
	       int i, enum fmt_style st);

/*
 * ustack.c: field i of a checked record, a $ustack, symbolized by sym (NULL:
 * addresses only): as lines under the event's (text, perf script's), or as
 * a JSON value (JSON: frame objects; Perfetto: strings).
 */
struct uprobe_symbolizer;
void fmt_ustack_lines(struct fmt_sink *s, struct uprobe_symbolizer *sym,
		      const struct trace_layout *l, const struct trace_record *r, int i);
void fmt_ustack_json(struct fmt_sink *s, struct uprobe_symbolizer *sym,
		     const struct trace_layout *l, const struct trace_record *r, int i,
		     enum fmt_style st);

#endif
