/* SPDX-License-Identifier: MIT */
/*
 * Per-hit cost of a probe on one instruction, in one run: this library's
 * jump-optimized path (empty handler and a handler that records two
 * arguments, with and without UPROBE_F_HANDLER_NO_SIMD), its int3 path (out of
 * line, single-stepped, emulated), a kernel uprobe opened with perf_event_open
 * on the same instruction and on a 5-byte nop, and bpftrace count() when
 * bpftrace is installed.
 *
 * The VM this runs on is noisy, so the variants are interleaved: every round
 * measures each variant once (attach, time a loop of calls, detach), and the
 * figure kept is the median over rounds. The per-hit cost is the median ns per
 * call minus that of the same function unprobed.
 *
 * Output: a table, the checks (every hit seen, the mode each row is about, the
 * text restored), issue 3's targets against the measured figures, then one
 * line "summary: key=value ..." for scripts.
 * Usage: bench_probe [-r rounds] [-t ms per measurement] [-b bpftrace rounds]
 *        bench_probe -c calls   (instruction counts: run under callgrind, see
 *                                bench/callgrind.sh)
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
#include "bench_handlers.h"
#include "bench_util.h"

/*
 * The probed functions, in assembly so that the probed bytes are known and no
 * compiler flag (endbr64, frame pointers) changes them. bench_target starts
 * with a lea, as compiled code typically does: the kernel single-steps it,
 * this library's int3 path executes it out of line, and its jump path
 * replaces lea+ret (4+1 bytes, exactly the 5 of a jmp) and relocates both
 * into the trampoline. bench_nop5 starts with the 5-byte nop that kernel 6.18
 * turns into a call to its uprobe trampoline.
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

/* Issue 3's targets, in ns above the unprobed call (checked, never asserted). */
#define TARGET_EMPTY_NS 5.0
#define TARGET_ARGS_NS	15.0

enum kind { K_NATIVE, K_LIB, K_KERNEL, K_BPFTRACE };

/* The mode a library variant must get, or it is not measured. */
enum want { W_ANY, W_OPT, W_TRAP };

struct variant {
	const char *label;
	const char *key; /* summary key, NULL: not in the summary */
	enum kind kind;
	unsigned int flags;
	uprobe_handler_fn handler;
	enum want want;
	int (*fn)(int);
	int native; /* index of the unprobed variant of fn, -1 for natives */
	/* state */
	struct uprobe *probe;
	int fd;	   /* kernel: the perf event; bpftrace: its output */
	pid_t pid; /* bpftrace */
	char mode[16];
	char reason[128]; /* the library's reason for that mode */
	uint64_t iters;
	double ns[MAX_ROUNDS]; /* ns per call, one per round */
	int nr;
	uint64_t calls, hits;
	uint64_t ring_bad; /* measurements whose argument ring disagreed */
	bool dead;
	char why[WHY_LEN];
	double med, lo, hi; /* ns per call over rounds */
};

#define NO_SIMD UPROBE_F_HANDLER_NO_SIMD
#define NO_OPT	UPROBE_F_NO_OPTIMIZE
#define H_EMPTY bench_empty_handler
#define H_ARGS	bench_args_handler
#define T	bench_target
#define N5	bench_nop5

static struct variant variants[] = {
#define V(l, k, kd, fl, h, w, f, nat)                                                            \
	{                                                                                        \
		.label = l, .key = k, .kind = kd, .flags = fl, .handler = h, .want = w, .fn = f, \
		.native = nat, .fd = -1, .pid = -1                                               \
	}
	V("native", "native_ns", K_NATIVE, 0, NULL, W_ANY, T, -1),
	V("native (nop5 function)", NULL, K_NATIVE, 0, NULL, W_ANY, N5, -1),
	V("optimized, empty, NO_SIMD", "optimized_ns", K_LIB, NO_SIMD, H_EMPTY, W_OPT, T, 0),
	V("optimized, 2 args, NO_SIMD", "optimized_args_ns", K_LIB, NO_SIMD, H_ARGS, W_OPT, T, 0),
	V("optimized, empty, xsavec", "optimized_safe_ns", K_LIB, 0, H_EMPTY, W_OPT, T, 0),
	V("int3, NO_OPTIMIZE", "int3_ns", K_LIB, NO_OPT, H_EMPTY, W_TRAP, T, 0),
	V("int3, NO_EMULATE", "int3_xol_ns", K_LIB, NO_OPT | UPROBE_F_NO_EMULATE, H_EMPTY, W_TRAP,
	  T, 0),
	V("int3, SINGLESTEP", "int3_singlestep_ns", K_LIB, NO_OPT | UPROBE_F_SINGLESTEP, H_EMPTY,
	  W_TRAP, T, 0),
	V("int3, on nop5", "int3_nop5_ns", K_LIB, NO_OPT, H_EMPTY, W_TRAP, N5, 1),
	V("kernel uprobe", "kernel_uprobe_ns", K_KERNEL, 0, NULL, W_ANY, T, 0),
	V("kernel uprobe, on nop5", "kernel_nop5_ns", K_KERNEL, 0, NULL, W_ANY, N5, 1),
	V("bpftrace count()", "bpftrace_ns", K_BPFTRACE, 0, NULL, W_ANY, T, 0),
#undef V
};

#undef NO_SIMD
#undef NO_OPT
#undef H_EMPTY
#undef H_ARGS
#undef T
#undef N5

#define NVAR ((int)(sizeof(variants) / sizeof(variants[0])))

static char exe_path[PATH_MAX];
static char bpftrace_bin[PATH_MAX];
static uint64_t off_target, off_nop5;
static int uprobe_pmu_type = -1;
static char kernel_why[WHY_LEN];
static struct arg_ring ring;
static volatile int sink;

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

static uint8_t first_byte(int (*fn)(int))
{
	return *(const volatile uint8_t *)(const void *)fn;
}

static bool text_intact(const struct variant *v)
{
	if (v->fn == bench_nop5)
		return !memcmp((const void *)v->fn, nop5_bytes, sizeof(nop5_bytes));
	return !memcmp((const void *)v->fn, target_bytes, sizeof(target_bytes));
}

/*
 * This library's probe. The mode must be the one the variant is about, and
 * the function's first byte must show it: the jmp (e9) of an optimized probe,
 * the int3 (cc) of the others.
 */
static int arm_lib(struct variant *v)
{
	struct uprobe_opts opts = {.sz = sizeof(opts), .handler = v->handler, .flags = v->flags};
	struct uprobe_info info = {.sz = sizeof(info)};
	uint8_t want_byte;

	if (v->handler == bench_args_handler) {
		ring.head = 0;
		opts.ctx = &ring;
	}
	v->probe = uprobe_attach_addr((const void *)v->fn, &opts);
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
	want_byte = info.mode == UPROBE_MODE_OPTIMIZED ? 0xe9 : 0xcc;
	if (first_byte(v->fn) != want_byte) {
		snprintf(v->why, sizeof(v->why), "mode %s but the first byte is 0x%02x, not 0x%02x",
			 v->mode, first_byte(v->fn), want_byte);
		goto fail;
	}
	return 0;
fail:
	uprobe_free(v->probe);
	v->probe = NULL;
	return -1;
}

static int arm_kernel(struct variant *v)
{
	if (uprobe_pmu_type < 0) {
		snprintf(v->why, sizeof(v->why), "%s", kernel_why);
		return -1;
	}
	v->fd = kernel_uprobe_open(v->fn == bench_nop5 ? off_nop5 : off_target, v->why,
				   sizeof(v->why));
	if (v->fd < 0)
		return -1;
	snprintf(v->mode, sizeof(v->mode), "kernel");
	if (ioctl(v->fd, PERF_EVENT_IOC_RESET, 0) || ioctl(v->fd, PERF_EVENT_IOC_ENABLE, 0)) {
		snprintf(v->why, sizeof(v->why), "PERF_EVENT_IOC_ENABLE: %s", strerror(errno));
		close(v->fd);
		v->fd = -1;
		return -1;
	}
	return 0;
}

static void bpftrace_reap(struct variant *v)
{
	if (v->pid > 0) {
		kill(v->pid, SIGKILL);
		waitpid(v->pid, NULL, 0);
	}
	v->pid = -1;
	if (v->fd >= 0)
		close(v->fd);
	v->fd = -1;
}

/*
 * bpftrace count() on bench_target, one bpftrace process per measurement. It
 * prints "ready" from BEGIN, which runs once every probe is attached; the int3
 * its kernel uprobe writes must then be in our text.
 */
static int arm_bpftrace(struct variant *v)
{
	char prog[PATH_MAX + 128], pid[16], out[4096] = "";
	uint64_t deadline = now_ns() + 30000000000ull;
	int pfd[2];

	if (!bpftrace_bin[0] || !exe_path[0] || !plain_path(exe_path)) {
		snprintf(v->why, sizeof(v->why), "%s",
			 !bpftrace_bin[0] ? "bpftrace is not installed" :
			 !exe_path[0]	  ? "the executable's path is unknown" :
					    "the executable's path has characters bpftrace would "
					    "need quoted");
		return -1;
	}
	snprintf(prog, sizeof(prog),
		 "BEGIN { printf(\"ready\\n\"); } uprobe:%s:bench_target { @hits = count(); }",
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
	v->fd = pfd[0];
	if (v->pid < 0) {
		snprintf(v->why, sizeof(v->why), "fork: %s", strerror(errno));
		bpftrace_reap(v);
		return -1;
	}
	while (!strstr(out, "ready\n") || first_byte(v->fn) != 0xcc) {
		bool exited = waitpid(v->pid, NULL, WNOHANG) == v->pid;

		if (exited || now_ns() >= deadline) {
			if (exited)
				v->pid = -1; /* reaped */
			read_tail(v->fd, out, sizeof(out), now_ns() + 100000000);
			snprintf(v->why, sizeof(v->why), "bpftrace %s: %s",
				 v->pid < 0 ? "exited before attaching" :
					      "attached nothing within 30 s",
				 last_line(out));
			bpftrace_reap(v);
			return -1;
		}
		read_tail(v->fd, out, sizeof(out), now_ns() + 5000000);
	}
	snprintf(v->mode, sizeof(v->mode), "kernel+bpf");
	return 0;
}

/* SIGINT makes bpftrace print its map and exit; its uprobe goes with its fds. */
static int disarm_bpftrace(struct variant *v)
{
	uint64_t deadline = now_ns() + 30000000000ull;
	char out[4096] = "";
	const char *p;

	kill(v->pid, SIGINT);
	read_tail(v->fd, out, sizeof(out), deadline);
	bpftrace_reap(v); /* EOF: it has exited, the SIGKILL is a no-op */
	p = strstr(out, "@hits: ");
	if (!p) {
		snprintf(v->why, sizeof(v->why), "bpftrace printed no count: %s", last_line(out));
		return -1;
	}
	v->hits += strtoull(p + 7, NULL, 10);
	while (!text_intact(v) && now_ns() < deadline)
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

/* The two-argument handler recorded every call, and the last one's argument. */
static bool ring_ok(uint64_t calls)
{
	uint64_t last = ring.e[(ring.head - 1) & (ARG_RING_LEN - 1)].rdi;

	return ring.head == calls && (uint32_t)last == (uint32_t)(calls - 1);
}

/* Remove the probe and count its hits; the text must be as it was before. */
static int disarm(struct variant *v, uint64_t calls)
{
	struct uprobe_info info = {.sz = sizeof(info)};
	uint64_t count = 0;

	v->calls += calls;
	if (v->kind == K_LIB) {
		if (!uprobe_get_info(v->probe, &info))
			v->hits += info.hits;
		if (uprobe_detach(v->probe))
			snprintf(v->why, sizeof(v->why), "uprobe_detach: %s", uprobe_last_error());
		uprobe_free(v->probe);
		v->probe = NULL;
		if (v->handler == bench_args_handler && !ring_ok(calls))
			v->ring_bad++;
	} else if (v->kind == K_KERNEL) {
		ioctl(v->fd, PERF_EVENT_IOC_DISABLE, 0);
		if (read(v->fd, &count, sizeof(count)) == sizeof(count))
			v->hits += count;
		close(v->fd);
		v->fd = -1;
	} else if (v->kind == K_BPFTRACE) {
		if (disarm_bpftrace(v))
			return -1;
	}
	if (!text_intact(v)) {
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

static bool usable(const struct variant *v)
{
	return !v->dead && v->nr > 0;
}

static struct variant *by_key(const char *key)
{
	for (int i = 0; i < NVAR; i++)
		if (variants[i].key && !strcmp(variants[i].key, key))
			return &variants[i];
	abort(); /* a key of the table above */
}

/* Cost per hit: ns per call minus the same function unprobed. */
static double per_hit(const struct variant *v)
{
	return v->native < 0 ? v->med : v->med - variants[v->native].med;
}

static void print_table(void)
{
	const struct variant *k = by_key("kernel_uprobe_ns"); /* the ratio's divisor */

	printf("\n%-28s %-10s %10s %10s %21s %8s\n", "variant", "mode", "ns/call", "ns/hit",
	       "ns/call min..max", "ratio");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];
		char range[32];

		if (!usable(v)) {
			printf("%-28s %-10s %10s %10s %21s %8s\n", v->label, "-", "na", "na", "",
			       "na");
			continue;
		}
		snprintf(range, sizeof(range), "%.1f..%.1f", v->lo, v->hi);
		printf("%-28s %-10s %10.1f ", v->label, v->kind == K_NATIVE ? "-" : v->mode,
		       v->med);
		if (v->native < 0)
			printf("%10s %21s %8s\n", "-", range, "-");
		else if (usable(k) && per_hit(k) > 0)
			printf("%10.1f %21s %7.3fx\n", per_hit(v), range, per_hit(v) / per_hit(k));
		else
			printf("%10.1f %21s %8s\n", per_hit(v), range, "na");
	}
	printf("ns/hit: ns/call minus the same function unprobed. ratio: ns/hit divided by the "
	       "kernel uprobe's\nns/hit on bench_target (below 1: cheaper than the kernel).\n");
}

static void print_checks(void)
{
	printf("\n");
	for (int i = 0; i < NVAR; i++) {
		const struct variant *v = &variants[i];

		if (v->dead) {
			printf("%s: not measured: %s\n", v->label, v->why);
			continue;
		}
		if (v->kind == K_NATIVE)
			continue;
		printf("%s: hits %" PRIu64 " / calls %" PRIu64 " %s", v->label, v->hits, v->calls,
		       v->hits == v->calls ? "(ok)" : "(MISMATCH)");
		if (v->handler == bench_args_handler)
			printf(", argument ring %s", v->ring_bad ? "WRONG" : "ok");
		if (v->reason[0])
			printf("; %s", v->reason);
		printf("\n");
	}
}

static void print_target(const char *key, const struct variant *v, double target)
{
	double d;

	if (!usable(v)) {
		printf("  %-18s na (not measured), target <= %.0f ns\n", key, target);
		return;
	}
	d = per_hit(v);
	printf("  %-18s %6.1f ns above the unprobed call, target <= %.0f ns: %s %.1f ns\n", key, d,
	       target, d <= target ? "met with" : "MISSED by",
	       d <= target ? target - d : d - target);
}

static void print_targets(void)
{
	printf("\ntargets (issue 3), measured:\n");
	print_target("optimized_ns", by_key("optimized_ns"), TARGET_EMPTY_NS);
	print_target("optimized_args_ns", by_key("optimized_args_ns"), TARGET_ARGS_NS);
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

/* What uprobe_analyze says of bench_target with the flags of the optimized rows. */
static void print_analysis(void)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	if (uprobe_analyze(NULL, "bench_target", UPROBE_F_HANDLER_NO_SIMD, &info)) {
		printf("uprobe_analyze(bench_target): %s\n", uprobe_last_error());
		return;
	}
	printf("uprobe_analyze(bench_target): mode %s, window %u bytes: %s%s%s\n",
	       uprobe_mode_name(info.mode), info.window_len, info.reason,
	       info.opt_reason[0] ? "; not optimized: " : "", info.opt_reason);
}

/* Pick each variant's iteration count so that one measurement lasts about ms. */
static void calibrate(unsigned int ms)
{
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];
		uint64_t n0 = v->kind == K_NATIVE || v->want == W_OPT ? 1u << 20 : 256;
		double ns;
		double n;

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
 * the instructions of exactly those calls (bench/callgrind.sh does the sums).
 * Out of valgrind the requests do nothing.
 */
static int count_mode(uint64_t calls)
{
	static const char *const rows[] = {"native_ns", "optimized_ns", "optimized_args_ns",
					   "optimized_safe_ns"};

	printf("count mode: %" PRIu64 " calls per row%s\n", calls,
	       RUNNING_ON_VALGRIND ? ", under valgrind" : " (not under valgrind: no counts)");
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct variant *v = by_key(rows[i]);

		if (arm(v)) {
			printf("%s: not measured: %s\n", v->key, v->why);
			continue;
		}
		run_calls(v->fn, 1000); /* translate and warm up outside the count */
		v->calls += 1000;
		ring.head = 0;
		CALLGRIND_ZERO_STATS;
		run_calls(v->fn, calls);
		CALLGRIND_DUMP_STATS_AT(v->key);
		if (disarm(v, calls)) {
			printf("%s: %s\n", v->key, v->why);
			return 1;
		}
		printf("%s: %s, hits %" PRIu64 " / calls %" PRIu64 "%s\n", v->key,
		       v->kind == K_NATIVE ? "unprobed" : v->mode, v->hits, v->calls,
		       v->handler != bench_args_handler ? "" :
		       v->ring_bad			? ", argument ring WRONG" :
							  ", argument ring ok");
	}
	return 0;
}

int main(int argc, char **argv)
{
	unsigned int ms = 200;
	int rounds = 11, bpf_rounds = 3, bpf_every, opt;
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
		return fprintf(stderr, "bench_probe: rounds 1..%d, ms >= 1, bpftrace rounds >= 0\n",
			       MAX_ROUNDS),
		       2;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (memcmp((const void *)bench_target, target_bytes, sizeof(target_bytes)) ||
	    memcmp((const void *)bench_nop5, nop5_bytes, sizeof(nop5_bytes)))
		return fprintf(stderr, "bench_probe: target bytes are not the expected ones\n"), 1;
	if (count_calls)
		return count_mode(count_calls);

	printf("bench_probe: per-hit cost of a probe on one instruction\n");
	printf("bench_target: lea 0x1(%%rdi,%%rdi,2),%%eax (8d 44 7f 01); ret (c3); "
	       "bench_nop5: nopl 0x0(%%rax,%%rax,1) (0f 1f 44 00 00)\n");
	if (pin_to_current_cpu() >= 0)
		printf("pinned to cpu %d of %ld online\n", sched_getcpu(),
		       sysconf(_SC_NPROCESSORS_ONLN));
	setup_offsets();
	print_analysis();
	if (kernel_why[0])
		printf("kernel uprobe: unavailable: %s\n", kernel_why);
	find_bpftrace(bpftrace_bin, sizeof(bpftrace_bin));
	bpf_rounds = bpf_rounds < rounds ? bpf_rounds : rounds;
	bpf_every = bpf_rounds ? (rounds + bpf_rounds - 1) / bpf_rounds : 1;
	for (int i = 0; i < NVAR; i++) {
		struct variant *v = &variants[i];

		if (v->kind != K_BPFTRACE || (bpftrace_bin[0] && bpf_rounds))
			continue;
		v->dead = true;
		snprintf(v->why, sizeof(v->why), "%s",
			 bpftrace_bin[0] ? "disabled (-b 0)" : "bpftrace is not installed");
	}
	if (bpftrace_bin[0] && bpf_rounds)
		printf("bpftrace: %s, one process per measurement, measured in %d of the rounds\n",
		       bpftrace_bin, (rounds + bpf_every - 1) / bpf_every);

	calibrate(ms);
	printf("%d rounds, about %u ms per measurement, variants interleaved\n", rounds, ms);
	for (int r = 0; r < rounds; r++) {
		/* Rotate the order so that no variant always runs after the same one. */
		for (int j = 0; j < NVAR; j++) {
			struct variant *v = &variants[(j + r) % NVAR];
			double ns;

			if (v->dead || (v->kind == K_BPFTRACE && r % bpf_every))
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
			spread(variants[i].ns, variants[i].nr, &variants[i].lo, &variants[i].med,
			       &variants[i].hi);

	print_table();
	print_checks();
	print_targets();
	print_summary();
	return 0;
}
