/* SPDX-License-Identifier: MIT */
/* The library's own signal return trampoline (sigreturn.S): rt_sigreturn, nothing else. */
#ifndef UPROBES_ARCH_X86_64_SIGRETURN_H
#define UPROBES_ARCH_X86_64_SIGRETURN_H

void uprobes_sigreturn(void);

#endif
