/* SPDX-License-Identifier: MIT */
/*
 * Minimal test helpers. Every check prints one line on failure; every test
 * case ends with exactly one "PASS: suite/case" or "FAIL: suite/case: why"
 * line, which tests/run.sh counts.
 */
#ifndef UPROBES_TESTLIB_H
#define UPROBES_TESTLIB_H

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char *tl_suite;
extern int tl_case_failed;
extern int tl_total_failed;

#define TL_DEFINE(suite_name)                 \
	const char *tl_suite = suite_name;    \
	int tl_case_failed, tl_total_failed

#define TL_FAIL(fmt, ...)                                                            \
	do {                                                                         \
		printf("  %s:%d: " fmt "\n", __FILE__, __LINE__, ##__VA_ARGS__);     \
		tl_case_failed = 1;                                                  \
	} while (0)

#define CHECK(cond)                                  \
	do {                                         \
		if (!(cond))                         \
			TL_FAIL("check failed: %s", #cond); \
	} while (0)

#define CHECK_EQ_U64(got, want)                                                          \
	do {                                                                             \
		uint64_t g_ = (uint64_t)(got), w_ = (uint64_t)(want);                    \
		if (g_ != w_)                                                            \
			TL_FAIL("%s = 0x%" PRIx64 " (%" PRIu64 "), want 0x%" PRIx64 " (%" PRIu64 ")", \
				#got, g_, g_, w_, w_);                                   \
	} while (0)

#define CHECK_EQ_INT(got, want)                                                   \
	do {                                                                      \
		long long g_ = (long long)(got), w_ = (long long)(want);          \
		if (g_ != w_)                                                     \
			TL_FAIL("%s = %lld, want %lld", #got, g_, w_);            \
	} while (0)

#define CHECK_STR(got, want)                                                        \
	do {                                                                        \
		const char *g_ = (got), *w_ = (want);                               \
		if (!g_ || strcmp(g_, w_))                                          \
			TL_FAIL("%s = \"%s\", want \"%s\"", #got, g_ ? g_ : "(null)", w_); \
	} while (0)

#define CHECK_CONTAINS(got, want)                                                    \
	do {                                                                         \
		const char *g_ = (got), *w_ = (want);                                \
		if (!g_ || !strstr(g_, w_))                                          \
			TL_FAIL("%s = \"%s\", want it to contain \"%s\"", #got,     \
				g_ ? g_ : "(null)", w_);                             \
	} while (0)

/*
 * The kernel's struct sigaction on x86-64 (rt_sigaction's, not glibc's): for a
 * test that installs or reads a handler with the raw system call, which the
 * library's interposed sigaction never sees.
 */
struct tl_ksigaction {
	void *handler;
	unsigned long flags;
	void (*restorer)(void);
	uint64_t mask;
};

static inline void tl_begin(void)
{
	tl_case_failed = 0;
}

static inline void tl_end(const char *name)
{
	if (tl_case_failed) {
		printf("FAIL: %s/%s\n", tl_suite, name);
		tl_total_failed++;
	} else {
		printf("PASS: %s/%s\n", tl_suite, name);
	}
	fflush(stdout);
}

/* Run one case: RUN(fn) calls fn() between tl_begin and tl_end. */
#define RUN(fn)                 \
	do {                    \
		tl_begin();     \
		fn();           \
		tl_end(#fn);    \
	} while (0)

#define TL_EXIT() return tl_total_failed ? 1 : 0

/*
 * The fallbacks switched off for the run (make check-forced, docs/testing.md):
 * UPROBE_RET_PATH=site-strict refuses a return probe whose exits cannot all be
 * patched (no return-address hijack; site-only, which refuses tail jumps out
 * too, is tests/cli_attach/test_cxx.sh's); UPROBE_ENTRY_PATH=lean-strict
 * refuses a function-entry probe the lean trampoline cannot take (no breakpoint).
 * A test whose case needs the fallback asserts the exact refusal instead.
 * Read at each call, as the library reads them at each attach.
 */
static inline int forced_ret_path(void)
{
	const char *v = getenv("UPROBE_RET_PATH");

	return v && !strcmp(v, "site-strict");
}

static inline int forced_entry_path(void)
{
	const char *v = getenv("UPROBE_ENTRY_PATH");

	return v && !strcmp(v, "lean-strict");
}

#endif
