/* SPDX-License-Identifier: MIT */
/*
 * Arming what the benches time (bench_arm.h): this library's probe with its
 * mode checked, kernel uprobes of the uprobe PMU, bpftrace count().
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/perf_event.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_arm.h"
#include "bench_util.h"

/* ---- this library ------------------------------------------------------------------ */

static uint8_t first_byte(const void *addr)
{
	return *(const volatile uint8_t *)addr;
}

static int lib_check(struct bench_case *c, const struct uprobe_info *info,
		     const struct uprobe_opts *opts, enum bench_want want, const void *addr)
{
	uint8_t want_byte = info->mode == UPROBE_MODE_OPTIMIZED ? 0xe9 : 0xcc;

	if (want == WANT_OPT && info->mode != UPROBE_MODE_OPTIMIZED)
		snprintf(c->why, sizeof(c->why), "not jump-optimized (mode %s): %s",
			 uprobe_mode_name(info->mode), info->opt_reason);
	else if (want == WANT_TRAP && info->mode == UPROBE_MODE_OPTIMIZED)
		snprintf(c->why, sizeof(c->why), "jump-optimized despite UPROBE_F_NO_OPTIMIZE");
	else if (!info->has_ret_handler != !opts->ret_handler)
		snprintf(c->why, sizeof(c->why), "uprobe_info.has_ret_handler is %d",
			 info->has_ret_handler);
	else if (first_byte(addr) != want_byte)
		snprintf(c->why, sizeof(c->why), "mode %s but the first byte is 0x%02x, not 0x%02x",
			 c->mode, first_byte(addr), want_byte);
	else
		return 0;
	return -1;
}

static int lib_arm(struct bench_case *c)
{
	struct bench_lib *l = (struct bench_lib *)c;
	struct uprobe_opts opts = {.sz = sizeof(opts),
				   .handler = l->handler,
				   .ret_handler = l->ret_handler,
				   .flags = l->flags,
				   .ctx = l->ctx};
	struct uprobe_info info = {.sz = sizeof(info)};

	l->probe = uprobe_attach_addr(l->addr, &opts);
	if (!l->probe)
		return snprintf(c->why, sizeof(c->why), "uprobe_attach_addr: %s: %s",
				strerror(errno), uprobe_last_error()),
		       -1;
	if (uprobe_get_info(l->probe, &info)) {
		snprintf(c->why, sizeof(c->why), "uprobe_get_info: %s", uprobe_last_error());
		goto fail;
	}
	snprintf(c->mode, sizeof(c->mode), "%s", uprobe_mode_name(info.mode));
	snprintf(c->reason, sizeof(c->reason), "%s", info.reason);
	if (!lib_check(c, &info, &opts, l->want, l->addr))
		return 0;
fail:
	uprobe_free(l->probe);
	l->probe = NULL;
	return -1;
}

/* The counts, then away with it; a failure here is a failed check. */
static int lib_disarm(struct bench_case *c, uint64_t calls)
{
	struct bench_lib *l = (struct bench_lib *)c;
	struct uprobe_info info = {.sz = sizeof(info)};

	(void)calls;
	if (!uprobe_get_info(l->probe, &info)) {
		l->hits += info.hits;
		l->ret_hits += info.ret_hits;
		l->ret_unwound += info.ret_unwound;
		l->ret_missed += info.ret_missed;
	} else {
		snprintf(c->why, sizeof(c->why), "uprobe_get_info after the calls: %s",
			 uprobe_last_error());
		c->failed = true;
	}
	if (uprobe_detach(l->probe)) {
		snprintf(c->why, sizeof(c->why), "uprobe_detach: %s", uprobe_last_error());
		c->failed = true;
	}
	uprobe_free(l->probe);
	l->probe = NULL;
	return 0;
}

const struct bench_arm bench_lib_arm = {.arm = lib_arm, .disarm = lib_disarm};

int bench_lib_arm_ret(struct bench_case *c, enum uprobe_ret_path path)
{
	struct bench_lib *l = (struct bench_lib *)c;
	struct uprobe_info info = {.sz = sizeof(info)};
	int r;

	if (path == UPROBE_RET_HIJACK)
		setenv("UPROBE_RET_PATH", "hijack", 1);
	r = lib_arm(c);
	unsetenv("UPROBE_RET_PATH");
	if (r || !l->ret_handler)
		return r;
	if (uprobe_get_info(l->probe, &info) || info.ret_path != path) {
		snprintf(c->why, sizeof(c->why), "return path %s, want %s: %s",
			 uprobe_ret_path_name(info.ret_path), uprobe_ret_path_name(path),
			 info.ret_reason);
		lib_disarm(c, 0);
		return -1;
	}
	snprintf(c->reason, sizeof(c->reason), "%.80s; returns: %s", info.reason,
		 uprobe_ret_path_name(path));
	return 0;
}

void bench_lib_analysis(const char *path, const char *sym, unsigned int flags)
{
	struct uprobe_info info = {.sz = sizeof(info)};

	if (uprobe_analyze(path, sym, flags, &info)) {
		printf("uprobe_analyze(%s): %s\n", sym, uprobe_last_error());
		return;
	}
	printf("uprobe_analyze(%s): mode %s, %s, window %u bytes: %s%s%s\n", sym,
	       uprobe_mode_name(info.mode), info.insn_text, info.window_len, info.reason,
	       info.opt_reason[0] ? "; not optimized: " : "", info.opt_reason);
}

/* ---- kernel uprobes ---------------------------------------------------------------- */

static void pmu_read(struct bench_pmu *pmu)
{
	const char *tp = "/sys/bus/event_source/devices/uprobe/type";
	const char *rp = "/sys/bus/event_source/devices/uprobe/format/retprobe";
	FILE *f = fopen(tp, "re");

	pmu->type = pmu->retprobe_bit = -1;
	if (!f) {
		snprintf(pmu->why, sizeof(pmu->why), "uprobe PMU missing (%s: %s)", tp,
			 strerror(errno));
		return;
	}
	if (fscanf(f, "%d", &pmu->type) != 1) {
		snprintf(pmu->why, sizeof(pmu->why), "%s: unreadable", tp);
		pmu->type = -1;
	}
	fclose(f);
	f = fopen(rp, "re");
	if (!f) {
		snprintf(pmu->ret_why, sizeof(pmu->ret_why), "no uretprobe format (%s: %s)", rp,
			 strerror(errno));
		return;
	}
	if (fscanf(f, "config:%d", &pmu->retprobe_bit) != 1 || pmu->retprobe_bit < 0 ||
	    pmu->retprobe_bit > 63) {
		snprintf(pmu->ret_why, sizeof(pmu->ret_why), "%s: not \"config:N\"", rp);
		pmu->retprobe_bit = -1;
	}
	fclose(f);
}

const struct bench_pmu *bench_pmu(void)
{
	static struct bench_pmu pmu;
	static bool read;

	if (!read)
		pmu_read(&pmu);
	read = true;
	return &pmu;
}

/* A counting kernel uprobe (ret: uretprobe) on this task, reset and enabled: fd or -1. */
static int kuprobe_open(const struct bench_kuprobe *k, bool ret, char *why, size_t len)
{
	const struct bench_pmu *pmu = bench_pmu();
	struct perf_event_attr attr;
	int fd;

	if (pmu->type < 0 || (ret && pmu->retprobe_bit < 0))
		return snprintf(why, len, "%s", pmu->type < 0 ? pmu->why : pmu->ret_why), -1;
	memset(&attr, 0, sizeof(attr));
	attr.size = sizeof(attr);
	attr.type = (uint32_t)pmu->type;
	attr.config = ret ? 1ull << pmu->retprobe_bit : 0;
	attr.config1 = (uint64_t)(uintptr_t)k->path;
	attr.config2 = k->off;
	attr.disabled = 1;
	fd = (int)syscall(SYS_perf_event_open, &attr, 0, -1, -1, PERF_FLAG_FD_CLOEXEC);
	if (fd < 0)
		return snprintf(why, len, "perf_event_open(%s %s:0x%" PRIx64 "): %s%s",
				ret ? "uretprobe" : "uprobe", k->path, k->off, strerror(errno),
				errno == EACCES || errno == EPERM ?
					" (needs CAP_PERFMON or perf_event_paranoid <= 1)" :
					""),
		       -1;
	if (ioctl(fd, PERF_EVENT_IOC_RESET, 0) || ioctl(fd, PERF_EVENT_IOC_ENABLE, 0)) {
		snprintf(why, len, "PERF_EVENT_IOC_ENABLE: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

/* Disable, count and close what is open: fd[0] counts entries, fd[1] returns. */
static int kuprobe_disarm(struct bench_case *c, uint64_t calls)
{
	struct bench_kuprobe *k = c->arg;

	(void)calls;
	for (int i = 0; i < 2; i++) {
		uint64_t count = 0;

		if (k->fd[i] < 0)
			continue;
		ioctl(k->fd[i], PERF_EVENT_IOC_DISABLE, 0);
		if (read(k->fd[i], &count, sizeof(count)) != sizeof(count))
			k->unreadable = true;
		*(i ? &k->ret_hits : &k->hits) += count;
		close(k->fd[i]);
		k->fd[i] = -1;
	}
	return 0;
}

static int kuprobe_arm(struct bench_case *c)
{
	struct bench_kuprobe *k = c->arg;

	if (k->unavailable || !k->path)
		return snprintf(c->why, sizeof(c->why), "%s",
				k->unavailable ? k->unavailable : "no file offset"),
		       -1;
	for (int i = 0; i < 2; i++) {
		if (!(i ? k->ret : k->entry))
			continue;
		k->fd[i] = kuprobe_open(k, i, c->why, sizeof(c->why));
		if (k->fd[i] < 0) {
			kuprobe_disarm(c, 0);
			return -1;
		}
	}
	snprintf(c->mode, sizeof(c->mode), "kernel");
	return 0;
}

const struct bench_arm bench_kuprobe_arm = {.arm = kuprobe_arm, .disarm = kuprobe_disarm};

/* ---- bpftrace ---------------------------------------------------------------------- */

#define BPFTRACE_WAIT_NS 30000000000ull

static const char *bpftrace_path(void)
{
	static char bin[PATH_MAX];
	static bool looked;
	const char *path = getenv("PATH");

	while (!looked && path && *path) {
		size_t n = strcspn(path, ":");

		snprintf(bin, sizeof(bin), "%.*s/bpftrace", (int)n, path);
		if (n && !access(bin, X_OK))
			looked = true;
		path += n + (path[n] == ':');
	}
	if (!looked)
		bin[0] = 0;
	looked = true;
	return bin;
}

/* Characters bpftrace's parser accepts unquoted in a probe's path. */
static bool plain_path(const char *p)
{
	for (; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') &&
		    !(*p >= '0' && *p <= '9') && !strchr("/._-+", *p))
			return false;
	return true;
}

/* In the forked child: stdout and stderr on out, unpinned, gone with the bench. */
static void bpftrace_child(int out, const char *prog)
{
	char pid[16];

	snprintf(pid, sizeof(pid), "%d", (int)getppid());
	bench_unpin(); /* bpftrace's start-up must not take the bench's CPU */
	/* If the bench dies (a timeout), bpftrace stops and takes its probe with it. */
	prctl(PR_SET_PDEATHSIG, SIGINT);
	dup2(out, 1);
	dup2(out, 2);
	execl(bpftrace_path(), "bpftrace", "-B", "none", "-p", pid, "-e", prog, (char *)NULL);
	_exit(127);
}

static void bpftrace_reap(struct bench_bpftrace *b)
{
	if (b->pid > 0) {
		kill(b->pid, SIGKILL);
		waitpid(b->pid, NULL, 0);
	}
	b->pid = -1;
	if (b->fd >= 0)
		close(b->fd);
	b->fd = -1;
}

/* The program, or -1 with why: bpftrace missing, or a path it would need quoted. */
static int bpftrace_prog(const struct bench_bpftrace *b, char *prog, size_t plen, char *why,
			 size_t len)
{
	char exe[PATH_MAX];

	if (!bpftrace_path()[0])
		return snprintf(why, len, "bpftrace is not installed"), -1;
	if (!realpath("/proc/self/exe", exe))
		return snprintf(why, len, "the executable's path is unknown"), -1;
	if (!plain_path(exe))
		return snprintf(why, len, "the path %s has characters bpftrace would need quoted",
				exe),
		       -1;
	snprintf(prog, plen, "BEGIN { printf(\"ready\\n\"); } %s:%s:%s { @hits = count(); %s }",
		 b->attach, exe, b->sym, b->action ? b->action : "");
	return 0;
}

/* Until it printed "ready" and its int3 is in the text, or it exited, or 30 s. */
static int bpftrace_wait_ready(struct bench_bpftrace *b, char *why, size_t len)
{
	uint64_t deadline = now_ns() + BPFTRACE_WAIT_NS;
	char out[4096] = "";

	while (!strstr(out, "ready\n") || first_byte(b->addr) != 0xcc) {
		bool exited = waitpid(b->pid, NULL, WNOHANG) == b->pid;

		if (exited || now_ns() >= deadline) {
			if (exited)
				b->pid = -1; /* reaped */
			read_tail(b->fd, out, sizeof(out), now_ns() + 100000000);
			return snprintf(why, len, "bpftrace %s: %s",
					exited ? "exited before attaching" :
						 "attached nothing within 30 s",
					last_line(out)),
			       -1;
		}
		read_tail(b->fd, out, sizeof(out), now_ns() + 5000000);
	}
	return 0;
}

static int bpftrace_arm(struct bench_case *c)
{
	struct bench_bpftrace *b = c->arg;
	char prog[PATH_MAX + 256];
	int pfd[2];

	b->pid = b->fd = -1;
	if (bpftrace_prog(b, prog, sizeof(prog), c->why, sizeof(c->why)))
		return -1;
	if (pipe2(pfd, O_CLOEXEC))
		return snprintf(c->why, sizeof(c->why), "pipe2: %s", strerror(errno)), -1;
	fflush(NULL);
	b->pid = fork();
	if (b->pid == 0)
		bpftrace_child(pfd[1], prog);
	close(pfd[1]);
	b->fd = pfd[0];
	if (b->pid < 0)
		snprintf(c->why, sizeof(c->why), "fork: %s", strerror(errno));
	if (b->pid < 0 || bpftrace_wait_ready(b, c->why, sizeof(c->why))) {
		bpftrace_reap(b);
		return -1;
	}
	snprintf(c->mode, sizeof(c->mode), "kernel+bpf");
	return 0;
}

/*
 * SIGINT until it prints its map and exits, up to 30 s. Now and then under
 * load, bpftrace 0.17 takes the signal (its handler runs) and stays in its
 * epoll_wait loop without a word: while it has printed nothing, it gets
 * another SIGINT every 5 s. (Once it prints, SIGINT is back to its default:
 * another one would kill it mid-print.)
 */
static void bpftrace_interrupt(struct bench_bpftrace *b, char *out, size_t len)
{
	uint64_t deadline = now_ns() + BPFTRACE_WAIT_NS;

	while (b->pid > 0 && now_ns() < deadline) {
		uint64_t next = now_ns() + 5000000000ull;

		if (!out[0])
			kill(b->pid, SIGINT);
		read_tail(b->fd, out, len, next < deadline ? next : deadline);
		if (waitpid(b->pid, NULL, WNOHANG) == b->pid)
			b->pid = -1; /* reaped */
	}
}

/* Its count; its probe goes with its fds. */
static int bpftrace_disarm(struct bench_case *c, uint64_t calls)
{
	struct bench_bpftrace *b = c->arg;
	uint64_t deadline = now_ns() + BPFTRACE_WAIT_NS;
	char out[16384] = "";
	const char *p;

	bpftrace_interrupt(b, out, sizeof(out));
	bpftrace_reap(b);
	if (b->out)
		snprintf(b->out, b->out_len, "%s", out);
	p = strstr(out, "@hits: ");
	if (!p) {
		c->calls -= calls; /* no count: these calls cannot be checked */
		return snprintf(c->why, sizeof(c->why), "bpftrace printed no count: %s",
				last_line(out)),
		       -1;
	}
	b->hits += strtoull(p + 7, NULL, 10);
	/* The kernel puts the bytes back as bpftrace's probe goes. */
	while (memcmp(b->addr, b->text, b->text_len) && now_ns() < deadline)
		sleep_ms(1);
	return 0;
}

const struct bench_arm bench_bpftrace_arm = {.arm = bpftrace_arm,
					     .disarm = bpftrace_disarm,
					     .slow = true};
