/* SPDX-License-Identifier: MIT */
/*
 * Per-hit cost of a probe on one instruction: this library's int3 path (default
 * mode, out of line, single-stepped) against a kernel uprobe opened with
 * perf_event_open on the same instruction, in one run.
 *
 * The VM this runs on is noisy, so the variants are interleaved: every round
 * measures each variant once (attach, time a loop of calls, detach), and the
 * figure kept is the median over rounds. The per-hit cost is the median ns per
 * call minus that of the same function unprobed.
 *
 * Output: a table, then one line "summary: key=value ..." for scripts.
 * Usage: bench_probe [-r rounds] [-t ms per measurement]
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <sched.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"

/*
 * The probed functions, in assembly so that the probed bytes are known and no
 * compiler flag (endbr64, frame pointers) changes them. bench_target starts
 * with a lea, as compiled code typically does: the kernel single-steps it and
 * this library executes it out of line. bench_nop5 starts with the 5-byte nop
 * that kernel 6.18 turns into a call to its uprobe trampoline.
 */
__asm__(".text\n"
	".p2align 6\n"
	".globl bench_target\n"
	".type bench_target,@function\n"
	"bench_target:\n"
	"	.cfi_startproc\n"
	"	lea 1(%rdi,%rdi,2),%eax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bench_target,.-bench_target\n"
	".p2align 6\n"
	".globl bench_nop5\n"
	".type bench_nop5,@function\n"
	"bench_nop5:\n"
	"	.cfi_startproc\n"
	"	.byte 0x0f,0x1f,0x44,0x00,0x00\n"
	"	lea 1(%rdi,%rdi,2),%eax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bench_nop5,.-bench_nop5\n");

int bench_target(int x);
int bench_nop5(int x);

static const uint8_t target_bytes[] = {0x8d, 0x44, 0x7f, 0x01, 0xc3};
static const uint8_t nop5_bytes[] = {0x0f, 0x1f, 0x44, 0x00, 0x00, 0x8d, 0x44, 0x7f, 0x01, 0xc3};

#define MAX_ROUNDS 101
#define WHY_LEN	   (PATH_MAX + 256) /* room for a path in a message */

enum kind { K_NATIVE, K_INT3, K_KERNEL };

struct variant {
	const char *label;
	const char *key; /* summary key, NULL: not in the summary */
	enum kind kind;
	unsigned int flags;
	int (*fn)(int);
	int native; /* index of the unprobed variant of fn, -1 for natives */
	/* state */
	struct uprobe *probe;
	int fd;
	char mode[16];
	uint64_t iters;
	double ns[MAX_ROUNDS]; /* ns per call, one per round */
	int nr;
	uint64_t calls, hits;
	bool dead;
	char why[WHY_LEN];
	double med, lo, hi; /* ns per call over rounds */
};

static struct variant variants[] = {
#define V(l, k, kd, fl, f, nat)                                                                 \
	{                                                                                       \
		.label = l, .key = k, .kind = kd, .flags = fl, .fn = f, .native = nat, .fd = -1 \
	}
	V("native", "native_ns", K_NATIVE, 0, bench_target, -1),
	V("native (nop5 function)", NULL, K_NATIVE, 0, bench_nop5, -1),
	V("int3, default mode", "int3_ns", K_INT3, 0, bench_target, 0),
	V("int3, NO_EMULATE", "int3_xol_ns", K_INT3, UPROBE_F_NO_EMULATE, bench_target, 0),
	V("int3, SINGLESTEP", "int3_singlestep_ns", K_INT3, UPROBE_F_SINGLESTEP, bench_target, 0),
	V("int3, default, on nop5", "int3_nop5_ns", K_INT3, 0, bench_nop5, 1),
	V("kernel uprobe", "kernel_uprobe_ns", K_KERNEL, 0, bench_target, 0),
	V("kernel uprobe, on nop5", "kernel_nop5_ns", K_KERNEL, 0, bench_nop5, 1),
#undef V
};

#define NVAR	   ((int)(sizeof(variants) / sizeof(variants[0])))
#define KERNEL_REF 6 /* the ratio column divides by this variant */

static char exe_path[PATH_MAX];
static uint64_t off_target, off_nop5;
static int uprobe_pmu_type = -1;
static char kernel_why[WHY_LEN];
static volatile int sink;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Not inlined and called through a pointer: every iteration is a real call. */
static __attribute__((noinline)) uint64_t run_calls(int (*fn)(int), uint64_t n)
{
	uint64_t t0, t1;
	int acc = 0;

	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		acc += fn((int)i);
	t1 = now_ns();
	sink = acc;
	return t1 - t0;
}

static void empty_handler(struct uprobe *probe, struct uprobe_regs *regs, void *ctx)
{
	(void)probe;
	(void)regs;
	(void)ctx;
}

/* File offset of a symbol: its value, mapped through the PT_LOAD that holds it. */
static int elf_sym_offset(const char *path, const char *name, uint64_t *off, char *why,
			  size_t whylen)
{
	GElf_Addr value = 0;
	Elf_Scn *scn = NULL;
	bool found = false;
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
	while (!found && (scn = elf_nextscn(e, scn))) {
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
				value = s.st_value;
				found = true;
				break;
			}
		}
	}
	if (!found) {
		snprintf(why, whylen, "%s: no symbol %s in .symtab", path, name);
		goto out;
	}
	if (elf_getphdrnum(e, &nph))
		nph = 0;
	for (size_t i = 0; i < nph; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(e, (int)i, &ph) || ph.p_type != PT_LOAD)
			continue;
		if (value >= ph.p_vaddr && value < ph.p_vaddr + ph.p_filesz) {
			*off = value - ph.p_vaddr + ph.p_offset;
			ret = 0;
			goto out;
		}
	}
	snprintf(why, whylen, "%s: %s at 0x%" PRIx64 " is in no PT_LOAD", path, name,
		 (uint64_t)value);
out:
	elf_end(e);
	close(fd);
	return ret;
}

/* Cross-check: the file offset of a code address according to /proc/self/maps. */
static int maps_offset(const void *addr, uint64_t *off)
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

static int read_pmu_type(void)
{
	const char *p = "/sys/bus/event_source/devices/uprobe/type";
	FILE *f = fopen(p, "re");
	int t = -1;

	if (!f) {
		snprintf(kernel_why, sizeof(kernel_why), "uprobe PMU missing (%s: %s)", p,
			 strerror(errno));
		return -1;
	}
	if (fscanf(f, "%d", &t) != 1)
		snprintf(kernel_why, sizeof(kernel_why), "%s: unreadable", p);
	fclose(f);
	return t;
}

/* A counting, disabled kernel uprobe on this task at a file offset of exe_path. */
static int kernel_uprobe_open(uint64_t offset, char *why, size_t whylen)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)uprobe_pmu_type;
	attr.config = 0; /* bit 0 clear: entry probe, not a return probe */
	attr.config1 = (uint64_t)(uintptr_t)exe_path;
	attr.config2 = offset;
	attr.disabled = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		snprintf(why, whylen, "perf_event_open(uprobe %s:0x%" PRIx64 "): %s%s", exe_path,
			 offset, strerror(errno),
			 errno == EACCES || errno == EPERM ?
				 " (needs CAP_PERFMON or perf_event_paranoid <= 1)" :
				 "");
	return fd;
}

static int arm(struct variant *v)
{
	struct uprobe_opts opts = {.sz = sizeof(opts), .handler = empty_handler, .flags = v->flags};
	struct uprobe_info info = {.sz = sizeof(info)};

	switch (v->kind) {
	case K_NATIVE:
		return 0;
	case K_INT3:
		v->probe = uprobe_attach_addr((const void *)v->fn, &opts);
		if (!v->probe) {
			snprintf(v->why, sizeof(v->why), "uprobe_attach_addr: %s: %s",
				 strerror(errno), uprobe_last_error());
			return -1;
		}
		if (!uprobe_get_info(v->probe, &info))
			snprintf(v->mode, sizeof(v->mode), "%s", uprobe_mode_name(info.mode));
		return 0;
	case K_KERNEL:
		if (uprobe_pmu_type < 0) {
			snprintf(v->why, sizeof(v->why), "%s", kernel_why);
			return -1;
		}
		v->fd = kernel_uprobe_open(v->fn == bench_nop5 ? off_nop5 : off_target, v->why,
					   sizeof(v->why));
		if (v->fd < 0)
			return -1;
		snprintf(v->mode, sizeof(v->mode), "kernel");
		if (ioctl(v->fd, PERF_EVENT_IOC_RESET, 0) ||
		    ioctl(v->fd, PERF_EVENT_IOC_ENABLE, 0)) {
			snprintf(v->why, sizeof(v->why), "PERF_EVENT_IOC_ENABLE: %s",
				 strerror(errno));
			close(v->fd);
			return -1;
		}
		return 0;
	}
	return -1;
}

/* Remove the probe and count its hits; the text must be as it was before. */
static int disarm(struct variant *v, uint64_t calls)
{
	struct uprobe_info info = {.sz = sizeof(info)};
	uint64_t count = 0;
	const uint8_t *orig = v->fn == bench_nop5 ? nop5_bytes : target_bytes;
	size_t len = v->fn == bench_nop5 ? sizeof(nop5_bytes) : sizeof(target_bytes);

	v->calls += calls;
	if (v->kind == K_INT3) {
		if (!uprobe_get_info(v->probe, &info))
			v->hits += info.hits;
		if (uprobe_detach(v->probe))
			snprintf(v->why, sizeof(v->why), "uprobe_detach: %s", uprobe_last_error());
		uprobe_free(v->probe);
		v->probe = NULL;
	} else if (v->kind == K_KERNEL) {
		ioctl(v->fd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(v->fd, &count, sizeof(count)) == sizeof(count))
			v->hits += count;
		close(v->fd);
		v->fd = -1;
	}
	if (memcmp((const void *)v->fn, orig, len)) {
		snprintf(v->why, sizeof(v->why), "text not restored after detaching");
		return -1;
	}
	return 0;
}

/* One measurement: ns per call over iters calls, or a negative value on failure. */
static double measure(struct variant *v, uint64_t iters)
{
	uint64_t t;

	if (arm(v))
		return -1;
	t = run_calls(v->fn, iters);
	if (disarm(v, iters))
		return -2;
	return (double)t / (double)iters;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static void stats(struct variant *v)
{
	double s[MAX_ROUNDS];

	memcpy(s, v->ns, sizeof(double) * (size_t)v->nr);
	qsort(s, (size_t)v->nr, sizeof(double), cmp_double);
	v->lo = s[0];
	v->hi = s[v->nr - 1];
	v->med = v->nr % 2 ? s[v->nr / 2] : (s[v->nr / 2 - 1] + s[v->nr / 2]) / 2;
}

static bool usable(const struct variant *v)
{
	return !v->dead && v->nr > 0;
}

/* Cost per hit: ns per call minus the same function unprobed. */
static double per_hit(const struct variant *v)
{
	return v->native < 0 ? v->med : v->med - variants[v->native].med;
}

static void print_table(void)
{
	const struct variant *k = &variants[KERNEL_REF];

	printf("\n%-24s %-10s %10s %10s %21s %8s\n", "variant", "mode", "ns/call", "ns/hit",
	       "ns/call min..max", "ratio");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];
		char range[32];

		if (!usable(v)) {
			printf("%-24s %-10s %10s %10s %21s %8s\n", v->label, "-", "na", "na", "",
			       "na");
			continue;
		}
		snprintf(range, sizeof(range), "%.1f..%.1f", v->lo, v->hi);
		printf("%-24s %-10s %10.1f ", v->label, v->kind == K_NATIVE ? "-" : v->mode,
		       v->med);
		if (v->native < 0)
			printf("%10s %21s %8s\n", "-", range, "-");
		else if (usable(k) && per_hit(k) > 0)
			printf("%10.1f %21s %7.2fx\n", per_hit(v), range, per_hit(v) / per_hit(k));
		else
			printf("%10.1f %21s %8s\n", per_hit(v), range, "na");
	}
	printf("ratio: ns/hit divided by the kernel uprobe's ns/hit on bench_target "
	       "(below 1: cheaper than the kernel).\n");
}

static void print_checks(void)
{
	printf("\n");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];

		if (v->dead)
			printf("%s: not measured: %s\n", v->label, v->why);
		else if (v->kind != K_NATIVE)
			printf("%s: hits %" PRIu64 " / calls %" PRIu64 " %s\n", v->label, v->hits,
			       v->calls, v->hits == v->calls ? "(ok)" : "(MISMATCH)");
	}
}

static void print_summary(void)
{
	printf("\nsummary:");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];

		if (!v->key)
			continue;
		if (usable(v))
			printf(" %s=%.1f", v->key, per_hit(v));
		else
			printf(" %s=na", v->key);
	}
	printf("\n");
}

static void pin_to_current_cpu(void)
{
	int cpu = sched_getcpu();
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (!sched_setaffinity(0, sizeof(set), &set))
		printf("pinned to cpu %d of %ld online\n", cpu, sysconf(_SC_NPROCESSORS_ONLN));
}

static void note_bpftrace(void)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	while (path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(buf, sizeof(buf), "%.*s/bpftrace", (int)n, path);
		if (n && !access(buf, X_OK)) {
			printf("bpftrace: %s is installed (not measured here)\n", buf);
			return;
		}
		path += n + (path[n] == ':');
	}
	printf("bpftrace: not installed (not measured)\n");
}

static void setup_offsets(void)
{
	char why[WHY_LEN];
	uint64_t m;

	if (!realpath("/proc/self/exe", exe_path)) {
		snprintf(kernel_why, sizeof(kernel_why), "realpath(/proc/self/exe): %s",
			 strerror(errno));
		return;
	}
	if (elf_sym_offset(exe_path, "bench_target", &off_target, why, sizeof(why)) ||
	    elf_sym_offset(exe_path, "bench_nop5", &off_nop5, why, sizeof(why))) {
		snprintf(kernel_why, sizeof(kernel_why), "%s", why);
		return;
	}
	printf("%s: bench_target at file offset 0x%" PRIx64 ", bench_nop5 at 0x%" PRIx64 "\n",
	       exe_path, off_target, off_nop5);
	if (!maps_offset((const void *)bench_target, &m) && m != off_target)
		printf("warning: /proc/self/maps puts bench_target at file offset 0x%" PRIx64
		       ", not 0x%" PRIx64 "\n",
		       m, off_target);
	uprobe_pmu_type = read_pmu_type();
}

/* Pick each variant's iteration count so that one measurement lasts about ms. */
static void calibrate(unsigned int ms)
{
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];
		uint64_t n0 = v->kind == K_NATIVE ? 1u << 20 : 256;
		double ns = measure(v, n0);
		double n;

		if (ns < 0) {
			v->dead = true;
			continue;
		}
		n = (double)ms * 1e6 / (ns > 0.1 ? ns : 0.1);
		v->iters = n < 64 ? 64 : n > 2e9 ? 2000000000u : (uint64_t)n;
	}
}

int main(int argc, char **argv)
{
	unsigned int ms = 200;
	int rounds = 11, opt;

	while ((opt = getopt(argc, argv, "r:t:")) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 't')
			ms = (unsigned int)atoi(optarg);
		else
			return fprintf(stderr, "usage: %s [-r rounds] [-t ms]\n", argv[0]), 2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || ms < 1)
		return fprintf(stderr, "bench_probe: rounds 1..%d, ms >= 1\n", MAX_ROUNDS), 2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (memcmp((const void *)bench_target, target_bytes, sizeof(target_bytes)) ||
	    memcmp((const void *)bench_nop5, nop5_bytes, sizeof(nop5_bytes)))
		return fprintf(stderr, "bench_probe: target bytes are not the expected ones\n"), 1;

	printf("bench_probe: per-hit cost of a probe on one instruction\n");
	printf("bench_target: lea 0x1(%%rdi,%%rdi,2),%%eax (8d 44 7f 01); "
	       "bench_nop5: nopl 0x0(%%rax,%%rax,1) (0f 1f 44 00 00)\n");
	pin_to_current_cpu();
	setup_offsets();
	if (kernel_why[0])
		printf("kernel uprobe: unavailable: %s\n", kernel_why);
	note_bpftrace();

	calibrate(ms);
	printf("%d rounds, about %u ms per measurement, variants interleaved\n", rounds, ms);
	for (int r = 0; r < rounds; r++) {
		/* Rotate the order so that no variant always runs after the same one. */
		for (int j = 0; j < NVAR; j++) {
			struct variant *v = &variants[(j + r) % NVAR];
			double ns;

			if (v->dead)
				continue;
			ns = measure(v, v->iters);
			if (ns < 0)
				v->dead = true;
			else
				v->ns[v->nr++] = ns;
		}
	}
	for (int i = 0; i < NVAR; i++)
		if (usable(&variants[i]))
			stats(&variants[i]);

	print_table();
	print_checks();
	print_summary();
	return 0;
}
