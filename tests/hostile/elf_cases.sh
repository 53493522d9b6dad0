#!/bin/sh
# SPDX-License-Identifier: MIT
# ELF files that broke the sym layer, each found by fuzz_elf (fuzz/README.md)
# and kept in tests/hostile/elf_cases/ under the name of what it broke:
#  plt_rela_entsize   .rela.plt's sh_entsize larger than the section: no
#                     relocation, realloc(v, 0) freed the GOT names, then freed
#                     again (plt.c): uprobe list aborted (double free)
# and, as list_self, uprobe list on build/uprobe, the file of the running
# process (its jump tables read from memory: with SANITIZE=1 that crossed
# the redzones of its globals, an AddressSanitizer report).
# `uprobe list -q ./NAME` in that directory (no debug files: UPROBE_DEBUG_DIR
# is empty) must give exactly NAME.want: its stdout (the names), its stderr
# (the count line without the modes, which are not the sym layer's), its exit
# status. UPDATE=1 rewrites the .want files from what uprobe list gives.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
cases="$top/tests/hostile/elf_cases"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export UPROBE_DEBUG_DIR="$tmp/none"

for f in "$cases"/*; do
	case "$f" in *.want) continue ;; esac
	name=$(basename "$f")
	(
		cd "$cases" && "$top/build/uprobe" list -q "./$name" >"$tmp/out" 2>"$tmp/err"
		st=$?
		cat "$tmp/out"
		echo "--- stderr"
		sed 's/^\([0-9]* functions\): .*/\1/' "$tmp/err"
		echo "--- exit $st"
	) >"$tmp/got"
	if [ "${UPDATE:-0}" = 1 ]; then
		cp "$tmp/got" "$f.want"
	fi
	if [ ! -f "$f.want" ]; then
		fail "elf_$name" "no $f.want (UPDATE=1 writes it)"
	elif cmp -s "$tmp/got" "$f.want"; then
		pass "elf_$name"
	else
		fail "elf_$name" "uprobe list -q ./$name differs from $name.want: $(diff "$f.want" "$tmp/got" | head -20)"
	fi
done
"$top/build/uprobe" list "$top/build/uprobe" >"$tmp/self.out" 2>"$tmp/self.err"
st=$?
expect_eq list_self "$st" 0 "exit status of uprobe list build/uprobe: $(grep -m1 ERROR "$tmp/self.err")" &&
	expect_eq list_self "$(grep -c '^[0-9]* functions: ' "$tmp/self.err")" 1 "count line" &&
	pass list_self
exit "$failed"
