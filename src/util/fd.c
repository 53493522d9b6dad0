/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fd.h"

int fd_keep(struct fd_kept *k, int fd)
{
	struct stat st;

	*k = FD_KEPT_NONE;
	if (fstat(fd, &st))
		return -errno;
	*k = (struct fd_kept){ .fd = fd, .dev = st.st_dev, .ino = st.st_ino };
	return 0;
}

bool fd_kept_valid(const struct fd_kept *k)
{
	struct stat st;

	return k->fd >= 0 && !fstat(k->fd, &st) && st.st_dev == k->dev && st.st_ino == k->ino;
}

void fd_kept_close(struct fd_kept *k)
{
	if (fd_kept_valid(k))
		close(k->fd);
	*k = FD_KEPT_NONE;
}
