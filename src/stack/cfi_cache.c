/* SPDX-License-Identifier: MIT */
/*
 * Compiled CFI tables kept on disk, so that a file is compiled once, not
 * once per process: every process that traces stacks (each image of a traced
 * command, python3 started a hundred times by a test suite) maps the table
 * its first user left in the cache.
 *
 * A table is named by the file's build-id (cfi-<hex>.ucfi), or for a file
 * without one by its device, inode, size and modification time; the table
 * carries that identity (struct cfi_ident) and is used only if it matches,
 * after every offset and row of it was checked (cfi_table_from). The cache
 * is a directory of this user's that no one else can write, and so is each
 * file; files are written whole under a temporary name and renamed, so that
 * a reader never sees half a table. Nothing here is needed: a cache that
 * cannot be read or written is skipped and the table compiled.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "stack/cfi_table.h"
#include "sym/sym.h"

#define CACHE_MAX_FILE (1ull << 30)

/* The cache directory: 0, or -ENOENT when there is none (UPROBE_CACHE_DIR=""). */
static int cache_dir(char *out, size_t len)
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

static void cache_name(const struct cfi_ident *id, char *out, size_t len)
{
	int n = snprintf(out, len, "cfi-");

	for (uint32_t i = 0; i < id->build_id_len && n + 3 < (int)len; i++)
		n += snprintf(out + n, len - n, "%02x", id->build_id[i]);
	if (!id->build_id_len)
		n += snprintf(out + n, len - n, "%" PRIx64 "-%" PRIx64 "-%" PRIx64 "-%" PRIx64,
			      id->dev, id->ino, id->size, id->mtime_ns);
	snprintf(out + n, len - n, ".ucfi");
}

static struct cfi_table *cache_load(const char *path, const struct cfi_ident *id)
{
	struct cfi_table *t;
	struct stat st;
	void *mem;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0)
		return NULL;
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) || !ours(&st) || !st.st_size ||
	    (uint64_t)st.st_size > CACHE_MAX_FILE) {
		close(fd);
		return NULL;
	}
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return NULL;
	t = cfi_table_from(mem, (size_t)st.st_size, (size_t)st.st_size);
	if (!t) {
		munmap(mem, (size_t)st.st_size);
		return NULL;
	}
	if (memcmp((const uint8_t *)mem + t->hdr->ident_off, id, sizeof(*id))) {
		cfi_table_free(t);
		return NULL;
	}
	return t;
}

/* The directory, made if missing (this user's, mode 0700): 0 or -1. */
static int dir_ready(const char *dir)
{
	char parent[4096];
	struct stat st;
	char *slash;

	snprintf(parent, sizeof(parent), "%s", dir);
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = 0;
		mkdir(parent, 0700); /* ~/.cache, at most one level */
	}
	mkdir(dir, 0700);
	return !lstat(dir, &st) && S_ISDIR(st.st_mode) && ours(&st) ? 0 : -1;
}

static void cache_store(const char *dir, const char *path, const struct cfi_table *t)
{
	char tmp[4200];
	size_t len = t->hdr->size, done = 0;
	ssize_t n = 0;
	int fd;

	if (dir_ready(dir))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	while (done < len && (n = write(fd, (const uint8_t *)t->mem + done, len - done)) > 0)
		done += (size_t)n;
	if (close(fd) || done != len || rename(tmp, path))
		unlink(tmp);
}

struct cfi_table *cfi_table_get(struct sym_file *f)
{
	char dir[4096], name[128], path[4300];
	struct cfi_ident id;
	struct cfi_table *t;
	struct stat st;

	cfi_ident_of(f, &id);
	if (cache_dir(dir, sizeof(dir)))
		return cfi_table_compile(f);
	cache_name(&id, name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (!lstat(dir, &st) && S_ISDIR(st.st_mode) && ours(&st) && (t = cache_load(path, &id)))
		return t;
	t = cfi_table_compile(f);
	if (t)
		cache_store(dir, path, t);
	return t;
}
