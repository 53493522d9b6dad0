/* SPDX-License-Identifier: MIT */
/*
 * What uprobes_lean_body's fast path (tramp_templates.S) reads of the core's
 * structures, by offset: plain numbers, for the assembler. core/dispatch.c
 * checks each against the C layout (_Static_assert), so a moved field stops
 * the build instead of the probed program.
 */
#ifndef UPROBES_ARCH_X86_64_LEAN_ABI_H
#define UPROBES_ARCH_X86_64_LEAN_ABI_H

#define LEAN_REC_ADDR 0		/* struct probe_rec: addr */
#define LEAN_REC_CONSUMERS 8	/* ... consumers */
#define LEAN_C_NEXT 0		/* struct uprobe: next */
#define LEAN_C_FAST_HITS 8	/* ... fast_hits */
#define LEAN_C_HANDLER 24	/* ... handler */
#define LEAN_C_RET_HANDLER 32	/* ... ret_handler */
#define LEAN_C_CTX 40		/* ... ctx */
#define LEAN_C_HITS 72		/* ... hits */
#define LEAN_SLOT_ID 12		/* struct srcu_slot: id (seq at 0) */
#define LEAN_FAST_IDS 16	/* CORE_FAST_IDS */
#define LEAN_HIT_LINE_SHIFT 6	/* sizeof(struct hit_line) == 1 << 6 */

#endif
