/* SPDX-License-Identifier: MIT */
/*
 * Compiled CFI tables kept on disk (util/cache.h), so that a file is compiled
 * once, not once per process: every process that traces stacks (each image of
 * a traced command, python3 started a hundred times by a test suite) maps the
 * table its first user left in the cache.
 *
 * A table is named by the file's build-id (cfi-<hex>.ucfi), or for a file
 * without one by its device, inode, size and modification time; the table
 * carries that identity (struct sym_ident) and is used only if it matches,
 * after every offset and row of it was checked (cfi_table_from).
 */
#include <string.h>
#include <sys/mman.h>

#include "stack/cfi_table.h"
#include "sym/sym.h"
#include "util/cache.h"

static struct cfi_table *cache_load(const char *name, const struct sym_ident *id)
{
	struct cfi_table *t;
	size_t len;
	void *mem = cache_map(name, &len);

	if (!mem)
		return NULL;
	t = cfi_table_from(mem, len, len);
	if (!t) {
		munmap(mem, len);
		return NULL;
	}
	if (memcmp((const uint8_t *)mem + t->hdr->ident_off, id, sizeof(*id))) {
		cfi_table_free(t);
		return NULL;
	}
	return t;
}

struct cfi_table *cfi_table_get(struct sym_file *f)
{
	char name[128];
	struct sym_ident id;
	struct cfi_table *t;

	sym_file_ident(f, &id);
	sym_ident_name(&id, "cfi-", ".ucfi", name, sizeof(name));
	t = cache_load(name, &id);
	if (t)
		return t;
	t = cfi_table_compile(f);
	if (t)
		cache_store(name, t->mem, t->hdr->size);
	return t;
}
