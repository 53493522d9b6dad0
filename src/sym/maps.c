/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>

#include "sym/maps.h"

static int maps_parse_line(const char *line, struct maps_entry *e)
{
	unsigned long long start, end, off, ino;
	unsigned int maj, min;
	int n = 0;

	memset(e, 0, sizeof(*e));
	if (sscanf(line, "%llx-%llx %4s %llx %x:%x %llu %n", &start, &end, e->perms, &off, &maj,
		   &min, &ino, &n) < 7)
		return -EINVAL;
	e->start = start;
	e->end = end;
	e->offset = off;
	e->dev = makedev(maj, min);
	e->ino = ino;
	if (n > 0)
		snprintf(e->path, sizeof(e->path), "%.*s", (int)strcspn(line + n, "\n"), line + n);
	return 0;
}

int maps_read(struct maps_entry **out)
{
	FILE *fp = fopen("/proc/self/maps", "re");
	struct maps_entry *v = NULL, *grown;
	size_t n = 0, cap = 0;
	char line[1024];

	if (!fp)
		return -errno;
	while (fgets(line, sizeof(line), fp)) {
		if (n == cap) {
			cap = cap ? cap * 2 : 64;
			grown = realloc(v, cap * sizeof(*v));
			if (!grown) {
				free(v);
				fclose(fp);
				return -ENOMEM;
			}
			v = grown;
		}
		if (!maps_parse_line(line, &v[n]))
			n++;
	}
	fclose(fp);
	*out = v;
	return (int)n;
}

int maps_find_addr(uint64_t addr, struct maps_entry *out)
{
	struct maps_entry *v;
	int n = maps_read(&v), ret = -ENXIO;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		if (addr >= v[i].start && addr < v[i].end) {
			*out = v[i];
			ret = 0;
			break;
		}
	}
	free(v);
	return ret;
}

int maps_find_file_offset(dev_t dev, ino_t ino, uint64_t off, struct maps_entry *out)
{
	struct maps_entry *v;
	int n = maps_read(&v), ret = -ENXIO;

	if (n < 0)
		return n;
	for (int i = 0; i < n; i++) {
		struct maps_entry *e = &v[i];

		if (e->dev != dev || e->ino != ino || e->perms[2] != 'x')
			continue;
		if (off >= e->offset && off - e->offset < e->end - e->start) {
			*out = *e;
			ret = 0;
			break;
		}
	}
	free(v);
	return ret;
}

bool maps_file_mapped(dev_t dev, ino_t ino)
{
	struct maps_entry *v;
	int n = maps_read(&v);
	bool found = false;

	for (int i = 0; i < n && !found; i++)
		found = v[i].dev == dev && v[i].ino == ino;
	if (n >= 0)
		free(v);
	return found;
}
