/* SPDX-License-Identifier: MIT */
/*
 * The attacker's own tracer: chan_listen CMD... starts CMD with a control
 * socket in UPROBE_AGENT_FD (no LD_PRELOAD: CMD links libuprobes itself) and
 * prints every message CMD sends on it, with its descriptors, until CMD ends.
 * An agent that serves such a caller prints "HELLO ... fds 1"; a secure image
 * may only say "HELLO_SECURE pid PID fds 0".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "uprobes_agent.h"

int main(int argc, char **argv)
{
	char cbuf[CMSG_SPACE(8 * sizeof(int))], fdbuf[16];
	struct uprobe_agent_hdr h;
	int pair[2], st;
	pid_t child;

	if (argc < 2 || socketpair(AF_UNIX, SOCK_SEQPACKET, 0, pair))
		return 2;
	child = fork();
	if (child == 0) {
		close(pair[0]);
		snprintf(fdbuf, sizeof(fdbuf), "%d", pair[1]);
		setenv(UPROBE_AGENT_ENV_FD, fdbuf, 1);
		execv(argv[1], argv + 1);
		_exit(127);
	}
	close(pair[1]);
	for (;;) {
		struct iovec iov = { &h, sizeof(h) };
		struct msghdr m = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				    .msg_controllen = sizeof(cbuf) };
		struct cmsghdr *c;
		ssize_t got = recvmsg(pair[0], &m, 0);
		int fds = 0;

		if (got <= 0)
			break;
		for (c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
			size_t k = c->cmsg_type == SCM_RIGHTS
					   ? (c->cmsg_len - CMSG_LEN(0)) / sizeof(int)
					   : 0;

			for (size_t i = 0; i < k; i++, fds++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd); /* an agent that got this far runs on, untraced */
			}
		}
		printf("%s pid %s fds %d\n",
		       h.type == UPROBE_AGENT_HELLO	   ? "HELLO"
		       : h.type == UPROBE_AGENT_HELLO_SECURE ? "HELLO_SECURE"
							     : "OTHER",
		       h.n == (unsigned)child ? "CHILD" : "OTHER", fds);
		fflush(stdout);
	}
	waitpid(child, &st, 0);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}
