/* SPDX-License-Identifier: MIT */
/*
 * raw_syscall6() of this target (arch/<arch>/raw_syscall.h): a system call without
 * libc, for code that must not call into it. For headers outside the arch layer
 * that need only this (util/thread_token.h); the rest include arch/arch.h.
 */
#ifndef UPROBES_ARCH_RAW_SYSCALL_H
#define UPROBES_ARCH_RAW_SYSCALL_H

#if defined(__aarch64__)
#include "arch/aarch64/raw_syscall.h"
#else
#include "arch/x86_64/raw_syscall.h"
#endif

#endif
