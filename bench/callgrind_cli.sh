#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per hit of a count on the CLI's own path (the agent's handlers,
# not a bench's): spread_target calls spread_f0 3 x CALLS times under
#   uprobe trace -q --count -o /dev/null 'p:spread_target:spread_f0'
#   uprobe -e 'uprobe:spread_target:spread_f0 { @ = count(); }'
#   uprobe -e the latency idiom on spread_f0 (@start[tid] = nsecs at the entry,
#     hist(nsecs - @start[tid]) and the delete at the return; per call)
# with valgrind --trace-children=yes; the target's self count of every
# function the hits run through (those of at least half an instruction a hit,
# but the target's own loop and function, libc and ld.so), divided by the
# hits. Exact from run to run, load-independent. bench_lang -c measures its
# own handler; this one what `uprobe` runs.
# Usage: sh bench/callgrind_cli.sh [UPROBE] (CALLS=120000; another build's
# uprobe for a before/after beside this tree's target).
. "$(dirname "$0")/lib.sh"
uprobe=${1:-$up}
calls=${CALLS:-120000}
target=$top/build/bench/spread_target
if ! bench_has valgrind; then
	echo "callgrind_cli: valgrind is not installed"
	exit 0
fi

# hits MODE: run MODE (count, lang) under callgrind, print where its hits go.
hits() {
	d=$tmp/$1
	mkdir -p "$d"
	case $1 in
	count) set -- "$uprobe" trace -q --count -o /dev/null "p:$target:spread_f0" ;;
	lang) set -- "$uprobe" -e "uprobe:$target:spread_f0 { @ = count(); }" ;;
	latency) set -- "$uprobe" -e "uprobe:$target:spread_f0 { @start[tid] = nsecs; }
uretprobe:$target:spread_f0 /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }" ;;
	esac
	if ! valgrind --tool=callgrind --trace-children=yes --smc-check=all \
		--callgrind-out-file="$d/cg.%p" "$@" -- "$target" 1 "$calls" >"$d/out" 2>"$d/log"; then
		tail "$d/log"
		return 1
	fi
	if [ "$1" = lang ] && ! grep -qx "@: $((3 * calls))" "$d/out"; then
		echo "callgrind_cli: @ is not $((3 * calls)): $(grep '^@' "$d/out")"
		return 1
	fi
	n=$(awk '/^\[/ { sub(/^\[[^])]*[])] */, ""); s += $1 } END { print s + 0 }' "$d/out")
	if [ "$1" = latency ] && [ "$n" != $((3 * calls)) ]; then
		echo "callgrind_cli: @lat holds $n calls, not $((3 * calls))"
		return 1
	fi
	for f in "$d"/cg.*; do
		grep -q "^cmd: *[^ ]*spread_target 1 $calls" "$f" || continue
		callgrind_annotate --auto=no --threshold=100 "$f" | sed -n '/file:function/,$p' |
			awk -v h=$((3 * calls)) -v key="$mode" '
			NR > 2 && !/spread_target.c:main|spread_f0|ld-linux|libc\.so/ {
				v = $1
				gsub(",", "", v)
				if (v + 0 < h / 2)
					next
				fn = $0
				sub(/^ *[0-9,]+ *\([ 0-9.]+%\) */, "", fn)
				sub(/ \[.*$/, "", fn)
				sub(/^.*src\//, "", fn)
				if (fn ~ /^\?\?\?:0x/)
					fn = "trampoline and relocated copy (anonymous code)"
				printf "    %6.1f  %s\n", v / h, fn
				s += v
			}
			END { printf "%s_insns=%.1f\n", key, s / h }'
	done
}

st=0
for mode in count lang latency; do
	echo "$mode:"
	hits $mode >"$tmp/$mode.txt" || st=1
	grep -v '_insns=' "$tmp/$mode.txt"
	bench_sum "cli_${mode}_insns" "$(sed -n 's/.*_insns=//p' "$tmp/$mode.txt")"
done
bench_sum_print
exit $st
