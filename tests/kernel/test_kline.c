// SPDX-License-Identifier: MIT
/*
 * Specs -> kernel dynamic_events lines, compared exactly. The expected file
 * offsets come from this process's own mappings (the runtime address of the
 * function, /proc/self/maps), not from the ELF code under test.
 */
#include <dlfcn.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_offset.h"
#include "testlib.h"
#include "uprobes_kernel.h"

TL_DEFINE("kernel_line");

__attribute__((noinline)) int kline_target(int a, int b)
{
	return a * 3 + b;
}

/* The line of text as event g/e with comm off (-errno on refusal, err filled). */
static int line_of(const char *text, int comm, char *buf, size_t len, struct trace_error *err)
{
	struct trace_spec *s = trace_spec_parse(text, err);
	int ret;

	if (!s)
		return -EINVAL;
	ret = trace_kernel_line(s, "g", "e", comm, buf, len, err);
	trace_spec_free(s);
	return ret;
}

static void expect(const char *text, int comm, const char *want)
{
	struct trace_error err = { 0 };
	char buf[2048];
	int n = line_of(text, comm, buf, sizeof(buf), &err);

	if (n < 0) {
		TL_FAIL("'%s': %d %s (%s)", text, n, err.msg, err.token);
		return;
	}
	CHECK_EQ_INT(n, strlen(want));
	CHECK_STR(buf, want);
}

static void expect_refused(const char *text, int code, const char *token, const char *msg)
{
	struct trace_error err = { 0 };
	char buf[512];
	int n = line_of(text, 0, buf, sizeof(buf), &err);

	CHECK_EQ_INT(n, -code);
	CHECK_STR(err.token, token);
	CHECK_CONTAINS(err.msg, msg);
}

static void symbol_in_exe(void)
{
	char path[PATH_MAX], want[PATH_MAX + 512];
	uint64_t off = file_offset_of((void *)kline_target, path, sizeof(path));

	snprintf(want, sizeof(want), "p:g/e %s:0x%" PRIx64 " a=%%di:s32 b=%%si:u64", path, off);
	expect("p:/proc/self/exe:kline_target a=%di:s32 b=$arg2:u64", 0, want);
	/* An offset in the file stays what it is. */
	snprintf(want, sizeof(want), "p:g/e %s:0x%" PRIx64, path, off);
	{
		char text[PATH_MAX + 64];

		snprintf(text, sizeof(text), "p:%s:0x%" PRIx64, path, off);
		expect(text, 0, want);
	}
}

/* libc by its short name: the path this process loaded, malloc's offset in it. */
static void short_name_and_symbol(void)
{
	char path[PATH_MAX], want[PATH_MAX + 512];
	uint64_t off = file_offset_of(dlsym(RTLD_DEFAULT, "free"), path, sizeof(path));

	snprintf(want, sizeof(want), "p:g/e %s:0x%" PRIx64 " p=%%di:x64 __comm=$comm:string",
		 path, off);
	expect("p:libc:free p=%di", 1, want);
	snprintf(want, sizeof(want), "r:g/e %s:0x%" PRIx64 " r=$retval:s64", path, off);
	expect("r:libc:free r=$retval:s64", 0, want);
}

/* Every fetch-arg form the kernel takes, and $argN beyond the registers. */
static void fetch_args(void)
{
	char path[PATH_MAX], want[PATH_MAX + 1024];
	uint64_t off = file_offset_of((void *)kline_target, path, sizeof(path));

	snprintf(want, sizeof(want),
		 "p:g/e %s:0x%" PRIx64 " a1=%%di:u64 a6=%%r9:u32 a7=$stack1:s64 a8=$stack2:x16"
		 " s=+0(%%si):string u=+8(%%dx):ustring d=-16(+24(%%bp)):u8 arr=+0(%%di):u32[4]"
		 " c=+1(%%di):char bf=+4(%%di):b3@2/32 imm=\\0x2a:x64 is=\\0:u8"
		 " cm=$comm:string st=$stack:x64 s0=$stack0:x64 fo=@+0x10:u32 ad=@0x601000:u64"
		 " flags=%%flags:x64 ip=%%ip:x64 r15=%%r15:x64",
		 path, off);
	expect("p:/proc/self/exe:kline_target a1=$arg1:u64 a6=$arg6:u32 a7=$arg7:s64 "
	       "a8=$arg8:x16 s=+0(%si):string u=+8(%dx):ustring d=-16(+24(%bp)):u8 "
	       "arr=+0(%di):u32[4] c=+1(%di):char bf=+4(%di):b3@2/32 imm=\\42 is=\\\"hi\" "
	       "cm=$comm st=$stack s0=$stack0 fo=@+0x10:u32 ad=@0x601000:u64 flags=%flags "
	       "ip=%ip r15=%r15", 0, want);
}

/* An SDT semaphore's file offset goes after the probe's: (ref_ctr_offset). */
static void ref_ctr(void)
{
	char path[PATH_MAX], want[PATH_MAX + 128], text[PATH_MAX + 128];
	uint64_t off = file_offset_of((void *)kline_target, path, sizeof(path));

	snprintf(text, sizeof(text), "p:%s:0x%" PRIx64 "(0x3c10) x=%%ax:u8", path, off);
	snprintf(want, sizeof(want), "p:g/e %s:0x%" PRIx64 "(0x3c10) x=%%ax:u8", path, off);
	expect(text, 0, want);
}

static void refusals(void)
{
	expect_refused("p:/proc/self/exe:kline_target st=$ustack", ENOTSUP, "$ustack",
		       "cannot fetch a user stack");
	expect_refused("p:/proc/self/exe:kline_target a->b", EINVAL, "a->b", "not resolved");
	expect_refused("p:/proc/self/exe:no_such_function_here", ESRCH,
		       "no_such_function_here", "no_such_function_here");
	expect_refused("p:no_such_library_xyz:f", ENOENT, "no_such_library_xyz",
		       "no library of that name");
	expect_refused("p:/proc/self/exe:kline_target+1", EILSEQ, "kline_target",
		       "inside the instruction at +0x0");
}

/* snprintf-style: the length needed, with a short buffer too. */
static void short_buffer(void)
{
	char small[8], big[PATH_MAX + 256];
	int need = line_of("p:/proc/self/exe:kline_target x=%ax", 0, big, sizeof(big), NULL);

	CHECK(need > 8);
	CHECK_EQ_INT(line_of("p:/proc/self/exe:kline_target x=%ax", 0, small, sizeof(small), NULL),
		     need);
	CHECK(!memcmp(small, big, 7) && !small[7]);
}

int main(void)
{
	if (kline_target(1, 2) != 5)
		return 1;
	RUN(symbol_in_exe);
	RUN(short_name_and_symbol);
	RUN(fetch_args);
	RUN(ref_ctr);
	RUN(refusals);
	RUN(short_buffer);
	TL_EXIT();
}
