/* SPDX-License-Identifier: MIT */
/*
 * uprobe trace -f raw -o FILE: the record file (record.h draws it). Each
 * event the loop keeps is copied as the consumer gave it into a block of
 * about 1 MiB; a full block gets its checksum and goes out in one write. No
 * formatting here: that is uprobe report's job, later, at its own pace, so
 * tracing keeps up with the rings (docs/trace-events.md, "Recording").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "record.h"
#include "trace.h"

struct recorder {
	uint8_t *buf; /* struct urec_block, then used bytes of frames */
	size_t used;
};

/* ---- CRC-32C ----------------------------------------------------------------------- */

static uint32_t crc_soft(uint32_t crc, const uint8_t *p, size_t n)
{
	while (n--) {
		crc ^= *p++;
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & -(crc & 1));
	}
	return crc;
}

#if defined(__x86_64__)
/* SSE4.2's crc32 instruction: 8 bytes per step, several GB/s. */
__attribute__((target("sse4.2"))) static uint32_t crc_hard(uint32_t crc, const uint8_t *p,
							   size_t n)
{
	uint64_t c = crc, v;

	for (; n >= 8; n -= 8, p += 8) {
		memcpy(&v, p, 8);
		c = __builtin_ia32_crc32di(c, v);
	}
	for (; n; n--)
		c = __builtin_ia32_crc32qi((uint32_t)c, *p++);
	return (uint32_t)c;
}
#endif

uint32_t urec_crc32c(uint32_t crc, const void *buf, size_t len)
{
	crc = ~crc;
#if defined(__x86_64__)
	if (__builtin_cpu_supports("sse4.2"))
		return ~crc_hard(crc, buf, len);
#endif
	return ~crc_soft(crc, buf, len);
}

/* ---- writing ----------------------------------------------------------------------- */

static void write_block(struct tracer *t, uint8_t *block, size_t len)
{
	struct urec_block *b = (struct urec_block *)block;

	b->len = (uint32_t)len;
	b->crc = urec_crc32c(0, block + sizeof(*b), len);
	if (fwrite(block, 1, sizeof(*b) + len, t->out) != sizeof(*b) + len)
		tracer_check_output(t);
}

static void flush_block(struct tracer *t)
{
	struct recorder *r = t->rec;

	if (r->used)
		write_block(t, r->buf, r->used);
	r->used = 0;
}

/* Room for len bytes of frames in the block (a frame longer than a block: a block of its own). */
static uint8_t *frame_room(struct tracer *t, size_t len, uint8_t **own)
{
	struct recorder *r = t->rec;

	*own = NULL;
	if (r->used + len > UREC_BLOCK_BYTES)
		flush_block(t);
	if (len <= UREC_BLOCK_BYTES) {
		r->used += len;
		return r->buf + sizeof(struct urec_block) + r->used - len;
	}
	*own = calloc(1, sizeof(struct urec_block) + len);
	return *own ? *own + sizeof(struct urec_block) : NULL;
}

static void frame_done(struct tracer *t, uint8_t *own, size_t len)
{
	if (own)
		write_block(t, own, len);
	free(own);
}

void tracer_record_write(struct tracer *t, const struct trace_record *rec)
{
	size_t len = sizeof(struct urec_event) + ((rec->data_len + 7ull) & ~7ull);
	uint8_t *own, *p = frame_room(t, len, &own);
	struct urec_event *e = (struct urec_event *)p;

	if (!p) {
		t->out_errno = ENOMEM;
		return;
	}
	*e = (struct urec_event){
		.f = { .len = (uint32_t)len, .kind = UREC_EVENT },
		.event_id = rec->event_id, .flags = rec->flags,
		.pid = rec->pid, .tid = rec->tid, .cpu = rec->cpu, .data_len = rec->data_len,
		.ts_ns = rec->ts_ns, .entry_ts_ns = rec->entry_ts_ns, .ip = rec->ip,
		.func = rec->func,
	};
	strncpy(e->comm, rec->comm ? rec->comm : "", sizeof(e->comm));
	memcpy(p + sizeof(*e), rec->data, rec->data_len);
	memset(p + sizeof(*e) + rec->data_len, 0, len - sizeof(*e) - rec->data_len);
	frame_done(t, own, len);
}

void tracer_record_end(struct tracer *t)
{
	size_t len = sizeof(struct urec_end) + (size_t)t->n * sizeof(struct urec_probe);
	uint8_t *own, *p;
	struct urec_end *e;
	struct urec_probe *pr;

	flush_block(t); /* the end in a block of its own */
	p = frame_room(t, len, &own);
	if (!p) {
		t->out_errno = ENOMEM;
		return;
	}
	e = (struct urec_end *)p;
	*e = (struct urec_end){
		.f = { .len = (uint32_t)len, .kind = UREC_END },
		.n_probes = (uint32_t)t->n,
		.flags = t->lost_unknown ? UREC_END_LOST_UNKNOWN : 0,
		.lost = t->lost, .unread = t->unread, .filtered = t->filtered,
		.malformed = t->malformed, .images = t->images, .filter_on = (uint32_t)t->filter.on,
	};
	pr = (struct urec_probe *)(e + 1);
	for (int i = 0; i < t->n; i++) {
		pr[i] = (struct urec_probe){ .events = t->events[i], .lost = t->lost_by[i],
					     .skipped = t->skipped[i], .attached = !!t->attached[i] };
		strncpy(pr[i].mode, t->mode[i], sizeof(pr[i].mode) - 1);
	}
	frame_done(t, own, len);
	flush_block(t);
	free(t->rec->buf);
	free(t->rec);
	t->rec = NULL;
}

/* ---- the header ---------------------------------------------------------------------- */

static bool has_stack(const struct trace_layout *l)
{
	for (int i = 0; i < l->n_fields; i++)
		if (l->fields[i].type == TRACE_T_USTACK)
			return true;
	return false;
}

/* The probe texts: u32 length, the text, padded to 8; NULL (said why) on failure. */
static uint8_t *probe_texts(const struct tracer *t, size_t *len)
{
	size_t room = 0, at = 0;
	uint8_t *buf;

	for (int i = 0; i < t->n; i++)
		room += 8 + (((size_t)trace_spec_format(t->specs[i], NULL, 0) + 1 + 7) & ~7ull);
	buf = calloc(1, room + 8);
	if (!buf)
		return NULL;
	for (int i = 0; i < t->n; i++) {
		int n = trace_spec_format(t->specs[i], (char *)buf + at + 4, room - at - 4);
		uint32_t n32 = (uint32_t)n;

		memcpy(buf + at, &n32, 4);
		at += (4 + (size_t)n + 7) & ~7ull;
	}
	*len = at;
	return buf;
}

int tracer_record_setup(struct tracer *t)
{
	struct urec_header h = { .magic = UREC_MAGIC, .version = UREC_VERSION,
				 .n_probes = (uint32_t)t->n,
				 .flags = t->blocking ? UREC_F_BLOCKING : 0 };
	size_t len = 0;
	uint8_t *texts;

	for (int i = 0; i < t->n; i++)
		if (has_stack(t->layouts[i]))
			return cli_error(CLI_EXIT_USAGE, "-f raw: probe %s/%s fetches a $ustack, "
					 "which a record file does not hold (not yet)",
					 t->specs[i]->group, t->specs[i]->event);
	setvbuf(t->out, NULL, _IONBF, 0); /* whole blocks go out in one write each */
	t->rec = calloc(1, sizeof(*t->rec));
	texts = probe_texts(t, &len);
	if (t->rec)
		t->rec->buf = malloc(sizeof(struct urec_block) + UREC_BLOCK_BYTES);
	if (!t->rec || !t->rec->buf || !texts) {
		free(texts);
		return cli_error(CLI_EXIT_FAIL, "out of memory");
	}
	h.hdr_len = sizeof(h) + len;
	h.crc = urec_crc32c(urec_crc32c(0, &h, sizeof(h)), texts, len); /* crc 0 meanwhile */
	if (fwrite(&h, sizeof(h), 1, t->out) != 1 || fwrite(texts, 1, len, t->out) != len)
		tracer_check_output(t);
	free(texts);
	return t->out_errno ? cli_error(CLI_EXIT_FAIL, "-f raw: the record file: %s",
					strerror(t->out_errno))
			    : 0;
}
