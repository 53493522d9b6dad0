#!/bin/sh
# SPDX-License-Identifier: MIT
# Symbols from everywhere a debugger looks, each check against an independent
# reference: readelf/nm/objdump for names and addresses, the programs' own
# call counts, and the kernel's uprobes (tracefs) for libc's _int_malloc.
#  libc_debug      uprobe list libc shows libc6-dbg's local _int_* functions
#                  at readelf's addresses
#  libc_probe      p:libc:_int_malloc counts what the kernel's uprobe counts,
#                  but for the tcache set-ups (tcache_init.part.0, counted by both)
#  signal_frame    __restore_rt, whose FDE starts a byte early, probed at its
#                  symbol (it was refused: mid-instruction)
#  debug_dir       UPROBE_DEBUG_DIR=/nonexistent: exported functions and PLT
#                  stubs only, exactly; _int_malloc refused by name
#  minidebuginfo   a stripped binary with .gnu_debugdata: its static
#                  functions listed and probed (counts from the program)
#  versions        NAME@VERSION / NAME@@VERSION / NAME at readelf's addresses;
#                  an unknown version is an error naming it
#  cxx_list        C++ names printed demangled, as nm -C prints them
#  cxx_probe       probes by demangled name, exact counts; ambiguity refused
#                  with the candidates
#  cxx_wildcard    'ns::Foo::*' and 'ns::*': one event per function
#  dup_names       two static functions of one name: a glob probes both, by
#                  their file offsets, counts exact; the plain name ambiguous
#  plt             NAME@plt at objdump's addresses, probed
#  stripped        strip --strip-all: .eh_frame functions listed, a probe by
#                  offset counts exactly, a mid-instruction offset refused
#  stripped_bounds  the stripped file's functions have their FDE's bounds:
#                  each entry probe runs as in the unstripped file; fn_ at a
#                  later CFI row (after a push) is refused, naming its function
#  symbol_cache    libc's symbols kept in the cache (sym-*.usym): a second
#                  list maps them (same file) and lists what a run without a
#                  cache lists; an entry out of order, or another debug
#                  directory, and they are loaded again, exactly
#  zstd_bounds     Debian's stripped zstd: every "ends K bytes after the
#                  probe" has K = the FDE's size (readelf -wf); r: at a later
#                  CFI row is refused before zstd runs
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=symbols
. "$top/tests/lib.sh"
up="$top/build/uprobe"
bin="$top/build/tests/symbols"
libc=$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)
T=/sys/kernel/tracing
grp=uptsym$$
tmp=$(mktemp -d)

trap 'tracefs_clean "$grp"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

# "ADDR MODE REASON" of uprobe list lines (ADDR without 0x and leading 0s).
modes() { sed -n 's/^0x0*\([0-9a-f]*\)  .*  \(optimized\|int3\|refused\)  *\([^ ].*\)$/\1 \2 \3/p'; }
# "NAME=COUNT" lines of uprobe trace --count (stdout), sorted.
counts() { sed -n 's/^@events\[\(.*\)\]: \([0-9]*\)$/\1=\2/p' "$1" | sort; }
# Function symbols of a readelf -sW table: "ADDR NAME" (addresses without leading 0s).
funcs() { awk '$4 == "FUNC" || $4 == "IFUNC" { a = $2; sub(/^0+/, "", a); print a, $8 }'; }

# ---- libc with libc6-dbg -------------------------------------------------------------------
bid=$(readelf -n "$libc" 2>/dev/null | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
dbg=/usr/lib/debug/.build-id/$(echo "$bid" | cut -c1-2)/$(echo "$bid" | cut -c3-).debug
if [ ! -f "$dbg" ]; then
	skip libc_debug "libc6-dbg not installed ($dbg)"
	skip libc_probe "libc6-dbg not installed"
else
	# The _int_* functions of the debug file, one per address (all are local).
	readelf -sW "$dbg" 2>/dev/null | funcs | awk '$2 ~ /^_int_/' | sort -u -k1,1 | sort >"$tmp/int.want"
	"$up" list "$libc" '_int_*' 2>"$tmp/int.err" |
		awk '{ a = $1; sub(/^0x0*/, "", a); print a, $2 }' | sort >"$tmp/int.got"
	if expect_eq libc_debug "$(wc -l <"$tmp/int.want")" "$(wc -l <"$tmp/int.got")" \
		"number of _int_* functions (readelf of $dbg)" &&
		expect_eq libc_debug "$(cat "$tmp/int.got")" "$(cat "$tmp/int.want")" \
			"addresses and names" &&
		expect_grep libc_debug "$tmp/int.got" " _int_malloc" "_int_malloc listed"; then
		pass libc_debug
	fi

	# The kernel's count of _int_malloc in one run of malloc_target, ours in another,
	# each less its calls from tcache_init.part.0 (one a thread, at its first malloc:
	# in our run the agent's own allocations made the main thread's before main).
	off=$(readelf -sW "$dbg" 2>/dev/null | awk '$8 == "_int_malloc" { print $2 }')
	toff=$(readelf -sW "$dbg" 2>/dev/null | awk '$8 == "tcache_init.part.0" { print $2 }')
	"$up" trace --count 'p:libc:_int_malloc' 'p:tc libc:tcache_init.part.0' -- \
		"$bin/malloc_target" 300 >"$tmp/im.out" 2>"$tmp/im.err"
	ours=$(counts "$tmp/im.out" | awk -F= '{ n[$1] = $2 } END { print n["_int_malloc"] - n["tc"] }')
	kwhy=""
	mountpoint -q "$T" || mount -t tracefs nodev "$T" 2>/dev/null
	if [ ! -w "$T/uprobe_events" ]; then
		kwhy="cannot write $T/uprobe_events"
	elif ! mkdir "$T/instances/$grp" 2>/dev/null; then
		kwhy="cannot create the tracefs instance $grp"
	elif ! echo "p:$grp/im $libc:$(vaddr_off "$libc" "$off")" >>"$T/uprobe_events" ||
		! echo "p:$grp/tc $libc:$(vaddr_off "$libc" "$toff")" >>"$T/uprobe_events" ||
		! echo "p:$grp/mn $bin/malloc_target:$(vaddr_off "$bin/malloc_target" \
			"$(nm "$bin/malloc_target" | awk '$3 == "main" { print $1 }')")" \
			>>"$T/uprobe_events"; then
		kwhy="the kernel refused the probe: $(tail -n 1 "$T/error_log" 2>/dev/null)"
	fi
	if [ -n "$kwhy" ]; then
		skip libc_probe "$kwhy"
	else
		echo 1 >"$T/instances/$grp/events/$grp/enable"
		# shellcheck disable=SC2016
		sh -c 'echo $$ >"$0"; exec "$@"' "$tmp/k.pid" "$bin/malloc_target" 300 >/dev/null
		echo 0 >"$T/instances/$grp/events/$grp/enable"
		kpid=$(cat "$tmp/k.pid")
		# From main on (ours attach before main, after libc's own start-up
		# allocations); "malloc_target-PID": not the shell's before the exec.
		kn=$(grep -E -- "^ *malloc_target-$kpid +\[[0-9]+\]" "$T/instances/$grp/trace" |
			awk '/ mn: / { m = 1 } m && / im: / { n++ } m && / tc: / { t++ }
				END { print n - t }')
		tracefs_clean "$grp"
		if [ "$kn" -lt 300 ]; then
			fail libc_probe "the kernel counted $kn calls, fewer than the 300 rounds"
		elif expect_eq libc_probe "$ours" "$kn" "our count vs the kernel's (less tcache set-ups)"; then
			pass libc_probe
		fi
	fi
fi

# ---- a signal frame's FDE starts a byte before its code --------------------------------------
# glibc's __restore_rt: unwinders look up return address - 1, so its FDE
# starts at the byte before; the function, and a probe at it, start at the symbol.
if [ ! -f "$dbg" ]; then
	skip signal_frame "libc6-dbg not installed"
else
	rt=$(readelf -sW "$dbg" 2>/dev/null | awk '$8 == "__restore_rt" { a = $2; sub(/^0+/, "", a); print a }')
	"$up" list "$libc" __restore_rt >"$tmp/rt" 2>/dev/null
	if expect_eq signal_frame "$(modes <"$tmp/rt" | cut -d' ' -f1-3)" \
		"$rt optimized jump-optimized:" "address (readelf of $dbg) and mode"; then
		pass signal_frame
	fi
fi

# ---- without the debug file: exported functions and PLT stubs --------------------------------
{
	readelf --dyn-syms -W "$libc" 2>/dev/null | awk '$7 != "UND"' | funcs | awk '{ print $1 }'
	objdump -d "$libc" | sed -n 's/^0*\([0-9a-f]*\) <\([^*][^>]*\)@plt>:$/\1/p'
} | sort -u >"$tmp/nodbg.want"
UPROBE_DEBUG_DIR=/nonexistent "$up" list "$libc" >"$tmp/nodbg.list" 2>"$tmp/nodbg.err"
awk '{ a = $1; sub(/^0x0*/, "", a); print a }' "$tmp/nodbg.list" | sort -u >"$tmp/nodbg.got"
UPROBE_DEBUG_DIR=/nonexistent "$up" trace --count 'p:libc:_int_malloc' -- /bin/true \
	>"$tmp/nodbg.tr" 2>&1
st=$?
if expect_eq debug_dir "$(cat "$tmp/nodbg.got")" "$(cat "$tmp/nodbg.want")" \
	"addresses listed without the debug file (readelf --dyn-syms + objdump @plt)" &&
	expect_eq debug_dir "$(grep -c ' _int_malloc ' "$tmp/nodbg.list")" 0 "_int_malloc listed" &&
	expect_eq debug_dir "$st" 1 "exit status of a probe on _int_malloc" &&
	expect_grep debug_dir "$tmp/nodbg.tr" "symbol '_int_malloc' not found in $libc" "message"; then
	pass debug_dir
fi

# ---- MiniDebugInfo, made the way Fedora makes it -----------------------------------------------
m="$tmp/mini"
if ! command -v xz >/dev/null 2>&1; then
	skip minidebuginfo "xz not installed"
else
	cc -O2 -g -o "$m" "$top/tests/symbols/mini_target.c"
	nm -D "$m" --format=posix --defined-only | awk '{ print $1 }' | sort >"$tmp/dynsyms"
	nm "$m" --format=posix --defined-only | awk '$2 == "T" || $2 == "t" { print $1 }' |
		sort >"$tmp/funcsyms"
	comm -13 "$tmp/dynsyms" "$tmp/funcsyms" >"$tmp/keep"
	objcopy --only-keep-debug "$m" "$tmp/debug"
	objcopy -S --remove-section .gdb_index --remove-section .comment \
		--keep-symbols="$tmp/keep" "$tmp/debug" "$tmp/mini_debuginfo"
	xz -f "$tmp/mini_debuginfo"
	strip --strip-all -R .comment -o "$m.stripped" "$m"
	objcopy --add-section .gnu_debugdata="$tmp/mini_debuginfo.xz" "$m.stripped"
	# Reference: the static functions of the unstripped build.
	nm "$m" | awk '$2 == "t" && $3 ~ /^mini_/ { a = $1; sub(/^0+/, "", a); print a, $3 }' |
		sort >"$tmp/mini.want"
	"$up" list "$m.stripped" 'mini_*' 2>/dev/null |
		awk '{ a = $1; sub(/^0x0*/, "", a); print a, $2 }' | sort >"$tmp/mini.got"
	"$up" trace --count "p:$m.stripped:mini_alpha" "p:$m.stripped:mini_beta" -- \
		"$m.stripped" 9 >"$tmp/mini.out" 2>"$tmp/mini.err"
	prog=$(sed -n 's/^alpha=\([0-9]*\) beta=\([0-9]*\) .*/mini_alpha=\1 mini_beta=\2/p' \
		"$tmp/mini.out")
	if expect_eq minidebuginfo "$(readelf -S "$m.stripped" | grep -c '\.symtab')" 0 \
		".symtab sections left in the stripped binary" &&
		expect_eq minidebuginfo "$(wc -l <"$tmp/mini.want")" 2 "static functions built" &&
		expect_eq minidebuginfo "$(cat "$tmp/mini.got")" "$(cat "$tmp/mini.want")" \
			"functions listed from .gnu_debugdata (nm of the unstripped build)" &&
		expect_eq minidebuginfo "$(counts "$tmp/mini.out" | tr '\n' ' ')" "$prog " \
			"event counts vs the program's own"; then
		pass minidebuginfo
	fi
fi

# ---- versioned names ---------------------------------------------------------------------------
ver() { # NAME@VERSION as readelf --dyn-syms shows it: its address
	readelf --dyn-syms -W "$libc" 2>/dev/null | awk -v s="$1" '$8 == s { a = $2; sub(/^0+/, "", a); print a }'
}
"$bin/sym_addr" "$libc" memcpy@GLIBC_2.2.5 posix_spawn@GLIBC_2.2.5 posix_spawn@@GLIBC_2.15 \
	posix_spawn fmemopen@GLIBC_2.2.5 fmemopen memcpy@@GLIBC_2.14 memcpy memcpy@GLIBC_9 \
	memcpy@@GLIBC_2.2.5 >"$tmp/ver.got" 2>&1
"$bin/sym_addr" -v memcpy GLIBC_2.14 >"$tmp/ver.ifunc"
{
	ver memcpy@GLIBC_2.2.5
	ver posix_spawn@GLIBC_2.2.5
	ver posix_spawn@@GLIBC_2.15
	ver posix_spawn@@GLIBC_2.15
	ver fmemopen@GLIBC_2.2.5
	ver fmemopen@@GLIBC_2.22
	cat "$tmp/ver.ifunc" "$tmp/ver.ifunc" # an IFUNC: the implementation ld.so chose
	echo "error: $libc:memcpy@GLIBC_9: version 'GLIBC_9' of 'memcpy' not found in $libc (it has @@GLIBC_2.14, @GLIBC_2.2.5)"
	echo "error: $libc:memcpy@@GLIBC_2.2.5: 'memcpy@@GLIBC_2.2.5': GLIBC_2.2.5 is not the default version of 'memcpy' in $libc (use memcpy@GLIBC_2.2.5)"
} >"$tmp/ver.want"
if expect_eq versions "$(sed -n 2p "$tmp/ver.want")" "$(ver posix_spawn@GLIBC_2.2.5)" "reference" &&
	[ "$(ver posix_spawn@GLIBC_2.2.5)" != "$(ver posix_spawn@@GLIBC_2.15)" ] &&
	expect_eq versions "$(cat "$tmp/ver.got")" "$(cat "$tmp/ver.want")" \
		"addresses (readelf --dyn-syms -W) and errors"; then
	pass versions
fi

# ---- C++ ---------------------------------------------------------------------------------------
cx="$bin/cxx_target"
nm -C --defined-only "$cx" | awk '$2 == "T" || $2 == "W" || $2 == "t"' |
	sed -n 's/^0*\([0-9a-f]*\) [TWt] \(.*\(ns::\|free_function\).*\)$/\1 \2/p' | sort >"$tmp/cxx.want"
"$up" list "$cx" 2>/dev/null | awk '{ a = $1; sub(/^0x0*/, "", a); $1 = ""; print a $0 }' |
	sed 's/  *\(optimized\|int3\|refused\) .*$//' | grep -E 'ns::|free_function' | sort >"$tmp/cxx.got"
if expect_eq cxx_list "$(wc -l <"$tmp/cxx.want")" 6 "C++ functions (nm -C)" &&
	expect_eq cxx_list "$(cat "$tmp/cxx.got")" "$(cat "$tmp/cxx.want")" \
		"names and addresses (nm -C)"; then
	pass cxx_list
fi

# The program's own counts as event names: ours are the demangled names tidied.
progcounts() { # file: NAME=N lines from the program's output line
	sed -n 's/^bar_int=\([0-9]*\) bar_double=\([0-9]*\) baz=\([0-9]*\) max_int=\([0-9]*\) max_double=\([0-9]*\) free=\([0-9]*\) .*/ns_Foo_bar_int=\1 ns_Foo_bar_double=\2 ns_Foo_baz=\3 ns_max_int_int_int=\4 ns_max_double_double_double=\5 free_function=\6/p' "$1" |
		tr ' ' '\n'
}
"$up" trace --count "p:$cx:ns::Foo::bar(int)" "p:$cx:ns::Foo::bar(double)" \
	"p:$cx:ns::Foo::baz" "p:$cx:ns::max<int>(int,int)" \
	"p:$cx:double ns::max<double>(double, double)" "p:$cx:free_function" -- "$cx" 7 \
	>"$tmp/cxx1.out" 2>"$tmp/cxx1.err"
st1=$?
"$up" trace --count "p:$cx:ns::Foo::bar(int)" "p:$cx:ns::Foo::bar(double)" \
	"p:$cx:ns::Foo::baz" "p:$cx:ns::max<int>(int,int)" \
	"p:ev/ns_max_double_double_double $cx:ns::max<double>(double,double)" \
	"p:$cx:free_function" -- "$cx" 7 >"$tmp/cxx2.out" 2>"$tmp/cxx2.err"
"$up" trace --count "p:$cx:ns::Foo::bar" -- "$cx" 1 >"$tmp/cxx3.out" 2>"$tmp/cxx3.err"
st3=$?
if expect_eq cxx_probe "$st1" 2 "exit status of a probe with a blank (one word per probe)" &&
	expect_eq cxx_probe "$(counts "$tmp/cxx2.out")" "$(progcounts "$tmp/cxx2.out" | sort)" \
		"event counts vs the program's own (7 rounds)" &&
	expect_eq cxx_probe "$(counts "$tmp/cxx2.out" | wc -l)" 6 "events counted" &&
	expect_eq cxx_probe "$st3" 1 "exit status of an ambiguous name" &&
	expect_grep cxx_probe "$tmp/cxx3.err" "'ns::Foo::bar' is ambiguous in $cx: ns::Foo::bar(int) at 0x$(awk '$2 == "ns::Foo::bar(int)" { print $1 }' "$tmp/cxx.want"), ns::Foo::bar(double) at 0x$(awk '$2 == "ns::Foo::bar(double)" { print $1 }' "$tmp/cxx.want")" \
		"candidates listed"; then
	pass cxx_probe
fi

"$up" trace --count "p:$cx:ns::Foo::*" -- "$cx" 4 >"$tmp/w1.out" 2>"$tmp/w1.err"
"$up" trace --count "p:$cx:ns::*" "p:$cx:free_*" -- "$cx" 5 >"$tmp/w2.out" 2>"$tmp/w2.err"
"$up" trace --count "p:grp/fooev $cx:ns::Foo::bar*" -- "$cx" 3 >"$tmp/w3.out" 2>"$tmp/w3.err"
"$up" trace --count "p:$cx:nomatch::*" -- "$cx" 3 >"$tmp/w4.out" 2>"$tmp/w4.err"
st4=$?
if expect_eq cxx_wildcard "$(counts "$tmp/w1.out")" \
	"$(progcounts "$tmp/w1.out" | grep '^ns_Foo' | sort)" "ns::Foo::* counts vs the program's" &&
	expect_eq cxx_wildcard "$(counts "$tmp/w2.out")" \
		"$(progcounts "$tmp/w2.out" | sed 's/^free_function=/free_function_int=/' | sort)" \
		"ns::* and free_* counts vs the program's (free_* names free_function(int))" &&
	expect_eq cxx_wildcard "$(counts "$tmp/w3.out" | tr '\n' ' ')" "fooev=3 fooev_2=6 " \
		"a given event name, numbered per function (address order)" &&
	expect_eq cxx_wildcard "$st4" 1 "exit status without a match" &&
	expect_grep cxx_wildcard "$tmp/w4.err" "no function of $cx matches 'nomatch::*'" "message"; then
	pass cxx_wildcard
fi

# A function with a part elsewhere (g++ -O2 moved its throw: split(int) [clone .cold]): its
# name is the function's, not ambiguous with the part no call enters; counted as the program
# counts it, by uprobe trace and by uprobe -e.
"$up" trace --count "p:$cx:split" -- "$cx" 4 >"$tmp/cold1.out" 2>"$tmp/cold1.err"
st=$?
"$up" -e "uprobe:$cx:split { @ = count(); }" -c "$cx 5" >"$tmp/cold2.out" 2>"$tmp/cold2.err"
nm -C "$cx" >"$tmp/cold.nm"
if expect_grep cxx_cold_part "$tmp/cold.nm" "split(int) [clone .cold]" \
	"nm -C: the part (else this case tests nothing)" &&
	expect_eq cxx_cold_part "$st:$(counts "$tmp/cold1.out")" "0:split=4" \
		"status:count ($(cat "$tmp/cold1.err"))" &&
	expect_eq cxx_cold_part "$(sed -n 's/.* split=\([0-9]*\) .*/\1/p' "$tmp/cold1.out")" 4 \
		"the program's count" &&
	expect_eq cxx_cold_part "$(grep '^@' "$tmp/cold2.out")" "@: 5" \
		"uprobe -e ($(cat "$tmp/cold2.err"))"; then
	pass cxx_cold_part
fi

# ---- two static functions of one name --------------------------------------------------------
# dup_target's two ticks (glibc has 14 free_mem): a glob probes each by its file offset
# (event tick, then tick_2, by address), its count the program's; the plain name is
# ambiguous; uprobe -e's func names both tick, and probe is one key, as bpftrace's string.
dt="$bin/dup_target"
"$up" trace --count "p:$dt:tic*" -- "$dt" >"$tmp/dup1.out" 2>"$tmp/dup1.err"
st1=$?
"$up" trace --count "p:$dt:tick" -- "$dt" >/dev/null 2>"$tmp/dup2.err"
st2=$?
"$up" -e "uprobe:$dt:tic* { @[func] = count(); @p[probe] = count(); }
	uretprobe:$dt:tic* { @r[func] = sum(retval); }" -c "$dt" >"$tmp/dup3.out" 2>"$tmp/dup3.err"
st3=$?
if expect_eq dup_names "$st1 $st2 $st3" "0 1 0" "status: glob, plain name, uprobe -e" &&
	expect_eq dup_names "$(counts "$tmp/dup1.out" | tr '\n' ' ')" "tick=3 tick_2=5 " \
		"the glob's counts ($(cat "$tmp/dup1.err"))" &&
	expect_eq dup_names "$(grep -c '^36$' "$tmp/dup1.out")" 1 "the program's output" &&
	expect_grep dup_names "$tmp/dup2.err" "'tick' is ambiguous in $dt: tick at 0x" \
		"the plain name" &&
	expect_eq dup_names "$(grep '^@' "$tmp/dup3.out" | sort | tr '\n' ' ')" \
		"@[tick]: 8 @p[uprobe:$dt:tick]: 8 @r[tick]: 36 " \
		"uprobe -e: func, probe (one string: one key) ($(cat "$tmp/dup3.err"))"; then
	pass dup_names
fi

# ---- PLT ---------------------------------------------------------------------------------------
mt="$bin/malloc_target"
objdump -d "$mt" | sed -n 's/^0*\([0-9a-f]*\) <\([^*][^>]*@plt\)>:$/\1 \2/p' | sort >"$tmp/plt.want"
"$up" list "$mt" '*@plt' 2>/dev/null | awk '{ a = $1; sub(/^0x0*/, "", a); print a, $2 }' |
	sort >"$tmp/plt.got"
"$up" trace --count "p:$mt:malloc@plt" "p:$mt:free@plt" -- "$mt" 123 >"$tmp/plt.out" 2>&1
if expect_grep plt "$tmp/plt.want" " malloc@plt" "objdump names malloc@plt" &&
	expect_eq plt "$(cat "$tmp/plt.got")" "$(cat "$tmp/plt.want")" "stubs (objdump -d)" &&
	expect_eq plt "$(counts "$tmp/plt.out" | tr '\n' ' ')" "free_plt=123 malloc_plt=123 " \
		"calls through the stubs (123 rounds)"; then
	pass plt
fi

# ---- stripped ----------------------------------------------------------------------------------
s="$tmp/cxx_stripped"
strip --strip-all -o "$s" "$cx"
# Reference: every FDE start (readelf's pc=START..END) that is not a PLT stub.
readelf -wf "$s" 2>/dev/null | sed -n 's/.* FDE .*pc=0*\([0-9a-f]*\)\.\..*/\1/p' | sort -u >"$tmp/fde"
objdump -d "$s" | sed -n 's/^0*\([0-9a-f]*\) <.*@plt>:$/\1/p' | sort -u >"$tmp/pltaddr"
comm -23 "$tmp/fde" "$tmp/pltaddr" | awk '{ print $1, "fn_" $1 }' >"$tmp/st.want"
"$up" list "$s" 'fn_*' 2>/dev/null | awk '{ a = $1; sub(/^0x0*/, "", a); print a, $2 }' |
	sort >"$tmp/st.got"
bar=$(awk '$2 == "ns::Foo::bar(int)" { print $1 }' "$tmp/cxx.want")
baz=$(awk '$2 == "ns::Foo::baz()" { print $1 }' "$tmp/cxx.want")
"$up" trace --count "p:ev/bar $s:0x$bar" "p:ev/baz $s:fn_$baz" -- "$s" 6 >"$tmp/st.out" 2>&1
# ns::Foo::bar(int) starts with a multi-byte instruction: +1 is inside it.
first=$(objdump -d --start-address=0x$bar --stop-address=$((0x$bar + 16)) "$s" |
	awk -F'\t' '/^ *[0-9a-f]+:\t/ { n = split($2, b, " "); print n; exit }')
"$up" trace --count "p:$s:0x$(printf %x $((0x$bar + 1)))" -- "$s" 1 >"$tmp/mid.out" 2>&1
st=$?
if expect_eq stripped "$(readelf -S "$s" | grep -c '\.symtab')" 0 ".symtab left" &&
	expect_eq stripped "$(cat "$tmp/st.got")" "$(cat "$tmp/st.want")" \
		".eh_frame functions (readelf -wf, without PLT stubs)" &&
	expect_grep stripped "$tmp/st.got" "$bar fn_$bar" "ns::Foo::bar(int) among them" &&
	expect_eq stripped "$(counts "$tmp/st.out" | tr '\n' ' ')" "bar=6 baz=18 " \
		"counts by offset and by fn_ name (6 rounds)" &&
	expect_eq stripped "$st" 1 "exit status at +1 (first instruction: $first bytes)" &&
	expect_grep stripped "$tmp/mid.out" "offset +0x1 is inside the instruction at +0x0" "message"; then
	pass stripped
fi

# "START ROW" of the first FDE (the one at START, hex without 0x, when given) that starts as
# a function (CFA rsp+8) and has a second CFI row.
row2() {
	readelf -wF "$1" 2>/dev/null | awk -v want="${2:-}" '/ CIE / { fde = ""; next }
		/ FDE / { split($0, a, "pc="); split(a[2], b, "\\.\\."); fde = b[1]; n = 0
			sub(/^0+/, "", fde); if (want != "" && fde != want) fde = ""; next }
		fde != "" && /^[0-9a-f]+ / {
			if (++n == 1 && $2 != "rsp+8") fde = ""
			if (n == 2) { r = $1; sub(/^0+/, "", r); print fde, r; exit }
		}'
}
# The message for fn_ROW inside the function fn_START of file F.
inside_msg() { # F START ROW
	echo "'fn_$3' is not a function of $1: 0x$3 is inside fn_$2 (fn_$2+0x$(printf %x $((0x$3 - 0x$2))))"
}

"$up" list "$cx" 2>/dev/null | modes | sort >"$tmp/b.named"
"$up" list "$s" 'fn_*' 2>/dev/null | modes | sort >"$tmp/b.fde"
# Both lists' lines of the addresses that have a name in the unstripped file.
awk 'NR == FNR { named[$1] = 1; next } named[$1]' "$tmp/b.named" "$tmp/b.fde" >"$tmp/b.got"
awk 'NR == FNR { fde[$1] = 1; next } fde[$1]' "$tmp/b.fde" "$tmp/b.named" >"$tmp/b.want"
main_at=$(nm "$cx" | awk '$3 == "main" { a = $1; sub(/^0+/, "", a); print a }')
set -- $(row2 "$s" "$main_at")
"$up" trace --count "p:$s:fn_$2" -- "$s" 1 >"$tmp/row.p" 2>&1
st_p=$?
"$up" trace --count "r:$s:fn_$2" -- "$s" 1 >"$tmp/row.r" 2>&1
st_r=$?
"$up" trace --count "p:ev/in $s:fn_$1+0x$(printf %x $((0x$2 - 0x$1)))" -- "$s" 1 >"$tmp/row.ok" 2>&1
if expect_eq stripped_bounds "$(wc -l <"$tmp/b.want")" 10 \
	"functions of the unstripped file among the FDEs (main, _start, 7 C++, split's cold part)" &&
	expect_eq stripped_bounds "$(cat "$tmp/b.got")" "$(cat "$tmp/b.want")" \
		"modes and reasons, stripped vs unstripped" &&
	expect_eq stripped_bounds "${1:-}" "$main_at" "main's FDE: a function with two CFI rows" &&
	expect_eq stripped_bounds "$st_p $st_r" "1 1" "exit status of p: and r: on fn_$2" &&
	expect_grep stripped_bounds "$tmp/row.p" "$(inside_msg "$s" "$1" "$2")" "p: message" &&
	expect_grep stripped_bounds "$tmp/row.r" "$(inside_msg "$s" "$1" "$2")" "r: message" &&
	expect_eq stripped_bounds "$(counts "$tmp/row.ok")" "in=1" "fn_$1+offset counts main once"; then
	pass stripped_bounds
fi

# ---- the symbol cache ---------------------------------------------------------------------------
c=$tmp/cache
[ -f "$dbg" ] || skip symbol_cache "libc6-dbg not installed ($dbg)"
list_libc() { # CACHE_DIR DEBUG_DIR OUT (runtime addresses in reasons made ADDR)
	UPROBE_CACHE_DIR=$1 UPROBE_DEBUG_DIR=$2 "$up" list "$libc" 2>&1 |
		sed 's/0x7[0-9a-f]\{11\}/ADDR/g' >"$3"
}
ino() { ls -i "$c"/sym-*.usym 2>/dev/null | awk '{ print $1 }'; }
list_libc "" /usr/lib/debug "$tmp/sc.want"
list_libc "" /nonexistent "$tmp/sc.nodbg.want"
list_libc "$c" /usr/lib/debug "$tmp/sc.1"
i1=$(ino)
list_libc "$c" /usr/lib/debug "$tmp/sc.2"
i2=$(ino)
# The first entry's address (after the 168-byte header) made the largest: out of order.
printf '\377\377\377\377\377\377\377\377' | dd of="$(ls "$c"/sym-*.usym)" bs=1 seek=168 \
	conv=notrunc 2>/dev/null
list_libc "$c" /usr/lib/debug "$tmp/sc.3"
i3=$(ino)
list_libc "$c" /nonexistent "$tmp/sc.4"
i4=$(ino)
if [ -f "$dbg" ] && expect_eq symbol_cache "$(ls "$c" | grep -c '^sym-.*\.usym$')" 1 "sym-*.usym files" &&
	expect_eq symbol_cache "$(grep -c ' _int_malloc ' "$tmp/sc.want")" 1 "_int_malloc listed" &&
	expect_eq symbol_cache "$(cmp "$tmp/sc.1" "$tmp/sc.want" && cmp "$tmp/sc.2" "$tmp/sc.want")" "" \
		"lists with the cache (first, second) vs without" &&
	expect_eq symbol_cache "$i2" "$i1" "inode after the second list (mapped, not rewritten)" &&
	expect_eq symbol_cache "$(cmp "$tmp/sc.3" "$tmp/sc.want")" "" "list after the damage" &&
	expect_eq symbol_cache "$([ "$i3" != "$i2" ] && echo rewritten)" rewritten "damaged file" &&
	expect_eq symbol_cache "$(cmp "$tmp/sc.4" "$tmp/sc.nodbg.want")" "" \
		"list with UPROBE_DEBUG_DIR=/nonexistent" &&
	expect_eq symbol_cache "$([ "$i4" != "$i3" ] && echo rewritten)" rewritten \
		"file after another debug directory"; then
	pass symbol_cache
fi

# ---- Debian's stripped zstd --------------------------------------------------------------------
z=/usr/bin/zstd
if [ ! -x "$z" ] || readelf -S "$z" | grep -q '\.symtab'; then
	skip zstd_bounds "no stripped $z (apt-get install zstd)"
else
	readelf -wf "$z" 2>/dev/null |
		sed -n 's/.* FDE .*pc=0*\([0-9a-f]*\)\.\.0*\([0-9a-f]*\)$/\1 \2/p' |
		while read -r a e; do echo "$a $((0x$e - 0x$a))"; done | sort >"$tmp/z.size"
	objdump -d "$z" | sed -n 's/^0*\([0-9a-f]*\) <.*@plt>:$/\1/p' | sort -u >"$tmp/z.plt"
	"$up" list "$z" >"$tmp/z.list" 2>"$tmp/z.err"
	modes <"$tmp/z.list" | sed -n 's/^\([0-9a-f]*\) int3 the function ends \([0-9]*\) bytes after.*/\1 \2/p' |
		sort >"$tmp/z.ends"
	join "$tmp/z.ends" "$tmp/z.size" | awk '$2 != $3' >"$tmp/z.bad"
	set -- $(row2 "$z")
	echo hello >"$tmp/z.in"
	"$up" trace "r:$z:fn_$2" -- "$z" -q -f "$tmp/z.in" -o "$tmp/z.zst" >"$tmp/z.r" 2>&1
	st=$?
	if expect_eq zstd_bounds "$(grep -c ' fn_' "$tmp/z.list")" \
		"$(cut -d' ' -f1 "$tmp/z.size" | comm -23 - "$tmp/z.plt" | wc -l)" \
		"functions listed vs FDEs (readelf -wf) that are no PLT stub (objdump -d)" &&
		expect_eq zstd_bounds "$(head -n 3 "$tmp/z.bad")" "" \
			"'ends K bytes after the probe' vs the FDE's size (ADDR K SIZE)" &&
		expect_eq zstd_bounds "$st" 1 "exit status of r: on fn_$2" &&
		expect_grep zstd_bounds "$tmp/z.r" "$(inside_msg "$z" "$1" "$2")" "message" &&
		expect_eq zstd_bounds "$(ls "$tmp/z.zst" 2>/dev/null)" "" "zstd did not run"; then
		pass zstd_bounds
	fi
fi

exit $failed
