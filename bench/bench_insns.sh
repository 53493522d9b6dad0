#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per hit of each jump path, counted by callgrind, as a bench of
# `make bench` (issue 18: a regression shows in them whatever the machine's
# noise). Runs bench/callgrind.sh on bench_probe and bench_ret (their count
# mode, -c): its table (the instructions a hit and where they go), then its
# figures as the summary line: optimized_insns, optimized_args_insns,
# optimized_entry_insns, optimized_entry_return_insns, ..._2arg_insns and
# ..._hijack_insns. Exact from run to run. Without valgrind: not measured
# ("summary: insns=not_measured"). CALLS (default 100000): calls per row.
. "$(dirname "$0")/lib.sh"
rounds=1 # one run: the counts are exact (-r is accepted and changes nothing)
bench_opts "" "" "$@"
if ! bench_has valgrind; then
	echo "bench_insns: not measured: valgrind is not installed"
	echo "summary: insns=not_measured"
	exit 0
fi
sh "$top/bench/callgrind.sh" "$top/build/bench/bench_probe" "$top/build/bench/bench_ret" \
	>"$tmp/cg.out" 2>&1
st=$?
cat "$tmp/cg.out"
line=$(sed -n 's/^insns: *//p' "$tmp/cg.out")
if [ "$st" != 0 ] || [ -z "$line" ]; then
	echo "bench_insns: bench/callgrind.sh failed (status $st)" >&2
	exit 1
fi
echo "summary: $line"
