/* SPDX-License-Identifier: MIT */
/*
 * What the hostile programs share: the probe targets of targets.S, the text
 * of a function compared with its file, and the raw rt_sigaction system call
 * (which no interposed libc function sees).
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "testlib.h" /* struct tl_ksigaction */

int hostile_xol(int x);
int hostile_jmp(int x);
void hostile_restorer(void);

#define HOSTILE_XOL_LEN 4
#define HOSTILE_JMP_LEN 10

/*
 * The len bytes of the file mapped at addr (/proc/self/maps: its path and
 * offset), into out: 0, or -1 when they cannot be read.
 */
static inline int hostile_file_bytes(const void *addr, size_t len, uint8_t *out)
{
	uint64_t a = (uint64_t)(uintptr_t)addr, start, end, off;
	char line[4096], path[4096];
	int ret = -1, fd;
	FILE *maps = fopen("/proc/self/maps", "re");

	while (maps && fgets(line, sizeof(line), maps)) {
		path[0] = 0;
		if (sscanf(line, "%lx-%lx %*s %lx %*s %*s %4095s", &start, &end, &off, path) < 3 ||
		    a < start || a + len > end)
			continue;
		fd = path[0] == '/' ? open(path, O_RDONLY | O_CLOEXEC) : -1;
		if (fd >= 0 && pread(fd, out, len, (off_t)(off + a - start)) == (ssize_t)len)
			ret = 0;
		if (fd >= 0)
			close(fd);
		break;
	}
	if (maps)
		fclose(maps);
	return ret;
}

/* Do the len bytes at addr equal those of its file? -1 when that cannot be read. */
static inline int hostile_text_is_file(const void *addr, size_t len)
{
	uint8_t file[64];

	if (len > sizeof(file) || hostile_file_bytes(addr, len, file))
		return -1;
	return !memcmp(file, addr, len);
}

#define HOSTILE_SA_RESTORER 0x04000000

/* Install handler (or SIG_DFL, SIG_IGN) for sig with the raw system call. */
static inline int hostile_raw_set(int sig, void *handler)
{
	struct tl_ksigaction act = {
		.handler = handler,
		.flags = SA_SIGINFO | SA_NODEFER | HOSTILE_SA_RESTORER,
		.restorer = hostile_restorer,
	};

	return (int)syscall(SYS_rt_sigaction, sig, &act, NULL, 8);
}

/* The handler the kernel has for sig now (SIG_ERR if it cannot say). */
static inline void *hostile_raw_handler(int sig)
{
	struct tl_ksigaction cur;

	return syscall(SYS_rt_sigaction, sig, NULL, &cur, 8) ? (void *)SIG_ERR : cur.handler;
}

#endif
