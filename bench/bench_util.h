/* SPDX-License-Identifier: MIT */
/*
 * Small helpers the benchmark programs share (bench_util.c): clocks, where a
 * function is in its file, reading a child's output. The harness proper
 * (rounds, medians, tables, the summary line) is harness.h.
 */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);
void sleep_ms(unsigned int ms);
/* What calls first .. first + n - 1 of f(i, b) = i + b add up to, modulo 2^64. */
uint64_t sum_of_calls(uint64_t first, uint64_t n, uint64_t b);

/* File offset of symbol name in path (.symtab, through its PT_LOAD): 0, or -1 and why. */
int elf_sym_offset(const char *path, const char *name, uint64_t *off, char *why, size_t whylen);
/* File offset of a mapped code address, from /proc/self/maps: 0 or -1. */
int maps_offset(const void *addr, uint64_t *off);
/*
 * This executable's realpath (exe, PATH_MAX) and the file offset of sym,
 * whose address here is addr: printed, and cross-checked against
 * /proc/self/maps. 0, or -1 with why (exe is "" when even the path failed).
 */
int exe_sym_offset(const char *sym, const void *addr, char *exe, uint64_t *off, char *why,
		   size_t whylen);

/* Read fd until EOF or the deadline (now_ns), keeping the last len - 1 bytes. */
void read_tail(int fd, char *buf, size_t len, uint64_t deadline);
/* The last non-empty line of s, for error messages. */
const char *last_line(char *s);

#endif
