// SPDX-License-Identifier: MIT
/*
 * aarch64 coverage report (issue 20), run under qemu-aarch64 by
 * `make ARCH=aarch64 bench-aarch64`: for every function entry of an arm64 ELF
 * file, would a probe there be jump-optimized with a fast trampoline (no trap
 * at any hit), jump-optimized with a trampoline that leaves through brk
 * (blr x30, blraa ..., a branch out of reach), or refused, and why. Then the
 * same over every instruction of those functions (a probe anywhere).
 *
 *   coverage_aarch64 [-v] [FILE...]   (default: arm64 libc.so.6, libsqlite3.so.0)
 *
 * The trampoline is placed as the library's XOL areas are: past the file's
 * last loaded segment. Ends with "summary: optimized_pct=... slow_pct=...
 * refused_pct=..." over all files.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch/aarch64/insn.h"
#include "arch/aarch64/jump.h"
#include "harness.h"

struct tally {
	unsigned fast, slow, refused;
	unsigned by_op[ARCH_OP_PRFM_LIT + 1];
};

static int verbose;

static void noop_fn(void *rec, struct uprobe_regs *regs)
{
	(void)rec;
	(void)regs;
}

/* The bytes of the function sym (st_size of them), from its section. */
static const uint8_t *func_bytes(Elf *elf, const GElf_Sym *s)
{
	Elf_Scn *scn = elf_getscn(elf, s->st_shndx);
	GElf_Shdr sh;
	Elf_Data *d;

	if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type != SHT_PROGBITS ||
	    s->st_value < sh.sh_addr ||
	    s->st_value + (s->st_size ? s->st_size : 4) > sh.sh_addr + sh.sh_size ||
	    !(d = elf_getdata(scn, NULL)) || !d->d_buf)
		return NULL;
	return (const uint8_t *)d->d_buf + (s->st_value - sh.sh_addr);
}

static uint64_t image_end(Elf *elf)
{
	size_t n = 0;
	uint64_t end = 0;

	elf_getphdrnum(elf, &n);
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (gelf_getphdr(elf, i, &ph) && ph.p_type == PT_LOAD && ph.p_vaddr + ph.p_memsz > end)
			end = ph.p_vaddr + ph.p_memsz;
	}
	return (end + 0xffff) & ~0xffffull;
}

static void classify(Elf *elf, const GElf_Sym *s, const char *name, uint64_t tramp,
		     struct tally *t)
{
	static uint8_t buf[ARCH_TRAMP_MAX];
	const uint8_t *code = func_bytes(elf, s);
	struct arch_insn ai;
	char why[160] = "unreadable";
	bool fast = false;
	int err = code ? 0 : -EIO;

	if (!err)
		err = arch_insn_analyze(&ai, code, 4, s->st_value, why, sizeof(why));
	if (!err)
		err = arch_jump_build(&ai, tramp, noop_fn, NULL, false, buf, &fast);
	if (err < 0)
		t->refused++;
	else if (fast)
		t->fast++, t->by_op[ai.op]++;
	else
		t->slow++;
	if (verbose || (err >= 0 && !fast) || err < 0)
		printf("  %-36s %s%s%s\n", name, err < 0 ? "refused" : fast ? "fast" : "slow",
		       err < 0 ? ": " : "", err < 0 ? why : "");
}

/* Every instruction of every function, not only entries: what a probe anywhere meets. */
struct insn_tally {
	unsigned long total, fast, slow, inside_excl, excl, exception, undecodable;
	uint32_t sample[4];
};

static void classify_all(Elf *elf, const GElf_Sym *s, uint64_t tramp, struct insn_tally *t)
{
	static uint8_t buf[ARCH_TRAMP_MAX];
	const uint8_t *code = func_bytes(elf, s);
	char why[160];
	struct arch_insn ai;

	for (size_t off = 0; code && off + 4 <= s->st_size; off += 4) {
		int err = arch_insn_analyze(&ai, code + off, 4, s->st_value + off, why, sizeof(why));
		bool fast = false;

		t->total++;
		if (err == -EILSEQ) {
			if (t->undecodable < 4)
				memcpy(&t->sample[t->undecodable], code + off, 4);
			t->undecodable++;
		} else if (err) {
			(*(strstr(why, "exclusive") ? &t->excl : &t->exception))++;
		} else if (arch_insn_in_exclusive(code, s->st_size, off, s->st_value, NULL, 0)) {
			t->inside_excl++;
		} else if (arch_jump_build(&ai, tramp, noop_fn, NULL, false, buf, &fast) < 0 || !fast) {
			t->slow++;
		} else {
			t->fast++;
		}
	}
}

static void report_all(const struct insn_tally *t)
{
	printf("  every instruction of those functions: %lu: %lu fast (%.1f%%), %lu slow, %lu inside "
	       "exclusive sequences, refused: %lu exclusive, %lu exception, %lu undecodable",
	       t->total, t->fast, t->total ? 100.0 * t->fast / t->total : 0, t->slow, t->inside_excl,
	       t->excl, t->exception, t->undecodable);
	for (unsigned long i = 0; i < t->undecodable && i < 4; i++)
		printf("%s%08x", i ? " " : " (", t->sample[i]);
	printf("%s\n", t->undecodable ? " ...)" : "");
}

static int sym_cmp(const void *a, const void *b)
{
	const GElf_Sym *x = a, *y = b;

	return x->st_value < y->st_value ? -1 : x->st_value > y->st_value;
}

/* Every defined function of .dynsym, one per entry address (aliases once). */
static size_t entries(Elf *elf, GElf_Sym **out, size_t *strtab)
{
	Elf_Scn *scn = NULL;
	GElf_Sym *v = NULL;
	size_t n = 0, m = 0;

	while ((scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *d;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM || !(d = elf_getdata(scn, 0)))
			continue;
		*strtab = sh.sh_link;
		v = calloc(sh.sh_size / sh.sh_entsize + 1, sizeof(*v));
		for (size_t i = 0; v && i < sh.sh_size / sh.sh_entsize; i++)
			if (gelf_getsym(d, i, &v[n]) && GELF_ST_TYPE(v[n].st_info) == STT_FUNC &&
			    v[n].st_shndx != SHN_UNDEF && v[n].st_value)
				n++;
	}
	if (n)
		qsort(v, n, sizeof(*v), sym_cmp);
	for (size_t i = 0; i < n; i++)
		if (!m || v[m - 1].st_value != v[i].st_value)
			v[m++] = v[i];
	*out = v;
	return m;
}

static void report(const char *path, struct tally *all)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct tally t = { 0 };
	struct insn_tally all_insns = { 0 };
	GElf_Sym *syms = NULL;
	size_t n, strtab = 0;
	uint64_t tramp;
	Elf *elf;

	if (fd < 0 || !(elf = elf_begin(fd, ELF_C_READ, NULL))) {
		printf("%s: cannot read\n", path);
		bench_check(false, false, "%s readable", path);
		return;
	}
	tramp = image_end(elf);
	n = entries(elf, &syms, &strtab);
	for (size_t i = 0; i < n; i++) {
		classify(elf, &syms[i], elf_strptr(elf, strtab, syms[i].st_name), tramp, &t);
		classify_all(elf, &syms[i], tramp, &all_insns);
	}
	free(syms);
	elf_end(elf);
	close(fd);
	unsigned total = t.fast + t.slow + t.refused;

	printf("%s: %u function entries: %u fast (%.1f%%), %u slow (%.1f%%), %u refused\n", path,
	       total, t.fast, total ? 100.0 * t.fast / total : 0, t.slow,
	       total ? 100.0 * t.slow / total : 0, t.refused);
	printf("  fast by class (enum arch_op):");
	for (int op = 0; op <= ARCH_OP_PRFM_LIT; op++)
		if (t.by_op[op])
			printf(" %d:%u", op, t.by_op[op]);
	printf("\n");
	report_all(&all_insns);
	all->fast += t.fast;
	all->slow += t.slow;
	all->refused += t.refused;
}

int main(int argc, char **argv)
{
	const char *defaults[] = { "/usr/lib/aarch64-linux-gnu/libc.so.6",
				   "/usr/lib/aarch64-linux-gnu/libsqlite3.so.0" };
	struct tally all = { 0 };
	int first = 1;

	setvbuf(stdout, NULL, _IOLBF, 0);
	elf_version(EV_CURRENT);
	if (argc > 1 && !strcmp(argv[1], "-v"))
		verbose = 1, first = 2;
	if (first < argc)
		for (int i = first; i < argc; i++)
			report(argv[i], &all);
	else
		for (unsigned i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++)
			report(defaults[i], &all);
	unsigned total = all.fast + all.slow + all.refused;
	double pct = total ? 100.0 * all.fast / total : 0;

	bench_check(total > 0 && pct >= 95.0, false, "function entries optimized %.1f%% (target 95%%)",
		    pct);
	bench_sum("entries", "%u", total);
	bench_sum("optimized_pct", "%.1f", pct);
	bench_sum("slow_pct", "%.1f", total ? 100.0 * all.slow / total : 0);
	bench_sum("refused_pct", "%.1f", total ? 100.0 * all.refused / total : 0);
	bench_sum_print();
	return bench_failures() ? 1 : 0;
}
