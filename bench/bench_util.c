/* SPDX-License-Identifier: MIT */
/*
 * What the benchmark programs share: clocks, where a function is in its file
 * (ELF symbol and /proc/self/maps, to cross-check), medians, and running
 * bpftrace beside the bench.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
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

int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void spread(const double *v, int n, double *lo, double *med, double *hi)
{
	double s[n];

	memcpy(s, v, sizeof(double) * (size_t)n);
	qsort(s, (size_t)n, sizeof(double), cmp_double);
	*lo = s[0];
	*hi = s[n - 1];
	*med = n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

int pin_to_current_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -1 : cpu;
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
int elf_sym_offset(const char *path, const char *name, uint64_t *off, char *why,
			  size_t whylen)
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

/* Characters bpftrace's parser accepts unquoted in a probe's path. */
bool plain_path(const char *p)
{
	for (; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("/._-+", *p))
			return false;
	return true;
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

void bpftrace_child(const char *bin, int out, const char *pid, const char *prog)
{
	cpu_set_t all;

	/* Undo the bench's pinning: bpftrace's start-up must not take our CPU. */
	CPU_ZERO(&all);
	for (int i = 0; i < CPU_SETSIZE; i++)
		CPU_SET(i, &all);
	sched_setaffinity(0, sizeof(all), &all);
	/* If the bench dies (a timeout), bpftrace stops and takes its uprobe with it. */
	prctl(PR_SET_PDEATHSIG, SIGINT);
	dup2(out, 1);
	dup2(out, 2);
	execl(bin, "bpftrace", "-B", "none", "-p", pid, "-e", prog, (char *)NULL);
	_exit(127);
}

void find_bpftrace(char *out, size_t len)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/bpftrace", (int)n, path);
		if (n && !access(buf, X_OK)) {
			snprintf(out, len, "%s", buf);
			return;
		}
		path += n + (path[n] == ':');
	}
}
