/* SPDX-License-Identifier: MIT */
/*
 * The trace grammar on aarch64 (issue 20 item 5), run under qemu-aarch64: the
 * registers %x0..%x30, %sp, %pc, %pstate (the kernel's arm64 names), x86-64 names
 * refused with the token, $argN and $retval as written; and the arch tables the
 * fetch-arg compiler and DWARF locations read (arch/aarch64/trace_regs.c): each
 * register's word in struct uprobe_regs, $argN = x0..x7 then the stack from sp,
 * $retval = x0; and the kernel backend's lines (src/kernel/kline.c) of such specs:
 * the arm64 kernel's names, $argN beyond x7 as $stackN.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arch/arch.h"
#include "file_offset.h"
#include "testlib.h"
#include "uprobes_kernel.h"
#include "uprobes_trace.h"

TL_DEFINE("aarch64_spec");

/* The canonical text of line, or "error<TAB>MESSAGE<TAB>TOKEN". */
static void check_line(const char *line, const char *want)
{
	struct trace_error err;
	struct trace_spec *s = trace_spec_parse(line, &err);
	char buf[1024];

	if (s) {
		CHECK(trace_spec_format(s, buf, sizeof(buf)) >= 0);
		trace_spec_free(s);
	} else {
		snprintf(buf, sizeof(buf), "error\t%s\t%s", err.msg, err.token);
	}
	if (strcmp(buf, want))
		TL_FAIL("%s\n    got  %s\n    want %s", line, buf, want);
}

static void golden_registers(void)
{
	check_line("p /bin/x:0x10 %x0", "p:uprobes/p_x_0x10 /bin/x:0x10 arg1=%x0:x64");
	check_line("p /bin/x:0x10 a=%x1:u32 b=%x29 c=%x30:x64",
		   "p:uprobes/p_x_0x10 /bin/x:0x10 a=%x1:u32 b=%x29:x64 c=%x30:x64");
	check_line("p /bin/x:0x10 s=%sp p=%pc f=%pstate:x32",
		   "p:uprobes/p_x_0x10 /bin/x:0x10 s=%sp:x64 p=%pc:x64 f=%pstate:x32");
	check_line("p /bin/x:0x10 w=+8(%x0):string",
		   "p:uprobes/p_x_0x10 /bin/x:0x10 w=+0x8(%x0):string");
	check_line("p /bin/x:0x10 v=-16(+8(%sp)):s64",
		   "p:uprobes/p_x_0x10 /bin/x:0x10 v=-0x10(+0x8(%sp)):s64");
	check_line("r /bin/x:0x10 rv=$retval:s32 x=%x0",
		   "r:uprobes/p_x_0x10 /bin/x:0x10 rv=$retval:s32 x=%x0:x64");
	check_line("p /bin/x:0x10 $arg1 $arg8 $arg9",
		   "p:uprobes/p_x_0x10 /bin/x:0x10 arg1=$arg1:x64 arg2=$arg8:x64 arg3=$arg9:x64");
}

static void golden_refusals(void)
{
	/* x86-64 names mean nothing here: the message names the token. */
	check_line("p /bin/x:0x10 %di", "error\tInvalid register name\t%di");
	check_line("p /bin/x:0x10 %ax", "error\tInvalid register name\t%ax");
	check_line("p /bin/x:0x10 %ip", "error\tInvalid register name\t%ip");
	check_line("p /bin/x:0x10 %x31", "error\tInvalid register name\t%x31");
	check_line("p /bin/x:0x10 %w0", "error\tInvalid register name\t%w0");
	check_line("p /bin/x:0x10 %X0", "error\tInvalid register name\t%X0");
	check_line("p /bin/x:0x10 %orig_x0",
		   "error\tRegister is not available to user-space probes\t%orig_x0");
	check_line("p /bin/x:0x10 %syscallno",
		   "error\tRegister is not available to user-space probes\t%syscallno");
}

/* Every register parses to its enum value; that value's word is its field's. */
static void fields_registers(void)
{
	char line[64];

	for (int i = 0; i < TRACE_R_COUNT; i++) {
		struct trace_error err;
		struct trace_spec *s;

		snprintf(line, sizeof(line), "p /bin/x:0x10 %%%s", arch_trace_regs[i].name);
		s = trace_spec_parse(line, &err);
		CHECK(s != NULL);
		if (!s)
			continue;
		CHECK_EQ_INT(s->args[0].fetch.base, TRACE_B_REG);
		CHECK_EQ_INT(s->args[0].fetch.reg, i);
		CHECK_STR(arch_trace_regs[i].kname, arch_trace_regs[i].name);
		trace_spec_free(s);
	}
	CHECK_EQ_INT(TRACE_R_COUNT, 34);
	for (int n = 0; n <= 30; n++)
		CHECK_EQ_INT(arch_trace_regs[TRACE_R_X0 + n].word,
			     offsetof(struct uprobe_regs, x[n]) / 8);
	CHECK_EQ_INT(arch_trace_regs[TRACE_R_SP].word, offsetof(struct uprobe_regs, sp) / 8);
	CHECK_EQ_INT(arch_trace_regs[TRACE_R_PC].word, offsetof(struct uprobe_regs, pc) / 8);
	CHECK_EQ_INT(arch_trace_regs[TRACE_R_PSTATE].word,
		     offsetof(struct uprobe_regs, pstate) / 8);
	CHECK_STR(arch_trace_regs[TRACE_R_X30].name, "x30");
	CHECK_STR(arch_trace_regs[TRACE_R_PSTATE].name, "pstate");
}

/* AAPCS64: arguments 1..8 in x0..x7, the ninth at [sp] at the entry; result in x0. */
static void abi_args_retval(void)
{
	struct uprobe_regs r;
	uint64_t args[ARCH_ARG_REGS];

	CHECK_STR(ARCH_NAME, "aarch64");
	CHECK_EQ_INT(ARCH_ARG_REGS, 8);
	for (int i = 0; i < ARCH_ARG_REGS; i++)
		CHECK_EQ_INT(arch_arg_regs[i], TRACE_R_X0 + i);
	CHECK_EQ_INT(ARCH_STACK_ARG_SLOT(9), 0);
	CHECK_EQ_INT(ARCH_STACK_ARG_SLOT(12), 3);
	CHECK_EQ_INT(ARCH_TRACE_R_RETVAL, TRACE_R_X0);
	CHECK_EQ_INT(ARCH_TRACE_R_PC, TRACE_R_PC);

	for (int i = 0; i < 31; i++)
		r.x[i] = 0x1000 + (uint64_t)i;
	r.sp = 0x7ff0;
	r.pc = 0x400100;
	r.pstate = 0x60000000;
	arch_regs_args(&r, args);
	for (unsigned int i = 0; i < ARCH_ARG_REGS; i++) {
		CHECK_EQ_U64(args[i], 0x1000 + i);
		CHECK_EQ_U64(arch_regs_arg(&r, i), 0x1000 + i);
	}
	CHECK_EQ_U64(arch_regs_retval(&r), 0x1000);
	CHECK_EQ_U64(arch_regs_sp(&r), 0x7ff0);
	CHECK_EQ_U64(arch_regs_pc(&r), 0x400100);
	arch_regs_set_pc_sp(&r, 0x500000, 0x8000);
	CHECK_EQ_U64(r.pc, 0x500000);
	CHECK_EQ_U64(r.sp, 0x8000);
}

/* DWARF for the Arm 64-bit architecture: 0-30 x0-x30, 31 sp; v0-v31 (64-95) refused. */
static void dwarf_registers(void)
{
	enum trace_reg r;

	for (unsigned int n = 0; n <= 30; n++) {
		CHECK_EQ_INT(arch_dwarf_trace_reg(n, &r), 0);
		CHECK_EQ_INT(r, TRACE_R_X0 + (int)n);
	}
	CHECK_EQ_INT(arch_dwarf_trace_reg(31, &r), 0);
	CHECK_EQ_INT(r, TRACE_R_SP);
	CHECK_EQ_INT(arch_dwarf_trace_reg(32, &r), -ENOTSUP);
	CHECK_EQ_INT(arch_dwarf_trace_reg(64, &r), -ENOTSUP);
}

__attribute__((noinline)) int kline_target(int a, int b)
{
	__asm__ volatile("" ::: "memory");
	return a * 3 + b;
}

static void check_kline(const char *text, const char *want)
{
	struct trace_error err = { 0 };
	struct trace_spec *s = trace_spec_parse(text, &err);
	char buf[2048];
	int n = s ? trace_kernel_line(s, "g", "e", 0, buf, sizeof(buf), &err) : -EINVAL;

	trace_spec_free(s);
	if (n < 0)
		TL_FAIL("'%s': %d %s (%s)", text, n, err.msg, err.token);
	else if (strcmp(buf, want))
		TL_FAIL("%s\n    got  %s\n    want %s", text, buf, want);
}

/* The kernel's uprobe_events lines for arm64: its register names, $argN as the ABI has it. */
static void kernel_lines(void)
{
	char path[PATH_MAX], want[PATH_MAX + 512];
	uint64_t off = file_offset_of((void *)kline_target, path, sizeof(path));

	CHECK(off != 0);
	snprintf(want, sizeof(want),
		 "p:g/e %s:0x%" PRIx64 " a=%%x0:s32 b=%%x1:u64 h=%%x7:x64 c=$stack0:s64 "
		 "d=$stack3:x64 p=%%pc:x64 sp=%%sp:x64 f=%%pstate:x32 lr=+8(%%x30):u8",
		 path, off);
	check_kline("p:/proc/self/exe:kline_target a=%x0:s32 b=$arg2:u64 h=$arg8 c=$arg9:s64 "
		    "d=$arg12 p=%pc sp=%sp f=%pstate:x32 lr=+8(%x30):u8",
		    want);
	snprintf(want, sizeof(want), "r:g/e %s:0x%" PRIx64 " r=$retval:s64", path, off);
	check_kline("r:/proc/self/exe:kline_target r=$retval:s64", want);
	CHECK_EQ_INT(kline_target(1, 2), 5);
}

int main(void)
{
	RUN(golden_registers);
	RUN(golden_refusals);
	RUN(fields_registers);
	RUN(abi_args_retval);
	RUN(dwarf_registers);
	RUN(kernel_lines);
	TL_EXIT();
}
