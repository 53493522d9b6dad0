// SPDX-License-Identifier: MIT
/*
 * A bpftrace program on the kernel backend (uprobe -e without -c/-p/--, or
 * --backend kernel): the kernel probes, its events carry what the plan of
 * each probe reads, and the tracer runs the plan per event (krun.c). Each
 * attach point's probe line gets the fetch-args of its plan, in the words
 * of our spec syntax that src/kernel translates into the kernel's:
 *
 *   arg0..arg5   a0=%di:u64 a1=%si:u64 a2=%dx:u64 a3=%cx:u64 a4=%r8:u64 a5=%r9:u64
 *   retval       rv=%ax:u64
 *   str(argN)    aN=... sN=+0(%REG):string      str(retval)  rv=%ax:u64 sr=+0(%ax):string
 *
 * (usdt: the marker's own arguments, arg1..argN, which the sdt resolver adds.)
 * pid, tid, comm, cpu and nsecs come with every event; elapsed, func and
 * probe are the tracer's. What a kernel event cannot carry is refused by
 * name: uid, gid, ustack, str() of anything but an argument or retval (the
 * kernel reads the string at the hit, the tracer cannot read it later).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lang/lang.h"
#include "lang/program.h"

static const char *const kernel_regs[7] = {"di", "si", "dx", "cx", "r8", "r9", "ax"};

/*
 * The arguments (bits 0-5) and retval (bit 6) whose strings str() reads in
 * the tree under n; *bad: a str() of anything else.
 */
static uint32_t str_args(const struct lang_node *n, const struct lang_node **bad)
{
	uint32_t bits = 0;
	if (!n)
		return 0;
	if (n->kind == N_CALL && n->id == F_STR && n->nkids > 0) {
		const struct lang_node *k = n->kids[0];
		if (k->kind == N_BUILTIN && k->id >= B_ARG0 && k->id <= B_RETVAL)
			bits |= 1u << k->id;
		else if (!*bad)
			*bad = n;
	}
	for (int i = 0; i < n->nkids; i++)
		bits |= str_args(n->kids[i], bad);
	return bits;
}

/* 0, or -ENOTSUP with *why: what attach point `at` of probe i reads that no kernel event holds. */
static int kernel_check(const struct lang_program *p, int i, const struct lang_attach *at,
			uint32_t strs, const struct lang_node *bad, char *why, size_t len)
{
	static const struct {
		enum lang_builtin b;
		const char *what;
	} none[] = {
		{B_UID, "uid: the kernel's uprobe events do not carry the user id"},
		{B_GID, "gid: the kernel's uprobe events do not carry the group id"},
		{B_USTACK, "ustack: the kernel's uprobe events cannot fetch a user stack"},
		{B_ARG6, "arg6: not fetched on the kernel backend yet"},
		{B_ARG7, "arg7: not fetched on the kernel backend yet"},
	};
	uint32_t uses = p->plan.probes[i].uses;
	for (size_t k = 0; k < sizeof(none) / sizeof(none[0]); k++) {
		if (uses & (1u << none[k].b)) {
			snprintf(why, len, "%s: %s (the agent has it: -c, -p or --)", at->text,
				 none[k].what);
			return -ENOTSUP;
		}
	}
	if (bad) {
		snprintf(why, len, "%s: str() of an expression: on the kernel backend str() reads "
			 "arg0..arg5 or retval only (the kernel reads the string at the hit)",
			 at->text);
		return -ENOTSUP;
	}
	if (at->kind == P_USDT && strs) {
		snprintf(why, len, "%s: str() in a usdt probe is not supported on the kernel "
			 "backend yet", at->text);
		return -ENOTSUP;
	}
	return 0;
}

/* line with the fetch-args of probe i appended (a new string), or NULL without memory. */
static char *with_args(const char *line, uint32_t uses, uint32_t strs, bool usdt)
{
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	if (!f)
		return NULL;
	fputs(line, f);
	for (int k = 0; k <= B_RETVAL && !usdt; k++) {
		const char *name = k == B_RETVAL ? "rv" : NULL;
		if (!(uses & (1u << k)) && !(strs & (1u << k)))
			continue;
		if (name)
			fprintf(f, " rv=%%ax:u64");
		else
			fprintf(f, " a%d=%%%s:u64", k, kernel_regs[k]);
		if (!(strs & (1u << k)))
			continue;
		if (name)
			fprintf(f, " sr=+0(%%ax):string");
		else
			fprintf(f, " s%d=+0(%%%s):string", k, kernel_regs[k]);
	}
	if (fclose(f)) {
		free(out);
		return NULL;
	}
	return out;
}

int lang_program_kernel_specs(const struct lang_program *p, const char *exe, char ***lines,
			      char *why, size_t len)
{
	const struct lang_checked *ck = &p->checked;
	*lines = NULL;
	int n = p->compiled ? lang_program_specs(p, exe, lines) : -EINVAL;
	if (n == -EINVAL)
		snprintf(why, len, "the program has errors");
	else if (n == -ENOENT)
		snprintf(why, len, "an attach point without a path needs the command (-c, --) "
			 "or -p");
	else if (n < 0)
		snprintf(why, len, "%s", strerror(-n));
	for (int k = 0; k < n; k++) {
		unsigned i, a;
		const char *ev = strstr((*lines)[k], "lang/p");
		if (!ev || sscanf(ev, "lang/p%u_a%u", &i, &a) != 2 || i >= (unsigned)ck->nprobes ||
		    a >= (unsigned)ck->probes[i].nat) {
			n = -EINVAL;
			snprintf(why, len, "probe line '%s' names no attach point", (*lines)[k]);
			break;
		}
		const struct lang_attach *at = &ck->probes[i].at[a];
		const struct lang_node *bad = NULL;
		uint32_t strs = str_args(ck->probes[i].node, &bad);
		int err = kernel_check(p, (int)i, at, strs, bad, why, len);
		char *line = err ? NULL : with_args((*lines)[k], p->plan.probes[i].uses, strs,
						   at->kind == P_USDT);
		if (err || !line) {
			n = err ? err : -ENOMEM;
			if (!err)
				snprintf(why, len, "out of memory");
			break;
		}
		free((*lines)[k]);
		(*lines)[k] = line;
	}
	if (n < 0 && *lines) {
		lang_program_specs_free(*lines);
		*lines = NULL;
	}
	return n;
}
