/* SPDX-License-Identifier: MIT */
/*
 * Formatters of trace records (the consumer side). A record that does not
 * fit its event's layout (a payload shorter than fixed_len, a string outside
 * the payload, an unknown event id) is refused with -EINVAL before a single
 * byte is printed. Values print as trace_field_format() prints them (field.c).
 *
 * TRACE_FMT_TEXT: the trace_pipe line of kernel/trace/trace_output.c
 * (trace_print_context) followed by print_uprobe_event of trace_uprobe.c:
 *
 *   "%16s-%-7d [%03d]  %5lu.%06lu: EVENT: (0xIP) NAME=VALUE ...\n"
 *   "%16s-%-7d [%03d]  %5lu.%06lu: EVENT: (0xCALLSITE <- 0xFUNC) NAME=VALUE ...\n"
 *
 * comm (or "<...>" when unknown, like trace_find_cmdline; escaped like a
 * string value, because the traced program names its threads), the thread id,
 * the CPU, then CLOCK_MONOTONIC seconds.microseconds rounded to the nearest
 * microsecond (the kernel's ns2usecs adds 500 ns). The kernel's irq-flags
 * column ("d.h1.") is not printed: a user-space probe has no such state. The
 * kernel prints that column between "[cpu] " and the timestamp's own leading
 * space, so without it two spaces separate them, as with "noirq-info". A
 * return record prints the call site it returned to, then the function, as
 * the kernel does. An unwound return (left by longjmp or an exception) gets
 * " (unwound)" right after that parenthesis. A $ustack field is not on the
 * line: its frames follow it, one line each, as perf script prints a
 * callchain, then an empty line (ustack.c).
 *
 * TRACE_FMT_JSON: one object per line, keys in this order:
 *   {"ts_ns":N,"pid":N,"tid":N,"cpu":N,"comm":"..","group":"..","event":"..",
 *    "type":"entry"|"return","ip":"0x..",
 *    "func":"0x.."            returns only (ip is then the call site)
 *    "entry_ts_ns":N          returns whose entry time is known
 *    "latency_ns":N           same, when entry_ts_ns <= ts_ns
 *    "unwound":true           only when set
 *    "args":{"name":value,...}
 *    "faults":["name",...]}   only when an arg faulted; its value is null
 * uN, sN and bitfields are JSON numbers (a u64 may exceed 2^53: parsers that
 * use doubles lose precision, Python's does not); xN are strings "0x..";
 * char is a one-character string; strings are JSON strings; arrays are JSON
 * arrays; a $ustack, an array of frame objects (ustack.c), or of addresses
 * without a symbolizer. Strings escape ", \, control characters and 0x7f; valid UTF-8 is
 * kept, and each byte of invalid UTF-8 becomes \u00XX (the byte read as
 * Latin-1), so any payload gives valid JSON. comm is "" when unknown.
 *
 * TRACE_FMT_PERFETTO: Chrome trace-event JSON, one document
 *   {"traceEvents":[ EVENT, ... ],"displayTimeUnit":"ns"}
 * opened by trace_formatter_new() and closed by trace_formatter_free().
 * ts are microseconds with three decimals (ns precision). Per record:
 *  - entry: an instant {"ph":"i","s":"t",...} at ts_ns;
 *  - return with 0 < entry_ts_ns <= ts_ns: a slice, "B" at entry_ts_ns and
 *    "E" at ts_ns on the same pid/tid. Both are written when the return
 *    arrives; the importer sorts by ts, and since calls on one thread return
 *    innermost first, the slices nest (a recursive function included);
 *  - return without a usable entry time: an instant at ts_ns.
 * name is the event, cat its group; args (on the instant or the "B") hold
 * the fetch-args plus "__probe_ip" (entry) or "__probe_ret_ip" and
 * "__probe_func" (return), the kernel's reserved field names, which no arg
 * can take, and "__probe_unwound":true when set. A faulted arg is the string
 * "(fault)" here. Metadata "M" events name threads (thread_name, again when a
 * thread's comm changes) and processes (process_name: the first comm seen in
 * the process, replaced by the main thread's once it shows up). Past 65536
 * threads and processes named, the names are forgotten and written again as
 * threads show up again (the traced program writes the tids: memory stays
 * bounded).
 *
 * A formatter is not thread-safe; events, their specs and layouts must stay
 * valid while it is used.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "trace/output/format.h"
#include "uprobes_stack.h"

#define COMM_LEN 16 /* TASK_COMM_LEN */

/* ---- threads and processes already named in a Perfetto document -------------------- */

struct who {
	uint64_t key; /* 1 << 32 | pid for a process, tid for a thread */
	int used;
	int by_main;	     /* process: named after its main thread */
	char comm[COMM_LEN]; /* the name emitted, "" before any */
};

struct who_map {
	struct who *slot;
	size_t cap, n; /* cap a power of two */
};

static size_t who_hash(uint64_t key, size_t cap)
{
	return (size_t)((key * 0x9e3779b97f4a7c15ull) >> 32) & (cap - 1);
}

static struct who *who_find(struct who_map *m, uint64_t key)
{
	size_t i = who_hash(key, m->cap);

	while (m->slot[i].used && m->slot[i].key != key)
		i = (i + 1) & (m->cap - 1);
	return &m->slot[i];
}

static int who_grow(struct who_map *m)
{
	struct who_map g = {.cap = m->cap ? m->cap * 2 : 64};

	g.slot = calloc(g.cap, sizeof(*g.slot));
	if (!g.slot)
		return -ENOMEM;
	for (size_t i = 0; i < m->cap; i++)
		if (m->slot[i].used)
			*who_find(&g, m->slot[i].key) = m->slot[i];
	g.n = m->n;
	free(m->slot);
	*m = g;
	return 0;
}

/*
 * Threads and processes named at most: the traced program writes the tids,
 * so past this the map is cleared, and a thread seen again is named again
 * (metadata events cost little; memory without bound would not).
 */
#define WHO_MAX 65536

/* The entry for key, added unnamed when new; NULL when out of memory. */
static struct who *who_get(struct who_map *m, uint64_t key)
{
	struct who *w;

	if ((m->n + 1) * 4 > m->cap * 3 && who_grow(m))
		return NULL;
	w = who_find(m, key);
	if (!w->used) {
		memset(w, 0, sizeof(*w));
		w->used = 1;
		w->key = key;
		m->n++;
	}
	return w;
}

/* ---- the formatter ----------------------------------------------------------------- */

struct trace_formatter {
	enum trace_format fmt;
	FILE *out;
	const struct trace_event_desc *events;
	size_t n_events;
	struct fmt_sink line; /* reused for every record */
	uint64_t n_emitted;   /* Perfetto: events in the document so far */
	struct who_map names; /* Perfetto */
	struct uprobe_symbolizer *sym; /* $ustack fields (trace_formatter_set_symbolizer) */
};

static const char *comm_text(const struct trace_record *r, int *len)
{
	*len = r->comm ? (int)strnlen(r->comm, COMM_LEN) : 0;
	if (*len)
		return r->comm;
	*len = 5;
	return "<...>";
}

static void put_event_name(struct fmt_sink *s, const struct trace_spec *spec)
{
	fmt_write(s, spec->event, strnlen(spec->event, TRACE_MAX_EVENT_NAME));
}

static void put_arg_name(struct fmt_sink *s, const struct trace_field *f)
{
	fmt_write(s, f->name, strnlen(f->name, TRACE_MAX_ARG_NAME));
}

static bool is_ustack(const struct trace_layout *l, int i)
{
	return l->fields[i].type == TRACE_T_USTACK;
}

/*
 * The traced program names its threads: comm is escaped like a string
 * (fmt_text), then right-aligned in 16 columns as the kernel's "%16s".
 */
static void put_comm(struct fmt_sink *s, const struct trace_record *r)
{
	char tmp[4 * COMM_LEN]; /* a byte escapes to 4 at most */
	struct fmt_sink e = {.buf = tmp, .cap = sizeof(tmp)};
	const char *comm;
	int clen;

	comm = comm_text(r, &clen);
	fmt_text(&e, (const uint8_t *)comm, (size_t)clen, 0);
	for (size_t k = e.len; k < COMM_LEN; k++)
		fmt_putc(s, ' ');
	fmt_write(s, tmp, e.len);
}

static void text_record(const struct trace_formatter *f, struct fmt_sink *s,
			const struct trace_event_desc *ev, const struct trace_record *r)
{
	uint64_t us = (r->ts_ns + 500) / 1000; /* ns2usecs() */

	put_comm(s, r);
	fmt_printf(s, "-%-7" PRIu32 " [%03" PRIu32 "]  %5" PRIu64 ".%06" PRIu64 ": ", r->tid,
		   r->cpu, us / 1000000, us % 1000000);
	put_event_name(s, ev->spec);
	if (r->flags & TRACE_REC_RETURN)
		fmt_printf(s, ": (0x%" PRIx64 " <- 0x%" PRIx64 ")", r->ip, r->func);
	else
		fmt_printf(s, ": (0x%" PRIx64 ")", r->ip);
	if (r->flags & TRACE_REC_UNWOUND)
		fmt_puts(s, " (unwound)");
	for (int i = 0; i < ev->layout->n_fields; i++) {
		if (is_ustack(ev->layout, i)) /* under the line, as perf script's callchain */
			continue;
		fmt_putc(s, ' ');
		put_arg_name(s, &ev->layout->fields[i]);
		fmt_putc(s, '=');
		fmt_field(s, ev->layout, r, i, STYLE_TEXT);
	}
	fmt_putc(s, '\n');
	for (int i = 0; i < ev->layout->n_fields; i++)
		if (is_ustack(ev->layout, i))
			fmt_ustack_lines(s, f->sym, ev->layout, r, i);
}

static void json_args(const struct trace_formatter *f, struct fmt_sink *s,
		      const struct trace_layout *l, const struct trace_record *r, enum fmt_style st)
{
	for (int i = 0; i < l->n_fields; i++) {
		if (i)
			fmt_putc(s, ',');
		fmt_json_str(s, (const uint8_t *)l->fields[i].name,
			     strnlen(l->fields[i].name, TRACE_MAX_ARG_NAME));
		fmt_putc(s, ':');
		if (is_ustack(l, i))
			fmt_ustack_json(s, f->sym, l, r, i, st);
		else
			fmt_field(s, l, r, i, st);
	}
}

static void json_faults(struct fmt_sink *s, const struct trace_layout *l,
			const struct trace_record *r)
{
	int n = 0;

	for (int i = 0; i < l->n_fields; i++) {
		if (!fmt_faulted(r, i))
			continue;
		fmt_puts(s, n++ ? "," : ",\"faults\":[");
		fmt_json_str(s, (const uint8_t *)l->fields[i].name,
			     strnlen(l->fields[i].name, TRACE_MAX_ARG_NAME));
	}
	if (n)
		fmt_putc(s, ']');
}

static void json_record(const struct trace_formatter *f, struct fmt_sink *s,
			const struct trace_event_desc *ev, const struct trace_record *r)
{
	int ret = !!(r->flags & TRACE_REC_RETURN);

	fmt_printf(s,
		   "{\"ts_ns\":%" PRIu64 ",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32 ",\"cpu\":%" PRIu32
		   ",\"comm\":",
		   r->ts_ns, r->pid, r->tid, r->cpu);
	fmt_json_cstr(s, r->comm, COMM_LEN);
	fmt_puts(s, ",\"group\":");
	fmt_json_cstr(s, ev->spec->group, TRACE_MAX_EVENT_NAME);
	fmt_puts(s, ",\"event\":");
	fmt_json_cstr(s, ev->spec->event, TRACE_MAX_EVENT_NAME);
	fmt_printf(s, ",\"type\":\"%s\",\"ip\":\"0x%" PRIx64 "\"", ret ? "return" : "entry", r->ip);
	if (ret)
		fmt_printf(s, ",\"func\":\"0x%" PRIx64 "\"", r->func);
	if (ret && r->entry_ts_ns)
		fmt_printf(s, ",\"entry_ts_ns\":%" PRIu64, r->entry_ts_ns);
	if (ret && r->entry_ts_ns && r->entry_ts_ns <= r->ts_ns)
		fmt_printf(s, ",\"latency_ns\":%" PRIu64, r->ts_ns - r->entry_ts_ns);
	if (r->flags & TRACE_REC_UNWOUND)
		fmt_puts(s, ",\"unwound\":true");
	fmt_puts(s, ",\"args\":{");
	json_args(f, s, ev->layout, r, STYLE_JSON);
	fmt_putc(s, '}');
	json_faults(s, ev->layout, r);
	fmt_puts(s, "}\n");
}

/* ---- Perfetto ---------------------------------------------------------------------- */

static void pf_begin(struct trace_formatter *f, struct fmt_sink *s, uint64_t *n)
{
	fmt_puts(s, f->n_emitted + *n ? ",\n" : "\n");
	(*n)++;
}

static void pf_ts(struct fmt_sink *s, uint64_t ns)
{
	fmt_printf(s, ",\"ts\":%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
}

static void pf_meta(struct trace_formatter *f, struct fmt_sink *s, uint64_t *n, const char *what,
		    const struct trace_record *r, uint32_t tid)
{
	pf_begin(f, s, n);
	fmt_printf(s,
		   "{\"ph\":\"M\",\"name\":\"%s\",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32
		   ",\"args\":{\"name\":",
		   what, r->pid, tid);
	fmt_json_cstr(s, r->comm, COMM_LEN);
	fmt_puts(s, "}}");
}

/* Start an event object: phase, name, category, pid, tid (ts follows). */
static void pf_head(struct trace_formatter *f, struct fmt_sink *s, uint64_t *n, const char *ph,
		    const struct trace_event_desc *ev, const struct trace_record *r)
{
	pf_begin(f, s, n);
	fmt_printf(s, "{\"ph\":\"%s\",\"name\":", ph);
	fmt_json_cstr(s, ev->spec->event, TRACE_MAX_EVENT_NAME);
	fmt_puts(s, ",\"cat\":");
	fmt_json_cstr(s, ev->spec->group, TRACE_MAX_EVENT_NAME);
	fmt_printf(s, ",\"pid\":%" PRIu32 ",\"tid\":%" PRIu32, r->pid, r->tid);
}

static void pf_args(const struct trace_formatter *f, struct fmt_sink *s,
		    const struct trace_event_desc *ev, const struct trace_record *r)
{
	if (r->flags & TRACE_REC_RETURN)
		fmt_printf(s,
			   ",\"args\":{\"__probe_ret_ip\":\"0x%" PRIx64
			   "\",\"__probe_func\":\"0x%" PRIx64 "\"",
			   r->ip, r->func);
	else
		fmt_printf(s, ",\"args\":{\"__probe_ip\":\"0x%" PRIx64 "\"", r->ip);
	if (r->flags & TRACE_REC_UNWOUND)
		fmt_puts(s, ",\"__probe_unwound\":true");
	if (ev->layout->n_fields)
		fmt_putc(s, ',');
	json_args(f, s, ev->layout, r, STYLE_PERFETTO);
	fmt_puts(s, "}}");
}

/* Which names this record brings: bit 0 the thread's, bit 1 the process's. */
static int pf_names_needed(struct who *t, struct who *p, const struct trace_record *r)
{
	int need = 0;

	if (!r->comm || !r->comm[0])
		return 0;
	if (strncmp(t->comm, r->comm, COMM_LEN))
		need |= 1;
	if (!p->comm[0] ||
	    (r->tid == r->pid && (!p->by_main || strncmp(p->comm, r->comm, COMM_LEN))))
		need |= 2;
	return need;
}

static void comm_copy(char *dst, const char *src)
{
	memset(dst, 0, COMM_LEN);
	memcpy(dst, src, strnlen(src, COMM_LEN));
}

static void pf_names_done(struct who *t, struct who *p, const struct trace_record *r, int need)
{
	if (need & 1)
		comm_copy(t->comm, r->comm);
	if (need & 2) {
		comm_copy(p->comm, r->comm);
		p->by_main = r->tid == r->pid;
	}
}

/*
 * A record's events into s: the names it brings first, then an instant or a
 * B/E pair. Returns those names (pf_names_needed) or -ENOMEM.
 */
static int pf_record(struct trace_formatter *f, struct fmt_sink *s,
		     const struct trace_event_desc *ev, const struct trace_record *r, uint64_t *n)
{
	int ret = r->flags & TRACE_REC_RETURN;
	struct who *t, *p;
	int need;

	if (f->names.n + 2 > WHO_MAX) {
		memset(f->names.slot, 0, f->names.cap * sizeof(*f->names.slot));
		f->names.n = 0;
	}
	t = who_get(&f->names, r->tid);
	p = t ? who_get(&f->names, 1ull << 32 | r->pid) : NULL;
	if (!p)
		return -ENOMEM;
	t = who_find(&f->names, r->tid); /* the second who_get may have moved it */
	need = pf_names_needed(t, p, r);
	if (need & 2)
		pf_meta(f, s, n, "process_name", r, r->pid);
	if (need & 1)
		pf_meta(f, s, n, "thread_name", r, r->tid);
	if (ret && r->entry_ts_ns && r->entry_ts_ns <= r->ts_ns) {
		pf_head(f, s, n, "B", ev, r);
		pf_ts(s, r->entry_ts_ns);
		pf_args(f, s, ev, r);
		pf_head(f, s, n, "E", ev, r);
		pf_ts(s, r->ts_ns);
		fmt_putc(s, '}');
	} else {
		pf_head(f, s, n, "i", ev, r);
		fmt_puts(s, ",\"s\":\"t\"");
		pf_ts(s, r->ts_ns);
		pf_args(f, s, ev, r);
	}
	return need;
}

/* ---- public entry points ------------------------------------------------------------ */

UPROBE_API struct trace_formatter *trace_formatter_new(enum trace_format fmt, FILE *out,
						       const struct trace_event_desc *events,
						       size_t n_events)
{
	struct trace_formatter *f;

	if (!out || (!events && n_events) ||
	    (fmt != TRACE_FMT_TEXT && fmt != TRACE_FMT_JSON && fmt != TRACE_FMT_PERFETTO)) {
		errno = EINVAL;
		return NULL;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	f->fmt = fmt;
	f->out = out;
	f->events = events;
	f->n_events = n_events;
	f->line.grow = 1;
	if (fmt == TRACE_FMT_PERFETTO && fputs("{\"traceEvents\":[", out) == EOF) {
		free(f);
		errno = EIO;
		return NULL;
	}
	return f;
}

static const struct trace_event_desc *event_of(const struct trace_formatter *f,
					       const struct trace_record *r)
{
	const struct trace_event_desc *ev;

	if (r->event_id >= f->n_events)
		return NULL;
	ev = &f->events[r->event_id];
	if (!ev->spec || !ev->layout || fmt_record_check(ev->layout, r))
		return NULL;
	return ev;
}

UPROBE_API int trace_formatter_write(struct trace_formatter *f, const struct trace_record *rec)
{
	const struct trace_event_desc *ev;
	struct fmt_sink *s;
	uint64_t n = 0;
	int need = 0;

	if (!f || !rec || !(ev = event_of(f, rec)))
		return -EINVAL;
	s = &f->line;
	s->len = 0;
	s->err = 0;
	if (f->fmt == TRACE_FMT_TEXT)
		text_record(f, s, ev, rec);
	else if (f->fmt == TRACE_FMT_JSON)
		json_record(f, s, ev, rec);
	else if ((need = pf_record(f, s, ev, rec, &n)) < 0)
		return need;
	if (s->err)
		return s->err;
	if (fwrite(s->buf, 1, s->len, f->out) != s->len)
		return -EIO;
	if (f->fmt == TRACE_FMT_PERFETTO) {
		/* Named only once the names are out (a failed write retries them). */
		pf_names_done(who_find(&f->names, rec->tid),
			      who_find(&f->names, 1ull << 32 | rec->pid), rec, need);
		f->n_emitted += n;
	}
	return 0;
}

UPROBE_API int trace_formatter_set_symbolizer(struct trace_formatter *f,
					      struct uprobe_symbolizer *sym)
{
	if (!f)
		return -EINVAL;
	f->sym = sym;
	return 0;
}

UPROBE_API void trace_formatter_free(struct trace_formatter *f)
{
	if (!f)
		return;
	if (f->fmt == TRACE_FMT_PERFETTO) {
		fputs(f->n_emitted ? "\n],\"displayTimeUnit\":\"ns\"}\n" :
				     "],\"displayTimeUnit\":\"ns\"}\n",
		      f->out);
		fflush(f->out);
	}
	free(f->line.buf);
	free(f->names.slot);
	free(f);
}
