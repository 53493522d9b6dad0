/* SPDX-License-Identifier: MIT */
/*
 * Objects of one size, many at once, for the records of an attach: a probe
 * (struct uprobe and its per-thread hit lines) and its record. 10,000 probes
 * were ~7,000 fresh pages from malloc, each its own page fault when first
 * written, and a page fault costs 20-60 us on the VMs this runs on
 * (docs/benchmarks.md, 2026-12-06 attach2): ~0.3 s of a 10,000-probe attach.
 * A pool takes its memory in runs that grow from 16 KiB to 4 MiB, each made
 * present with one madvise(MADV_POPULATE_WRITE) (the 4 MiB ones as
 * transparent huge pages where the system allows them), so that the faults
 * are a few dozen, not thousands.
 *
 * Objects are 64-byte aligned (a hit's cache line) and zeroed; a freed one
 * goes on the pool's free list and is handed out again (zeroed then); the
 * runs are never given back. Thread-safe (one mutex for every pool, held
 * across fork() as malloc's are, so that a child finds the pools whole and
 * unlocked); not for signal context.
 * Under AddressSanitizer every object is an aligned_alloc() of its own, so
 * that a use after free is still caught.
 */
#ifndef UPROBES_UTIL_POOL_H
#define UPROBES_UTIL_POOL_H

#include <stddef.h>

struct pool {
	size_t size;	  /* of an object: a multiple of 64 */
	void *free;	  /* freed objects, each linked through its first word */
	char *next, *end; /* the current run's part not yet handed out */
	size_t run;	  /* bytes of the next run */
};

/* A pool of objects of sz bytes (rounded up to 64), as a static initializer. */
#define POOL_INIT(sz) { .size = ((sz) + 63) & ~(size_t)63 }

/* A zeroed object, 64-byte aligned, or NULL (errno ENOMEM). */
void *pool_alloc(struct pool *p);
/* Give obj (of p, or NULL) back. */
void pool_free(struct pool *p, void *obj);

/*
 * An array of len zeroed bytes for one batch (10,000 statuses, names, specs:
 * megabytes), made present at once like a run when it is 64 KiB or more
 * (smaller ones are calloc'd), or NULL (errno ENOMEM). Give it back with
 * pool_bulk_free() and the same len.
 */
void *pool_bulk_alloc(size_t len);
void pool_bulk_free(void *mem, size_t len);

#endif
