#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe -e with probes in a traced process: the plan runs in the agent, on maps
# in the target (issue 16). Exact counts per key from 4 threads; the one-liners of
# oneliners.txt print bpftrace 0.17's map text (expected/, maps compared as sets,
# hist lines exactly; LANG_CONF_LIVE=1 also runs bpftrace now); the latency idiom
# counts every call; launch (-c, --) and attach (-p) modes; the target's output and
# status are the untraced run's. No timing is asserted.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
dir="$top/tests/lang_target"
suite=lang_target
. "$top/tests/lib.sh"
uprobe="$top/build/uprobe"
tgt="$top/build/tests/map_exact/map_target"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs of map lines ("@x[k]: v") sorted: bpftrace orders equal values by its hash.
maps_as_sets() {
	awk '/^@.*: [-0-9]+$/ { print | "sort"; next } { close("sort"); print }' "$1"
}

# What the target printed: the lines after "Attaching N probes...", up to the maps.
target_part() {
	awk 'NR == 1 { next } /^$/ { exit } { print }' "$1"
}

# The check of issue 16: 4 threads, N / 5 calls per key and thread, exactly.
n=500000
"$uprobe" -e "uprobe:$tgt:map_f { @[arg0] = count(); @c = count(); @s = sum(arg1); }" \
	-c "$tgt -s $n 4" >"$tmp/exact.out" 2>"$tmp/exact.err"
st=$?
want=$(printf 'Attaching 1 probe...\n'; "$tgt" -s $n 4; printf '\n\n'
	for k in 0 1 2 3 4; do echo "@[$k]: $((4 * n / 5))"; done
	echo "@c: $((4 * n))"; echo "@s: $((4 * n * (n - 1) / 2))"; echo)
got=$(maps_as_sets "$tmp/exact.out")
expect_eq exact "$st" 3 "the target's status" &&
	expect_eq exact "$got" "$want" "output" && expect_eq exact "$(cat "$tmp/exact.err")" "" \
		"stderr" && pass exact

# ++ and a keyless value map from 4 threads: exact (bpftrace 0.17's ++ is a read, then a
# write, and loses updates between CPUs).
"$uprobe" -e "uprobe:$tgt:map_f { @inc[arg0]++; @c++; @v = 7; } END { printf(\"c=%d\\n\", @c); }" \
	-c "$tgt 10000 4" >"$tmp/inc.out" 2>"$tmp/inc.err"
want=$(echo "c=40000"; echo; echo; echo "@c: 40000"; for k in 0 1 2 3 4; do echo "@inc[$k]: 8000"
	done; echo "@v: 7")
expect_eq increment "$(grep -v -e '^thread' -e '^total' -e '^Attaching' "$tmp/inc.out" |
	maps_as_sets /dev/stdin)" "$want" "output" && pass increment

# The same under "-- CMD ARGS"; the target's own output is the untraced run's.
"$uprobe" -e "uprobe:$tgt:map_f { @ = count(); }" -- "$tgt" -s 1000 4 >"$tmp/dash.out" 2>&1
st=$?
expect_eq dash_launch "$st" 3 "status" &&
	expect_eq dash_launch "$(target_part "$tmp/dash.out")" "$("$tgt" -s 1000 4)" "target output" &&
	expect_eq dash_launch "$(grep '^@' "$tmp/dash.out")" "@: 4000" "count" && pass dash_launch

# The latency idiom: every call's duration lands in the histogram.
"$uprobe" -e "uprobe:$tgt:map_f { @start[tid] = nsecs; }
uretprobe:$tgt:map_f /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }" \
	-c "$tgt 20000 4" >"$tmp/lat.out" 2>"$tmp/lat.err"
total=$(awk '/^\[/ { sub(/^\[[^])]*[])] */, ""); s += $1 } END { print s + 0 }' "$tmp/lat.out")
expect_eq latency "$total" 80000 "calls in @lat" && pass latency

# usdt: the marker's arguments (not the registers), str() of one of them.
usdt="$top/build/tests/usdt/usdt_target"
"$uprobe" -e "usdt:$usdt:utest:str { @s[str(arg0), arg1] = count(); }" -c "$usdt run 3" \
	>"$tmp/usdt.out" 2>"$tmp/usdt.err"
expect_eq usdt "$(grep '^@' "$tmp/usdt.out")" "$(printf '@s[item-%d, 6]: 1\n' 0 1 2)" "maps" &&
	pass usdt

# printf in a probe of the traced process: refused, naming the probe.
"$uprobe" -e "uprobe:$tgt:map_f { printf(\"%d\\n\", arg0); }" -c "$tgt 10 1" \
	>"$tmp/pf.out" 2>"$tmp/pf.err"
st=$?
expect_eq printf_refused "$st" 1 "status" &&
	expect_grep printf_refused "$tmp/pf.err" "uprobe:$tgt:map_f: printf(), print()" "message" &&
	pass printf_refused

# Attach mode: the target waits on its FIFO ($tmp/NAME.fifo) until uprobe -p says it
# is tracing, makes its calls and writes "done". attached NAME TARGET-OPTIONS... returns
# then, with tpid and upid set; uprobe's output in $tmp/NAME.out and .err.
attached() {
	fifo="$tmp/$1.fifo"
	out="$tmp/$1.out" err="$tmp/$1.err"
	shift
	mkfifo "$fifo"
	"$tgt" -w "$fifo" "$@" &
	tpid=$!
	"$uprobe" -e "uprobe:$tgt:map_f { @[arg0] = count(); }" -p $tpid >"$out" 2>"$err" &
	upid=$!
	wait_until $upid grep -q "tracing PID $tpid" "$err"
	echo go >"$fifo"
	cat "$fifo" >/dev/null
}

keys() { # per-key count: the maps uprobe prints
	printf 'Attaching 1 probe...\n\n\n'
	for k in 0 1 2 3 4; do echo "@[$k]: $1"; done
	echo
}

attached attach_pid 100000 4
wait $tpid
wait $upid
expect_eq attach_pid "$(maps_as_sets "$out")" "$(keys 80000)" "output" && pass attach_pid

# Detach (SIGTERM: a background job ignores SIGINT) while the process runs on: what was
# counted until then is printed; the calls it makes afterwards (-a) are not probed.
attached detach -a 100000 2
kill -TERM $upid
wait $upid
ust=$?
echo again >"$fifo"
wait $tpid
tst=$?
expect_eq detach "$ust.$tst" "0.0" "statuses" &&
	expect_eq detach "$(maps_as_sets "$out")" "$(keys 40000)" "output" && pass detach

# bpftrace's text: the one-liners on "map_target -s 1000 4".
grep -v '^#' "$dir/oneliners.txt" | while IFS='	' read -r name prog; do
	[ -n "$name" ] || continue
	prog=$(printf "%s" "$prog" | sed "s|TARGET|$tgt|g")
	exp="$dir/expected/$name.out"
	if [ "${LANG_TARGET_REBASE:-0}" = 1 ]; then
		bpftrace -e "$prog" -c "$tgt -s 1000 4" 2>/dev/null </dev/null | maps_as_sets /dev/stdin >"$exp"
	fi
	"$uprobe" -e "$prog" -c "$tgt -s 1000 4" 2>"$tmp/$name.err" </dev/null | maps_as_sets /dev/stdin \
		>"$tmp/$name.out"
	if ! grep -q '^@' "$exp"; then
		fail "$name" "expected/$name.out has no map (bpftrace refused it?)"
		continue
	fi
	if ! cmp -s "$tmp/$name.out" "$exp"; then
		fail "$name" "differs from bpftrace's: $(diff "$exp" "$tmp/$name.out" | head -8)
$(head -3 "$tmp/$name.err")"
		continue
	fi
	if [ "${LANG_CONF_LIVE:-0}" = 1 ] && command -v bpftrace >/dev/null; then
		bpftrace -e "$prog" -c "$tgt -s 1000 4" 2>/dev/null </dev/null | maps_as_sets /dev/stdin \
			>"$tmp/$name.live"
		if ! cmp -s "$tmp/$name.out" "$tmp/$name.live"; then
			fail "$name" "bpftrace now prints otherwise"
			continue
		fi
	fi
	pass "$name"
done
