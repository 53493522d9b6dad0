/* SPDX-License-Identifier: MIT */
/*
 * Probes on real code for the aarch64 tests (test_realcode, test_sqlite): a
 * table of probed instructions ("sites"), each with its out-of-line slot and
 * its trampoline near it, the SIGTRAP handler of the trap path and the
 * trampolines' consumer, both counting hits per site. Not the library's core:
 * the arch layer driven the way the core will drive it.
 */
#ifndef TESTS_AARCH64_SITES_H
#define TESTS_AARCH64_SITES_H

#include <stddef.h>
#include <stdint.h>

#include "arch/aarch64/insn.h"

/* One probed instruction; sites[] is sorted by address once sites_ready() ran. */
struct site {
	uint64_t addr;
	struct arch_insn ai;
	uint8_t *slot, *tramp;
	unsigned long hits_brk, hits_jump;
};

extern struct site sites[];
extern size_t nsites, nrefused, nexclusive;

/*
 * Probe every instruction of [code, code + len) (step 4), or only its first
 * (entry_only): analyse it (refused ones and those inside exclusive sequences
 * are counted and left alone), build its slot and trampoline, make its page
 * writable. name is what a hang is reported as. Returns 0 or -1 (with why on
 * stdout).
 */
int sites_add(uint8_t *code, size_t len, int entry_only);

/* Sort the table, own SIGTRAP and SIGSEGV. test: the suite/case a hang names. */
void sites_ready(const char *test);

enum sites_word { SITES_ORIG, SITES_BRK, SITES_JUMP };

/* Write every site's word: the original, brk, or b to its trampoline. */
void sites_patch(enum sites_word how);

typedef int (*sites_fn)(uint8_t *code, size_t size, const char *name, void *arg);

/*
 * fn(code, size, name, arg) for each defined function of the symbol table
 * sh_type (SHT_SYMTAB, SHT_DYNSYM) of the ELF file path loaded at bias (code:
 * the run-time address); stops at fn's first non-zero value. Returns 0, that
 * value, or -1.
 */
int sites_each_symbol(const char *path, uint64_t bias, unsigned sh_type, sites_fn fn, void *arg);

/* The same over the .dynsym of the shared object holding the address inside. */
int sites_each_function(const void *inside, sites_fn fn, void *arg);

/* Signal context too: the site at pc, or NULL. */
struct site *site_at(uint64_t pc);

#endif
