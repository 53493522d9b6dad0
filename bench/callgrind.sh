#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per hit of the jump-optimized path, counted by callgrind: a
# figure without timing noise, and where in the path they go. Runs
# "bench_probe -c CALLS" under valgrind; bench_probe dumps callgrind's counts
# after each row's loop of calls (native, optimized with an empty handler,
# with the two-argument handler, with xsavec), so each dump holds exactly one
# row. Usage: sh bench/callgrind.sh [bench_probe] (CALLS=100000 by default).
. "$(dirname "$0")/lib.sh"
bin=${1:-$top/build/bench/bench_probe}
calls=${CALLS:-100000}
if ! bench_has valgrind; then
	echo "callgrind: valgrind is not installed"
	exit 0
fi
dir=$tmp
# --smc-check=all: the library rewrites the text through /proc/self/mem,
# which valgrind's cached translations would not otherwise notice.
if ! valgrind --tool=callgrind --smc-check=all --callgrind-out-file="$dir/cg.out" \
	"$bin" -c "$calls" >"$dir/log" 2>&1; then
	cat "$dir/log"
	echo "callgrind: bench_probe failed under valgrind"
	exit 1
fi
grep -v '^==' "$dir/log"
echo
printf '%-20s %12s %12s\n' row insns/call insns/hit
base=
line=
i=1
while [ -f "$dir/cg.out.$i" ]; do
	f=$dir/cg.out.$i
	i=$((i + 1))
	key=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
	total=$(sed -n 's/^summary: *//p' "$f")
	if [ -z "$key" ] || [ -z "$total" ]; then
		continue
	fi
	[ -z "$base" ] && base=$total
	percall=$(bench_calc %.1f "$total / $calls")
	perhit=$(bench_calc %.1f "($total - $base) / $calls")
	printf '%-20s %12s %12s\n' "$key" "$percall" "$perhit"
	[ "$total" = "$base" ] || line="$line ${key%_ns}_insns=$perhit"
	# Where a hit's instructions go (self counts per call; the trampoline and
	# its relocated copy are anonymous code: "???:0x...").
	if [ "$key" = optimized_ns ] || [ "$key" = optimized_args_ns ]; then
		callgrind_annotate --auto=no --threshold=100 "$f" 2>/dev/null |
			awk -v n="$calls" '/ \[\?\?\?\]$|libuprobes\.so\]$|:bench_(target|[a-z]+_handler) / {
				gsub(",", "", $1)
				fn = $(NF - 1)
				sub(/^.*:/, "", fn)
				if ($NF == "[???]")
					fn = "trampoline and relocated copy (anonymous code)"
				printf "    %8.1f  %s\n", $1 / n, fn
			}'
	fi
done
echo "insns:$line"
