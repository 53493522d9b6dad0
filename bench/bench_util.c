/* SPDX-License-Identifier: MIT */
/*
 * Small helpers the benchmark programs share: clocks, where a function is in
 * its file (ELF symbol and /proc/self/maps, to cross-check), reading a
 * child's output.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_util.h"

uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void sleep_ms(unsigned int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};

	nanosleep(&ts, NULL);
}

/* Sum of i + b for i in [first, first + n): n * b plus a difference of triangles. */
uint64_t sum_of_calls(uint64_t first, uint64_t n, uint64_t b)
{
	uint64_t end = first + n;
	uint64_t tri_end = end % 2 ? end * ((end - 1) / 2) : (end / 2) * (end - 1);
	uint64_t tri_first = first % 2 ? first * ((first - 1) / 2) : (first / 2) * (first - 1);

	return tri_end - tri_first + n * b;
}

static int sym_value(Elf *e, const char *name, GElf_Addr *value)
{
	Elf_Scn *scn = NULL;

	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || !sh.sh_entsize)
			continue;
		d = elf_getdata(scn, NULL);
		for (size_t i = 0; d && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			const char *n;

			if (!gelf_getsym(d, (int)i, &s))
				continue;
			n = elf_strptr(e, sh.sh_link, s.st_name);
			if (n && !strcmp(n, name)) {
				*value = s.st_value;
				return 0;
			}
		}
	}
	return -1;
}

/* File offset of a symbol: its value, mapped through the PT_LOAD that holds it. */
int elf_sym_offset(const char *path, const char *name, uint64_t *off, char *why, size_t whylen)
{
	GElf_Addr value = 0;
	size_t nph;
	int fd, ret = -1;
	Elf *e;

	elf_version(EV_CURRENT);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(why, whylen, "open %s: %s", path, strerror(errno));
		return -1;
	}
	e = elf_begin(fd, ELF_C_READ, NULL);
	if (!e) {
		snprintf(why, whylen, "elf_begin %s: %s", path, elf_errmsg(-1));
		close(fd);
		return -1;
	}
	if (sym_value(e, name, &value)) {
		snprintf(why, whylen, "%s: no symbol %s in .symtab", path, name);
		goto out;
	}
	if (elf_getphdrnum(e, &nph))
		nph = 0;
	for (size_t i = 0; i < nph && ret; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (value >= ph.p_vaddr && value < ph.p_vaddr + ph.p_filesz) {
			*off = value - ph.p_vaddr + ph.p_offset;
			ret = 0;
		}
	}
	if (ret)
		snprintf(why, whylen, "%s: %s at 0x%" PRIx64 " is in no PT_LOAD", path, name,
			 (uint64_t)value);
out:
	elf_end(e);
	close(fd);
	return ret;
}

/* Cross-check: the file offset of a code address according to /proc/self/maps. */
int maps_offset(const void *addr, uint64_t *off)
{
	unsigned long lo, hi, pgoff;
	uintptr_t a = (uintptr_t)addr;
	char line[512];
	FILE *f = fopen("/proc/self/maps", "re");
	int ret = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %*s %lx", &lo, &hi, &pgoff) == 3 && a >= lo && a < hi) {
			*off = a - lo + pgoff;
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

int exe_sym_offset(const char *sym, const void *addr, char *exe, uint64_t *off, char *why,
		   size_t whylen)
{
	uint64_t m;

	if (!realpath("/proc/self/exe", exe)) {
		snprintf(why, whylen, "realpath(/proc/self/exe): %s", strerror(errno));
		exe[0] = 0;
		return -1;
	}
	if (elf_sym_offset(exe, sym, off, why, whylen))
		return -1;
	printf("%s: %s at file offset 0x%" PRIx64 "\n", exe, sym, *off);
	if (!maps_offset(addr, &m) && m != *off)
		printf("warning: /proc/self/maps puts %s at file offset 0x%" PRIx64
		       ", not 0x%" PRIx64 "\n",
		       sym, m, *off);
	return 0;
}

/* Read fd until EOF or the deadline, keeping the last len - 1 bytes. */
void read_tail(int fd, char *buf, size_t len, uint64_t deadline)
{
	size_t n = strlen(buf);
	char tmp[1024];

	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		uint64_t now = now_ns();
		ssize_t r;

		if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
			break;
		r = read(fd, tmp, sizeof(tmp));
		if (r <= 0)
			break;
		if (n + (size_t)r >= len) {
			size_t drop = n + (size_t)r - (len - 1);

			drop = drop > n ? n : drop;
			memmove(buf, buf + drop, n - drop);
			n -= drop;
			if ((size_t)r >= len)
				r = (ssize_t)len - 1;
		}
		memcpy(buf + n, tmp, (size_t)r);
		n += (size_t)r;
		buf[n] = 0;
	}
}

/* The last non-empty line of s, for error messages. */
const char *last_line(char *s)
{
	size_t n = strlen(s);
	char *p;

	while (n && (s[n - 1] == '\n' || s[n - 1] == '\r'))
		s[--n] = 0;
	p = strrchr(s, '\n');
	p = p ? p + 1 : s;
	return *p ? p : "(no output)";
}
