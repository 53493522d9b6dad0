/* SPDX-License-Identifier: MIT */
/*
 * Writing text. /proc/self/mem writes with FOLL_FORCE: they work on r-x
 * mappings (and under PR_SET_MDWE, which forbids making them writable) and
 * break copy-on-write exactly like a debugger's poke, so only this process's
 * private copy of the page changes.
 *
 * A one-byte write is atomic for other cores; writers are serialised by the
 * caller (the probe registry lock).
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/membarrier.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "ubp/ubp.h"

static int mem_fd = -1;
static pid_t mem_fd_pid;
static int membarrier_state; /* 0 unknown, 1 registered, -1 unavailable */
static int sync_core_state;

/* After fork, an inherited /proc/self/mem still refers to the parent. */
static int text_mem_fd(void)
{
	pid_t pid = getpid();

	if (mem_fd >= 0 && mem_fd_pid == pid)
		return mem_fd;
	if (mem_fd >= 0)
		close(mem_fd);
	mem_fd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	mem_fd_pid = pid;
	return mem_fd;
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
	/* The original protection of text is r-x for every mapping we write. */
	mprotect((void *)start, span, PROT_READ | PROT_EXEC);
	return 0;
}

int ubp_text_write(uint64_t addr, const void *buf, size_t len)
{
	int fd = text_mem_fd();
	ssize_t n;

	if (fd < 0)
		return text_write_mprotect(addr, buf, len);
	do {
		n = pwrite(fd, buf, len, (off_t)addr);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
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
