#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe list on broken ELF files: seeds of fuzz/corpus/elf (real files from
# gcc: symbols, DWARF and SDT notes, MiniDebugInfo, symbol versions, C++
# landing pads), cut at the edges of their structure and with bytes changed
# in their headers and sections (build/tests/hostile/elf_mutate, a fixed
# seed: the same 80 or so mutants of each every run; a run of uprobe list
# built with SANITIZE=1 takes half a second).
# Each run must end by itself (the runner's timeout bounds it) with status 0
# and its count line, or status 1 and a message "uprobe: ..."; never a signal,
# another status, or a sanitizer's report. One line per seed file.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
up="$top/build/uprobe"
corpus="$top/fuzz/corpus/elf"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
export UPROBE_DEBUG_DIR="$tmp/none"

# check DIR MUTANT: "" when uprobe list behaved, else what it did.
check() {
	(cd "$1" && "$up" list "./$2" >/dev/null 2>"$1.err")
	st=$?
	if grep -q 'runtime error\|Sanitizer' "$1.err"; then
		grep -m1 'runtime error\|Sanitizer' "$1.err"
	elif [ "$st" = 0 ]; then
		grep -q '^[0-9]* functions: ' "$1.err" || echo "status 0 without its count line"
	elif [ "$st" = 1 ]; then
		grep -q '^uprobe: ' "$1.err" || echo "status 1 without a message"
	else
		echo "status $st: $(tail -n 2 "$1.err" | tr '\n' ' ')"
	fi
}

# mutate SEED: its mutants through uprobe list; the verdict in $tmp/SEED.out.
mutate() {
	d="$tmp/$1"
	mkdir -p "$d"
	if ! n=$("$top/build/tests/hostile/elf_mutate" "$corpus/$1" "$d" 0x15e1f); then
		fail "mutate_$1" "elf_mutate failed on $corpus/$1"
		return
	fi
	bad=0
	for m in "$d"/t* "$d"/f*; do
		why=$(check "$d" "$(basename "$m")")
		[ -z "$why" ] && continue
		bad=$((bad + 1))
		[ "$bad" -le 5 ] && echo "  $1 mutant $(basename "$m"): $why"
	done
	if [ "$bad" = 0 ]; then
		pass "mutate_$1 ($n mutants)"
	else
		fail "mutate_$1" "$bad of $n mutants misbehaved (elf_mutate $1 DIR 0x15e1f rebuilds them)"
	fi
}

# Two seeds at a time (the machine's two cores): a sanitized build is slow.
for pair in "prog_debug prog_mini" "lib.so cxx"; do
	for seed in $pair; do
		mutate "$seed" >"$tmp/$seed.out" &
	done
	wait
	for seed in $pair; do
		cat "$tmp/$seed.out"
	done
done
grep -q '^FAIL: ' "$tmp"/*.out && exit 1
exit 0
