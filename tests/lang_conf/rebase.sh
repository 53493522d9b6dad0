#!/bin/sh
# SPDX-License-Identifier: MIT
# Writes expected/NAME.out from bpftrace 0.17 for each one-liner of
# oneliners.txt (about a second each): its output, then its messages; the
# one-liners named json_* run with -f json. Read the diff before committing.
cd "$(dirname "$0")" || exit 1
bpftrace --version | grep -q 'v0.17' || { echo "rebase.sh: needs bpftrace 0.17" >&2; exit 1; }
grep -v '^#' oneliners.txt | while IFS='	' read -r name prog; do
	[ -n "$name" ] || continue
	case $name in json_*) fmt=json ;; *) fmt=text ;; esac
	bpftrace -f $fmt -e "$prog" >"expected/$name.out" 2>"expected/$name.tmp" </dev/null
	# its messages, without those about this machine's kernel setup
	grep -v -e RLIMIT_MEMLOCK -e 'traceable functions' "expected/$name.tmp" >>"expected/$name.out"
	rm -f "expected/$name.tmp"
done
