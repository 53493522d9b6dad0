/* SPDX-License-Identifier: MIT */
/*
 * A deterministic workload of real libc use (stdio and POSIX file I/O, the
 * allocator, string functions, qsort/bsearch, threads and mutexes) that prints
 * a digest of what it computed. Every libc call it makes to a function in
 * WL_FUNCS goes through WL(), which counts the call before making it, so the
 * test knows exactly how often the workload itself called each function.
 */
#ifndef REALCODE_WORKLOAD_H
#define REALCODE_WORKLOAD_H

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

/* Every libc function the workload calls through WL(), by its libc symbol name. */
/* clang-format off */
#define WL_FUNCS(X)                                                                      \
	X(fopen) X(fclose) X(fprintf) X(fputs) X(fputc) X(fgets) X(fgetc) X(fread)       \
	X(fwrite) X(fseek) X(ftell) X(rewind) X(fflush) X(feof) X(ferror) X(fileno)      \
	X(open) X(read) X(write) X(close) X(lseek) X(pread) X(pwrite) X(stat) X(fstat)   \
	X(unlink) X(rename) X(access) X(mkdir) X(rmdir) X(ftruncate)                     \
	X(malloc) X(calloc) X(realloc) X(free)                                           \
	X(strlen) X(strnlen) X(strcmp) X(strncmp) X(strcasecmp) X(strchr) X(strrchr)     \
	X(strstr) X(memchr) X(memcpy) X(memmove) X(memset) X(memcmp) X(strcpy)           \
	X(strncpy) X(strcat) X(strspn) X(strcspn) X(strdup) X(strndup) X(strtok_r)       \
	X(strtol) X(strtoul) X(snprintf) X(sscanf) X(qsort) X(bsearch)                   \
	X(pthread_create) X(pthread_join) X(pthread_mutex_init) X(pthread_mutex_lock)    \
	X(pthread_mutex_unlock) X(pthread_mutex_destroy) X(labs) X(getpid)
/* clang-format on */

#define WL_ENUM(name) WL_##name,
enum wl_fn { WL_FUNCS(WL_ENUM) WL_NFUNCS };
#undef WL_ENUM

extern const char *const wl_names[WL_NFUNCS];
extern _Atomic uint64_t wl_calls[WL_NFUNCS];
/*
 * The address each name resolves to in the workload, as its calls bind: this
 * sees header redirections (sscanf is __isoc99_sscanf) and IFUNC choices.
 */
extern void *const wl_addrs[WL_NFUNCS];

/*
 * WL(strlen)(s): count, then call. The comma expression yields the function
 * itself (never a function-like macro of the same name), called directly.
 */
#define WL(name) (atomic_fetch_add_explicit(&wl_calls[WL_##name], 1, memory_order_relaxed), name)

/*
 * Run the workload in directory dir (which must exist and be empty; it is
 * left empty) and print its digest to out. Returns 0, or -1 after printing
 * what went wrong to out.
 */
int workload_run(FILE *out, const char *dir);

#endif
