/* SPDX-License-Identifier: MIT */
/*
 * $ustack: the user stack as a fetch-arg. Compiled once (the unwinder set up,
 * whether the probe sits on a function's entry); at a hit the stack is
 * unwound once per record into the caller's buffer, in the first pass that
 * measures the record (hot path: built without SIMD and libc builtins, see
 * the Makefile's HOT_SRCS), and copied into it in the second.
 */
#include <errno.h>

#include "stack/stack.h"
#include "sym/sym.h"
#include "trace/fetch/fetch.h"
#include "util/log.h"

/* Is file offset file_off of path a function's first instruction? */
static bool at_function_entry(const char *path, uint64_t file_off)
{
	struct sym_file *f = sym_file_open(path);
	struct sym_func fn;
	uint64_t vaddr;
	bool entry;

	if (!f)
		return false;
	entry = !sym_off_to_vaddr(f, file_off, &vaddr) && !sym_func_at(f, vaddr, &fn) &&
		fn.vaddr == vaddr;
	sym_file_close(f);
	return entry;
}

int fetch_ustack_compile(const struct trace_spec *spec, const struct trace_arg *ta,
			 const char *path, uint64_t file_off, struct fetch_arg *a)
{
	int ret = stack_setup();

	if (ret)
		return log_error(ret, "fetch-arg '%s' ($ustack): %s", ta->name, uprobe_last_error());
	a->kind = FK_USTACK;
	a->base_reg = FETCH_IMM;
	a->count = (uint16_t)(ta->fetch.imm && ta->fetch.imm <= TRACE_MAX_USTACK ? ta->fetch.imm
										 : TRACE_MAX_USTACK);
	/* At a return the registers are the caller's, after the call: no entry there. */
	a->imm = spec->kind != TRACE_RETPROBE && at_function_entry(path, file_off);
	return 0;
}

void fetch_ustack_release(void)
{
	stack_release();
}

uint32_t fetch_ustack_len(const struct fetch_arg *a, const struct uprobe_regs *regs,
			  struct fetch_ustack *us)
{
	unsigned int n;

	if (!us->n)
		us->n = stack_unwind(regs, a->imm, us->frames, a->count);
	n = us->n < a->count ? us->n : a->count;
	return n * 8;
}
