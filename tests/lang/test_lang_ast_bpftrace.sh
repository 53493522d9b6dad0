#!/bin/sh
# SPDX-License-Identifier: MIT
# The AST dumps of tests/lang/cases/ast_*.out against bpftrace 0.17's own
# (`bpftrace -d`, "AST after: parser", its types stripped): the same tree.
# A library short name is resolved by bpftrace to its path; those lines are
# compared with the name put back. Skipped (PASS with a note) without bpftrace.
cd "$(dirname "$0")/cases" || exit 1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if ! command -v bpftrace >/dev/null; then
	echo "PASS: lang_ast_bpftrace (bpftrace not installed: not compared)"
	exit 0
fi
fail=0
for f in ast_*.bt; do
	name=${f%.bt}
	bpftrace -d "$f" 2>/dev/null | sed -n '/AST after: parser/,/AST after/p' | sed '1,2d;$d' |
		sed 's/ :: type.*//; /^$/d; s|uprobe:/lib/x86_64-linux-gnu/libc.so.6:|u:libc:|' >"$tmp/$name"
	sed -n "/^Program\$/,\$p" "$name.out" >"$tmp/$name.want" # without the warnings
	if cmp -s "$tmp/$name" "$tmp/$name.want"; then
		echo "PASS: lang_ast_bpftrace/$name"
	else
		echo "FAIL: lang_ast_bpftrace/$name"
		diff "$tmp/$name" "$tmp/$name.want" | head -20
		fail=1
	fi
done
exit $fail
