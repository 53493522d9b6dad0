/* SPDX-License-Identifier: MIT */
/*
 * Golden tests of the formatters (text, JSON lines, Perfetto); the
 * aggregations are in test_trace_agg.c. Specs are parsed from uprobe_events lines, their layouts come
 * from trace_layout_of() and are checked against offsets derived here from
 * the payload diagram of uprobes_trace.h, records are built by hand into that
 * layout. Every expected text is written out below from the rules (the
 * kernel's trace_pipe line and print_probe_args, the schemas at the top of
 * src/trace/format.c); the JSON outputs are also parsed by check_trace.py.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testlib.h"
#include "uprobes_trace.h"

TL_DEFINE("trace_format");

/* ---- specs, layouts and records built by hand ---------------------------------------- */

/* Event ids of the descriptor table below. */
enum { EV_INTS, EV_VALS, EV_RET, EV_NOARGS, EV_WIDE, EV_TICK, N_EV };

static const char *const spec_lines[] = {
	[EV_INTS] = "p:uprobes/ints /bin/prog:0x1136 a=%di:u8 b=%di:u16 c=%di:u32 d=%di:u64 "
		    "e=%di:s8 f=%di:s16 g=%di:s32 h=%di:s64 i=%di:x8 j=%di:x16 k=%di:x32 "
		    "l=%di:x64 bf=+0(%di):b3@4/32 ch=%di:char",
	[EV_VALS] = "p:uprobes/vals /bin/prog:0x1136 s=+0(%di):string u=+0(%si):ustring "
		    "e=+0(%dx):string xs=+0(%di):x16[3] ss=+0(%di):s8[4] cs=+0(%di):char[3] "
		    "sa=+0(%di):string[2] fs=+0(%cx):string fu=+0(%cx):u32 fa=+0(%cx):u64[2] "
		    "big=+0(%di):u64[2]",
	[EV_RET] = "r:grp/fn__return /bin/prog:0x1136 ret=$retval:s64",
	[EV_NOARGS] = "p:uprobes/noargs /bin/prog:0x1136",
	[EV_WIDE] = NULL, /* 65 args a0..a64, built below */
	[EV_TICK] = "p:uprobes/tick /bin/prog:0x1136 n=%di:u32",
};

static struct trace_spec *specs[N_EV];
static struct trace_layout layouts[N_EV];
static struct trace_event_desc events[N_EV];

static void build_specs(void)
{
	char wide[1024];
	struct trace_error err;
	int n;

	n = snprintf(wide, sizeof(wide), "p:uprobes/wide /bin/prog:0x1136");
	for (int i = 0; i < 65; i++)
		n += snprintf(wide + n, sizeof(wide) - n, " a%d=%%di:u8", i);
	for (int i = 0; i < N_EV; i++) {
		specs[i] = trace_spec_parse(spec_lines[i] ? spec_lines[i] : wide, &err);
		if (!specs[i]) {
			printf("  trace_spec_parse(%s): %s at column %d\n",
			       spec_lines[i] ? spec_lines[i] : wide, err.msg, err.column);
			exit(1);
		}
		if (trace_layout_of(specs[i], &layouts[i])) {
			printf("  trace_layout_of(%s) failed\n", specs[i]->event);
			exit(1);
		}
		events[i].spec = specs[i];
		events[i].layout = &layouts[i];
	}
}

struct rb {
	const struct trace_layout *l;
	uint32_t dyn; /* where the next string goes */
	uint8_t data[4096];
};

static void rb_init(struct rb *b, int ev)
{
	memset(b, 0, sizeof(*b));
	b->l = &layouts[ev];
	b->dyn = b->l->fixed_len;
}

/* Element k of field i, elem_size bytes of v (little-endian). */
static void rb_elem(struct rb *b, int i, unsigned int k, uint64_t v)
{
	const struct trace_field *f = &b->l->fields[i];

	memcpy(b->data + f->offset + k * f->elem_size, &v, f->elem_size);
}

static void rb_str(struct rb *b, int i, unsigned int k, const char *text, uint32_t len)
{
	uint32_t loc[2] = { b->dyn, len };

	memcpy(b->data + b->l->fields[i].offset + 8 * k, loc, sizeof(loc));
	memcpy(b->data + b->dyn, text, len);
	b->dyn += len;
}

static void rb_fault(struct rb *b, int i)
{
	b->data[i / 8] |= (uint8_t)(1u << (i % 8));
}

static struct trace_record rb_rec(struct rb *b, uint32_t event_id)
{
	struct trace_record r = {
		.event_id = event_id, .ts_ns = 5123456789ull, .pid = 1000, .tid = 1001,
		.cpu = 2, .comm = "prog", .ip = 0x401136, .data = b->data, .data_len = b->dyn,
	};
	return r;
}

/* The record of every integer type (event "ints"). */
static struct trace_record ints_record(struct rb *b)
{
	static const uint64_t v[] = {
		255, 65535, 4294967295u, UINT64_MAX,
		(uint64_t)-128, (uint64_t)-2, (uint64_t)INT32_MIN, (uint64_t)INT64_MIN,
		0xab, 0, 0xdeadbeef, UINT64_MAX, 5, 'A',
	};

	rb_init(b, EV_INTS);
	for (int i = 0; i < 14; i++)
		rb_elem(b, i, 0, v[i]);
	return rb_rec(b, EV_INTS);
}

/* Strings, arrays and faults (event "vals"). */
static const char nasty[] = "say \"hi\"\n\t\\\x01\x7f\xc3\xa9\xff\r";

static struct trace_record vals_record(struct rb *b)
{
	static const uint16_t xs[] = { 1, 0xbeef, 0 };
	static const int8_t ss[] = { -1, 0, 127, -128 };
	static const char cs[] = { 'a', '\'', 0 };

	rb_init(b, EV_VALS);
	rb_str(b, 0, 0, nasty, sizeof(nasty) - 1);
	rb_str(b, 1, 0, "/tmp/x", 6);
	rb_str(b, 2, 0, "", 0);
	for (unsigned int k = 0; k < 3; k++)
		rb_elem(b, 3, k, xs[k]);
	for (unsigned int k = 0; k < 4; k++)
		rb_elem(b, 4, k, (uint8_t)ss[k]);
	for (unsigned int k = 0; k < 3; k++)
		rb_elem(b, 5, k, (uint8_t)cs[k]);
	rb_str(b, 6, 0, "ab", 2);
	rb_str(b, 6, 1, "", 0);
	rb_fault(b, 7); /* fields of faulted args stay zero */
	rb_fault(b, 8);
	rb_fault(b, 9);
	rb_elem(b, 10, 0, 0);
	rb_elem(b, 10, 1, UINT64_MAX);
	return rb_rec(b, EV_VALS);
}

static struct trace_record ret_record(struct rb *b, int64_t ret, uint64_t entry, uint64_t ts)
{
	struct trace_record r;

	rb_init(b, EV_RET);
	rb_elem(b, 0, 0, (uint64_t)ret);
	r = rb_rec(b, EV_RET);
	r.flags = TRACE_REC_RETURN;
	r.entry_ts_ns = entry;
	r.ts_ns = ts;
	r.tid = r.pid = 1000;
	r.cpu = 0;
	r.comm = "";
	r.ip = 0x401200; /* the call site */
	r.func = 0x401136;
	return r;
}

/* ---- output into memory -------------------------------------------------------------- */

struct mem {
	char *buf;
	size_t len;
	FILE *f;
};

static void mem_open(struct mem *m)
{
	m->buf = NULL;
	m->len = 0;
	m->f = open_memstream(&m->buf, &m->len);
}

static const char *mem_text(struct mem *m)
{
	fflush(m->f);
	return m->buf;
}

static void mem_close(struct mem *m)
{
	fclose(m->f);
	free(m->buf);
}

/* Format records with fmt into memory; returns the text (free with mem_close). */
static int write_all(struct mem *m, enum trace_format fmt, const struct trace_record *recs, int n)
{
	struct trace_formatter *f;
	int err = 0;

	mem_open(m);
	f = trace_formatter_new(fmt, m->f, events, N_EV);
	if (!f)
		return -errno;
	for (int i = 0; i < n && !err; i++)
		err = trace_formatter_write(f, &recs[i]);
	trace_formatter_free(f);
	fflush(m->f);
	return err;
}

/* python3 check_trace.py MODE on text: 0 when it holds. */
static int run_checker(const char *mode, const char *text)
{
	char path[] = "/tmp/trace_format_XXXXXX", cmd[512];
	int fd = mkstemp(path), st;

	if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text))
		return -1;
	close(fd);
	snprintf(cmd, sizeof(cmd), "python3 '%s' %s '%s'", CHECK_TRACE_PY, mode, path);
	st = system(cmd);
	unlink(path);
	return st;
}

/* ---- layouts ------------------------------------------------------------------------- */

static void layout_offsets(void)
{
	/* every scalar is 8 bytes after an 8-byte bitmap */
	CHECK_EQ_INT(layouts[EV_INTS].bitmap_len, 8);
	for (int i = 0; i < 14; i++)
		CHECK_EQ_INT(layouts[EV_INTS].fields[i].offset, 8 + 8 * i);
	CHECK_EQ_INT(layouts[EV_INTS].fixed_len, 120);
	/* s u e: 8 each; x16[3]: 6 -> 8; s8[4]: 4 -> 8; char[3]: 3 -> 8; string[2]: 16;
	 * fs fu: 8 each; u64[2]: 16 twice */
	static const unsigned int vals_off[] = { 8, 16, 24, 32, 40, 48, 56, 72, 80, 88, 104 };
	for (int i = 0; i < 11; i++)
		CHECK_EQ_INT(layouts[EV_VALS].fields[i].offset, vals_off[i]);
	CHECK_EQ_INT(layouts[EV_VALS].fields[3].elem_size, 2);
	CHECK_EQ_INT(layouts[EV_VALS].fields[3].count, 3);
	CHECK_EQ_INT(layouts[EV_VALS].fixed_len, 120);
	CHECK_EQ_INT(layouts[EV_NOARGS].fixed_len, 0);
	/* 65 args: two bitmap words */
	CHECK_EQ_INT(layouts[EV_WIDE].bitmap_len, 16);
	CHECK_EQ_INT(layouts[EV_WIDE].fields[64].offset, 16 + 64 * 8);
	CHECK_EQ_INT(layouts[EV_WIDE].fixed_len, 16 + 65 * 8);
}

/* ---- text ---------------------------------------------------------------------------- */

#define PROG_PREFIX "            prog-1001    [002]      5.123457: "

static const char ints_text[] =
	PROG_PREFIX "ints: (0x401136) a=255 b=65535 c=4294967295 d=18446744073709551615 "
	"e=-128 f=-2 g=-2147483648 h=-9223372036854775808 i=0xab j=0x0 k=0xdeadbeef "
	"l=0xffffffffffffffff bf=5 ch='A'\n";

static const char vals_text[] =
	PROG_PREFIX "vals: (0x401136) s=\"say \\\"hi\\\"\\n\\t\\\\\\x01\\x7f\xc3\xa9\xff\\r\" "
	"u=\"/tmp/x\" e=\"\" xs={0x1,0xbeef,0x0} ss={-1,0,127,-128} cs={'a','\\'','\\x00'} "
	"sa={\"ab\",\"\"} fs=(fault) fu=(fault) fa=(fault) big={0,18446744073709551615}\n";

static void text_types(void)
{
	struct trace_record r[2];
	struct rb b[2];
	struct mem m;

	r[0] = ints_record(&b[0]);
	r[1] = vals_record(&b[1]);
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_TEXT, r, 2), 0);
	char want[sizeof(ints_text) + sizeof(vals_text)];
	snprintf(want, sizeof(want), "%s%s", ints_text, vals_text);
	CHECK_STR(mem_text(&m), want);
	mem_close(&m);
}

static void text_returns(void)
{
	struct trace_record r[4];
	struct rb b[4];
	struct mem m;

	r[0] = ret_record(&b[0], -1, 1200, 5000);
	r[1] = ret_record(&b[1], 0, 0, 999);
	r[1].flags |= TRACE_REC_UNWOUND;
	rb_init(&b[2], EV_NOARGS);
	r[2] = rb_rec(&b[2], EV_NOARGS);
	r[2].ip = 0x7f0000001000;
	r[3] = ret_record(&b[3], INT64_MAX, 0, 1999999500); /* rounds up to 2.000000 */
	r[3].comm = NULL;
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_TEXT, r, 4), 0);
	CHECK_STR(mem_text(&m),
		  "           <...>-1000    [000]      0.000005: fn__return: (0x401200 <- 0x401136)"
		  " ret=-1\n"
		  "           <...>-1000    [000]      0.000001: fn__return: (0x401200 <- 0x401136)"
		  " (unwound) ret=0\n"
		  "            prog-1001    [002]      5.123457: noargs: (0x7f0000001000)\n"
		  "           <...>-1000    [000]      2.000000: fn__return: (0x401200 <- 0x401136)"
		  " ret=9223372036854775807\n");
	mem_close(&m);
}

/* Column widths and rounding of the trace_pipe prefix. */
static void text_prefix(void)
{
	static const struct {
		uint64_t ts;
		uint32_t tid, cpu;
		const char *comm, *want;
	} c[] = {
		{ 1499, 7, 0, "a", "               a-7       [000]      0.000001: noargs: (0x1)\n" },
		{ 1500, 7, 0, "a", "               a-7       [000]      0.000002: noargs: (0x1)\n" },
		{ 12345678901234567ull, 12345678, 1234, "abcdefghijklmno",
		  " abcdefghijklmno-12345678 [1234]  12345678.901235: noargs: (0x1)\n" },
		/* 16 bytes without a NUL: the sentinel after them is not printed */
		{ 0, 1, 99, "0123456789abcdefX",
		  "0123456789abcdef-1       [099]      0.000000: noargs: (0x1)\n" },
	};

	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		struct trace_record r = { .event_id = EV_NOARGS, .ts_ns = c[i].ts, .tid = c[i].tid,
					  .pid = 1, .cpu = c[i].cpu, .comm = c[i].comm, .ip = 1 };
		char comm[32];
		struct mem m;

		memcpy(comm, c[i].comm, strlen(c[i].comm) + 1);
		r.comm = comm;
		CHECK_EQ_INT(write_all(&m, TRACE_FMT_TEXT, &r, 1), 0);
		CHECK_STR(mem_text(&m), c[i].want);
		mem_close(&m);
	}
}

/* 65 args: arg 64's fault bit is bit 0 of the second bitmap word. */
static void text_wide_bitmap(void)
{
	char want[1024];
	struct trace_record r;
	struct rb b;
	struct mem m;
	int n;

	rb_init(&b, EV_WIDE);
	for (int i = 0; i < 64; i++)
		rb_elem(&b, i, 0, (uint64_t)i);
	rb_fault(&b, 64);
	r = rb_rec(&b, EV_WIDE);
	n = snprintf(want, sizeof(want), PROG_PREFIX "wide: (0x401136)");
	for (int i = 0; i < 64; i++)
		n += snprintf(want + n, sizeof(want) - n, " a%d=%d", i, i);
	snprintf(want + n, sizeof(want) - n, " a64=(fault)\n");
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_TEXT, &r, 1), 0);
	CHECK_STR(mem_text(&m), want);
	mem_close(&m);
}

/*
 * The traced program names its threads (prctl(PR_SET_NAME), or a forged
 * name record): comm is escaped like a string in every format, so that a name
 * can neither set the terminal's title nor start a line of its own. Text
 * pads the escaped name to 16 columns, as the kernel's %16s pads a plain one.
 */
static const char evil_comm[] = "\x1b]0;pwn\x07\nfake"; /* OSC: set the title; a newline */

static void comm_escaped(void)
{
	static const struct {
		const char *comm, *text;
	} c[] = {
		{ evil_comm, "\\x1b]0;pwn\\x07\\nfake-1001    [002]      5.123457: noargs: (0x401136)\n" },
		{ "a\tb\\", "          a\\tb\\\\-1001    [002]      5.123457: noargs: (0x401136)\n" },
		/* C1 controls in UTF-8 (U+009B: CSI) are controls too; other UTF-8 stays */
		{ "\xc2\x9b" "31m\xc3\xa9", "   \\xc2\\x9b31m\xc3\xa9-1001    [002]      5.123457: noargs: "
					     "(0x401136)\n" },
		{ "\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f\x7f",
		  "\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f\\x7f"
		  "-1001    [002]      5.123457: noargs: (0x401136)\n" },
	};
	struct trace_record r;
	struct rb b;
	struct mem m;

	rb_init(&b, EV_NOARGS);
	r = rb_rec(&b, EV_NOARGS);
	for (size_t i = 0; i < sizeof(c) / sizeof(c[0]); i++) {
		r.comm = c[i].comm;
		CHECK_EQ_INT(write_all(&m, TRACE_FMT_TEXT, &r, 1), 0);
		CHECK_STR(mem_text(&m), c[i].text);
		mem_close(&m);
	}
	r.comm = evil_comm;
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_JSON, &r, 1), 0);
	CHECK_CONTAINS(mem_text(&m), ",\"comm\":\"\\u001b]0;pwn\\u0007\\nfake\",");
	CHECK_EQ_INT(strchr(mem_text(&m), '\n') - mem_text(&m) + 1, strlen(mem_text(&m)));
	mem_close(&m);
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_PERFETTO, &r, 1), 0);
	CHECK_CONTAINS(mem_text(&m), "{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":1000,"
				     "\"tid\":1000,\"args\":{\"name\":\"\\u001b]0;pwn\\u0007\\nfake\"}}");
	CHECK_CONTAINS(mem_text(&m), "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1000,"
				     "\"tid\":1001,\"args\":{\"name\":\"\\u001b]0;pwn\\u0007\\nfake\"}}");
	CHECK(!strchr(mem_text(&m), '\x1b'));
	mem_close(&m);
}

/*
 * A Perfetto document names every thread it sees once; a traced program
 * that writes records of ever new tids makes the formatter forget the names
 * (and write them again when a thread comes back) past 65536 of them, rather
 * than grow without bound: each of 70000 threads, seen twice, first in a
 * row, is named once per sight after the table was cleared.
 */
static void perfetto_names_bounded(void)
{
	struct trace_formatter *f;
	struct trace_record r;
	uint64_t names = 0;
	struct rb b;
	struct mem m;
	char *p;

	rb_init(&b, EV_NOARGS);
	r = rb_rec(&b, EV_NOARGS);
	r.comm = "t";
	mem_open(&m);
	f = trace_formatter_new(TRACE_FMT_PERFETTO, m.f, events, N_EV);
	CHECK(f != NULL);
	if (!f)
		return;
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t t = 0; t < 70000; t++) {
			r.tid = 100000 + t;
			CHECK_EQ_INT(trace_formatter_write(f, &r), 0);
		}
	trace_formatter_free(f);
	for (p = strstr(mem_text(&m), "thread_name"); p; p = strstr(p + 1, "thread_name"))
		names++;
	/* the table holds 65536 entries, the process's one among them */
	CHECK_EQ_U64(names, 140000);
	mem_close(&m);
}

/* ---- trace_field_format / trace_field_int ---------------------------------------------- */

static void field_format(void)
{
	static const char *const want[] = {
		"\"say \\\"hi\\\"\\n\\t\\\\\\x01\\x7f\xc3\xa9\xff\\r\"", "\"/tmp/x\"", "\"\"",
		"{0x1,0xbeef,0x0}", "{-1,0,127,-128}", "{'a','\\'','\\x00'}", "{\"ab\",\"\"}",
		"(fault)", "(fault)", "(fault)", "{0,18446744073709551615}",
	};
	struct trace_record r;
	char buf[128];
	struct rb b;

	r = vals_record(&b);
	for (int i = 0; i < 11; i++) {
		CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, i, buf, sizeof(buf)),
			     strlen(want[i]));
		CHECK_STR(buf, want[i]);
	}
	/* snprintf-style: the length needed, the text cut and terminated */
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, 3, buf, 5), 16);
	CHECK_STR(buf, "{0x1");
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, 3, NULL, 0), 16);
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, 11, buf, sizeof(buf)), -EINVAL);
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, -1, buf, sizeof(buf)), -EINVAL);

	/* scalars print per type whatever the upper bytes hold */
	rb_init(&b, EV_INTS);
	rb_elem(&b, 0, 0, 0x1ff);	     /* u8 */
	rb_elem(&b, 4, 0, 0x80);	     /* s8 stored without sign extension */
	rb_elem(&b, 8, 0, 0xffffffffffff12ab); /* x8 */
	r = rb_rec(&b, EV_INTS);
	CHECK_EQ_INT(trace_field_format(&layouts[EV_INTS], &r, 0, buf, sizeof(buf)), 3);
	CHECK_STR(buf, "255");
	CHECK_EQ_INT(trace_field_format(&layouts[EV_INTS], &r, 4, buf, sizeof(buf)), 4);
	CHECK_STR(buf, "-128");
	CHECK_EQ_INT(trace_field_format(&layouts[EV_INTS], &r, 8, buf, sizeof(buf)), 4);
	CHECK_STR(buf, "0xab");
}

static void field_int(void)
{
	static const int64_t want[] = { 255, 65535, 4294967295, -1, -128, -2, INT32_MIN,
					INT64_MIN, 0xab, 0, 0xdeadbeef, -1, 5, 'A' };
	struct trace_record r;
	struct rb b;
	int64_t v;

	r = ints_record(&b);
	for (int i = 0; i < 14; i++) {
		v = 42;
		CHECK_EQ_INT(trace_field_int(&layouts[EV_INTS], &r, i, &v), 0);
		CHECK_EQ_U64(v, want[i]);
	}
	r = vals_record(&b);
	v = 42;
	CHECK_EQ_INT(trace_field_int(&layouts[EV_VALS], &r, 8, &v), -EFAULT); /* fu */
	CHECK_EQ_INT(v, 0);
	CHECK_EQ_INT(trace_field_int(&layouts[EV_VALS], &r, 0, &v), -EINVAL); /* string */
	CHECK_EQ_INT(trace_field_int(&layouts[EV_VALS], &r, 3, &v), -EINVAL); /* array */
	CHECK_EQ_INT(trace_field_int(&layouts[EV_VALS], &r, 10, &v), -EINVAL); /* array */
	CHECK_EQ_INT(trace_field_int(&layouts[EV_VALS], &r, 11, &v), -EINVAL);
}

/* ---- JSON lines ---------------------------------------------------------------------- */

static void json_lines(void)
{
	struct trace_record r[5];
	struct rb b[5];
	struct mem m;

	r[0] = ints_record(&b[0]);
	r[1] = vals_record(&b[1]);
	r[2] = ret_record(&b[2], -1, 1200, 5000);
	r[3] = ret_record(&b[3], 0, 0, 999);
	r[3].flags |= TRACE_REC_UNWOUND;
	r[4] = ret_record(&b[4], 7, 200, 100); /* entry after return: no latency */
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_JSON, r, 5), 0);
	CHECK_STR(mem_text(&m),
		  "{\"ts_ns\":5123456789,\"pid\":1000,\"tid\":1001,\"cpu\":2,\"comm\":\"prog\","
		  "\"group\":\"uprobes\",\"event\":\"ints\",\"type\":\"entry\",\"ip\":\"0x401136\","
		  "\"args\":{\"a\":255,\"b\":65535,\"c\":4294967295,\"d\":18446744073709551615,"
		  "\"e\":-128,\"f\":-2,\"g\":-2147483648,\"h\":-9223372036854775808,\"i\":\"0xab\","
		  "\"j\":\"0x0\",\"k\":\"0xdeadbeef\",\"l\":\"0xffffffffffffffff\",\"bf\":5,"
		  "\"ch\":\"A\"}}\n"
		  "{\"ts_ns\":5123456789,\"pid\":1000,\"tid\":1001,\"cpu\":2,\"comm\":\"prog\","
		  "\"group\":\"uprobes\",\"event\":\"vals\",\"type\":\"entry\",\"ip\":\"0x401136\","
		  "\"args\":{\"s\":\"say \\\"hi\\\"\\n\\t\\\\\\u0001\\u007f\xc3\xa9\\u00ff\\r\","
		  "\"u\":\"/tmp/x\",\"e\":\"\",\"xs\":[\"0x1\",\"0xbeef\",\"0x0\"],"
		  "\"ss\":[-1,0,127,-128],\"cs\":[\"a\",\"'\",\"\\u0000\"],\"sa\":[\"ab\",\"\"],"
		  "\"fs\":null,\"fu\":null,\"fa\":null,\"big\":[0,18446744073709551615]},"
		  "\"faults\":[\"fs\",\"fu\",\"fa\"]}\n"
		  "{\"ts_ns\":5000,\"pid\":1000,\"tid\":1000,\"cpu\":0,\"comm\":\"\",\"group\":\"grp\","
		  "\"event\":\"fn__return\",\"type\":\"return\",\"ip\":\"0x401200\","
		  "\"func\":\"0x401136\",\"entry_ts_ns\":1200,\"latency_ns\":3800,"
		  "\"args\":{\"ret\":-1}}\n"
		  "{\"ts_ns\":999,\"pid\":1000,\"tid\":1000,\"cpu\":0,\"comm\":\"\",\"group\":\"grp\","
		  "\"event\":\"fn__return\",\"type\":\"return\",\"ip\":\"0x401200\","
		  "\"func\":\"0x401136\",\"unwound\":true,\"args\":{\"ret\":0}}\n"
		  "{\"ts_ns\":100,\"pid\":1000,\"tid\":1000,\"cpu\":0,\"comm\":\"\",\"group\":\"grp\","
		  "\"event\":\"fn__return\",\"type\":\"return\",\"ip\":\"0x401200\","
		  "\"func\":\"0x401136\",\"entry_ts_ns\":200,\"args\":{\"ret\":7}}\n");
	CHECK_EQ_INT(run_checker("jsonl", mem_text(&m)), 0);
	mem_close(&m);
}

/* Invalid UTF-8 of every kind becomes \u00XX; valid sequences of 2-4 bytes stay. */
static void json_utf8(void)
{
	static const char text[] =
		"\xe2\x82\xac\xf0\x9f\x98\x80"		/* U+20AC U+1F600 */
		"\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf" /* U+0800 U+D7FF U+10FFFF */
		"\xc0\xaf\xe0\x80\xaf\xf0\x8f\xbf\xbf"	/* overlong in 2, 3, 4 bytes */
		"\xed\xa0\x80\xf4\x90\x80\x80"		/* a surrogate, above U+10FFFF */
		"\xe2\x82";				/* cut short */
	struct trace_record r;
	struct rb b;
	struct mem m;

	rb_init(&b, EV_VALS);
	rb_str(&b, 0, 0, text, sizeof(text) - 1);
	rb_str(&b, 1, 0, "", 0); /* the other strings empty */
	rb_str(&b, 2, 0, "", 0);
	rb_str(&b, 6, 0, "", 0);
	rb_str(&b, 6, 1, "", 0);
	rb_str(&b, 7, 0, "", 0);
	r = rb_rec(&b, EV_VALS);
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_JSON, &r, 1), 0);
	CHECK_CONTAINS(mem_text(&m),
		       "\"s\":\"\xe2\x82\xac\xf0\x9f\x98\x80\xe0\xa0\x80\xed\x9f\xbf\xf4\x8f\xbf\xbf"
		       "\\u00c0\\u00af\\u00e0\\u0080\\u00af\\u00f0\\u008f\\u00bf\\u00bf"
		       "\\u00ed\\u00a0\\u0080\\u00f4\\u0090\\u0080\\u0080\\u00e2\\u0082\",");
	mem_close(&m);
}

/* ---- Perfetto ------------------------------------------------------------------------ */

static struct trace_record tick(struct rb *b, uint32_t tid, const char *comm, uint32_t n,
				uint64_t ts)
{
	struct trace_record r;

	rb_init(b, EV_TICK);
	rb_elem(b, 0, 0, n);
	r = rb_rec(b, EV_TICK);
	r.pid = 2000;
	r.tid = tid;
	r.comm = comm;
	r.ts_ns = ts;
	return r;
}

static struct trace_record fn_ret(struct rb *b, int64_t ret, uint64_t entry, uint64_t ts)
{
	struct trace_record r = ret_record(b, ret, entry, ts);

	r.pid = r.tid = 2000;
	r.comm = "main";
	return r;
}

static const char perfetto_text[] =
	"{\"traceEvents\":[\n"
	"{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":2000,\"tid\":2000,"
	"\"args\":{\"name\":\"worker\"}},\n"
	"{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":2000,\"tid\":2001,"
	"\"args\":{\"name\":\"worker\"}},\n"
	"{\"ph\":\"i\",\"name\":\"tick\",\"cat\":\"uprobes\",\"pid\":2000,\"tid\":2001,"
	"\"s\":\"t\",\"ts\":1.000,\"args\":{\"__probe_ip\":\"0x401136\",\"n\":1}},\n"
	"{\"ph\":\"M\",\"name\":\"process_name\",\"pid\":2000,\"tid\":2000,"
	"\"args\":{\"name\":\"main\"}},\n"
	"{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":2000,\"tid\":2000,"
	"\"args\":{\"name\":\"main\"}},\n"
	"{\"ph\":\"B\",\"name\":\"fn__return\",\"cat\":\"grp\",\"pid\":2000,\"tid\":2000,"
	"\"ts\":3.000,\"args\":{\"__probe_ret_ip\":\"0x401200\",\"__probe_func\":\"0x401136\","
	"\"ret\":3}},\n"
	"{\"ph\":\"E\",\"name\":\"fn__return\",\"cat\":\"grp\",\"pid\":2000,\"tid\":2000,"
	"\"ts\":3.500},\n"
	"{\"ph\":\"B\",\"name\":\"fn__return\",\"cat\":\"grp\",\"pid\":2000,\"tid\":2000,"
	"\"ts\":2.000,\"args\":{\"__probe_ret_ip\":\"0x401200\",\"__probe_func\":\"0x401136\","
	"\"ret\":2}},\n"
	"{\"ph\":\"E\",\"name\":\"fn__return\",\"cat\":\"grp\",\"pid\":2000,\"tid\":2000,"
	"\"ts\":4.000},\n"
	"{\"ph\":\"B\",\"name\":\"fn__return\",\"cat\":\"grp\",\"pid\":2000,\"tid\":2000,"
	"\"ts\":1.500,\"args\":{\"__probe_ret_ip\":\"0x401200\",\"__probe_func\":\"0x401136\","
	"\"ret\":1}},\n"
	"{\"ph\":\"E\",\"name\":\"fn__return\",\"cat\":\"grp\",\"pid\":2000,\"tid\":2000,"
	"\"ts\":5.250},\n"
	"{\"ph\":\"i\",\"name\":\"fn__return\",\"cat\":\"grp\",\"pid\":2000,\"tid\":2001,"
	"\"s\":\"t\",\"ts\":6.000,\"args\":{\"__probe_ret_ip\":\"0x401200\","
	"\"__probe_func\":\"0x401136\",\"__probe_unwound\":true,\"ret\":0}},\n"
	"{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":2000,\"tid\":2001,"
	"\"args\":{\"name\":\"worker2\"}},\n"
	"{\"ph\":\"i\",\"name\":\"tick\",\"cat\":\"uprobes\",\"pid\":2000,\"tid\":2001,"
	"\"s\":\"t\",\"ts\":7.001,\"args\":{\"__probe_ip\":\"0x401136\",\"n\":2}},\n"
	"{\"ph\":\"i\",\"name\":\"tick\",\"cat\":\"uprobes\",\"pid\":2000,\"tid\":2002,"
	"\"s\":\"t\",\"ts\":8.000,\"args\":{\"__probe_ip\":\"0x401136\",\"n\":\"(fault)\"}}\n"
	"],\"displayTimeUnit\":\"ns\"}\n";

/*
 * A worker thread names the process first, until its main thread shows up;
 * a recursive function returns innermost first (slices 3.0-3.5 in 2.0-4.0
 * in 1.5-5.25 us); a return without entry time and an unknown comm.
 */
static void perfetto(void)
{
	struct trace_record r[7];
	struct rb b[7];
	struct mem m;

	r[0] = tick(&b[0], 2001, "worker", 1, 1000);
	r[1] = fn_ret(&b[1], 3, 3000, 3500);
	r[2] = fn_ret(&b[2], 2, 2000, 4000);
	r[3] = fn_ret(&b[3], 1, 1500, 5250);
	r[4] = fn_ret(&b[4], 0, 0, 6000);
	r[4].tid = 2001;
	r[4].comm = "worker";
	r[4].flags |= TRACE_REC_UNWOUND;
	r[5] = tick(&b[5], 2001, "worker2", 2, 7001);
	r[6] = tick(&b[6], 2002, "", 3, 8000);
	rb_fault(&b[6], 0);
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_PERFETTO, r, 7), 0);
	CHECK_STR(mem_text(&m), perfetto_text);
	CHECK_EQ_INT(run_checker("perfetto", mem_text(&m)), 0);
	mem_close(&m);

	/* an empty document is still one */
	CHECK_EQ_INT(write_all(&m, TRACE_FMT_PERFETTO, r, 0), 0);
	CHECK_STR(mem_text(&m), "{\"traceEvents\":[],\"displayTimeUnit\":\"ns\"}\n");
	mem_close(&m);
}

/* ---- malformed records: -EINVAL, nothing printed ------------------------------------- */

static void malformed_one(const struct trace_record *bad, const char *what)
{
	static const enum trace_format fmts[] = { TRACE_FMT_TEXT, TRACE_FMT_JSON,
						  TRACE_FMT_PERFETTO };

	for (int i = 0; i < 3; i++) {
		struct trace_formatter *f;
		struct mem m;

		mem_open(&m);
		f = trace_formatter_new(fmts[i], m.f, events, N_EV);
		CHECK(f != NULL);
		if (!f)
			return;
		if (trace_formatter_write(f, bad) != -EINVAL)
			TL_FAIL("%s: format %d accepted", what, i);
		CHECK_EQ_INT(strlen(mem_text(&m)), i == 2 ? strlen("{\"traceEvents\":[") : 0);
		trace_formatter_free(f);
		mem_close(&m);
	}
}

static void malformed(void)
{
	struct trace_record r;
	uint32_t loc[2];
	struct rb b;
	char buf[64];

	r = vals_record(&b);
	r.data_len = layouts[EV_VALS].fixed_len - 1; /* shorter than the fixed part */
	malformed_one(&r, "short payload");
	r = vals_record(&b);
	r.data_len = 0;
	r.data = NULL;
	malformed_one(&r, "no payload");

	r = vals_record(&b);
	r.data_len -= 1; /* the last string ("ab" of sa) now ends past data_len */
	malformed_one(&r, "string end past data_len");
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, 6, buf, sizeof(buf)), -EINVAL);

	r = vals_record(&b);
	loc[0] = 0xfffffffe; /* offset + len wraps around 32 bits */
	loc[1] = 4;
	memcpy(b.data + layouts[EV_VALS].fields[0].offset, loc, sizeof(loc));
	malformed_one(&r, "string offset wraps");
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, 0, buf, sizeof(buf)), -EINVAL);
	/* the other fields of that record still read fine one by one */
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, 1, buf, sizeof(buf)), 8);

	r = vals_record(&b);
	r.event_id = N_EV; /* unknown event */
	malformed_one(&r, "unknown event id");
	r.event_id = UINT32_MAX;
	malformed_one(&r, "event id UINT32_MAX");

	/* a string field holding garbage is fine once its arg faulted */
	r = vals_record(&b);
	memcpy(b.data + layouts[EV_VALS].fields[7].offset, loc, sizeof(loc));
	CHECK_EQ_INT(trace_field_format(&layouts[EV_VALS], &r, 7, buf, sizeof(buf)), 7);
	CHECK_STR(buf, "(fault)");
}

static void formatter_args(void)
{
	struct mem m;

	mem_open(&m);
	errno = 0;
	CHECK(!trace_formatter_new(TRACE_FMT_TEXT, NULL, events, N_EV));
	CHECK_EQ_INT(errno, EINVAL);
	CHECK(!trace_formatter_new((enum trace_format)7, m.f, events, N_EV));
	CHECK(!trace_formatter_new(TRACE_FMT_TEXT, m.f, NULL, 1));
	CHECK_EQ_INT(trace_formatter_write(NULL, NULL), -EINVAL);
	trace_formatter_free(NULL);
	mem_close(&m);
}

int main(void)
{
	build_specs();
	RUN(layout_offsets);
	RUN(text_types);
	RUN(text_returns);
	RUN(text_prefix);
	RUN(text_wide_bitmap);
	RUN(comm_escaped);
	RUN(field_format);
	RUN(field_int);
	RUN(json_lines);
	RUN(json_utf8);
	RUN(perfetto);
	RUN(perfetto_names_bounded);
	RUN(malformed);
	RUN(formatter_args);
	for (int i = 0; i < N_EV; i++)
		trace_spec_free(specs[i]);
	TL_EXIT();
}
