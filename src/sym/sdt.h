/* SPDX-License-Identifier: MIT */
/*
 * SystemTap SDT markers (USDT): the .note.stapsdt notes of an ELF file,
 * their places as file offsets, and their argument strings decoded into the
 * fetch-args of the trace layer. The marker struct is the public
 * struct trace_sdt_marker (uprobes_trace.h).
 */
#ifndef UPROBES_SYM_SDT_H
#define UPROBES_SYM_SDT_H

#include <stddef.h>

#include "uprobes_trace.h"

/*
 * Every marker of the ELF file at path, in note order. Returns the count
 * (0 when the file has none) or -errno with a message in log_error; free the
 * array with sdt_free().
 */
int sdt_read(const char *path, struct trace_sdt_marker **out);
void sdt_free(struct trace_sdt_marker *m, int n);

#endif
