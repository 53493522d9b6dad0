// SPDX-License-Identifier: MIT
/*
 * For tests that link the core of the aarch64 build without return probes
 * (core/retprobe.c and core/retsite.c do not compile for aarch64 yet,
 * tests/aarch64/generic_todo.txt): what core/dispatch.c and core/probe.c take
 * from them, and from core/retpatch.c (x86's return sites). A return
 * handler is refused (ret_setup), so ret_push and retpatch_push are never
 * reached.
 */
#include <errno.h>
#include <stdio.h>

#include "core/retpatch.h"
#include "core/retprobe.h"
#include "core/retsite.h"

__thread uint64_t *ret_cur_cookie __attribute__((tls_model("initial-exec")));

uint64_t *ret_push(struct probe_rec *rec, struct uprobe *c, uint64_t slot, int srcu_id)
{
	(void)rec, (void)c, (void)slot, (void)srcu_id;
	return NULL;
}

uint64_t *retpatch_push(struct probe_rec *rec, struct uprobe *c, uint64_t sp, int id)
{
	(void)rec, (void)c, (void)sp, (void)id;
	return NULL;
}

int retpatch_prepare(struct uprobe *p, const struct probe_target *t)
{
	(void)p, (void)t;
	return 0;
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

int ret_setup(void)
{
	return -ENOTSUP;
}

void retsite_decide(const struct probe_target *t, struct retsite_verdict *v)
{
	(void)t;
	v->path = UPROBE_RET_NONE;
	v->ok = 0;
	v->sites = 0;
	snprintf(v->why, sizeof(v->why), "return probes are not built for aarch64 yet");
}
