#!/bin/sh
# SPDX-License-Identifier: MIT
# The uprobe command built for aarch64 (build-aarch64/uprobe, against
# build-aarch64/libuprobes.so) under qemu-aarch64: `uprobe list` on the demo
# program (an EM_AARCH64 file): app_hash and main jump-optimized, _start without
# a return probe (no call enters it), exit status 0.
# (uprobe trace in launch mode under qemu: test_trace.sh.)
# Usage: test_cli.sh BUILD_DIR   (make check-aarch64 passes build-aarch64)
b=${1:-build-aarch64}
qemu=${QEMU:-qemu-aarch64}
export QEMU_LD_PREFIX=${QEMU_LD_PREFIX:-/usr/aarch64-linux-gnu}

out=$("$qemu" "$b/uprobe" list "$b/demo/app" 2>&1)
rc=$?
why=""
[ $rc = 0 ] || why="exit status $rc"
for want in 'app_hash  *optimized  *jump-optimized' 'main  *optimized  *jump-optimized' \
	'_start  *optimized .*no r: (no call enters it)' '^[0-9]* functions: '; do
	echo "$out" | grep -q "$want" || why="$why; no line matching '$want'"
done
if [ -z "$why" ]; then
	echo "PASS: aarch64_cli/list"
else
	echo "FAIL: aarch64_cli/list: $why; output: $out"
	exit 1
fi
