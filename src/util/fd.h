/* SPDX-License-Identifier: MIT */
/*
 * Descriptors the library keeps open between calls (/proc/self/mem, the
 * agent's channel, the rings' memfd) live in the program's descriptor table,
 * where the program may close them (close_range, closefrom when it
 * daemonizes) or put a file of its own at their number (dup2). Each is kept
 * with the identity of its file (device and inode) and checked before every
 * use: one that changed is forgotten, never used and never closed, because
 * the number is the program's now. (Inline: tests link their own copy of
 * ring.c, which uses it.)
 */
#ifndef UPROBES_UTIL_FD_H
#define UPROBES_UTIL_FD_H

#include <errno.h>
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

struct fd_kept {
	int fd; /* -1: none */
	dev_t dev;
	ino_t ino;
};

#define FD_KEPT_NONE ((struct fd_kept){ .fd = -1 })

/* Keep fd (ours, just opened): 0, or -errno when it cannot be examined. */
static inline int fd_keep(struct fd_kept *k, int fd)
{
	struct stat st;

	*k = FD_KEPT_NONE;
	if (fstat(fd, &st))
		return -errno;
	*k = (struct fd_kept){ .fd = fd, .dev = st.st_dev, .ino = st.st_ino };
	return 0;
}

/* Is k->fd still the file we kept? (false when none) */
static inline bool fd_kept_valid(const struct fd_kept *k)
{
	struct stat st;

	return k->fd >= 0 && !fstat(k->fd, &st) && st.st_dev == k->dev && st.st_ino == k->ino;
}

/* Close k->fd if it is still ours; forget it either way. */
static inline void fd_kept_close(struct fd_kept *k)
{
	if (fd_kept_valid(k))
		close(k->fd);
	*k = FD_KEPT_NONE;
}

#endif
