#!/bin/sh
# SPDX-License-Identifier: MIT
# The kernel backend end to end (docs/kernel-backend.md). Needs root and
# tracefs (mounted here when missing). Every test copies the programs and
# libktarget.so into its own directory: only its own processes map that copy,
# and events are also picked by pid, so tests of others running on this
# machine change no count here. No timing is asserted: waits are for output.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=kernel
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
upbg() { "$top/build/uprobe" trace "$@" & } # $! is uprobe's pid
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp "$top/build/tests/kernel/ktarget" "$top/build/tests/kernel/ktarget_other" \
	"$top/build/tests/kernel/libktarget.so" "$tmp/"
lib="$tmp/libktarget.so"
ev=/sys/kernel/tracing/dynamic_events

if [ "$(id -u)" != 0 ]; then
	skip all "needs root"
	exit 0
fi
tracefs_mount
if [ ! -w "$ev" ]; then
	skip all "no tracefs dynamic_events here"
	exit 0
fi

# wait_for FILE TEXT: until FILE holds TEXT (the tracer says it is ready), at most 60 s.
wait_for() {
	i=0
	while ! grep -q "$2" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		sleep 0.1
	done
}

# stop_tracer PID: Ctrl-C, and its exit status.
stop_tracer() {
	kill -INT "$1"
	wait "$1"
}

# per_pid JSON: "PID COMM COUNT" for each pid of the events, sorted by pid.
per_pid() {
	python3 -c '
import json, sys, collections
c = collections.Counter()
for line in open(sys.argv[1]):
    e = json.loads(line)
    c[(e["pid"], e["comm"])] += 1
for (pid, comm), n in sorted(c.items()):
    print(pid, comm, n)' "$1"
}

# 1. Two processes of one binary (one started before the tracer, one after) and
# a third program mapping the same library: every one traced, counts exact per pid.
mkfifo "$tmp/f1" "$tmp/f2" "$tmp/f3"
"$tmp/ktarget" 5 "$tmp/f1" >/dev/null &
p1=$!
upbg -a -f json -o "$tmp/all.json" "p:$lib:kt_work i=%di:s64" 2>"$tmp/all.err"
tr=$!
# The same events counted by pid, and by comm for one comm only (--count-by, --comm).
upbg -a --count-by pid -o "$tmp/bypid.out" "p:$lib:kt_work" 2>"$tmp/bypid.err"
trp=$!
upbg -a --count-by comm --comm ktarget_other -o "$tmp/bycomm.out" "p:$lib:kt_work" \
	2>"$tmp/bycomm.err"
trc=$!
if wait_for "$tmp/all.err" "Ctrl-C to stop" && wait_for "$tmp/bypid.err" "Ctrl-C to stop" &&
	wait_for "$tmp/bycomm.err" "Ctrl-C to stop"; then
	"$tmp/ktarget" 7 "$tmp/f2" >/dev/null &
	p2=$!
	"$tmp/ktarget_other" 11 "$tmp/f3" >/dev/null &
	p3=$!
	echo x >"$tmp/f1"
	echo x >"$tmp/f2"
	echo x >"$tmp/f3"
	wait $p1 $p2 $p3
	stop_tracer $tr
	st=$?
	stop_tracer $trp
	stop_tracer $trc
	expect_eq processes "$st" 0 "uprobe's status ($(cat "$tmp/all.err"))" &&
		expect_eq processes "$(per_pid "$tmp/all.json" | grep -E "^($p1|$p2|$p3) ")" \
			"$(printf '%s ktarget 5\n%s ktarget 7\n%s ktarget_other 11' $p1 $p2 $p3 |
				sort -n)" "events per pid" &&
		pass processes
	expect_eq keys "$(grep -E "kt_work, ($p1|$p2|$p3)\]" "$tmp/bypid.out" | sort)" \
		"$(printf '@events[kt_work, %s]: 5\n@events[kt_work, %s]: 7\n@events[kt_work, %s]: 11' \
			$p1 $p2 $p3 | sort)" "--count-by pid" &&
		expect_eq keys "$(cat "$tmp/bycomm.out")" "@events[kt_work, ktarget_other]: 11" \
			"--count-by comm --comm ktarget_other" && pass keys
else
	kill -KILL $tr $trp $trc $p1 2>/dev/null
	fail processes "the tracer never said it was tracing: $(cat "$tmp/all.err")"
fi

# 2. --count alone: the kernel counts the hits (the uprobe PMU in counting mode), exact,
# and no trace event is made.
upbg -a --count -o "$tmp/count.out" "p:k/work $lib:kt_work" "r:k/ret $lib:kt_work" \
	2>"$tmp/count.err"
tr=$!
if wait_for "$tmp/count.err" "Ctrl-C to stop"; then
	lines=$(grep -c "uprobes_$tr/" "$ev")
	"$tmp/ktarget" 300 >/dev/null
	"$tmp/ktarget_other" 200 >/dev/null
	stop_tracer $tr
	expect_eq counting "$(cat "$tmp/count.out")" "@events[ret]: 500
@events[work]: 500" "kernel counts" &&
		expect_eq counting "$lines" 0 "trace events made (the uprobe PMU needs none)" &&
		expect_eq counting "$(grep -c 'counted by the kernel' "$tmp/count.err")" 1 \
			"the summary says how" && pass counting
else
	kill -KILL $tr 2>/dev/null
	fail counting "the tracer never said it was tracing: $(cat "$tmp/count.err")"
fi

# 2b. Counting, the tracer's own calls left out (its thread filtered, as when printing): a
# copy of libc that only this tracer and two sleeps load (LD_LIBRARY_PATH); the tracer
# naps in clock_nanosleep (10 a second), each sleep calls it once: 2, not 2 + the naps.
mkdir -p "$tmp/lc"
libc=$(ldd "$top/build/uprobe" | sed -n 's/.*libc.so.6 => \([^ ]*\) .*/\1/p')
cp -L "$libc" "$tmp/lc/libc.so.6"
LD_LIBRARY_PATH="$tmp/lc" upbg -a --count -o "$tmp/cself.out" \
	"p:k/nap $tmp/lc/libc.so.6:clock_nanosleep" 2>"$tmp/cself.err"
tr=$!
if wait_for "$tmp/cself.err" "Ctrl-C to stop"; then
	LD_LIBRARY_PATH="$tmp/lc" sleep 0.01
	LD_LIBRARY_PATH="$tmp/lc" sleep 0.01
	sleep 0.5 # the tracer's naps, which were counted too
	stop_tracer $tr
	expect_eq count_self "$(cat "$tmp/cself.out")" "@events[nap]: 2" "kernel counts" &&
		pass count_self
else
	kill -KILL $tr 2>/dev/null
	fail count_self "the tracer never said it was tracing: $(cat "$tmp/cself.err")"
fi

# 3. Differential: every fetch-arg type, through the agent and through the
# kernel, on the same deterministic run (no ASLR: $stack0 is an address of
# ktarget): the same events with the same values, in the same order.
spec="p:k/work $lib:kt_work i=%di:s64 i8=\$arg1:u8 ix=%di:x16 is8=%di:s8 \
s=+0(%si):string us=+0(%si):ustring neg=+0(%dx):s32 neg16=+0(%dx):s16 u16=+4(%dx):u16 \
fl=+6(%dx):x8 bf=+6(%dx):b3@2/8 tag=+7(%dx):char arr=+8(%dx):u32[4] arr8=+8(%dx):u8[3] \
name=+0(+24(%dx)):string nxt=+0(+32(%dx)):s32 nname=+0(+24(+32(%dx))):string \
big=+40(%dx):u64 bigx=+40(%dx):x64 a4=\$arg4:s64 a5=%r8:x32 a6=%r9:u32 a7=\$arg7:s64 \
a8=\$arg8:x32 ret0=\$stack0:x64 st1=\$stack1:u32 cm=\$comm imm=\\7:u32 ims=\\\"k\" r->big"
rspec="r:k/ret $lib:kt_work r=\$retval:s64 rx=\$retval:x8 cm=\$comm"
for b in agent kernel; do
	# Entry and return probes in two runs: the agent's entry probe of a function
	# with a return probe sees its return trampoline in $stack0 (docs/kernel-backend.md).
	setarch -R "$top/build/uprobe" trace -q --backend $b -f json -o "$tmp/diff.$b" "$spec" \
		-- "$tmp/ktarget" 6 >"$tmp/diff.$b.out" 2>"$tmp/diff.$b.err"
	st=$?
	setarch -R "$top/build/uprobe" trace -q --backend $b -f json -o "$tmp/diff.$b.r" "$rspec" \
		-- "$tmp/ktarget" 6 >>"$tmp/diff.$b.out" 2>>"$tmp/diff.$b.err"
	echo $st $? >"$tmp/diff.$b.status"
	cat "$tmp/diff.$b.r" >>"$tmp/diff.$b"
done
strip() { # what must agree: event, kind, comm, every value (not times, pids, addresses)
	python3 -c '
import json, sys
for line in open(sys.argv[1]):
    e = json.loads(line)
    print(e["event"], e["type"], e["comm"], json.dumps(e["args"], sort_keys=True))' "$1"
}
if expect_eq differential "$(cat "$tmp/diff.agent.status") $(cat "$tmp/diff.kernel.status")" \
	"0 0 0 0" "statuses ($(cat "$tmp/diff.kernel.err"))" &&
	expect_eq differential "$(strip "$tmp/diff.kernel" | wc -l)" 12 "events" &&
	expect_eq differential "$(strip "$tmp/diff.kernel")" "$(strip "$tmp/diff.agent")" \
		"kernel vs agent values" &&
	expect_eq differential "$(strip "$tmp/diff.kernel" | grep -c '"s": null')" 2 \
		"a NULL string is a fault (null) in both"; then
	pass differential
fi

# 4. -p with the kernel backend: that process's events only, though another
# process runs the same code at the same time.
mkfifo "$tmp/f4" "$tmp/f5"
"$tmp/ktarget" 9 "$tmp/f4" >/dev/null &
p4=$!
"$tmp/ktarget" 4 "$tmp/f5" >/dev/null &
p5=$!
upbg --backend kernel -p $p4 -f json -o "$tmp/pid.json" "p:$lib:kt_work" 2>"$tmp/pid.err"
tr=$!
if wait_for "$tmp/pid.err" "Ctrl-C to stop"; then
	echo x >"$tmp/f4"
	echo x >"$tmp/f5"
	wait $p4 $p5
	wait $tr # it ends with the process
	expect_eq pid "$(per_pid "$tmp/pid.json")" "$p4 ktarget 9" "events of -p $p4 only" &&
		pass pid
else
	kill -KILL $tr $p4 $p5 2>/dev/null
	fail pid "the tracer never said it was tracing: $(cat "$tmp/pid.err")"
fi

# 5. A SIGKILLed tracer leaves nothing: its guard removes the group (the time is
# shown, not asserted). A stale group of a dead tracer is removed at the next start.
sh -c 'exit 0' &
dead=$!
wait $dead
echo "p:uprobes_$dead/stale $lib:0x1000" >>"$ev"
upbg -a "p:$lib:kt_work" "r:$lib:kt_work" >/dev/null 2>"$tmp/kill.err"
tr=$!
if wait_for "$ev" "uprobes_$tr/"; then
	n=$(grep -c "uprobes_$tr/" "$ev")
	stale=$(grep -c "uprobes_$dead/" "$ev")
	kill -KILL $tr
	wait $tr 2>/dev/null
	t0=$(date +%s.%N)
	i=0
	while grep -q "uprobes_$tr/" "$ev" && [ $i -lt 300 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	t1=$(date +%s.%N)
	echo "  group removed $(echo "$t1 - $t0" | bc 2>/dev/null || echo "?") s after SIGKILL"
	expect_eq sigkill "$n $stale" "2 0" "lines of the tracer, then of the stale group" &&
		expect_eq sigkill "$(grep -c "uprobes_$tr/" "$ev")" 0 "lines left after SIGKILL" &&
		pass sigkill
else
	kill -KILL $tr 2>/dev/null
	echo "-:uprobes_$dead/" >>"$ev"
	fail sigkill "the tracer's group never appeared: $(cat "$tmp/kill.err")"
fi

# 6. Clear errors: no rights (an unprivileged user), a probe the kernel cannot take.
if command -v setpriv >/dev/null; then
	# uprobe from a copy the user reaches when the checkout is out of its reach (0700).
	pub=$(user_copies 65534 "$top/build/uprobe")
	nobody_up=${pub:+$pub/uprobe}
	out=$(setpriv --reuid=65534 --regid=65534 --clear-groups env ${pub:+LD_LIBRARY_PATH="$pub"} \
		"${nobody_up:-$top/build/uprobe}" trace -a "p:$lib:kt_work" 2>&1)
	st=$?
	[ -z "$pub" ] || rm -rf "$pub"
	expect_eq errors "$st" 1 "status without rights" &&
		expect_eq errors "$(echo "$out" | grep -c 'needs root, or CAP_PERFMON')" 1 \
			"the message ($out)"
fi
out=$(up -a "p:$lib:kt_work s=\$ustack" 2>&1)
st=$?
expect_eq errors "$st" 1 "status of \$ustack with -a ($out)" &&
	expect_eq errors "$(echo "$out" | grep -c 'use the agent backend')" 1 "the message ($out)" &&
	pass errors

# 7. An SDT marker with a semaphore (the kernel's ref_ctr_offset sets it in every
# process): a private copy of python3.11, the agent's count and the kernel's (-a) agree.
if [ -x /usr/bin/python3.11 ]; then
	cp /usr/bin/python3.11 "$tmp/py"
	printf 'def f(): pass\nfor i in range(5): f()\n' >"$tmp/s.py"
	usdt="usdt:$tmp/py:python:function__entry fn=+0(\$arg2):string"
	up -q --count "$usdt" -- "$tmp/py" "$tmp/s.py" >"$tmp/usdt.agent" 2>&1
	upbg -a --count-by comm -o "$tmp/usdt.kernel" "$usdt" 2>"$tmp/usdt.err"
	tr=$!
	if wait_for "$tmp/usdt.err" "Ctrl-C to stop"; then
		"$tmp/py" "$tmp/s.py"
		stop_tracer $tr
		n=$(sed -n 's/^@events\[function__entry\]: //p' "$tmp/usdt.agent")
		expect_eq usdt "$(cat "$tmp/usdt.kernel")" "@events[function__entry, py]: $n" \
			"the kernel's count, the agent's $n ($(cat "$tmp/usdt.err"))" &&
			expect_eq usdt "$(grep -c '(0x[0-9a-f]*) fn=' "$tmp/usdt.err")" 1 \
				"the semaphore in the line" && pass usdt
	else
		kill -KILL $tr 2>/dev/null
		fail usdt "the tracer never said it was tracing: $(cat "$tmp/usdt.err")"
	fi
fi

# 8. uprobe list says which backend takes a probe where.
out=$("$top/build/uprobe" list -b "$lib" 2>/dev/null)
expect_eq list "$(echo "$out" | awk '$2 == "kt_work" { print $NF }')" "kernel]" \
	"kt_work's backends ($out)" &&
	expect_eq list "$(echo "$out" | grep -c 'kt_work .*\[backends: agent kernel\]$')" 1 \
		"kt_work: both" && pass list

# 9. --hist latency: the kernel's return events carry no entry time; a hidden entry
# probe per return probe, paired by thread in the tracer. Every call in the histogram.
upbg -a --hist latency -o "$tmp/lat.out" "r:$lib:kt_work" 2>"$tmp/lat.err"
tr=$!
if wait_for "$tmp/lat.err" "Ctrl-C to stop"; then
	lines=$(grep -c "uprobes_$tr/" "$ev")
	"$tmp/ktarget" 50 >/dev/null
	"$tmp/ktarget_other" 30 >/dev/null
	stop_tracer $tr
	st=$?
	total=$(awk '/^\[/ { sub(/^\[[^])]*[])] */, ""); s += $1 } END { print s + 0 }' "$tmp/lat.out")
	expect_eq latency "$st" 0 "status ($(cat "$tmp/lat.err"))" &&
		expect_eq latency "$lines" 2 "the return probe and its hidden entry" &&
		expect_eq latency "$total" 80 "calls in @latency ($(cat "$tmp/lat.out"))" &&
		expect_eq latency "$(grep -c 'kt_work__return: 80 events' "$tmp/lat.err")" 1 \
			"the summary counts the returns only" && pass latency
else
	kill -KILL $tr 2>/dev/null
	fail latency "the tracer never said it was tracing: $(cat "$tmp/lat.err")"
fi

# 10. Every process's malloc, printed (-f json): the tracer's own thread is filtered out in
# the kernel (its reading and writing malloc: each record would make more), and Ctrl-C
# disables the probes before the last drain. Still there 10 s after SIGINT: failed.
upbg -a -f json -o "$tmp/self.json" "p:libc:malloc" 2>"$tmp/self.err"
tr=$!
if wait_for "$tmp/self.err" "Ctrl-C to stop"; then
	"$tmp/ktarget" 3 >/dev/null &
	kp=$!
	wait $kp
	if ! ends_on_signal $tr INT 10; then
		kill -KILL $tr
		wait $tr 2>/dev/null
		fail self_feed "still running 10 s after SIGINT"
	else
		wait $tr
		st=$?
		expect_eq self_feed "$st" 0 "status ($(cat "$tmp/self.err"))" &&
			expect_eq self_feed "$(per_pid "$tmp/self.json" | grep -c "^$tr ")" 0 \
				"the tracer's own mallocs" &&
			expect_eq self_feed "$(per_pid "$tmp/self.json" | grep -c "^$kp ktarget [1-9]")" \
				1 "the target's mallocs" && pass self_feed
	fi
else
	kill -KILL $tr 2>/dev/null
	fail self_feed "the tracer never said it was tracing: $(cat "$tmp/self.err")"
fi

exit $failed
