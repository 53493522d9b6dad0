/* SPDX-License-Identifier: MIT */
/*
 * uprobe report FILE: the events of a record file (uprobe trace -f raw -o
 * FILE, record.h) printed as uprobe trace would have printed them live: the
 * same formatter, the records in the order they were read from the rings,
 * then the summary with the events lost. The file is untrusted input: each
 * length is checked against what is left, each block against its checksum,
 * and the first thing that does not make sense ends the report with an error
 * naming its byte offset (exit status 1); what came before it is printed.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "record.h"
#include "uprobes_agent.h"
#include "uprobes_trace.h"

static const char report_usage[] =
	"usage: uprobe report [OPTIONS] FILE\n"
	"\n"
	"Print the events of FILE, recorded by 'uprobe trace -f raw -o FILE', as\n"
	"uprobe trace would have printed them live (the same lines, in the same\n"
	"order), then the summary (events per probe, events lost) on stderr.\n"
	"\n"
	"options:\n"
	"  -f, --format FMT   text (the default), json or perfetto, as uprobe trace's\n"
	"  -o, --output FILE  write the events to FILE (default: stdout)\n"
	"  -q, --quiet        no summary on stderr\n"
	"  -h, --help         this text\n"
	"\n"
	"exit status: 0; 1 if FILE is truncated or corrupted (the message names the\n"
	"byte offset; the events before it are printed), if records fit no probe, or\n"
	"if the output could not be written; 2 for bad options.\n";

struct report {
	const char *path;
	FILE *in, *out;
	uint64_t off; /* of the next byte of the file */
	uint32_t n;
	struct trace_spec **specs;
	struct trace_layout *layouts;
	struct trace_event_desc *desc;
	uint64_t *events;
	uint64_t malformed;
	uint32_t flags;
	struct trace_formatter *fmt;
	uint8_t *block;
	size_t block_room;
	bool ended;
};

/* Said once: "uprobe: FILE: byte OFF: ...". Returns CLI_EXIT_FAIL. */
__attribute__((format(printf, 3, 4))) static int bad(const struct report *r, uint64_t off,
						    const char *fmt, ...)
{
	va_list ap;

	fflush(r->out);
	fprintf(stderr, "uprobe: %s: byte %" PRIu64 ": ", r->path, off);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CLI_EXIT_FAIL;
}

/* Exactly len bytes at r->off, or an error naming what was cut short. */
static int read_exact(struct report *r, void *buf, size_t len, const char *what)
{
	size_t got = fread(buf, 1, len, r->in);

	if (got == len) {
		r->off += len;
		return 0;
	}
	if (ferror(r->in))
		return bad(r, r->off + got, "cannot read: %s", strerror(errno));
	return bad(r, r->off, "truncated: %s needs %zu bytes, the file ends %zu bytes on", what,
		   len, got);
}

static int parse_probe(struct report *r, uint32_t i, const char *text, uint64_t at)
{
	struct trace_error err;

	r->specs[i] = trace_spec_parse(text, &err);
	if (!r->specs[i])
		return bad(r, at, "probe %u '%s': %s", i, text, err.msg);
	if (r->specs[i]->kind == TRACE_DELETE || trace_layout_of(r->specs[i], &r->layouts[i]))
		return bad(r, at, "probe %u '%s': not a probe whose records can be laid out", i,
			   text);
	r->desc[i] = (struct trace_event_desc){ r->specs[i], &r->layouts[i] };
	return 0;
}

/* The probe texts (their checksum already checked): u32 length, the text, padding. */
static int parse_probes(struct report *r, const uint8_t *texts, size_t len, uint64_t base)
{
	size_t at = 0;

	for (uint32_t i = 0; i < r->n; i++) {
		uint32_t n;
		char *text;
		int ret;

		if (len - at < 4)
			return bad(r, base + at, "probe %u: the probe texts end here", i);
		memcpy(&n, texts + at, 4);
		if (n > len - at - 4 || n > UREC_MAX_PROBE_TEXT || memchr(texts + at + 4, 0, n))
			return bad(r, base + at, "probe %u: bad text length %u", i, n);
		text = strndup((const char *)texts + at + 4, n);
		if (!text)
			return cli_error(CLI_EXIT_FAIL, "out of memory");
		ret = parse_probe(r, i, text, base + at);
		free(text);
		if (ret)
			return ret;
		at += (4 + (size_t)n + 7) & ~7ull;
	}
	return at == len ? 0 : bad(r, base + at, "%zu bytes after the last probe text", len - at);
}

static int read_header(struct report *r)
{
	struct urec_header h;
	struct stat st;
	uint8_t *texts;
	uint32_t crc;
	size_t len;
	int ret = read_exact(r, &h, sizeof(h), "the header");

	if (ret)
		return ret;
	if (memcmp(h.magic, UREC_MAGIC, 8))
		return bad(r, 0, "not a uprobe record file (no \"%s\" magic)", UREC_MAGIC);
	if (h.reserved)
		return bad(r, 32, "reserved header field not 0 (corrupted)");
	if (h.version != UREC_VERSION)
		return bad(r, 8, "record file version %u; this uprobe reads version %u", h.version,
			   UREC_VERSION);
	if (!h.n_probes || h.n_probes > UPROBE_AGENT_MAX_SPECS)
		return bad(r, 12, "%u probes: expected 1 to %u", h.n_probes,
			   UPROBE_AGENT_MAX_SPECS);
	len = h.hdr_len - sizeof(h);
	if (h.hdr_len < sizeof(h) || h.hdr_len % 8 ||
	    len > (size_t)h.n_probes * (8 + UREC_MAX_PROBE_TEXT) ||
	    (!fstat(fileno(r->in), &st) && S_ISREG(st.st_mode) && h.hdr_len > (uint64_t)st.st_size))
		return bad(r, 16, "bad header length %" PRIu64, h.hdr_len);
	r->n = h.n_probes;
	r->flags = h.flags;
	r->specs = calloc(r->n, sizeof(*r->specs));
	r->layouts = calloc(r->n, sizeof(*r->layouts));
	r->desc = calloc(r->n, sizeof(*r->desc));
	r->events = calloc(r->n, sizeof(*r->events));
	texts = malloc(len + 1);
	if (!r->specs || !r->layouts || !r->desc || !r->events || !texts) {
		free(texts);
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	}
	ret = read_exact(r, texts, len, "the probe texts");
	crc = h.crc;
	h.crc = 0;
	if (!ret && urec_crc32c(urec_crc32c(0, &h, sizeof(h)), texts, len) != crc)
		ret = bad(r, 0, "the header and probe texts (%zu bytes) fail their checksum "
			  "(corrupted)", sizeof(h) + len);
	if (!ret)
		ret = parse_probes(r, texts, len, sizeof(h));
	free(texts);
	return ret;
}

static int on_event(struct report *r, const uint8_t *p, uint32_t len, uint64_t at)
{
	struct urec_event e;
	char comm[sizeof(e.comm) + 1];
	struct trace_record rec;

	if (len < sizeof(e))
		return bad(r, at, "event frame of %u bytes, shorter than its header", len);
	memcpy(&e, p, sizeof(e));
	if (e.data_len > len - sizeof(e) || len - sizeof(e) - e.data_len >= 8)
		return bad(r, at, "event frame of %u bytes with %u bytes of payload", len,
			   e.data_len);
	if (e.event_id >= r->n)
		return bad(r, at, "event of probe %u; the file has %u probes", e.event_id, r->n);
	memcpy(comm, e.comm, sizeof(e.comm));
	comm[sizeof(e.comm)] = '\0';
	rec = (struct trace_record){
		.event_id = e.event_id, .flags = e.flags, .ts_ns = e.ts_ns,
		.entry_ts_ns = e.entry_ts_ns, .pid = e.pid, .tid = e.tid, .cpu = e.cpu,
		.comm = comm, .ip = e.ip, .func = e.func, .data = p + sizeof(e),
		.data_len = e.data_len,
	};
	if (trace_formatter_write(r->fmt, &rec) == -EINVAL)
		r->malformed++; /* as uprobe trace does live: not printed, counted */
	else
		r->events[e.event_id]++;
	return 0;
}

static void summary(const struct report *r, const struct urec_end *e, const struct urec_probe *p)
{
	fprintf(stderr, "\nuprobe: %u process image(s) traced (recorded in %s%s)\n", e->images,
		r->path, r->flags & UREC_F_BLOCKING ? ", --blocking" : "");
	for (uint32_t i = 0; i < r->n; i++) {
		const struct trace_spec *s = r->specs[i];
		char lost[32] = "", mode[sizeof(p->mode) + 1];

		if (p[i].lost && !(e->flags & UREC_END_LOST_UNKNOWN))
			snprintf(lost, sizeof(lost), ", %" PRIu64 " lost", p[i].lost);
		memcpy(mode, p[i].mode, sizeof(p->mode));
		mode[sizeof(p->mode)] = '\0';
		if (p[i].attached)
			fprintf(stderr, "  %s/%s: %" PRIu64 " events%s, %" PRIu64
				" skipped (recursive), mode %s\n", s->group, s->event, r->events[i],
				lost, p[i].skipped, mode);
		else
			fprintf(stderr, "  %s/%s: never attached\n", s->group, s->event);
	}
	if (e->flags & UREC_END_LOST_UNKNOWN)
		fprintf(stderr, "  lost events (rings full): unknown (the traced program overwrote "
			"the counters)\n");
	else
		fprintf(stderr, "  lost events (rings full): %" PRIu64 "\n", e->lost);
	if (e->unread)
		fprintf(stderr, "  events still arriving after the stop, not read: %" PRIu64 "\n",
			e->unread);
	if (e->filter_on)
		fprintf(stderr, "  filtered out: %" PRIu64 "\n", e->filtered);
}

static int on_end(struct report *r, const uint8_t *p, uint32_t len, uint64_t at, bool quiet)
{
	struct urec_end e;
	struct urec_probe *pr;

	if (len < sizeof(e))
		return bad(r, at, "end frame of %u bytes, shorter than its header", len);
	memcpy(&e, p, sizeof(e));
	if (e.n_probes != r->n || len != sizeof(e) + (uint64_t)r->n * sizeof(*pr))
		return bad(r, at, "end frame of %u bytes for %u probes; the file has %u", len,
			   e.n_probes, r->n);
	r->ended = true;
	if (quiet)
		return 0;
	pr = malloc((size_t)r->n * sizeof(*pr));
	if (!pr)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	memcpy(pr, p + sizeof(e), (size_t)r->n * sizeof(*pr));
	fflush(r->out);
	summary(r, &e, pr);
	free(pr);
	return 0;
}

/* The frames of one block (its checksum matched); base: the file offset of block[0]. */
static int read_frames(struct report *r, const uint8_t *b, uint32_t len, uint64_t base, bool quiet)
{
	struct urec_frame f;
	int ret = 0;

	for (uint32_t at = 0; at < len && !ret; at += f.len) {
		if (r->ended)
			return bad(r, base + at, "data after the end record");
		if (len - at < sizeof(f))
			return bad(r, base + at, "a frame header cut by the block's end");
		memcpy(&f, b + at, sizeof(f));
		if (f.len < sizeof(f) || f.len % 8 || f.len > len - at)
			return bad(r, base + at, "bad frame length %u (%u bytes left in the block)",
				   f.len, len - at);
		if (f.kind == UREC_EVENT)
			ret = on_event(r, b + at, f.len, base + at);
		else if (f.kind == UREC_END)
			ret = on_end(r, b + at, f.len, base + at, quiet);
		else
			return bad(r, base + at, "unknown frame kind %u", f.kind);
	}
	return ret;
}

static int read_blocks(struct report *r, bool quiet)
{
	struct urec_block b;
	int c, ret;

	for (;;) {
		uint64_t at = r->off;

		if ((c = fgetc(r->in)) == EOF) {
			if (ferror(r->in))
				return bad(r, at, "cannot read: %s", strerror(errno));
			return r->ended ? 0 : bad(r, at, "truncated: the file ends without its end "
						  "record (the recording was cut short)");
		}
		ungetc(c, r->in);
		if (r->ended)
			return bad(r, at, "data after the end record");
		ret = read_exact(r, &b, sizeof(b), "a block header");
		if (ret)
			return ret;
		if (!b.len || b.len % 8 || b.len > UREC_MAX_BLOCK)
			return bad(r, at, "bad block length %u", b.len);
		if (b.len > r->block_room) {
			free(r->block);
			r->block_room = 0;
			r->block = malloc(b.len);
			if (!r->block)
				return cli_error(CLI_EXIT_FAIL, "out of memory");
			r->block_room = b.len;
		}
		ret = read_exact(r, r->block, b.len, "a block");
		if (ret)
			return ret;
		if (urec_crc32c(0, r->block, b.len) != b.crc)
			return bad(r, at, "the block of %u bytes here fails its checksum (corrupted)",
				   b.len);
		ret = read_frames(r, r->block, b.len, at + sizeof(b), quiet);
		if (ret)
			return ret;
	}
}

static int parse_format(const char *s, enum trace_format *f)
{
	if (!strcmp(s, "text"))
		*f = TRACE_FMT_TEXT;
	else if (!strcmp(s, "json"))
		*f = TRACE_FMT_JSON;
	else if (!strcmp(s, "perfetto"))
		*f = TRACE_FMT_PERFETTO;
	else
		return cli_error(CLI_EXIT_USAGE, "--format '%s': expected text, json or perfetto", s);
	return 0;
}

static void report_free(struct report *r)
{
	trace_formatter_free(r->fmt); /* closes a Perfetto document */
	for (uint32_t i = 0; r->specs && i < r->n; i++)
		trace_spec_free(r->specs[i]);
	free(r->specs);
	free(r->layouts);
	free(r->desc);
	free(r->events);
	free(r->block);
	if (r->in)
		fclose(r->in);
}

static int run(struct report *r, enum trace_format format, bool quiet)
{
	int ret;

	r->in = fopen(r->path, "re");
	if (!r->in)
		return cli_error(CLI_EXIT_FAIL, "%s: %s", r->path, strerror(errno));
	ret = read_header(r);
	if (ret)
		return ret;
	r->fmt = trace_formatter_new(format, r->out, r->desc, r->n);
	if (!r->fmt)
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	ret = read_blocks(r, quiet);
	if (r->malformed)
		fprintf(stderr, "uprobe: %" PRIu64 " records fit no probe (the traced program wrote "
			"them into its rings); not printed\n", r->malformed);
	return ret ? ret : r->malformed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "output", required_argument, NULL, 'o' },
		{ "quiet", no_argument, NULL, 'q' },	      { "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	enum trace_format format = TRACE_FMT_TEXT;
	struct report r = { .out = stdout };
	const char *output = NULL;
	bool quiet = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, "f:o:qh", opts, NULL)) != -1) {
		if (c == 'f' && (ret = parse_format(optarg, &format)))
			return ret;
		else if (c == 'o')
			output = optarg;
		else if (c == 'q')
			quiet = true;
		else if (c == 'h')
			return fputs(report_usage, stdout), CLI_EXIT_OK;
		else if (c != 'f')
			return fputs(report_usage, stderr), CLI_EXIT_USAGE;
	}
	if (optind != argc - 1)
		return cli_error(CLI_EXIT_USAGE, "give one record file (uprobe report --help)");
	r.path = argv[optind];
	if (output && !(r.out = fopen(output, "we")))
		return cli_error(CLI_EXIT_FAIL, "-o %s: %s", output, strerror(errno));
	ret = run(&r, format, quiet);
	report_free(&r); /* before the output is closed: a Perfetto document ends there */
	errno = 0;
	if ((fflush(r.out) | ferror(r.out)) || (r.out != stdout && fclose(r.out)))
		return cli_error(CLI_EXIT_FAIL, "%s: %s", output ? output : "standard output",
				 strerror(errno ? errno : EIO));
	return ret;
}
