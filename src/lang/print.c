// SPDX-License-Identifier: MIT
/*
 * bpftrace 0.17's text output, byte for byte where it is deterministic:
 *
 *   @name[k1, k2]: value          maps of integers, counts, sums, min, max;
 *                                 sorted by value (bpftrace's order for ties
 *                                 is its hash table's: here by key)
 *   @name: count 2, average 7, total 15    stats (avg: the average alone),
 *                                 then an empty line after the map
 *   @name: \n[2, 4)   1 |@@@...@@|\n\n     hist and lhist, per key: label in
 *                                 16 columns, count in 8, a 52-column bar
 *
 * An empty map is one empty line (a keyless count(): "@c: 0"). At exit the maps come by name after two
 * newlines. printf passes each conversion to the C library with the argument
 * of the conversion's C type, as bpftrace does; bpftrace 0.17 prints "%%" as
 * "%%", and so do we.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "lang/store.h"

#define BAR_WIDTH 52

struct sort_ctx {
	const struct store_map *m;
	bool by_value;
};

static int cmp_keys(const struct store_map *m, const uint8_t *a, const uint8_t *b)
{
	const struct lang_map_info *mi = m->info;
	uint32_t o = 0;
	for (int i = 0; i < mi->nkeys; i++) {
		if (mi->key[i] == T_STR) {
			int c = strncmp((const char *)a + o, (const char *)b + o, LANG_STRLEN);
			if (c)
				return c;
			o += LANG_STRLEN;
			continue;
		}
		uint64_t x, y;
		memcpy(&x, a + o, 8);
		memcpy(&y, b + o, 8);
		o += 8;
		if (x == y)
			continue;
		if (mi->key[i] == T_PROBE) { /* by name: the order does not depend on the ids */
			int c = strcmp(lang_probe_name(m->probes, x), lang_probe_name(m->probes, y));
			if (c)
				return c;
			return x < y ? -1 : 1;
		}
		if (mi->key_signed[i])
			return (int64_t)x < (int64_t)y ? -1 : 1;
		return x < y ? -1 : 1;
	}
	return 0;
}

static int64_t sort_value(const struct store_map *m, const struct store_entry *e)
{
	enum lang_map_kind k = m->info->kind;
	if (k == MK_AVG || k == MK_STATS)
		return e->a ? e->b / e->a : 0;
	return e->a;
}

static const struct sort_ctx *g_sort; /* qsort has no context argument */

/* bpftrace 0.17 prints and sorts an integer or sum map unsigned when its value is. */
static bool value_unsigned(const struct lang_map_info *mi)
{
	return (mi->kind == MK_INT || mi->kind == MK_SUM) && !mi->value_signed;
}

static int cmp_entries(const void *pa, const void *pb)
{
	const struct store_entry *a = *(struct store_entry *const *)pa;
	const struct store_entry *b = *(struct store_entry *const *)pb;
	const struct store_map *m = g_sort->m;
	if (g_sort->by_value) {
		int64_t x = sort_value(m, a), y = sort_value(m, b);
		bool sgn = m->info->kind != MK_COUNT && !value_unsigned(m->info);
		if (x != y)
			return sgn ? (x < y ? -1 : 1) : ((uint64_t)x < (uint64_t)y ? -1 : 1);
	}
	return cmp_keys(m, a->key, b->key);
}

static void print_key(const struct store_map *m, const uint8_t *key, FILE *out)
{
	const struct lang_map_info *mi = m->info;
	if (mi->nkeys <= 0)
		return;
	fputc('[', out);
	uint32_t o = 0;
	for (int i = 0; i < mi->nkeys; i++) {
		if (i)
			fputs(", ", out);
		if (mi->key[i] == T_STR) {
			fprintf(out, "%.*s", LANG_STRLEN, (const char *)key + o);
			o += LANG_STRLEN;
			continue;
		}
		uint64_t v;
		memcpy(&v, key + o, 8);
		o += 8;
		if (mi->key[i] == T_USTACK)
			lang_ustack_key(m->ustacks, v, mi->key_stack[i] == 2, out);
		else if (mi->key[i] == T_PROBE)
			fputs(lang_probe_name(m->probes, v), out);
		else if (mi->key_signed[i])
			fprintf(out, "%" PRId64, (int64_t)v);
		else
			fprintf(out, "%" PRIu64, v);
	}
	fputc(']', out);
}

/* bpftrace's hist labels: 1024 multiples with K, M, G, T, P, E. */
static void size_label(uint64_t n, char *buf, size_t len)
{
	static const char *const suffix[] = {"", "K", "M", "G", "T", "P", "E"};
	int i = 0;
	while (n && !(n % 1024) && i < 6) {
		n /= 1024;
		i++;
	}
	snprintf(buf, len, "%" PRIu64 "%s", n, suffix[i]);
}

/* bpftrace 0.17's lhist labels: multiples of 1M with M, of 1K with K, negative ones too. */
static void lhist_label(int64_t n, char *buf, size_t len)
{
	if (n && !(n % 1048576))
		snprintf(buf, len, "%" PRId64 "M", n / 1048576);
	else if (n && !(n % 1024))
		snprintf(buf, len, "%" PRId64 "K", n / 1024);
	else
		snprintf(buf, len, "%" PRId64, n);
}

static void bucket_label(const struct store_map *m, uint32_t i, char *buf, size_t len)
{
	const struct lang_map_info *mi = m->info;
	char lo[32], hi[32];
	if (mi->kind == MK_HIST) {
		if (i == 0) {
			snprintf(buf, len, "(..., 0)");
		} else if (i == 1) {
			snprintf(buf, len, "[0]");
		} else if (i == 2) {
			snprintf(buf, len, "[1]");
		} else {
			size_label(1ull << (i - 2), lo, sizeof(lo));
			if (i - 1 < 64)
				size_label(1ull << (i - 1), hi, sizeof(hi));
			else
				snprintf(hi, sizeof(hi), "16E");
			snprintf(buf, len, "[%s, %s)", lo, hi);
		}
		return;
	}
	if (i == 0) {
		lhist_label(mi->lmin, lo, sizeof(lo));
		snprintf(buf, len, "(..., %s)", lo);
	} else if (i == m->nbuckets - 1) {
		lhist_label(mi->lmax, hi, sizeof(hi));
		snprintf(buf, len, "[%s, ...)", hi);
	} else {
		int64_t l = mi->lmin + (int64_t)(i - 1) * mi->lstep;
		lhist_label(l, lo, sizeof(lo));
		lhist_label(l + mi->lstep < mi->lmax ? l + mi->lstep : mi->lmax, hi, sizeof(hi));
		snprintf(buf, len, "[%s, %s)", lo, hi);
	}
}

static void print_hist(const struct store_map *m, const struct store_entry *e, uint32_t div,
		       FILE *out)
{
	int32_t first = -1, last = -1;
	uint64_t max = 0;
	for (uint32_t i = 0; i < m->nbuckets; i++) {
		if (!e->buckets[i])
			continue;
		if (first < 0)
			first = (int32_t)i;
		last = (int32_t)i;
		if (e->buckets[i] / div > max)
			max = e->buckets[i] / div;
	}
	for (int32_t i = first; first >= 0 && i <= last; i++) {
		char label[64];
		uint64_t n = e->buckets[i] / div;
		uint32_t w = max ? (uint32_t)(n * BAR_WIDTH / max) : 0;
		bucket_label(m, (uint32_t)i, label, sizeof(label));
		fprintf(out, "%-16s%8" PRIu64 " |", label, n);
		for (uint32_t k = 0; k < BAR_WIDTH; k++)
			fputc(k < w ? '@' : ' ', out);
		fputs("|\n", out);
	}
}

static void print_entry(const struct store_map *m, const struct store_entry *e, uint32_t div,
			FILE *out)
{
	enum lang_map_kind k = m->info->kind;
	fputs(m->info->name, out);
	print_key(m, e->key, out);
	fputs(": ", out);
	switch (k) {
	case MK_STR:
		fprintf(out, "%.*s\n", LANG_STRLEN, e->str);
		return;
	case MK_COUNT:
		fprintf(out, "%" PRIu64 "\n", (uint64_t)e->a / div);
		return;
	case MK_AVG:
		fprintf(out, "%" PRId64 "\n", (e->a ? e->b / e->a : 0) / (int64_t)div);
		return;
	case MK_STATS:
		fprintf(out, "count %" PRId64 ", average %" PRId64 ", total %" PRId64 "\n",
			e->a / (int64_t)div, (e->a ? e->b / e->a : 0) / (int64_t)div,
			e->b / (int64_t)div);
		return;
	case MK_HIST:
	case MK_LHIST:
		fputc('\n', out);
		print_hist(m, e, div, out);
		fputc('\n', out);
		return;
	case MK_INT:
		if (m->info->value_probe) { /* @x = probe: the probe's full name */
			fprintf(out, "%s\n", lang_probe_name(m->probes, (uint64_t)e->a));
			return;
		}
		/* fall through */
	default:
		if (value_unsigned(m->info))
			fprintf(out, "%" PRIu64 "\n", (uint64_t)e->a / div);
		else
			fprintf(out, "%" PRId64 "\n", e->a / (int64_t)div);
	}
}

/* The map's entries in bpftrace's order (to free), *n of them; NULL without memory. */
static struct store_entry **sorted_entries(const struct store_map *m, uint32_t *n)
{
	enum lang_map_kind k = m->info->kind;
	struct store_entry **v = calloc(m->count + 1, sizeof(*v));
	if (!v)
		return NULL;
	*n = 0;
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i])
			v[(*n)++] = m->slots[i];
	struct sort_ctx sc = {m, k != MK_HIST && k != MK_LHIST && k != MK_STR};
	g_sort = &sc;
	qsort(v, *n, sizeof(*v), cmp_entries);
	return v;
}

/* bpftrace 0.17 prints a keyless count() that holds nothing (cleared, deleted, never hit) as 0. */
static bool empty_as_zero(const struct store_map *m)
{
	return m->info->kind == MK_COUNT && m->info->nkeys <= 0;
}

void print_map(const struct lang_store *s, unsigned map, uint32_t top, uint32_t div, FILE *out)
{
	if (map >= s->nmaps)
		return;
	const struct store_map *m = &s->maps[map];
	enum lang_map_kind k = m->info->kind;
	if (!div)
		div = 1;
	uint32_t n;
	struct store_entry **v = sorted_entries(m, &n);
	if (!v)
		return;
	if (!n && empty_as_zero(m))
		fprintf(out, "%s: 0\n", m->info->name);
	else if (!n)
		fputc('\n', out);
	for (uint32_t i = top && n > top ? n - top : 0; i < n; i++)
		print_entry(m, v[i], div, out);
	if (k == MK_AVG || k == MK_STATS)
		fputc('\n', out);
	free(v);
}

static int cmp_names(const void *a, const void *b)
{
	const struct store_map *x = *(struct store_map *const *)a,
			       *y = *(struct store_map *const *)b;
	return strcmp(x->info->name, y->info->name);
}

void print_all_maps(const struct lang_store *s, FILE *out)
{
	const struct store_map *v[LANG_MAX_MAPS];
	for (uint32_t i = 0; i < s->nmaps; i++)
		v[i] = &s->maps[i];
	qsort(v, s->nmaps, sizeof(v[0]), cmp_names);
	fputs("\n\n", out);
	for (uint32_t i = 0; i < s->nmaps; i++)
		print_map(s, (unsigned)(v[i] - s->maps), 0, 1, out);
}

/* One conversion "%[flags][width][.prec][len]c" with its argument. */
static void print_conv(const char *spec, size_t n, uint64_t v, const char *str, FILE *out)
{
	char f[32];
	if (n >= sizeof(f))
		n = sizeof(f) - 1;
	memcpy(f, spec, n);
	f[n] = 0;
	char c = f[n - 1];
	bool wide = strchr(f, 'l') || strchr(f, 'j') || strchr(f, 'z') || strchr(f, 't');
	if (c == 's') {
		fprintf(out, f, str);
	} else if (c == 'p') {
		fprintf(out, f, (void *)(uintptr_t)v);
	} else if (wide) {
		fprintf(out, f, (long long)v);
	} else if (strchr(f, 'h')) {
		fprintf(out, f, (int)v);
	} else {
		fprintf(out, f, (unsigned)v);
	}
}

void print_printf(const char *fmt, const uint8_t *data, uint32_t len, int64_t strs,
		  struct lang_ustacks *u, const struct lang_probe_names *names, FILE *out)
{
	uint32_t o = 0;
	int arg = 0;
	for (const char *p = fmt; *p; p++) {
		if (*p != '%') {
			fputc(*p, out);
			continue;
		}
		if (p[1] == '%') {
			fputs("%%", out); /* bpftrace 0.17 */
			p++;
			continue;
		}
		int c = lang_printf_conv(p);
		if (!c) { /* not a conversion for bpftrace: text */
			fputc('%', out);
			continue;
		}
		size_t n = (size_t)c;
		char str[LANG_STRLEN + 1] = "";
		uint64_t v = 0;
		if (arg < 64 && (uint64_t)strs & (1ull << arg)) {
			if (o + LANG_STRLEN <= len)
				memcpy(str, data + o, LANG_STRLEN);
			str[LANG_STRLEN] = 0;
			o += LANG_STRLEN;
		} else {
			if (o + 8 <= len)
				memcpy(&v, data + o, 8);
			o += 8;
		}
		if (arg < 8 && (uint64_t)strs >> PRINTF_USTACK & (1ull << arg)) {
			char spec[32];
			size_t k = n < sizeof(spec) ? n : sizeof(spec) - 1;
			memcpy(spec, p, k);
			spec[k] = 0;
			lang_ustack_text(u, v, (uint64_t)strs >> PRINTF_PERF & (1ull << arg), spec,
					 out);
		} else if (arg < 8 && (uint64_t)strs >> PRINTF_PROBE & (1ull << arg)) {
			/* the full name, through the conversion (%-90s pads it) */
			char spec[32];
			size_t k = n < sizeof(spec) ? n : sizeof(spec) - 1;
			memcpy(spec, p, k);
			spec[k] = 0;
			fprintf(out, spec, lang_probe_name(names, v));
		} else {
			print_conv(p, n, v, str, out);
		}
		arg++;
		p += n - 1;
	}
}

/* ---- -f json: bpftrace 0.17's lines ------------------------------------------------------ */

void print_json_string(const char *s, size_t len, FILE *out)
{
	fputc('"', out);
	for (size_t i = 0; i < len && s[i]; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c < 0x20)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/* A key as bpftrace's JSON names it: the fields' text joined by ",". */
static void json_key(const struct store_map *m, const uint8_t *key, FILE *out)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return;
	print_key(m, key, f);
	fclose(f);
	/* "[a, b]" -> "a,b" */
	size_t o = 0;
	for (size_t i = 1; i + 1 < len; i++) {
		if (buf[i] == ',' && buf[i + 1] == ' ')
			i++, buf[o++] = ',';
		else
			buf[o++] = buf[i];
	}
	print_json_string(buf, o, out);
	free(buf);
}

static void json_hist(const struct store_map *m, const struct store_entry *e, uint32_t div,
		      FILE *out)
{
	const struct lang_map_info *mi = m->info;
	int32_t first = -1, last = -1;
	for (uint32_t i = 0; i < m->nbuckets; i++)
		if (e->buckets[i])
			last = (int32_t)i, first = first < 0 ? (int32_t)i : first;
	fputc('[', out);
	for (int32_t i = first; first >= 0 && i <= last; i++) {
		int64_t lo, hi;
		bool has_lo = i > 0, has_hi = true;
		if (mi->kind == MK_HIST) {
			lo = i <= 1 ? 0 : (int64_t)(1ull << (i - 2));
			hi = i <= 1	? (i ? 0 : -1) :
			     i - 1 < 64 ? (int64_t)((1ull << (i - 1)) - 1) :
					  INT64_MAX;
		} else {
			lo = mi->lmin + (int64_t)(i - 1) * mi->lstep;
			hi = i == 0 ? mi->lmin - 1 : lo + mi->lstep - 1;
			has_hi = (uint32_t)i != m->nbuckets - 1;
			if (!has_hi)
				lo = mi->lmax;
		}
		fprintf(out, "%s{", i > first ? ", " : "");
		if (has_lo)
			fprintf(out, "\"min\": %" PRId64 ", ", lo);
		if (has_hi)
			fprintf(out, "\"max\": %" PRId64 ", ", hi);
		fprintf(out, "\"count\": %" PRIu64 "}", e->buckets[i] / div);
	}
	fputc(']', out);
}

static void json_value(const struct store_map *m, const struct store_entry *e, uint32_t div,
		       FILE *out)
{
	switch (m->info->kind) {
	case MK_STR:
		print_json_string(e->str, LANG_STRLEN, out);
		return;
	case MK_INT:
		if (m->info->value_probe) {
			const char *name = lang_probe_name(m->probes, (uint64_t)e->a);
			print_json_string(name, strlen(name), out);
			return;
		}
		/* fall through */
	default:
		if (value_unsigned(m->info))
			fprintf(out, "%" PRIu64, (uint64_t)e->a / div);
		else
			fprintf(out, "%" PRId64, e->a / (int64_t)div);
		return;
	case MK_COUNT:
		fprintf(out, "%" PRIu64, (uint64_t)e->a / div);
		return;
	case MK_AVG:
		fprintf(out, "%" PRId64, (e->a ? e->b / e->a : 0) / (int64_t)div);
		return;
	case MK_STATS:
		fprintf(out,
			"{\"count\": %" PRId64 ", \"average\": %" PRId64 ", \"total\": %" PRId64
			"}",
			e->a / (int64_t)div, (e->a ? e->b / e->a : 0) / (int64_t)div,
			e->b / (int64_t)div);
		return;
	case MK_HIST:
	case MK_LHIST:
		json_hist(m, e, div, out);
		return;
	}
}

void print_map_json(const struct lang_store *s, unsigned map, uint32_t top, uint32_t div, FILE *out)
{
	if (map >= s->nmaps)
		return;
	const struct store_map *m = &s->maps[map];
	enum lang_map_kind k = m->info->kind;
	if (!div)
		div = 1;
	uint32_t n;
	struct store_entry **v = sorted_entries(m, &n);
	if (!v)
		return;
	if (!n && empty_as_zero(m)) {
		fputs("{\"type\": \"map\", \"data\": {", out);
		print_json_string(m->info->name, strlen(m->info->name), out);
		fputs(": 0}}\n", out);
	}
	if (!n) { /* bpftrace prints nothing for an empty map */
		free(v);
		return;
	}
	const char *type = k == MK_HIST || k == MK_LHIST ? "hist" :
			   k == MK_AVG || k == MK_STATS	 ? "stats" :
							   "map";
	fprintf(out, "{\"type\": \"%s\", \"data\": {", type);
	print_json_string(m->info->name, strlen(m->info->name), out);
	fputs(": ", out);
	if (m->info->nkeys > 0)
		fputc('{', out);
	for (uint32_t i = top && n > top ? n - top : 0; i < n; i++) {
		if (m->info->nkeys > 0) {
			if (i > (top && n > top ? n - top : 0))
				fputs(", ", out);
			json_key(m, v[i]->key, out);
			fputs(": ", out);
		}
		json_value(m, v[i], div, out);
	}
	if (m->info->nkeys > 0)
		fputc('}', out);
	fputs("}}\n", out);
	free(v);
}

void print_all_maps_json(const struct lang_store *s, FILE *out)
{
	const struct store_map *v[LANG_MAX_MAPS];
	for (uint32_t i = 0; i < s->nmaps; i++)
		v[i] = &s->maps[i];
	qsort(v, s->nmaps, sizeof(v[0]), cmp_names);
	fputs("\n\n", out);
	for (uint32_t i = 0; i < s->nmaps; i++)
		print_map_json(s, (unsigned)(v[i] - s->maps), 0, 1, out);
}

void print_emit_printf(const struct plan *pl, uint32_t id, int64_t imm, const void *data,
		       uint32_t len, bool json, struct lang_ustacks *u,
		       const struct lang_probe_names *names, FILE *out)
{
	if (id >= pl->nfmts)
		return;
	if (!json) {
		print_printf(pl->pool + pl->fmt[id], data, len, imm, u, names, out);
		return;
	}
	char *buf = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&buf, &n);
	if (!f)
		return;
	print_printf(pl->pool + pl->fmt[id], data, len, imm, u, names, f);
	fclose(f);
	fputs("{\"type\": \"printf\", \"data\": ", out);
	print_json_string(buf, n, out);
	fputs("}\n", out);
	free(buf);
}

void print_emit_value(int64_t imm, const void *data, uint32_t len, bool json,
		      struct lang_ustacks *u, const struct lang_probe_names *names, FILE *out)
{
	if (json)
		fputs("{\"type\": \"value\", \"data\": ", out);
	if (imm & VALUE_PROBE && len >= 8) { /* print(probe): its full name */
		uint64_t w;
		memcpy(&w, data, 8);
		const char *name = lang_probe_name(names, w);
		if (json)
			print_json_string(name, strlen(name), out);
		else
			fputs(name, out);
	} else if (imm & VALUE_USTACK && len >= 8) { /* print(ustack): its text, as printf's %s */
		uint64_t w;
		memcpy(&w, data, 8);
		char *buf = NULL;
		size_t n = 0;
		FILE *f = json ? open_memstream(&buf, &n) : out;
		if (f)
			lang_ustack_text(u, w, imm & VALUE_PERF, NULL, f);
		if (json && f) {
			fclose(f);
			print_json_string(buf, n, out);
		}
		free(buf);
	} else if (imm && len >= LANG_STRLEN && json) {
		print_json_string(data, LANG_STRLEN, out);
	} else if (imm && len >= LANG_STRLEN) {
		fprintf(out, "%.*s", LANG_STRLEN, (const char *)data);
	} else if (len >= 8) {
		int64_t v;
		memcpy(&v, data, 8);
		fprintf(out, "%lld", (long long)v);
	}
	fputs(json ? "}\n" : "\n", out);
}

void print_emit(struct lang_store *s, const struct plan *pl, enum lang_emit what, uint32_t id,
		int64_t imm, const void *data, uint32_t len, bool json, bool *exited, FILE *out)
{
	switch (what) {
	case EMIT_PRINTF:
		print_emit_printf(pl, id, imm, data, len, json, NULL, s->probes, out);
		break;
	case EMIT_PRINT:
		(json ? print_map_json : print_map)(s, id, (uint32_t)((uint64_t)imm >> 32),
						    (uint32_t)imm, out);
		break;
	case EMIT_CLEAR:
		store_clear(s, id);
		break;
	case EMIT_ZERO:
		store_zero(s, id);
		break;
	case EMIT_EXIT:
		*exited = true;
		break;
	case EMIT_VALUE:
		print_emit_value(imm, data, len, json, NULL, s->probes, out);
		break;
	}
}
