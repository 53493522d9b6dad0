/* SPDX-License-Identifier: MIT */
/*
 * Field values of trace records, the one place that reads a payload.
 * Records come from shared memory that the traced process writes, so nothing
 * here trusts one: every offset and length is checked against data_len before
 * it is read.
 *
 * Values (trace_field_format, used by all three formatters):
 *   uN, bitfields     decimal, as the kernel's "%u"/"%Lu" (a bitfield prints
 *                     as its container type, which the kernel makes uN)
 *   sN                decimal, sign-extended from N bits ("%d"/"%Ld")
 *   xN                "0x%x" / "0x%Lx"
 *   char              'c', as the kernel's "'%c'"
 *   string, ustring   "text"
 *   TYPE[N]           {a,b,c}, as the kernel's print_probe_args
 *   $ustack           {0x401136,0x4011d2,...}: the addresses, leaf first (the
 *                     formatters print them symbolized when they have a
 *                     symbolizer, trace/output/ustack.c)
 *   faulted arg       (fault), for any type (the kernel prints it for strings)
 * Deliberate difference from the kernel: text
 * and chars are escaped so one record stays one line: \\, the quote in use,
 * \n \t \r, and \xNN for other control bytes, 0x7f and the C1 controls
 * U+0080..U+009F in UTF-8 (\xc2\xNN: a terminal takes U+009B for CSI);
 * other bytes >= 0x80 are printed raw (UTF-8 text stays readable), as the
 * kernel does.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "trace/output/format.h"
#include "trace/spec/spec.h"
#include "uprobes_stack.h"

/* ---- output sink ------------------------------------------------------------------- */

static int sink_reserve(struct fmt_sink *s, size_t need)
{
	size_t cap = s->cap ? s->cap : 256;
	char *p;

	while (cap < need)
		cap *= 2;
	p = realloc(s->buf, cap);
	if (!p)
		return -ENOMEM;
	s->buf = p;
	s->cap = cap;
	return 0;
}

void fmt_write(struct fmt_sink *s, const void *p, size_t n)
{
	if (s->len + n > s->cap && s->grow && !s->err)
		s->err = sink_reserve(s, s->len + n);
	if (s->len < s->cap)
		memcpy(s->buf + s->len, p, s->cap - s->len < n ? s->cap - s->len : n);
	s->len += n;
}

void fmt_puts(struct fmt_sink *s, const char *str)
{
	fmt_write(s, str, strlen(str));
}

void fmt_putc(struct fmt_sink *s, char c)
{
	fmt_write(s, &c, 1);
}

void fmt_printf(struct fmt_sink *s, const char *fmt, ...)
{
	char tmp[128];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		fmt_write(s, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* ---- payload access, bounds-checked ------------------------------------------------ */

static int is_array(const struct trace_field *f)
{
	return f->array_len != 0;
}

static uint64_t rd(const uint8_t *p, unsigned int size)
{
	uint64_t v = 0;

	memcpy(&v, p, size); /* little-endian: the low bytes */
	return v;
}

int fmt_faulted(const struct trace_record *r, int i)
{
	return (r->data[i / 8] >> (i % 8)) & 1;
}

/* A string element's bytes, or NULL when they are not inside the payload. */
static const uint8_t *str_bytes(const struct trace_record *r, const uint8_t *elem, uint32_t *len)
{
	uint32_t off = (uint32_t)rd(elem, 4);

	*len = (uint32_t)rd(elem + 4, 4);
	if ((uint64_t)off + *len > r->data_len)
		return NULL;
	return r->data + off;
}

/* Field i of r lies inside r's payload, strings included: 0 or -EINVAL. */
static int field_check(const struct trace_layout *l, const struct trace_record *r, int i)
{
	const struct trace_field *f;
	uint32_t len = 0;

	if (!l || !r || i < 0 || i >= l->n_fields || l->n_fields > TRACE_MAX_ARGS || !r->data)
		return -EINVAL;
	f = &l->fields[i];
	if (l->bitmap_len < (unsigned int)(i / 64 + 1) * 8 || l->bitmap_len > r->data_len)
		return -EINVAL;
	if (f->count < 1 || f->count > TRACE_MAX_ARRAY || f->elem_size > 8 ||
	    (f->elem_size & (f->elem_size - 1)) || !f->elem_size ||
	    (trace_type_is_dynamic(f->type) && f->elem_size != 8) ||
	    (f->type == TRACE_T_USTACK && f->count != 1))
		return -EINVAL;
	if ((uint64_t)f->offset + (uint64_t)f->elem_size * f->count > r->data_len)
		return -EINVAL;
	if (!trace_type_is_dynamic(f->type) || fmt_faulted(r, i))
		return 0;
	for (unsigned int k = 0; k < f->count; k++)
		if (!str_bytes(r, r->data + f->offset + 8 * k, &len))
			return -EINVAL;
	if (f->type == TRACE_T_USTACK && (len % 8 || len / 8 > TRACE_MAX_USTACK))
		return -EINVAL;
	return 0;
}

int fmt_record_check(const struct trace_layout *l, const struct trace_record *r)
{
	if (!l || !r || l->n_fields < 0 || l->n_fields > TRACE_MAX_ARGS ||
	    r->data_len < l->fixed_len)
		return -EINVAL;
	if (r->data_len && !r->data)
		return -EINVAL;
	for (int i = 0; i < l->n_fields; i++)
		if (field_check(l, r, i))
			return -EINVAL;
	return 0;
}

/* ---- values ------------------------------------------------------------------------ */

void fmt_text(struct fmt_sink *s, const uint8_t *p, size_t n, char quote)
{
	for (size_t k = 0; k < n; k++) {
		uint8_t c = p[k];

		if ((quote && c == quote) || c == '\\')
			fmt_write(s, (const char[]){ '\\', (char)c }, 2);
		else if (c == 0xc2 && k + 1 < n && p[k + 1] >= 0x80 && p[k + 1] <= 0x9f)
			fmt_printf(s, "\\xc2\\x%02x", p[++k]); /* U+0080..U+009F: C1 controls */
		else if (c == '\n')
			fmt_puts(s, "\\n");
		else if (c == '\t')
			fmt_puts(s, "\\t");
		else if (c == '\r')
			fmt_puts(s, "\\r");
		else if (c < 0x20 || c == 0x7f)
			fmt_printf(s, "\\x%02x", c);
		else
			fmt_putc(s, (char)c);
	}
}

/* Length of the valid UTF-8 sequence at p (RFC 3629: no overlongs, no surrogates), or 0. */
static size_t utf8_len(const uint8_t *p, size_t n)
{
	uint8_t c = p[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		lo = c == 0xe0 ? 0xa0 : 0x80;
		hi = c == 0xed ? 0x9f : 0xbf;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		lo = c == 0xf0 ? 0x90 : 0x80;
		hi = c == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (n < len || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t k = 2; k < len; k++)
		if ((p[k] & 0xc0) != 0x80)
			return 0;
	return len;
}

void fmt_json_str(struct fmt_sink *s, const uint8_t *p, size_t n)
{
	fmt_putc(s, '"');
	for (size_t k = 0; k < n;) {
		uint8_t c = p[k];
		size_t u = utf8_len(p + k, n - k);

		if (c == '"' || c == '\\')
			fmt_write(s, (const char[]){ '\\', (char)c }, 2);
		else if (c == '\n')
			fmt_puts(s, "\\n");
		else if (c == '\t')
			fmt_puts(s, "\\t");
		else if (c == '\r')
			fmt_puts(s, "\\r");
		else if (c < 0x20 || c == 0x7f || !u)
			fmt_printf(s, "\\u%04x", c);
		else
			fmt_write(s, p + k, u);
		k += u ? u : 1;
	}
	fmt_putc(s, '"');
}

void fmt_json_cstr(struct fmt_sink *s, const char *str, size_t max)
{
	fmt_json_str(s, (const uint8_t *)str, str ? strnlen(str, max) : 0);
}

/* One integer or char element, raw holding at least its type's low bytes. */
static void put_int(struct fmt_sink *s, enum trace_type t, uint64_t raw, enum fmt_style st)
{
	unsigned int bits = trace_type_size(t) * 8;
	uint64_t v = bits == 64 ? raw : raw & ((1ull << bits) - 1);
	uint8_t c = (uint8_t)v;

	switch (t) {
	case TRACE_T_S8:
	case TRACE_T_S16:
	case TRACE_T_S32:
	case TRACE_T_S64:
		fmt_printf(s, "%" PRId64, (int64_t)(v << (64 - bits)) >> (64 - bits));
		break;
	case TRACE_T_X8:
	case TRACE_T_X16:
	case TRACE_T_X32:
	case TRACE_T_X64:
		fmt_printf(s, st == STYLE_TEXT ? "0x%" PRIx64 : "\"0x%" PRIx64 "\"", v);
		break;
	case TRACE_T_CHAR:
		if (st == STYLE_TEXT) {
			fmt_putc(s, '\'');
			fmt_text(s, &c, 1, '\'');
			fmt_putc(s, '\'');
		} else {
			fmt_json_str(s, &c, 1);
		}
		break;
	default:
		fmt_printf(s, "%" PRIu64, v);
		break;
	}
}

static void put_fault(struct fmt_sink *s, enum fmt_style st)
{
	fmt_puts(s, st == STYLE_TEXT ? "(fault)" : st == STYLE_JSON ? "null" : "\"(fault)\"");
}

static void put_elem(struct fmt_sink *s, const struct trace_field *f, const struct trace_record *r,
		     const uint8_t *elem, enum fmt_style st)
{
	const uint8_t *text;
	uint32_t len;

	if (f->type == TRACE_T_USTACK) { /* the addresses, as an x64 array prints */
		text = str_bytes(r, elem, &len);
		fmt_putc(s, st == STYLE_TEXT ? '{' : '[');
		for (uint32_t k = 0; k < len / 8; k++) {
			if (k)
				fmt_putc(s, ',');
			put_int(s, TRACE_T_X64, rd(text + 8 * k, 8), st);
		}
		fmt_putc(s, st == STYLE_TEXT ? '}' : ']');
		return;
	}
	if (!trace_type_is_string(f->type)) {
		put_int(s, f->type, rd(elem, f->elem_size), st);
		return;
	}
	text = str_bytes(r, elem, &len); /* checked by field_check */
	if (!text) { /* the caller's record changed since (a consumer copies it: never) */
		put_fault(s, st);
		return;
	}
	if (st == STYLE_TEXT) {
		fmt_putc(s, '"');
		fmt_text(s, text, len, '"');
		fmt_putc(s, '"');
	} else {
		fmt_json_str(s, text, len);
	}
}

/* Field i of a checked record, in the given style. */
void fmt_field(struct fmt_sink *s, const struct trace_layout *l, const struct trace_record *r,
	       int i, enum fmt_style st)
{
	const struct trace_field *f = &l->fields[i];
	int arr = is_array(f);

	if (fmt_faulted(r, i)) {
		put_fault(s, st);
		return;
	}
	if (arr)
		fmt_putc(s, st == STYLE_TEXT ? '{' : '[');
	for (unsigned int k = 0; k < f->count; k++) {
		if (k)
			fmt_putc(s, ',');
		put_elem(s, f, r, r->data + f->offset + (size_t)k * f->elem_size, st);
	}
	if (arr)
		fmt_putc(s, st == STYLE_TEXT ? '}' : ']');
}

UPROBE_API int trace_field_format(const struct trace_layout *layout, const struct trace_record *rec,
				  int i, char *buf, size_t len)
{
	struct fmt_sink s = {.buf = buf, .cap = buf ? len : 0};

	if (field_check(layout, rec, i))
		return -EINVAL;
	fmt_field(&s, layout, rec, i, STYLE_TEXT);
	if (s.cap)
		buf[s.len < s.cap ? s.len : s.cap - 1] = 0;
	return (int)s.len;
}

UPROBE_API int trace_field_int(const struct trace_layout *layout, const struct trace_record *rec,
			       int i, int64_t *out)
{
	const struct trace_field *f;
	unsigned int bits;
	uint64_t v;

	if (!out || field_check(layout, rec, i))
		return -EINVAL;
	f = &layout->fields[i];
	if (trace_type_is_dynamic(f->type) || is_array(f))
		return -EINVAL;
	*out = 0;
	if (fmt_faulted(rec, i))
		return -EFAULT;
	bits = trace_type_size(f->type) * 8;
	v = rd(rec->data + f->offset, 8);
	if (bits < 64)
		v &= (1ull << bits) - 1;
	if (bits < 64 && f->type >= TRACE_T_S8 && f->type <= TRACE_T_S64)
		v = (uint64_t)((int64_t)(v << (64 - bits)) >> (64 - bits));
	*out = (int64_t)v;
	return 0;
}

UPROBE_API int trace_field_ustack(const struct trace_layout *layout, const struct trace_record *rec,
				  int i, uint64_t *frames, unsigned int max)
{
	const uint8_t *p;
	uint32_t len, n;

	if (!frames || field_check(layout, rec, i) || layout->fields[i].type != TRACE_T_USTACK)
		return -EINVAL;
	if (fmt_faulted(rec, i))
		return -EFAULT;
	p = str_bytes(rec, rec->data + layout->fields[i].offset, &len);
	n = len / 8 < max ? len / 8 : max;
	for (uint32_t k = 0; k < n; k++)
		frames[k] = rd(p + 8 * k, 8);
	return (int)n;
}
