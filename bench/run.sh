#!/bin/sh
# SPDX-License-Identifier: MIT
# Run the benchmark programs given as arguments or, with none, those listed in
# BENCH_BINS of bench/*.mk, in that order. Each prints its table, then one
# "summary: key=value ..." line; at the end every summary is repeated, prefixed
# with the program name, for scripts, and each program's wall time. Fails if
# a program fails or prints no summary line. BENCH_ARGS is passed to every
# program (e.g. "-r 3 -t 50"); BENCH_QUICK=1 makes every one a quick pass.
if [ $# = 0 ]; then
	top=$(cd "$(dirname "$0")/.." && pwd)
	# "BENCH_BINS += $(B)/bench/x" becomes "$top/build/bench/x".
	# shellcheck disable=SC2016,SC2046
	set -- $(sed -n 's|^BENCH_BINS *+= *\$(B)/||p' "$top"/bench/*.mk |
		sed "s|^|$top/build/|")
fi
if [ $# = 0 ]; then
	echo "bench: no benchmark program to run" >&2
	exit 1
fi
log=$(mktemp)
rcf=$(mktemp)
sums=$(mktemp)
times=$(mktemp)
trap 'rm -f "$log" "$rcf" "$sums" "$times"' EXIT
status=0
t_all=$(date +%s)
for b in "$@"; do
	name=$(basename "$b")
	echo "== $name"
	t0=$(date +%s)
	# shellcheck disable=SC2086
	{ timeout "${BENCH_TIMEOUT:-300}" "$b" $BENCH_ARGS 2>&1; echo $? >"$rcf"; } | tee "$log"
	rc=$(cat "$rcf")
	echo "$name $(($(date +%s) - t0)) s" >>"$times"
	line=$(grep '^summary: ' "$log" | tail -n 1)
	if [ "$rc" != 0 ] || [ -z "$line" ]; then
		echo "bench: $name failed (status $rc$([ -z "$line" ] && echo ', no summary line'))"
		status=1
		continue
	fi
	echo "$name $line" >>"$sums"
done
echo "== summaries"
cat "$sums"
echo "== wall times"
cat "$times"
echo "all $(($(date +%s) - t_all)) s"
exit $status
