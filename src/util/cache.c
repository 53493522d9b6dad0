/* SPDX-License-Identifier: MIT */
/* The on-disk cache of per-file facts (cache.h). */
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "util/cache.h"
#include "util/log.h"

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

/* ---- the bound (uprobe_cache_trim) ---------------------------------------------- */

#define TRIM_STAMP ".trimmed" /* its mtime: the last trim (UPROBE_CACHE_DAILY) */
#define TRIM_DAY (24 * 3600)
#define TMP_STALE 3600 /* a temporary this old is a dead writer's */

struct cache_file {
	char *name;
	int64_t used; /* the later of atime and mtime, in s */
	uint64_t bytes;
};

/* Ours to count and remove: a cache file's name, or one's temporary (cache_store). */
static bool cache_name(const char *name, bool *tmp)
{
	static const char *const kinds[][2] = {
		{ "sym-", ".usym" }, { "br-", ".ubr" }, { "cfi-", ".ucfi" },
		{ "nm-", ".unm" },   { "an-", ".uan" },
	};
	size_t n = strlen(name);

	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		size_t pl = strlen(kinds[k][0]), sl = strlen(kinds[k][1]);
		const char *suf;

		if (strncmp(name, kinds[k][0], pl) || n <= pl + sl)
			continue;
		suf = strstr(name + pl, kinds[k][1]);
		if (!suf)
			continue;
		if (!suf[sl]) {
			*tmp = false;
			return true;
		}
		/* NAME.<pid>.tmp */
		if (suf[sl] == '.' && n > 4 && !strcmp(name + n - 4, ".tmp")) {
			*tmp = true;
			return true;
		}
	}
	return false;
}

static int by_use(const void *a, const void *b)
{
	const struct cache_file *x = a, *y = b;

	if (x->used != y->used)
		return x->used < y->used ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* The limit: limit, else $UPROBE_CACHE_MAX_MB MiB, else the default. */
static int trim_limit(uint64_t limit, uint64_t *out)
{
	const char *env = secure_getenv("UPROBE_CACHE_MAX_MB");
	unsigned long long mb;
	char *end;

	if (limit) {
		*out = limit;
		return 0;
	}
	if (!env || !*env) {
		*out = UPROBE_CACHE_LIMIT_DEFAULT;
		return 0;
	}
	errno = 0;
	mb = strtoull(env, &end, 10);
	if (errno || *end || !(*env >= '0' && *env <= '9') || mb > (1ull << 40))
		return log_error(EINVAL, "UPROBE_CACHE_MAX_MB='%s' is not a number of MiB "
				 "(0 .. 2^40)", env);
	*out = (uint64_t)mb << 20;
	return 0;
}

/* Daily: true when the stamp says a trim ran less than a day ago; else it is set now. */
static bool trimmed_today(int dfd, time_t now)
{
	struct stat st;
	int fd;

	if (!fstatat(dfd, TRIM_STAMP, &st, AT_SYMLINK_NOFOLLOW) && S_ISREG(st.st_mode) &&
	    st.st_mtime <= now && now - st.st_mtime < TRIM_DAY)
		return true;
	fd = openat(dfd, TRIM_STAMP, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd >= 0) {
		futimens(fd, NULL);
		close(fd);
	}
	return false;
}

/* Every file of ours in dfd, into *out (n of them): 0 or -errno. Stale temporaries go. */
static int trim_scan(int dfd, time_t now, bool clear, struct cache_file **out, size_t *n,
		     struct uprobe_cache_usage *u)
{
	struct cache_file *v = NULL;
	size_t cap = 0;
	struct dirent *de;
	int fd = dup(dfd), err;
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	*n = 0;
	if (!d) {
		err = -errno;
		if (fd >= 0)
			close(fd);
		return err;
	}
	while ((de = readdir(d))) {
		struct stat st;
		bool tmp;

		if (!cache_name(de->d_name, &tmp) ||
		    fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) || !S_ISREG(st.st_mode) ||
		    !ours(&st))
			continue;
		if (tmp && !clear && now - st.st_mtime < TMP_STALE)
			continue; /* a writer's, still writing */
		if (tmp || clear) {
			if (!unlinkat(dfd, de->d_name, 0)) {
				u->removed_files++;
				u->removed_bytes += (uint64_t)st.st_blocks * 512;
			}
			continue;
		}
		if (*n == cap) {
			struct cache_file *nv = realloc(v, (cap = cap ? 2 * cap : 256) * sizeof(*v));

			if (!nv)
				break;
			v = nv;
		}
		v[*n].name = strdup(de->d_name);
		if (!v[*n].name)
			break;
		v[*n].used = st.st_atime > st.st_mtime ? st.st_atime : st.st_mtime;
		v[*n].bytes = (uint64_t)st.st_blocks * 512;
		u->files++;
		u->bytes += v[*n].bytes;
		(*n)++;
	}
	closedir(d);
	*out = v;
	return 0;
}

int uprobe_cache_trim(uint64_t limit, unsigned int flags, struct uprobe_cache_usage *out)
{
	struct uprobe_cache_usage scratch, *u = out ? out : &scratch;
	struct cache_file *v = NULL;
	time_t now = time(NULL);
	struct stat st;
	size_t n = 0;
	int dfd, err;

	memset(u, 0, sizeof(*u));
	err = trim_limit(limit, &u->limit);
	if (err)
		return err;
	if (cache_dir(u->dir, sizeof(u->dir)))
		return log_error(ENOENT, "no cache directory (UPROBE_CACHE_DIR is empty, or no "
				 "HOME)");
	dfd = open(u->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0) {
		err = errno;
		return err == ENOENT ? 0 : log_error(err, "cache %s: %s", u->dir, strerror(err));
	}
	if (fstat(dfd, &st)) {
		err = errno;
		close(dfd);
		return log_error(err, "cache %s: %s", u->dir, strerror(err));
	}
	if (!ours(&st)) {
		close(dfd);
		return log_error(ENOENT, "cache %s: not this user's alone (owner %u, mode %o): "
				 "left alone", u->dir, (unsigned)st.st_uid,
				 (unsigned)st.st_mode & 07777);
	}
	if ((flags & UPROBE_CACHE_DAILY) && !(flags & UPROBE_CACHE_COUNT) &&
	    trimmed_today(dfd, now)) {
		u->skipped = 1;
		close(dfd);
		return 0;
	}
	err = trim_scan(dfd, now, (flags & UPROBE_CACHE_CLEAR) && !(flags & UPROBE_CACHE_COUNT),
			&v, &n, u);
	if (err) {
		close(dfd);
		return log_error(-err, "cache %s: %s", u->dir, strerror(-err));
	}
	if (!(flags & UPROBE_CACHE_COUNT) && u->bytes > u->limit) {
		uint64_t keep = u->limit / 4 * 3;

		qsort(v, n, sizeof(*v), by_use);
		for (size_t i = 0; i < n && u->bytes > keep; i++) {
			if (unlinkat(dfd, v[i].name, 0))
				continue;
			u->files--;
			u->bytes -= v[i].bytes;
			u->removed_files++;
			u->removed_bytes += v[i].bytes;
		}
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].name);
	free(v);
	close(dfd);
	return 0;
}
