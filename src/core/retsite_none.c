// SPDX-License-Identifier: MIT
/*
 * Return sites where they are not built: core/retsite.c, retpatch.c and
 * retpatch_hot.c patch x86-64 exits (their analysis, exit trampolines and
 * the return address at rsp); elsewhere (aarch64) every return probe takes
 * the hijack path (core/retprobe.c: x30 swapped at the entry for the return
 * trampoline). This file is their interface (core/retsite.h, core/retpatch.h)
 * for such a build, which compiles it instead of them (the Makefile leaves it
 * out of the x86-64 build): the analysis says "not on this architecture", the
 * site path is never chosen, the rest does nothing.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/retpatch.h"
#include "core/retsite.h"
#include "util/log.h"

#define A64_NO_SITES "return sites: not on this architecture (aarch64: the return is followed " \
		     "through x30, the hijack path)"

pthread_key_t retpatch_key;

static char forced_why[160]; /* retpatch_force_site_only */

void retpatch_force_site_only(const char *why)
{
	snprintf(forced_why, sizeof(forced_why), "%s", why && *why ? why : "site-only");
}

/* site-strict and site-only refuse every return probe here: there are no sites. */
enum retpatch_mode retpatch_mode(void)
{
	const char *v = getenv("UPROBE_RET_PATH");

	if (forced_why[0] || (v && !strcmp(v, "site-only")))
		return RETPATCH_ONLY;
	return v && !strcmp(v, "site-strict") ? RETPATCH_STRICT : RETPATCH_HIJACK;
}

int retsite_check(const struct probe_target *t, struct arch_retsites *rs)
{
	(void)t;
	memset(rs, 0, offsetof(struct arch_retsites, exit));
	snprintf(rs->why, sizeof(rs->why), "%s", A64_NO_SITES);
	return -ENOTSUP;
}

void retsite_summary(const struct arch_retsites *rs, char *buf, size_t len)
{
	(void)rs;
	snprintf(buf, len, "%s", A64_NO_SITES);
}

void retsite_decide(const struct probe_target *t, const char *entry_why,
		    struct retsite_verdict *v)
{
	(void)t;
	(void)entry_why;
	memset(v, 0, sizeof(*v));
	v->path = UPROBE_RET_HIJACK;
	snprintf(v->why, sizeof(v->why), "%s", A64_NO_SITES);
}

bool retsite_noreturn_name(const char *name)
{
	(void)name;
	return false;
}

int retpatch_prepare(struct uprobe *p, const struct probe_target *t)
{
	struct retsite_verdict *v = &p->ret_site;

	retsite_decide(t, NULL, v);
	switch (retpatch_mode()) {
	case RETPATCH_STRICT:
		return log_error(ENOTSUP, "its exits cannot be patched "
				 "(UPROBE_RET_PATH=site-strict): %s", A64_NO_SITES);
	case RETPATCH_ONLY:
		return log_error(ENOTSUP, "its exits cannot be patched (%s): %s",
				 forced_why[0] ? forced_why : "UPROBE_RET_PATH=site-only",
				 A64_NO_SITES);
	default:
		return 0;
	}
}

void retpatch_arm(struct uprobe **probes, size_t n)
{
	(void)probes, (void)n;
}

void retpatch_release(struct uprobe **probes, size_t n)
{
	(void)probes, (void)n;
}

void retpatch_count(const struct uprobe *p, int delta)
{
	(void)p, (void)delta;
}

uint64_t *retpatch_push(struct probe_rec *rec, struct uprobe *c, uint64_t sp, int id)
{
	(void)rec, (void)c, (void)sp, (void)id;
	return NULL;
}

int retpatch_exit(void *exit, struct uprobe_regs *regs)
{
	(void)exit, (void)regs;
	return 0;
}

void retpatch_resync(uint64_t sp)
{
	(void)sp;
}

void retpatch_exit_thread(void)
{
}

void retpatch_drop_newer(uint64_t slot, int id)
{
	(void)slot, (void)id;
}

void retpatch_drop_orphans(void)
{
}

void retpatch_thread_end(void *stack)
{
	(void)stack;
}

/* As core/retsite.c has it. */
const char *uprobe_ret_path_name(enum uprobe_ret_path path)
{
	switch (path) {
	case UPROBE_RET_HIJACK: return "hijack";
	case UPROBE_RET_SITE: return "site";
	default: return "none";
	}
}
