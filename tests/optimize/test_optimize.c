/* SPDX-License-Identifier: MIT */
/*
 * Jump optimization is refused, with the right reason, where a jump cannot
 * safely replace the first instructions: a branch into bytes 1..4 of the
 * window, a jump table, a landing pad inside the window. The probe then takes
 * the breakpoint path and the program still computes exactly what it does
 * unprobed. The branch index behind those decisions is built once per file
 * and kept in the cache (core/branches.c): a second process maps it, and a
 * damaged one is rebuilt, with the same decisions. The longest window (19
 * bytes) is kept whole by its record, and a trampoline a batch builds and then
 * gives up is given back.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("optimize");

long opt_branch_into(long x);
long opt_jump_table(long x);
long opt_plain(long x);
long opt_table_into(long x);
int opt_catcher(int x);
char *opt_rep_window(char *dst, const char *src, size_t n);
long opt_window19(long a, long b);
long opt_demote_a(long x);
long opt_demote_b(long x);
long opt_count_target(long x);
void opt_count_call(const uint64_t in[16], uint64_t out[16]);

static uint64_t hits;

static void count(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r, (void)ctx;
	hits++;
}

static struct uprobe *attach(const char *loc, struct uprobe_info *info)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };
	struct uprobe *p = uprobe_attach(NULL, loc, &o);

	if (!p) {
		TL_FAIL("attach %s: %s", loc, uprobe_last_error());
		return NULL;
	}
	info->sz = sizeof(*info);
	CHECK_EQ_INT(uprobe_get_info(p, info), 0);
	return p;
}

/*
 * make check-forced (UPROBE_ENTRY_PATH=lean-strict): an entry the jump cannot
 * take is refused, naming why, instead of taking the breakpoint.
 */
static void entry_refused(const char *loc, const char *why)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };
	struct uprobe *p = uprobe_attach(NULL, loc, &o);

	CHECK(!p);
	uprobe_free(p);
	if (p)
		return;
	CHECK_EQ_INT(errno, ENOTSUP);
	CHECK_CONTAINS(uprobe_last_error(), loc);
	CHECK_CONTAINS(uprobe_last_error(), ": function entry not jump-optimized (");
	CHECK_CONTAINS(uprobe_last_error(), why);
	CHECK_CONTAINS(uprobe_last_error(), ") and UPROBE_ENTRY_PATH=lean-strict");
}

static void plain_is_optimized(void)
{
	struct uprobe_info info;
	struct uprobe *p = attach("opt_plain", &info);

	if (!p)
		return;
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_STR(info.opt_reason, "");
	CHECK_EQ_INT(info.window_len, 7); /* mov (3) + add (4) */
	hits = 0;
	CHECK_EQ_INT(opt_plain(4), 10);
	CHECK_EQ_U64(hits, 1);
	uprobe_free(p);
}

static void branch_into_window(void)
{
	struct uprobe_info info;
	struct uprobe *p;

	if (forced_entry_path()) {
		entry_refused("opt_branch_into", "the jump at +0xb targets byte 3 of the window");
		hits = 0;
		CHECK_EQ_INT(opt_branch_into(0), 10);
		CHECK_EQ_INT(opt_branch_into(42), 43);
		CHECK_EQ_U64(hits, 0);
		return;
	}
	p = attach("opt_branch_into", &info);
	if (!p)
		return;
	CHECK(info.mode != UPROBE_MODE_OPTIMIZED);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_XOL);
	CHECK_CONTAINS(info.opt_reason, "targets byte 3 of the window");
	hits = 0;
	CHECK_EQ_INT(opt_branch_into(0), 10);
	CHECK_EQ_INT(opt_branch_into(3), 10);
	CHECK_EQ_INT(opt_branch_into(42), 43);
	CHECK_EQ_U64(hits, 3);
	uprobe_free(p);
	CHECK_EQ_INT(opt_branch_into(0), 10);
	CHECK_EQ_U64(hits, 3);
}

/*
 * A jump table whose cases all lie after the prologue: the entry is optimized
 * (the table is read); a probe after the entry in such a function is not.
 */
static void jump_table(void)
{
	struct uprobe_info info;
	struct uprobe *p = attach("opt_jump_table", &info);

	if (!p)
		return;
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	hits = 0;
	for (long i = 0; i < 8; i++)
		CHECK_EQ_INT(opt_jump_table(i), 100 + (i & 3));
	CHECK_EQ_U64(hits, 8);
	uprobe_free(p);

	p = attach("opt_jump_table+3", &info);
	if (!p)
		return;
	CHECK(info.mode != UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(info.opt_reason, "indirect jump 'jmp rax' at +0x14 (jump table?)");
	hits = 0;
	for (long i = 0; i < 8; i++)
		CHECK_EQ_INT(opt_jump_table(i), 100 + (i & 3));
	CHECK_EQ_U64(hits, 8);
	uprobe_free(p);
}

/* A jump table case at byte 3 of the entry window: refused, and the loop still runs. */
static void jump_table_into_window(void)
{
	struct uprobe_info info;
	struct uprobe *p;

	if (forced_entry_path()) {
		entry_refused("opt_table_into", "has a case at byte 3 of the window");
		CHECK_EQ_INT(opt_table_into(5), 7);
		return;
	}
	p = attach("opt_table_into", &info);
	if (!p)
		return;
	CHECK(info.mode != UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(info.opt_reason, "has a case at byte 3 of the window");
	hits = 0;
	CHECK_EQ_INT(opt_table_into(0), 7);
	CHECK_EQ_INT(opt_table_into(5), 7);
	CHECK_EQ_U64(hits, 2);
	uprobe_free(p);
}

/*
 * The landing pad of opt_catcher follows its ret: look for the instruction
 * whose window would cover it, rather than hard-code a compiler's layout.
 */
static void landing_pad_in_window(void)
{
	struct uprobe_info info = { .sz = sizeof(info) };
	char loc[64];
	int found = -1;

	for (int off = 0; off < 64 && found < 0; off++) {
		snprintf(loc, sizeof(loc), "opt_catcher+%d", off);
		if (uprobe_analyze(NULL, loc, 0, &info))
			continue; /* not an instruction boundary */
		if (strstr(info.opt_reason, "a landing pad at"))
			found = off;
	}
	CHECK(found >= 0);
	if (found < 0)
		return;
	/*
	 * The reason names the pad by its file address (objdump's, the same in
	 * every process), not by where this process loaded the program.
	 */
	Dl_info dl;
	unsigned long pad = 0;
	CHECK(dladdr((void *)opt_catcher, &dl) != 0);
	CHECK(sscanf(strstr(info.opt_reason, "a landing pad at "), "a landing pad at %lx",
		     &pad) == 1);
	uint64_t file_at = (uint64_t)(uintptr_t)opt_catcher - (uint64_t)(uintptr_t)dl.dli_fbase +
			   (uint64_t)found;
	CHECK(pad > file_at && pad < file_at + 16);
	struct uprobe *p = attach(loc, &info);
	if (!p)
		return;
	CHECK(info.mode != UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(info.opt_reason, "is inside the window");
	/* Throwing through and catching in the probed function works as unprobed. */
	hits = 0;
	CHECK_EQ_INT(opt_catcher(0), 0);
	CHECK_EQ_INT(opt_catcher(1), 1);
	CHECK_EQ_INT(opt_catcher(0), 0);
	/*
	 * The probe sits on a ret: both no-throw calls return through it; the
	 * catch path may come back to it from the .cold part (g++ 12 -O2 does).
	 */
	CHECK(hits == 2 || hits == 3);
	uprobe_free(p);
	/* The function entry has no obstacle: optimized, and exceptions still work. */
	p = attach("opt_catcher", &info);
	if (!p)
		return;
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	hits = 0;
	CHECK_EQ_INT(opt_catcher(1), 1);
	CHECK_EQ_INT(opt_catcher(0), 0);
	CHECK_EQ_U64(hits, 2);
	uprobe_free(p);
}

static uint64_t ret_hits;

static void count_ret(struct uprobe *p, struct uprobe_regs *r, const struct uprobe_ret *ret,
		      void *ctx)
{
	(void)p, (void)r, (void)ret, (void)ctx;
	ret_hits++;
}

/* opt_window19's bytes, unprobed (targets.S). */
static const uint8_t window19_text[20] = {
	0x48, 0x83, 0xc7, 0x01,					/* add $1, %rdi */
	0x66, 0x66, 0x66, 0x66, 0x66, 0x66, 0x2e,		/* prefixes, then */
	0x48, 0x8d, 0x84, 0x37, 0x78, 0x56, 0x34, 0x12,		/* lea 0x12345678(%rdi,%rsi) */
	0xc3,							/* ret */
};

/* One call counted once, the probe's jump in the text, and the text back after. */
static void window19_attach_once(void)
{
	struct uprobe_info info;
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };
	struct uprobe *p = attach("opt_window19", &info), *q;
	const uint8_t *text = (const uint8_t *)opt_window19;

	if (!p)
		return;
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_EQ_INT(info.window_len, 19);
	CHECK_EQ_INT(text[0], 0xe9);
	hits = 0;
	CHECK_EQ_INT(opt_window19(1, 2), 4 + 0x12345678);
	CHECK_EQ_U64(hits, 1);
	/* inside the jump: refused while it is there */
	q = uprobe_attach(NULL, "opt_window19+4", &o);
	CHECK(!q);
	CHECK_EQ_INT(errno, EBUSY);
	uprobe_free(q);
	uprobe_free(p);
	CHECK(!memcmp(text, window19_text, sizeof(window19_text)));
}

/*
 * The longest window (19 bytes) is kept whole by its record. Its record kept
 * 15 bytes: the last ones ran over into its patch state, which then read as
 * installed, so that its int3 and jump never went in (no hit), a probe after
 * it was refused as inside an installed jump, and the record, reused at the
 * next attach there, stayed so (tests/diff from sequence 1855 on, where a
 * 17-byte window met a layout of the record with the state right after the
 * copy). Attached and detached three times (the record is reused), then an
 * entry and a return probe in one batch (one record for both).
 */
static void longest_window(void)
{
	struct uprobe_spec specs[2] = {
		{ .location = "opt_window19", .handler = count },
		{ .location = "opt_window19", .ret_handler = count_ret },
	};
	struct uprobe *ps[2] = { 0 };
	struct uprobe_info info = { .sz = sizeof(info) };

	for (int i = 0; i < 3; i++)
		window19_attach_once();
	CHECK_EQ_INT(uprobe_attach_many(specs, 2, ps, NULL), 2);
	if (!ps[0] || !ps[1])
		return;
	CHECK_EQ_INT(uprobe_get_info(ps[0], &info), 0);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_EQ_INT(info.window_len, 19);
	hits = ret_hits = 0;
	CHECK_EQ_INT(opt_window19(1, 2), 4 + 0x12345678);
	CHECK_EQ_INT(opt_window19(-1, 0), 0x12345678);
	CHECK_EQ_U64(hits, 2);
	CHECK_EQ_U64(ret_hits, 2);
	CHECK_EQ_INT(uprobe_detach_many(ps, 2), 0);
	uprobe_free(ps[0]);
	uprobe_free(ps[1]);
	CHECK(!memcmp((const void *)opt_window19, window19_text, sizeof(window19_text)));
	window19_attach_once();
}

static uint64_t xol_slots(void)
{
	struct uprobe_stats st = { .sz = sizeof(st) };

	CHECK_EQ_INT(uprobe_get_stats(&st), 0);
	return st.xol_slots;
}

/*
 * A batch probes a function's entry and its second instruction: the entry's
 * window (7 bytes) holds the second probe, so the entry's record, built
 * optimized, is demoted to the breakpoint path. Its trampoline, built in the
 * batch and never run, is given back (it was kept for good): the batch costs
 * what the second probe alone costs in a copy of the function (opt_demote_b),
 * plus the entry's slot when it runs out of line.
 */
static void demoted(void)
{
	struct uprobe_spec specs[2] = {
		{ .location = "opt_demote_a", .handler = count },
		{ .location = "opt_demote_a+3", .handler = count },
	};
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };
	struct uprobe_info entry = { .sz = sizeof(entry) }, second = { .sz = sizeof(second) };
	struct uprobe_info single = { .sz = sizeof(single) };
	struct uprobe *ps[2] = { 0 }, *p;
	uint64_t before = xol_slots(), batch, alone;

	CHECK_EQ_INT(uprobe_attach_many(specs, 2, ps, NULL), 2);
	if (!ps[0] || !ps[1])
		return;
	batch = xol_slots() - before;
	CHECK_EQ_INT(uprobe_get_info(ps[0], &entry), 0);
	CHECK(entry.mode != UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(entry.opt_reason, "another probe at +3 is inside the window");
	CHECK_EQ_INT(uprobe_get_info(ps[1], &second), 0);
	CHECK_EQ_INT(second.mode, UPROBE_MODE_OPTIMIZED);
	hits = 0;
	CHECK_EQ_INT(opt_demote_a(4), 10);
	CHECK_EQ_U64(hits, 2);
	CHECK_EQ_INT(uprobe_detach_many(ps, 2), 0);
	uprobe_free(ps[0]);
	uprobe_free(ps[1]);
	before = xol_slots();
	p = uprobe_attach(NULL, "opt_demote_b+3", &o);
	CHECK(p != NULL);
	alone = xol_slots() - before;
	CHECK_EQ_INT(uprobe_get_info(p, &single), 0);
	CHECK_EQ_INT(single.mode, UPROBE_MODE_OPTIMIZED);
	uprobe_free(p);
	CHECK(alone > 1);
	CHECK_EQ_U64(batch, alone + (entry.mode == UPROBE_MODE_EMULATE ? 0 : 1));
}

#define REP_BYTES (1ul << 30)
#define REP_PAGE  4096
#define REP_TRIES 20

static char *rep_src, *rep_dst;

static void *rep_thread(void *arg)
{
	(void)arg;
	return opt_rep_window(rep_dst, rep_src, REP_BYTES);
}

/* The rep has copied the byte at OFF (each page starts with its number). */
static bool rep_copied(size_t off)
{
	return *(volatile char *)(rep_dst + off) == rep_src[off];
}

/*
 * A thread inside the window (in a long rep movsb at +3) while the jump is
 * written: quiescence moves it to the copy, and the copy finishes exactly.
 * The attach starts once the copy is seen under way (its second page copied,
 * its last not yet): the thread is then in the rep, for the rest of a GiB. It
 * can still finish before the threads are stopped (a machine loaded enough
 * to stall the attach that long): another try then, up to REP_TRIES.
 */
static void thread_moved_out_of_window(void)
{
	struct uprobe_stats st = { .sz = sizeof(st) };
	uint64_t moved0, moved = 0;
	struct uprobe_info info;
	int tries;

	rep_src = mmap(NULL, REP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	rep_dst = mmap(NULL, REP_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	CHECK(rep_src != MAP_FAILED && rep_dst != MAP_FAILED);
	if (rep_src == MAP_FAILED || rep_dst == MAP_FAILED)
		return;
	for (size_t i = 0; i < REP_BYTES; i += REP_PAGE)
		rep_src[i] = (char)(i / REP_PAGE), rep_dst[i] = 0;
	for (tries = 1; tries <= REP_TRIES && !moved; tries++) {
		pthread_t t;
		void *ret;

		memset(rep_dst, 0, 2 * REP_PAGE);
		rep_dst[REP_BYTES - REP_PAGE] = 0;
		uprobe_get_stats(&st);
		moved0 = st.threads_moved;
		pthread_create(&t, NULL, rep_thread, NULL);
		while (!rep_copied(REP_PAGE))
			sched_yield();
		if (rep_copied(REP_BYTES - REP_PAGE))
			printf("# try %d: the copy was over before the attach began\n", tries);
		struct uprobe *p = attach("opt_rep_window", &info);
		pthread_join(t, &ret);
		CHECK(ret == rep_dst + REP_BYTES);
		CHECK(!memcmp(rep_src, rep_dst, REP_BYTES));
		CHECK(p && info.mode == UPROBE_MODE_OPTIMIZED && info.window_len == 5);
		uprobe_get_stats(&st);
		moved = st.threads_moved - moved0;
		/* Probed calls still copy exactly. */
		hits = 0;
		memset(rep_dst, 0, REP_BYTES / 64);
		CHECK(opt_rep_window(rep_dst, rep_src, REP_BYTES / 64) == rep_dst + REP_BYTES / 64);
		CHECK(!memcmp(rep_src, rep_dst, REP_BYTES / 64));
		CHECK_EQ_U64(hits, 1);
		uprobe_free(p);
	}
	if (moved)
		printf("# the thread was moved out of the window in try %d\n", tries - 1);
	CHECK_EQ_U64(moved, 1);
	munmap(rep_src, REP_BYTES);
	munmap(rep_dst, REP_BYTES);
}

/*
 * The library writes text with the raw system call: a probe on libc's
 * pwrite64 sees none of the writes that put another probe in and take it
 * out (through libc, each write would also take the breakpoint of a probe
 * being patched on the way, __pthread_enable_asynccancel's for one).
 */
static void text_writes_bypass_libc(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };
	struct uprobe *w = uprobe_attach("/lib/x86_64-linux-gnu/libc.so.6", "pwrite64", &o), *p;
	struct uprobe_info info = { .sz = sizeof(info) };

	if (!w) {
		TL_FAIL("attach libc's pwrite64: %s", uprobe_last_error());
		return;
	}
	hits = 0;
	p = uprobe_attach_addr((void *)opt_plain, &o);
	CHECK(p != NULL);
	CHECK_EQ_INT(opt_plain(4), 10);
	CHECK_EQ_INT(uprobe_detach(p), 0);
	uprobe_free(p);
	CHECK_EQ_U64(hits, 1); /* opt_plain's, none of pwrite64 */
	CHECK_EQ_INT(uprobe_get_info(w, &info), 0);
	CHECK_EQ_U64(info.hits, 0);
	uprobe_free(w);
}

static char cache[64], cmd_rm[128];

/* The cached branch index of this program (br-*.ubr) in path, with its inode: 0 or -1. */
static int cached_index(char *path, size_t len, ino_t *ino)
{
	DIR *d = opendir(cache);
	struct dirent *e;
	struct stat st;
	int found = 0;

	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "br-", 3) && strstr(e->d_name, ".ubr") &&
		    !strstr(e->d_name, ".tmp") && !found++)
			snprintf(path, len, "%s/%s", cache, e->d_name);
	if (d)
		closedir(d);
	if (found != 1 || stat(path, &st))
		return -1;
	*ino = st.st_ino;
	return 0;
}

/* What a fresh process (this program, "--child") decides for opt_branch_into and opt_plain. */
static void child_decides(const char *want_reason)
{
	char exe[4096], cmd[4200], line[512] = "";
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	FILE *f;

	if (n <= 0) {
		TL_FAIL("readlink /proc/self/exe");
		return;
	}
	exe[n] = 0;
	snprintf(cmd, sizeof(cmd), "'%s' --child", exe);
	f = popen(cmd, "r");
	if (!f || !fgets(line, sizeof(line), f))
		TL_FAIL("no answer from '%s'", cmd);
	CHECK_CONTAINS(line, want_reason);
	if (f && fgets(line, sizeof(line), f))
		CHECK_STR(line, "opt_plain optimized\n");
	if (f)
		CHECK_EQ_INT(pclose(f), 0);
}

static int child(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count };
	const char *locs[] = { "opt_branch_into", "opt_plain" };

	for (int i = 0; i < 2; i++) {
		struct uprobe_info info = { .sz = sizeof(info) };
		struct uprobe *p = uprobe_attach(NULL, locs[i], &o);

		/* make check-forced: the same decision, as the refusal's reason */
		if (!p && errno == ENOTSUP && forced_entry_path()) {
			printf("%s refused: %s\n", locs[i], uprobe_last_error());
			continue;
		}
		if (!p || uprobe_get_info(p, &info))
			return 1;
		printf("%s %s%s\n", locs[i],
		       info.mode == UPROBE_MODE_OPTIMIZED ? "optimized" : "refused: ",
		       info.opt_reason);
		uprobe_free(p);
	}
	return 0;
}

/*
 * branch_into_window left this program's index in the cache: a fresh process
 * maps it (the file is not rewritten: same inode) and decides the same.
 */
static void branch_index_cached(void)
{
	char path[256];
	ino_t ino, again;

	if (cached_index(path, sizeof(path), &ino)) {
		TL_FAIL("no branch index br-*.ubr in %s", cache);
		return;
	}
	child_decides("targets byte 3 of the window");
	CHECK(!cached_index(path, sizeof(path), &again) && again == ino);
}

/*
 * An index whose entries are out of order is not trusted: rebuilt (a new
 * file), same decisions. Layout (core/branches.c): a 136-byte header with the
 * count at byte 8, then { target, src } pairs of 32-bit offsets.
 */
static void branch_index_damaged(void)
{
	uint32_t first[2], last[2];
	uint64_t n = 0;
	char path[256];
	ino_t ino, again;
	FILE *f;

	if (cached_index(path, sizeof(path), &ino)) {
		TL_FAIL("no branch index br-*.ubr in %s", cache);
		return;
	}
	f = fopen(path, "r+");
	if (!f || fseek(f, 8, SEEK_SET) || fread(&n, 8, 1, f) != 1 || n < 2 ||
	    fseek(f, 136, SEEK_SET) || fread(first, 8, 1, f) != 1 ||
	    fseek(f, (long)(136 + 8 * (n - 1)), SEEK_SET) || fread(last, 8, 1, f) != 1 ||
	    first[0] >= last[0] || fseek(f, 136, SEEK_SET) || fwrite(last, 8, 1, f) != 1 ||
	    fseek(f, (long)(136 + 8 * (n - 1)), SEEK_SET) || fwrite(first, 8, 1, f) != 1)
		TL_FAIL("cannot swap the first and last references of %s", path);
	if (f)
		fclose(f);
	child_decides("targets byte 3 of the window");
	CHECK(!cached_index(path, sizeof(path), &again) && again != ino);
}


/* ---- the count stub (UPROBE_F_COUNT_STUB, uprobe_count_enable) ------------------------ */

#define COUNT_FLAGS (UPROBE_F_COUNT_STUB | UPROBE_F_HANDLER_NO_FLAGS | UPROBE_F_HANDLER_NO_SIMD)

static bool entry_path_full(void)
{
	const char *v = getenv("UPROBE_ENTRY_PATH");

	return v && !strcmp(v, "full");
}

static struct uprobe *count_attach(unsigned flags, struct uprobe_info *info)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count, .flags = flags };
	struct uprobe *p = uprobe_attach(NULL, "opt_count_target", &o);

	if (!p) {
		TL_FAIL("attach opt_count_target: %s", uprobe_last_error());
		return NULL;
	}
	info->sz = sizeof(*info);
	CHECK_EQ_INT(uprobe_get_info(p, info), 0);
	return p;
}

/* in[] with distinct values, the red zone's filler in[15]. */
static void count_regs_in(uint64_t in[16], uint64_t seed)
{
	for (int i = 0; i < 16; i++)
		in[i] = 0x0123456789abcdefull * (seed + (uint64_t)i + 1) ^ (uint64_t)i << 56;
}

/* Registers after the call as unprobed: all as given but rax = rdi + 1, red zone intact. */
static void count_regs_check(const uint64_t in[16], const uint64_t out[16])
{
	for (int i = 0; i < 15; i++)
		if (out[i] != (i == 0 ? in[5] + 1 : in[i]))
			TL_FAIL("register %d: 0x%llx, want 0x%llx", i, (unsigned long long)out[i],
				(unsigned long long)(i == 0 ? in[5] + 1 : in[i]));
	CHECK_EQ_U64(out[15], 0);
}

/*
 * The stub adds 1 to base + off for each hit of a thread with a base while
 * the probe is enabled and alone, changes no register (but rax, the target's,
 * and the flags) nor the red zone, and every other hit runs the handler:
 * no base, not enabled, a second consumer, disabled again, detached.
 */
static void count_stub_counts(void)
{
	static uint64_t words[4];
	uint64_t in[16], out[16];
	struct uprobe_info info;
	struct uprobe *p = count_attach(COUNT_FLAGS, &info), *q;

	if (!p)
		return;
	if (entry_path_full()) { /* no lean trampoline: no stub either */
		CHECK_EQ_INT(uprobe_count_stub(p), 0);
		uprobe_free(p);
		return;
	}
	CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_CONTAINS(info.reason, "(function entry, lean, count stub)");
	CHECK_EQ_INT(uprobe_count_stub(p), 1);
	CHECK_EQ_INT(uprobe_count_enable(p, 12), -ENOTSUP);
	hits = 0;
	/* Not enabled yet, then enabled without a base: the handler. */
	for (uint64_t i = 0; i < 100; i++) {
		count_regs_in(in, i);
		opt_count_call(in, out);
		count_regs_check(in, out);
	}
	CHECK_EQ_INT(uprobe_count_enable(p, 16), 0);
	CHECK_EQ_U64(opt_count_target(7), 8);
	CHECK_EQ_U64(hits, 101);
	/* With a base: the stub alone. */
	uprobe_count_thread(words);
	for (uint64_t i = 0; i < 1000; i++) {
		count_regs_in(in, i + 1000);
		opt_count_call(in, out);
		count_regs_check(in, out);
	}
	CHECK_EQ_U64(words[2], 1000);
	CHECK_EQ_U64(words[0] + words[1] + words[3], 0);
	CHECK_EQ_U64(hits, 101);
	/* A second consumer: both handlers, the stub's word untouched. */
	{
		/* the same execution flags: it joins p's record */
		struct uprobe_opts o = { .sz = sizeof(o), .handler = count,
					 .flags = UPROBE_F_HANDLER_NO_FLAGS | UPROBE_F_HANDLER_NO_SIMD };

		q = uprobe_attach(NULL, "opt_count_target", &o);
		CHECK(q != NULL);
		count_regs_in(in, 7);
		opt_count_call(in, out);
		count_regs_check(in, out);
		CHECK_EQ_U64(hits, 103);
		CHECK_EQ_U64(words[2], 1000);
		uprobe_free(q);
	}
	/* Alone again: the stub again. */
	CHECK_EQ_U64(opt_count_target(1), 2);
	CHECK_EQ_U64(words[2], 1001);
	CHECK_EQ_U64(hits, 103);
	/* Disabled: the handler. */
	CHECK_EQ_INT(uprobe_count_enable(p, 0), 0);
	CHECK_EQ_U64(opt_count_target(1), 2);
	CHECK_EQ_U64(words[2], 1001);
	CHECK_EQ_U64(hits, 104);
	/* Another offset. */
	CHECK_EQ_INT(uprobe_count_enable(p, 8), 0);
	CHECK_EQ_U64(opt_count_target(1), 2);
	CHECK_EQ_U64(words[1], 1);
	/* No base: the handler. */
	uprobe_count_thread(NULL);
	CHECK_EQ_U64(opt_count_target(1), 2);
	CHECK_EQ_U64(hits, 105);
	uprobe_count_thread(words);
	/* Detached while enabled: nothing counts, the text is as unprobed. */
	CHECK_EQ_INT(uprobe_detach(p), 0);
	count_regs_in(in, 3);
	opt_count_call(in, out);
	count_regs_check(in, out);
	CHECK_EQ_U64(words[1], 1);
	CHECK_EQ_U64(hits, 105);
	uprobe_count_thread(NULL);
	uprobe_free(p);
	CHECK_EQ_U64(words[0] + words[3], 0);
}

/* Without UPROBE_F_HANDLER_NO_FLAGS or with SIMD saved, or on a return probe: no stub. */
static void count_stub_refused(void)
{
	static const unsigned flags[] = {
		UPROBE_F_COUNT_STUB | UPROBE_F_HANDLER_NO_SIMD,
		UPROBE_F_COUNT_STUB | UPROBE_F_HANDLER_NO_FLAGS,
		COUNT_FLAGS | UPROBE_F_NO_OPTIMIZE,
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		struct uprobe_info info;
		struct uprobe *p = count_attach(flags[i], &info);

		if (!p)
			continue;
		CHECK_EQ_INT(uprobe_count_stub(p), 0);
		CHECK_EQ_INT(uprobe_count_enable(p, 8), -ENOTSUP);
		hits = 0;
		CHECK_EQ_U64(opt_count_target(2), 3);
		CHECK_EQ_U64(hits, 1);
		uprobe_free(p);
	}
}

/*
 * Threads hitting the stub while the main thread disables, enables and
 * detaches: every hit lands once, in the thread's own word or in the
 * handler's count, and none after the probe is out. 4 threads x N.
 */
#define COUNT_THREADS 4
#define COUNT_CALLS 200000 /* each thread's at least: it goes on until count_stop */

static uint64_t thread_words[COUNT_THREADS][8] __attribute__((aligned(64)));
static uint64_t thread_calls[COUNT_THREADS][8] __attribute__((aligned(64)));
static uint64_t handler_hits; /* atomic */
static volatile int count_go, count_stop;

static void count_atomic(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r, (void)ctx;
	__atomic_fetch_add(&handler_hits, 1, __ATOMIC_RELAXED);
}

static void *count_thread(void *arg)
{
	long k = (long)arg;

	uprobe_count_thread(thread_words[k]);
	while (!count_go)
		sched_yield();
	for (long i = 0; i < COUNT_CALLS || !count_stop; i++) {
		if (opt_count_target(i) != i + 1)
			abort();
		thread_calls[k][0]++;
	}
	return NULL;
}

static uint64_t words_sum(void)
{
	uint64_t n = 0;

	for (long k = 0; k < COUNT_THREADS; k++)
		n += __atomic_load_n(&thread_words[k][1], __ATOMIC_RELAXED);
	return n;
}

/*
 * A probe asking for the stub where a plain probe was before (its record kept,
 * its trampoline not the stub) gets the stub, and the other way round: a
 * record left by probes gone is reused only for the same trampoline kind.
 * Before, bench_lang's stub row at a function the other rows had probed got
 * the plain trampoline, and a plain probe after a stub would have kept it.
 */
static void count_stub_after_plain(void)
{
	struct uprobe_info info;
	struct uprobe *p;

	for (int round = 0; round < 4; round++) {
		bool stub = round & 1;

		p = count_attach(stub ? COUNT_FLAGS : COUNT_FLAGS & ~UPROBE_F_COUNT_STUB, &info);
		if (!p)
			return;
		CHECK_EQ_INT(info.mode, UPROBE_MODE_OPTIMIZED);
		CHECK_EQ_INT(uprobe_count_stub(p), stub && !entry_path_full());
		CHECK_EQ_INT(opt_count_target(41), 42);
		CHECK_EQ_INT(uprobe_detach(p), 0);
		uprobe_free(p);
	}
}

/*
 * opt_count_target's probe on the count stub, the threads' words and counters
 * zeroed; NULL when attach failed (a failure) or the stub was not built (only
 * right with the full entry path forced: nothing to test then).
 */
static struct uprobe *count_stub_attach(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count_atomic, .flags = COUNT_FLAGS };
	struct uprobe *p = uprobe_attach(NULL, "opt_count_target", &o);

	if (!p) {
		TL_FAIL("attach: %s", uprobe_last_error());
		return NULL;
	}
	if (!uprobe_count_stub(p)) {
		CHECK(entry_path_full());
		uprobe_free(p);
		return NULL;
	}
	memset(thread_words, 0, sizeof(thread_words));
	memset(thread_calls, 0, sizeof(thread_calls));
	handler_hits = 0;
	count_go = count_stop = 0;
	return p;
}

static void count_stub_threads(void)
{
	struct uprobe *p = count_stub_attach();
	pthread_t t[COUNT_THREADS];
	struct uprobe_stats s0 = { .sz = sizeof(s0) }, s1 = { .sz = sizeof(s1) };
	uint64_t total = 0, calls = 0;

	if (!p)
		return;
	CHECK_EQ_INT(uprobe_count_enable(p, 8), 0);
	for (long k = 0; k < COUNT_THREADS; k++)
		CHECK_EQ_INT(pthread_create(&t[k], NULL, count_thread, (void *)k), 0);
	count_go = 1;
	uprobe_get_stats(&s0);
	for (int round = 0; round < 40; round++) {
		usleep(2000);
		CHECK_EQ_INT(uprobe_count_enable(p, round & 1 ? 8 : 0), 0);
		if (round & 1)
			continue;
		/* Disabled: once enable returned, no stub writes any more. */
		uint64_t was = words_sum();

		usleep(2000);
		CHECK_EQ_U64(words_sum(), was);
	}
	/*
	 * Enabled again (round 39): the threads go on until the stub has counted
	 * (a loaded machine may have run them only while it was off), 10 s at most.
	 */
	for (int ms = 0; ms < 10000 && !words_sum(); ms++)
		usleep(1000);
	count_stop = 1;
	for (long k = 0; k < COUNT_THREADS; k++)
		pthread_join(t[k], NULL);
	uprobe_get_stats(&s1);
	printf("# %llu threads moved out of the stub\n",
	       (unsigned long long)(s1.threads_moved - s0.threads_moved));
	uprobe_free(p);
	for (long k = 0; k < COUNT_THREADS; k++) {
		total += thread_words[k][1];
		calls += thread_calls[k][0];
		CHECK(thread_calls[k][0] >= COUNT_CALLS);
		for (int w = 0; w < 8; w++)
			if (w != 1 && thread_words[k][w])
				TL_FAIL("thread %ld word %d: %llu", k, w,
					(unsigned long long)thread_words[k][w]);
	}
	CHECK_EQ_U64(total + handler_hits, calls);
	CHECK(total > 0);
}

/*
 * The switch-off without a wait (uprobe_count_off_nowait, what recording's
 * stop uses): no signal reaches the threads, so a thread that sleeps between
 * its hits sees no EINTR (nanosleep is never restarted), and the count stays
 * exact: a late add lands in the thread's word, which stays.
 */
static uint64_t nowait_eintr; /* atomic */

static void *count_sleeper(void *arg)
{
	long k = (long)arg;
	struct timespec ts = { 0, 1000 };

	uprobe_count_thread(thread_words[k]);
	while (!count_go)
		sched_yield();
	for (long i = 0; i < COUNT_CALLS; i++) {
		if (opt_count_target(i) != i + 1)
			abort();
		if (i % 256 == 255 && nanosleep(&ts, NULL) && errno == EINTR)
			__atomic_fetch_add(&nowait_eintr, 1, __ATOMIC_RELAXED);
	}
	return NULL;
}

static void count_stub_nowait(void)
{
	struct uprobe *p = count_stub_attach();
	pthread_t t[COUNT_THREADS];
	uint64_t total = 0, off = 8;
	int offs = 0;

	if (!p)
		return;
	nowait_eintr = 0;
	CHECK_EQ_INT(uprobe_count_enable(p, off), 0);
	for (long k = 0; k < COUNT_THREADS; k++)
		CHECK_EQ_INT(pthread_create(&t[k], NULL, count_sleeper, (void *)k), 0);
	count_go = 1;
	for (int round = 0; round < 200; round++) {
		usleep(500);
		if (round & 1) {
			CHECK_EQ_INT(uprobe_count_enable(p, off), 0);
		} else {
			CHECK_EQ_INT(uprobe_count_off_nowait(&p, 1), 0);
			offs++;
		}
	}
	CHECK_EQ_INT(uprobe_count_off_nowait(&p, 1), 0);
	for (long k = 0; k < COUNT_THREADS; k++)
		pthread_join(t[k], NULL);
	uprobe_free(p);
	for (long k = 0; k < COUNT_THREADS; k++)
		total += thread_words[k][1];
	CHECK_EQ_U64(total + handler_hits, (uint64_t)COUNT_THREADS * COUNT_CALLS);
	CHECK(total > 0 && handler_hits > 0);
	CHECK_EQ_U64(nowait_eintr, 0);
	CHECK_EQ_INT(offs, 100);
	CHECK_EQ_INT(uprobe_count_off_nowait(NULL, 1), -EINVAL);
}

int main(int argc, char **argv)
{
	int rc;

	if (argc > 1 && !strcmp(argv[1], "--child"))
		return child();
	/* A cache of this run's own, made before the first probe. */
	snprintf(cache, sizeof(cache), "/tmp/uprobes-optimize-XXXXXX");
	if (!mkdtemp(cache) || setenv("UPROBE_CACHE_DIR", cache, 1))
		return 1;
	RUN(plain_is_optimized);
	RUN(branch_into_window);
	RUN(branch_index_cached);
	RUN(branch_index_damaged);
	RUN(jump_table);
	RUN(jump_table_into_window);
	RUN(landing_pad_in_window);
	RUN(longest_window);
	RUN(demoted);
	RUN(thread_moved_out_of_window);
	RUN(text_writes_bypass_libc);
	RUN(count_stub_counts);
	RUN(count_stub_refused);
	RUN(count_stub_after_plain);
	RUN(count_stub_threads);
	RUN(count_stub_nowait);
	rc = tl_total_failed ? 1 : 0;
	snprintf(cmd_rm, sizeof(cmd_rm), "rm -rf '%s'", cache);
	return system(cmd_rm) ? 1 : rc;
}
