#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace in launch mode under qemu-aarch64 (docs/aarch64.md): the tracer
# (build-aarch64/uprobe) runs under qemu and starts COMMAND through the same
# qemu (UPROBE_QEMU), libuprobes.so preloaded. A p: and an r: probe with
# --count: the counts must be the number of calls exactly, and the program's
# output and exit status those of an unprobed run under qemu.
#   demo: app_hash in the demo program (once a word; it prints the number).
#   sqlite: sqlite3_bind_int (p: and r:) and sqlite3_column_int64 (p:) in
#   arm64 libsqlite3, called by tests/aarch64/sqlite_app.c, which prints how
#   many times it called each.
#   cxx_app, cxx_app_pac: C++ exceptions through return probes (below).
#   args: the language's arg6, arg7 (x6, x7) with uprobe -e.
#   stop: a command that does not end (tests/aarch64/loop_app.c): a first
#   SIGTERM to uprobe stops tracing (summary) and the command runs on; a second
#   is passed on to it, and uprobe exits with 143.
# Every run is under timeout: a run that hangs is a failure, not a hang.
#
# The loader: qemu runs the program's PT_INTERP, /lib/ld-linux-aarch64.so.1,
# from QEMU_LD_PREFIX first. With the cross toolchain's sysroot there
# (/usr/aarch64-linux-gnu, libc6-arm64-cross 2.36-8) and libc6:arm64 installed
# (2.36-9+deb12u14, which the libraries the agent needs come with), a program
# ran that ld.so with the other package's libc.so.6: their _rtld_global differ
# (4512 and 4520 bytes), and the first pthread_create (the agent's thread) spun
# for ever walking a list of stacks that libc reads at the wrong place. So this
# test runs without QEMU_LD_PREFIX when the host has /lib/ld-linux-aarch64.so.1,
# the loader of the same package as its libc.
# Usage: test_trace.sh BUILD_DIR   (make check-aarch64 passes build-aarch64)
b=${1:-build-aarch64}
qemu=${QEMU:-qemu-aarch64}
limit=${A64_TRACE_TIMEOUT:-40}
[ -e /lib/ld-linux-aarch64.so.1 ] && unset QEMU_LD_PREFIX
qemu_path=$(command -v "$qemu")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
failed=0

# run NAME OUT -- COMMAND...: COMMAND under qemu and timeout, stdout in OUT,
# stderr in OUT.err; its exit status, 124 or more when it timed out.
run() {
	out=$2
	shift 3
	timeout -k 5 "$limit" "$qemu" "$@" >"$out" 2>"$out.err"
}

# case NAME PROG WANT_COUNTS PROBE...: the traced run against the unprobed one.
# WANT_COUNTS: the --count lines, computed from the unprobed run's output.
check() {
	name=$1 prog=$2 want=$3
	shift 3
	why=""
	run "$name" "$tmp/$name.plain" -- "$prog"
	plain_st=$?
	UPROBE_QEMU=$qemu_path run "$name" "$tmp/$name.traced" -- "$b/uprobe" trace --count \
		-o "$tmp/$name.counts" "$@" -- "$prog"
	st=$?
	[ $st -ge 124 ] && why="$why; timed out after ${limit} s (status $st; a loader and a libc of two builds? see this file's head)"
	[ $st = "$plain_st" ] || why="$why; exit status $st, unprobed $plain_st"
	cmp -s "$tmp/$name.plain" "$tmp/$name.traced" ||
		why="$why; output '$(head -c 300 "$tmp/$name.traced")', unprobed '$(head -c 300 "$tmp/$name.plain")'"
	got=$(LC_ALL=C sort "$tmp/$name.counts" 2>/dev/null)
	[ "$got" = "$want" ] || why="$why; counts '$got', want '$want'"
	for p in "$@"; do
		ev=${p%% *}
		ev=${ev##*:}
		[ "${p%%:*}" = r ] && ev=${ev}__return
		grep -q "^  uprobes/$ev: .* mode optimized" "$tmp/$name.traced.err" ||
			why="$why; no 'uprobes/$ev: ... mode optimized' in the summary"
	done
	if [ -z "$why" ]; then
		echo "PASS: aarch64_trace/$name"
	else
		echo "FAIL: aarch64_trace/$name: ${why#; }; stderr: $(head -c 600 "$tmp/$name.traced.err")"
		failed=1
	fi
}

app=$b/demo/app
run demo_plain "$tmp/words" -- "$app"
words=$(sed -n 's/^app: \([0-9]*\) words.*/\1/p' "$tmp/words")
if [ -z "$words" ] || [ "$words" -lt 5 ]; then
	echo "FAIL: aarch64_trace/demo: unprobed run: $(cat "$tmp/words" "$tmp/words.err")"
	failed=1
else
	check demo "$app" "@events[app_hash]: $words
@events[app_hash__return]: $words" "p:$app:app_hash" "r:$app:app_hash"
fi

sq=$b/tests/aarch64/sqlite_app
run sqlite_plain "$tmp/sq" -- "$sq"
set -- $(sed -n 's/^sqlite_app: total [0-9]*, sqlite3_bind_int \([0-9]*\), sqlite3_column_int64 \([0-9]*\)$/\1 \2/p' \
	"$tmp/sq")
if [ $# != 2 ] || [ "$1" -lt 100 ] || [ "$2" -lt 100 ]; then
	echo "FAIL: aarch64_trace/sqlite: unprobed run: $(cat "$tmp/sq" "$tmp/sq.err")"
	failed=1
else
	check sqlite "$sq" "@events[sqlite3_bind_int]: $1
@events[sqlite3_bind_int__return]: $1
@events[sqlite3_column_int64]: $2" "p:libsqlite3:sqlite3_bind_int" "r:libsqlite3:sqlite3_bind_int" \
		"p:libsqlite3:sqlite3_column_int64"
fi
# cxx: C++ exceptions thrown through functions with return probes. The hijack's
# x30 is saved in their frame records (plain: cxx_app; signed by paciasp:
# cxx_app_pac), where the throw's unwinder must read the real return address
# (core/retprobe.c, unhook_saved): output as unprobed, every return counted
# once, those thrown through too (work n, thrower 2n, passthru n).
for v in cxx_app cxx_app_pac; do
	cx=$b/tests/aarch64/$v
	run ${v}_plain "$tmp/$v" -- "$cx"
	n=$(sed -n 's/^rounds \([0-9]*\), sum -*[0-9]*, caught [0-9]*$/\1/p' "$tmp/$v")
	if [ -z "$n" ] || [ "$n" -lt 3 ]; then
		echo "FAIL: aarch64_trace/$v: unprobed run: $(cat "$tmp/$v" "$tmp/$v.err")"
		failed=1
	else
		check "$v" "$cx" "@events[passthru__return]: $n
@events[thrower__return]: $((2 * n))
@events[work__return]: $n" "r:$cx:work" "r:$cx:thrower" "r:$cx:passthru"
	fi
done
# args: the language's arg6 and arg7 are x6 and x7 on aarch64 (x86-64 refuses them:
# six argument registers). uprobe -e counts sum8's calls by each; output as unprobed.
ap=$(cd "$b/tests/aarch64" && pwd)/args_app
run args_plain "$tmp/args" -- "$ap"
UPROBE_QEMU=$qemu_path run args "$tmp/args.traced" -- "$b/uprobe" -e \
	"uprobe:$ap:sum8 { @a6[arg6] = count(); @a7[arg7] = count(); @a0[arg0 < 20] = count(); }" \
	-- "$ap"
st=$?
got=$(grep '^@' "$tmp/args.traced" | LC_ALL=C sort | tr '\n' ' ')
want="@a0[0]: 20 @a0[1]: 20 @a6[0]: 10 @a6[1]: 10 @a6[2]: 10 @a6[3]: 10 @a7[100]: 20 @a7[101]: 20 "
why=""
[ $st = 0 ] || why="$why; exit status $st"
[ "$got" = "$want" ] || why="$why; maps '$got', want '$want'"
grep -q '^args_app: 40 calls, total ' "$tmp/args" || why="$why; unprobed run: $(cat "$tmp/args")"
grep -qF "$(cat "$tmp/args")" "$tmp/args.traced" || why="$why; program output not as unprobed"
if [ -z "$why" ]; then
	echo "PASS: aarch64_trace/args"
else
	echo "FAIL: aarch64_trace/args: ${why#; }; stderr: $(head -c 600 "$tmp/args.traced.err")"
	failed=1
fi
# stop: uprobe (under qemu) in the background, its events on stdout as they come.
lp=$b/tests/aarch64/loop_app
UPROBE_QEMU=$qemu_path timeout -k 5 "$limit" "$qemu" "$b/uprobe" trace "p:$lp:loop_tick" -- "$lp" \
	>"$tmp/stop" 2>"$tmp/stop.err" &
upid=$!
why=""
# await FILE PATTERN: up to $limit s for a line of FILE to match.
await() {
	i=0
	until grep -q "$2" "$1"; do
		i=$((i + 1))
		[ $i -gt $((limit * 10)) ] && return 1
		sleep 0.1
	done
}
cpid=""
if ! await "$tmp/stop" ': loop_tick: '; then
	why="no loop_tick event within $limit s"
else
	# timeout's child, qemu running uprobe; its child, qemu running loop_app.
	qpid=$(echo $(cat /proc/$upid/task/*/children 2>/dev/null))
	cpid=$(echo $(cat /proc/${qpid:-0}/task/*/children 2>/dev/null))
	kill -TERM "$qpid"
	await "$tmp/stop.err" '^uprobe: 1 process image' || why="no summary after a SIGTERM"
	kill -0 "$cpid" 2>/dev/null || why="$why; the command ended at the first SIGTERM"
	kill -TERM "$qpid"
fi
wait "$upid"
st=$?
[ "$st" = 143 ] || why="$why; uprobe's status $st, want 143 (the command's, SIGTERM)"
[ -n "$cpid" ] && kill -0 "$cpid" 2>/dev/null && why="$why; the command still runs" &&
	kill -KILL "$cpid"
if [ -z "$why" ]; then
	echo "PASS: aarch64_trace/stop"
else
	echo "FAIL: aarch64_trace/stop: ${why#; }; stderr: $(head -c 600 "$tmp/stop.err")"
	failed=1
fi
exit $failed
