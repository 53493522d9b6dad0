#!/bin/sh
# SPDX-License-Identifier: MIT
# The demo program (demo/app.c, cross-built) under qemu-aarch64, unprobed and
# with a preload that puts probes on app_hash and libc's strtok_r before main,
# brk then jump: a64probe.so (a test stand-in for the agent, the arch layer
# alone), then a64api.so (the real library's core through the public API,
# uprobe_attach; its mode must be "optimized" in jump mode, not in brk mode).
# The output must be the unprobed run's, and the counts exact: app_hash once a
# word, strtok_r once a word and once more (the call that returns NULL); the
# program prints its number of words.
# Usage: test_demo.sh BUILD_DIR   (make check-aarch64 passes build-aarch64)
b=${1:-build-aarch64}
qemu=${QEMU:-qemu-aarch64}
app=$b/demo/app
dir=$(cd "$b/tests/aarch64" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

plain=$("$qemu" "$app")
words=$(echo "$plain" | sed -n 's/^app: \([0-9]*\) words.*/\1/p')
if [ -z "$words" ] || [ "$words" -lt 5 ]; then
	echo "FAIL: aarch64_demo/unprobed: unexpected output: $plain"
	exit 1
fi
failed=0
for pre in a64probe a64api; do
	for mode in brk jump; do
		out=$("$qemu" -E LD_PRELOAD="$dir/$pre.so" -E A64_PROBES=app_hash:strtok_r \
			-E A64_MODE=$mode "$app" 2>"$tmp/err")
		why=""
		[ "$out" = "$plain" ] || why="output '$out', unprobed '$plain'"
		for want in "app_hash $words" "strtok_r $((words + 1))"; do
			name=${want%% *}
			case $pre in
			a64probe) line="$pre: $want" ;;
			*) [ $mode = jump ] && line="$pre: $want optimized" ||
				line=$(grep -x "$pre: $want \(xol\|emulate\)" "$tmp/err") ;;
			esac
			grep -qx "$line" "$tmp/err" ||
				why="$why; $name: '$(grep " $name " "$tmp/err")', want '$want'"
		done
		case=$mode
		[ $pre = a64api ] && case=api_$mode
		if [ -z "$why" ]; then
			echo "PASS: aarch64_demo/$case"
		else
			echo "FAIL: aarch64_demo/$case: $why"
			failed=1
		fi
	done
done
exit $failed
