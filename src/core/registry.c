/* SPDX-License-Identifier: MIT */
/*
 * Address -> probe_rec hash table with lock-free readers: open addressing,
 * linear probing, never shrinking. Growing publishes a new table; old tables
 * are kept (a reader may still be walking one).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"

struct reg_table {
	size_t mask;
	size_t count;
	struct reg_table *prev; /* retired tables, kept for late readers */
	struct probe_rec *slots[];
};

pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg_table *table;

static size_t reg_hash(uint64_t addr)
{
	return (size_t)((addr * 0x9e3779b97f4a7c15ull) >> 20);
}

struct probe_rec *registry_lookup(uint64_t addr)
{
	struct reg_table *t = __atomic_load_n(&table, __ATOMIC_ACQUIRE);
	struct probe_rec *r;

	if (!t)
		return NULL;
	for (size_t i = reg_hash(addr) & t->mask;; i = (i + 1) & t->mask) {
		r = __atomic_load_n(&t->slots[i], __ATOMIC_ACQUIRE);
		if (!r || r->addr == addr)
			return r;
	}
}

static struct probe_rec **reg_find_slot(struct reg_table *t, uint64_t addr)
{
	for (size_t i = reg_hash(addr) & t->mask;; i = (i + 1) & t->mask)
		if (!t->slots[i] || t->slots[i]->addr == addr)
			return &t->slots[i];
}

static int reg_grow_locked(void)
{
	size_t cap = table ? (table->mask + 1) * 2 : 256;
	struct reg_table *t = calloc(1, sizeof(*t) + cap * sizeof(t->slots[0]));

	if (!t)
		return -ENOMEM;
	t->mask = cap - 1;
	if (table) {
		for (size_t i = 0; i <= table->mask; i++)
			if (table->slots[i])
				*reg_find_slot(t, table->slots[i]->addr) = table->slots[i];
		t->count = table->count;
	}
	t->prev = table;
	__atomic_store_n(&table, t, __ATOMIC_RELEASE);
	return 0;
}

int registry_publish(struct probe_rec *rec)
{
	struct probe_rec **slot;

	if ((!table || (table->count + 1) * 2 > table->mask + 1) && reg_grow_locked())
		return -ENOMEM;
	slot = reg_find_slot(table, rec->addr);
	if (!*slot)
		table->count++;
	__atomic_store_n(slot, rec, __ATOMIC_RELEASE);
	return 0;
}

void registry_read_text(uint64_t addr, uint8_t *buf, size_t len)
{
	uint64_t first = addr > REC_ORIG_MAX ? addr - REC_ORIG_MAX : 0;

	memcpy(buf, (const void *)addr, len);
	/* Put back the original bytes of every patch overlapping the range. */
	for (uint64_t a = first; a < addr + len; a++) {
		struct probe_rec *r = registry_lookup(a);

		if (!r || !r->installed || a + r->orig_len <= addr)
			continue;
		for (unsigned k = 0; k < r->orig_len; k++)
			if (a + k >= addr && a + k < addr + len)
				buf[a + k - addr] = r->orig[k];
	}
}

static struct probe_rec **pending;
static size_t npending, pending_cap;

void rec_set_pending(struct probe_rec *rec)
{
	struct probe_rec **grown;

	if (rec->pending)
		return;
	/* Out of memory: the mark stays for good, which only costs optimizations. */
	rec->pending = 1;
	if (npending == pending_cap) {
		grown = realloc(pending, (pending_cap ? pending_cap * 2 : 64) * sizeof(*pending));
		if (!grown)
			return;
		pending = grown;
		pending_cap = pending_cap ? pending_cap * 2 : 64;
	}
	pending[npending++] = rec;
}

void recs_clear_pending(void)
{
	for (size_t i = 0; i < npending; i++)
		pending[i]->pending = 0;
	npending = 0;
}

void recs_pending_settle(bool lost)
{
	for (size_t i = 0; i < npending; i++) {
		if (!pending[i]->tramp_deferred)
			continue;
		pending[i]->tramp_deferred = false;
		pending[i]->tramp_lost = lost;
	}
}

void registry_sum_hits(struct hit_sums *sums)
{
	*sums = core_stats.retired;
	for (size_t i = 0; table && i <= table->mask; i++) {
		if (!table->slots[i])
			continue;
		for (struct uprobe *c = table->slots[i]->consumers; c; c = c->next)
			probe_sum(c, sums);
	}
}
