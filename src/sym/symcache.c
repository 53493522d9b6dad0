/* SPDX-License-Identifier: MIT */
/*
 * A file's function symbols, loaded and sorted, kept in the cache
 * (util/cache.h): libc's separate debug file alone has some 10,000 of them,
 * read, named and sorted again by every traced process and by the tracer
 * (about 6 ms of CPU each). The first loader stores the sorted entries; later
 * ones map them and only build their pointers.
 *
 * A cached table is named by the file's identity (sym-<id>.usym) and carries
 * the identity of the file on disk (a stripped copy keeps the build-id, not
 * the symbols) and of the debug symbols it was loaded with (the debug file's
 * device, inode, size and mtime, or none), so that a debug file installed or
 * removed since is noticed. It is used only when both match and every entry
 * is checked: names inside the strings, a known source, sorted addresses,
 * name indexes inside the table.
 *
 *   struct symcache_hdr
 *   struct symcache_entry[n]     sorted by vaddr, as sym_load sorted them
 *   uint32_t by_name[n]          the name index (names.c's sym_name_order):
 *                                sorting 10,000 names was most of a traced
 *                                image's own start-up (~40% of its user time)
 *   strings (NUL-terminated names and versions; the last byte is a NUL)
 *
 * The entries are not copied at load: each becomes a struct sym_entry at its
 * first use (sym_entry_at), so that a lookup by name (the index) or by
 * address (the entries' vaddr, read in place) makes only the ones it returns.
 *
 * The index's order is not checked entry by entry (that is 10,000 string
 * compares again): the file's checksum (util/cache.c) makes it the one this
 * code wrote, and an index in bounds cannot make a lookup read outside the
 * table, only miss.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "sym/sym_priv.h"
#include "util/cache.h"

#define SYMCACHE_MAGIC 0x6d797375u /* "usym" */
#define SYMCACHE_VERSION 2u /* 2: the name index */
#define SYMCACHE_NONE UINT32_MAX

struct symcache_hdr {
	uint32_t magic, version;
	uint64_t n, strings_len;
	uint64_t dev, ino, size, mtime_ns;		   /* the file */
	uint64_t aux_dev, aux_ino, aux_size, aux_mtime_ns; /* the debug file, or 0s */
	uint32_t aux_src; /* SYM_SRC_DEBUG, SYM_SRC_DEBUGDATA or SYMCACHE_NONE */
	uint8_t has_symtab, has_cxx, pad[2];
	struct sym_ident ident;
};

struct symcache_entry {
	uint64_t vaddr, size;
	uint32_t name, version; /* offsets into the strings; version SYMCACHE_NONE */
	uint8_t bind, src, ifunc, ver_default;
	uint32_t pad;
};

/* What the header says of f: its identity and its debug symbols'. */
static void symcache_want(struct sym_file *f, int aux_src, struct symcache_hdr *h)
{
	struct stat st;

	memset(h, 0, sizeof(*h));
	h->magic = SYMCACHE_MAGIC;
	h->version = SYMCACHE_VERSION;
	h->aux_src = aux_src < 0 ? SYMCACHE_NONE : (uint32_t)aux_src;
	h->dev = f->st.st_dev;
	h->ino = f->st.st_ino;
	h->size = (uint64_t)f->st.st_size;
	h->mtime_ns = sym_file_mtime_ns(f);
	if (f->aux.fd >= 0 && !fstat(f->aux.fd, &st)) {
		h->aux_dev = st.st_dev;
		h->aux_ino = st.st_ino;
		h->aux_size = (uint64_t)st.st_size;
		h->aux_mtime_ns = (uint64_t)st.st_mtim.tv_sec * 1000000000u +
				  (uint64_t)st.st_mtim.tv_nsec;
	}
	sym_file_ident(f, &h->ident);
}

static void symcache_name(const struct symcache_hdr *h, char *out, size_t len)
{
	sym_ident_name(&h->ident, "sym-", ".usym", out, len);
}

static bool symcache_valid(const struct symcache_hdr *h, size_t len,
			   const struct symcache_hdr *want)
{
	const struct symcache_entry *e = (const struct symcache_entry *)(h + 1);
	const uint32_t *by_name = (const uint32_t *)(e + h->n);
	const char *s = (const char *)(by_name + h->n);

	if (len < sizeof(*h) || h->magic != want->magic || h->version != want->version ||
	    h->dev != want->dev || h->ino != want->ino || h->size != want->size ||
	    h->mtime_ns != want->mtime_ns || h->aux_src != want->aux_src || h->aux_dev != want->aux_dev ||
	    h->aux_ino != want->aux_ino || h->aux_size != want->aux_size ||
	    h->aux_mtime_ns != want->aux_mtime_ns || memcmp(&h->ident, &want->ident, sizeof(h->ident)))
		return false;
	if (h->n > (len - sizeof(*h)) / (sizeof(*e) + sizeof(*by_name)) || !h->strings_len ||
	    len != sizeof(*h) + h->n * (sizeof(*e) + sizeof(*by_name)) + h->strings_len ||
	    s[h->strings_len - 1])
		return false;
	for (uint64_t i = 0; i < h->n; i++)
		if (e[i].name >= h->strings_len || e[i].src > SYM_SRC_PLT || by_name[i] >= h->n ||
		    (e[i].version != SYMCACHE_NONE && e[i].version >= h->strings_len) ||
		    (i && e[i].vaddr < e[i - 1].vaddr))
			return false;
	return true;
}

bool sym_cache_load(struct sym_file *f, int aux_src)
{
	struct symcache_hdr want;
	const struct symcache_hdr *h;
	const struct symcache_entry *e;
	const char *s;
	char name[128];
	size_t len;

	symcache_want(f, aux_src, &want);
	symcache_name(&want, name, sizeof(name));
	h = cache_map(name, &len);
	if (!h)
		return false;
	/* calloc of this size maps fresh pages: untouched until an entry is made. */
	if (!symcache_valid(h, len, &want) ||
	    !(f->syms = calloc(h->n ? h->n : 1, sizeof(*f->syms))) ||
	    !(f->made = calloc((h->n + 63) / 64 + 1, sizeof(*f->made)))) {
		free(f->syms);
		f->syms = NULL;
		munmap((void *)h, len);
		return false;
	}
	e = (const struct symcache_entry *)(h + 1);
	s = (const char *)((const uint32_t *)(e + h->n) + h->n);
	pthread_mutex_init(&f->made_lock, NULL);
	f->cache_entries = e;
	f->cache_strings = s;
	f->nsyms = h->n;
	f->has_symtab = h->has_symtab;
	f->has_cxx = h->has_cxx;
	if (h->n) {
		f->by_name = (uint32_t *)(e + h->n);
		f->by_name_n = h->n;
		f->by_name_of = f->syms;
		f->by_name_mapped = true;
	}
	f->cache_map = (void *)h;
	f->cache_len = len;
	return true;
}

struct sym_entry *sym_entry_at(const struct sym_file *cf, size_t i)
{
	struct sym_file *f = (struct sym_file *)cf; /* making an entry changes no answer */
	const struct symcache_entry *e = f->cache_entries;
	const char *s = f->cache_strings;
	uint64_t bit = 1ull << (i % 64);

	if (!e || (__atomic_load_n(&f->made[i / 64], __ATOMIC_ACQUIRE) & bit))
		return &f->syms[i];
	pthread_mutex_lock(&f->made_lock);
	if (!(f->made[i / 64] & bit)) {
		e += i;
		f->syms[i] = (struct sym_entry){
			.vaddr = e->vaddr,
			.size = e->size,
			.name = s + e->name,
			.version = e->version == SYMCACHE_NONE ? NULL : s + e->version,
			.bind = e->bind,
			.src = e->src,
			.ifunc = e->ifunc,
			.ver_default = e->ver_default,
		};
		__atomic_fetch_or(&f->made[i / 64], bit, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&f->made_lock);
	return &f->syms[i];
}

uint64_t sym_vaddr_at(const struct sym_file *f, size_t i)
{
	const struct symcache_entry *e = f->cache_entries;

	return e ? e[i].vaddr : f->syms[i].vaddr;
}

const char *sym_name_at(const struct sym_file *f, size_t i)
{
	const struct symcache_entry *e = f->cache_entries;

	return e ? f->cache_strings + e[i].name : f->syms[i].name;
}

const struct sym_entry *sym_entries(const struct sym_file *f, size_t *n)
{
	if (sym_syms_need(f)) {
		*n = 0;
		return f->syms;
	}
	for (size_t i = 0; f->cache_entries && i < f->nsyms; i++)
		sym_entry_at(f, i);
	*n = f->nsyms;
	return f->syms;
}

/* Offset of s in the strings being built (appended), or SYMCACHE_NONE. */
static uint32_t strings_add(char *strings, size_t *used, const char *s)
{
	size_t n = strlen(s) + 1, at = *used;

	if (at + n >= SYMCACHE_NONE)
		return SYMCACHE_NONE;
	memcpy(strings + at, s, n);
	*used += n;
	return (uint32_t)at;
}

void sym_cache_store(struct sym_file *f, int aux_src)
{
	size_t strings_cap = 1, used = 0;
	struct symcache_hdr *h;
	struct symcache_entry *e;
	char name[128], *strings;
	uint32_t *order = NULL;
	uint8_t *mem;

	for (size_t i = 0; i < f->nsyms; i++)
		strings_cap += strlen(f->syms[i].name) + 1 +
			       (f->syms[i].version ? strlen(f->syms[i].version) + 1 : 0);
	if (f->nsyms && !(order = sym_name_order(f->syms, f->nsyms)))
		return;
	mem = malloc(sizeof(*h) + f->nsyms * (sizeof(*e) + sizeof(*order)) + strings_cap);
	if (!mem) {
		free(order);
		return;
	}
	h = (struct symcache_hdr *)mem;
	symcache_want(f, aux_src, h);
	h->n = f->nsyms;
	h->has_symtab = f->has_symtab;
	h->has_cxx = f->has_cxx;
	e = (struct symcache_entry *)(h + 1);
	if (f->nsyms)
		memcpy(e + f->nsyms, order, f->nsyms * sizeof(*order));
	strings = (char *)((uint32_t *)(e + f->nsyms) + f->nsyms);
	for (size_t i = 0; i < f->nsyms; i++) {
		const struct sym_entry *x = &f->syms[i];

		e[i] = (struct symcache_entry){
			.vaddr = x->vaddr,
			.size = x->size,
			.name = strings_add(strings, &used, x->name),
			.version = x->version ? strings_add(strings, &used, x->version)
					      : SYMCACHE_NONE,
			.bind = x->bind,
			.src = x->src,
			.ifunc = x->ifunc,
			.ver_default = x->ver_default,
		};
		if (e[i].name == SYMCACHE_NONE)
			goto out;
	}
	strings[used++] = 0; /* the strings end with a NUL even when there are none */
	h->strings_len = used;
	symcache_name(h, name, sizeof(name));
	cache_store(name, mem, sizeof(*h) + f->nsyms * (sizeof(*e) + sizeof(*order)) + used);
out:
	free(order);
	free(mem);
}

/*
 * Name memos: what sym_find answered for one name in one file, so that an
 * image that probes libc:malloc does not load libc's 10,000 symbols (their
 * cache's 0.5 MB read whole for its checksum, every entry checked) to find
 * one. Kept by the identity the symbol cache is kept by (the file on disk,
 * the debug file used, the build-id: symcache_want), which the memo holds and
 * must match, and by the name asked (held too, compared whole). At most
 * NAME_MEMO_STORES written per process: a bulk attach leaves no thousands of
 * files.
 *
 *   nm-<id>-<hash of the name>.unm: struct name_memo
 */
#define NAME_MEMO_MAGIC 0x6d656d6eu /* "nmem" */
/* 2: "f" no longer designates f's .cold part (names.c): a memo is its resolver's answer */
#define NAME_MEMO_VERSION 2u
#define NAME_MEMO_STORES 64

struct name_memo {
	uint32_t magic, version;
	struct symcache_hdr want; /* the symbols' identity, as symcache_want says */
	char name[512];		  /* the name asked */
	char fname[128];	  /* the answer, struct sym_func's fields */
	uint64_t vaddr, size;
	uint32_t ifunc, pad;
};

static unsigned name_memo_stores;

/* The memo's file name for name in f (a hash of the name: names are long). */
static void name_memo_file(const struct symcache_hdr *want, const char *name, char *out,
			   size_t len)
{
	uint64_t h = 0xcbf29ce484222325ull;
	char suffix[40];

	for (const unsigned char *p = (const unsigned char *)name; *p; p++)
		h = (h ^ *p) * 0x100000001b3ull;
	snprintf(suffix, sizeof(suffix), "-%016lx.unm", (unsigned long)h);
	sym_ident_name(&want->ident, "nm-", suffix, out, len);
}

bool sym_name_memo_get(struct sym_file *f, const char *name, struct sym_func *out)
{
	struct name_memo want_memo;
	const struct name_memo *m;
	char file[200];
	bool ok;
	size_t len;

	if (strlen(name) >= sizeof(m->name))
		return false;
	symcache_want(f, f->aux_src, &want_memo.want);
	name_memo_file(&want_memo.want, name, file, sizeof(file));
	m = cache_map(file, &len);
	if (!m)
		return false;
	ok = len == sizeof(*m) && m->magic == NAME_MEMO_MAGIC && m->version == NAME_MEMO_VERSION &&
	     !memcmp(&m->want, &want_memo.want, sizeof(m->want)) &&
	     memchr(m->name, 0, sizeof(m->name)) && !strcmp(m->name, name) &&
	     memchr(m->fname, 0, sizeof(m->fname)) && m->ifunc <= 1;
	if (ok) {
		memcpy(out->name, m->fname, sizeof(out->name));
		out->vaddr = m->vaddr;
		out->size = m->size;
		out->ifunc = m->ifunc;
	}
	munmap((void *)m, len);
	return ok;
}

void sym_name_memo_put(struct sym_file *f, const char *name, const struct sym_func *out)
{
	struct name_memo m;
	char file[200];

	if (name_memo_stores >= NAME_MEMO_STORES || strlen(name) >= sizeof(m.name))
		return;
	name_memo_stores++;
	memset(&m, 0, sizeof(m));
	m.magic = NAME_MEMO_MAGIC;
	m.version = NAME_MEMO_VERSION;
	symcache_want(f, f->aux_src, &m.want);
	snprintf(m.name, sizeof(m.name), "%s", name);
	snprintf(m.fname, sizeof(m.fname), "%s", out->name);
	m.vaddr = out->vaddr;
	m.size = out->size;
	m.ifunc = out->ifunc;
	name_memo_file(&m.want, name, file, sizeof(file));
	cache_store(file, &m, sizeof(m));
}
