/* SPDX-License-Identifier: MIT */
/*
 * Writing text. /proc/self/mem writes with FOLL_FORCE: they work on r-x
 * mappings (and under PR_SET_MDWE, which forbids making them writable) and
 * break copy-on-write exactly like a debugger's poke, so only this process's
 * private copy of the page changes.
 *
 * The descriptor is opened once and lives in the program's descriptor table:
 * the program may close it or put one of its own files at its number (see
 * util/fd.h), so it is checked before every write, and reopened when it is
 * gone. A file opened as /proc/self/mem must also read back this process's
 * memory (something else may be mounted there). Where none can be had, the
 * text is made writable for the write (mprotect). Every write is read back
 * from memory: 0 means the bytes are in the text, whatever the kernel said.
 *
 * A one-byte write is atomic for other cores; writers are serialised by the
 * caller (the probe registry lock), which also guards the state below.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "arch/arch.h"
#include "ubp/ubp.h"
#include "util/fd.h"

static struct fd_kept mem = FD_KEPT_NONE;
static pid_t mem_pid;
static char text_why[192]; /* why the last write failed */
static int membarrier_state; /* 0 unknown, 1 registered, -1 unavailable */
static int sync_core_state;

/*
 * Does fd read this process's memory? A word that only this process (after a
 * fork, only this one) holds, read back through it.
 */
static bool mem_is_ours(int fd)
{
	static volatile uint64_t word;
	static uint64_t opens;
	uint64_t got = 0;

	word = ((uint64_t)getpid() << 32) ^ ++opens ^ (uint64_t)(uintptr_t)&word;
	return pread(fd, &got, sizeof(got), (off_t)(uintptr_t)&word) == sizeof(got) &&
	       got == word;
}

/*
 * The /proc/self/mem descriptor, checked, or -errno (text_why says why). After
 * fork, an inherited one still refers to the parent: it is ours to close.
 */
static int text_mem_fd(void)
{
	pid_t pid = getpid();
	int fd, err;

	if (mem_pid == pid && fd_kept_valid(&mem))
		return mem.fd;
	fd_kept_close(&mem);
	fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		snprintf(text_why, sizeof(text_why), "/proc/self/mem: %s", strerror(-err));
		return err;
	}
	if (!mem_is_ours(fd)) {
		close(fd);
		snprintf(text_why, sizeof(text_why), "/proc/self/mem: not this process's memory");
		return -ENXIO;
	}
	err = fd_keep(&mem, fd);
	if (err) {
		close(fd);
		return err;
	}
	mem_pid = pid;
	return fd;
}

/*
 * The raw system call, not libc's pwrite: libc's goes through functions that
 * may be probed (__pthread_enable_asynccancel), and while their patches are
 * being written in or out each call would take their breakpoint trap.
 */
static int text_write_mem(int fd, uint64_t addr, const void *buf, size_t len)
{
	long n;

	do {
		n = raw_syscall6(SYS_pwrite64, fd, (long)buf, (long)len, (long)addr, 0, 0);
	} while (n == -EINTR);
	if (n < 0)
		return (int)n;
	return (size_t)n == len ? 0 : -EIO;
}

static int text_write_mprotect(uint64_t addr, const void *buf, size_t len)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t start = addr & ~(uint64_t)(page - 1);
	size_t span = addr + len - start;

	/* Keep exec while writable: other threads may be running on the page. */
	if (mprotect((void *)start, span, PROT_READ | PROT_WRITE | PROT_EXEC))
		return -errno;
	memcpy((void *)addr, buf, len);
	arch_text_sync(addr, len); /* aarch64: to the point of unification, icache invalidated */
	/* The original protection of text is r-x for every mapping we write. */
	mprotect((void *)start, span, PROT_READ | PROT_EXEC);
	return 0;
}

/* Are the bytes in? (a loop, not memcmp: a probe may sit in memcmp) */
static bool text_holds(uint64_t addr, const uint8_t *buf, size_t len)
{
	const volatile uint8_t *text = (const volatile uint8_t *)addr;

	for (size_t i = 0; i < len; i++)
		if (text[i] != buf[i])
			return false;
	return true;
}

int ubp_text_write(uint64_t addr, const void *buf, size_t len)
{
	int fd = text_mem_fd(), err;
	size_t used;

	if (fd >= 0) {
		err = text_write_mem(fd, addr, buf, len);
		if (!err && text_holds(addr, buf, len)) {
			arch_text_sync(addr, len); /* the kernel's write does it too, on arm64 */
			return 0;
		}
		snprintf(text_why, sizeof(text_why), "/proc/self/mem: %s",
			 err ? strerror(-err) : "the write did not reach the text");
	}
	err = text_write_mprotect(addr, buf, len);
	if (!err && text_holds(addr, buf, len))
		return 0;
	used = strlen(text_why);
	snprintf(text_why + used, sizeof(text_why) - used, "; mprotect: %s",
		 err ? strerror(-err) : "the write did not reach the text");
	return err ? err : -EIO;
}

#define RUN_MAX 4096

static int patch_addr_cmp(const void *a, const void *b)
{
	uint64_t x = (*(const struct ubp_patch *const *)a)->addr;
	uint64_t y = (*(const struct ubp_patch *const *)b)->addr;

	return (x > y) - (x < y);
}

/*
 * How many patches from run[0] on go in one write: those that end within
 * RUN_MAX bytes of run[0]'s start, do not overlap, and share its page or the
 * next (a patch may straddle a page boundary).
 */
static size_t run_length(struct ubp_patch **run, size_t n, uint64_t *end)
{
	uint64_t start = run[0]->addr, page = start & ~(uint64_t)(RUN_MAX - 1);
	size_t k = 1;

	*end = start + run[0]->len;
	while (k < n && run[k]->addr >= *end && run[k]->addr < page + RUN_MAX &&
	       run[k]->addr + run[k]->len - start <= RUN_MAX) {
		*end = run[k]->addr + run[k]->len;
		k++;
	}
	return k;
}

/*
 * One run in one write: the text between its patches read as it is (a loop,
 * not memcpy: a probe may sit in memcpy). 0, or -errno when the write failed
 * (the caller then writes each patch alone).
 */
static int run_write(int fd, struct ubp_patch **run, size_t k, uint64_t start, uint64_t end)
{
	static uint8_t buf[RUN_MAX]; /* the caller serialises writers */
	const volatile uint8_t *text = (const volatile uint8_t *)start;
	int err;

	for (uint64_t i = 0; i < end - start; i++)
		buf[i] = text[i];
	for (size_t j = 0; j < k; j++)
		for (uint32_t b = 0; b < run[j]->len; b++)
			buf[run[j]->addr - start + b] = run[j]->bytes[b];
	err = text_write_mem(fd, start, buf, end - start);
	if (err)
		return err;
	arch_text_sync(start, end - start);
	for (size_t j = 0; j < k; j++)
		run[j]->err = text_holds(run[j]->addr, run[j]->bytes, run[j]->len) ? 0 : -EIO;
	return 0;
}

size_t ubp_text_write_many(struct ubp_patch *p, size_t n)
{
	struct ubp_patch **order = malloc((n ? n : 1) * sizeof(*order));
	size_t failed = 0;

	for (size_t i = 0; order && i < n; i++)
		order[i] = &p[i];
	if (order && n > 1)
		qsort(order, n, sizeof(*order), patch_addr_cmp);
	for (size_t i = 0; i < n;) {
		uint64_t end = 0;
		size_t k = order ? run_length(&order[i], n - i, &end) : 1;
		int fd = k > 1 ? text_mem_fd() : -1; /* checked before every write */
		bool alone = k == 1 || fd < 0 || run_write(fd, &order[i], k, order[i]->addr, end);

		for (size_t j = 0; j < k; j++) {
			struct ubp_patch *q = order ? order[i + j] : &p[i + j];

			/* Alone, or again alone when the run's write did not show (mprotect then). */
			if (alone || q->err)
				q->err = ubp_text_write(q->addr, q->bytes, q->len);
			failed += q->err != 0;
		}
		i += k;
	}
	free(order);
	return failed;
}

const char *ubp_text_error(void)
{
	return text_why;
}

/* Raw, as text_write_mem: 0, or -1 with errno. */
static long membarrier(int cmd)
{
	long r = raw_syscall6(SYS_membarrier, cmd, 0, 0, 0, 0, 0);

	if (r < 0) {
		errno = (int)-r;
		return -1;
	}
	return r;
}

void ubp_sync_cores(void)
{
	if (!sync_core_state)
		sync_core_state =
			membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED_SYNC_CORE) ? -1 : 1;
	if (sync_core_state > 0 && !membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED_SYNC_CORE))
		return;
	/*
	 * Without SYNC_CORE: an IPI-based barrier still makes every running
	 * thread take an interrupt, and returning from it serialises the core.
	 */
	if (!ubp_membarrier())
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

int ubp_membarrier(void)
{
	if (!membarrier_state)
		membarrier_state = membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) ? -1 : 1;
	if (membarrier_state < 0)
		return -ENOSYS;
	return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) ? -errno : 0;
}
