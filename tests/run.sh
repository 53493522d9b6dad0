#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every test program given on the command line; each prints PASS:/FAIL:
# lines. A program that exits non-zero without printing a FAIL line (a crash,
# a hang) counts as one failure of its own. Ends with "N passed, N failed".
#
# A program is stopped as hung (it, and every process it started) once it has
# printed nothing for TEST_TIMEOUT seconds (default 300): lack of progress,
# not total duration, so that a loaded machine only makes the suite slower.
# Each program's time is shown after its output (not a verdict).
passed=0
failed=0
log=$(mktemp)
pid=""
watch=""
trap 'rm -f "$log"' EXIT
trap '[ -n "$pid" ] && kill -KILL -"$pid" 2>/dev/null; exit 130' INT TERM

# Stop process group $1 once file $2 has not grown for TEST_TIMEOUT seconds.
idle_watch() {
	last=-1
	idle=0
	while sleep 1; do
		size=$(wc -c <"$2")
		if [ "$size" != "$last" ]; then
			last=$size
			idle=0
			continue
		fi
		idle=$((idle + 1))
		[ $idle -lt "${TEST_TIMEOUT:-300}" ] && continue
		echo "  no output for ${TEST_TIMEOUT:-300} s: stopped as hung" >>"$2"
		kill -TERM -"$1" 2>/dev/null
		sleep 5
		kill -KILL -"$1" 2>/dev/null
		return
	done
}

for t in "$@"; do
	echo "== $t"
	start=$(date +%s)
	# A process group of its own: a hung test goes with all it started.
	setsid "$t" >"$log" 2>&1 &
	pid=$!
	idle_watch "$pid" "$log" &
	watch=$!
	wait "$pid" 2>/dev/null
	rc=$?
	kill "$watch" 2>/dev/null
	wait "$watch" 2>/dev/null
	pid=""
	cat "$log"
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $t exited with status $rc"
		f=1
	fi
	if [ "$rc" = 0 ] && [ "$p" = 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $t ran no test case"
		f=1
	fi
	echo "-- $t: $(($(date +%s) - start)) s"
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
