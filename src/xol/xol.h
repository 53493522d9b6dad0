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

/*
 * Deferred writes, for a batch of trampolines: between xol_defer_begin() and
 * xol_defer_end(), xol_write_deferred() only copies the code, int3-padded to
 * the size given to xol_alloc() (so that neighbours join), into a buffer,
 * and xol_defer_end() writes each run of adjacent ones with one
 * ubp_text_write() (10,000 trampolines: ~40 writes instead of 10,000, each a
 * getpid, an fstat and a pwrite). xol_write_deferred() returns 1 (held), or
 * xol_write()'s 0 or -errno outside that window (written at once). Until then the memory holds nothing: no
 * thread may be sent there, and it may not be freed. xol_defer_end() returns
 * 0, or the -errno of the first run that could not be written (its message
 * in ubp_text_error()); the caller fails what was written there.
 */
void xol_defer_begin(void);
int xol_write_deferred(uint64_t addr, const uint8_t *code, size_t len, size_t size);
int xol_defer_end(void);

/*
 * xol_free() of memory whose bytes xol_write_deferred() holds (a trampoline
 * built in this batch and dropped before it ran): given back by
 * xol_defer_end(), after its write, so that nothing allocated meanwhile is
 * written over. Outside the window, xol_free().
 */
void xol_free_deferred(uint64_t addr, size_t size);

size_t xol_slots_in_use(void);

#endif
