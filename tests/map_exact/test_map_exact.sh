#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace --count / --hist / --filter computed in the target (maps):
# exact at any hit rate. map_target makes THREADS x N calls of map_f(i % 5, i)
# (N / 5 per key and thread), with a forked child (-f), a thread that exits
# early (-e), a SIGKILL at the end (-k); launch and attach (-p) modes. Every
# count is derived from the arguments; the traced run's own output and status
# are the untraced run's.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=map_exact
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
tgt="$top/build/tests/map_exact/map_target"
probe="p:m/f $tgt:map_f k=%di"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

no_drops() { # name stderr-file
	expect_grep "$1" "$2" "counted in the target (maps): updates dropped: 0" "summary" &&
		expect_grep "$1" "$2" "lost events (rings full): 0" "summary"
}

# The check of issue 16: 4 threads x 5 M calls, 20,000,000 exactly.
if same_run exact20m --count -o "$tmp/20m.out" "$probe" -- "$tgt" 5000000 4; then
	expect_eq exact20m "$(cat "$tmp/20m.out")" "@events[f]: 20000000" "count" &&
		expect_grep exact20m "$tmp/exact20m.stderr" "m/f: 20000000 events" "summary" &&
		no_drops exact20m "$tmp/exact20m.stderr" && pass exact20m
fi

# Only the program's calls count: map_target calls pthread_create once a thread and
# neither poll nor clock_gettime, which the agent calls (its watcher's poll, its
# constructors' clock samples): count-only events, the count stub's path.
if same_run agent_calls --count -o /dev/null p:libc:poll p:libc:clock_gettime \
	p:libc:pthread_create -- "$tgt" 1000 4; then
	expect_eq agent_calls "$(grep -E 'uprobes/(poll|clock_gettime|pthread_create):' \
		"$tmp/agent_calls.stderr" | sed 's/ skipped.*//')" "  uprobes/poll: 0 events, 0
  uprobes/clock_gettime: 0 events, 0
  uprobes/pthread_create: 4 events, 0" "summary" && pass agent_calls
fi

# Per key, through --filter (in the target too): key 3 has N / 5 calls per thread, and
# as many in the forked child; the early thread's key 7 is filtered out.
n=200000
if same_run per_key --count --filter 'k==3' -o "$tmp/key.out" "$probe" -- "$tgt" -f -e $n 4
then
	expect_eq per_key "$(cat "$tmp/key.out")" "@events[f]: $((5 * n / 5))" "key 3" &&
		expect_grep per_key "$tmp/per_key.stderr" \
			"filtered out: $((5 * n + n / 10 - n))" "filtered" &&
		no_drops per_key "$tmp/per_key.stderr" && pass per_key
fi

# Fork, an early exit, a histogram of the keys: [0] [1] [2, 4) [4, 8) (7 of the early thread).
if same_run fork_hist --hist k -o "$tmp/hist.out" "$probe" -- "$tgt" -f -e $n 4; then
	expect_eq fork_hist "$(grep -E '^\[' "$tmp/hist.out" | sed 's/ *|.*//; s/  */ /g' |
		tr '\n' ';')" "[0] $n;[1] $n;[2, 4) $((2 * n));[4, 8) $((n + n / 10));" \
		"histogram rows" && no_drops fork_hist "$tmp/fork_hist.stderr" && pass fork_hist
fi

# --hist latency of a return probe, in the target: every call is in the histogram
# (the rows' counts add up to the calls; where they fall is the machine's business).
if same_run latency --hist latency -o "$tmp/lat.out" "r:m/fr $tgt:map_f" -- "$tgt" -e $n 4
then
	expect_eq latency "$(grep -E '^\[' "$tmp/lat.out" | sed 's/ *|.*//' |
		awk '{ n += $NF } END { print n }')" \
		$((4 * n + n / 10)) "calls in the histogram" &&
		expect_grep latency "$tmp/latency.stderr" "m/fr: $((4 * n + n / 10)) events" \
			"summary" && no_drops latency "$tmp/latency.stderr" && pass latency
fi

# The target SIGKILLs itself: what it counted is printed; the status is the untraced one (137).
if same_run sigkill --count -o "$tmp/kill.out" "$probe" -- "$tgt" -k $n 4; then
	expect_eq sigkill "$(cat "$tmp/kill.out")" "@events[f]: $((4 * n))" "count" &&
		pass sigkill
fi

# Attach mode: the target waits for a line on its FIFO ($tmp/NAME.fifo), made to go
# once uprobe says it is tracing; it makes its calls (-f: a child too; -k: then dies of
# SIGKILL) and writes "done" into it. attached NAME TARGET-OPTIONS... returns when
# "done" was read, with tpid and upid set (upid: uprobe itself, not a subshell).
attached() {
	fifo="$tmp/$1.fifo"
	out="$tmp/$1.out" err="$tmp/$1.stderr"
	shift
	mkfifo "$fifo"
	"$tgt" -w "$fifo" "$@" &
	tpid=$!
	wait_exec $tpid "$tgt"
	"$top/build/uprobe" trace -p $tpid --count -o "$out" "$probe" 2>"$err" &
	upid=$!
	tries=0
	while ! grep -q "tracing PID $tpid" "$err" 2>/dev/null && kill -0 $upid 2>/dev/null &&
		[ $tries -lt 6000 ]; do
		sleep 0.05
		tries=$((tries + 1))
	done
	echo go >"$fifo"
	cat "$fifo" >/dev/null
}

attach_case() { # name want target-options...
	name=$1
	want=$2
	shift 2
	attached "$name" "$@"
	wait $tpid 2>/dev/null
	wait $upid
	expect_eq "$name" "$(cat "$tmp/$name.out")" "@events[f]: $want" "count" &&
		no_drops "$name" "$tmp/$name.stderr" && pass "$name"
}
attach_case attach $((4 * n)) $n 4
attach_case attach_fork $((5 * n + n / 10)) -f -e $n 4
attach_case attach_kill $((4 * n)) -k $n 4

# Detach while the process runs on (SIGTERM: a background job ignores SIGINT): what
# was counted until then, exactly; the calls it makes afterwards are not probed, and
# it ends well.
attached detach -a $n 4
kill -TERM $upid
wait $upid
echo again >"$fifo"
wait $tpid
tst=$?
expect_eq detach "$(cat "$tmp/detach.out")" "@events[f]: $((4 * n))" "count" &&
	expect_eq detach "$tst" 0 "the process's status" && no_drops detach "$tmp/detach.stderr" &&
	pass detach

exit $failed
