#!/bin/sh
# SPDX-License-Identifier: MIT
# Conformance with bpftrace 0.17: each one-liner of oneliners.txt run by
# `uprobe -e` must print what bpftrace printed, output then messages (expected/NAME.out, written by
# rebase.sh from bpftrace itself). With LANG_CONF_LIVE=1 and bpftrace
# installed, bpftrace is also run now, on the same program, and compared.
# One-liners named json_* run with -f json.
dir=$(cd "$(dirname "$0")" && pwd)
uprobe=${UPROBE:-$dir/../../build/uprobe}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
grep -v '^#' "$dir/oneliners.txt" | {
	while IFS='	' read -r name prog; do
		[ -n "$name" ] || continue
		case $name in json_*) fmt=json ;; *) fmt=text ;; esac
		"$uprobe" -f $fmt -e "$prog" >"$tmp/got" 2>"$tmp/err" </dev/null
		cat "$tmp/err" >>"$tmp/got"
		if ! cmp -s "$tmp/got" "$dir/expected/$name.out"; then
			echo "FAIL: lang_conf/$name: $prog"
			diff "$dir/expected/$name.out" "$tmp/got" | head -20
			head -5 "$tmp/err"
			fail=1
			continue
		fi
		if [ "${LANG_CONF_LIVE:-0}" = 1 ] && command -v bpftrace >/dev/null; then
			bpftrace -f $fmt -e "$prog" >"$tmp/live" 2>"$tmp/lerr" </dev/null
			grep -v -e RLIMIT_MEMLOCK -e 'traceable functions' "$tmp/lerr" >>"$tmp/live"
			if ! cmp -s "$tmp/got" "$tmp/live"; then
				echo "FAIL: lang_conf/$name: bpftrace now prints otherwise"
				diff "$tmp/live" "$tmp/got" | head -20
				fail=1
				continue
			fi
		fi
		echo "PASS: lang_conf/$name"
	done
	exit $fail
}
