/* SPDX-License-Identifier: MIT */
/*
 * Sleepable read-copy-update for handlers, usable from signal context.
 *
 * Readers (the trap path) bump a per-thread sequence number to odd on entry
 * and to even on exit: no atomic read-modify-write, no fence. The writer
 * (detach) unlinks, then issues membarrier(PRIVATE_EXPEDITED), which acts as a
 * full barrier on every running thread, and waits for each thread that was
 * inside (odd) to move on. Afterwards no reader can still see what was
 * unlinked. Without membarrier, readers fall back to a full fence.
 */
#ifndef UPROBES_CORE_SRCU_H
#define UPROBES_CORE_SRCU_H

void srcu_read_lock(void);
void srcu_read_unlock(void);

/* Is the calling thread inside a read section (a handler)? */
int srcu_in_reader(void);

/* Wait for every read section that began before the call. Not in signal context. */
void srcu_synchronize(void);

/* Process setup (once) and child-after-fork reset. */
void srcu_init(void);

#endif
