/* SPDX-License-Identifier: MIT */
/*
 * /proc/PID/maps parsed by hand (src/sym/maps.c): the lines the kernel
 * writes (anonymous memory, [vdso], deleted files, spaces in names, names
 * longer than a path[]), lines it does not (refused), and a file name made to
 * look like a mapping of its own, which must not become one.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "sym/maps.h"
#include "testlib.h"

TL_DEFINE("symbols");

static int parse(const char *line, struct maps_entry *e)
{
	return maps_parse_line(line, strlen(line), e);
}

static void maps_lines(void)
{
	struct maps_entry e;

	CHECK_EQ_INT(parse("7f0c1a000000-7f0c1a026000 r-xp 00026000 fe:01 1234567   "
			   "               /usr/lib/x86_64-linux-gnu/libc.so.6", &e), 0);
	CHECK_EQ_U64(e.start, 0x7f0c1a000000);
	CHECK_EQ_U64(e.end, 0x7f0c1a026000);
	CHECK_EQ_U64(e.offset, 0x26000);
	CHECK_EQ_U64(e.dev, makedev(0xfe, 1));
	CHECK_EQ_U64(e.ino, 1234567);
	CHECK_STR(e.perms, "r-xp");
	CHECK_STR(e.path, "/usr/lib/x86_64-linux-gnu/libc.so.6");

	CHECK_EQ_INT(parse("55ca8adbc000-55ca8addd000 rw-p 00000000 00:00 0 ", &e), 0);
	CHECK_STR(e.path, "");
	CHECK_EQ_INT(parse("55ca8adbc000-55ca8addd000 rw-p 00000000 00:00 0", &e), 0);
	CHECK_STR(e.path, "");
	CHECK_EQ_INT(parse("7ffd1000-7ffd3000 r-xp 00000000 00:00 0      [vdso]", &e), 0);
	CHECK_STR(e.path, "[vdso]");
	CHECK_STR(e.perms, "r-xp");
	CHECK_EQ_INT(parse("ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0  [vsyscall]",
			   &e), 0);
	CHECK_EQ_U64(e.end, 0xffffffffff601000);
	CHECK_EQ_INT(parse("7f00-7f10 r-xs 00001000 00:05 42  /memfd:uprobes-trace (deleted)", &e), 0);
	CHECK_STR(e.path, "/memfd:uprobes-trace (deleted)");
	CHECK_STR(e.perms, "r-xs");
	CHECK_EQ_INT(parse("7f00-7f10 r--p 00000000 08:02 7 /tmp/a b  c (deleted)", &e), 0);
	CHECK_STR(e.path, "/tmp/a b  c (deleted)");
	CHECK_EQ_INT(parse("7F00-7F10 ---p 0 0:0 18446744073709551615 /x", &e), 0);
	CHECK_EQ_U64(e.start, 0x7f00);
	CHECK_EQ_U64(e.ino, UINT64_MAX);
}

/* What the kernel never writes: no entry. */
static void maps_refused(void)
{
	static const char *const bad[] = {
		"",
		" 7f00-7f10 r-xp 00000000 00:00 0",
		"0x7f00-7f10 r-xp 00000000 00:00 0",
		"7f00-0x7f10 r-xp 00000000 00:00 0",
		"-7f00-7f10 r-xp 00000000 00:00 0",
		"7f00 7f10 r-xp 00000000 00:00 0",
		"7f00-7f10 rwzp 00000000 00:00 0",
		"7f00-7f10 r-x 00000000 00:00 0",
		"7f00-7f10 r-xpp 00000000 00:00 0",
		"7f00-7f10  r-xp 00000000 00:00 0",
		"7f00-7f10 r-xp +0000000 00:00 0",
		"7f00-7f10 r-xp 00000000 00-00 0",
		"7f00-7f10 r-xp 00000000 00:00",
		"7f00-7f10 r-xp 00000000 00:00 ",
		"7f00-7f10 r-xp 00000000 00:00 12ab /x",
		"7f00-7f10 r-xp 00000000 00:00 -1 /x",
		"7f00-7f10 r-xp 00000000 00:00 18446744073709551616 /x",
		"17f00000000000000-17f00000000000001 r-xp 00000000 00:00 0",
		"7f00-7f10 r-xp 10000000000000000 00:00 0",
		"7f00-7f10 r-xp 00000000 100000:00 0",
		"7f10-7f00 r-xp 00000000 00:00 0",
		"7f00-7f10 r-xp",
		"7f00-",
	};
	struct maps_entry e;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (parse(bad[i], &e) != -EINVAL)
			TL_FAIL("taken: \"%s\"", bad[i]);
	/* A NUL inside the line (the kernel writes none). */
	CHECK_EQ_INT(maps_parse_line("7f00-7f10 r-xp 0 00:00 0 /a\0b", 29, &e), -EINVAL);
}

/* A name longer than path[]: cut, the entry kept. */
static void maps_long_name(void)
{
	char line[2048];
	struct maps_entry e;
	int n = snprintf(line, sizeof(line), "7f00-7f10 r-xp 00000000 00:00 1 /");

	memset(line + n, 'a', 1500);
	line[n + 1500] = '\0';
	CHECK_EQ_INT(parse(line, &e), 0);
	CHECK_EQ_U64(strlen(e.path), sizeof(e.path) - 1);
	CHECK(e.path[0] == '/' && e.path[1] == 'a');
}

/*
 * A mapped file whose path is longer than a line buffer and ends in text
 * shaped like a mapping: the reader by fgets() of 1024 bytes took its tail
 * for one (a file name is the target's to choose). The made-up line starts at
 * byte 1023 of the kernel's line (the path is at column 73 on x86-64). Read
 * back from /proc/self/maps: the file once, at its true address, and no
 * mapping at the made-up one.
 */
#define PATH_COLUMN 73

static void maps_name_like_a_line(void)
{
	char dir[4096] = "/tmp/uprobes-maps-XXXXXX", path[4096];
	struct maps_entry *v = NULL;
	int n, fd, found = 0, fake = 0;
	size_t want = 1023 - PATH_COLUMN - 1; /* where the last '/' goes */
	void *at;

	if (!mkdtemp(dir)) {
		TL_FAIL("mkdtemp: %s", strerror(errno));
		return;
	}
	snprintf(path, sizeof(path), "%s", dir);
	while (strlen(path) < want) { /* directories of up to 200 bytes */
		size_t l = strlen(path), k = want - l - 1 < 200 ? want - l - 1 : 200;

		path[l] = '/';
		memset(path + l + 1, 'd', k ? k : 1);
		path[l + 1 + (k ? k : 1)] = '\0';
		CHECK(!mkdir(path, 0700));
	}
	CHECK_EQ_U64(strlen(path), want);
	strcat(path, "/7f0000000000-7f0000001000 r-xp 00000000 00:00 0 fake");
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0 && !ftruncate(fd, 4096));
	at = fd >= 0 ? mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	CHECK(at != MAP_FAILED);
	n = maps_read(&v);
	CHECK(n > 0);
	for (int i = 0; i < n; i++) {
		found += v[i].start == (uint64_t)(uintptr_t)at && !strncmp(v[i].path, dir, strlen(dir));
		fake += v[i].start == 0x7f0000000000;
	}
	CHECK_EQ_INT(found, 1);
	CHECK_EQ_INT(fake, 0);
	free(v);
	if (at != MAP_FAILED)
		munmap(at, 4096);
	if (fd >= 0)
		close(fd);
	unlink(path);
	while (strlen(path) > strlen(dir)) {
		*strrchr(path, '/') = '\0';
		rmdir(path);
	}
}

int main(void)
{
	RUN(maps_lines);
	RUN(maps_refused);
	RUN(maps_long_name);
	RUN(maps_name_like_a_line);
	TL_EXIT();
}
