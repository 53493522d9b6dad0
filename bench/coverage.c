/* SPDX-License-Identifier: MIT */
/*
 * Coverage report: for every function-entry symbol of an ELF file, would a
 * probe be jump-optimized, take the breakpoint path, or be refused, and why.
 *
 *   coverage [-v] [FILE...]   (default: libc.so.6, python3.11, libsqlite3.so.0;
 *                              under BENCH_QUICK, libc.so.6 alone)
 *
 * Ends with "summary: optimized_pct=... int3_pct=... refused_pct=..." over all
 * files. Uses uprobe_analyze(), which reads files this process has not mapped.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "uprobes.h"
#include "harness.h"

#define MAX_REASONS 256

struct tally {
	unsigned optimized, int3, refused;
	struct {
		char text[128];
		unsigned n;
	} reasons[MAX_REASONS];
	unsigned nreasons;
};

struct func {
	uint64_t addr;
	char *name;
};

static int verbose;

static void reason_add(struct tally *t, const char *why)
{
	char key[128];
	unsigned i;

	/* Group by the reason's wording: drop offsets and addresses. */
	snprintf(key, sizeof(key), "%s", why);
	for (char *p = key; *p; p++) {
		if (p[0] == '0' && p[1] == 'x') {
			p[0] = 'N';
			memmove(p + 1, p + 2 + strspn(p + 2, "0123456789abcdef"),
				strlen(p + 2 + strspn(p + 2, "0123456789abcdef")) + 1);
		} else if (*p == '\'') {
			char *end = strchr(p + 1, '\'');

			if (end)
				memmove(p + 2, end, strlen(end) + 1), p[1] = '.';
		}
	}
	for (char *p = key; *p; p++)
		if (*p >= '0' && *p <= '9')
			*p = 'N';
	for (i = 0; i < t->nreasons; i++)
		if (!strcmp(t->reasons[i].text, key))
			break;
	if (i == t->nreasons) {
		if (i == MAX_REASONS)
			return;
		snprintf(t->reasons[i].text, sizeof(t->reasons[i].text), "%s", key);
		t->nreasons++;
	}
	t->reasons[i].n++;
}

static int func_cmp(const void *a, const void *b)
{
	const struct func *x = a, *y = b;

	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Function symbols with a size, one per address (.symtab if present, else .dynsym). */
static size_t collect(const char *path, struct func **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	Elf *elf;
	Elf_Scn *scn = NULL;
	struct func *v = NULL;
	size_t n = 0, cap = 0;
	int want = SHT_SYMTAB;

	*out = NULL;
	if (fd < 0)
		return 0;
	elf_version(EV_CURRENT);
	elf = elf_begin(fd, ELF_C_READ, NULL);
retry:
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || (int)sh.sh_type != want || !(d = elf_getdata(scn, 0)))
			continue;
		for (size_t i = 0; i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;

			if (!gelf_getsym(d, i, &s) || GELF_ST_TYPE(s.st_info) != STT_FUNC ||
			    s.st_shndx == SHN_UNDEF || !s.st_value || !s.st_size)
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 1024;
				v = realloc(v, cap * sizeof(*v));
			}
			v[n].addr = s.st_value;
			v[n].name = strdup(elf_strptr(elf, sh.sh_link, s.st_name));
			n++;
		}
	}
	if (!n && want == SHT_SYMTAB) {
		want = SHT_DYNSYM;
		scn = NULL;
		goto retry;
	}
	if (elf)
		elf_end(elf);
	close(fd);
	qsort(v, n, sizeof(*v), func_cmp);
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && v[m - 1].addr == v[i].addr) {
			free(v[i].name);
			continue;
		}
		v[m++] = v[i];
	}
	*out = v;
	return m;
}

static void report(const char *path, struct tally *all)
{
	struct tally t = { 0 };
	struct func *funcs = NULL;
	size_t n = collect(path, &funcs);
	unsigned total;

	for (size_t i = 0; i < n; i++) {
		struct uprobe_info info = { .sz = sizeof(info) };
		int err = uprobe_analyze(path, funcs[i].name, 0, &info);

		if (!err && info.mode == UPROBE_MODE_OPTIMIZED) {
			t.optimized++;
		} else if (!err) {
			t.int3++;
			reason_add(&t, info.opt_reason);
		} else {
			t.refused++;
			reason_add(&t, uprobe_last_error() + strlen(path) + strlen(funcs[i].name) + 3);
		}
		if (verbose)
			printf("  %-40s %s %s\n", funcs[i].name,
			       err ? "refused" : uprobe_mode_name(info.mode),
			       err ? uprobe_last_error() : info.opt_reason);
		free(funcs[i].name);
	}
	free(funcs);
	total = t.optimized + t.int3 + t.refused;
	printf("%s: %u functions: %u optimized (%.1f%%), %u int3 (%.1f%%), %u refused (%.1f%%)\n",
	       path, total, t.optimized, total ? 100.0 * t.optimized / total : 0, t.int3,
	       total ? 100.0 * t.int3 / total : 0, t.refused, total ? 100.0 * t.refused / total : 0);
	for (unsigned i = 0; i < t.nreasons; i++) {
		unsigned best = i;

		for (unsigned j = i + 1; j < t.nreasons; j++)
			if (t.reasons[j].n > t.reasons[best].n)
				best = j;
		if (best != i) {
			__typeof__(t.reasons[0]) tmp = t.reasons[i];
			t.reasons[i] = t.reasons[best];
			t.reasons[best] = tmp;
		}
		printf("  %6u  %s\n", t.reasons[i].n, t.reasons[i].text);
	}
	all->optimized += t.optimized;
	all->int3 += t.int3;
	all->refused += t.refused;
}

int main(int argc, char **argv)
{
	const char *defaults[] = { "/lib/x86_64-linux-gnu/libc.so.6", "/usr/bin/python3.11",
				   "/usr/lib/x86_64-linux-gnu/libsqlite3.so.0" };
	struct tally all = { 0 };
	unsigned total;
	int first = 1;

	int files = 0;

	if (argc > 1 && !strcmp(argv[1], "-v"))
		verbose = 1, first = 2;
	/*
	 * Arguments that are not readable files are ignored: bench/run.sh passes
	 * the timing benches' BENCH_ARGS ("-r 3 -t 50") to every program.
	 */
	for (int i = first; i < argc; i++) {
		if (argv[i][0] == '-' || access(argv[i], R_OK))
			continue;
		report(argv[i], &all);
		files++;
	}
	if (!files) {
		unsigned n = bench_quick() ? 1 : sizeof(defaults) / sizeof(defaults[0]);

		for (unsigned i = 0; i < n; i++)
			if (!access(defaults[i], R_OK))
				report(defaults[i], &all);
	}
	total = all.optimized + all.int3 + all.refused;
	if (!total)
		total = 1;
	bench_sum("optimized_pct", "%.1f", 100.0 * all.optimized / total);
	bench_sum("int3_pct", "%.1f", 100.0 * all.int3 / total);
	bench_sum("refused_pct", "%.1f", 100.0 * all.refused / total);
	bench_sum("functions", "%u", all.optimized + all.int3 + all.refused);
	bench_sum_print();
	return 0;
}
