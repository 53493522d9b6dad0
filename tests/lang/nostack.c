// SPDX-License-Identifier: MIT
/*
 * src/lang/ without src/stack/: bench_lang and fuzz_lang link their own copy
 * of the language (the library hides it) but not the stack layer, which would
 * bring the unwinder, the CFI tables and the symbol layer with it. Their
 * programs have no ustack key, so the stack table src/lang/ustack.c would make
 * is refused here. fuzz_lang links no libuprobes either: with
 * LANG_NOSTACK_PUBLIC the public reader and symbolizer are refused too, and
 * the count stub's per-thread base (src/trace/map/map_update.c sets it when a
 * thread claims a shard of the count region) goes nowhere: no probe counts.
 */
#include <errno.h>
#include <stddef.h>

#include "stack/stack.h"
#include "uprobes_stack.h"

struct stack_table *stack_table_new(const struct stack_table_opts *opts)
{
	(void)opts;
	errno = ENOTSUP;
	return NULL;
}

void stack_table_free(struct stack_table *t)
{
	(void)t;
}

int stack_table_fd(const struct stack_table *t)
{
	(void)t;
	return -ENOTSUP;
}

/* No table, so no mappings records to give. */
int stack_reader_maps_since(struct uprobe_stack_reader *r, struct uprobe_symbolizer *s,
			    uint64_t *since)
{
	(void)r, (void)s, (void)since;
	return -ENOTSUP;
}

#ifdef LANG_NOSTACK_PUBLIC
#include "uprobes.h"

void uprobe_count_thread(void *base)
{
	(void)base;
}

struct uprobe_symbolizer *uprobe_symbolizer_new(const struct uprobe_symbolizer_opts *o)
{
	(void)o;
	errno = ENOTSUP;
	return NULL;
}

void uprobe_symbolizer_free(struct uprobe_symbolizer *s)
{
	(void)s;
}

int uprobe_symbolize(struct uprobe_symbolizer *s, pid_t pid, uint64_t addr, int ret_addr,
		     struct uprobe_frame *out, unsigned int max)
{
	(void)s, (void)pid, (void)addr, (void)ret_addr, (void)out, (void)max;
	return -ENOTSUP;
}

int uprobe_stack_print(struct uprobe_symbolizer *s, pid_t pid, const uint64_t *frames,
		       unsigned int n, enum uprobe_stack_style style, FILE *out)
{
	(void)s, (void)pid, (void)frames, (void)n, (void)style, (void)out;
	return -ENOTSUP;
}

struct uprobe_stack_reader *uprobe_stack_reader_new(int memfd)
{
	(void)memfd;
	errno = ENOTSUP;
	return NULL;
}

void uprobe_stack_reader_free(struct uprobe_stack_reader *r)
{
	(void)r;
}

int uprobe_stack_reader_get(struct uprobe_stack_reader *r, uint64_t id, uint64_t *frames,
			    unsigned int max)
{
	(void)r, (void)id, (void)frames, (void)max;
	return -ENOTSUP;
}

int uprobe_stack_reader_maps(struct uprobe_stack_reader *r, struct uprobe_symbolizer *s)
{
	(void)r, (void)s;
	return -ENOTSUP;
}

int uprobe_stack_reader_stats(struct uprobe_stack_reader *r, struct uprobe_stack_table_stats *st)
{
	(void)r, (void)st;
	return -ENOTSUP;
}
#endif
