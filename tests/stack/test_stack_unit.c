/* SPDX-License-Identifier: MIT */
/*
 * The stack layer's parts, in process (linked with libuprobes.a for its
 * internals):
 *
 *   table_rows      libc's compiled CFI table answers, at the first and the
 *                   last byte of every CFI row, the rule of that row
 *   cache           a table is compiled once, stored, then mapped; a cache
 *                   file that was tampered with or that others can write is
 *                   not used
 *   intern_threads  a probe's handler interns its stack (stack_capture) in 4
 *                   threads calling through one path: one id, its count the
 *                   probe's hits, its frames read back by the tracer's reader
 *   table_full      a full table refuses new stacks, counts them, still finds
 *                   known ones; two stacks alike but in the middle (one guess
 *                   of the interning's) keep their own ids
 *   reader_checks   the reader refuses a memfd that is no stack table and
 *                   entries that do not hold together
 *   unwind_bad      registers pointing nowhere: one frame, no fault
 *   walk_cache      the rules the walk cache keeps (and those it leaves to the
 *                   slow road), one entry per slot, a colliding address a
 *                   miss; a walk from the cache equals the walk that filled
 *                   it; a new set of modules starts with an empty cache
 *   setup_undone    a trace event with $ustack, freed: no probe of the stack
 *                   layer's (the dynamic loader's r_brk) stays in the process
 *   walk_faults     a stack whose next frame lies in a page that cannot be
 *                   read, through the walk cache's roads (a frame-pointer
 *                   frame, an rsp-based one) and the slow road: the walk
 *                   ends there, no fault
 *   sets_freed      libraries loaded and closed 40 times while 2 threads hit
 *                   a probe that interns its stack and one walks outside any
 *                   probe: every stack exact all along, and each set of
 *                   modules replaced is freed once no walk can read it (a few
 *                   in waiting at most; none once the threads are gone)
 *   fork_images     a forked child writes its mappings under its own pid
 *                   (image 0 of that pid), a table attached again in it (as
 *                   an exec'd image does) is the pid's image 1; the tracer's
 *                   reader names the child's frames under each after it exited
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/srcu.h"
#include "stack/cfi_table.h"
#include "stack/modules.h"
#include "stack/stack.h"
#include "stack/table_shm.h"
#include "stack/walk.h"
#include "sym/sym.h"
#include "testlib.h"
#include "uprobes_stack.h"
#include "uprobes_trace.h"

TL_DEFINE("stack_unit");

static const char *libc_path = "/lib/x86_64-linux-gnu/libc.so.6";

struct rows {
	struct sym_cfi v[1 << 16];
	size_t n;
};

static void keep_row(const struct sym_cfi *r, void *arg)
{
	struct rows *rows = arg;

	if (rows->n < sizeof(rows->v) / sizeof(rows->v[0]))
		rows->v[rows->n++] = *r;
}

/* The kind a row must compile to (cfi_table.h), as this test reads the rule. */
static int want_kind(const struct sym_cfi *r)
{
	if (r->signal)
		return CFI_SIGNAL;
	if (r->ra == SYM_RULE_UNDEFINED)
		return CFI_END;
	if (r->ra != SYM_RULE_CFA || r->ra_off != -8)
		return CFI_UNKNOWN;
	if (r->cfa == SYM_CFA_PLT)
		return CFI_PLT;
	return (r->cfa == SYM_CFA_REG || r->cfa == SYM_CFA_DEREF) && r->cfa_reg <= 15 ? CFI_CALL
										 : CFI_UNKNOWN;
}

static bool row_matches(const struct cfi_table *t, const struct sym_cfi *r, uint64_t at)
{
	struct cfi_row row;
	const struct cfi_row *c = &row;

	if (!cfi_lookup(t, at, &row) || CFI_KIND(c->kind) != want_kind(r))
		return false;
	if (CFI_KIND(c->kind) != CFI_CALL)
		return true;
	return c->cfa_reg == r->cfa_reg && c->cfa_off == r->cfa_off &&
	       !!(c->kind & CFI_F_DEREF) == (r->cfa == SYM_CFA_DEREF);
}

static void table_rows(void)
{
	static struct rows rows;
	struct sym_file *f = sym_file_open(libc_path);
	struct cfi_table *t = f ? cfi_table_compile(f) : NULL;
	size_t checked = 0, bad = 0;

	CHECK(t != NULL);
	if (!t)
		return;
	CHECK_EQ_INT(sym_cfi_rows(f, keep_row, &rows), 0);
	for (size_t i = 0; i < rows.n; i++) {
		const struct sym_cfi *r = &rows.v[i];

		/* rows of FDEs that overlap another's are cut: not this test's business */
		if ((i && rows.v[i - 1].end > r->start && rows.v[i - 1].start < r->end) ||
		    (i + 1 < rows.n && rows.v[i + 1].start < r->end && rows.v[i + 1].end > r->start))
			continue;
		checked++;
		/* twice each: the second answer comes from the lookup cache */
		if (!row_matches(t, r, r->start) || !row_matches(t, r, r->end - 1) ||
		    !row_matches(t, r, r->start) || !row_matches(t, r, r->end - 1)) {
			if (!bad++)
				TL_FAIL("row [0x%lx, 0x%lx) cfa %d reg %d off %ld: table disagrees",
					(unsigned long)r->start, (unsigned long)r->end, r->cfa,
					r->cfa_reg, (long)r->cfa_off);
		}
	}
	CHECK_EQ_INT(bad, 0);
	CHECK(checked > 20000); /* libc 2.36 has some 25,000 rows */
	struct cfi_row out;
	CHECK(!cfi_lookup(t, t->hdr->text_start - 1, &out));
	CHECK(!cfi_lookup(t, t->hdr->text_start + t->hdr->span, &out));
	cfi_table_free(t);
	sym_file_close(f);
}

static void cache(void)
{
	char dir[] = "/tmp/stack_unit_XXXXXX", path[512];
	struct sym_file *f = sym_file_open(libc_path);
	struct cfi_table *fresh, *first, *second, *third, *fourth;
	struct sym_ident id;
	struct stat st;
	int fd;

	CHECK(mkdtemp(dir) != NULL);
	setenv("UPROBE_CACHE_DIR", dir, 1);
	fresh = cfi_table_compile(f);
	first = cfi_table_get(f);  /* compiled, stored */
	second = cfi_table_get(f); /* mapped from the file */
	CHECK(fresh && first && second);
	if (!fresh || !first || !second)
		return;
	CHECK_EQ_INT(first->map_len, 0);
	CHECK(second->map_len != 0);
	CHECK_EQ_U64(second->hdr->size, fresh->hdr->size);
	CHECK(!memcmp(second->mem, fresh->mem, fresh->hdr->size));
	sym_file_ident(f, &id);
	snprintf(path, sizeof(path), "%s/cfi-", dir);
	for (uint32_t i = 0; i < id.build_id_len; i++)
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%02x", id.build_id[i]);
	strcat(path, ".ucfi");
	CHECK(!stat(path, &st) && (st.st_mode & 0777) == 0600);

	/* rows scrambled: refused, compiled again (and stored again) */
	fd = open(path, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, "\xff\xff\xff\xff\xff\xff\xff\xff", 8, 64 + 40) == 8);
	close(fd);
	third = cfi_table_get(f);
	CHECK(third && third->map_len == 0 && !memcmp(third->mem, fresh->mem, fresh->hdr->size));

	/* a file others may write is not used */
	chmod(path, 0622);
	fourth = cfi_table_get(f);
	CHECK(fourth && fourth->map_len == 0);
	unlink(path);
	rmdir(dir);
	unsetenv("UPROBE_CACHE_DIR");
	cfi_table_free(fresh);
	cfi_table_free(first);
	cfi_table_free(second);
	cfi_table_free(third);
	cfi_table_free(fourth);
	sym_file_close(f);
}

/* ---- stacks interned from a probe's handler, in several threads ------------------- */

#define THREADS 4
#define CALLS 5000

static struct stack_table *table;
static uint64_t ids[64], counts[64];
static unsigned n_ids;
static int capture_err;

static void capture(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	uint64_t id;

	(void)p;
	(void)ctx;
	if (stack_capture(table, regs, true, 0, &id)) {
		__atomic_store_n(&capture_err, 1, __ATOMIC_RELAXED);
		return;
	}
	for (;;) { /* a tiny id -> count map, lock-free enough for 64 ids */
		unsigned n = __atomic_load_n(&n_ids, __ATOMIC_ACQUIRE);

		for (unsigned i = 0; i < n; i++)
			if (__atomic_load_n(&ids[i], __ATOMIC_ACQUIRE) == id) {
				__atomic_fetch_add(&counts[i], 1, __ATOMIC_RELAXED);
				return;
			}
		if (n < 64 && __atomic_compare_exchange_n(&n_ids, &n, n + 1, false, __ATOMIC_ACQ_REL,
							  __ATOMIC_RELAXED)) {
			__atomic_store_n(&ids[n], id, __ATOMIC_RELEASE);
			__atomic_fetch_add(&counts[n], 1, __ATOMIC_RELAXED);
			return;
		}
		if (n >= 64)
			return;
	}
}

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is not about short functions, and so the entry's 5-byte
 * jump never takes the ret; make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict UPROBE_RET_PATH=site-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) int stack_unit_hot(int x)
{
	__asm__ volatile("" ::: "memory");
	return x + 1;
}

__attribute__((noinline)) static int work(int n)
{
	int s = 0;

	for (int i = 0; i < n; i++)
		s += stack_unit_hot(i);
	__asm__ volatile("" ::: "memory");
	return s;
}

static void *worker(void *arg)
{
	(void)arg;
	return (void *)(long)work(CALLS);
}

static void intern_threads(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = capture };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe_stack_reader *r;
	struct uprobe_stack_table_stats st = { .sz = sizeof(st) };
	pthread_t th[THREADS];
	uint64_t frames[UPROBE_STACK_MAX];
	struct uprobe *p;
	int n;

	CHECK_EQ_INT(stack_setup(), 0);
	table = stack_table_new(NULL);
	p = uprobe_attach(NULL, "stack_unit_hot", &o);
	CHECK(table && p);
	if (!table || !p)
		return;
	for (int i = 0; i < THREADS; i++)
		pthread_create(&th[i], NULL, worker, NULL);
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	uprobe_free(p);
	CHECK_EQ_INT(capture_err, 0);
	CHECK_EQ_INT(n_ids, 1); /* one stack: the same road in every thread */
	CHECK_EQ_U64(counts[0], (uint64_t)THREADS * CALLS);
	CHECK_EQ_U64(info.hits, (uint64_t)THREADS * CALLS);
	r = uprobe_stack_reader_new(stack_table_fd(table));
	CHECK(r != NULL);
	n = r ? uprobe_stack_reader_get(r, ids[0], frames, UPROBE_STACK_MAX) : -1;
	CHECK(n >= 5); /* stack_unit_hot, work, worker, start_thread, clone3 */
	if (n >= 3) {
		CHECK_EQ_U64(frames[0], (uint64_t)stack_unit_hot);
		CHECK(frames[1] > (uint64_t)work && frames[1] < (uint64_t)work + 64);
		CHECK(frames[2] > (uint64_t)worker && frames[2] < (uint64_t)worker + 64);
	}
	CHECK(r && !uprobe_stack_reader_stats(r, &st) && st.stacks == 1 && st.dropped == 0);
	uprobe_stack_reader_free(r);
	stack_table_free(table);
	stack_release();
}

static void table_full(void)
{
	struct stack_table_opts o = { .sz = sizeof(o), .max_stacks = 8 };
	struct stack_table *t = stack_table_new(&o);
	struct uprobe_stack_reader *r;
	struct uprobe_stack_table_stats st = { .sz = sizeof(st) };
	uint64_t f[3] = { 0x1000, 0x2000, 0 }, id, first = 0;
	int ok = 0, full = 0;

	CHECK(t != NULL);
	if (!t)
		return;
	for (int i = 0; i < 20; i++) {
		f[2] = 0x3000 + (uint64_t)i;
		int ret = stack_table_intern(t, f, 3, &id);

		ok += !ret;
		full += ret == -ENOSPC;
		if (!i)
			first = id;
	}
	CHECK_EQ_INT(ok, 8);
	CHECK_EQ_INT(full, 12);
	f[2] = 0x3000; /* known: still found, same id */
	CHECK(!stack_table_intern(t, f, 3, &id) && id == first);
	CHECK_EQ_INT(stack_table_intern(t, f, 0, &id), -EINVAL);
	r = uprobe_stack_reader_new(stack_table_fd(t));
	CHECK(r && !uprobe_stack_reader_stats(r, &st));
	CHECK_EQ_U64(st.stacks, 8);
	CHECK_EQ_U64(st.dropped, 12);
	CHECK_EQ_U64(st.capacity, 8);
	uprobe_stack_reader_free(r);
	stack_table_free(t);

	/*
	 * Stacks alike but in the middle: the same guess of intern's (its key is
	 * the ends and the depth), each still its own id, again and again.
	 */
	t = stack_table_new(NULL);
	CHECK(t != NULL);
	if (!t)
		return;
	for (int i = 0; i < 6; i++) {
		uint64_t a[4] = { 0x1000, 0x2000, 0x3000, 0x9000 }, b[4] = { 0x1000, 0x2000, 0x4000, 0x9000 };
		uint64_t ida = 0, idb = 0;

		CHECK(!stack_table_intern(t, (i & 1) ? b : a, 4, (i & 1) ? &idb : &ida));
		CHECK(!stack_table_intern(t, (i & 1) ? a : b, 4, (i & 1) ? &ida : &idb));
		CHECK(ida == 1 || ida == 2);
		CHECK_EQ_U64(idb, 3 - ida);
		if (!i)
			first = ida;
		CHECK_EQ_U64(ida, first);
	}
	r = uprobe_stack_reader_new(stack_table_fd(t));
	CHECK(r && !uprobe_stack_reader_stats(r, &st));
	CHECK_EQ_U64(st.stacks, 2);
	CHECK_EQ_U64(st.dropped, 0);
	uprobe_stack_reader_free(r);
	stack_table_free(t);
}

static void reader_checks(void)
{
	struct stack_table_opts o = { .sz = sizeof(o), .max_stacks = 4 };
	struct stack_table *t = stack_table_new(&o);
	uint64_t f[2] = { 0x1000, 0x2000 }, id, out[4];
	struct stack_shm_hdr h;
	struct stack_ent *e;
	struct uprobe_stack_reader *r;
	uint8_t *base;
	int fd = memfd_create("not-stacks", 0);

	CHECK(t && fd >= 0 && !ftruncate(fd, 1 << 20));
	errno = 0;
	CHECK(uprobe_stack_reader_new(fd) == NULL && errno == EINVAL);
	close(fd);
	if (!t)
		return;
	CHECK(!stack_table_intern(t, f, 2, &id));
	base = mmap(NULL, stack_shm_layout(&h, 4, 256), PROT_READ | PROT_WRITE, MAP_SHARED,
		    stack_table_fd(t), 0);
	r = uprobe_stack_reader_new(stack_table_fd(t));
	CHECK(base != MAP_FAILED && r);
	if (base == MAP_FAILED || !r)
		return;
	CHECK_EQ_INT(uprobe_stack_reader_get(r, id, out, 4), 2);
	CHECK_EQ_INT(uprobe_stack_reader_get(r, id + 1, out, 4), -ENOENT);
	CHECK_EQ_INT(uprobe_stack_reader_get(r, 0, out, 4), -ENOENT);
	e = (struct stack_ent *)(base + h.ent_off) + (id - 1);
	e->depth = 200; /* the traced process lies: more than a stack holds */
	CHECK_EQ_INT(uprobe_stack_reader_get(r, id, out, 4), -EINVAL);
	e->depth = 2;
	e->pool_off = 0xfffffff0; /* frames outside the pool */
	CHECK_EQ_INT(uprobe_stack_reader_get(r, id, out, 4), -EINVAL);
	((struct stack_shm_ctl *)(base + 64))->n_stacks = 0xffffffff; /* clamped */
	CHECK_EQ_INT(uprobe_stack_reader_get(r, 4, out, 4), -ENOENT);
	uprobe_stack_reader_free(r);
	munmap(base, h.file_size);
	stack_table_free(t);
}

static void unwind_bad(void)
{
	struct uprobe_regs regs = { .rip = 0x1234, .rsp = 0x10, .rbp = 0xdead0000 };
	uint64_t frames[8];

	CHECK_EQ_INT(stack_setup(), 0);
	CHECK_EQ_INT(stack_unwind(&regs, true, frames, 8), 1);
	CHECK_EQ_U64(frames[0], 0x1234);
	regs.rsp = 0x7ffffffff000ull; /* no stack there either */
	CHECK_EQ_INT(stack_unwind(&regs, false, frames, 8), 1);
	CHECK_EQ_INT(stack_unwind(&regs, false, frames, 0), 0);
	stack_release();
}

/* The walk here: frame 0 exact (this function's own rip, rsp, rbp). */
static __attribute__((noinline)) unsigned walk_here(uint64_t *frames, unsigned max)
{
	struct uprobe_regs regs;

	memset(&regs, 0, sizeof(regs));
	__asm__ volatile("lea 0(%%rip), %0\n\tmov %%rsp, %1\n\tmov %%rbp, %2"
			 : "=r"(regs.rip), "=r"(regs.rsp), "=r"(regs.rbp));
	return stack_unwind(&regs, false, frames, max);
}

static volatile unsigned walk_sink;

/* depth calls deep, then walk_here: not tail calls (the result is used after). */
static __attribute__((noinline)) unsigned walk_deep(int depth, uint64_t *frames, unsigned max)
{
	unsigned n = depth ? walk_deep(depth - 1, frames, max) : walk_here(frames, max);

	walk_sink = n;
	return n;
}

static unsigned cache_used(const struct walk_cache *c)
{
	unsigned used = 0;

	for (unsigned i = 0; i < WALK_CACHE; i++)
		used += c->ent[i] != 0;
	return used;
}

static void walk_cache_rows(void)
{
	struct cfi_row call = { .cfa_off = 24, .kind = CFI_CALL | CFI_F_FAST, .cfa_reg = 7 };
	struct cfi_row bp = { .cfa_off = 16,
			      .bp_off = -16,
			      .kind = CFI_CALL | CFI_F_FAST | CFI_F_BP_BASE | CFI_BP_CFA << 4,
			      .cfa_reg = 6 };
	struct cfi_row odd = call, big = call, slow = call, unknown = { .kind = CFI_UNKNOWN };
	struct cfi_row end = { .kind = CFI_END }, sig = { .kind = CFI_SIGNAL };
	struct cfi_row plt = { .cfa_off = 8, .kind = CFI_PLT, .cfa_reg = 11 };

	odd.cfa_off = 20;	  /* not a multiple of 8 */
	big.cfa_off = 1 << 20;	  /* past the 13 bits of the word */
	slow.kind = CFI_CALL;	  /* not FAST (say, a CFA in r10): step() */
	CHECK_EQ_U64(walk_desc_of(&call), 3u << WALK_OFF_SHIFT);
	CHECK_EQ_U64(walk_desc_of(&bp), WALK_BP_BASE | WALK_BP_SAVED | 2u << WALK_OFF_SHIFT);
	CHECK_EQ_U64(walk_desc_of(NULL), WALK_DESC_FP);
	CHECK_EQ_U64(walk_desc_of(&unknown), WALK_DESC_FP);
	CHECK_EQ_U64(walk_desc_of(&end), WALK_END);
	CHECK_EQ_U64(walk_desc_of(&sig), 0);
	CHECK_EQ_U64(walk_desc_of(&plt), 0);
	CHECK_EQ_U64(walk_desc_of(&odd), 0);
	CHECK_EQ_U64(walk_desc_of(&big), 0);
	CHECK_EQ_U64(walk_desc_of(&slow), 0);
	CHECK_EQ_U64(walk_desc_off(walk_desc_of(&call)), 24);
	CHECK_EQ_U64(walk_desc_off(WALK_DESC_FP), 16);
}

static void walk_cache(void)
{
	struct walk_cache *c = walk_cache_new();
	uint64_t pc = 0x7f1234567891ull, other = pc + (1ull << 24); /* the same slot */
	uint64_t cold[32], warm[32];
	const struct stack_modset *ms;
	unsigned n = 0, m = 0, used = 0;

	walk_cache_rows();
	CHECK(c != NULL);
	if (!c)
		return;
	CHECK(walk_slot(c, pc) == walk_slot(c, other));
	CHECK_EQ_U64(walk_cache_get(c, pc), 0);
	walk_cache_put(c, pc, WALK_DESC_FP);
	CHECK_EQ_U64(walk_cache_get(c, pc), WALK_DESC_FP);
	CHECK_EQ_U64(walk_cache_get(c, pc + 1), 0);
	CHECK_EQ_U64(walk_cache_get(c, other), 0); /* a collision is a miss, never pc's rule */
	walk_cache_put(c, other, WALK_END);
	CHECK_EQ_U64(walk_cache_get(c, other), WALK_END);
	CHECK_EQ_U64(walk_cache_get(c, pc), 0);
	CHECK_EQ_U64(walk_cache_get(c, (1ull << 47) - 1), 0);
	CHECK_EQ_INT(cache_used(c), 1);
	free(c);

	/* A walk through this test's own CFI: cold (fills the cache), then warm. */
	CHECK_EQ_INT(stack_setup(), 0);
	ms = stack_modules_current();
	CHECK(ms && ms->walk);
	if (!ms || !ms->walk)
		return;
	memset(ms->walk, 0, sizeof(*ms->walk));
	n = walk_deep(5, cold, 32);
	used = cache_used(ms->walk);
	m = walk_deep(5, warm, 32);
	CHECK(n >= 9); /* walk_here, 6 walk_deep, walk_cache, main ... */
	CHECK(used >= 4); /* walk_here's rip, its return address, walk_deep's, ... */
	CHECK_EQ_INT(m, n);
	/* frame 7: the two call sites in this function */
	CHECK(!memcmp(cold, warm, 7 * sizeof(cold[0])));
	CHECK(cold[7] != warm[7]);
	CHECK(!memcmp(cold + 8, warm + 8, (n - 8) * sizeof(cold[0])));
	CHECK_EQ_U64(cold[2], cold[3]); /* walk_deep's return address into itself */
	/*
	 * A library loaded now (not linked in): a new set (made by the loader's
	 * r_brk probe, or here), its cache empty; the walk from it the same
	 * except the call site in this function.
	 */
	void *h = dlopen("libexpat.so.1", RTLD_NOW);
	CHECK(h != NULL);
	CHECK(stack_modules_refresh() >= 0);
	CHECK(stack_modules_current() != ms);
	CHECK_EQ_INT(cache_used(stack_modules_current()->walk), 0);
	m = walk_deep(5, warm, 32);
	CHECK_EQ_INT(m, n);
	CHECK(!memcmp(cold, warm, 7 * sizeof(cold[0])));
	CHECK(!memcmp(cold + 8, warm + 8, (n - 8) * sizeof(cold[0])));
	if (h)
		dlclose(h);
	stack_release();
}

/* Frame pointers whatever the flags: its call site's rule is CFA = rbp + 16. */
static __attribute__((noinline, optimize("no-omit-frame-pointer"))) unsigned
walk_fp(uint64_t *frames, unsigned max)
{
	unsigned n = walk_here(frames, max);

	walk_sink = n;
	return n;
}

/*
 * A probe at stack_unit_hot's entry whose caller returns to ra, the frame
 * after that one in an unreadable page (rbp there, and rsp + the caller's
 * frame size past it): 2 frames, twice (the slow road, then the cache's).
 */
static void walk_into(uint8_t *page, uint64_t ra, uint64_t rsp_off)
{
	struct uprobe_regs regs;
	uint64_t frames[8];
	const struct stack_modset *ms = stack_modules_current();

	memset(&regs, 0, sizeof(regs));
	regs.rip = (uint64_t)stack_unit_hot;
	regs.rsp = (uint64_t)page + rsp_off;
	regs.rbp = (uint64_t)page + 4096 + 64;
	memcpy(page + rsp_off, &ra, 8);
	if (ms && ms->walk)
		memset(ms->walk, 0, sizeof(*ms->walk));
	for (int i = 0; i < 2; i++) {
		memset(frames, 0, sizeof(frames));
		CHECK_EQ_INT(stack_unwind(&regs, true, frames, 8), 2);
		CHECK_EQ_U64(frames[0], (uint64_t)stack_unit_hot);
		CHECK_EQ_U64(frames[1], ra);
	}
}

static void walk_faults(void)
{
	uint8_t *page = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint64_t fp[16], sp[16];

	CHECK(page != MAP_FAILED);
	if (page == MAP_FAILED)
		return;
	CHECK_EQ_INT(mprotect(page + 4096, 4096, PROT_NONE), 0);
	CHECK_EQ_INT(stack_setup(), 0);
	CHECK(walk_fp(fp, 16) >= 4); /* walk_here, walk_fp, walk_faults, main ... */
	CHECK(walk_deep(0, sp, 16) >= 4); /* walk_here, walk_deep, walk_faults, main ... */
	walk_into(page, fp[1], 64);	    /* [rbp]: unreadable */
	walk_into(page, sp[1], 4096 - 8); /* rsp + its frame's size: unreadable */
	stack_release();
	munmap(page, 8192);
}

static volatile int sets_stop;
static int walker_bad;
static unsigned long walker_walks;

static void *sets_worker(void *arg)
{
	(void)arg;
	while (!__atomic_load_n(&sets_stop, __ATOMIC_RELAXED))
		work(100);
	return NULL;
}

static __attribute__((noinline)) unsigned sets_walk(uint64_t *frames)
{
	unsigned n = walk_deep(3, frames, 32);

	walk_sink = n;
	return n;
}

/*
 * Walks outside any probe (stack_unwind's own read section), each one the
 * first's: walk_here, walk_deep 4 times, sets_walk, (sets_walker's call site
 * of it, which the compiler may have copied), start_thread, clone3.
 */
static void *sets_walker(void *arg)
{
	uint64_t first[32], again[32];
	unsigned n = sets_walk(first);

	(void)arg;
	while (!__atomic_load_n(&sets_stop, __ATOMIC_RELAXED)) {
		unsigned m = sets_walk(again);

		again[6] = first[6];
		if (m != n || n < 8 || memcmp(first, again, n * sizeof(first[0])))
			walker_bad = 1;
		walker_walks++;
	}
	return NULL;
}

static uint64_t sets_gen(void)
{
	uint64_t gen;

	srcu_read_lock();
	gen = stack_modules_current() ? stack_modules_current()->gen : 0;
	srcu_read_unlock();
	return gen;
}

static void sets_freed(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = capture };
	struct uprobe_info info = { .sz = sizeof(info) };
	unsigned most = 0;
	pthread_t th[3];
	struct uprobe *p;
	uint64_t gen0;

	CHECK_EQ_INT(stack_setup(), 0);
	table = stack_table_new(NULL);
	p = uprobe_attach(NULL, "stack_unit_hot", &o);
	CHECK(table && p);
	if (!table || !p)
		return;
	n_ids = 0;
	memset(ids, 0, sizeof(ids));
	memset(counts, 0, sizeof(counts));
	gen0 = sets_gen();
	pthread_create(&th[0], NULL, sets_worker, NULL);
	pthread_create(&th[1], NULL, sets_worker, NULL);
	pthread_create(&th[2], NULL, sets_walker, NULL);
	for (int i = 0; i < 40; i++) {
		void *h = dlopen("libexpat.so.1", RTLD_NOW); /* the loader's r_brk: a new set */

		CHECK(h != NULL);
		if (h)
			dlclose(h); /* and another */
	}
	__atomic_store_n(&sets_stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	CHECK_EQ_INT(uprobe_get_info(p, &info), 0);
	uprobe_free(p);
	CHECK(sets_gen() - gen0 >= 80); /* each dlopen and dlclose replaced the set */
	/*
	 * This thread alone now: each replacement (in the r_brk handler's read
	 * section) frees the set that the one before replaced, whose only reader
	 * was that handler: one set in waiting at most.
	 */
	for (int i = 0; i < 10; i++) {
		void *h = dlopen("libexpat.so.1", RTLD_NOW);
		unsigned now = stack_modules_waiting();

		most = now > most ? now : most;
		if (h)
			dlclose(h);
		now = stack_modules_waiting();
		most = now > most ? now : most;
	}
	CHECK_EQ_INT(most, 1);
	CHECK_EQ_INT(stack_modules_refresh(), 0); /* nothing new: frees those done */
	CHECK_EQ_INT(stack_modules_waiting(), 0);
	CHECK_EQ_INT(capture_err, 0);
	CHECK_EQ_INT(n_ids, 1); /* the workers' one stack, the same all along */
	CHECK_EQ_U64(counts[0], info.hits);
	CHECK(info.hits > 0);
	CHECK_EQ_INT(walker_bad, 0);
	CHECK(walker_walks > 0);
	stack_table_free(table);
	table = NULL;
	stack_release();
}

static void setup_undone(void)
{
	struct uprobe_stats st = { .sz = sizeof(st) };
	struct trace_session *s = trace_session_new(NULL);
	struct trace_error err;
	struct trace_event *ev = NULL;
	struct trace_spec *spec;
	char exe[4096], line[4200];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	CHECK(s && n > 0);
	exe[n > 0 ? n : 0] = 0;
	snprintf(line, sizeof(line), "p:%s:stack_unit_hot $ustack", exe);
	spec = trace_spec_parse(line, &err);
	CHECK(spec != NULL);
	if (spec && s)
		ev = trace_event_attach(s, spec, 0);
	CHECK(ev != NULL);
	CHECK_EQ_INT(uprobe_get_stats(&st), 0);
	CHECK(st.probes_attached >= 2); /* the event's and the loader's */
	trace_event_free(ev);
	CHECK_EQ_INT(uprobe_get_stats(&st), 0);
	CHECK_EQ_U64(st.probes_attached, 0);
	trace_spec_free(spec);
	trace_session_free(s);
}

static void fork_images(void)
{
	struct uprobe_symbolizer_opts so = { .sz = sizeof(so) };
	struct uprobe_stack_reader *r;
	struct uprobe_symbolizer *sym;
	struct stack_table *t;
	uint32_t words[2] = { 0, 0 };
	int fds[2];
	pid_t child;

	CHECK_EQ_INT(stack_setup(), 0);
	t = stack_table_new(NULL);
	CHECK(t != NULL && pipe(fds) == 0);
	if (!t)
		return;
	CHECK_EQ_INT(stack_table_put_maps(t, (uint32_t)getpid()), 0);
	CHECK_EQ_U64(stack_table_image(t, 1), (uint64_t)getpid()); /* the first image: the pid */
	child = fork();
	if (child == 0) {
		struct stack_table *again = stack_table_attach(stack_table_fd(t));

		words[0] = stack_table_image(t, 1);
		if (again && !stack_table_put_maps(again, (uint32_t)getpid()))
			words[1] = stack_table_image(again, 1);
		_exit(write(fds[1], words, sizeof(words)) == sizeof(words) ? 0 : 1);
	}
	close(fds[1]);
	CHECK(child > 0 && read(fds[0], words, sizeof(words)) == sizeof(words));
	close(fds[0]);
	waitpid(child, NULL, 0);
	CHECK_EQ_U64(words[0], (uint64_t)child);
	CHECK_EQ_U64(words[1], (uint64_t)child | 1ull << STACK_IMAGE_SHIFT);
	r = uprobe_stack_reader_new(stack_table_fd(t));
	sym = uprobe_symbolizer_new(&so);
	CHECK(r && sym && uprobe_stack_reader_maps(r, sym) == 3);
	for (int i = 0; r && sym && i < 2; i++) {
		struct uprobe_frame f = { .module = "" };

		CHECK(uprobe_symbolize(sym, (pid_t)words[i], (uint64_t)stack_unit_hot, false, &f,
				       1) == 1 &&
		      f.func && !strcmp(f.func, "stack_unit_hot") && f.func_off == 0);
	}
	uprobe_symbolizer_free(sym);
	uprobe_stack_reader_free(r);
	stack_table_free(t);
	stack_release();
}

int main(void)
{
	setenv("UPROBE_CACHE_DIR", "", 1); /* no cache but the one the cache case makes */
	RUN(table_rows);
	RUN(cache);
	RUN(intern_threads);
	RUN(table_full);
	RUN(reader_checks);
	RUN(unwind_bad);
	RUN(walk_cache);
	RUN(walk_faults);
	RUN(sets_freed);
	RUN(setup_undone);
	RUN(fork_images);
	TL_EXIT();
}
