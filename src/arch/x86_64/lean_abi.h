/* SPDX-License-Identifier: MIT */
/*
 * What the trampolines' fast paths (tramp_templates.S: the lean entry's, the
 * inline exit's) read of the core's structures, by offset: plain numbers,
 * for the assembler. core/dispatch.c and core/retpatch_exit.c check each
 * against the C layout (_Static_assert), so a moved field stops the build
 * instead of the probed program.
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
#define LEAN_C_FLAGS 48		/* ... flags (UPROBE_F_HANDLER_NO_SIMD: bit 4) */
#define LEAN_C_ID 56		/* ... id */
#define LEAN_C_HITS 72		/* ... hits */
#define LEAN_C_RET_HITS 96	/* ... ret_hits */
#define LEAN_C_RET_PATH 536	/* ... ret_site.path */
#define LEAN_RET_SITE 2		/* UPROBE_RET_SITE */
#define LEAN_SLOT_ID 12		/* struct srcu_slot: id (seq at 0) */
#define LEAN_FAST_IDS 16	/* CORE_FAST_IDS */
#define LEAN_HIT_LINE_SHIFT 6	/* sizeof(struct hit_line) == 1 << 6 */
#define LEAN_HIT_RET 8		/* struct hit_line: ret (n at 0) */

#define EXIT_TLS_RP 16		/* struct srcu_tls: rp (self at 0) */
#define EXIT_X_FN 968		/* struct retpatch_exit: fn */
#define EXIT_RP_E 64		/* struct rp_stack: e (nb at 0) */
#define EXIT_E_SHIFT 6		/* sizeof(struct rp_entry) == 1 << 6 */
#define EXIT_E_SP 0		/* struct rp_entry: sp */
#define EXIT_E_RA 8		/* ... ra */
#define EXIT_E_REC 16		/* ... rec */
#define EXIT_E_C 24		/* ... c */
#define EXIT_E_C_ID 32		/* ... c_id */
#define EXIT_E_COOKIE 40	/* ... cookie */
#define EXIT_E_FN 48		/* ... fn */
#define EXIT_DEPTH 1024		/* UPROBE_RET_DEPTH */
#define EXIT_R_FUNC 0		/* struct uprobe_ret: func */
#define EXIT_R_RET_ADDR 8	/* ... ret_addr */
#define EXIT_R_COOKIE 16	/* ... cookie */
#define EXIT_R_ENTRY_SP 24	/* ... entry_sp */
#define EXIT_R_FLAGS 32		/* ... flags */
#define EXIT_R_XMM0 40		/* ... xmm0 */
#define EXIT_R_XMM1 56		/* ... xmm1 */
#define EXIT_R_SIZE 80		/* sizeof(struct uprobe_ret), 16-aligned */

#endif
