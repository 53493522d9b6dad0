#!/bin/sh
# SPDX-License-Identifier: MIT
# Run every test program given on the command line; each prints PASS:/FAIL:
# lines. A program that exits non-zero without printing a FAIL line (a crash,
# a timeout) counts as one failure of its own. Ends with "N passed, N failed".
passed=0
failed=0
log=$(mktemp)
trap 'rm -f "$log"' EXIT
for t in "$@"; do
	echo "== $t"
	timeout "${TEST_TIMEOUT:-300}" "$t" >"$log" 2>&1
	rc=$?
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
	passed=$((passed + p))
	failed=$((failed + f))
done
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
