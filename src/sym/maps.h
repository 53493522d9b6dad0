/* SPDX-License-Identifier: MIT */
/* The calling process's mappings (/proc/self/maps), or another's. Not for signal context. */
#ifndef UPROBES_SYM_MAPS_H
#define UPROBES_SYM_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct maps_entry {
	uint64_t start, end, offset;
	dev_t dev;
	ino_t ino;
	char perms[5];
	char path[512];
};

/*
 * One line of /proc/PID/maps (len bytes, no newline): 0, or -EINVAL when it
 * is not one the kernel writes (maps.c has the grammar). Exposed for tests.
 */
int maps_parse_line(const char *line, size_t len, struct maps_entry *e);

/* Read every mapping, sorted by address. Returns the count or -errno; free(*out). */
int maps_read(struct maps_entry **out);
/* The same for process pid (0: this one), as far as /proc/PID/maps lets us read. */
int maps_read_pid(pid_t pid, struct maps_entry **out);

/* A batch of lookups by this thread (nests); see sym_batch_begin(). */
void maps_batch_begin(void);
void maps_batch_end(void);

/*
 * Every mapping, as maps_read(), but in a batch the batch's reading (made
 * now if there is none, and kept for its lookups): *borrowed says so, and
 * then the array is not the caller's to free (valid until the batch's next
 * reading or its end). A name not found there may be in a reading anew.
 */
int maps_read_batched(struct maps_entry **out, bool *borrowed);

/* The mapping that contains addr: 0 or -ENXIO. */
int maps_find_addr(uint64_t addr, struct maps_entry *out);

/* The executable mapping of file (dev, ino) that covers file offset off: 0 or -ENXIO. */
int maps_find_file_offset(dev_t dev, ino_t ino, uint64_t off, struct maps_entry *out);

/* Is (dev, ino) mapped at all? */
bool maps_file_mapped(dev_t dev, ino_t ino);

/*
 * Does a file's base name answer to the short name NAME? "libc.so.6" does to
 * "libc.so.6", "libc" and "c"; "python3.11" to "python3.11".
 */
bool maps_short_name(const char *base, const char *name);

#endif
