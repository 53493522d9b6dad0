#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe list on broken ELF files: each seed of fuzz/corpus/elf (real files
# from gcc: symbols and DWARF, MiniDebugInfo, symbol versions, C++ landing
# pads, a debug link to a debug file beside it), cut at every edge of its
# structure and with bytes changed in its headers and sections
# (build/tests/hostile/elf_mutate, a fixed seed: the same mutants every run).
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
	(cd "$1" && "$up" list "./$2" >/dev/null 2>"$tmp/err")
	st=$?
	if grep -q 'runtime error\|Sanitizer' "$tmp/err"; then
		echo "$(grep -m1 'runtime error\|Sanitizer' "$tmp/err")"
	elif [ "$st" = 0 ]; then
		grep -q '^[0-9]* functions: ' "$tmp/err" || echo "status 0 without its count line"
	elif [ "$st" = 1 ]; then
		grep -q '^uprobe: ' "$tmp/err" || echo "status 1 without a message"
	else
		echo "status $st: $(tail -n 2 "$tmp/err" | tr '\n' ' ')"
	fi
}

for seed in prog_debug prog_mini prog_link_real lib.so cxx; do
	d="$tmp/$seed"
	mkdir -p "$d"
	cp "$corpus/prog.debug" "$d/real.debug"
	n=$("$top/build/tests/hostile/elf_mutate" "$corpus/$seed" "$d" 0x15e1f) || {
		fail "mutate_$seed" "elf_mutate failed on $corpus/$seed"
		continue
	}
	bad=0
	for m in "$d"/t* "$d"/f*; do
		why=$(check "$d" "$(basename "$m")")
		[ -z "$why" ] && continue
		bad=$((bad + 1))
		[ "$bad" -le 5 ] && echo "  $seed mutant $(basename "$m"): $why"
	done
	if [ "$bad" = 0 ]; then
		pass "mutate_$seed ($n mutants)"
	else
		fail "mutate_$seed" "$bad of $n mutants misbehaved (elf_mutate $seed DIR 0x15e1f rebuilds them)"
	fi
done
exit "$failed"
