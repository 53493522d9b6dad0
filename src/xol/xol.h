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
 * size bytes (rounded up to whole slots) lying entirely in [lo, hi], close to
 * near. Returns the address, or 0 (no memory can be mapped in that window).
 */
uint64_t xol_alloc(size_t size, uint64_t lo, uint64_t hi, uint64_t near);

/* Give back memory that was never published (no thread can be in it). */
void xol_free(uint64_t addr, size_t size);

/* Fill memory from xol_alloc (through ubp_text_write), int3-padded to whole slots. */
int xol_write(uint64_t addr, const uint8_t *code, size_t len);

size_t xol_slots_in_use(void);

#endif
