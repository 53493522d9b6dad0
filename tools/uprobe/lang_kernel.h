/* SPDX-License-Identifier: MIT */
/* uprobe -e on the kernel backend (lang_kernel.c), called by lang.c. */
#ifndef UPROBE_LANG_KERNEL_H
#define UPROBE_LANG_KERNEL_H

#include <sys/types.h>

#include "uprobes_lang.h"

/*
 * Run p's probes as kernel events: in every process (pid 0, cmd NULL), in
 * process pid, or in the command cmd and what it starts; exe: the file of
 * attach points without a path (NULL: none). A CLI exit code (with cmd: the
 * command's status).
 */
int lang_kernel_run(struct lang_program *p, const char *name, enum lang_output fmt,
		    const char *exe, pid_t pid, char **cmd);

#endif
