/* SPDX-License-Identifier: MIT */
/*
 * Stacks in the tracer's outputs (uprobes_stack.h): the mappings records a
 * traced process writes (checked, then given to the symbolizer), a stack as
 * text (bpftrace's map keys, perf script's callchain), and the $ustack
 * fields of the formatters: under the event line in text, an array of
 * frames in JSON, an array of strings in a Perfetto event's args.
 *
 * A frame as text (frame_text):
 *   bpftrace  "func+off" (decimal, as bpftrace), "[unknown] 0x7f.. (module)";
 *             with lines " (file:line)", inlined calls "func (file:line) [inlined]"
 *   perf      "        7f1b2c3d4e5f func+0x1f (module)", perf script's
 *             "%16lx %s+0x%lx (%s)" after a tab; "[unknown] (module)"; with
 *             lines " file:line" after it, inlined calls "func (inlined)"
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace/output/format.h"
#include "uprobes_stack.h"

#define MAPS_MAX 65536 /* mappings in one record: more is not a process */

/* ---- mappings records ---------------------------------------------------------- */

/* The n mappings of a record's payload, each checked; -EINVAL if one does not hold together. */
static int maps_check(const uint8_t *p, uint32_t len, uint32_t n)
{
	uint32_t off = 8;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t w[5];
		uint32_t plen;

		if (len - off < 48)
			return -EINVAL;
		memcpy(w, p + off, sizeof(w));
		memcpy(&plen, p + off + 40, 4);
		if (w[1] <= w[0] || plen > 4096 || len - off - 48 < ((plen + 7) & ~7u) ||
		    memchr(p + off + 48, 0, plen))
			return -EINVAL;
		off += 48 + ((plen + 7) & ~7u);
	}
	return 0;
}

UPROBE_API int uprobe_symbolizer_take_record(struct uprobe_symbolizer *s,
					     const struct trace_record *rec)
{
	const uint8_t *p = rec ? rec->data : NULL;
	uint32_t magic, n, off = 8;
	char path[4097];
	int err = 0;

	if (!s || !rec || rec->event_id != UPROBE_STACK_MAPS_EVENT)
		return 0;
	if (rec->data_len < 8 || !p)
		return -EINVAL;
	memcpy(&magic, p, 4);
	memcpy(&n, p + 4, 4);
	if (magic != UPROBE_STACK_MAPS_MAGIC || n > MAPS_MAX || maps_check(p, rec->data_len, n))
		return -EINVAL;
	for (uint32_t i = 0; i < n && !err; i++) {
		struct uprobe_mapping m = { .path = path };
		uint64_t w[5];
		uint32_t plen;

		memcpy(w, p + off, sizeof(w));
		memcpy(&plen, p + off + 40, 4);
		memcpy(path, p + off + 48, plen);
		path[plen] = 0;
		m.start = w[0];
		m.end = w[1];
		m.offset = w[2];
		m.dev = w[3];
		m.ino = w[4];
		err = uprobe_symbolizer_add_mapping(s, (pid_t)rec->pid, &m);
		off += 48 + ((plen + 7) & ~7u);
	}
	return err ? err : 1;
}

/* ---- a frame as text -------------------------------------------------------------- */

/* One frame as a line's text (no indent, no newline) into buf. */
static void frame_text(const struct uprobe_frame *f, enum uprobe_stack_style style, char *buf,
		       size_t len)
{
	int n;

	if (style == UPROBE_STACK_PERF) {
		n = snprintf(buf, len, "%16" PRIx64 " ", f->addr);
		if (f->func && f->inlined)
			n += snprintf(buf + n, len - n, "%s (inlined)", f->func);
		else if (f->func)
			n += snprintf(buf + n, len - n, "%s+0x%" PRIx64, f->func, f->func_off);
		else
			n += snprintf(buf + n, len - n, "[unknown]");
		n += snprintf(buf + n, len - n, " (%s)", f->module[0] ? f->module : "unknown");
		if (f->file && n < (int)len)
			snprintf(buf + n, len - n, " %s:%u", f->file, f->line);
		return;
	}
	if (!f->func)
		n = snprintf(buf, len, "[unknown] 0x%" PRIx64 "%s%s%s", f->addr,
			     f->module[0] ? " (" : "", f->module, f->module[0] ? ")" : "");
	else if (f->inlined)
		n = snprintf(buf, len, "%s", f->func);
	else
		n = snprintf(buf, len, "%s+%" PRIu64, f->func, f->func_off);
	if (f->file && n < (int)len)
		n += snprintf(buf + n, len - n, " (%s:%u)", f->file, f->line);
	if (f->inlined && n < (int)len)
		snprintf(buf + n, len - n, " [inlined]");
}

/*
 * Each frame of frames[0 .. n) of pid as text, in order, to fn: frame 0 is
 * where the hit was, the others return addresses. Stops at fn's non-zero.
 */
static int stack_walk(struct uprobe_symbolizer *s, pid_t pid, const uint64_t *frames,
		      unsigned int n, enum uprobe_stack_style style,
		      int (*fn)(const char *text, const struct uprobe_frame *f, void *arg), void *arg)
{
	struct uprobe_frame fr[UPROBE_STACK_MAX];
	char text[1024];
	int ret = 0;

	for (unsigned int i = 0; i < n && !ret; i++) {
		int k = uprobe_symbolize(s, pid, frames[i], i > 0, fr, UPROBE_STACK_MAX);

		for (int j = 0; j < k && !ret; j++) {
			frame_text(&fr[j], style, text, sizeof(text));
			ret = fn(text, &fr[j], arg);
		}
	}
	return ret;
}

struct print_ctx {
	FILE *out;
	enum uprobe_stack_style style;
};

static int print_line(const char *text, const struct uprobe_frame *f, void *arg)
{
	struct print_ctx *c = arg;

	(void)f;
	return fprintf(c->out, "%s%s\n", c->style == UPROBE_STACK_PERF ? "\t" : "    ", text) < 0
		       ? -EIO
		       : 0;
}

UPROBE_API int uprobe_stack_print(struct uprobe_symbolizer *s, pid_t pid, const uint64_t *frames,
				  unsigned int n, enum uprobe_stack_style style, FILE *out)
{
	struct print_ctx c = { out, style };

	if (!s || !out || (n && !frames))
		return -EINVAL;
	return stack_walk(s, pid, frames, n, style, print_line, &c);
}

/* ---- $ustack fields in the formatters --------------------------------------------- */

/* Field i's frames into frames (UPROBE_STACK_MAX): how many, 0 when it faulted. */
static unsigned int field_frames(const struct trace_layout *l, const struct trace_record *r, int i,
				 uint64_t *frames)
{
	int n = trace_field_ustack(l, r, i, frames, UPROBE_STACK_MAX);

	return n > 0 ? (unsigned int)n : 0;
}

static int sink_line(const char *text, const struct uprobe_frame *f, void *arg)
{
	(void)f;
	fmt_putc(arg, '\t');
	fmt_puts(arg, text);
	fmt_putc(arg, '\n');
	return 0;
}

void fmt_ustack_lines(struct fmt_sink *s, struct uprobe_symbolizer *sym,
		      const struct trace_layout *l, const struct trace_record *r, int i)
{
	uint64_t frames[UPROBE_STACK_MAX];
	unsigned int n = field_frames(l, r, i, frames);

	if (!sym) {
		for (unsigned int k = 0; k < n; k++)
			fmt_printf(s, "\t%16" PRIx64 " [unknown] (unknown)\n", frames[k]);
		return;
	}
	stack_walk(sym, (pid_t)r->pid, frames, n, UPROBE_STACK_PERF, sink_line, s);
	if (!n)
		fmt_puts(s, "\t(no stack: it faulted)\n");
	fmt_putc(s, '\n');
}

struct json_ctx {
	struct fmt_sink *s;
	enum fmt_style st;
	int n;
};

/* JSON: an object per frame; Perfetto: its bpftrace text. */
static int json_frame(const char *text, const struct uprobe_frame *f, void *arg)
{
	struct json_ctx *c = arg;
	struct fmt_sink *s = c->s;

	if (c->n++)
		fmt_putc(s, ',');
	if (c->st == STYLE_PERFETTO) {
		fmt_json_cstr(s, text, strlen(text));
		return 0;
	}
	fmt_printf(s, "{\"ip\":\"0x%" PRIx64 "\",\"func\":", f->addr);
	if (f->func)
		fmt_json_cstr(s, f->func, strlen(f->func));
	else
		fmt_puts(s, "null");
	fmt_printf(s, ",\"off\":%" PRIu64 ",\"module\":", f->func ? f->func_off : 0);
	fmt_json_cstr(s, f->module, strlen(f->module));
	fmt_printf(s, ",\"module_off\":%" PRIu64, f->module_off);
	if (f->file) {
		fmt_puts(s, ",\"file\":");
		fmt_json_cstr(s, f->file, strlen(f->file));
		fmt_printf(s, ",\"line\":%u", f->line);
	}
	if (f->inlined)
		fmt_puts(s, ",\"inlined\":true");
	fmt_putc(s, '}');
	return 0;
}

void fmt_ustack_json(struct fmt_sink *s, struct uprobe_symbolizer *sym,
		     const struct trace_layout *l, const struct trace_record *r, int i,
		     enum fmt_style st)
{
	uint64_t frames[UPROBE_STACK_MAX];
	struct json_ctx c = { s, st, 0 };
	unsigned int n;

	if (!sym || fmt_faulted(r, i)) {
		fmt_field(s, l, r, i, st);
		return;
	}
	n = field_frames(l, r, i, frames);
	fmt_putc(s, '[');
	stack_walk(sym, (pid_t)r->pid, frames, n, UPROBE_STACK_BPFTRACE, json_frame, &c);
	fmt_putc(s, ']');
}
