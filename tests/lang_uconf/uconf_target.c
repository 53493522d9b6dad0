/* SPDX-License-Identifier: MIT */
/*
 * The workload of tests/lang_uconf: one thread, fixed calls, fixed arguments,
 * nothing printed, status 0, so that bpftrace 0.17 and uprobe -e see the same
 * hits. Strings are copied to the stack first (memory the process touched:
 * bpftrace's str() reads nothing from a page not yet faulted in).
 *
 *   uc_add(a, b)        a + b      100 calls, a = i % 7, b = i * 3
 *   uc_size(n)          n * 2      200 calls, n = (i * 37) % 5000
 *   uc_open(path, fl)   fd or -1   60 calls over five paths, flags i % 3
 *   uc_read(fd, len)    len or -1  80 calls, len = 1 << (i % 12), fd i % 4 - 1
 *   uc_neg(x)           -x         30 calls, x = (i - 15) * 7
 *   uc_big(x)           ~x         10 calls, x = 2^63 + i (unsigned)
 *   uc_f_alpha/beta/gamma(i)       3, 5, 7 calls
 *   uc_long_..._name(i)            4 calls (a symbol longer than a map key's cut)
 *   uc_name(s)          s          12 calls, words of 1 to 74 bytes
 *
 * UCONF_PID_FILE=FILE: the process writes its pid there first (the tests
 * replace it by PID in what bpftrace and uprobe print).
 *
 * Each function starts with 8 one-byte nops (patchable_function_entry, as the
 * kernel's ftrace entries): the test is about the language, not short functions,
 * and so its entry's 5-byte jump and its ret's window never overlap; make check's
 * forced pass (UPROBE_ENTRY_PATH=lean-strict UPROBE_RET_PATH=site-strict, which
 * refuse such overlaps) takes every probe here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define KEEP(x) __asm__ volatile("" : : "r"(x) : "memory")
#define PROBED	__attribute__((noinline, used, patchable_function_entry(8, 0)))

PROBED int uc_add(int a, int b)
{
	KEEP(a);
	return a + b;
}

PROBED long uc_size(long n)
{
	KEEP(n);
	return n * 2;
}

PROBED int uc_open(const char *path, int flags)
{
	KEEP(path);
	return path[5] == 'p' ? -1 : 3 + flags;
}

PROBED long uc_read(int fd, long len)
{
	KEEP(fd);
	return fd < 0 ? -1 : len;
}

PROBED long uc_neg(long x)
{
	KEEP(x);
	return -x;
}

PROBED unsigned long uc_big(unsigned long x)
{
	KEEP(x);
	return ~x;
}

PROBED int uc_f_alpha(int i)
{
	KEEP(i);
	return i;
}

PROBED int uc_f_beta(int i)
{
	KEEP(i);
	return i + 1;
}

PROBED int uc_f_gamma(int i)
{
	KEEP(i);
	return i + 2;
}

PROBED int uc_long_function_name_that_goes_past_the_cut_of_a_key_abcdefghijkl(int i)
{
	KEEP(i);
	return i;
}

PROBED const char *uc_name(const char *s)
{
	KEEP(s);
	return s;
}

static const char *const paths[] = {"/etc/passwd", "/tmp/a", "/tmp/bb", "/var/log/x.log",
				    "/usr/lib/os-release"};
static const char *const words[] = {
	"a",
	"bb",
	"hello",
	"hello world",
	"0123456789abcdef",
	"a string of exactly thirty two!!",
	"a string that is longer than sixty-four bytes, to see where it is cut off",
};

int main(void)
{
	const char *pid_file = getenv("UCONF_PID_FILE");
	char buf[128];
	int i;

	if (pid_file) {
		FILE *f = fopen(pid_file, "w");

		if (!f)
			return 1;
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}

	for (i = 0; i < 100; i++)
		uc_add(i % 7, i * 3);
	for (i = 0; i < 200; i++)
		uc_size((i * 37L) % 5000);
	for (i = 0; i < 60; i++) {
		strcpy(buf, paths[i % 5 < 3 ? i % 5 : (i % 3 ? 3 : 4)]);
		uc_open(buf, i % 3);
	}
	for (i = 0; i < 80; i++)
		uc_read(i % 4 - 1, 1L << (i % 12));
	for (i = 0; i < 30; i++)
		uc_neg((i - 15) * 7L);
	for (i = 0; i < 10; i++)
		uc_big((1UL << 63) + (unsigned long)i);
	for (i = 0; i < 3; i++)
		uc_f_alpha(i);
	for (i = 0; i < 5; i++)
		uc_f_beta(i);
	for (i = 0; i < 7; i++)
		uc_f_gamma(i);
	for (i = 0; i < 4; i++)
		uc_long_function_name_that_goes_past_the_cut_of_a_key_abcdefghijkl(i);
	for (i = 0; i < 12; i++) {
		strcpy(buf, words[i % 7]);
		uc_name(buf);
	}
	return 0;
}
