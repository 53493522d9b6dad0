/* SPDX-License-Identifier: MIT */
/*
 * Private to stack/ (and read by trace/fetch to tell the tracer the
 * mappings): the executable mappings of this process, each with the CFI
 * table of its file. A set is immutable once published;
 * stack_modules_refresh() publishes a new one and frees the old one once no
 * hit can be reading it: a hit reads the set in force only inside an srcu
 * read section (core/srcu.h; a probe's handler is in one), and a set
 * replaced waits for the read sections in progress then to end (a polled
 * grace period: the refresh runs in the loader's r_brk handler, in a read
 * section itself, so it cannot wait). The sets in waiting are freed by the
 * next refresh or release that finds them done.
 */
#ifndef UPROBES_STACK_MODULES_H
#define UPROBES_STACK_MODULES_H

#include <stdint.h>
#include <sys/types.h>

struct cfi_table;
struct srcu_poll;
struct walk_cache;

struct stack_module {
	uint64_t start, end; /* [start, end): the executable mapping */
	uint64_t bias;	     /* address - bias = the file's virtual address */
	uint64_t offset;     /* file offset of start */
	const struct cfi_table *cfi; /* NULL: no CFI (frame pointers) */
	dev_t dev;
	ino_t ino;
	const char *path; /* as in /proc/self/maps: "/usr/lib/...", "[vdso]", "" */
};

struct stack_modset {
	unsigned int n;
	uint64_t gen; /* bumped at every change */
	/* The mappings as the tracer reads them (uprobes_stack.h, UPROBE_STACK_MAPS_EVENT). */
	const uint64_t *maps_rec;
	uint32_t maps_len; /* bytes, a multiple of 8; 0 when it could not be made */
	struct walk_cache *walk; /* what walks found at addresses of this set (walk.h) */
	/* Once replaced (modules_lock): the next set in waiting, its grace period. */
	struct stack_modset *retired_next;
	struct srcu_poll *gp;
	struct stack_module m[]; /* sorted by start, disjoint */
};

/* table.c: the tables that follow the mappings get the new set. Not signal context. */
void stack_tables_maps_changed(void);

/*
 * The set in force, or NULL before stack_setup(). Signal-safe (an acquire
 * load). Only inside an srcu read section (srcu_read_lock(), core/srcu.h),
 * and used only until its end: a set replaced is freed after it.
 */
extern const struct stack_modset *stack_modules_now __attribute__((visibility("hidden")));

static inline const struct stack_modset *stack_modules_current(void)
{
	return __atomic_load_n(&stack_modules_now, __ATOMIC_ACQUIRE);
}

/* Sets replaced and not freed yet (their readers may still run): for tests. */
unsigned int stack_modules_waiting(void);

/* The module holding addr, or NULL. Signal-safe. */
static inline const struct stack_module *stack_module_at(const struct stack_modset *s,
							 uint64_t addr)
{
	unsigned int lo = 0, hi = s ? s->n : 0;

	while (lo < hi) {
		unsigned int mid = (lo + hi) / 2;

		if (addr < s->m[mid].start)
			hi = mid;
		else if (addr >= s->m[mid].end)
			lo = mid + 1;
		else
			return &s->m[mid];
	}
	return NULL;
}

#endif
