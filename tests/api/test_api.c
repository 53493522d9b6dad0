/* SPDX-License-Identifier: MIT */
/*
 * Bad input gets a specific -errno and a message naming the token, offset or
 * bytes at fault, and changes nothing. Also: SIGTRAP stays the program's
 * (chaining), batches are all-or-nothing, recursion is skipped and counted.
 */
#include <dlfcn.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testlib.h"
#include "uprobes.h"

TL_DEFINE("api");

extern char api_movabs[], api_syscall[], api_syscall_insn[], api_ud2[], api_int3[];
extern char api_int3_after[], api_int80[], api_mov_ss_insn[], api_add[];
long api_add_fn(long a, long b) __asm__("api_add");

#define LIBC "/lib/x86_64-linux-gnu/libc.so.6"

static uint64_t hits;

static void count(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r, (void)ctx;
	__atomic_fetch_add(&hits, 1, __ATOMIC_RELAXED);
}

static const struct uprobe_opts count_opts = { .sz = sizeof(count_opts), .handler = count };

static uint64_t attached_now(void)
{
	struct uprobe_stats s = { .sz = sizeof(s) };

	uprobe_get_stats(&s);
	return s.probes_attached;
}

/* Attach must fail with err and a message containing want; text unchanged. */
static void expect_fail(const char *path, const char *loc, int err, const char *want,
			const void *text)
{
	uint8_t before[16], after[16];
	uint64_t n0 = attached_now();
	struct uprobe *p;

	if (text)
		memcpy(before, text, sizeof(before));
	errno = 0;
	p = uprobe_attach(path, loc, &count_opts);
	CHECK(p == NULL);
	if (p)
		uprobe_free(p);
	if (errno != err)
		TL_FAIL("%s:%s: errno %d (%s), want %d (%s); message: %s", path ? path : "(self)",
			loc, errno, strerror(errno), err, strerror(err), uprobe_last_error());
	CHECK_CONTAINS(uprobe_last_error(), want);
	CHECK_EQ_U64(attached_now(), n0);
	if (text) {
		memcpy(after, text, sizeof(after));
		CHECK(!memcmp(before, after, sizeof(before)));
	}
}

static void nonexistent_path(void)
{
	expect_fail("/nonexistent/libfoo.so", "foo", ENOENT,
		    "'/nonexistent/libfoo.so': No such file or directory", NULL);
}

static void not_elf(void)
{
	expect_fail("/etc/hostname", "main", ENOEXEC, "/etc/hostname: not an ELF file", NULL);
}

static void not_mapped(void)
{
	/* A real ELF file this process has not loaded. */
	expect_fail("/usr/bin/true", "0x2000", ENXIO, "is not mapped (executable) in this process",
		    NULL);
}

static void unknown_symbol(void)
{
	expect_fail(NULL, "no_such_function_xyz", ESRCH, "symbol 'no_such_function_xyz' not found",
		    NULL);
	expect_fail(LIBC, "no_such_libc_fn", ESRCH, "symbol 'no_such_libc_fn' not found in", NULL);
}

static void ret_nop(struct uprobe *p, struct uprobe_regs *regs, const struct uprobe_ret *r,
		    void *ctx)
{
	(void)p, (void)regs, (void)r, (void)ctx;
}

/* Return probes: only at function entries, never in Go binaries. */
static void ret_refused(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .ret_handler = ret_nop };
	char path[4096];
	struct uprobe *p;
	ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 32);
	void *h;

	p = uprobe_attach(NULL, "api_add+4", &o);
	CHECK(!p);
	CHECK_EQ_INT(errno, EINVAL);
	CHECK_CONTAINS(uprobe_last_error(), "return probes need a function entry: ");
	CHECK_CONTAINS(uprobe_last_error(), " is api_add+0x4");
	CHECK(n > 0);
	path[n > 0 ? n : 0] = 0;
	snprintf(strrchr(path, '/'), 32, "/libfake_go.so");
	h = dlopen(path, RTLD_NOW);
	CHECK(h);
	if (!h)
		return;
	p = uprobe_attach(path, "fake_go_add", &o);
	CHECK(!p);
	CHECK_EQ_INT(errno, ENOTSUP);
	CHECK_CONTAINS(uprobe_last_error(), "libfake_go.so is a Go binary");
	/* Entry probes are fine there. */
	o.ret_handler = NULL;
	p = uprobe_attach(path, "fake_go_add", &o);
	if (forced_entry_path()) {
		/* Too short for the jump (lea; ret): only the breakpoint could take it. */
		CHECK(!p);
		CHECK_EQ_INT(errno, ENOTSUP);
		CHECK_CONTAINS(uprobe_last_error(), "function entry not jump-optimized (the "
			       "function ends 4 bytes after the probe, before the 5-byte jump "
			       "would) and UPROBE_ENTRY_PATH=lean-strict");
		CHECK_CONTAINS(uprobe_last_error(), "fake_go_add");
	} else {
		CHECK(p);
	}
	uprobe_free(p);
	dlclose(h);
}

static void malformed_location(void)
{
	expect_fail(NULL, "api_add+zz", EINVAL, "bad offset 'zz' after symbol 'api_add'", api_add);
	expect_fail(NULL, "0x12zz", EINVAL, "bad file offset '0x12zz'", NULL);
	expect_fail(NULL, "+4", EINVAL, "bad symbol in '+4'", NULL);
	expect_fail(NULL, "", EINVAL, "empty location", NULL);
}

static void offset_beyond_function(void)
{
	/* api_add is lea (4 bytes) + ret (1 byte): size 5. */
	expect_fail(NULL, "api_add+5", ERANGE, "offset 0x5 is beyond the end of 'api_add' (size 0x5)",
		    api_add);
	expect_fail(NULL, "api_add+0x1000", ERANGE, "offset 0x1000 is beyond the end of 'api_add'",
		    api_add);
}

static void offset_beyond_file(void)
{
	expect_fail(NULL, "0x7fffffff", ERANGE, "offset 0x7fffffff is beyond the end of the file",
		    NULL);
}

static void offset_not_code(void)
{
	/* Offset 0 is the ELF header: in no executable segment of a PIE. */
	expect_fail(NULL, "0", ENXIO, "offset 0x0 is not in an executable segment", NULL);
}

static void offset_inside_instruction(void)
{
	expect_fail(NULL, "api_movabs+3", EILSEQ,
		    "offset +0x3 is inside the instruction at +0x0 "
		    "('mov rax, 0x1122334455667788', 10 bytes); nearest boundaries +0x0 and +0xa",
		    api_movabs);
	/* The same, by file offset: */
	struct uprobe_info info = { .sz = sizeof(info) };
	char loc[32];

	CHECK_EQ_INT(uprobe_analyze(NULL, "api_movabs", 0, &info), 0);
	snprintf(loc, sizeof(loc), "0x%lx", (unsigned long)info.file_offset + 1);
	expect_fail(NULL, loc, EILSEQ, "offset +0x1 is inside the instruction at +0x0", api_movabs);
	/* And the boundary right after it is accepted. */
	struct uprobe *p = uprobe_attach(NULL, "api_movabs+10", &count_opts);
	CHECK(p != NULL);
	uprobe_free(p);
}

static void unprobeable(void)
{
	expect_fail(NULL, "api_syscall+5", ENOTSUP, "'syscall' (0f 05): system call", api_syscall);
	expect_fail(NULL, "api_ud2", ENOTSUP, "'ud2' (0f 0b): undefined instruction", api_ud2);
	expect_fail(NULL, "api_int3", ENOTSUP, "'int3' (cc): already a breakpoint", api_int3);
	expect_fail(NULL, "api_int80", ENOTSUP, "'int 0x80' (cd 80): software interrupt", api_int80);

	struct uprobe_opts o = count_opts;
	errno = 0;
	CHECK(uprobe_attach_addr(api_mov_ss_insn, &o) == NULL);
	CHECK_EQ_INT(errno, ENOTSUP);
	CHECK_CONTAINS(uprobe_last_error(), "load of SS");

	/* uprobe_analyze says the same without attaching. */
	struct uprobe_info info = { .sz = sizeof(info) };
	CHECK_EQ_INT(uprobe_analyze(NULL, "api_syscall+5", 0, &info), -ENOTSUP);
	CHECK_CONTAINS(info.reason, "system call");
	CHECK_EQ_U64(info.addr, (uint64_t)api_syscall_insn);
}

static void bad_addresses(void)
{
	struct uprobe *p;
	void *anon;

	errno = 0;
	p = uprobe_attach_addr((void *)8, &count_opts);
	CHECK(!p);
	CHECK_EQ_INT(errno, ENXIO);
	CHECK_CONTAINS(uprobe_last_error(), "address 0x8 is not mapped");

	errno = 0;
	p = uprobe_attach_addr(&hits, &count_opts);
	CHECK(!p);
	CHECK_EQ_INT(errno, ENXIO);
	CHECK_CONTAINS(uprobe_last_error(), "is not executable");

	/* Code without symbol or FDE: refused unless the caller vouches for it. */
	anon = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS,
		    -1, 0);
	memcpy(anon, "\x48\x8d\x04\x37\xc3", 5); /* lea (%rdi,%rsi),%rax; ret */
	errno = 0;
	p = uprobe_attach_addr(anon, &count_opts);
	CHECK(!p);
	CHECK_EQ_INT(errno, EILSEQ);
	CHECK_CONTAINS(uprobe_last_error(), "cannot prove");
	struct uprobe_opts o = count_opts;
	o.flags = UPROBE_F_NO_BOUNDARY_CHECK;
	p = uprobe_attach_addr(anon, &o);
	CHECK(p != NULL);
	hits = 0;
	CHECK_EQ_INT(((long (*)(long, long))anon)(40, 2), 42);
	CHECK_EQ_U64(hits, 1);
	uprobe_free(p);
	munmap(anon, 4096);
}

static void detach_twice(void)
{
	struct uprobe *p = uprobe_attach(NULL, "api_add", &count_opts);

	CHECK(p != NULL);
	if (!p)
		return;
	CHECK_EQ_INT(uprobe_detach(p), 0);
	CHECK_EQ_INT(uprobe_detach(p), -ENOENT);
	CHECK_CONTAINS(uprobe_last_error(), ":api_add+0x0 is not attached");
	CHECK_EQ_U64((uint8_t)api_add[0], 0x48); /* original byte back */
	uprobe_free(p);
}

static void batch_all_or_nothing(void)
{
	struct uprobe_spec specs[] = {
		{ .location = "api_add", .handler = count },
		{ .location = "api_movabs+1", .handler = count },
	};
	struct uprobe *probes[2] = { (void *)1, (void *)1 };
	int errs[2];
	struct uprobe_batch_opts bo = { .sz = sizeof(bo), .errs = errs };
	uint8_t before = api_add[0];

	CHECK_EQ_INT(uprobe_attach_many(specs, 2, probes, &bo), -EILSEQ);
	CHECK_CONTAINS(uprobe_last_error(), "spec 1: (self):api_movabs+1: offset +0x1 is inside");
	CHECK(!probes[0] && !probes[1]);
	CHECK_EQ_INT(errs[0], 0);
	CHECK_EQ_INT(errs[1], -EILSEQ);
	CHECK_EQ_U64((uint8_t)api_add[0], before);
	hits = 0;
	CHECK_EQ_INT(api_add_fn(1, 2), 3);
	CHECK_EQ_U64(hits, 0);

	/* Partial: the good one attaches, the bad one is reported. */
	bo.flags = UPROBE_BATCH_PARTIAL;
	CHECK_EQ_INT(uprobe_attach_many(specs, 2, probes, &bo), 1);
	CHECK(probes[0] && !probes[1]);
	CHECK_EQ_INT(errs[1], -EILSEQ);
	CHECK_EQ_INT(api_add_fn(1, 2), 3);
	CHECK_EQ_U64(hits, 1);
	uprobe_free(probes[0]);
}

/*
 * A batch of probes on one page (written in one go): each head patched, the
 * bytes between the probes as they were; all out: the text as it was.
 */
static void batch_one_page(void)
{
	struct uprobe_spec specs[] = {
		{ .location = "api_movabs", .handler = count },
		{ .location = "api_syscall", .handler = count },
		{ .location = "api_add", .handler = count },
	};
	struct uprobe *probes[3] = { 0 };
	struct uprobe_batch_opts bo = { .sz = sizeof(bo) };
	size_t len = (size_t)(api_add + 5 - api_movabs);
	size_t from = (size_t)(api_ud2 - api_movabs), to = (size_t)(api_add - api_movabs);
	uint8_t before[64], mid[64], after[64];

	if (len > sizeof(before)) {
		TL_FAIL("tests/api/targets.S: %zu bytes from api_movabs to api_add's end", len);
		return;
	}
	memcpy(before, api_movabs, len);
	CHECK_EQ_INT(uprobe_attach_many(specs, 3, probes, &bo), 3);
	memcpy(mid, api_movabs, len);
	CHECK(mid[0] == 0xcc || mid[0] == 0xe9);
	CHECK(mid[api_syscall - api_movabs] == 0xcc || mid[api_syscall - api_movabs] == 0xe9);
	CHECK(mid[to] == 0xcc || mid[to] == 0xe9);
	CHECK(!memcmp(before + from, mid + from, to - from));
	hits = 0;
	CHECK_EQ_INT(api_add_fn(2, 3), 5);
	CHECK_EQ_U64(hits, 1);
	CHECK_EQ_INT(uprobe_detach_many(probes, 3), 0);
	memcpy(after, api_movabs, len);
	CHECK(!memcmp(before, after, len));
	for (int i = 0; i < 3; i++)
		uprobe_free(probes[i]);
}

/* ---- SIGTRAP stays the program's ---- */

static volatile sig_atomic_t prog_traps, prog_code;

static void prog_handler(int sig, siginfo_t *si, void *uc)
{
	(void)sig, (void)uc;
	prog_traps++;
	prog_code = si->si_code;
}

static void chained_sigtrap(void)
{
	struct uprobe *p = uprobe_attach(NULL, "api_add", &count_opts);
	struct sigaction sa = { 0 }, old = { 0 }, cur = { 0 };

	CHECK(p != NULL);
	/* The program installs its handler after us. */
	sa.sa_sigaction = prog_handler;
	sa.sa_flags = SA_SIGINFO;
	CHECK_EQ_INT(sigaction(SIGTRAP, &sa, &old), 0);
	CHECK(old.sa_handler == SIG_DFL);
	CHECK_EQ_INT(sigaction(SIGTRAP, NULL, &cur), 0);
	CHECK(cur.sa_sigaction == prog_handler);

	prog_traps = 0;
	raise(SIGTRAP);
	CHECK_EQ_INT(prog_traps, 1);
	CHECK_EQ_INT(prog_code, SI_TKILL);

	/* A breakpoint of the program's own goes to its handler, probes keep working. */
	hits = 0;
	CHECK_EQ_INT(((long (*)(void))api_int3)(), 7);
	CHECK_EQ_INT(prog_traps, 2);
	CHECK_EQ_INT(prog_code, SI_KERNEL);
	CHECK_EQ_INT(api_add_fn(20, 22), 42);
	CHECK_EQ_U64(hits, 1);

	/* Blocking every signal does not block ours. */
	sigset_t all, prev;
	sigfillset(&all);
	sigprocmask(SIG_BLOCK, &all, &prev);
	CHECK_EQ_INT(api_add_fn(1, 1), 2);
	CHECK_EQ_U64(hits, 2);
	sigprocmask(SIG_SETMASK, &prev, NULL);

	sa.sa_handler = SIG_DFL;
	sa.sa_flags = 0;
	sigaction(SIGTRAP, &sa, NULL);
	uprobe_free(p);
}

static void default_disposition_kills(void)
{
	/* With SIG_DFL (as before the library), a stray int3 still kills with SIGTRAP. */
	struct uprobe *p = uprobe_attach(NULL, "api_add", &count_opts);
	pid_t pid = fork();
	int status = 0;

	if (pid == 0) {
		api_add_fn(1, 2); /* our probe works in the child */
		((void (*)(void))api_int3)();
		_exit(0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFSIGNALED(status));
	if (WIFSIGNALED(status))
		CHECK_EQ_INT(WTERMSIG(status), SIGTRAP);
	uprobe_free(p);
}

/* ---- a single-step's trap reported as an icebp's ---- */

/*
 * In a KVM guest under load, the #DB of a trap-flag step can come with DR6
 * empty: the kernel then reports it with TRAP_BRKPT, not TRAP_TRACE (an
 * icebp's code). A handler in front of the library's, put there with the raw
 * system call (the library's sigaction never sees it), reports every step so,
 * in a child: each must complete its step and count its hit, never kill.
 */
static void (*lib_trap)(int, siginfo_t *, void *);
static uint64_t relabeled;

static void relabel_steps(int sig, siginfo_t *si, void *uc)
{
	if (si->si_code == TRAP_TRACE) {
		si->si_code = TRAP_BRKPT;
		relabeled++;
	}
	lib_trap(sig, si, uc);
}

static void step_trap_as_icebp(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = count, .flags = UPROBE_F_SINGLESTEP };
	struct uprobe_info info = { .sz = sizeof(info) };
	struct uprobe *p = uprobe_attach(NULL, "api_add", &o);
	int status = 0;
	pid_t pid;

	CHECK(p != NULL);
	if (!p)
		return;
	uprobe_get_info(p, &info);
	CHECK_EQ_INT(info.mode, UPROBE_MODE_SINGLESTEP);
	pid = fork();
	if (pid == 0) {
		struct tl_ksigaction lib, ours;
		long sum = 0;

		if (syscall(SYS_rt_sigaction, SIGTRAP, NULL, &lib, 8))
			_exit(2);
		lib_trap = (void (*)(int, siginfo_t *, void *))lib.handler;
		ours = lib;
		ours.handler = (void *)relabel_steps;
		if (syscall(SYS_rt_sigaction, SIGTRAP, &ours, NULL, 8))
			_exit(2);
		hits = 0;
		for (long i = 0; i < 1000; i++)
			sum += api_add_fn(i, 1);
		/* 3: a call's result wrong; 4: a hit not counted; 5: a step not relabeled */
		_exit(sum != 500500 ? 3 : hits != 1000 ? 4 : relabeled != 1000 ? 5 : 0);
	}
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK_EQ_INT(WIFSIGNALED(status) ? WTERMSIG(status) : 0, 0); /* SIGTRAP (5) before the fix */
	CHECK_EQ_INT(WIFEXITED(status) ? WEXITSTATUS(status) : -1, 0);
	uprobe_free(p);
}

/* ---- recursion ---- */

static struct uprobe *rec_probe;

static void recursive_handler(struct uprobe *p, struct uprobe_regs *r, void *ctx)
{
	(void)p, (void)r, (void)ctx;
	hits++;
	api_add_fn(5, 6); /* hits our own probe: skipped, not recursed into */
}

static void recursion_skipped(void)
{
	struct uprobe_opts o = { .sz = sizeof(o), .handler = recursive_handler };
	struct uprobe_info info = { .sz = sizeof(info) };

	rec_probe = uprobe_attach(NULL, "api_add", &o);
	CHECK(rec_probe != NULL);
	hits = 0;
	CHECK_EQ_INT(api_add_fn(3, 4), 7);
	CHECK_EQ_U64(hits, 1);
	uprobe_get_info(rec_probe, &info);
	CHECK_EQ_U64(info.hits, 1);
	CHECK_EQ_U64(info.skipped, 1);
	uprobe_free(rec_probe);
}

/* uprobe_opts.skipped_counter: each skipped hit added there too; opts of an older sz have none. */
static void skipped_counter(void)
{
	uint64_t shared = 5, unused = 7;
	struct uprobe_opts o = { .sz = sizeof(o), .handler = recursive_handler,
				 .skipped_counter = &shared };
	struct uprobe_opts old = { .sz = offsetof(struct uprobe_opts, skipped_counter),
				   .handler = recursive_handler, .skipped_counter = &unused };
	struct uprobe *p = uprobe_attach(NULL, "api_add", &o);

	CHECK(p != NULL);
	CHECK_EQ_INT(api_add_fn(3, 4) + api_add_fn(1, 1), 9);
	CHECK_EQ_U64(shared, 7);
	uprobe_free(p);
	p = uprobe_attach(NULL, "api_add", &old);
	CHECK(p != NULL);
	api_add_fn(3, 4);
	CHECK_EQ_U64(unused, 7);
	uprobe_free(p);
}

static void same_address_by_offset(void)
{
	struct uprobe_info a = { .sz = sizeof(a) }, b = { .sz = sizeof(b) };
	struct uprobe *p;
	char loc[32];

	CHECK_EQ_INT(uprobe_analyze(NULL, "api_add", 0, &a), 0);
	CHECK_EQ_U64(a.addr, (uint64_t)api_add);
	CHECK_STR(a.symbol, "api_add");
	snprintf(loc, sizeof(loc), "0x%lx", (unsigned long)a.file_offset);
	p = uprobe_attach(NULL, loc, &count_opts);
	CHECK(p != NULL);
	uprobe_get_info(p, &b);
	CHECK_EQ_U64(b.addr, (uint64_t)api_add);
	CHECK_STR(b.symbol, "api_add");
	CHECK_EQ_U64(b.symbol_offset, 0);
	CHECK_EQ_INT(b.mode, UPROBE_MODE_OPTIMIZED);
	CHECK_EQ_INT(b.window_len, 5);
	CHECK_STR(b.insn_text, "lea rax, [rdi+rsi*1]");
	uprobe_free(p);
}

int main(void)
{
	RUN(nonexistent_path);
	RUN(not_elf);
	RUN(not_mapped);
	RUN(unknown_symbol);
	RUN(malformed_location);
	RUN(ret_refused);
	RUN(offset_beyond_function);
	RUN(offset_beyond_file);
	RUN(offset_not_code);
	RUN(offset_inside_instruction);
	RUN(unprobeable);
	RUN(bad_addresses);
	RUN(detach_twice);
	RUN(batch_all_or_nothing);
	RUN(batch_one_page);
	RUN(chained_sigtrap);
	RUN(default_disposition_kills);
	RUN(step_trap_as_icebp);
	RUN(recursion_skipped);
	RUN(skipped_counter);
	RUN(same_address_by_offset);
	TL_EXIT();
}
