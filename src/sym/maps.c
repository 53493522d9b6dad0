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
	return maps_read_pid(0, out);
}

int maps_read_pid(pid_t pid, struct maps_entry **out)
{
	char name[64];
	FILE *fp;
	struct maps_entry *v = NULL, *grown;
	size_t n = 0, cap = 0;
	char line[1024];

	if (pid)
		snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
	fp = fopen(pid ? name : "/proc/self/maps", "re");
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

/*
 * In a batch (maps_batch_begin), lookups use one reading of the maps, read
 * again only when a lookup misses: mappings that exist stay where they are.
 */
static __thread int batch_depth;
static __thread struct maps_entry *batch_v;
static __thread int batch_n;

void maps_batch_begin(void)
{
	batch_depth++;
}

void maps_batch_end(void)
{
	if (batch_depth <= 0 || --batch_depth)
		return;
	free(batch_v);
	batch_v = NULL;
	batch_n = 0;
}

struct maps_query {
	uint64_t addr; /* by address, when !by_file */
	bool by_file;
	dev_t dev;
	ino_t ino;
	uint64_t off;
	bool any_off; /* by_file: any mapping of the file */
};

static bool maps_match(const struct maps_entry *e, const struct maps_query *q)
{
	if (!q->by_file)
		return q->addr >= e->start && q->addr < e->end;
	if (e->dev != q->dev || e->ino != q->ino)
		return false;
	return q->any_off || (e->perms[2] == 'x' && q->off >= e->offset &&
			      q->off - e->offset < e->end - e->start);
}

static int maps_lookup(const struct maps_query *q, struct maps_entry *out)
{
	struct maps_entry *v;
	bool found = false;
	int n;

	for (int i = 0; batch_depth && i < batch_n; i++) {
		if (maps_match(&batch_v[i], q)) {
			*out = batch_v[i];
			return 0;
		}
	}
	n = maps_read(&v);
	if (n < 0)
		return n;
	for (int i = 0; i < n && !found; i++) {
		if (maps_match(&v[i], q)) {
			*out = v[i];
			found = true;
		}
	}
	if (batch_depth) {
		free(batch_v);
		batch_v = v;
		batch_n = n;
	} else {
		free(v);
	}
	return found ? 0 : -ENXIO;
}

int maps_find_addr(uint64_t addr, struct maps_entry *out)
{
	return maps_lookup(&(struct maps_query){ .addr = addr }, out);
}

int maps_find_file_offset(dev_t dev, ino_t ino, uint64_t off, struct maps_entry *out)
{
	return maps_lookup(&(struct maps_query){ .by_file = true, .dev = dev, .ino = ino, .off = off },
			   out);
}

bool maps_file_mapped(dev_t dev, ino_t ino)
{
	struct maps_entry e;

	return !maps_lookup(&(struct maps_query){ .by_file = true, .dev = dev, .ino = ino,
						 .any_off = true },
			    &e);
}

bool maps_short_name(const char *base, const char *name)
{
	size_t n = strlen(name);

	if (!strcmp(base, name))
		return true;
	if (!strncmp(base, name, n) && !strncmp(base + n, ".so", 3))
		return true;
	return !strncmp(base, "lib", 3) && !strncmp(base + 3, name, n) &&
	       !strncmp(base + 3 + n, ".so", 3);
}
