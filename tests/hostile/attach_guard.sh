#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace -p SIGKILLed while its guard holds a thread in the delivery
# stop of an int3 probe's SIGTRAP (issue 15): the kernel drops a signal whose
# tracer dies there, and the thread ran on past the int3, into the middle of
# the probed instruction (SIGSEGV). The guard now outlives uprobe and lets the
# thread go with its signal. UPROBE_TEST_GUARD_PAUSE=FILE makes the guard keep
# the first thread that stops so and write its tid to FILE: uprobe is killed
# then, every time. The victim must live, compute what it computes untraced,
# no thread may stay traced, and no guard may stay behind. While the guard
# holds the thread, a second uprobe is refused with the first one's PID.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
up="$top/build/uprobe"
victim="$top/build/tests/hostile/attach_victim"
same="$top/tests/cli_attach/text_same.py"
probe="p:$victim:victim_tick r=%di"
tmp=$(mktemp -d)
bg=""
trap 'for p in $bg; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

running() { [ -e "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
threads_of() { sed -n 's/^Threads:\t//p' "/proc/$1/status"; }
# Tracer pids of the threads of $1 other than 0, one a line.
tracers_of() { cat /proc/$1/task/*/status 2>/dev/null | sed -n 's/^TracerPid:\t//p' | grep -v '^0$'; }
# Processes running this build's uprobe (a guard left behind).
uprobes() {
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/exe" 2>/dev/null)" = "$up" ] && echo "${p#/proc/}"
	done
}
# Up to 10 s for a condition (a command) to hold.
within() {
	n=0
	while ! "$@"; do
		n=$((n + 1))
		[ $n -ge 500 ] && return 1
		sleep 0.02
	done
	return 0
}
untraced() { [ -z "$(tracers_of $pid)" ]; }
no_uprobe() { [ -z "$(uprobes)" ]; }
settled() { ! running $pid || { "$same" $pid "$victim" >/dev/null 2>&1 && [ "$(threads_of $pid)" = 2 ]; }; }

"$victim" ref 1 >/dev/null 2>&1
if [ $? = 77 ]; then
	skip attach_guard_kill "no AVX2"
	exit 0
fi
if [ -n "$(uprobes)" ]; then
	skip attach_guard_kill "another run of this build's uprobe is going on"
	exit 0
fi
# The int3 path is what this tests; make check's forced pass refuses it at a function
# entry (UPROBE_ENTRY_PATH=lean-strict): victim_tick, a lone ret, is refused by name.
if forced_entry_path; then
	"$up" trace --count "$probe" -- "$victim" ref 1 >"$tmp/forced.out" 2>"$tmp/forced.err"
	expect_eq attach_guard_forced "$?" 1 "status" &&
		expect_eq attach_guard_forced "$(sed 's/: 0x[0-9a-f]*: /: ADDR: /' "$tmp/forced.err")" \
			"uprobe: cannot attach uprobes/victim_tick ($victim:victim_tick): ADDR: function \
entry not jump-optimized (the function ends 1 bytes after the probe, before the 5-byte \
jump would, and its padding is not nops) and UPROBE_ENTRY_PATH=lean-strict" "refusal" &&
		expect_eq attach_guard_forced "$(cat "$tmp/forced.out")" "" "the victim's output" &&
		pass attach_guard_forced
	exit "$failed"
fi

for sig in KILL; do
	name=attach_guard_$(echo $sig | tr A-Z a-z)
	rm -f "$tmp/in" "$tmp/held"
	mkfifo "$tmp/in"
	exec 3<>"$tmp/in"
	"$victim" run <"$tmp/in" >"$tmp/victim.out" 2>"$tmp/victim.err" 3>&- &
	pid=$!
	bg="$bg $pid"
	within grep -q running "$tmp/victim.err"
	UPROBE_TEST_GUARD_PAUSE="$tmp/held" "$up" trace -p $pid --count "$probe" \
		>"$tmp/up.out" 2>"$tmp/up.err" 3>&- &
	tracer=$!
	within sh -c "[ -s '$tmp/held' ] || ! kill -0 $tracer 2>/dev/null"
	what=""
	if [ ! -s "$tmp/held" ]; then
		what="the guard held no thread at a SIGTRAP: $(cat "$tmp/up.err")"
	else
		tid=$(head -1 "$tmp/held")
		state=$(sed 's/.*) //' "/proc/$pid/task/$tid/stat" | cut -d' ' -f1)
		[ "$state" = t ] || what="thread $tid held, but in state '$state', not t"
		# Meanwhile a second uprobe is told who attaches: uprobe, not its guard.
		"$up" trace -p $pid --count "$probe" >"$tmp/second.out" 2>&1
		sst=$?
		want="another uprobe (PID $tracer) is attaching"
		if [ $sst != 1 ] || ! grep -qF "$want" "$tmp/second.out"; then
			fail attach_guard_busy "status $sst, want 1 and '$want': $(cat "$tmp/second.out")"
		else
			pass attach_guard_busy
		fi
	fi
	kill -$sig $tracer
	wait $tracer
	st=$?
	[ -n "$what" ] || within untraced ||
		what="still traced after uprobe's death: tracers $(tracers_of $pid | tr '\n' ' ')"
	[ -n "$what" ] || within no_uprobe || what="a guard stayed behind: PIDs $(uprobes)"
	[ -n "$what" ] || within settled || what="the probe stayed in the victim"
	running $pid || what="$what; the victim died"
	exec 3>&-
	wait $pid
	vst=$?
	rounds=$(sed -n 's/^rounds //p' "$tmp/victim.out")
	"$victim" ref "${rounds:-0}" >"$tmp/ref.out"
	if [ -z "$what" ] && [ $vst != 0 ]; then
		what="the victim's status $vst: $(tail -2 "$tmp/victim.err" | tr '\n' ' ')"
	elif [ -z "$what" ] && ! cmp -s "$tmp/victim.out" "$tmp/ref.out"; then
		what="the victim's output differs from a reference run: $(diff "$tmp/victim.out" \
			"$tmp/ref.out" | tr '\n' ' ')"
	fi
	if [ -n "$what" ]; then
		fail $name "${what#; } (uprobe status $st, victim status $vst)"
	else
		pass $name
	fi
done
exit $failed
