#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo program (demo/app.c, cross-built) under qemu-aarch64, unprobed and
# with a64probe.so preloaded (a test stand-in for the agent: probes on
# app_hash and libc's strtok_r before main, brk then jump). The output must be
# the unprobed run's, and the counts exact: app_hash once a word, strtok_r
# once a word and once more (the call that returns NULL); the program prints
# its number of words.
# Usage: test_demo.sh BUILD_DIR   (make check-aarch64 passes build-aarch64)
b=${1:-build-aarch64}
qemu=${QEMU:-qemu-aarch64}
app=$b/demo/app
pre=$(cd "$b/tests/aarch64" && pwd)/a64probe.so
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

plain=$("$qemu" "$app")
words=$(echo "$plain" | sed -n 's/^app: \([0-9]*\) words.*/\1/p')
if [ -z "$words" ] || [ "$words" -lt 5 ]; then
	echo "FAIL: aarch64_demo/unprobed: unexpected output: $plain"
	exit 1
fi
failed=0
for mode in brk jump; do
	out=$("$qemu" -E LD_PRELOAD="$pre" -E A64_PROBES=app_hash:strtok_r -E A64_MODE=$mode \
		"$app" 2>"$tmp/err")
	why=""
	[ "$out" = "$plain" ] || why="output '$out', unprobed '$plain'"
	grep -qx "a64probe: app_hash $words" "$tmp/err" ||
		why="$why; app_hash hits: $(grep app_hash "$tmp/err"), want $words"
	grep -qx "a64probe: strtok_r $((words + 1))" "$tmp/err" ||
		why="$why; strtok_r hits: $(grep strtok_r "$tmp/err"), want $((words + 1))"
	if [ -z "$why" ]; then
		echo "PASS: aarch64_demo/$mode"
	else
		echo "FAIL: aarch64_demo/$mode: $why"
		failed=1
	fi
done
exit $failed
