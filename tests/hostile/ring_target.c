/* SPDX-License-Identifier: MIT */
/*
 * A traced program that attacks its tracer through the trace buffer
 * (tests/hostile/ring_test.sh runs it under build/uprobe). It finds the
 * agent's memfd among its own descriptors, maps it as the agent does, and
 * writes there what no probe writes. Probed: ring_hit, as
 *   p:h/hit TARGET:ring_hit s=+0(%di):string i=%si:s64
 * whose record is 56 bytes of header, then the fault bitmap, the string's
 * descriptor (u32 offset, u32 length), i, and the string's bytes (RECORD
 * below, for the string "hello"). Modes, N calls of ring_hit first:
 *
 *   flip N         a thread rewrites every committed record in a tight loop
 *                  while the tracer reads them: the string descriptor
 *                  pointed out of the record, the fault bit toggled;
 *   poison N       then every len word of every ring busy, producer_pos 2^62;
 *   poison-wait N  the same once the tracer (attached with -p) consumed an
 *                  event, then "poisoned" on stdout and wait for a signal;
 *   tids N M       then M forged records, each of a thread never seen before;
 *                  prints the tracer's VmHWM (its parent's) in kB at the end;
 *   random N       then the whole file overwritten with pseudo-random bytes
 *                  (fixed seed); prints ring 0's consumer_pos before and after;
 *   lost N         then its ring's lost counter set to 0xdeadbeefdeadbeef;
 *   comm N         the thread named "\e]0;pwn\a\nfake" (set the terminal's
 *                  title, then a line of its own) before its first call.
 *
 * Each waits for the tracer to consume what the calls wrote before it
 * attacks (consumer_pos reaching producer_pos: progress, not time), and
 * exits 0; 3 if the tracer (its parent, but with -p) died meanwhile.
 */
#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trace/transport/ring_shm.h"

#define RECORD 88u /* 56 header + 8 bitmap + 8 descriptor + 8 i + "hello" padded to 8 */

/*
 * 8 one-byte nops first (patchable_function_entry, as the kernel's ftrace
 * entries): the test is not about short functions, and so the entry's 5-byte
 * jump never takes the ret; make check's forced pass (UPROBE_ENTRY_PATH=
 * lean-strict UPROBE_RET_PATH=site-strict, docs/testing.md) takes the probe.
 */
__attribute__((noinline, patchable_function_entry(8, 0))) void ring_hit(const char *s, long i)
{
	__asm__ volatile("" : : "r"(s), "r"(i) : "memory");
}

/* The session's memfd, mapped whole, once (the data areas single: wrap by hand). */
static struct trace_shm_hdr hdr;
static uint8_t *shm;
static size_t shm_size;

static int shm_find(void)
{
	char path[64], link[64];
	struct dirent *d;
	struct stat st;
	DIR *dir = opendir("/proc/self/fd");
	int fd = -1;

	while (dir && (d = readdir(dir)) && fd < 0) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", d->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n > 0 && (link[n] = 0, !strncmp(link, "/memfd:uprobes-trace", 20)))
			fd = atoi(d->d_name);
	}
	if (dir)
		closedir(dir);
	if (fd < 0 || fstat(fd, &st))
		return -1;
	shm_size = (size_t)st.st_size;
	shm = mmap(NULL, shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (shm == MAP_FAILED)
		return shm = NULL, -1;
	memcpy(&hdr, shm, sizeof(hdr));
	if (hdr.magic == TRACE_SHM_MAGIC)
		return 0;
	munmap(shm, shm_size); /* the agent writes the header last: not yet */
	return shm = NULL, -1;
}

static struct trace_shm_ctrl *ctrl(unsigned int i)
{
	return (struct trace_shm_ctrl *)(shm + hdr.ctrl_off + i * hdr.ring_stride);
}

static uint8_t *data(unsigned int i)
{
	return (uint8_t *)ctrl(i) + hdr.data_off;
}

/* The ring this thread writes to (the agent's producer claimed it at the first call). */
static unsigned int own_ring(void)
{
	uint64_t me = (uint64_t)getpid() << 32 | (uint32_t)gettid();

	for (unsigned int i = 1; i < hdr.n_rings; i++)
		if (__atomic_load_n(&ctrl(i)->owner, __ATOMIC_RELAXED) == me)
			return i;
	return 0;
}

static pid_t tracer; /* launch mode: our parent */

/* Until the tracer has read ring i up to its producer position (exit 3 if it died). */
static void wait_consumed(unsigned int i)
{
	while (__atomic_load_n(&ctrl(i)->consumer_pos, __ATOMIC_ACQUIRE) !=
	       __atomic_load_n(&ctrl(i)->producer_pos, __ATOMIC_ACQUIRE)) {
		if (tracer && getppid() != tracer)
			exit(3);
		sched_yield();
	}
}

static void calls(long n)
{
	for (long i = 0; i < n; i++)
		ring_hit("hello", i);
}

/* ---- flip: rewrite committed records while the tracer reads them ------------------- */

static volatile int flipping = 1;

/*
 * Records of this thread's ring sit at 72 + 88k (a thread name first): the
 * committed ones between the consumer's and the producer's positions get a
 * descriptor out of the record and their fault bit toggled, over and over.
 * The len words are left alone.
 */
static void *flipper(void *arg)
{
	unsigned int r = *(unsigned int *)arg;
	uint64_t mask = hdr.ring_bytes - 1, bit = 0;
	uint8_t *d = data(r);

	while (flipping) {
		uint64_t cons = __atomic_load_n(&ctrl(r)->consumer_pos, __ATOMIC_ACQUIRE);
		uint64_t prod = __atomic_load_n(&ctrl(r)->producer_pos, __ATOMIC_ACQUIRE);
		uint64_t pos = cons < 72 ? 72 : 72 + (cons - 72 + RECORD - 1) / RECORD * RECORD;

		bit ^= 1;
		for (; pos + RECORD <= prod; pos += RECORD) {
			uint32_t *desc = (uint32_t *)(d + ((pos + 64) & mask));

			if (*(volatile uint32_t *)(d + (pos & mask)) != RECORD)
				continue;
			desc[0] = 0x7fff0000u;
			*(volatile uint64_t *)(d + ((pos + 56) & mask)) = bit;
		}
	}
	return NULL;
}

static void flip(long n)
{
	unsigned int r;
	pthread_t th;

	ring_hit("hello", -1);
	r = own_ring();
	pthread_create(&th, NULL, flipper, &r);
	calls(n - 1);
	wait_consumed(r);
	flipping = 0;
	pthread_join(th, NULL);
}

/* ---- poison: positions and length words no producer leaves ------------------------ */

static void poison(void)
{
	for (unsigned int i = 0; i < hdr.n_rings; i++) {
		for (uint64_t off = 0; off < hdr.ring_bytes; off += 8)
			*(uint32_t *)(data(i) + off) = TRACE_RAW_BUSY | 56;
		__atomic_store_n(&ctrl(i)->producer_pos, 1ull << 62, __ATOMIC_RELEASE);
	}
}

/*
 * Attached to with -p: tracing starts some time after we do. The session is
 * looked for once every 2^20 calls: a look (opendir, readlink: ~30 us in libc
 * and the kernel) every 1,000 calls (~2 us of our own code) kept the thread
 * in libc nearly all the time, where uprobe -p cannot borrow it ("no thread
 * came to a point where it holds none of libc's locks within 5000 ms", seen
 * in CI).
 */
static void poison_when_traced(void)
{
	unsigned int r = 0;

	for (long i = 0; !shm || !r || !ctrl(r)->consumer_pos; i++) {
		ring_hit("hello", i);
		if (!shm && !(i & ((1L << 20) - 1)))
			shm_find();
		if (shm && !r)
			r = own_ring();
	}
	wait_consumed(r);
	poison();
	printf("poisoned\n");
	fflush(stdout);
	for (;;)
		pause();
}

/* ---- tids: a fresh thread id in every record -------------------------------------- */

static void forge(unsigned int r, uint32_t tid, long i)
{
	uint64_t pos = ctrl(r)->producer_pos, mask = hdr.ring_bytes - 1;
	uint8_t rec[RECORD] = { 0 };
	struct trace_raw *raw = (struct trace_raw *)rec;
	uint32_t desc[2] = { 24, 5 };

	while (pos + RECORD - __atomic_load_n(&ctrl(r)->consumer_pos, __ATOMIC_ACQUIRE) >
	       hdr.ring_bytes) {
		if (getppid() != tracer)
			exit(3);
		sched_yield();
	}
	*raw = (struct trace_raw){ .type = TRACE_RAW_EVENT, .pid = (uint32_t)getpid(),
				   .tid = tid, .ip = (uint64_t)ring_hit };
	memcpy(rec + 64, desc, 8);
	memcpy(rec + 72, &i, 8);
	memcpy(rec + 80, "hello", 5);
	for (unsigned int k = 4; k < RECORD; k++) /* the len word last */
		data(r)[(pos + k) & mask] = rec[k];
	__atomic_store_n(&ctrl(r)->producer_pos, pos + RECORD, __ATOMIC_RELAXED);
	__atomic_store_n((uint32_t *)(data(r) + (pos & mask)), RECORD, __ATOMIC_RELEASE);
}

static void tids(long m)
{
	unsigned int r = own_ring();
	char line[256];
	FILE *f;

	wait_consumed(r);
	for (long i = 0; i < m; i++)
		forge(r, 1000000 + (uint32_t)i, i);
	wait_consumed(r);
	snprintf(line, sizeof(line), "/proc/%d/status", getppid());
	f = fopen(line, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			printf("tracer VmHWM %ld kB\n", strtol(line + 6, NULL, 10));
	if (f)
		fclose(f);
}

/* ---- random: the whole file ------------------------------------------------------- */

static void scribble(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull, before;

	wait_consumed(own_ring());
	before = ctrl(0)->consumer_pos;
	for (size_t off = 0; off + 8 <= shm_size; off += 8) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		__atomic_store_n((uint64_t *)(shm + off), x, __ATOMIC_RELAXED);
	}
	printf("ring 0 consumer_pos %llu -> %llu\n", (unsigned long long)before,
	       (unsigned long long)ctrl(0)->consumer_pos);
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[1] : "";
	long n = argc > 2 ? atol(argv[2]) : 0;

	if (!strcmp(mode, "poison-wait")) {
		poison_when_traced();
		return 0;
	}
	tracer = getppid();
	if (!strcmp(mode, "comm"))
		prctl(PR_SET_NAME, "\x1b]0;pwn\x07\nfake");
	if (!strcmp(mode, "flip")) {
		if (shm_find())
			return 2;
		flip(n);
		return 0;
	}
	calls(n);
	if (shm_find())
		return 2;
	if (!strcmp(mode, "poison")) {
		wait_consumed(own_ring());
		poison();
	} else if (!strcmp(mode, "tids")) {
		tids(argc > 3 ? atol(argv[3]) : 0);
	} else if (!strcmp(mode, "random")) {
		scribble();
	} else if (!strcmp(mode, "lost")) {
		wait_consumed(own_ring());
		ctrl(own_ring())->lost = 0xdeadbeefdeadbeefull;
	}
	return 0;
}
