/* SPDX-License-Identifier: MIT */
/* Helpers the benchmark programs share (bench_util.c). */
#ifndef BENCH_UTIL_H
#define BENCH_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* CLOCK_MONOTONIC in ns. */
uint64_t now_ns(void);
void sleep_ms(unsigned int ms);
/* qsort comparator of doubles, ascending. */
int cmp_double(const void *a, const void *b);
/* Lowest, median and highest of v[0..n), n >= 1 (v is left as it is). */
void spread(const double *v, int n, double *lo, double *med, double *hi);
/* Keep this process on the CPU it runs on: that CPU, or -1. */
int pin_to_current_cpu(void);

/* File offset of symbol name in path (.symtab, through its PT_LOAD): 0, or -1 and why. */
int elf_sym_offset(const char *path, const char *name, uint64_t *off, char *why, size_t whylen);
/* File offset of a mapped code address, from /proc/self/maps: 0 or -1. */
int maps_offset(const void *addr, uint64_t *off);

/* bpftrace: its path on PATH ("" when missing), paths it takes unquoted, and output. */
void find_bpftrace(char *out, size_t len);
bool plain_path(const char *p);
/* Read fd until EOF or the deadline (now_ns), keeping the last len - 1 bytes. */
void read_tail(int fd, char *buf, size_t len, uint64_t deadline);
/* The last non-empty line of s, for error messages. */
const char *last_line(char *s);
/* In a forked child: exec bin -p pid -e prog with stdout and stderr on out, unpinned. */
void bpftrace_child(const char *bin, int out, const char *pid, const char *prog);

#endif
