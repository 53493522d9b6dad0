/* SPDX-License-Identifier: MIT */
/*
 * Descriptors the library keeps open between calls (/proc/self/mem, the
 * agent's channel, the rings' memfd) live in the program's descriptor table,
 * where the program may close them (close_range, closefrom when it
 * daemonizes) or put a file of its own at their number (dup2). Each is kept
 * with the identity of its file (device and inode) and checked before every
 * use: one that changed is forgotten, never used and never closed, because
 * the number is the program's now.
 */
#ifndef UPROBES_UTIL_FD_H
#define UPROBES_UTIL_FD_H

#include <stdbool.h>
#include <sys/types.h>

struct fd_kept {
	int fd; /* -1: none */
	dev_t dev;
	ino_t ino;
};

#define FD_KEPT_NONE ((struct fd_kept){ .fd = -1 })

/* Keep fd (ours, just opened): 0, or -errno when it cannot be examined. */
int fd_keep(struct fd_kept *k, int fd);

/* Is k->fd still the file we kept? (false when none) */
bool fd_kept_valid(const struct fd_kept *k);

/* Close k->fd if it is still ours; forget it either way. */
void fd_kept_close(struct fd_kept *k);

#endif
