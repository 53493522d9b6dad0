#!/bin/sh
# SPDX-License-Identifier: MIT
# make install PREFIX=... gives a header, both libraries and a pkg-config file
# that a program can build against, shared and static.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check() { # name, command...
	name=$1
	shift
	if out=$("$@" 2>&1); then
		echo "PASS: install/$name"
	else
		echo "$out" | tail -20
		echo "FAIL: install/$name"
	fi
}

check make_install make -s -C "$top" install PREFIX="$tmp/prefix"
check files_present test -f "$tmp/prefix/include/uprobes.h" \
	-a -f "$tmp/prefix/include/uprobes_trace.h" -a -f "$tmp/prefix/include/uprobes_agent.h" \
	-a -f "$tmp/prefix/include/uprobes_lang.h" \
	-a -f "$tmp/prefix/lib/libuprobes.a" \
	-a -L "$tmp/prefix/lib/libuprobes.so" -a -f "$tmp/prefix/lib/pkgconfig/uprobes.pc"
export PKG_CONFIG_PATH="$tmp/prefix/lib/pkgconfig"
check pkgconfig_prefix sh -c "pkg-config --cflags uprobes | grep -qx -- '-I$tmp/prefix/include *'"
check build_shared sh -c "cc -o '$tmp/demo' '$top/demo/demo.c' '$top/demo/trace_demo.c' \$(pkg-config --cflags --libs uprobes) \
	-Wl,-rpath,'$tmp/prefix/lib'"
# The uprobe command needs nothing but the installed headers and library.
check build_cli_installed sh -c "cc -std=gnu11 -D_GNU_SOURCE -o '$tmp/uprobe' '$top'/tools/uprobe/*.c '$top'/tools/uprobe/arch/x86_64.c \
	\$(pkg-config --cflags --libs uprobes) -ldl -lelf -lpthread -Wl,-rpath,'$tmp/prefix/lib'"
check run_cli_installed sh -c "'$tmp/uprobe' trace --help | grep -q '^usage: uprobe trace'"
check run_lang_installed sh -c "'$tmp/uprobe' -e 'BEGIN { @n = 2; exit(); }' | grep -qx '@n: 2'"
check run_shared sh -c "'$tmp/demo' | grep -qx 'demo_fib(10) = 55'"
check build_static sh -c "cc -o '$tmp/demo_static' '$top/demo/demo.c' '$top/demo/trace_demo.c' \$(pkg-config --cflags uprobes) \
	'$tmp/prefix/lib/libuprobes.a' \$(pkg-config --libs-only-other --static uprobes) \
	-lZydis -lelf -ldw -llzma -lz -lpthread -ldl"
check run_static sh -c "'$tmp/demo_static' | grep -qx 'demo_fib(10) = 55'"
check only_api_exported sh -c "! nm -D --defined-only '$tmp/prefix/lib/libuprobes.so' | \
	awk '{print \$3}' | grep -v -E '^(uprobe_|trace_|lang_program_|lang_run_|lang_krun_|sigaction|signal|bsd_signal|sysv_signal|sigprocmask|pthread_sigmask|backtrace|pthread_exit|makecontext|sigaltstack|_Unwind_(RaiseException|Resume|Resume_or_Rethrow|ForcedUnwind|Backtrace)|__cxa_begin_catch|GLIBC_|GCC_|CXXABI_|UPROBES_)'"
