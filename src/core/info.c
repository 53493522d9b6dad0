/* SPDX-License-Identifier: MIT */
/* Per-probe information, dry-run analysis and process-wide counters. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "core/core.h"
#include "core/resolve.h"
#include "ubp/ubp.h"
#include "util/log.h"
#include "xol/xol.h"

const char *uprobe_mode_name(enum uprobe_mode mode)
{
	switch (mode) {
	case UPROBE_MODE_EMULATE: return "emulate";
	case UPROBE_MODE_XOL: return "xol";
	case UPROBE_MODE_SINGLESTEP: return "singlestep";
	case UPROBE_MODE_OPTIMIZED: return "optimized";
	default: return "none";
	}
}

static void info_fill_insn(struct uprobe_info *info, const struct arch_insn *ai)
{
	memcpy(info->insn, ai->bytes, ai->len);
	info->insn_len = ai->len;
	arch_insn_format(ai->bytes, ai->len, ai->addr, info->insn_text, sizeof(info->insn_text));
}

static int info_check(struct uprobe_info *info)
{
	if (!info || info->sz < sizeof(*info))
		return log_report(log_error(EINVAL, "info is NULL or info->sz is too small"));
	memset((char *)info + sizeof(info->sz), 0, sizeof(*info) - sizeof(info->sz));
	return 0;
}

int uprobe_get_info(const struct uprobe *p, struct uprobe_info *info)
{
	const struct probe_rec *rec;
	int err = info_check(info);

	if (err)
		return err;
	if (!p)
		return log_report(log_error(EINVAL, "NULL probe"));
	rec = p->rec;
	info->addr = rec->addr;
	info->file_offset = p->file_offset;
	snprintf(info->path, sizeof(info->path), "%s", p->path);
	snprintf(info->symbol, sizeof(info->symbol), "%s", p->symbol);
	info->symbol_offset = p->symbol_offset;
	info->mode = rec->mode;
	snprintf(info->reason, sizeof(info->reason), "%s", rec->reason);
	snprintf(info->opt_reason, sizeof(info->opt_reason), "%s", rec->opt_reason);
	info->window_len = rec->mode == UPROBE_MODE_OPTIMIZED ? rec->win.len : 0;
	info_fill_insn(info, &rec->insn);
	/* Before the counts are read: snprintf may be a probed function too. */
	if (p->ret_handler) {
		info->ret_path = p->ret_site.path;
		info->ret_site_ok = p->ret_site.ok;
		info->ret_sites = p->ret_site.sites;
		snprintf(info->ret_reason, sizeof(info->ret_reason), "%s", p->ret_site.why);
	}
	info->attached = p->attached;
	info->hits = probe_hits(p, false);
	info->has_ret_handler = p->ret_handler != NULL;
	info->ret_hits = probe_hits(p, true);
	info->ret_unwound = __atomic_load_n(&p->ret_unwound, __ATOMIC_RELAXED);
	info->ret_missed = __atomic_load_n(&p->ret_missed, __ATOMIC_RELAXED);
	info->skipped = __atomic_load_n(&p->skipped, __ATOMIC_RELAXED);
	info->singlestep_fallbacks = __atomic_load_n(&p->singlesteps, __ATOMIC_RELAXED);
	return 0;
}

int uprobe_get_stats(struct uprobe_stats *s)
{
	struct hit_sums sums;

	if (!s || s->sz < offsetof(struct uprobe_stats, ret_site_probes))
		return log_report(log_error(EINVAL, "stats is NULL or stats->sz is too small"));
	s->stale_traps = __atomic_load_n(&core_stats.stale_traps, __ATOMIC_RELAXED);
	s->foreign_traps = ubp_foreign_traps();
	s->singlestep_fallbacks = __atomic_load_n(&core_stats.singlesteps, __ATOMIC_RELAXED);
	s->threads_moved = __atomic_load_n(&core_stats.threads_moved, __ATOMIC_RELAXED);
	pthread_mutex_lock(&registry_lock);
	registry_sum_hits(&sums);
	s->hits = sums.hits;
	s->skipped = sums.skipped;
	s->ret_hits = sums.ret_hits;
	s->ret_unwound = sums.ret_unwound;
	s->ret_missed = sums.ret_missed;
	s->ret_orphaned = __atomic_load_n(&core_stats.ret_orphaned, __ATOMIC_RELAXED);
	s->probes_attached = core_stats.probes_attached;
	if (s->sz >= sizeof(*s)) { /* callers built before the return sites: no such fields */
		s->ret_site_probes = core_stats.ret_site_probes;
		s->ret_hijack_fallbacks = core_stats.ret_hijack_fallbacks;
	}
	s->xol_slots = xol_slots_in_use();
	pthread_mutex_unlock(&registry_lock);
	return 0;
}
