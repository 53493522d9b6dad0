/* SPDX-License-Identifier: MIT */
/*
 * Folded stacks (uprobes_stack.h): "root;caller;...;leaf COUNT", one line per
 * distinct stack, the input of flamegraph.pl, inferno and speedscope (and of
 * flamegraph.c). A name never holds the separators: ';' becomes ':', a line
 * break or tab a blank, and an empty name is "[unknown]". Lines print
 * sorted, as stackcollapse scripts leave them.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "trace/output/folded.h"

struct uprobe_folded {
	struct folded_entry *slot; /* open addressing by the key's hash; cap a power of two */
	size_t cap, n;
	uint64_t total;
};

UPROBE_API struct uprobe_folded *uprobe_folded_new(void)
{
	return calloc(1, sizeof(struct uprobe_folded));
}

UPROBE_API void uprobe_folded_free(struct uprobe_folded *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->cap; i++)
		free(f->slot[i].key);
	free(f->slot);
	free(f);
}

static size_t key_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (; *k; k++)
		h = (h ^ (uint8_t)*k) * 0x100000001b3ull;
	return (size_t)h;
}

static struct folded_entry *slot_of(struct folded_entry *v, size_t cap, const char *key)
{
	size_t i = key_hash(key) & (cap - 1);

	while (v[i].key && strcmp(v[i].key, key))
		i = (i + 1) & (cap - 1);
	return &v[i];
}

static int grow(struct uprobe_folded *f)
{
	size_t cap = f->cap ? 2 * f->cap : 256;
	struct folded_entry *v = calloc(cap, sizeof(*v));

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < f->cap; i++)
		if (f->slot[i].key)
			*slot_of(v, cap, f->slot[i].key) = f->slot[i];
	free(f->slot);
	f->slot = v;
	f->cap = cap;
	return 0;
}

/* count more of key (taken: freed if the key is known already). 0 or -ENOMEM. */
static int add_key(struct uprobe_folded *f, char *key, uint64_t count)
{
	struct folded_entry *e;

	if (4 * (f->n + 1) > 3 * f->cap && grow(f)) {
		free(key);
		return -ENOMEM;
	}
	e = slot_of(f->slot, f->cap, key);
	if (e->key) {
		free(key);
	} else {
		e->key = key;
		f->n++;
	}
	e->count += count;
	f->total += count;
	return 0;
}

/* One name into the key at p: the separators replaced. Returns the end. */
static char *put_name(char *p, const char *name)
{
	if (!name || !*name)
		name = "[unknown]";
	for (; *name; name++)
		*p++ = *name == ';' ? ':' : (*name == '\n' || *name == '\r' || *name == '\t') ? ' ' : *name;
	return p;
}

UPROBE_API int uprobe_folded_add(struct uprobe_folded *f, const char *const *names, unsigned int n,
				 uint64_t count)
{
	size_t len = 1;
	char *key, *p;

	if (!f || !n || !names)
		return -EINVAL;
	for (unsigned int i = 0; i < n; i++)
		len += (names[i] && *names[i] ? strlen(names[i]) : 9) + 1;
	key = p = malloc(len);
	if (!key)
		return -ENOMEM;
	for (unsigned int i = 0; i < n; i++) {
		if (i)
			*p++ = ';';
		p = put_name(p, names[i]);
	}
	*p = 0;
	return add_key(f, key, count);
}

UPROBE_API int uprobe_folded_add_stack(struct uprobe_folded *f, struct uprobe_symbolizer *s,
				       pid_t pid, const char *comm, const uint64_t *frames,
				       unsigned int n, uint64_t count)
{
	struct uprobe_frame fr[UPROBE_STACK_MAX];
	const char *names[2 * UPROBE_STACK_MAX + 1];
	unsigned int m = 0;

	if (!f || !s || !frames || !n || n > UPROBE_STACK_MAX)
		return -EINVAL;
	if (comm)
		names[m++] = comm;
	for (unsigned int i = n; i-- > 0 && m < 2 * UPROBE_STACK_MAX;) {
		int k = uprobe_symbolize(s, pid, frames[i], i > 0, fr, UPROBE_STACK_MAX);

		/* root first: the function, then the calls inlined in it, outermost first */
		for (int j = k; j-- > 0 && m < 2 * UPROBE_STACK_MAX + 1;)
			names[m++] = fr[j].short_func ? fr[j].short_func : "[unknown]";
	}
	return uprobe_folded_add(f, names, m, count);
}

/*
 * Keys in frame order: ';' before any other byte, so that a frame's stacks
 * are together and its children in name order ("a;b;c" before "a;b:x").
 */
static int entry_cmp(const void *a, const void *b)
{
	const struct folded_entry *const *x = a, *const *y = b;
	const unsigned char *p = (const unsigned char *)(*x)->key;
	const unsigned char *q = (const unsigned char *)(*y)->key;

	for (; *p && *p == *q; p++, q++)
		;
	return (*p == ';' ? 1 : *p) - (*q == ';' ? 1 : *q);
}

long folded_sorted(const struct uprobe_folded *f, const struct folded_entry ***out)
{
	const struct folded_entry **v = malloc((f->n ? f->n : 1) * sizeof(*v));
	size_t k = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < f->cap; i++)
		if (f->slot[i].key)
			v[k++] = &f->slot[i];
	if (k)
		qsort(v, k, sizeof(*v), entry_cmp);
	*out = v;
	return (long)k;
}

UPROBE_API int uprobe_folded_print(const struct uprobe_folded *f, FILE *out)
{
	const struct folded_entry **v;
	long n;
	int err = 0;

	if (!f || !out)
		return -EINVAL;
	n = folded_sorted(f, &v);
	if (n < 0)
		return (int)n;
	for (long i = 0; i < n && !err; i++)
		if (fprintf(out, "%s %" PRIu64 "\n", v[i]->key, v[i]->count) < 0)
			err = -EIO;
	free(v);
	return err;
}

UPROBE_API uint64_t uprobe_folded_total(const struct uprobe_folded *f)
{
	return f ? f->total : 0;
}
