// SPDX-License-Identifier: MIT
/*
 * Debian's arm64 libsqlite3 under qemu-aarch64 with a probe on every function
 * entry of its .dynsym (about 1,370): an SQL workload (create, 100 inserts with
 * bound values, a select read back row by row) runs unprobed, then with brk
 * at each entry, then with a b to a trampoline at each. Its output must be the
 * unprobed run's, each entry hit as often in both modes, and the entries only
 * the workload calls hit exactly as often as it calls them. The probes are the
 * arch layer driven by sites.c (test_every_entry), then the real library's
 * through the public API (test_api_every_entry: uprobe_attach_many, brk with
 * UPROBE_F_NO_OPTIMIZE, then jump-optimized).
 */
#include <dlfcn.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "sites.h"
#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("aarch64_sqlite");

#define ROWS 100

/* The workload; its output (every row read back) goes into out. */
static int workload(char *out, size_t outlen)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t used = 0;
	char text[32];

	if (sqlite3_open(":memory:", &db) != SQLITE_OK ||
	    sqlite3_exec(db, "create table t(a integer, b text)", NULL, NULL, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db, "insert into t values(?, ?)", -1, &st, NULL) != SQLITE_OK)
		return -1;
	for (int i = 0; i < ROWS; i++) {
		snprintf(text, sizeof(text), "row-%d", i * 7 % 13);
		sqlite3_bind_int64(st, 1, (int64_t)i * i - 50);
		sqlite3_bind_text(st, 2, text, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_DONE)
			return -1;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	if (sqlite3_prepare_v2(db, "select a, b, length(b) from t order by b, a desc", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	while (sqlite3_step(st) == SQLITE_ROW && used < outlen)
		used += (size_t)snprintf(out + used, outlen - used, "%lld %s %d\n",
					 (long long)sqlite3_column_int64(st, 0),
					 (const char *)sqlite3_column_text(st, 1),
					 sqlite3_column_int(st, 2));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}

static int addr_cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct entries {
	uint64_t addr[4096];
	size_t n;
};

static int collect(uint8_t *code, size_t size, const char *name, void *arg)
{
	struct entries *e = arg;

	(void)size;
	(void)name;
	if (e->n < sizeof(e->addr) / sizeof(e->addr[0]))
		e->addr[e->n++] = (uintptr_t)code;
	return 0;
}

/* Every function entry of the libsqlite3 this process runs (aliases once). */
static int add_sqlite(void)
{
	static struct entries e;

	if (sites_each_function((void *)sqlite3_open, collect, &e))
		return -1;
	qsort(e.addr, e.n, sizeof(e.addr[0]), addr_cmp);
	for (size_t i = 0; i < e.n; i++)
		if ((!i || e.addr[i] != e.addr[i - 1]) &&
		    sites_add((uint8_t *)(uintptr_t)e.addr[i], 4, 1))
			return -1;
	sites_ready("aarch64_sqlite/test_every_entry");
	return 0;
}

static unsigned long hits_of(void *fn, int jump)
{
	struct site *s = site_at((uintptr_t)fn);

	return !s ? 0 : jump ? s->hits_jump : s->hits_brk;
}

static void test_every_entry(void)
{
	static char plain[16384], brk[16384], jump[16384];
	unsigned long hit = 0, total = 0;

	CHECK_EQ_INT(workload(plain, sizeof(plain)), 0);
	if (add_sqlite()) {
		TL_FAIL("setting the probes up failed");
		return;
	}
	sites_patch(SITES_BRK);
	CHECK_EQ_INT(workload(brk, sizeof(brk)), 0);
	sites_patch(SITES_JUMP);
	CHECK_EQ_INT(workload(jump, sizeof(jump)), 0);
	sites_patch(SITES_ORIG);
	CHECK_STR(brk, plain);
	CHECK_STR(jump, plain);
	for (size_t i = 0; i < nsites; i++) {
		if (sites[i].hits_brk != sites[i].hits_jump)
			TL_FAIL("%#llx: %lu brk hits, %lu trampoline hits",
				(unsigned long long)sites[i].addr, sites[i].hits_brk,
				sites[i].hits_jump);
		hit += sites[i].hits_brk != 0;
		total += sites[i].hits_brk;
	}
	/* what only the workload calls: exactly its calls */
	for (int jmp = 0; jmp < 2; jmp++) {
		CHECK_EQ_U64(hits_of((void *)sqlite3_bind_int64, jmp), ROWS);
		CHECK_EQ_U64(hits_of((void *)sqlite3_reset, jmp), ROWS);
		CHECK_EQ_U64(hits_of((void *)sqlite3_column_int64, jmp), ROWS);
		CHECK_EQ_U64(hits_of((void *)sqlite3_open, jmp), 1);
	}
	printf("  %zu entries probed (%zu refused), %lu hit, %lu hits a mode; output %zu bytes\n",
	       nsites, nrefused, hit, total, strlen(plain));
	CHECK(nsites > 1000);
	CHECK(strlen(plain) > 1000);
}

static struct entries api_entries;
static uint64_t api_hits[2][4096];

static void api_count(struct uprobe *p, struct uprobe_regs *regs, void *ctx)
{
	(void)p, (void)regs;
	__atomic_fetch_add((uint64_t *)ctx, 1, __ATOMIC_RELAXED);
}

static uint64_t api_hits_of(void *fn, int jump)
{
	for (size_t i = 0; i < api_entries.n; i++)
		if (api_entries.addr[i] == (uintptr_t)fn)
			return api_hits[jump][i];
	return 0;
}

/* The same through uprobe_attach_many: every entry, brk then jump. */
static void test_api_every_entry(void)
{
	static struct uprobe_spec specs[4096];
	static struct uprobe *probes[4096];
	static char plain[16384], out[2][16384];
	static int errs[4096];
	struct entries *e = &api_entries;
	size_t n = 0, opt = 0, hit = 0;
	uint64_t total = 0;

	CHECK_EQ_INT(workload(plain, sizeof(plain)), 0);
	if (sites_each_function((void *)sqlite3_open, collect, e)) {
		TL_FAIL("no entries");
		return;
	}
	qsort(e->addr, e->n, sizeof(e->addr[0]), addr_cmp);
	for (size_t i = 0; i < e->n; i++)
		if (!n || e->addr[i] != e->addr[n - 1])
			e->addr[n++] = e->addr[i];
	e->n = n;
	for (int jump = 0; jump < 2; jump++) {
		struct uprobe_batch_opts bo = { .sz = sizeof(bo), .flags = UPROBE_BATCH_PARTIAL,
						.errs = errs };
		int attached;

		for (size_t i = 0; i < n; i++)
			specs[i] = (struct uprobe_spec){
				.addr = (void *)(uintptr_t)e->addr[i], .handler = api_count,
				.ctx = &api_hits[jump][i], .flags = jump ? 0 : UPROBE_F_NO_OPTIMIZE,
			};
		attached = uprobe_attach_many(specs, n, probes, &bo);
		CHECK(attached > 1000);
		for (size_t i = 0; jump && i < n; i++) {
			struct uprobe_info info = { .sz = sizeof(info) };

			if (probes[i] && !uprobe_get_info(probes[i], &info))
				opt += info.mode == UPROBE_MODE_OPTIMIZED;
		}
		CHECK_EQ_INT(workload(out[jump], sizeof(out[jump])), 0);
		for (size_t i = 0; i < n; i++)
			if (probes[i])
				uprobe_detach(probes[i]), uprobe_free(probes[i]);
		CHECK_STR(out[jump], plain);
		if (jump)
			printf("  %d of %zu entries attached, %zu optimized\n", attached, n, opt);
	}
	for (size_t i = 0; i < n; i++) {
		if (api_hits[0][i] != api_hits[1][i])
			TL_FAIL("%#llx: %llu brk hits, %llu jump hits", (unsigned long long)e->addr[i],
				(unsigned long long)api_hits[0][i],
				(unsigned long long)api_hits[1][i]);
		hit += api_hits[0][i] != 0;
		total += api_hits[0][i];
	}
	for (int jump = 0; jump < 2; jump++) {
		CHECK_EQ_U64(api_hits_of((void *)sqlite3_bind_int64, jump), ROWS);
		CHECK_EQ_U64(api_hits_of((void *)sqlite3_reset, jump), ROWS);
		CHECK_EQ_U64(api_hits_of((void *)sqlite3_column_int64, jump), ROWS);
		CHECK_EQ_U64(api_hits_of((void *)sqlite3_open, jump), 1);
	}
	printf("  %zu hit, %llu hits a mode\n", hit, (unsigned long long)total);
}

struct analyzed {
	const char *path;
	size_t n, opt;
	char first_why[192];
};

static int analyze_one(uint8_t *code, size_t size, const char *name, void *arg)
{
	struct analyzed *a = arg;
	struct uprobe_info info = { .sz = sizeof(info) };

	(void)code, (void)size;
	a->n++;
	if (!uprobe_analyze(a->path, name, 0, &info) && info.mode == UPROBE_MODE_OPTIMIZED)
		a->opt++;
	else if (!a->first_why[0])
		snprintf(a->first_why, sizeof(a->first_why), "%s: %s %s", name, info.reason,
			 info.opt_reason);
	return 0;
}

/*
 * The target: >= 95% of the function entries of arm64 libc and
 * libsqlite3 jump-optimized (uprobe_analyze on each .dynsym function, by name).
 */
static void test_api_entry_coverage(void)
{
	void *fns[2] = { (void *)strtok_r, (void *)sqlite3_open };

	for (int k = 0; k < 2; k++) {
		struct analyzed a = { 0 };
		Dl_info di;

		CHECK(dladdr(fns[k], &di) != 0);
		a.path = di.dli_fname;
		uprobe_batch_begin();
		CHECK_EQ_INT(sites_each_function(fns[k], analyze_one, &a), 0);
		uprobe_batch_end();
		printf("  %s: %zu of %zu function entries optimized%s%s\n", a.path, a.opt, a.n,
		       a.first_why[0] ? "; first not: " : "", a.first_why);
		CHECK(a.n > 1000);
		CHECK(a.opt * 100 >= a.n * 95);
	}
}

int main(void)
{
	RUN(test_every_entry);
	RUN(test_api_every_entry);
	RUN(test_api_entry_coverage);
	TL_EXIT();
}
