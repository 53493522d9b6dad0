/* SPDX-License-Identifier: MIT */
/*
 * Where a return probe cannot work. It swaps the return address on top of
 * the stack at a function's entry for the return trampoline, and finds it
 * again in the thread's shadow stack when the function returns. Two kinds of
 * function break that, whatever the probe does:
 *
 *   no call enters it   *rsp is no return address, and swapping it corrupts
 *                       the program: the ELF entry point (argc), a signal
 *                       return trampoline (the signal frame), code entered
 *                       by a jump with words pushed (ld.so's lazy-binding
 *                       resolver, PLT0) or from inside another function (a
 *                       .cold part). The CFI of the entry tells: a signal
 *                       frame, a return address undefined, or a CFA other
 *                       than rsp + 8.
 *   it returns twice    setjmp and the like save the return address (the
 *                       trampoline's, once probed) and return there again,
 *                       by longjmp, after the shadow entry was used: nothing
 *                       tells where that return should go. The names are
 *                       GCC's (special_function_p): setjmp, sigsetjmp,
 *                       savectx, vfork, getcontext, also after "_" or "__",
 *                       and their PLT stubs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "sym/sym_priv.h"

static const char *const twice_names[] = { "setjmp", "sigsetjmp", "savectx", "vfork",
					   "getcontext" };

static bool returns_twice(const char *name)
{
	size_t n;

	if (name[0] == '_')
		name += 1 + (name[1] == '_');
	n = strcspn(name, "@"); /* NAME@plt */
	for (size_t i = 0; i < sizeof(twice_names) / sizeof(twice_names[0]); i++)
		if (strlen(twice_names[i]) == n && !strncmp(name, twice_names[i], n))
			return true;
	return false;
}

/* Does the function at vaddr (by any of its names) return twice? */
static bool twice_at(const struct sym_file *f, uint64_t vaddr)
{
	for (size_t i = sym_index_after(f, vaddr); i-- > 0 && sym_vaddr_at(f, i) == vaddr;)
		if (returns_twice(sym_name_at(f, i)))
			return true;
	return false;
}

/* What the CFI says of the stack at vaddr: SYM_RET_OK when nothing is known against a call. */
static int cfi_check(struct sym_file *f, uint64_t vaddr, char *why, size_t len)
{
	struct sym_cfi_row row;

	if (sym_cfi_at(f, vaddr, &row))
		return SYM_RET_OK;
	if (row.signal)
		snprintf(why, len, "a signal frame: a handler's return enters it, not a call");
	else if (row.ra_undefined)
		snprintf(why, len, "its CFI has no return address: a program's or thread's "
			 "first function");
	else if (row.cfa_rsp && row.cfa_off != 8)
		snprintf(why, len, "a jump enters it, not a call: its CFI has the return address "
			 "at rsp+%" PRId64, row.cfa_off - 8);
	else
		return SYM_RET_OK;
	return SYM_RET_NOT_CALLED;
}

int sym_ret_check(struct sym_file *f, uint64_t vaddr, char *why, size_t len)
{
	if (twice_at(f, vaddr)) {
		snprintf(why, len, "it returns twice, like setjmp: its second return would find no "
			 "return address");
		return SYM_RET_TWICE;
	}
	if (f->hdrs.eh.e_entry && f->hdrs.eh.e_entry == vaddr) {
		snprintf(why, len, "the ELF entry point: argc, not a return address, is on top "
			 "of the stack");
		return SYM_RET_NOT_CALLED;
	}
	return cfi_check(f, vaddr, why, len);
}
