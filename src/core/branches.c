/* SPDX-License-Identifier: MIT */
/*
 * Every direct branch of a code mapping and every exception landing pad of its
 * file, indexed by target. A window must not be the target of any branch of
 * the module, not only of its own function: glibc's __mempcpy_*, for one,
 * jumps to the instruction after the first one of __memmove_* (a function of
 * its own).
 *
 * Building an index decodes the whole mapping (libc: 1.7 MB, ~40 ms), so it
 * is built once per file, not once per process: from the file's bytes (never
 * from a process's text, which that process may have changed), kept in the
 * cache (util/cache.h) by the file's identity (its build-id, and where it is
 * on disk: a copy patched with objcopy keeps the build-id) and the mapping's
 * file offset and length, and mapped by every later process. A cached index
 * is used only when its identity matches and every entry is checked
 * (index_valid): in bounds and sorted, so that a damaged file can only be
 * refused, never trusted.
 * Processes with no cache, files that cannot be read, and analysed images
 * (uprobe_analyze) build the index from the text, for themselves.
 *
 * Entries are offsets from the mapping's start:
 *
 *   struct branch_cache_hdr (magic, version, n, the mapping's file offset and
 *                           length, the file's dev/ino/size/mtime, identity)
 *   struct branch_ref[n]    { target, src }  sorted by target;
 *                           src == BRANCH_PAD for a landing pad
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "core/core.h"
#include "core/resolve.h"
#include "sym/sym.h"
#include "util/cache.h"
#include "util/log.h"

#define BRANCH_MAGIC 0x78646962u /* "bidx" */
#define BRANCH_VERSION 1u
#define BRANCH_PAD UINT32_MAX

struct branch_ref {
	uint32_t target, src;
};

struct branch_cache_hdr {
	uint32_t magic, version;
	uint64_t n;
	uint64_t file_offset, len; /* the mapping's */
	uint64_t dev, ino, size, mtime_ns; /* the file's */
	struct sym_ident ident;
};

struct branch_index {
	uint64_t start, end;
	ino_t ino;
	const struct branch_ref *refs; /* sorted by target */
	size_t n;
	void *mem; /* the header and refs: malloc'd, or mapped (map_len) */
	size_t map_len;
	struct branch_index *next;
};

/* What a build collects. */
struct branch_build {
	struct branch_cache_hdr *hdr; /* followed by the refs */
	size_t cap;
	uint64_t start, len;
	bool failed;
};

static struct branch_index *indexes;

static struct branch_ref *build_refs(struct branch_build *b)
{
	return (struct branch_ref *)(b->hdr + 1);
}

static void build_add(struct branch_build *b, uint64_t target, uint32_t src)
{
	struct branch_cache_hdr *grown;

	if (target < b->start || target - b->start >= b->len)
		return; /* no window of this mapping there */
	if (b->hdr->n == b->cap) {
		b->cap = b->cap ? b->cap * 2 : 4096;
		grown = realloc(b->hdr, sizeof(*grown) + b->cap * sizeof(struct branch_ref));
		if (!grown) {
			b->failed = true;
			b->cap = b->hdr->n;
			return;
		}
		b->hdr = grown;
	}
	build_refs(b)[b->hdr->n++] = (struct branch_ref){ (uint32_t)(target - b->start), src };
}

static void index_add(uint64_t src, uint64_t target, void *arg)
{
	struct branch_build *b = arg;

	build_add(b, target, (uint32_t)(src - b->start));
}

struct pad_ctx {
	struct branch_build *b;
	uint64_t bias;
};

/* Landing pads are where the unwinder resumes: branch targets with no source. */
static void index_add_pad(uint64_t vaddr, void *arg)
{
	struct pad_ctx *pc = arg;

	build_add(pc->b, vaddr + pc->bias, BRANCH_PAD);
}

static int ref_cmp(const void *a, const void *b)
{
	const struct branch_ref *x = a, *y = b;

	return x->target < y->target ? -1 : x->target > y->target;
}

/*
 * The mapping's bytes as the file has them, when the file at t->path is the
 * one mapped: 0, else -1 (and the caller reads the text).
 */
static int read_file_text(const struct probe_target *t, uint8_t *code, size_t len)
{
	uint64_t off = t->file_offset - (t->addr - t->map_start);
	size_t done = 0;
	struct stat st;
	ssize_t n = 0;
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (fstat(fd, &st) || st.st_ino != t->map_ino) {
		close(fd);
		return -1;
	}
	while (done < len && (n = pread(fd, code + done, len - done, (off_t)(off + done))) > 0)
		done += (size_t)n;
	close(fd);
	if (n < 0)
		return -1;
	memset(code + done, 0, len - done); /* the page past the file's end */
	return 0;
}

/* Decode the mapping and collect the landing pads: 0, or -ENOMEM. */
static int index_collect(const struct probe_target *t, struct sym_file *f, bool from_file,
			 struct branch_build *b)
{
	uint8_t *code = malloc(b->len);

	if (!code)
		return -ENOMEM;
	if (!from_file || read_file_text(t, code, b->len))
		target_read(t, t->map_start, code, b->len);
	arch_scan_branches(code, b->len, t->map_start, index_add, b);
	free(code);
	if (f) {
		struct pad_ctx pc = { b, t->bias };

		sym_landing_pads(f, index_add_pad, &pc);
	}
	if (b->failed)
		return -ENOMEM;
	if (b->hdr->n) /* qsort(NULL, 0) is undefined behaviour (UBSan) */
		qsort(build_refs(b), b->hdr->n, sizeof(struct branch_ref), ref_cmp);
	return 0;
}

/*
 * A cached index for this file and mapping: right file on disk, mapping, size.
 * Its entries are not checked one by one (a third of an image's start-up
 * reading libc's 66,000): cache_map() checked the file's checksum, so they are
 * what index_collect() wrote, and they are only compared, never used to index
 * memory. A file crafted with a right checksum by a program of this user's
 * (the only one who can write there, docs/architecture.md "Caches") is not
 * caught by checks of bounds and order either: an entry left out passes them.
 */
static bool index_valid(const struct branch_cache_hdr *h, size_t size,
			const struct branch_cache_hdr *want)
{
	const struct branch_ref *r = (const struct branch_ref *)(h + 1);

	return size >= sizeof(*h) && h->magic == BRANCH_MAGIC && h->version == BRANCH_VERSION &&
	       h->file_offset == want->file_offset && h->len == want->len &&
	       h->dev == want->dev && h->ino == want->ino && h->size == want->size &&
	       h->mtime_ns == want->mtime_ns && !memcmp(&h->ident, &want->ident, sizeof(h->ident)) &&
	       h->n == (size - sizeof(*h)) / sizeof(*r) && size == sizeof(*h) + h->n * sizeof(*r);
}

static struct branch_index *index_publish(const struct probe_target *t, void *mem, size_t map_len)
{
	struct branch_index *bi = calloc(1, sizeof(*bi));

	if (!bi) {
		if (map_len)
			munmap(mem, map_len);
		else
			free(mem);
		return NULL;
	}
	bi->start = t->map_start;
	bi->end = t->map_end;
	bi->ino = t->map_ino;
	bi->mem = mem;
	bi->map_len = map_len;
	bi->refs = (const struct branch_ref *)((struct branch_cache_hdr *)mem + 1);
	bi->n = ((struct branch_cache_hdr *)mem)->n;
	bi->next = indexes;
	indexes = bi;
	return bi;
}

static struct branch_index *index_get(const struct probe_target *t)
{
	struct branch_build b = { .start = t->map_start, .len = t->map_end - t->map_start };
	bool cacheable = !t->image && t->path[0] == '/';
	struct sym_file *f = t->path[0] == '/' ? sym_file_open(t->path) : NULL;
	char name[160] = "", suffix[48];
	size_t map_len;
	void *mem;

	if (b.len >= BRANCH_PAD || !(b.hdr = calloc(1, sizeof(*b.hdr))))
		goto err;
	*b.hdr = (struct branch_cache_hdr){ .magic = BRANCH_MAGIC, .version = BRANCH_VERSION,
					    .file_offset = t->file_offset - (t->addr - t->map_start),
					    .len = b.len };
	if (cacheable && f && sym_file_ino(f) == t->map_ino) {
		sym_file_ident(f, &b.hdr->ident);
		b.hdr->dev = sym_file_dev(f);
		b.hdr->ino = sym_file_ino(f);
		b.hdr->size = sym_file_size(f);
		b.hdr->mtime_ns = sym_file_mtime_ns(f);
		snprintf(suffix, sizeof(suffix), "-%lx-%lx.ubr", b.hdr->file_offset, b.len);
		sym_ident_name(&b.hdr->ident, "br-", suffix, name, sizeof(name));
		mem = cache_map(name, &map_len);
		if (mem && index_valid(mem, map_len, b.hdr)) {
			sym_file_close(f);
			free(b.hdr);
			return index_publish(t, mem, map_len);
		}
		if (mem)
			munmap(mem, map_len);
	}
	if (index_collect(t, f, name[0], &b))
		goto err;
	sym_file_close(f);
	if (name[0])
		cache_store(name, b.hdr, sizeof(*b.hdr) + b.hdr->n * sizeof(struct branch_ref));
	return index_publish(t, b.hdr, 0);
err:
	sym_file_close(f);
	free(b.hdr);
	return NULL;
}

int branches_into(const struct probe_target *t, uint64_t lo, uint64_t hi, uint64_t *src,
		  uint64_t *target)
{
	struct branch_index *bi;
	size_t a = 0, b;

	for (bi = indexes; bi; bi = bi->next)
		if (bi->start == t->map_start && bi->end == t->map_end && bi->ino == t->map_ino)
			break;
	if (!bi && !(bi = index_get(t)))
		return -ENOMEM;
	lo -= bi->start;
	hi -= bi->start;
	/* First reference with target > lo. */
	b = bi->n;
	while (a < b) {
		size_t mid = (a + b) / 2;

		if (bi->refs[mid].target <= lo)
			a = mid + 1;
		else
			b = mid;
	}
	if (a < bi->n && bi->refs[a].target < hi) {
		*src = bi->refs[a].src == BRANCH_PAD ? 0 : bi->start + bi->refs[a].src;
		*target = bi->start + bi->refs[a].target;
		return 1;
	}
	return 0;
}
