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
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (mem == MAP_FAILED)
		return NULL;
	*len = (size_t)st.st_size;
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
	size_t done = 0;
	ssize_t n = 0;
	int fd;

	if (cache_dir(dir, sizeof(dir)))
		return;
	dir_make(dir);
	if (cache_path(dir, name, path, sizeof(path)))
		return;
	snprintf(tmp, sizeof(tmp), "%s.%d.tmp", path, (int)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return;
	while (done < len && (n = write(fd, (const uint8_t *)mem + done, len - done)) > 0)
		done += (size_t)n;
	if (close(fd) || done != len || rename(tmp, path))
		unlink(tmp);
}
