/* SPDX-License-Identifier: MIT */
/*
 * Facts about files computed once and kept on disk, so that each is computed
 * once per file, not once per process (docs/architecture.md, "Caches"): the
 * stack layer's compiled CFI tables, the core's branch indexes. The cache is
 * a directory of this user's that no one else can write, and so is each
 * file; files are written whole under a temporary name and renamed, so that
 * a reader never sees half a file. Nothing here is needed: a cache that
 * cannot be read or written is skipped, and its users compute. Each file ends
 * in a checksum of its bytes (cache.c), and readers still check every byte
 * they use (a file of this user's may be stale, damaged or another file's).
 * Not for signal context.
 */
#ifndef UPROBES_UTIL_CACHE_H
#define UPROBES_UTIL_CACHE_H

#include <stddef.h>

/*
 * The cache directory ($UPROBE_CACHE_DIR, $XDG_CACHE_HOME/uprobes or
 * ~/.cache/uprobes): 0, or -ENOENT when there is none (UPROBE_CACHE_DIR="").
 */
int cache_dir(char *out, size_t len);

/*
 * The file name (no '/') mapped read-only (MAP_PRIVATE) with its length (what
 * cache_store was given; munmap(mem, len) unmaps it all), or NULL when it is
 * missing, not ours, or its checksum does not match.
 */
void *cache_map(const char *name, size_t *len);

/* Keep len bytes at mem as the file name, whole or not at all. */
void cache_store(const char *name, const void *mem, size_t len);

#endif
