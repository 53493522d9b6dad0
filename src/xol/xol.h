/* SPDX-License-Identifier: MIT */
/*
 * Execution-out-of-line memory: r-x areas mapped near the probed code (so a
 * rel32 reaches back), cut into ARCH_XOL_SLOT_SIZE-byte slots. Slots are never
 * unmapped: a thread may be executing one at any time. Callers serialise.
 */
#ifndef UPROBES_XOL_H
#define UPROBES_XOL_H

#include <stddef.h>
#include <stdint.h>

/*
 * A slot whose whole extent lies in [lo, hi], preferring one close to near.
 * Returns its address, or 0 (no memory can be mapped in that window).
 */
uint64_t xol_slot_alloc(uint64_t lo, uint64_t hi, uint64_t near);

/* Give back a slot that was never published (no thread can be in it). */
void xol_slot_free(uint64_t slot);

/* Fill a slot (through ubp_text_write). Returns 0 or -errno. */
int xol_slot_write(uint64_t slot, const uint8_t *code, size_t len);

size_t xol_slots_in_use(void);

#endif
