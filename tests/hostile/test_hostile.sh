#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace on tests/hostile/hostile_target, a program that closes every
# descriptor it did not open (as a daemon does), installs its SIGTRAP handler
# with the raw system call, and puts a connection of its own where the
# tracer's socket was before it execs. Each traced run's output and status
# equal the untraced run's; counts are exact.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
tgt="$top/build/tests/hostile/hostile_target"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The agent finds its channel gone and takes its probes out: the target waits
# for that (its text back to the file's), so the calls after it are not
# counted, and those before all are.
for how in close_range dup2; do
	if same_run "$how" --count -o "$tmp/$how.out" "p:h/xol $tgt:hostile_xol" \
		"p:h/jmp $tgt:hostile_jmp" -- "$tgt" closefds "$how" 1000; then
		expect_eq "$how" "$(cat "$tmp/$how.out")" "@events[jmp]: 1000
@events[xol]: 1000" "counts" &&
			expect_eq "$how" "$(grep -o 'mode [a-z]*' "$tmp/$how.stderr" | sort | tr '\n' ' ')" \
				"mode optimized mode xol " "modes in the summary" &&
			pass "$how"
	fi
done

# SIGTRAP taken with the raw rt_sigaction system call: the agent takes it
# back (the target waits for that), then every int3 hit is counted, and the
# target's own int3 still reaches its handler (the output says so).
if same_run rawtrap --count -o "$tmp/rawtrap.out" "p:h/xol $tgt:hostile_xol" -- \
	"$tgt" rawtrap 1000; then
	expect_eq rawtrap "$(cat "$tmp/rawtrap.out")" "@events[xol]: 1000" "counts" &&
		expect_eq rawtrap "$(grep -c 'mode xol' "$tmp/rawtrap.stderr")" 1 "mode xol" &&
		pass rawtrap
fi

# A connection of the target's own at the number of UPROBE_AGENT_FD: the
# exec'd image's agent does not say HELLO into it (and runs untraced).
if same_run reexec --count -o "$tmp/reexec.out" "p:h/xol $tgt:hostile_xol" -- "$tgt" reexec; then
	expect_eq reexec "$(cat "$tmp/reexec.stdout")" "bytes in my connection: 0" "output" &&
		pass reexec
fi

exit "$failed"
