/* SPDX-License-Identifier: MIT */
#ifndef USDT_TARGET_H
#define USDT_TARGET_H

/* usdt_sem.c: fires utest:guarded (args i, -1000*i-1) if enabled; returns whether it was. */
int sem_round(int i);
unsigned short sem_value(void);

#endif
