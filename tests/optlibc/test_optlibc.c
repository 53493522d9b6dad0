/* SPDX-License-Identifier: MIT */
/*
 * Jump-optimized probes on all of libc (issue 3).
 *
 * Every FUNC and IFUNC symbol of libc's .dynsym whose entry lies in executable
 * code is analysed (aliases deduplicated by address, IFUNCs by the
 * implementation this process runs); at least MIN_OPT_PERCENT of them must be
 * OPTIMIZED. Every optimizable entry is then probed in one
 * uprobe_attach_many(UPROBE_BATCH_PARTIAL) with a handler that only counts,
 * the realcode workload (tests/realcode/workload.c: stdio, POSIX I/O, malloc,
 * strings, qsort, threads) runs, and the probes are detached. The same set is
 * attached again with UPROBE_F_NO_OPTIMIZE (breakpoints) for a second run.
 *
 * Both probed runs must print exactly what the unprobed run printed, and every
 * function must see the same number of hits in both runs, except the few whose
 * count depends on how the workload's threads interleave (nondeterministic[])
 * and those glibc runs with SIGTRAP blocked, which the int3 run cannot probe
 * (int3_unsafe[]). Only hits during workload_run() count: the harness and the
 * library themselves call libc (printf, malloc...) between attach and detach.
 *
 * Before those runs, two cases of the library's own libc use under probes: a
 * thread's first hit registering its srcu slot through a probed
 * pthread_setspecific(), and a thread's hits after srcu's key destructor.
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "uprobes.h"
#include "../testlib.h"
#include "workload.h"

TL_DEFINE("optlibc");

#define LIBC		"/lib/x86_64-linux-gnu/libc.so.6"
#define MIN_OPT_PERCENT 90
#define MAX_FUNCS	8192
#define MAX_REASONS	64
#define MAX_REPORT	20

enum run_mode { OPT, INT3, NMODES };
static const char *const mode_name[NMODES] = {"optimized", "int3"};

struct func {
	char name[64];	 /* of its aliases, the one with the fewest leading '_' */
	char loc[80];	 /* location for uprobe_analyze/attach: name or file offset */
	uint64_t vaddr;	 /* st_value in the file */
	bool ifunc;
	uint64_t addr;	 /* runtime address analysed (the IFUNC's implementation) */
	bool optimized;
	char opt_reason[128];
	_Atomic uint64_t calls[NMODES]; /* handler calls, per run */
	uint64_t during[NMODES];	/* of which during the workload */
	struct uprobe *probe[NMODES];
};

static struct func funcs[MAX_FUNCS];
static size_t nfuncs;
static size_t nanalyzed, noptimized;
static size_t nattached[NMODES];
static char *ref_out;
static size_t ref_len;
static bool ran[NMODES];

/*
 * Functions whose hit count may differ between two runs of the same
 * workload, whatever the probe mode, because it depends on how the
 * workload's 4 threads interleave. Found by experiment (glibc 2.36, 100 runs,
 * half of them next to a CPU hog, then no other difference); the callers
 * found with gdb:
 */
static const char *const nondeterministic[] = {
	/*
	 * A thread needs a stack and a malloc arena: glibc reuses a cached
	 * stack and a free arena when an earlier thread has released one, and
	 * maps new ones otherwise (allocate_stack: mmap, mprotect of the guard;
	 * new_heap: mmap, munmap of the misaligned part, mprotect).
	 */
	"mmap",
	"munmap",
	"mprotect",
	/* pthread_create calls it when __nptl_nthreads == 1: earlier threads all gone. */
	"_IO_enable_locks",
	/* Contention on a stdio or malloc lock between the workload's threads. */
	"__lll_lock_wait_private",
	"__lll_lock_wake_private",
	NULL,
};

/*
 * Functions glibc runs with every signal blocked, SIGTRAP included. A
 * breakpoint there makes the kernel kill the process (docs/limitations.md);
 * a jump-optimized probe takes no trap and is fine. They are left out of the
 * int3 run, hence out of the comparison. Found one by one from the int3 run's
 * core dumps (SIGTRAP, si_code SI_KERNEL, on their first byte):
 */
static const char *const int3_unsafe[] = {
	/* start_thread(), before the new thread restores its signal mask */
	"__ctype_init",
	"_setjmp",     /* the cancellation buffer (pthread_create.c:400) */
	"__sigsetjmp", /* _setjmp's tail */
	/* start_thread()'s exit, advise_stack_range() (allocatestack.c:189, 194) */
	"getpagesize",
	"madvise",
	NULL,
};

static bool in_list(const char *const *list, const char *name)
{
	for (size_t k = 0; list[k]; k++)
		if (!strcmp(list[k], name))
			return true;
	return false;
}

static bool is_nondeterministic(const char *name)
{
	return in_list(nondeterministic, name);
}

static void count_hit(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p;
	(void)regs;
	atomic_fetch_add_explicit((_Atomic uint64_t *)ctx, 1, memory_order_relaxed);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- enumeration ---- */

static bool name_is_better(const char *cand, const char *cur)
{
	/* Prefer the public spelling: fewer leading underscores, then shorter. */
	size_t uc = strspn(cand, "_"), uo = strspn(cur, "_");

	return uc != uo ? uc < uo : strlen(cand) < strlen(cur);
}

static bool in_exec_segment(Elf *elf, uint64_t vaddr, uint64_t *off)
{
	size_t n;

	if (elf_getphdrnum(elf, &n))
		return false;
	for (size_t i = 0; i < n; i++) {
		GElf_Phdr ph;

		if (!gelf_getphdr(elf, (int)i, &ph) || ph.p_type != PT_LOAD || !(ph.p_flags & PF_X))
			continue;
		if (vaddr >= ph.p_vaddr && vaddr < ph.p_vaddr + ph.p_filesz) {
			*off = vaddr - ph.p_vaddr + ph.p_offset;
			return true;
		}
	}
	return false;
}

static void add_symbol(Elf *elf, const char *name, const GElf_Sym *s, size_t *skipped_exec)
{
	bool ifunc = GELF_ST_TYPE(s->st_info) == STT_GNU_IFUNC;
	uint64_t off;

	if (!in_exec_segment(elf, s->st_value, &off)) {
		(*skipped_exec)++;
		return;
	}
	/* Aliases: one entry per address (IFUNCs are told apart later, by implementation). */
	for (size_t i = 0; i < nfuncs; i++) {
		if (funcs[i].vaddr != s->st_value || funcs[i].ifunc != ifunc)
			continue;
		if (!ifunc && name_is_better(name, funcs[i].name))
			snprintf(funcs[i].name, sizeof(funcs[i].name), "%s", name);
		return;
	}
	if (nfuncs == MAX_FUNCS)
		return;
	struct func *f = &funcs[nfuncs++];

	snprintf(f->name, sizeof(f->name), "%s", name);
	f->vaddr = s->st_value;
	f->ifunc = ifunc;
	/*
	 * A plain function by file offset (versioned duplicates of one name
	 * live at different addresses); an IFUNC by name, so that the library
	 * probes the implementation the dynamic linker chose.
	 */
	if (ifunc)
		snprintf(f->loc, sizeof(f->loc), "%s", name);
	else
		snprintf(f->loc, sizeof(f->loc), "%#" PRIx64, off);
}

static int enumerate_dynsym(size_t *nsyms, size_t *skipped_exec)
{
	Elf_Scn *scn = NULL;
	int fd = open(LIBC, O_RDONLY);
	Elf *elf;

	if (fd < 0 || elf_version(EV_CURRENT) == EV_NONE)
		return -1;
	elf = elf_begin(fd, ELF_C_READ, NULL);
	while (elf && (scn = elf_nextscn(elf, scn))) {
		GElf_Shdr sh;
		Elf_Data *data;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_DYNSYM)
			continue;
		data = elf_getdata(scn, NULL);
		for (size_t i = 0; data && sh.sh_entsize && i < sh.sh_size / sh.sh_entsize; i++) {
			GElf_Sym s;
			int type;

			if (!gelf_getsym(data, (int)i, &s))
				continue;
			type = GELF_ST_TYPE(s.st_info);
			if ((type != STT_FUNC && type != STT_GNU_IFUNC) ||
			    s.st_shndx == SHN_UNDEF || !s.st_value)
				continue;
			(*nsyms)++;
			add_symbol(elf, elf_strptr(elf, sh.sh_link, s.st_name), &s, skipped_exec);
		}
	}
	if (elf)
		elf_end(elf);
	close(fd);
	return elf ? 0 : -1;
}

/* ---- analysis ---- */

struct reason_count {
	char text[128];
	size_t n;
	const char *example;
};

static struct reason_count reasons[MAX_REASONS];
static size_t nreasons;

/*
 * Histogram key: the reason with its numbers, addresses and quoted
 * instruction text folded, so that e.g. every "the jump at 0x... targets byte
 * N of the window" lands in one bucket.
 */
static void reason_key(const char *why, char *key, size_t len)
{
	size_t o = 0;
	bool quoted = false;

	for (const char *p = why; *p && o + 2 < len; p++) {
		if (*p == '\'') {
			quoted = !quoted;
			if (quoted)
				key[o++] = '\'', key[o++] = '*';
			else
				key[o++] = '\'';
			continue;
		}
		if (quoted)
			continue;
		if (*p >= '0' && *p <= '9') {
			while ((p[1] >= '0' && p[1] <= '9') || p[1] == 'x' ||
			       (p[1] >= 'a' && p[1] <= 'f'))
				p++;
			key[o++] = 'N';
			continue;
		}
		key[o++] = *p;
	}
	key[o] = '\0';
}

static void reason_add(const char *why, const char *example)
{
	char key[128];

	reason_key(why, key, sizeof(key));
	for (size_t i = 0; i < nreasons; i++) {
		if (!strcmp(reasons[i].text, key)) {
			reasons[i].n++;
			return;
		}
	}
	if (nreasons < MAX_REASONS) {
		snprintf(reasons[nreasons].text, sizeof(reasons[0].text), "%s", key);
		reasons[nreasons].n = 1;
		reasons[nreasons++].example = example;
	}
}

static int reason_cmp(const void *a, const void *b)
{
	const struct reason_count *x = a, *y = b;

	return x->n < y->n ? 1 : x->n > y->n ? -1 : 0;
}

/* Analyse every entry; drop the ones that fail and the IFUNC duplicates. */
static void analyze_all(void)
{
	size_t kept = 0, failed = 0, dups = 0;

	for (size_t i = 0; i < nfuncs; i++) {
		struct uprobe_info info = {.sz = sizeof(info)};
		struct func *f = &funcs[i];
		bool dup = false;

		int err = uprobe_analyze(LIBC, f->loc, 0, &info);

		if (err) {
			printf("# cannot analyse %s (%s): %d: %s\n", f->name, f->loc, err,
			       uprobe_last_error());
			failed++;
			continue;
		}
		for (size_t j = 0; j < kept && !dup; j++)
			dup = funcs[j].addr == info.addr;
		if (dup) {
			dups++;
			continue;
		}
		f->addr = info.addr;
		f->optimized = info.mode == UPROBE_MODE_OPTIMIZED;
		snprintf(f->opt_reason, sizeof(f->opt_reason), "%s", info.opt_reason);
		if (kept != i)
			memcpy(&funcs[kept], f, sizeof(*f));
		kept++;
	}
	nfuncs = kept;
	nanalyzed = kept;
	printf("# analysed %zu entries (%zu failed to analyse, %zu IFUNCs sharing an "
	       "implementation)\n",
	       kept, failed, dups);
}

static void enumerate_and_analyze(void)
{
	size_t nsyms = 0, skipped_exec = 0;
	double t0 = now_s();

	CHECK_EQ_INT(enumerate_dynsym(&nsyms, &skipped_exec), 0);
	printf("# %zu FUNC/IFUNC symbols in .dynsym, %zu distinct entries, %zu not in "
	       "executable code\n",
	       nsyms, nfuncs, skipped_exec);
	CHECK(nfuncs > 1000);
	analyze_all();
	for (size_t i = 0; i < nfuncs; i++) {
		if (funcs[i].optimized)
			noptimized++;
		else
			reason_add(funcs[i].opt_reason, funcs[i].name);
	}
	qsort(reasons, nreasons, sizeof(reasons[0]), reason_cmp);
	printf("# %zu of %zu entries OPTIMIZED: %.1f%% (%.2f s)\n", noptimized, nanalyzed,
	       nanalyzed ? 100.0 * noptimized / nanalyzed : 0.0, now_s() - t0);
	printf("# not optimized, by reason:\n");
	for (size_t i = 0; i < nreasons; i++)
		printf("#   %5zu  %s  (e.g. %s)\n", reasons[i].n, reasons[i].text,
		       reasons[i].example);
}

static void at_least_90_percent_optimized(void)
{
	CHECK(nanalyzed > 1000);
	if (noptimized * 100 < nanalyzed * MIN_OPT_PERCENT)
		TL_FAIL("%zu of %zu optimized (%.1f%%), want at least %d%%", noptimized, nanalyzed,
			nanalyzed ? 100.0 * noptimized / nanalyzed : 0.0, MIN_OPT_PERCENT);
}

/* ---- workload runs ---- */

static void snapshot(uint64_t *to, int m)
{
	for (size_t i = 0; to && i < nfuncs; i++)
		to[i] = atomic_load_explicit(&funcs[i].calls[m], memory_order_relaxed);
}

/*
 * One in-process workload run: its digest in a malloc'ed buffer. With
 * before/after, the handler counts of run m right before and right after
 * workload_run() (not around the harness's own mkdtemp, fclose...).
 */
static int workload_once(char **buf, size_t *len, int m, uint64_t *before, uint64_t *after)
{
	char dir[] = "/tmp/uprobes-optlibc-XXXXXX";
	FILE *out;
	int rc;

	if (!mkdtemp(dir))
		return -1;
	out = open_memstream(buf, len);
	if (!out)
		return -1;
	snapshot(before, m);
	rc = workload_run(out, dir);
	snapshot(after, m);
	fclose(out);
	if (rmdir(dir))
		rc = -1;
	return rc;
}

static void unprobed_reference(void)
{
	char *again;
	size_t len;

	CHECK_EQ_INT(workload_once(&ref_out, &ref_len, 0, NULL, NULL), 0);
	CHECK_EQ_INT(workload_once(&again, &len, 0, NULL, NULL), 0);
	CHECK(ref_len > 500 && len == ref_len && !memcmp(again, ref_out, len));
	CHECK(ref_len > 8 && !memcmp(ref_out + ref_len - 8, "done ok\n", 8));
	printf("# unprobed: %zu bytes of digest\n", ref_len);
	free(again);
}

static size_t attach_set(enum run_mode m)
{
	struct uprobe_spec *specs = calloc(nfuncs, sizeof(*specs));
	struct uprobe **got = calloc(nfuncs, sizeof(*got));
	int *errs = calloc(nfuncs, sizeof(*errs));
	struct uprobe_batch_opts bo = {
		.sz = sizeof(bo), .flags = UPROBE_BATCH_PARTIAL, .errs = errs};
	size_t *idx = calloc(nfuncs, sizeof(*idx)), n = 0, bad = 0;
	int rc;

	if (!specs || !got || !errs || !idx) {
		TL_FAIL("out of memory");
		return 0;
	}
	for (size_t i = 0; i < nfuncs; i++) {
		if (!funcs[i].optimized || (m == INT3 && in_list(int3_unsafe, funcs[i].name)))
			continue;
		specs[n] = (struct uprobe_spec){.path = LIBC,
						.location = funcs[i].loc,
						.handler = count_hit,
						.ctx = &funcs[i].calls[m],
						.flags = m == INT3 ? UPROBE_F_NO_OPTIMIZE : 0};
		idx[n++] = i;
	}
	rc = uprobe_attach_many(specs, n, got, &bo);
	for (size_t k = 0; k < n; k++) {
		struct func *f = &funcs[idx[k]];
		struct uprobe_info info = {.sz = sizeof(info)};

		f->probe[m] = got[k];
		if (!got[k]) {
			if (bad++ < MAX_REPORT)
				TL_FAIL("%s (%s): not attached: %d", f->name, f->loc, errs[k]);
			continue;
		}
		nattached[m]++;
		if (uprobe_get_info(got[k], &info) || info.addr != f->addr ||
		    (info.mode == UPROBE_MODE_OPTIMIZED) != (m == OPT)) {
			if (bad++ < MAX_REPORT)
				TL_FAIL("%s: at %#" PRIx64 " (analysed %#" PRIx64 "), mode %s, "
					"opt_reason \"%s\"",
					f->name, info.addr, f->addr, uprobe_mode_name(info.mode),
					info.opt_reason);
		}
	}
	printf("# %s: attached %zu of %zu (batch returned %d)\n", mode_name[m], nattached[m], n,
	       rc);
	CHECK_EQ_INT(rc, (int)nattached[m]);
	CHECK_EQ_INT(nattached[m], n);
	free(specs);
	free(got);
	free(errs);
	free(idx);
	return n;
}

/* Probed run: hits counted from right before to right after the workload. */
static void probed_run(enum run_mode m)
{
	uint64_t *before = calloc(nfuncs, sizeof(*before));
	uint64_t *after = calloc(nfuncs, sizeof(*after));
	char *out = NULL;
	size_t len = 0;
	double t0;
	int rc;

	if (!before || !after) {
		TL_FAIL("out of memory");
		return;
	}
	t0 = now_s();
	rc = workload_once(&out, &len, m, before, after);
	t0 = now_s() - t0;
	for (size_t i = 0; i < nfuncs; i++)
		funcs[i].during[m] = after[i] - before[i];
	free(before);
	free(after);
	ran[m] = true;
	printf("# %s run: %.2f s\n", mode_name[m], t0);
	CHECK_EQ_INT(rc, 0);
	if (len != ref_len || memcmp(out, ref_out, len)) {
		TL_FAIL("%s run: output differs (%zu vs %zu bytes)", mode_name[m], len, ref_len);
		printf("--- unprobed\n%.*s--- probed\n%.*s---\n", (int)ref_len, ref_out, (int)len,
		       out ? out : "");
	}
	free(out);
}

static void detach_set(enum run_mode m)
{
	struct uprobe **list = calloc(nfuncs, sizeof(*list));
	size_t n = 0, bad = 0;

	if (!list) {
		TL_FAIL("out of memory");
		return;
	}
	for (size_t i = 0; i < nfuncs; i++)
		if (funcs[i].probe[m])
			list[n++] = funcs[i].probe[m];
	CHECK_EQ_INT(uprobe_detach_many(list, n), 0);
	for (size_t i = 0; i < nfuncs; i++) {
		struct uprobe_info info = {.sz = sizeof(info)};
		struct func *f = &funcs[i];

		if (!f->probe[m])
			continue;
		CHECK_EQ_INT(uprobe_get_info(f->probe[m], &info), 0);
		if (info.attached || info.hits != atomic_load(&f->calls[m]))
			if (bad++ < MAX_REPORT)
				TL_FAIL("%s: after detach: attached %d, info.hits %" PRIu64
					", handler calls %" PRIu64,
					f->name, info.attached, info.hits,
					(uint64_t)atomic_load(&f->calls[m]));
		uprobe_free(f->probe[m]);
		f->probe[m] = NULL;
	}
	free(list);
}

/*
 * A thread's first hit begins its first read section (core/srcu.c), which
 * registers the thread's slot with pthread_setspecific(): libc, probed here.
 * Its hit must come back as a nested section, skipped (info.skipped), not
 * claim a slot and call pthread_setspecific() again: that recursed until the
 * stack ran out (SIGSEGV, the crash of optimized_run_identical on branch
 * retexit before the fix). The thread's first hit is its own
 * pthread_setspecific() call, so the thread has no slot yet.
 */
struct first_hit {
	pthread_key_t key;
	int rc[2];
	void *got[2];
};

static void *first_hit_thread(void *arg)
{
	struct first_hit *t = arg;

	t->rc[0] = pthread_setspecific(t->key, &t->rc[0]);
	t->got[0] = pthread_getspecific(t->key);
	t->rc[1] = pthread_setspecific(t->key, &t->rc[1]);
	t->got[1] = pthread_getspecific(t->key);
	return NULL;
}

static void first_section_in_probed_setspecific_mode(enum run_mode m)
{
	_Atomic uint64_t calls = 0;
	struct uprobe_opts o = {.sz = sizeof(o), .handler = count_hit, .ctx = &calls,
				.flags = m == INT3 ? UPROBE_F_NO_OPTIMIZE : 0};
	struct uprobe_info info = {.sz = sizeof(info)};
	struct first_hit t = {0};
	struct uprobe *p;
	pthread_t th;

	CHECK_EQ_INT(pthread_key_create(&t.key, NULL), 0);
	p = uprobe_attach(LIBC, "pthread_setspecific", &o);
	if (!p) {
		TL_FAIL("%s: attach pthread_setspecific: %s", mode_name[m], uprobe_last_error());
		return;
	}
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	CHECK((info.mode == UPROBE_MODE_OPTIMIZED) == (m == OPT));
	CHECK_EQ_INT(pthread_create(&th, NULL, first_hit_thread, &t), 0);
	CHECK_EQ_INT(pthread_join(th, NULL), 0);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	/* Both of the thread's calls seen, the one from the first section skipped. */
	CHECK_EQ_U64(info.hits, 2);
	CHECK_EQ_U64(atomic_load(&calls), 2);
	CHECK_EQ_U64(info.skipped, 1);
	CHECK_EQ_INT(t.rc[0], 0);
	CHECK_EQ_INT(t.rc[1], 0);
	CHECK(t.got[0] == &t.rc[0] && t.got[1] == &t.rc[1]);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	uprobe_free(p);
	pthread_key_delete(t.key);
}

static void first_section_in_probed_setspecific(void)
{
	first_section_in_probed_setspecific_mode(OPT);
	first_section_in_probed_setspecific_mode(INT3);
}

/*
 * A thread still hits probes after its srcu slot's key destructor has run
 * (later destructors, glibc's thread freeres, madvise of its stack). The slot
 * must not go to a new thread meanwhile: sharing it, the new thread would find
 * the exiting one's section open (odd sequence) and take its own hits for
 * nested ones, skipped. Thread A's later destructor hits the probe and waits
 * in the handler while REUSE_B threads, created then, each make their first
 * hit and stay (each keeps its slot): a new thread takes the free slot with
 * the lowest id, so one of them would get A's, unless more than REUSE_B - 1
 * slots below it are free (this process has had at most 2 threads at once).
 */
#define REUSE_B 8

static sem_t reuse_a_inside, reuse_b_done;
static pthread_barrier_t reuse_b_all;
static __thread bool reuse_in_exit;

static volatile int reuse_sink;

/* Long enough for the jump (UPROBE_ENTRY_PATH=lean-strict refuses a breakpoint). */
__attribute__((noinline)) void optlibc_reuse_target(void)
{
	reuse_sink++;
	reuse_sink++;
}

static void reuse_hit(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p;
	(void)regs;
	atomic_fetch_add_explicit((_Atomic uint64_t *)ctx, 1, memory_order_relaxed);
	if (reuse_in_exit) {
		sem_post(&reuse_a_inside);
		while (sem_wait(&reuse_b_done))
			;
	}
}

/*
 * Keys are destroyed in rounds, each key by index order, another round while
 * some destructor set a value again: the first round sets ours again, so its
 * second call comes after srcu's destructor whatever the two keys' indices
 * (a key created after srcu's may reuse a lower, deleted one).
 */
static void reuse_key_end(void *v)
{
	static __thread int round;

	if (!round++) {
		pthread_setspecific(*(pthread_key_t *)v, v);
		return;
	}
	reuse_in_exit = true;
	optlibc_reuse_target();
}

static void *reuse_thread_a(void *arg)
{
	pthread_setspecific(*(pthread_key_t *)arg, arg);
	optlibc_reuse_target();
	return NULL;
}

static void *reuse_thread_b(void *arg)
{
	(void)arg;
	optlibc_reuse_target();
	pthread_barrier_wait(&reuse_b_all);
	return NULL;
}

static void exiting_thread_keeps_its_slot(void)
{
	_Atomic uint64_t calls = 0;
	struct uprobe_opts o = {.sz = sizeof(o), .handler = reuse_hit, .ctx = &calls};
	struct uprobe_info info = {.sz = sizeof(info)};
	pthread_t a, b[REUSE_B];
	pthread_key_t key;
	struct uprobe *p;

	p = uprobe_attach("/proc/self/exe", "optlibc_reuse_target", &o);
	if (!p) {
		TL_FAIL("attach optlibc_reuse_target: %s", uprobe_last_error());
		return;
	}
	CHECK_EQ_INT(pthread_key_create(&key, reuse_key_end), 0);
	CHECK_EQ_INT(sem_init(&reuse_a_inside, 0, 0), 0);
	CHECK_EQ_INT(sem_init(&reuse_b_done, 0, 0), 0);
	CHECK_EQ_INT(pthread_barrier_init(&reuse_b_all, NULL, REUSE_B + 1), 0);
	CHECK_EQ_INT(pthread_create(&a, NULL, reuse_thread_a, &key), 0);
	while (sem_wait(&reuse_a_inside))
		;
	for (int i = 0; i < REUSE_B; i++)
		CHECK_EQ_INT(pthread_create(&b[i], NULL, reuse_thread_b, NULL), 0);
	pthread_barrier_wait(&reuse_b_all);
	for (int i = 0; i < REUSE_B; i++)
		CHECK_EQ_INT(pthread_join(b[i], NULL), 0);
	sem_post(&reuse_b_done);
	CHECK_EQ_INT(pthread_join(a, NULL), 0);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	/* A's call, A's destructor's, each B's: none skipped. */
	CHECK_EQ_U64(atomic_load(&calls), 2 + REUSE_B);
	CHECK_EQ_U64(info.hits, 2 + REUSE_B);
	CHECK_EQ_U64(info.skipped, 0);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	uprobe_free(p);
	pthread_key_delete(key);
	pthread_barrier_destroy(&reuse_b_all);
	sem_destroy(&reuse_a_inside);
	sem_destroy(&reuse_b_done);
}

static void optimized_run_identical(void)
{
	double t0 = now_s();

	attach_set(OPT);
	printf("# attach: %.2f s\n", now_s() - t0);
	probed_run(OPT);
	t0 = now_s();
	detach_set(OPT);
	printf("# detach: %.2f s\n", now_s() - t0);
}

static void int3_run_identical(void)
{
	attach_set(INT3);
	probed_run(INT3);
	detach_set(INT3);
}

static void hits_equal_between_modes(void)
{
	size_t compared = 0, hit = 0, bad = 0;

	CHECK(ran[OPT] && ran[INT3]);
	for (size_t i = 0; i < nfuncs; i++) {
		const struct func *f = &funcs[i];

		if (!f->optimized || is_nondeterministic(f->name) ||
		    in_list(int3_unsafe, f->name))
			continue;
		compared++;
		hit += f->during[OPT] != 0;
		if (f->during[OPT] != f->during[INT3] && bad++ < MAX_REPORT)
			TL_FAIL("%s: %" PRIu64 " hits optimized, %" PRIu64 " with int3", f->name,
				f->during[OPT], f->during[INT3]);
	}
	printf("# %zu functions compared, %zu of them hit by the workload\n", compared, hit);
	CHECK(hit >= 100);
}

static void list_exclusions(const char *const *list, const char *why)
{
	for (size_t k = 0; list[k]; k++) {
		size_t i;

		for (i = 0; i < nfuncs && strcmp(funcs[i].name, list[k]); i++)
			;
		if (i == nfuncs || !funcs[i].optimized) {
			TL_FAIL("%s: not an optimizable libc entry", list[k]);
			continue;
		}
		printf("# excluded (%s): %s: %" PRIu64 " hits optimized, %" PRIu64 " with int3\n",
		       why, funcs[i].name, funcs[i].during[OPT], funcs[i].during[INT3]);
	}
}

static void exclusions_listed(void)
{
	list_exclusions(int3_unsafe, "SIGTRAP blocked, not probed with int3");
	list_exclusions(nondeterministic, "timing-dependent");
}

/* After both detaches: the same output again, and no handler call. */
static void unprobed_after_detach(void)
{
	uint64_t *before = calloc(nfuncs * NMODES, sizeof(*before));
	char *out = NULL;
	size_t len = 0;

	if (!before) {
		TL_FAIL("out of memory");
		return;
	}
	for (size_t i = 0; i < nfuncs; i++)
		for (int m = 0; m < NMODES; m++)
			before[i * NMODES + m] = atomic_load(&funcs[i].calls[m]);
	CHECK_EQ_INT(workload_once(&out, &len, 0, NULL, NULL), 0);
	CHECK(len == ref_len && !memcmp(out, ref_out, len));
	for (size_t i = 0; i < nfuncs; i++)
		for (int m = 0; m < NMODES; m++)
			if (atomic_load(&funcs[i].calls[m]) != before[i * NMODES + m])
				TL_FAIL("%s: handler ran after detach", funcs[i].name);
	free(out);
	free(before);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	RUN(unprobed_reference);
	RUN(enumerate_and_analyze);
	RUN(at_least_90_percent_optimized);
	RUN(first_section_in_probed_setspecific);
	RUN(exiting_thread_keeps_its_slot);
	RUN(optimized_run_identical);
	RUN(int3_run_identical);
	RUN(hits_equal_between_modes);
	RUN(exclusions_listed);
	RUN(unprobed_after_detach);
	free(ref_out);
	TL_EXIT();
}
