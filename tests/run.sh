#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every test program given on the command line; each prints PASS:/FAIL:
# lines. A program that exits non-zero without printing a FAIL line (a crash,
# a hang) counts as one failure of its own. Ends with the failures, each
# under its program: a FAIL line after the indented lines that gave its
# reason, or a crash's last lines; then "N passed, N failed".
#
# A program is stopped as hung (it, and every process it started) once it has
# printed nothing for TEST_TIMEOUT seconds (default 300): lack of progress,
# not total duration, so that a loaded machine only makes the suite slower.
# Each program's time is shown after its output (not a verdict).
#
# $TEST_SKIP (make check SANITIZE=1 sets it to tests/sanitize.skip) names a
# file of "NAME<tab>WHY" lines: a test program so named is not run, and a
# failure of a case so named ("FAIL: NAME") is printed and counted as
# "SKIP: NAME: WHY (failed)"; a program whose every failure is so skipped may
# exit with status 1 (that of failures) and no more.
#
# tests/known_defects, in the same form, names the cases that find a defect
# not fixed yet (each with its issue): their failures are printed and counted
# as "KNOWN: NAME: WHY (failed)", shown in the last lines, and do not fail the
# run. A case goes in only with a reproducer that fails, never to hide one.
#
# The programs after an argument "--forced" run with the new paths forced on
# (make check's second pass, docs/testing.md): UPROBE_ENTRY_PATH=lean-strict
# and UPROBE_RET_PATH=site-strict (no breakpoint at a function entry, no
# return-address hijack), UPROBE_INLINE=off (the stub, the shared body and the
# exits' C side, not the inline fast paths the first pass runs),
# DIFF_SEQS=1000, and tests/forced.skip as TEST_SKIP;
# their "==" and "--" lines say "(forced)".
known_file=$(dirname "$0")/known_defects
passed=0
failed=0
skipped=0
known=0
log=$(mktemp)
known_log=$(mktemp)
fail_log=$(mktemp)
pid=""
watch=""
trap 'rm -f "$log" "$log.skip" "$known_log" "$fail_log"' EXIT
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

# The reason NAME is skipped, or nothing.
skip_why() {
	[ -n "${TEST_SKIP:-}" ] && awk -F '\t' -v n="$1" '$1 == n { print $2; exit }' "$TEST_SKIP"
}

# The log with the FAIL lines of the cases file $1 names turned into $2 lines.
skip_cases() { # file SKIP|KNOWN
	awk -F '\t' -v as="$2" 'NR == FNR { if ($0 !~ /^#/ && NF > 1) why[$1] = $2; next }
		/^FAIL: / && substr($0, 7) in why { print as ": " substr($0, 7) ": " why[substr($0, 7)] " (failed)"; next }
		{ print }' "$1" "$log" >"$log.skip" && cat "$log.skip" >"$log"
}

# The FAIL lines of log $1, each after the indented lines that explain it (a
# shell test's fail() prints its reason so); a program that stopped with status
# $2 and no FAIL line is shown by its last lines (where it was, what it said).
failures() { # log rc
	if grep -q '^FAIL: ' "$1"; then
		awk '/^FAIL: / { for (i = 0; i < n; i++) print why[i]; print; n = 0; next }
			/^  / { if (n == 3) { why[0] = why[1]; why[1] = why[2]; n = 2 } why[n++] = $0; next }
			{ n = 0 }' "$1"
	else
		tail -n 8 "$1" | sed 's/^/  | /'
		echo "FAIL: exited with status $2"
	fi
}

forced=""
for t in "$@"; do
	if [ "$t" = --forced ]; then
		forced=" (forced)"
		export UPROBE_ENTRY_PATH=lean-strict UPROBE_RET_PATH=site-strict UPROBE_INLINE=off
		export DIFF_SEQS=1000
		TEST_SKIP=$(dirname "$0")/forced.skip
		continue
	fi
	echo "== $t$forced"
	why=$(skip_why "$t")
	if [ -n "$why" ]; then
		echo "SKIP: $t: $why"
		skipped=$((skipped + 1))
		continue
	fi
	start=$(date +%s)
	# A process group of its own: a hung test goes with all it started. With
	# SIGHUP's default action even when make runs under nohup: the tests of
	# uprobe's SIGHUP handling need it, and a shell cannot restore it.
	setsid env --default-signal=HUP "$t" >"$log" 2>&1 &
	pid=$!
	idle_watch "$pid" "$log" &
	watch=$!
	wait "$pid" 2>/dev/null
	rc=$?
	kill "$watch" 2>/dev/null
	wait "$watch" 2>/dev/null
	pid=""
	[ -n "${TEST_SKIP:-}" ] && skip_cases "$TEST_SKIP" SKIP
	[ -f "$known_file" ] && skip_cases "$known_file" KNOWN
	cat "$log"
	p=$(grep -c '^PASS: ' "$log")
	f=$(grep -c '^FAIL: ' "$log")
	s=$(grep -c '^SKIP: .* (failed)$' "$log")
	k=$(grep -c '^KNOWN: .* (failed)$' "$log")
	if [ "$rc" != 0 ] && [ "$f" = 0 ] && ! { [ "$rc" = 1 ] && [ $((s + k)) != 0 ]; }; then
		echo "FAIL: $t exited with status $rc"
		f=1
	fi
	if [ "$rc" = 0 ] && [ "$p" = 0 ] && [ "$f" = 0 ]; then
		echo "FAIL: $t ran no test case"
		f=1
	fi
	echo "-- $t$forced: $(($(date +%s) - start)) s"
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + s))
	known=$((known + k))
	grep '^KNOWN: ' "$log" >>"$known_log"
	[ "$f" = 0 ] || { echo "$t$forced:"; failures "$log" "$rc"; } >>"$fail_log"
done
[ "$skipped" = 0 ] || echo "$skipped skipped ($TEST_SKIP)"
[ "$known" = 0 ] || { cat "$known_log"; echo "$known known defects found again ($known_file)"; }
# The failures again, last: a log read from its end names them.
[ "$failed" = 0 ] || { echo "failures:"; sed 's/^/  /' "$fail_log"; }
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
