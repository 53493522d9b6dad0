/* SPDX-License-Identifier: MIT */
/* Fault-safe reads: the contract is arch-neutral (arch/safe_read.h). */
#ifndef UPROBES_ARCH_X86_64_SAFE_READ_H
#define UPROBES_ARCH_X86_64_SAFE_READ_H

#include "arch/safe_read.h"

#endif
