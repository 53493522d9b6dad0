/* SPDX-License-Identifier: MIT */
/*
 * The stack table, the tracer's side (uprobes_stack.h): frames by stack id.
 * The memfd is written by the traced process, so nothing in it is trusted
 * (docs/security.md): the header's three sizes must give this reader's own
 * layout (stack_shm_layout) and the file's size, the mapping is read-only,
 * each entry is copied once and checked (state, depth, frames inside the
 * pool) before a frame is read, and counts are clamped.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "stack/stack.h"
#include "stack/table_shm.h"
#include "uprobes_stack.h"

struct uprobe_stack_reader {
	const uint8_t *base;
	size_t len;
	struct stack_shm_hdr hdr; /* recomputed here, never read back from the file */
};

UPROBE_API struct uprobe_stack_reader *uprobe_stack_reader_new(int memfd)
{
	struct stack_shm_hdr theirs, mine;
	struct uprobe_stack_reader *r;
	struct stat st;
	void *base;

	if (fstat(memfd, &st) || (size_t)st.st_size < sizeof(theirs))
		goto bad;
	base = mmap(NULL, sizeof(theirs), PROT_READ, MAP_SHARED, memfd, 0);
	if (base == MAP_FAILED)
		return NULL;
	memcpy(&theirs, base, sizeof(theirs));
	munmap(base, sizeof(theirs));
	if (theirs.magic != STACK_SHM_MAGIC || theirs.version != STACK_SHM_VERSION ||
	    !theirs.max_stacks || theirs.max_stacks > STACK_SHM_MAX_STACKS ||
	    theirs.max_frames > STACK_SHM_MAX_FRAMES ||
	    stack_shm_layout(&mine, theirs.max_stacks, theirs.max_frames) != (uint64_t)st.st_size ||
	    memcmp(&mine, &theirs, sizeof(mine)))
		goto bad;
	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->len = (size_t)st.st_size;
	r->hdr = mine;
	r->base = mmap(NULL, r->len, PROT_READ, MAP_SHARED, memfd, 0);
	if (r->base == MAP_FAILED) {
		free(r);
		return NULL;
	}
	return r;
bad:
	errno = EINVAL;
	return NULL;
}

UPROBE_API void uprobe_stack_reader_free(struct uprobe_stack_reader *r)
{
	if (!r)
		return;
	munmap((void *)r->base, r->len);
	free(r);
}

static const struct stack_shm_ctl *ctl_of(const struct uprobe_stack_reader *r)
{
	return (const struct stack_shm_ctl *)(r->base + 64);
}

UPROBE_API int uprobe_stack_reader_get(struct uprobe_stack_reader *r, uint64_t id,
				       uint64_t *frames, unsigned int max)
{
	const struct stack_ent *ents;
	const uint64_t *pool;
	struct stack_ent e;
	uint32_t reserved;
	unsigned int n;

	if (!r || !frames)
		return -EINVAL;
	reserved = __atomic_load_n(&ctl_of(r)->n_stacks, __ATOMIC_ACQUIRE);
	if (!id || id > r->hdr.max_stacks || id > reserved)
		return -ENOENT;
	ents = (const struct stack_ent *)(r->base + r->hdr.ent_off);
	pool = (const uint64_t *)(r->base + r->hdr.pool_off);
	e.state = __atomic_load_n(&ents[id - 1].state, __ATOMIC_ACQUIRE);
	if (e.state != STACK_ENT_READY)
		return -ENOENT;
	memcpy(&e, &ents[id - 1], sizeof(e));
	if (e.state != STACK_ENT_READY || !e.depth || e.depth > UPROBE_STACK_MAX ||
	    (uint64_t)e.pool_off + e.depth > r->hdr.max_frames)
		return -EINVAL;
	n = e.depth < max ? e.depth : max;
	memcpy(frames, &pool[e.pool_off], n * sizeof(*frames));
	return (int)n;
}

UPROBE_API int uprobe_stack_reader_stats(struct uprobe_stack_reader *r,
					 struct uprobe_stack_table_stats *st)
{
	const struct stack_shm_ctl *c;
	uint32_t n;

	if (!r || !st || st->sz < sizeof(*st))
		return -EINVAL;
	c = ctl_of(r);
	n = __atomic_load_n(&c->n_stacks, __ATOMIC_RELAXED);
	st->stacks = 0;
	for (uint32_t i = 0; i < n && i < r->hdr.max_stacks; i++) /* DEAD entries are no stacks */
		st->stacks += ((const struct stack_ent *)(r->base + r->hdr.ent_off))[i].state ==
			      STACK_ENT_READY;
	st->dropped = __atomic_load_n(&c->dropped, __ATOMIC_RELAXED);
	st->capacity = r->hdr.max_stacks;
	return 0;
}

UPROBE_API int uprobe_stack_reader_maps(struct uprobe_stack_reader *r, struct uprobe_symbolizer *s)
{
	uint64_t off = 0;

	return stack_reader_maps_since(r, s, &off);
}

int stack_reader_maps_since(struct uprobe_stack_reader *r, struct uprobe_symbolizer *s,
			    uint64_t *since)
{
	const uint8_t *area;
	uint64_t used, off = *since;
	int n = 0;

	if (!r || !s)
		return -EINVAL;
	area = r->base + stack_shm_maps_off(&r->hdr);
	used = __atomic_load_n(&ctl_of(r)->maps_used, __ATOMIC_ACQUIRE);
	if (used > STACK_SHM_MAPS_SIZE)
		used = STACK_SHM_MAPS_SIZE;
	while (off + 8 <= used) {
		uint64_t head = __atomic_load_n((const uint64_t *)(area + off), __ATOMIC_ACQUIRE);
		uint32_t len = (uint32_t)(head >> 32);
		struct trace_record rec = { .event_id = UPROBE_STACK_MAPS_EVENT,
					    .pid = (uint32_t)head, .comm = "",
					    .data = area + off + 8, .data_len = len };

		if (!head || len % 8 || len > used - off - 8)
			break; /* a writer that never finished, or nonsense: the end */
		if (uprobe_symbolizer_take_record(s, &rec) == 1)
			n++;
		off += 8 + len;
	}
	*since = off;
	return n;
}
