/* SPDX-License-Identifier: MIT */
/*
 * The aarch64 test sandbox: one read-write-execute mapping (offsets from its
 * base), shared by the per-class tests and the differential test.
 *
 *   SB_ENTRY  0x0000  entry stub (frame.S)
 *   SB_EXIT   0x0400  exit stub (frame.S)
 *   SB_PADS   0x1000  landing pads, SB_PAD_SIZE each: every way out of a
 *                     sequence ends in one, which records its own address
 *   SB_CODE   0x4000  the sequence under test, then a pad (fall-through)
 *   SB_LIT    0x6000  literals (random words) for literal loads
 *   SB_DATA   0x8000  memory the sequences load and store
 *   SB_STACK  0xa000  the sequences' stack (sp starts at SB_STACK_TOP)
 *   SB_IN     0xc000  registers loaded at entry (struct sb_state)
 *   SB_OUT    0xd000  registers stored at exit, pad reached
 *   SB_CTX    0xe000  the caller's registers
 *   SB_SLOTS  0x10000 out-of-line slots, trampolines
 *   SB_GUARD  0x11000 a page nobody may read (faulting literals)
 */
#ifndef TESTS_AARCH64_SANDBOX_LAYOUT_H
#define TESTS_AARCH64_SANDBOX_LAYOUT_H

#define SB_ENTRY 0x0000
#define SB_EXIT 0x0400
#define SB_PADS 0x1000
#define SB_PAD_SIZE 32
#define SB_NPADS 256
#define SB_CODE 0x4000
#define SB_LIT 0x6000
#define SB_DATA 0x8000
#define SB_STACK 0xa000
#define SB_STACK_TOP 0xb800
#define SB_IN 0xc000
#define SB_OUT 0xd000
#define SB_CTX 0xe000
#define SB_SLOTS 0x10000
#define SB_GUARD 0x11000
#define SB_SIZE 0x12000

/* struct sb_state: x0..x30, sp, nzcv, pad, v0..v31 */
#define ST_SP (31 * 8)
#define ST_NZCV (32 * 8)
#define ST_PAD (33 * 8)
#define ST_V (34 * 8)

#endif
