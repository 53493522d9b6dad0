/* SPDX-License-Identifier: MIT */
/*
 * Maps: the region made by the tracer (create, define, seal) and mapped by
 * the agent (attach); clear() and zero(); the bucket functions. Not the hot
 * path (map_update.c) nor the reader (map_read.c). See map_shm.h for the file.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/map/map_shm.h"

#define MAP_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)

static int fail(struct map_region *r, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct map_region *r, int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
	return -err;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) & ~(a - 1);
}

static uint32_t pow2_at_least(uint64_t n)
{
	uint32_t p = 1;

	while (p < n)
		p <<= 1;
	return p;
}

uint32_t map_vwords(enum map_kind kind, uint32_t n_buckets)
{
	switch (kind) {
	case MAP_LAST:
		return 2;
	case MAP_AVG: /* count, sum, then the slot's sequence (map_shm.h) */
		return 3;
	case MAP_MIN: /* value, epoch, previous value, its epoch, sequence (map_shm.h) */
	case MAP_MAX:
		return 5;
	case MAP_STATS: /* count, sum, min, max, then the slot's sequence */
		return 5;
	case MAP_HIST:
		return MAP_HIST_BUCKETS;
	case MAP_LHIST:
		return n_buckets;
	default:
		return 1;
	}
}

unsigned int map_lhist_buckets(const struct map_def *d)
{
	return (unsigned int)((d->lhist_max - d->lhist_min) / d->lhist_step) + 2;
}

static uint64_t serials; /* a freed region's address may come back: its serial does not */

struct map_region *map_region_create(const struct map_region_opts *opts)
{
	struct map_region *r;

	if (opts && (opts->sz < sizeof(size_t) + sizeof(uint32_t) ||
		     opts->n_shards > MAP_MAX_SHARDS)) {
		errno = EINVAL;
		return NULL;
	}
	/*
	 * Mapped, not calloc'd: the struct is ~45 KB (the blob, MAP_MAX_MAPS maps)
	 * of which a region uses a few pages, and calloc's memset wrote them all
	 * (every traced image makes one: a page fault each, ~20 us on a VM).
	 */
	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	r->file = FD_KEPT_NONE;
	r->serial = __atomic_add_fetch(&serials, 1, __ATOMIC_RELAXED);
	r->n_shards = opts && opts->n_shards ? opts->n_shards : MAP_DEFAULT_SHARDS;
	return r;
}

static int check_def(struct map_region *r, const struct map_def *d)
{
	if (!d || !d->name || !*d->name || strlen(d->name) >= MAP_NAME_MAX)
		return fail(r, EINVAL, "map name: empty or longer than %u bytes", MAP_NAME_MAX - 1);
	if (d->kind < MAP_COUNT || d->kind >= MAP_KIND_END)
		return fail(r, EINVAL, "map %s: unknown kind %d", d->name, (int)d->kind);
	if (d->key_size > MAP_MAX_KEY)
		return fail(r, EINVAL, "map %s: key of %u bytes (at most %u)", d->name, d->key_size,
			    MAP_MAX_KEY);
	if (d->max_entries > MAP_MAX_ENTRIES)
		return fail(r, EINVAL, "map %s: %u entries (at most %u)", d->name, d->max_entries,
			    MAP_MAX_ENTRIES);
	if (d->value_size && (d->kind != MAP_VALUE || d->value_size % 8 ||
			      d->value_size > MAP_MAX_VALUE))
		return fail(r, EINVAL, "map %s: value of %u bytes (value maps only, a multiple "
			    "of 8 up to %u)", d->name, d->value_size, MAP_MAX_VALUE);
	if (d->dense && (d->kind != MAP_COUNT || d->dense > MAP_MAX_DENSE ||
			 (d->key_size ? d->key_size != 4 : d->dense != 1)))
		return fail(r, EINVAL, "map %s: %u dense keys (count maps only, a 4-byte key "
			    "or none, at most %u)", d->name, d->dense, MAP_MAX_DENSE);
	if (d->kind != MAP_LHIST)
		return 0;
	if (d->lhist_step <= 0 || d->lhist_max <= d->lhist_min)
		return fail(r, EINVAL, "map %s: lhist(min %lld, max %lld, step %lld): need max > min "
			    "and step > 0", d->name, (long long)d->lhist_min,
			    (long long)d->lhist_max, (long long)d->lhist_step);
	if ((uint64_t)(d->lhist_max - d->lhist_min) / (uint64_t)d->lhist_step + 2 >
	    MAP_LHIST_MAX_BUCKETS)
		return fail(r, EINVAL, "map %s: lhist step %lld makes more than %u buckets", d->name,
			    (long long)d->lhist_step, MAP_LHIST_MAX_BUCKETS);
	return 0;
}

/* Fill m's shape from its definition (both sides: the agent re-derives it from the file). */
static void shape(struct map_priv *m, const struct map_def *d)
{
	uint32_t max = d->key_size ? (d->max_entries ? d->max_entries : MAP_DEFAULT_ENTRIES) : 1;

	m->def = *d;
	m->def.max_entries = max;
	snprintf(m->name, sizeof(m->name), "%s", d->name);
	m->def.name = m->name;
	m->n_buckets = d->kind == MAP_HIST    ? MAP_HIST_BUCKETS
		       : d->kind == MAP_LHIST ? map_lhist_buckets(d)
					      : 0;
	if (d->kind == MAP_VALUE)
		m->def.value_size = d->value_size ? d->value_size : 8;
	/* a value wider than a word: two buffers (map_shm.h) */
	m->vwords = d->kind != MAP_VALUE	 ? map_vwords(d->kind, m->n_buckets)
		    : m->def.value_size > 8 ? 2 * (m->def.value_size / 8)
					     : 1;
	m->key_words = (d->key_size + 7) / 8;
	m->slot_size = 8 * (1 + m->key_words + m->vwords);
	m->cap = d->key_size ? pow2_at_least((uint64_t)max + max / 4 + 1) : 1;
	m->mask = m->cap - 1;
}

int map_define(struct map_region *r, const struct map_def *def)
{
	int err;

	if (!r)
		return -EINVAL;
	if (r->sealed)
		return fail(r, EBUSY, "map %s: the region is sealed already",
			    def && def->name ? def->name : "?");
	err = check_def(r, def);
	if (err)
		return err;
	if (r->n_maps >= MAP_MAX_MAPS)
		return fail(r, E2BIG, "map %s: more than %u maps", def->name, MAP_MAX_MAPS);
	if (map_lookup(r, def->name) >= 0)
		return fail(r, EEXIST, "map %s: defined twice", def->name);
	shape(&r->maps[r->n_maps], def);
	return (int)r->n_maps++;
}

int map_region_set_blob(struct map_region *r, const void *data, size_t len)
{
	if (!r || (len && !data))
		return -EINVAL;
	if (r->sealed)
		return fail(r, EBUSY, "maps: blob after seal");
	if (len > MAP_BLOB_MAX)
		return fail(r, E2BIG, "maps: blob of %zu bytes (at most %u)", len, MAP_BLOB_MAX);
	memcpy(r->blob, data, len);
	r->blob_len = len;
	return 0;
}

const void *map_region_blob(const struct map_region *r, size_t *len)
{
	*len = r ? r->blob_len : 0;
	return r && r->blob_len ? r->blob : NULL;
}

/* Offsets of everything (map_shm.h); -E2BIG past MAP_SHM_MAX_FILE. */
static int layout(struct map_region *r, struct map_shm_hdr *h, uint32_t page)
{
	uint64_t shard = 0, values, off;

	*h = (struct map_shm_hdr){ .magic = MAP_SHM_MAGIC, .version = MAP_SHM_VERSION,
				   .hdr_size = sizeof(*h), .page_size = page,
				   .n_maps = r->n_maps, .n_shards = r->n_shards };
	h->blob_off = sizeof(*h);
	h->blob_len = r->blob_len;
	h->defs_off = align_up(h->blob_off + h->blob_len, 64) > page ? 2 * page : page;
	h->state_off = align_up(h->defs_off + r->n_maps * sizeof(struct map_shm_def), 128);
	h->owners_off = align_up(h->state_off + r->n_maps * sizeof(struct map_shm_state), 128);
	h->shards_off = align_up(h->owners_off + (r->n_shards + 1) * 8ull, page);
	shard = align_up(r->n_maps * sizeof(struct map_shm_shard_stats), 128);
	for (uint32_t i = 0; i < r->n_maps; i++) {
		struct map_priv *m = &r->maps[i];

		if (m->def.kind == MAP_VALUE)
			continue;
		m->table_off = shard;
		shard = align_up(shard + (uint64_t)m->cap * m->slot_size, 128);
	}
	for (uint32_t i = 0; i < r->n_maps; i++) {
		struct map_priv *m = &r->maps[i];

		if (!m->def.dense)
			continue;
		m->dense_off = shard;
		shard = align_up(shard + 8ull * m->def.dense, 128);
	}
	h->shard_stride = align_up(shard, page);
	values = h->shards_off + (uint64_t)(r->n_shards + 1) * h->shard_stride;
	h->values_off = values;
	off = values;
	for (uint32_t i = 0; i < r->n_maps; i++) {
		struct map_priv *m = &r->maps[i];

		if (m->def.kind != MAP_VALUE)
			continue;
		m->table_off = off;
		off = align_up(off + (uint64_t)m->cap * m->slot_size, 128);
		if (off > MAP_SHM_MAX_FILE)
			break;
	}
	h->file_size = align_up(off, page);
	if (h->file_size > MAP_SHM_MAX_FILE)
		return fail(r, E2BIG, "maps: %llu bytes of shared memory (at most %llu): fewer "
			    "entries or shards", (unsigned long long)h->file_size,
			    (unsigned long long)MAP_SHM_MAX_FILE);
	return 0;
}

/* Every process's pointers into the mapping, from its own copy of the layout. */
static void bind(struct map_region *r, const struct map_shm_hdr *h)
{
	r->shards_off = h->shards_off;
	r->shard_stride = h->shard_stride;
	r->file_size = h->file_size;
	r->owners = (uint64_t *)(r->base + h->owners_off);
	for (uint32_t i = 0; i < r->n_maps; i++)
		r->maps[i].state = (struct map_shm_state *)(r->base + h->state_off) + i;
}

static void write_defs(struct map_region *r, const struct map_shm_hdr *h)
{
	struct map_shm_def *d = (struct map_shm_def *)(r->base + h->defs_off);

	for (uint32_t i = 0; i < r->n_maps; i++) {
		const struct map_priv *m = &r->maps[i];

		snprintf(d[i].name, sizeof(d[i].name), "%s", m->name);
		d[i].kind = m->def.kind;
		d[i].key_size = m->def.key_size;
		d[i].max_entries = m->def.max_entries;
		d[i].cap = m->cap;
		d[i].slot_size = m->slot_size;
		d[i].vwords = m->vwords;
		d[i].n_buckets = m->n_buckets;
		d[i].value_size = m->def.value_size;
		d[i].lhist_min = m->def.lhist_min;
		d[i].lhist_max = m->def.lhist_max;
		d[i].lhist_step = m->def.lhist_step;
		d[i].table_off = m->table_off;
		d[i].dense = m->def.dense;
		d[i].dense_off = m->dense_off;
	}
}

int map_region_seal(struct map_region *r)
{
	long page = sysconf(_SC_PAGESIZE);
	struct map_shm_hdr h;
	int fd, err;

	if (!r)
		return -EINVAL;
	if (r->sealed)
		return 0;
	err = layout(r, &h, (uint32_t)page);
	if (err)
		return err;
	fd = memfd_create("uprobes-maps", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return fail(r, errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, (off_t)h.file_size) || fcntl(fd, F_ADD_SEALS, MAP_SEALS)) {
		err = errno;
		close(fd);
		return fail(r, err, "maps memfd of %llu bytes: %s",
			    (unsigned long long)h.file_size, strerror(err));
	}
	r->base = mmap(NULL, h.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->base == MAP_FAILED) {
		err = errno;
		r->base = NULL;
		close(fd);
		return fail(r, err, "mmap of the maps: %s", strerror(err));
	}
	r->len = h.file_size;
	fd_keep(&r->file, fd);
	bind(r, &h);
	write_defs(r, &h);
	memcpy(r->base + h.blob_off, r->blob, r->blob_len);
	*(struct map_shm_hdr *)r->base = h; /* last: attach checks the magic first */
	r->sealed = true;
	return 0;
}

int map_region_fd(const struct map_region *r)
{
	if (!r || !r->sealed)
		return -EBADF;
	return fd_kept_valid(&r->file) ? r->file.fd : -EBADF;
}

const char *map_region_error(const struct map_region *r)
{
	return r ? r->err : "no region";
}

void map_region_free(struct map_region *r)
{
	if (!r)
		return;
	/*
	 * The count region's addresses stay writable for the process's life: the
	 * threads' count bases point there, and a stub switched off without a wait
	 * (uprobe_count_off_nowait) may add once more. Zero pages take its place
	 * (the shared pages go); on failure the shared mapping stays.
	 */
	if (r->base && map_region_counted(r))
		mmap(r->base, r->len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
	else if (r->base)
		munmap(r->base, r->len);
	if (r->file.fd >= 0)
		fd_kept_close(&r->file);
	munmap(r, sizeof(*r));
}

/* ---- the agent's side: attach ------------------------------------------------------- */

/* A definition read from the file: checked as the tracer's map_define would have. */
static int attach_def(struct map_region *r, const struct map_shm_def *sd, uint32_t i,
		      const struct map_shm_hdr *h)
{
	struct map_shm_def d = *sd;
	struct map_def def = { .name = d.name, .kind = (enum map_kind)d.kind,
			       .key_size = d.key_size, .max_entries = d.max_entries,
			       .lhist_min = d.lhist_min, .lhist_max = d.lhist_max,
			       .lhist_step = d.lhist_step, .value_size = d.value_size,
			       .dense = d.dense };
	struct map_priv *m = &r->maps[i];
	uint64_t end;

	d.name[MAP_NAME_MAX - 1] = 0;
	if (check_def(r, &def))
		return -EINVAL;
	shape(m, &def);
	if (m->cap != d.cap || m->slot_size != d.slot_size || m->def.max_entries != d.max_entries ||
	    m->vwords != d.vwords)
		return fail(r, EINVAL, "map %s: shape does not match its definition", m->name);
	m->table_off = d.table_off;
	end = d.table_off + (uint64_t)m->cap * m->slot_size;
	if (m->def.kind == MAP_VALUE ? (d.table_off < h->values_off || end > h->file_size)
				     : end > h->shard_stride)
		return fail(r, EINVAL, "map %s: table outside the region", m->name);
	m->dense_off = d.dense_off;
	if (m->def.dense && (d.dense_off < h->n_maps * sizeof(struct map_shm_shard_stats) ||
			     (d.dense_off & 7) || d.dense_off + 8ull * m->def.dense > h->shard_stride))
		return fail(r, EINVAL, "map %s: dense words outside the shard", m->name);
	return 0;
}

static int attach_check(struct map_region *r, int fd, struct map_shm_hdr *h)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	if (seals < 0 || (seals & MAP_SEALS) != MAP_SEALS || fstat(fd, &st))
		return fail(r, EINVAL, "maps: not a sealed memfd");
	if (pread(fd, h, sizeof(*h), 0) != (ssize_t)sizeof(*h) || h->magic != MAP_SHM_MAGIC ||
	    h->version != MAP_SHM_VERSION || h->hdr_size != sizeof(*h))
		return fail(r, EINVAL, "maps: bad header");
	if (h->file_size != (uint64_t)st.st_size || h->n_maps > MAP_MAX_MAPS || !h->n_shards ||
	    h->n_shards > MAP_MAX_SHARDS || h->page_size != (uint32_t)sysconf(_SC_PAGESIZE) ||
	    h->shards_off + (uint64_t)(h->n_shards + 1) * h->shard_stride > h->values_off ||
	    h->values_off > h->file_size ||
	    h->owners_off + (h->n_shards + 1) * 8ull > h->shards_off ||
	    h->state_off + h->n_maps * sizeof(struct map_shm_state) > h->owners_off ||
	    h->defs_off + h->n_maps * sizeof(struct map_shm_def) > h->state_off ||
	    h->n_maps * sizeof(struct map_shm_shard_stats) > h->shard_stride ||
	    h->blob_off < sizeof(*h) || h->blob_len > MAP_BLOB_MAX ||
	    h->blob_off + h->blob_len > h->defs_off ||
	    (h->state_off & 127) || (h->owners_off & 7) || (h->shard_stride & 127))
		return fail(r, EINVAL, "maps: header out of bounds");
	return 0;
}

struct map_region *map_region_attach(int fd)
{
	struct map_region *r = map_region_create(NULL);
	struct map_shm_hdr h;
	int err = -ENOMEM;

	if (!r)
		goto out;
	err = attach_check(r, fd, &h);
	if (err)
		goto out;
	r->base = mmap(NULL, h.file_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (r->base == MAP_FAILED) {
		r->base = NULL;
		err = -errno;
		goto out;
	}
	r->len = h.file_size;
	r->blob_len = h.blob_len;
	memcpy(r->blob, r->base + h.blob_off, h.blob_len);
	r->n_maps = h.n_maps;
	r->n_shards = h.n_shards;
	for (uint32_t i = 0; i < h.n_maps && !err; i++)
		err = attach_def(r, (const struct map_shm_def *)(r->base + h.defs_off) + i, i, &h);
	if (err)
		goto out;
	bind(r, &h);
	r->sealed = true;
	return r;
out:
	map_region_free(r);
	errno = -err;
	return NULL;
}

int map_count(const struct map_region *r)
{
	return r ? (int)r->n_maps : -EINVAL;
}

int map_lookup(const struct map_region *r, const char *name)
{
	for (uint32_t i = 0; r && name && i < r->n_maps; i++)
		if (!strcmp(r->maps[i].name, name))
			return (int)i;
	return -ENOENT;
}

const struct map_def *map_get_def(const struct map_region *r, int id)
{
	if (!r || id < 0 || (uint32_t)id >= r->n_maps)
		return NULL;
	return &r->maps[id].def;
}

/* ---- clear() and zero() --------------------------------------------------------------- */

/*
 * A new generation: writers reset an entry of an older one at their next
 * update (map_update.c); readers take it for zero, or for gone when older
 * than clear_gen. clear_gen is stored before gen, so a reader that sees the
 * new gen sees the new clear_gen.
 */
static int new_gen(struct map_region *r, int id, bool clear)
{
	struct map_shm_state *s;
	uint32_t gen;

	if (!r || !r->sealed || id < 0 || (uint32_t)id >= r->n_maps)
		return -EINVAL;
	s = r->maps[id].state;
	gen = (__atomic_load_n(&s->gen, __ATOMIC_RELAXED) + 1) & MAP_GEN_MASK;
	if (clear)
		__atomic_store_n(&s->clear_gen, gen, __ATOMIC_RELEASE);
	__atomic_store_n(&s->gen, gen, __ATOMIC_RELEASE);
	return 0;
}

int map_clear(struct map_region *r, int id)
{
	if (r && id >= 0 && (uint32_t)id < r->n_maps && r->maps[id].def.dense)
		return -ENOTSUP; /* the count stub's words have no generation */
	if (r && id >= 0 && (uint32_t)id < r->n_maps && r->maps[id].def.kind == MAP_VALUE)
		return map_value_clear(r, id, false);
	return new_gen(r, id, true);
}

int map_zero(struct map_region *r, int id)
{
	if (r && id >= 0 && (uint32_t)id < r->n_maps && r->maps[id].def.dense)
		return -ENOTSUP;
	if (r && id >= 0 && (uint32_t)id < r->n_maps && r->maps[id].def.kind == MAP_VALUE)
		return map_value_clear(r, id, true);
	return new_gen(r, id, false);
}
