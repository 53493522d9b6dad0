/* SPDX-License-Identifier: MIT */
/*
 * Per-call cost of a return probe, in one run: one function called in a loop,
 * unprobed, with this library's entry probe, with its entry+return probe
 * (jump-optimized, with empty handlers and with handlers that pass a cookie
 * and read the result; and on the int3 path), with a kernel uretprobe and a
 * kernel uprobe+uretprobe opened with perf_event_open, and with bpftrace's
 * uretprobe count() when bpftrace is installed.
 *
 * The VM this runs on is noisy, so the variants are interleaved: every round
 * measures each variant once (attach, time a loop of calls, detach), and the
 * figure kept is the median over rounds.
 *
 * Every measurement is verified: the handlers (the kernel's counters,
 * bpftrace's count) saw every call and every return, the function returned
 * the right results, the text is restored after detaching. A failed check
 * prints an error and the program exits 1.
 *
 * Output: a table (ns per call, ns above the unprobed call, ratio to the
 * unprobed call), the checks, then one line "summary: key=value ..." whose
 * values are ns per call (the call itself included).
 * Usage: bench_ret [-r rounds] [-t ms per measurement] [-b bpftrace rounds]
 *        bench_ret -c calls   (instruction counts: run under callgrind)
 */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#endif
#endif
#ifndef CALLGRIND_DUMP_STATS_AT
#define CALLGRIND_ZERO_STATS		 ((void)0)
#define CALLGRIND_DUMP_STATS_AT(pos_str) ((void)(pos_str))
#define RUNNING_ON_VALGRIND		 0
#endif

#include "uprobes.h"
#include "bench_ret_handlers.h"
#include "bench_util.h"

/*
 * The probed function, in assembly so that its bytes are what gcc -O2 makes
 * of `return a + b;` whatever the flags (no endbr64, no frame pointer): the
 * jump at its entry replaces lea+ret (4+1 bytes, exactly the 5 of a jmp).
 */
__asm__(".text\n"
	".p2align 6\n"
	".globl bench_ret_target\n"
	".type bench_ret_target,@function\n"
	"bench_ret_target:\n"
	"	.cfi_startproc\n"
	"	lea (%rdi,%rsi,1),%rax\n"
	"	ret\n"
	"	.cfi_endproc\n"
	".size bench_ret_target,.-bench_ret_target\n");

long bench_ret_target(long a, long b);

static const uint8_t target_bytes[] = {0x48, 0x8d, 0x04, 0x37, 0xc3};

/* Read once per loop, so that the compiler cannot specialise run_calls. */
static long (*volatile target_fn)(long, long) = bench_ret_target;

#define ARG_B	   1000003 /* the second argument of every call */
#define MAX_ROUNDS 101
#define WHY_LEN	   (PATH_MAX + 256) /* room for a path in a message */

enum kind { K_NATIVE, K_LIB, K_KERNEL, K_BPFTRACE };

/* The mode a library variant must get, or it is not measured. */
enum want { W_ANY, W_OPT, W_TRAP };

struct variant {
	const char *label;
	const char *key; /* summary key */
	enum kind kind;
	unsigned int flags;
	uprobe_handler_fn handler;
	uprobe_ret_handler_fn ret_handler;
	enum want want;
	bool k_entry, k_ret; /* kernel: open an entry uprobe, a uretprobe */
	/* state */
	struct uprobe *probe;
	int fd[2]; /* kernel: the perf events (entry, return); bpftrace: fd[0] its output */
	pid_t pid; /* bpftrace */
	char mode[16];
	char reason[128]; /* the library's reason for that mode */
	uint64_t iters;
	double ns[MAX_ROUNDS]; /* ns per call, one per round */
	int nr;
	uint64_t calls, hits, ret_hits;
	uint64_t ret_unwound, ret_missed; /* library only */
	uint64_t sum_bad;		  /* measurements whose results were wrong */
	uint64_t ring_bad;		  /* measurements whose cookie/rax ring disagreed */
	bool dead;			  /* not measured (na): why says why */
	bool failed;			  /* a check failed: why says which */
	char why[WHY_LEN];
	double med, lo, hi; /* ns per call over rounds */
};

#define NO_SIMD UPROBE_F_HANDLER_NO_SIMD
#define NO_OPT	UPROBE_F_NO_OPTIMIZE
#define H_EMPTY bench_ret_entry_empty
#define H_COOK	bench_ret_entry_cookie
#define R_EMPTY bench_ret_ret_empty
#define R_RAX	bench_ret_ret_rax

static struct variant variants[] = {
#define V(l, k, kd, fl, h, rh, w, ke, kr)                                                       \
	{                                                                                       \
		.label = l, .key = k, .kind = kd, .flags = fl, .handler = h, .ret_handler = rh, \
		.want = w, .k_entry = ke, .k_ret = kr, .fd = {-1, -1}, .pid = -1                \
	}
	V("native", "native_ns", K_NATIVE, 0, NULL, NULL, W_ANY, false, false),
	V("optimized, entry, empty", "optimized_entry_ns", K_LIB, NO_SIMD, H_EMPTY, NULL, W_OPT,
	  false, false),
	V("optimized, entry+return, empty", "optimized_entry_return_ns", K_LIB, NO_SIMD, H_EMPTY,
	  R_EMPTY, W_OPT, false, false),
	V("optimized, entry+return, cookie+rax", "optimized_entry_return_2arg_ns", K_LIB, NO_SIMD,
	  H_COOK, R_RAX, W_OPT, false, false),
	V("int3, entry+return, empty", "int3_entry_return_ns", K_LIB, NO_OPT | NO_SIMD, H_EMPTY,
	  R_EMPTY, W_TRAP, false, false),
	V("kernel uretprobe", "kernel_uretprobe_ns", K_KERNEL, 0, NULL, NULL, W_ANY, false, true),
	V("kernel uprobe+uretprobe", "kernel_uprobe_uretprobe_ns", K_KERNEL, 0, NULL, NULL, W_ANY,
	  true, true),
	V("bpftrace uretprobe count()", "bpftrace_uretprobe_ns", K_BPFTRACE, 0, NULL, NULL, W_ANY,
	  false, true),
#undef V
};

#undef NO_SIMD
#undef NO_OPT
#undef H_EMPTY
#undef H_COOK
#undef R_EMPTY
#undef R_RAX

#define NVAR ((int)(sizeof(variants) / sizeof(variants[0])))

static char exe_path[PATH_MAX];
static char bpftrace_bin[PATH_MAX];
static uint64_t off_target;
static int pmu_type = -1;
static int retprobe_bit = -1;
static char kernel_why[WHY_LEN];     /* why no kernel uprobe at all */
static char kernel_ret_why[WHY_LEN]; /* why no kernel uretprobe */
static struct ret_ring ring;
static uint64_t last_sum; /* what the last loop of calls added up */

/* Not inlined and called through a pointer: every iteration is a real call. */
static __attribute__((noinline)) uint64_t run_calls(uint64_t n)
{
	long (*fn)(long, long) = target_fn;
	uint64_t t0, t1, acc = 0;

	t0 = now_ns();
	for (uint64_t i = 0; i < n; i++)
		acc += (uint64_t)fn((long)i, ARG_B);
	t1 = now_ns();
	last_sum = acc;
	return t1 - t0;
}

/* What run_calls(n) must add up: sum of i + ARG_B for i < n, modulo 2^64. */
static uint64_t expected_sum(uint64_t n)
{
	uint64_t tri = n % 2 ? n * ((n - 1) / 2) : (n / 2) * (n - 1);

	return tri + n * (uint64_t)ARG_B;
}

/* The uprobe PMU's type and the config bit that makes an event a uretprobe. */
static void read_pmu(void)
{
	const char *tp = "/sys/bus/event_source/devices/uprobe/type";
	const char *rp = "/sys/bus/event_source/devices/uprobe/format/retprobe";
	FILE *f = fopen(tp, "re");

	if (!f) {
		snprintf(kernel_why, sizeof(kernel_why), "uprobe PMU missing (%s: %s)", tp,
			 strerror(errno));
		return;
	}
	if (fscanf(f, "%d", &pmu_type) != 1) {
		snprintf(kernel_why, sizeof(kernel_why), "%s: unreadable", tp);
		pmu_type = -1;
	}
	fclose(f);
	f = fopen(rp, "re");
	if (!f) {
		snprintf(kernel_ret_why, sizeof(kernel_ret_why), "no uretprobe format (%s: %s)", rp,
			 strerror(errno));
		return;
	}
	if (fscanf(f, "config:%d", &retprobe_bit) != 1 || retprobe_bit < 0 || retprobe_bit > 63) {
		snprintf(kernel_ret_why, sizeof(kernel_ret_why), "%s: not \"config:N\"", rp);
		retprobe_bit = -1;
	}
	fclose(f);
}

/* A counting, disabled kernel uprobe (or uretprobe) on this task at bench_ret_target. */
static int kernel_open(bool ret, char *why, size_t whylen)
{
	struct perf_event_attr attr;
	int fd;

	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)pmu_type;
	attr.config = ret ? 1ull << retprobe_bit : 0;
	attr.config1 = (uint64_t)(uintptr_t)exe_path;
	attr.config2 = off_target;
	attr.disabled = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		snprintf(why, whylen, "perf_event_open(%s %s:0x%" PRIx64 "): %s%s",
			 ret ? "uretprobe" : "uprobe", exe_path, off_target, strerror(errno),
			 errno == EACCES || errno == EPERM ?
				 " (needs CAP_PERFMON or perf_event_paranoid <= 1)" :
				 "");
	return fd;
}

static uint8_t first_byte(void)
{
	return *(const volatile uint8_t *)(const void *)bench_ret_target;
}

static bool text_intact(void)
{
	return !memcmp((const void *)bench_ret_target, target_bytes, sizeof(target_bytes));
}

/* Record a failed check; the first one's text is kept. */
static void fail(struct variant *v, const char *msg)
{
	if (!v->failed)
		snprintf(v->why, sizeof(v->why), "%s", msg);
	v->failed = true;
}

/*
 * This library's probe. The mode must be the one the variant is about, and
 * the function's first byte must show it: the jmp (e9) of an optimized probe,
 * the int3 (cc) of the others.
 */
static int arm_lib(struct variant *v)
{
	struct uprobe_opts opts = {.sz = sizeof(opts),
				   .handler = v->handler,
				   .flags = v->flags,
				   .ret_handler = v->ret_handler,
				   .ctx = &ring};
	struct uprobe_info info = {.sz = sizeof(info)};
	uint8_t want_byte;

	memset(&ring, 0, sizeof(ring));
	v->probe = uprobe_attach_addr((const void *)bench_ret_target, &opts);
	if (!v->probe) {
		snprintf(v->why, sizeof(v->why), "uprobe_attach_addr: %s: %s", strerror(errno),
			 uprobe_last_error());
		return -1;
	}
	if (uprobe_get_info(v->probe, &info)) {
		snprintf(v->why, sizeof(v->why), "uprobe_get_info: %s", uprobe_last_error());
		goto fail;
	}
	snprintf(v->mode, sizeof(v->mode), "%s", uprobe_mode_name(info.mode));
	snprintf(v->reason, sizeof(v->reason), "%s", info.reason);
	if (v->want == W_OPT && info.mode != UPROBE_MODE_OPTIMIZED) {
		snprintf(v->why, sizeof(v->why), "not jump-optimized (mode %s): %s",
			 uprobe_mode_name(info.mode), info.opt_reason);
		goto fail;
	}
	if (v->want == W_TRAP && info.mode == UPROBE_MODE_OPTIMIZED) {
		snprintf(v->why, sizeof(v->why), "jump-optimized despite UPROBE_F_NO_OPTIMIZE");
		goto fail;
	}
	if (!info.has_ret_handler != !v->ret_handler) {
		snprintf(v->why, sizeof(v->why), "uprobe_info.has_ret_handler is %d",
			 info.has_ret_handler);
		goto fail;
	}
	want_byte = info.mode == UPROBE_MODE_OPTIMIZED ? 0xe9 : 0xcc;
	if (first_byte() != want_byte) {
		snprintf(v->why, sizeof(v->why), "mode %s but the first byte is 0x%02x, not 0x%02x",
			 v->mode, first_byte(), want_byte);
		goto fail;
	}
	return 0;
fail:
	uprobe_free(v->probe);
	v->probe = NULL;
	return -1;
}

static void kernel_close(struct variant *v)
{
	for (int i = 0; i < 2; i++) {
		if (v->fd[i] >= 0)
			close(v->fd[i]);
		v->fd[i] = -1;
	}
}

/* fd[0]: the entry uprobe, fd[1]: the uretprobe, each when the variant has it. */
static int arm_kernel(struct variant *v)
{
	if (pmu_type < 0 || (v->k_ret && retprobe_bit < 0)) {
		snprintf(v->why, sizeof(v->why), "%s", pmu_type < 0 ? kernel_why : kernel_ret_why);
		return -1;
	}
	for (int i = 0; i < 2; i++) {
		if (!(i ? v->k_ret : v->k_entry))
			continue;
		v->fd[i] = kernel_open(i, v->why, sizeof(v->why));
		if (v->fd[i] < 0)
			goto fail;
		if (ioctl(v->fd[i], PERF_EVENT_IOC_RESET, 0) ||
		    ioctl(v->fd[i], PERF_EVENT_IOC_ENABLE, 0)) {
			snprintf(v->why, sizeof(v->why), "PERF_EVENT_IOC_ENABLE: %s",
				 strerror(errno));
			goto fail;
		}
	}
	snprintf(v->mode, sizeof(v->mode), "kernel");
	return 0;
fail:
	kernel_close(v);
	return -1;
}

static void bpftrace_reap(struct variant *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
	}
	v->pid = -1;
	if (v->fd[0] >= 0)
		close(v->fd[0]);
	v->fd[0] = -1;
}

/*
 * bpftrace's uretprobe count() on bench_ret_target, one bpftrace process per
 * measurement. It prints "ready" from BEGIN, which runs once every probe is
 * attached; the int3 of its kernel uretprobe must then be at the entry.
 */
static int arm_bpftrace(struct variant *v)
{
	char prog[PATH_MAX + 128], pid[16], out[4096] = "";
	uint64_t deadline = now_ns() + 30000000000ull;
	int pfd[2];

	if (!exe_path[0] || !plain_path(exe_path)) {
		snprintf(v->why, sizeof(v->why), "%s",
			 !exe_path[0] ? "the executable's path is unknown" :
					"the executable's path has characters bpftrace would "
					"need quoted");
		return -1;
	}
	snprintf(prog, sizeof(prog),
		 "BEGIN { printf(\"ready\\n\"); } uretprobe:%s:bench_ret_target { @c = count(); }",
		 exe_path);
	snprintf(pid, sizeof(pid), "%d", (int)getpid());
	if (pipe2(pfd, O_CLOEXEC)) {
		snprintf(v->why, sizeof(v->why), "pipe2: %s", strerror(errno));
		return -1;
	}
	v->pid = fork();
	if (v->pid == 0)
		bpftrace_child(bpftrace_bin, pfd[1], pid, prog);
	close(pfd[1]);
	v->fd[0] = pfd[0];
	if (v->pid < 0) {
		snprintf(v->why, sizeof(v->why), "fork: %s", strerror(errno));
		bpftrace_reap(v);
		return -1;
	}
	while (!strstr(out, "ready\n") || first_byte() != 0xcc) {
		bool exited = waitpid(v->pid, NULL, WNOHANG) == v->pid;

		if (exited || now_ns() >= deadline) {
			if (exited)
				v->pid = -1; /* reaped */
			read_tail(v->fd[0], out, sizeof(out), now_ns() + 100000000);
			snprintf(v->why, sizeof(v->why), "bpftrace %s: %s",
				 v->pid < 0 ? "exited before attaching" :
					      "attached nothing within 30 s",
				 last_line(out));
			bpftrace_reap(v);
			return -1;
		}
		read_tail(v->fd[0], out, sizeof(out), now_ns() + 5000000);
	}
	snprintf(v->mode, sizeof(v->mode), "kernel+bpf");
	return 0;
}

/* SIGINT makes bpftrace print its map and exit; its uretprobe goes with its fds. */
static int disarm_bpftrace(struct variant *v)
{
	uint64_t deadline = now_ns() + 30000000000ull;
	char out[4096] = "";
	const char *p;

	kill(v->pid, SIGINT);
	read_tail(v->fd[0], out, sizeof(out), deadline);
	bpftrace_reap(v); /* EOF: it has exited, the SIGKILL is a no-op */
	p = strstr(out, "@c: ");
	if (!p) {
		snprintf(v->why, sizeof(v->why), "bpftrace printed no count: %s", last_line(out));
		return -1;
	}
	v->ret_hits += strtoull(p + 4, NULL, 10);
	while (!text_intact() && now_ns() < deadline)
		sleep_ms(1);
	return 0;
}

static int arm(struct variant *v)
{
	switch (v->kind) {
	case K_NATIVE:
		return 0;
	case K_LIB:
		return arm_lib(v);
	case K_KERNEL:
		return arm_kernel(v);
	case K_BPFTRACE:
		return arm_bpftrace(v);
	}
	return -1;
}

/*
 * The cookie/rax handlers saw every return, every entry had a cookie, and
 * each recorded return carries its own call's cookie (its first argument)
 * and result; the last one is the last call's.
 */
static bool ring_ok(uint64_t calls)
{
	uint64_t n = calls < RET_RING_LEN ? calls : RET_RING_LEN;
	uint64_t last = (ring.head - 1) & (RET_RING_LEN - 1);

	if (ring.head != calls || ring.no_cookie || ring.e[last].cookie != calls - 1)
		return false;
	for (uint64_t i = 0; i < n; i++)
		if (ring.e[i].rax != ring.e[i].cookie + ARG_B)
			return false;
	return true;
}

static void disarm_lib(struct variant *v, uint64_t calls)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	if (!uprobe_get_info(v->probe, &info)) {
		v->hits += info.hits;
		v->ret_hits += info.ret_hits;
		v->ret_unwound += info.ret_unwound;
		v->ret_missed += info.ret_missed;
	} else {
		fail(v, "uprobe_get_info failed after the calls");
	}
	if (uprobe_detach(v->probe))
		fail(v, "uprobe_detach failed");
	uprobe_free(v->probe);
	v->probe = NULL;
	if (v->ret_handler == bench_ret_ret_rax && !ring_ok(calls))
		v->ring_bad++;
}

/* Counts of the kernel events: fd[0] counts entries, fd[1] returns. */
static void disarm_kernel(struct variant *v)
{
	for (int i = 0; i < 2; i++) {
		uint64_t count = 0;

		if (v->fd[i] < 0)
			continue;
		ioctl(v->fd[i], PERF_EVENT_IOC_DISABLE, 0);
		if (read(v->fd[i], &count, sizeof(count)) != sizeof(count))
			fail(v, "reading the perf event's count failed");
		if (i)
			v->ret_hits += count;
		else
			v->hits += count;
	}
	kernel_close(v);
}

/* Remove the probe and count its hits; the text must be as it was before. */
static int disarm(struct variant *v, uint64_t calls)
{
	/* No count from bpftrace: these calls cannot be checked, leave them out. */
	if (v->kind == K_BPFTRACE && disarm_bpftrace(v))
		return -1;
	v->calls += calls;
	if (last_sum != expected_sum(calls))
		v->sum_bad++;
	if (v->kind == K_LIB)
		disarm_lib(v, calls);
	else if (v->kind == K_KERNEL)
		disarm_kernel(v);
	if (!text_intact()) {
		fail(v, "text not restored after detaching");
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
	t = run_calls(iters);
	if (disarm(v, iters))
		return -2;
	return (double)t / (double)iters;
}

static bool usable(const struct variant *v)
{
	return !v->dead && !v->failed && v->nr > 0;
}

static struct variant *by_key(const char *key)
{
	for (int i = 0; i < NVAR; i++)
		if (!strcmp(variants[i].key, key))
			return &variants[i];
	abort(); /* a key of the table above */
}

static void print_table(void)
{
	const struct variant *nat = by_key("native_ns");

	printf("\n%-36s %-10s %10s %10s %21s %9s\n", "variant", "mode", "ns/call", "+ns",
	       "ns/call min..max", "x native");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];
		char range[32];

		if (!usable(v)) {
			printf("%-36s %-10s %10s %10s %21s %9s\n", v->label, "-", "na", "na", "",
			       "na");
			continue;
		}
		snprintf(range, sizeof(range), "%.1f..%.1f", v->lo, v->hi);
		printf("%-36s %-10s %10.1f ", v->label, v->kind == K_NATIVE ? "-" : v->mode,
		       v->med);
		if (v == nat)
			printf("%10s %21s %9s\n", "-", range, "1.0x");
		else if (usable(nat) && nat->med > 0)
			printf("%10.1f %21s %8.1fx\n", v->med - nat->med, range, v->med / nat->med);
		else
			printf("%10s %21s %9s\n", "na", range, "na");
	}
	printf("ns/call: median over rounds of the time per call of bench_ret_target "
	       "(lea; ret), probe included.\n+ns: above the unprobed call. x native: ns/call "
	       "divided by the unprobed call's.\n");
}

/* Every call seen at entry (when the variant probes entries) and at return. */
static bool counts_ok(const struct variant *v)
{
	bool entry = v->kind == K_LIB ? v->handler != NULL : v->k_entry;
	bool ret = v->kind == K_LIB ? v->ret_handler != NULL : v->k_ret;

	return (!entry || v->hits == v->calls) && (!ret || v->ret_hits == v->calls) &&
	       (entry || v->hits == 0) && (ret || v->ret_hits == 0) && !v->ret_unwound &&
	       !v->ret_missed && !v->sum_bad && !v->ring_bad;
}

/* Mark the variants whose counts or results disagree with the calls made. */
static void verify(void)
{
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];

		if (v->calls && !counts_ok(v))
			fail(v, "counts or results disagree with the calls made");
	}
}

/* Prints the checks; returns the number of variants whose checks failed. */
static int print_checks(void)
{
	int bad = 0;

	printf("\n");
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];

		if (v->dead && !v->failed) {
			printf("%s: not measured: %s\n", v->label, v->why);
			continue;
		}
		printf("%s: calls %" PRIu64 ", entry hits %" PRIu64 ", return hits %" PRIu64,
		       v->label, v->calls, v->hits, v->ret_hits);
		if (v->kind == K_LIB && v->ret_handler)
			printf(" (unwound %" PRIu64 ", missed %" PRIu64 ")", v->ret_unwound,
			       v->ret_missed);
		printf(", results %s", v->sum_bad ? "WRONG" : "ok");
		if (v->ret_handler == bench_ret_ret_rax)
			printf(", cookie/rax ring %s", v->ring_bad ? "WRONG" : "ok");
		printf(" %s", v->failed ? "(FAILED)" : "(ok)");
		if (v->reason[0])
			printf("; %s", v->reason);
		printf("\n");
		if (v->failed) {
			printf("error: %s: %s\n", v->label, v->why);
			bad++;
		}
	}
	return bad;
}

/* Process-wide: no return was orphaned, unwound or missed in this single-threaded loop. */
static int print_global_checks(void)
{
	struct uprobe_stats st = {.sz = sizeof(st)};

	if (uprobe_get_stats(&st)) {
		printf("error: uprobe_get_stats: %s\n", uprobe_last_error());
		return 1;
	}
	printf("library totals: hits %" PRIu64 ", ret_hits %" PRIu64 ", ret_unwound %" PRIu64
	       ", ret_missed %" PRIu64 ", ret_orphaned %" PRIu64 "\n",
	       st.hits, st.ret_hits, st.ret_unwound, st.ret_missed, st.ret_orphaned);
	if (st.ret_unwound || st.ret_missed || st.ret_orphaned) {
		printf("error: returns unwound, missed or orphaned in a plain loop of calls\n");
		return 1;
	}
	return 0;
}

static void print_summary(void)
{
	printf("\nsummary:");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];

		if (usable(v))
			printf(" %s=%.1f", v->key, v->med);
		else
			printf(" %s=na", v->key);
	}
	printf("\n");
}

static void setup_offsets(void)
{
	char why[WHY_LEN];
	uint64_t m;

	if (!realpath("/proc/self/exe", exe_path)) {
		snprintf(kernel_why, sizeof(kernel_why), "realpath(/proc/self/exe): %s",
			 strerror(errno));
		exe_path[0] = 0;
		return;
	}
	if (elf_sym_offset(exe_path, "bench_ret_target", &off_target, why, sizeof(why))) {
		snprintf(kernel_why, sizeof(kernel_why), "%s", why);
		return;
	}
	printf("%s: bench_ret_target at file offset 0x%" PRIx64 "\n", exe_path, off_target);
	if (!maps_offset((const void *)bench_ret_target, &m) && m != off_target)
		printf("warning: /proc/self/maps puts bench_ret_target at file offset 0x%" PRIx64
		       ", not 0x%" PRIx64 "\n",
		       m, off_target);
	read_pmu();
}

/* What uprobe_analyze says of bench_ret_target with the flags of the optimized rows. */
static void print_analysis(void)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	if (uprobe_analyze(NULL, "bench_ret_target", UPROBE_F_HANDLER_NO_SIMD, &info)) {
		printf("uprobe_analyze(bench_ret_target): %s\n", uprobe_last_error());
		return;
	}
	printf("uprobe_analyze(bench_ret_target): mode %s, window %u bytes: %s%s%s\n",
	       uprobe_mode_name(info.mode), info.window_len, info.reason,
	       info.opt_reason[0] ? "; not optimized: " : "", info.opt_reason);
}

/* A variant that failed to attach is na; one that failed a check is an error. */
static void record(struct variant *v, double ns)
{
	if (ns >= 0)
		v->ns[v->nr++] = ns;
	else
		v->dead = true;
}

/* Pick each variant's iteration count so that one measurement lasts about ms. */
static void calibrate(unsigned int ms)
{
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];
		uint64_t n0 = v->kind == K_NATIVE || v->want == W_OPT ? 1u << 20 : 256;
		double ns, n;

		if (v->dead)
			continue;
		ns = measure(v, n0);
		if (ns < 0) {
			v->dead = true;
			continue;
		}
		n = (double)ms * 1e6 / (ns > 0.1 ? ns : 0.1);
		v->iters = n < 64 ? 64 : n > 2e9 ? 2000000000u : (uint64_t)n;
	}
}

/*
 * -c calls: one pass of the native and jump-optimized rows, each loop of calls
 * between two callgrind client requests, so that a run under callgrind dumps
 * the instructions of exactly those calls. Out of valgrind they do nothing.
 */
static int count_mode(uint64_t calls)
{
	static const char *const rows[] = {"native_ns", "optimized_entry_ns",
					   "optimized_entry_return_ns",
					   "optimized_entry_return_2arg_ns"};
	int bad = 0;

	printf("count mode: %" PRIu64 " calls per row%s\n", calls,
	       RUNNING_ON_VALGRIND ? ", under valgrind" : " (not under valgrind: no counts)");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct variant *v = by_key(rows[i]);

		if (arm(v)) {
			printf("%s: not measured: %s\n", v->key, v->why);
			continue;
		}
		run_calls(1000); /* translate and warm up outside the count */
		v->calls += 1000;
		if (last_sum != expected_sum(1000))
			v->sum_bad++;
		memset(&ring, 0, sizeof(ring));
		CALLGRIND_ZERO_STATS;
		run_calls(calls);
		CALLGRIND_DUMP_STATS_AT(v->key);
		disarm(v, calls); /* the ring was reset after the warm-up: it checks these calls */
		verify();
		printf("%s: %s, calls %" PRIu64 ", entry hits %" PRIu64 ", return hits %" PRIu64
		       "%s%s\n",
		       v->key, v->kind == K_NATIVE ? "unprobed" : v->mode, v->calls, v->hits,
		       v->ret_hits, v->failed ? ": error: " : "", v->failed ? v->why : "");
		bad += v->failed;
	}
	return bad ? 1 : 0;
}

/* bpftrace only in some rounds: starting it takes about a second. */
static int setup_bpftrace(int rounds, int bpf_rounds)
{
	struct variant *v = by_key("bpftrace_uretprobe_ns");
	int every;

	find_bpftrace(bpftrace_bin, sizeof(bpftrace_bin));
	if (!bpftrace_bin[0] || !bpf_rounds) {
		v->dead = true;
		snprintf(v->why, sizeof(v->why), "%s",
			 bpftrace_bin[0] ? "disabled (-b 0)" : "bpftrace is not installed");
		return 1;
	}
	bpf_rounds = bpf_rounds < rounds ? bpf_rounds : rounds;
	every = (rounds + bpf_rounds - 1) / bpf_rounds;
	printf("bpftrace: %s, one process per measurement, measured in %d of the rounds\n",
	       bpftrace_bin, (rounds + every - 1) / every);
	return every;
}

static void run_rounds(int rounds, int bpf_every)
{
	for (int r = 0; r < rounds; r++) {
		/* Rotate the order so that no variant always runs after the same one. */
		for (int j = 0; j < NVAR; j++) {
			struct variant *v = &variants[(j + r) % NVAR];

			if (v->dead || v->failed || (v->kind == K_BPFTRACE && r % bpf_every))
				continue;
			record(v, measure(v, v->iters));
		}
	}
}

int main(int argc, char **argv)
{
	unsigned int ms = 200;
	int rounds = 11, bpf_rounds = 3, bpf_every, opt, bad;
	uint64_t count_calls = 0;

	while ((opt = getopt(argc, argv, "r:t:b:c:")) != -1) {
		if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 't')
			ms = (unsigned int)atoi(optarg);
		else if (opt == 'b')
			bpf_rounds = atoi(optarg);
		else if (opt == 'c')
			count_calls = strtoull(optarg, NULL, 0);
		else
			return fprintf(stderr,
				       "usage: %s [-r rounds] [-t ms] [-b bpftrace rounds] "
				       "[-c calls]\n",
				       argv[0]),
			       2;
	}
	if (rounds < 1 || rounds > MAX_ROUNDS || ms < 1 || bpf_rounds < 0)
		return fprintf(stderr, "bench_ret: rounds 1..%d, ms >= 1, bpftrace rounds >= 0\n",
			       MAX_ROUNDS),
		       2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!text_intact())
		return fprintf(stderr, "bench_ret: target bytes are not the expected ones\n"), 1;
	if (count_calls)
		return count_mode(count_calls);

	printf("bench_ret: per-call cost of entry and return probes on one function\n");
	printf("bench_ret_target(a, b): lea (%%rdi,%%rsi,1),%%rax (48 8d 04 37); ret (c3); "
	       "called with (i, %d)\n",
	       ARG_B);
	if (pin_to_current_cpu() >= 0)
		printf("pinned to cpu %d of %ld online\n", sched_getcpu(),
		       sysconf(_SC_NPROCESSORS_ONLN));
	setup_offsets();
	print_analysis();
	if (kernel_why[0])
		printf("kernel uprobe: unavailable: %s\n", kernel_why);
	else if (kernel_ret_why[0])
		printf("kernel uretprobe: unavailable: %s\n", kernel_ret_why);
	else
		printf("kernel uretprobe: uprobe PMU type %d, retprobe = config bit %d\n", pmu_type,
		       retprobe_bit);
	bpf_every = setup_bpftrace(rounds, bpf_rounds);

	calibrate(ms);
	printf("%d rounds, about %u ms per measurement, variants interleaved\n", rounds, ms);
	run_rounds(rounds, bpf_every);
	for (int i = 0; i < NVAR; i++)
		if (usable(&variants[i]))
			spread(variants[i].ns, variants[i].nr, &variants[i].lo, &variants[i].med,
			       &variants[i].hi);

	verify();
	print_table();
	bad = print_checks();
	bad += print_global_checks();
	if (bad) {
		fprintf(stderr, "bench_ret: %d check(s) failed: no summary\n", bad);
		return 1;
	}
	print_summary();
	return 0;
}
