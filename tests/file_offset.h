/* SPDX-License-Identifier: MIT */
/*
 * tests: the file offset and path of the mapping that holds an address, from
 * /proc/self/maps (under qemu-user, the guest's mappings as qemu shows them).
 */
#ifndef TESTS_FILE_OFFSET_H
#define TESTS_FILE_OFFSET_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* addr's offset in its file, the file's real path in path; 0 when not found. */
static inline uint64_t file_offset_of(const void *addr, char *path, size_t len)
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long lo, hi, off;
	char line[4096], p[PATH_MAX];
	uint64_t ret = 0;

	while (f && fgets(line, sizeof(line), f)) {
		p[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %4095s", &lo, &hi, &off, p) < 3)
			continue;
		if ((uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			ret = (uintptr_t)addr - lo + off;
			if (!realpath(p, path))
				snprintf(path, len, "%s", p);
			break;
		}
	}
	if (f)
		fclose(f);
	return ret;
}

#endif
