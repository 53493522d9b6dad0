/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sym/maps.h"

/*
 * One line of /proc/PID/maps, parsed by hand (sscanf cost more than the rest
 * of a process's start-up reading, and took "0x", signs and spaces where the
 * kernel writes none):
 *
 *   START-END PERMS OFFSET MAJ:MIN INODE[ spaces PATH]
 *   7f0c1a000000-7f0c1a026000 r--p 00000000 fe:00 1234   /usr/lib/libc.so.6
 *
 * Hex numbers have 1-16 digits, PERMS is [r-][w-][x-][ps], the inode is
 * decimal (fits 64 bits); PATH is the rest of the line as the kernel wrote it,
 * spaces and " (deleted)" included ([vdso], [heap], "" for anonymous memory),
 * cut to fit path[]. Anything else is -EINVAL: the line is not used.
 */
/* A hex digit's value + 1, 0 for any other byte. */
static const uint8_t hex_digit[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15,
	['f'] = 16, ['A'] = 11, ['B'] = 12, ['C'] = 13, ['D'] = 14, ['E'] = 15, ['F'] = 16,
};

static const char *parse_hex(const char *p, const char *end, uint64_t *v)
{
	const char *s = p;
	uint64_t x = 0;

	if (!p)
		return NULL; /* the separator before was missing */
	for (; p < end && p - s < 16 && hex_digit[(uint8_t)*p]; p++)
		x = x << 4 | (uint64_t)(hex_digit[(uint8_t)*p] - 1);
	if (p == s || (p < end && hex_digit[(uint8_t)*p]))
		return NULL; /* no digit, or more than 16 */
	*v = x;
	return p;
}

static const char *parse_dec(const char *p, const char *end, uint64_t *v)
{
	const char *s = p;
	uint64_t x = 0;

	if (!p)
		return NULL;
	for (; p < end && *p >= '0' && *p <= '9'; p++) {
		if (x > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return NULL;
		x = x * 10 + (uint64_t)(*p - '0');
	}
	if (p == s)
		return NULL;
	*v = x;
	return p;
}

/* The separator c at p: the position after it, or NULL. */
static const char *expect(const char *p, const char *end, char c)
{
	return p && p < end && *p == c ? p + 1 : NULL;
}

static const char *parse_perms(const char *p, const char *end, char perms[5])
{
	static const char *const ok[4] = { "r-", "w-", "x-", "ps" };

	if (!p || end - p < 4)
		return NULL;
	for (int i = 0; i < 4; i++) {
		if (!p[i] || !strchr(ok[i], p[i]))
			return NULL;
		perms[i] = p[i];
	}
	perms[4] = '\0';
	return p + 4;
}

int maps_parse_line(const char *line, size_t len, struct maps_entry *e)
{
	const char *p = line, *end = line + len;
	uint64_t maj, min, ino;
	size_t n;

	memset(e, 0, sizeof(*e));
	p = parse_hex(p, end, &e->start);
	p = p ? parse_hex(expect(p, end, '-'), end, &e->end) : NULL;
	p = p ? parse_perms(expect(p, end, ' '), end, e->perms) : NULL;
	p = p ? parse_hex(expect(p, end, ' '), end, &e->offset) : NULL;
	p = p ? parse_hex(expect(p, end, ' '), end, &maj) : NULL;
	p = p ? parse_hex(expect(p, end, ':'), end, &min) : NULL;
	p = p ? parse_dec(expect(p, end, ' '), end, &ino) : NULL;
	if (!p || e->end < e->start || maj > 0xfffff || min > 0xfffff || (p < end && *p != ' '))
		return -EINVAL;
	e->dev = makedev((unsigned int)maj, (unsigned int)min);
	e->ino = (ino_t)ino;
	while (p < end && *p == ' ')
		p++;
	n = (size_t)(end - p) < sizeof(e->path) - 1 ? (size_t)(end - p) : sizeof(e->path) - 1;
	if (memchr(p, '\0', n))
		return -EINVAL; /* the kernel writes none */
	memcpy(e->path, p, n);
	e->path[n] = '\0';
	return 0;
}

int maps_read(struct maps_entry **out)
{
	return maps_read_pid(0, out);
}

/* The whole file, NUL-terminated: malloc'd, its length in *len; NULL and errno. */
static char *read_all(int fd, size_t *len)
{
	size_t room = 16384, n = 0;
	char *buf = malloc(room), *grown;
	ssize_t got;

	while (buf) {
		if (room - n < 4096) {
			grown = room < (1u << 30) ? realloc(buf, room * 2) : NULL;
			if (!grown)
				break;
			buf = grown;
			room *= 2;
		}
		got = read(fd, buf + n, room - n - 1);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0) {
			if (got < 0)
				break;
			buf[n] = '\0';
			*len = n;
			return buf;
		}
		n += (size_t)got;
	}
	free(buf);
	errno = errno ? errno : ENOMEM;
	return NULL;
}

/* Every line of text, parsed: the count, or -ENOMEM. A line that does not parse is left out. */
static int maps_parse(const char *text, size_t len, struct maps_entry **out)
{
	struct maps_entry *v;
	size_t n = 0, lines = 1;
	const char *p = text, *end = text + len, *nl;

	/*
	 * Room for the lines there are, at once: an entry is 568 bytes, and each
	 * fresh page written costs a fault (~20 us on a VM); doubling from 64
	 * wrote and copied twice the pages, in every traced image's start-up.
	 */
	for (const char *q = text; (q = memchr(q, '\n', (size_t)(end - q))); q++)
		lines++;
	v = malloc(lines * sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		nl = nl ? nl : end;
		if (!maps_parse_line(p, (size_t)(nl - p), &v[n]))
			n++;
	}
	*out = v;
	return (int)n;
}

int maps_read_pid(pid_t pid, struct maps_entry **out)
{
	char name[64], *text;
	size_t len = 0;
	int fd, n;

	if (pid)
		snprintf(name, sizeof(name), "/proc/%d/maps", (int)pid);
	fd = open(pid ? name : "/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	errno = 0;
	text = read_all(fd, &len);
	n = text ? 0 : -errno;
	close(fd);
	if (!text)
		return n;
	n = maps_parse(text, len, out);
	free(text);
	return n;
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

int maps_read_batched(struct maps_entry **out, bool *borrowed)
{
	int n;

	*borrowed = false;
	if (!batch_depth)
		return maps_read(out);
	if (!batch_v) {
		n = maps_read(&batch_v);
		if (n < 0) {
			batch_v = NULL;
			return n;
		}
		batch_n = n;
	}
	*borrowed = true;
	*out = batch_v;
	return batch_n;
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
