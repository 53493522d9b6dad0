/* SPDX-License-Identifier: MIT */
/* bench_map's handlers (bench_map_handlers.c, no SIMD) and the maps they update. */
#ifndef BENCH_MAP_HANDLERS_H
#define BENCH_MAP_HANDLERS_H

#include "trace/map/map.h"
#include "uprobes.h"

struct bench_maps {
	struct map_region *region;
	int count, keyed, hist; /* @ = count(), @[arg0 & 1023] = count(), @ = hist(arg0) */
};

void bench_map_count(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
void bench_map_keyed(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);
void bench_map_hist(struct uprobe *probe, struct uprobe_regs *regs, void *ctx);

#endif
