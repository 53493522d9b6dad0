#!/bin/sh
# SPDX-License-Identifier: MIT
# Per-hit cost of a traced function through a whole tracer, in one run: the
# uprobe command (probe + record + consumer in another process) beside
# bpftrace (count()) and perf (perf probe + perf record), on the same
# function. The target times its own loop (cli_target bench N), so start-up
# and attach times do not count. Rounds are interleaved; medians are kept.
# Ends with one line "summary: key=value ...". Options: -r ROUNDS, -n CALLS.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tgt="$top/build/tests/cli/cli_target"
up="$top/build/uprobe"
rounds=5
calls=2000000
while getopts r:n:t: o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) calls=$OPTARG ;;
	t) ;; # bench/run.sh passes -t to every bench; the size here is -n
	*) echo "usage: bench_cli [-r rounds] [-n calls]" >&2; exit 2 ;;
	esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; perf probe -q -d "probe_cli_target:*" >/dev/null 2>&1' EXIT

ns_of() { sed -n 's/^ns_per_call \([0-9.]*\).*/\1/p' "$1" | head -n 1; }

run_native() { "$tgt" bench "$calls" >"$1"; }
run_uprobe() { "$up" trace -q --count -o "$tmp/up.count" "p:b/work $tgt:cli_work a=%di" -- "$tgt" bench "$calls" >"$1"; }
run_uprobe_args() { "$up" trace -q -o /dev/null "p:b/work $tgt:cli_work a=%di b=%si" -- "$tgt" bench "$calls" >"$1"; }
run_bpftrace() {
	bpftrace -q -e "uprobe:$tgt:cli_work { @n = count(); }" -c "$tgt bench $calls" >"$1" 2>/dev/null
}
run_perf() {
	perf record -q -e probe_cli_target:cli_work -o "$tmp/perf.data" -- "$tgt" bench "$calls" \
		>"$1" 2>/dev/null
}

variants="native uprobe uprobe_args"
why_bpftrace="" why_perf=""
if command -v bpftrace >/dev/null 2>&1; then variants="$variants bpftrace"
else why_bpftrace="bpftrace not installed"; fi
if command -v perf >/dev/null 2>&1 &&
	perf probe -q -x "$tgt" cli_work >/dev/null 2>&1; then variants="$variants perf"
else why_perf="perf probe failed (perf missing, or no uprobe support)"; fi

for r in $(seq 1 "$rounds"); do
	for v in $variants; do
		"run_$v" "$tmp/$v.$r" || echo "bench_cli: $v failed in round $r" >&2
		ns_of "$tmp/$v.$r" >>"$tmp/$v.all"
	done
done

median() { sort -n "$1" | awk '{ a[NR] = $1 } END { if (NR) print a[int((NR + 1) / 2)]; else print "na" }'; }

printf '%-34s %12s %12s\n' "variant ($calls calls, $rounds rounds)" "ns/call" "ns/hit"
native=$(median "$tmp/native.all")
summary="summary: native_ns=$native"
for v in $variants; do
	m=$(median "$tmp/$v.all")
	hit=$(awk -v a="$m" -v b="$native" 'BEGIN { printf "%.1f", a - b }')
	[ "$v" = native ] && hit="-"
	printf '%-34s %12s %12s\n' "$v" "$m" "$hit"
	[ "$v" != native ] && summary="$summary ${v}_ns=$hit"
done
[ -n "$why_bpftrace" ] && echo "bpftrace: n/a ($why_bpftrace)" && summary="$summary bpftrace_ns=na"
[ -n "$why_perf" ] && echo "perf: n/a ($why_perf)" && summary="$summary perf_ns=na"
if [ -f "$tmp/up.count" ]; then
	echo "check: uprobe counted $(sed 's/.*: //' "$tmp/up.count") events of $calls calls (last round)"
fi
echo "$summary"
