/* SPDX-License-Identifier: MIT */
/*
 * Preloaded into uprobe: a qsort() that holds callers to its contract (base is
 * never NULL, even for no elements: UBSan reports it), and aborts otherwise.
 * <stdlib.h> stays out: its nonnull attribute would let the compiler drop the
 * check.
 */
#include <dlfcn.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>

typedef int (*cmp_fn)(const void *, const void *);

void qsort(void *base, size_t n, size_t size, cmp_fn cmp);

void qsort(void *base, size_t n, size_t size, cmp_fn cmp)
{
	void (*real)(void *, size_t, size_t, cmp_fn) =
		(void (*)(void *, size_t, size_t, cmp_fn))dlsym(RTLD_NEXT, "qsort");

	if (!base || !real) {
		fprintf(stderr, "qsort(NULL, %zu, %zu)\n", n, size);
		raise(SIGABRT);
		return;
	}
	real(base, n, size, cmp);
}
