#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace on tests/hostile/hostile_target, a program that closes every
# descriptor it did not open (as a daemon does), installs its SIGTRAP handler
# with the raw system call, and puts a connection of its own where the
# tracer's socket was before it execs. Each traced run's output and status
# equal the untraced run's; counts are exact. Also: uprobe trace -p on such a
# daemon, and uprobe list on an ELF file without a single symbol.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
tgt="$top/build/tests/hostile/hostile_target"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# hostile_xol (lea; ret: 4 bytes) is too short for the entry's jump: its probe takes
# the int3 path, which make check's forced pass turns off (UPROBE_ENTRY_PATH=
# lean-strict). There its probe is refused by name (forced_xol), rawtrap (the int3
# path's own case) with it, and the other cases probe hostile_jmp alone: what the
# target does to the agent's descriptors is the same.
xol="p:h/xol $tgt:hostile_xol"
forced_entry_path && xol=""
# The counts of N calls of each probed function, as --count prints them.
counts() {
	echo "@events[jmp]: $1"
	[ -z "$xol" ] || echo "@events[xol]: $1"
}
# xol_refused NAME ARGS...: uprobe trace ARGS (hostile_xol's probe among them) ends
# with status 1 and the lean-strict refusal, the target not run.
xol_refused() {
	name=$1
	shift
	up "$@" >"$tmp/$name.stdout" 2>"$tmp/$name.stderr"
	expect_eq "$name" "$?" 1 "status" &&
		expect_eq "$name" "$(sed 's/: 0x[0-9a-f]*: /: ADDR: /' "$tmp/$name.stderr")" \
			"uprobe: cannot attach h/xol ($tgt:hostile_xol): ADDR: function entry not \
jump-optimized (the function ends 4 bytes after the probe, before the 5-byte jump would) \
and UPROBE_ENTRY_PATH=lean-strict" "refusal" &&
		expect_eq "$name" "$(cat "$tmp/$name.stdout")" "" "the target's output" &&
		pass "$name"
}
if forced_entry_path; then
	xol_refused forced_xol --count "p:h/xol $tgt:hostile_xol" "p:h/jmp $tgt:hostile_jmp" \
		-- "$tgt" closefds close_range 1000
fi

# The agent finds its channel gone and takes its probes out: the target waits
# for that (its text back to the file's), so the calls after it are not
# counted, and those before all are.
for how in close_range dup2; do
	if same_run "$how" --count -o "$tmp/$how.out" ${xol:+"$xol"} \
		"p:h/jmp $tgt:hostile_jmp" -- "$tgt" closefds "$how" 1000; then
		expect_eq "$how" "$(cat "$tmp/$how.out")" "$(counts 1000)" "counts" &&
			expect_eq "$how" "$(grep -o 'mode [a-z]*' "$tmp/$how.stderr" | sort | tr '\n' ' ')" \
				"mode optimized ${xol:+mode xol }" "modes in the summary" &&
			pass "$how"
	fi
done

# SIGTRAP taken with the raw rt_sigaction system call: the agent takes it
# back (the target waits for that), then every int3 hit is counted, and the
# target's own int3 still reaches its handler (the output says so).
if forced_entry_path; then
	xol_refused rawtrap --count -o "$tmp/rawtrap.out" "p:h/xol $tgt:hostile_xol" -- \
		"$tgt" rawtrap 1000
elif same_run rawtrap --count -o "$tmp/rawtrap.out" "p:h/xol $tgt:hostile_xol" -- \
	"$tgt" rawtrap 1000; then
	expect_eq rawtrap "$(cat "$tmp/rawtrap.out")" "@events[xol]: 1000" "counts" &&
		expect_eq rawtrap "$(grep -c 'mode xol' "$tmp/rawtrap.stderr")" 1 "mode xol" &&
		pass rawtrap
fi

# 200 threads at once, each claiming what a thread needs of the tracer's
# shared memory (a map shard; past 128 of them, the shared overflow shard):
# every call counted, the output the untraced run's.
if same_run threads --count -o "$tmp/threads.out" ${xol:+"$xol"} \
	"p:h/jmp $tgt:hostile_jmp" -- "$tgt" threads 200 500; then
	expect_eq threads "$(sort "$tmp/threads.out")" "$(counts 100000)" \
		"counts ($(cat "$tmp/threads.stderr"))" &&
		expect_eq threads "$(grep -c 'dropped: 0$' "$tmp/threads.stderr")" 1 "updates dropped" &&
		expect_eq threads "$(cat "$tmp/threads.stdout")" \
			"200 threads, 500 calls each, sum $((200 * (499 * 500 + 3 * 500)))" "output" &&
		pass threads
fi

# A connection of the target's own at the number of UPROBE_AGENT_FD: the
# exec'd image's agent does not say HELLO into it (and runs untraced).
if same_run reexec --count -o "$tmp/reexec.out" "${xol:-p:h/jmp $tgt:hostile_jmp}" -- \
	"$tgt" reexec; then
	expect_eq reexec "$(cat "$tmp/reexec.stdout")" "bytes in my connection: 0" "output" &&
		pass reexec
fi

# An ELF file without a single symbol: no qsort(NULL, 0) (undefined behaviour).
out=$(LD_PRELOAD="$top/build/tests/hostile/qsort_strict.so" "$top/build/uprobe" list \
	"$top/build/tests/hostile/nosyms" 2>&1)
expect_eq no_symbols "$?: $out" "0: 0 functions: 0 optimized, 0 int3, 0 refused" \
	"uprobe list's status and output" && pass no_symbols

# Poll for a condition (a command), every 10 ms, for 60 s at most.
wait_until() {
	n=0
	until "$@"; do
		n=$((n + 1))
		[ $n -gt 6000 ] && return 1
		sleep 0.01
	done
}
runs_target() { [ "$(readlink "/proc/$1/exe")" = "$tgt" ]; }

# uprobe trace -p on a running daemon that then closes every descriptor: the
# agent takes its probes out, the tracer sees the channel close and says so
# (status 1, the process runs on), the daemon's calls are all right.
"$tgt" daemon close_range 1000 >"$tmp/daemon.plain" &
pid=$!
st=none
if wait_until runs_target $pid; then
	up -p $pid --count -o "$tmp/daemon.out" ${xol:+"$xol"} \
		"p:h/jmp $tgt:hostile_jmp" 2>"$tmp/daemon.stderr" &
	upid=$!
	wait_until grep -q "tracing PID" "$tmp/daemon.stderr" && kill -USR1 $pid
	wait $upid
	st=$?
	wait_until grep -q "^2000 calls" "$tmp/daemon.plain"
fi
kill $pid
wait $pid
expect_eq daemon "$st" 1 "uprobe's status" &&
	expect_eq daemon "$(tail -1 "$tmp/daemon.stderr")" "uprobe: PID $pid closed its channel to \
uprobe and runs on (it closed its file descriptors?): its probes are out" "the last word" &&
	expect_eq daemon "$(cat "$tmp/daemon.out")" "$(counts 1000)" "counts" &&
	expect_eq daemon "$(cat "$tmp/daemon.plain")" "1000 calls, sum 1002000
2000 calls, sum 2004000" "the daemon's output" &&
	pass daemon

exit "$failed"
