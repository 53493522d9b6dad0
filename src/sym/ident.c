/* SPDX-License-Identifier: MIT */
/* A file's identity for caches keyed by file: its build-id, else dev, inode, size, mtime. */
#include <gelf.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sym/sym_priv.h"

/* The NT_GNU_BUILD_ID note of f, else its identity on disk. */
void sym_file_ident(struct sym_file *f, struct sym_ident *id)
{
	const uint8_t *bid = f->hdrs.build_id; /* read at open, without libelf */
	size_t n = f->hdrs.build_id_len;

	memset(id, 0, sizeof(*id));
	if (n && n <= sizeof(id->build_id)) {
		memcpy(id->build_id, bid, n);
		id->build_id_len = (uint32_t)n;
		return;
	}
	id->size = sym_file_size(f);
	id->ino = sym_file_ino(f);
	id->dev = sym_file_dev(f);
	id->mtime_ns = sym_file_mtime_ns(f);
}

void sym_ident_name(const struct sym_ident *id, const char *prefix, const char *suffix, char *out,
		    size_t len)
{
	static const char hex[] = "0123456789abcdef";
	int n = snprintf(out, len, "%s", prefix);

	/* Not snprintf per byte: every probe's cache names are made (~1,500 instructions a byte). */
	for (uint32_t i = 0; i < id->build_id_len && n + 3 < (int)len; i++) {
		out[n++] = hex[id->build_id[i] >> 4];
		out[n++] = hex[id->build_id[i] & 15];
		out[n] = '\0';
	}
	if (!id->build_id_len && n < (int)len)
		n += snprintf(out + n, len - n, "%" PRIx64 "-%" PRIx64 "-%" PRIx64 "-%" PRIx64,
			      id->dev, id->ino, id->size, id->mtime_ns);
	if (n < (int)len)
		snprintf(out + n, len - n, "%s", suffix);
}
