/* SPDX-License-Identifier: MIT */
/*
 * elf_mutate IN OUTDIR SEED: deterministic mutants of the ELF file IN, for
 * tests/hostile/elf_mutate.sh. Writes into OUTDIR:
 *
 *   tOFFSET   IN cut at OFFSET: at the edges of its structure (nothing left,
 *             every 8 bytes of the ELF header, at and inside the program and
 *             section header tables, at the start of every section) and at 8
 *             evenly spaced points;
 *   fK        IN with 1 to 4 bytes changed (K = 0..FLIPS-1): half of them in
 *             its headers (ELF, program, section), the other half in the
 *             contents of its sections, to 0, 0xff, 0x80 or a random value.
 *
 * The same IN and SEED always give the same files (xorshift64 from SEED).
 * Prints the number of files written.
 */
#include <elf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FLIPS 32
#define MAX_CUTS 512

static uint64_t rng;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct region {
	size_t off, len;
};

struct input {
	uint8_t *data;
	size_t size;
	struct region hdr[3];	   /* ELF header, program headers, section headers */
	struct region sec[256];	   /* section contents inside the file */
	size_t nsec;
	size_t cuts[MAX_CUTS];
	size_t ncuts;
};

static void add_cut(struct input *in, size_t off)
{
	if (off >= in->size || in->ncuts == MAX_CUTS)
		return;
	for (size_t i = 0; i < in->ncuts; i++)
		if (in->cuts[i] == off)
			return;
	in->cuts[in->ncuts++] = off;
}

static struct region clip(const struct input *in, uint64_t off, uint64_t len)
{
	if (off >= in->size)
		return (struct region){ 0, 0 };
	if (len > in->size - off)
		len = in->size - off;
	return (struct region){ (size_t)off, (size_t)len };
}

/* The structure of IN: where its headers and sections are. */
static void map_input(struct input *in)
{
	Elf64_Ehdr eh;

	in->hdr[0] = clip(in, 0, sizeof(eh));
	for (size_t k = 0; k < sizeof(eh); k += 8)
		add_cut(in, k);
	if (in->size < sizeof(eh))
		return;
	memcpy(&eh, in->data, sizeof(eh));
	in->hdr[1] = clip(in, eh.e_phoff, (uint64_t)eh.e_phnum * eh.e_phentsize);
	in->hdr[2] = clip(in, eh.e_shoff, (uint64_t)eh.e_shnum * eh.e_shentsize);
	add_cut(in, eh.e_phoff);
	add_cut(in, eh.e_phoff + eh.e_phentsize / 2);
	add_cut(in, eh.e_shoff);
	for (size_t i = 0; i < eh.e_shnum && eh.e_shentsize == sizeof(Elf64_Shdr); i++) {
		Elf64_Shdr sh;
		uint64_t at = eh.e_shoff + i * sizeof(sh);

		if (at + sizeof(sh) > in->size || in->nsec == 256)
			break;
		memcpy(&sh, in->data + at, sizeof(sh));
		if (sh.sh_type == SHT_NOBITS || !sh.sh_size)
			continue;
		in->sec[in->nsec] = clip(in, sh.sh_offset, sh.sh_size);
		if (!in->sec[in->nsec].len)
			continue;
		add_cut(in, sh.sh_offset);
		in->nsec++;
	}
	add_cut(in, eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize / 2);
	add_cut(in, eh.e_shoff + (uint64_t)eh.e_shnum * eh.e_shentsize - 1);
	for (size_t k = 1; k <= 8; k++)
		add_cut(in, in->size * k / 9);
}

static int write_file(const char *dir, const char *name, const uint8_t *p, size_t n)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wbe");
	if (!f || fwrite(p, 1, n, f) != n || fclose(f)) {
		perror(path);
		return -1;
	}
	return 0;
}

/* An offset in a header (even picks) or a section (odd picks). */
static size_t pick(const struct input *in, uint64_t k)
{
	const struct region *r;

	if (k % 2 == 0 || !in->nsec) {
		r = &in->hdr[next() % 3];
		if (!r->len)
			r = &in->hdr[0];
	} else {
		r = &in->sec[next() % in->nsec];
	}
	return r->len ? r->off + next() % r->len : next() % in->size;
}

static int write_flips(struct input *in, const char *dir)
{
	static const uint8_t values[] = { 0x00, 0xff, 0x80 };
	uint8_t *copy = malloc(in->size);
	char name[32];

	if (!copy)
		return -1;
	for (uint64_t k = 0; k < FLIPS; k++) {
		int n = 1 + (int)(next() % 4);

		memcpy(copy, in->data, in->size);
		for (int i = 0; i < n; i++) {
			size_t at = pick(in, k);
			uint64_t v = next() % 4;

			copy[at] = v < 3 ? values[v] : copy[at] ^ (uint8_t)(1 + next() % 255);
		}
		snprintf(name, sizeof(name), "f%03u", (unsigned)k);
		if (write_file(dir, name, copy, in->size)) {
			free(copy);
			return -1;
		}
	}
	free(copy);
	return FLIPS;
}

static int read_input(const char *path, struct input *in)
{
	FILE *f = fopen(path, "rbe");
	long n;

	if (!f || fseek(f, 0, SEEK_END) || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET)) {
		perror(path);
		return -1;
	}
	in->size = (size_t)n;
	in->data = malloc(in->size);
	if (!in->data || fread(in->data, 1, in->size, f) != in->size) {
		perror(path);
		return -1;
	}
	fclose(f);
	return 0;
}

int main(int argc, char **argv)
{
	static struct input in;
	char name[32];
	int flips;

	if (argc != 4) {
		fprintf(stderr, "usage: elf_mutate IN OUTDIR SEED\n");
		return 2;
	}
	rng = strtoull(argv[3], NULL, 0) | 1;
	if (read_input(argv[1], &in))
		return 1;
	map_input(&in);
	for (size_t i = 0; i < in.ncuts; i++) {
		snprintf(name, sizeof(name), "t%zu", in.cuts[i]);
		if (write_file(argv[2], name, in.data, in.cuts[i]))
			return 1;
	}
	flips = write_flips(&in, argv[2]);
	if (flips < 0)
		return 1;
	printf("%zu\n", in.ncuts + (size_t)flips);
	return 0;
}
