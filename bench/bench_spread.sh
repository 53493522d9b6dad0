#!/bin/sh
# SPDX-License-Identifier: MIT
# The cost of a count-only hit as the probes a program runs through spread:
# spread_target calls K of 4,096 distinct functions round a shuffled ring
# (spread_funcs.S); every one of the 4,096 is probed with
#   uprobe trace -q --count -o /dev/null 'p:spread_target:spread_f*'
# and the target times its own loop (the attach is not in it). Per K:
# untraced and traced runs interleaved, medians; the hit's cost is their
# difference. A microbenchmark's probe stays in L1 and its TLB; a server's
# thousands of probes do not (bench_redis), and this shows how much that costs.
#   spread16_ns, spread256_ns, spread4096_ns   ns per hit above the native call
# Options: -r ROUNDS, -n CALLS per run, -B UPROBE: A/B in one run, the same
# traced runs with another uprobe command (another build: "before")
# interleaved with this one's, under spread*_ns_b.
. "$(dirname "$0")/lib.sh"
rounds=$(bench_pick 5 3)
opt_n=$(bench_pick 2000000 500000)
opt_B=
bench_opts "n:B:" "[-n calls] [-B other-uprobe]" "$@"
if [ -n "$opt_B" ] && [ ! -x "$opt_B" ]; then
	echo "bench_spread: -B $opt_B: not an executable" >&2
	exit 2
fi
target=$bench_dir/spread_target
[ -x "$target" ] || target=$top/build/bench/spread_target

ns_of() { "$@" | awk '$1 == "ns_per_call" { print $2 }'; }
traced() { # UPROBE K
	ns_of "$1" trace -q --count -o /dev/null "p:$target:spread_f*" -- "$target" "$2" "$opt_n"
}
printf '%-6s %14s %14s %14s %14s\n' K "untraced ns" "traced ns" "per hit ns" \
	"$([ -n "$opt_B" ] && echo "B per hit ns")"
for k in 16 256 4096; do
	: >"$tmp/u"
	: >"$tmp/t"
	: >"$tmp/b"
	for r in $(seq 1 "$rounds"); do
		ns_of "$target" $k "$opt_n" >>"$tmp/u"
		traced "$up" $k >>"$tmp/t"
		[ -z "$opt_B" ] || traced "$opt_B" $k >>"$tmp/b"
	done
	mu=$(bench_median "$tmp/u")
	mt=$(bench_median "$tmp/t")
	hit=$(bench_calc %.1f "$mt - $mu")
	hit_b=
	[ -z "$opt_B" ] || hit_b=$(bench_calc %.1f "$(bench_median "$tmp/b") - $mu")
	printf '%-6s %14s %14s %14s %14s\n' "$k" "$mu" "$mt" "$hit" "$hit_b"
	bench_sum "spread${k}_ns" "$hit"
	[ -z "$opt_B" ] || bench_sum "spread${k}_ns_b" "$hit_b"
done
bench_sum_print
