/* SPDX-License-Identifier: MIT */
/* The on-disk cache of per-file facts (cache.h). */
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cache.h"

#define CACHE_MAX_FILE (1ull << 30)

/*
 * Every file ends in a trailer that covers the bytes before it: a file cut
 * short, grown, or with any word changed (a disk's error, an editor, a copy
 * of another file's) is not mapped. The users check the structure and the
 * identity of what they map; the sum is what makes a changed address or
 * branch target inside a well-formed file seen too. Checked by every image
 * that maps the file (~1 MB for libc's symbols and branches), so it is cheap:
 * CRC32C where the CPU has it (x86-64's SSE4.2: 3 lanes, ~1 cycle per 8
 * bytes), else a multiply-xorshift of 4 lanes. The magic says which: a file
 * of the other kind is not this one's, and is computed and stored anew.
 *
 *   payload (len bytes) | magic (8) | len (8) | sum (8)
 */
#define CACHE_MAGIC_CRC 0x6331656863616375ull  /* "ucache1c" */
#define CACHE_MAGIC_MULX 0x6d31656863616375ull /* "ucache1m" */

struct cache_trailer {
	uint64_t magic, len, sum;
};

/* Four lanes of (h ^ word) * odd, xor-shifted: any one word changed changes the sum. */
static uint64_t sum_mulx(const uint8_t *p, size_t len)
{
	const uint64_t k = 0x9e3779b97f4a7c15ull;
	uint64_t h[4] = { len, k, ~len, ~k }, w, sum = 0;
	size_t i = 0;

	for (; i + 32 <= len; i += 32)
		for (int l = 0; l < 4; l++) {
			memcpy(&w, p + i + 8 * l, 8);
			h[l] = (h[l] ^ w) * k;
			h[l] ^= h[l] >> 29;
		}
	for (int l = 0; i < len; i++, l = (l + 1) % 4) {
		h[l] = (h[l] ^ p[i]) * k;
		h[l] ^= h[l] >> 29;
	}
	for (int l = 0; l < 4; l++)
		sum ^= (h[l] * (k + 2 * (uint64_t)l)) >> (l * 7);
	return sum;
}

#if defined(__x86_64__)
/* Three CRC32C lanes (each detects any one changed word of its own), in one 64-bit sum. */
__attribute__((target("sse4.2"))) static uint64_t sum_crc(const uint8_t *p, size_t len)
{
	uint64_t c0 = ~0ull, c1 = ~1ull, c2 = ~2ull, w0, w1, w2;
	size_t i = 0;

	for (; i + 24 <= len; i += 24) {
		memcpy(&w0, p + i, 8);
		memcpy(&w1, p + i + 8, 8);
		memcpy(&w2, p + i + 16, 8);
		c0 = __builtin_ia32_crc32di(c0, w0);
		c1 = __builtin_ia32_crc32di(c1, w1);
		c2 = __builtin_ia32_crc32di(c2, w2);
	}
	for (; i < len; i++)
		c0 = __builtin_ia32_crc32qi((unsigned int)c0, p[i]);
	return (c0 | c1 << 32) ^ (c2 << 16) ^ ((uint64_t)len << 8);
}

static uint64_t cache_sum(const uint8_t *p, size_t len, uint64_t *magic)
{
	if (__builtin_cpu_supports("sse4.2")) {
		*magic = CACHE_MAGIC_CRC;
		return sum_crc(p, len);
	}
	*magic = CACHE_MAGIC_MULX;
	return sum_mulx(p, len);
}
#else
static uint64_t cache_sum(const uint8_t *p, size_t len, uint64_t *magic)
{
	*magic = CACHE_MAGIC_MULX;
	return sum_mulx(p, len);
}
#endif

/*
 * The payload's length when mem (size bytes) ends in its trailer, else 0. The
 * pages past the payload's last one are unmapped: users munmap(mem, payload).
 */
static size_t cache_check(uint8_t *mem, size_t size)
{
	struct cache_trailer tr;
	size_t page = (size_t)sysconf(_SC_PAGESIZE), used;
	uint64_t magic;

	if (size <= sizeof(tr))
		return 0;
	memcpy(&tr, mem + size - sizeof(tr), sizeof(tr));
	if (tr.len != size - sizeof(tr) || tr.sum != cache_sum(mem, (size_t)tr.len, &magic) ||
	    tr.magic != magic)
		return 0;
	used = ((size_t)tr.len + page - 1) / page * page;
	if (used < size)
		munmap(mem + used, size - used);
	return (size_t)tr.len;
}

int cache_dir(char *out, size_t len)
{
	const char *env = secure_getenv("UPROBE_CACHE_DIR");

	if (env)
		return *env && snprintf(out, len, "%s", env) < (int)len ? 0 : -ENOENT;
	if ((env = secure_getenv("XDG_CACHE_HOME")) && *env == '/')
		return snprintf(out, len, "%s/uprobes", env) < (int)len ? 0 : -ENOENT;
	if ((env = secure_getenv("HOME")) && *env == '/')
		return snprintf(out, len, "%s/.cache/uprobes", env) < (int)len ? 0 : -ENOENT;
	return -ENOENT;
}

/* Ours alone: owned by this user, writable by no one else. */
static bool ours(const struct stat *st)
{
	return st->st_uid == geteuid() && !(st->st_mode & (S_IWGRP | S_IWOTH));
}

/* dir/name in out, when the directory is there and ours: 0 or -1. */
static int cache_path(const char *dir, const char *name, char *out, size_t len)
{
	struct stat st;

	if (strchr(name, '/') || snprintf(out, len, "%s/%s", dir, name) >= (int)len)
		return -1;
	return !lstat(dir, &st) && S_ISDIR(st.st_mode) && ours(&st) ? 0 : -1;
}

void *cache_map(const char *name, size_t *len)
{
	char dir[4096], path[4300];
	struct stat st;
	void *mem;
	int fd;

	if (cache_dir(dir, sizeof(dir)) || cache_path(dir, name, path, sizeof(path)))
		return NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !ours(&st) || !st.st_size ||
	    (uint64_t)st.st_size > CACHE_MAX_FILE) {
		close(fd);
		return NULL;
	}
	/*
	 * Populated: the checksum reads every page at once, and one call that maps
	 * them all costs less than a fault per 16 pages (~20 us each on a VM).
	 */
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return NULL;
	*len = cache_check(mem, (size_t)st.st_size);
	if (!*len) { /* damaged, cut, or of an older format: computed and stored anew */
		munmap(mem, (size_t)st.st_size);
		return NULL;
	}
	return mem;
}

/* The directory, made if missing (this user's, mode 0700; cache_path checks it). */
static void dir_make(const char *dir)
{
	char parent[4096];
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		mkdir(parent, 0700); /* ~/.cache, at most one level */
	}
	mkdir(dir, 0700);
}

void cache_store(const char *name, const void *mem, size_t len)
{
	char dir[4096], path[4300], tmp[4400];
	struct cache_trailer tr = { .len = len };
	size_t done = 0;
	ssize_t n = 0;
	int fd;

	if (cache_dir(dir, sizeof(dir)))
		return;
	tr.sum = cache_sum(mem, len, &tr.magic);
	dir_make(dir);
	if (cache_path(dir, name, path, sizeof(path)))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	while (done < len && (n = write(fd, (const uint8_t *)mem + done, len - done)) > 0)
		done += (size_t)n;
	if (done == len && write(fd, &tr, sizeof(tr)) != (ssize_t)sizeof(tr))
		done = 0;
	if (close(fd) || done != len || rename(tmp, path))
		unlink(tmp);
}
