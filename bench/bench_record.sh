#!/bin/sh
# SPDX-License-Identifier: MIT
# Per-event output that keeps up, side by side on one high-rate workload
# (cli_target bench N: N calls of a probed function in a tight loop, two
# integer fetch-args): live text to /dev/null, a record file (-f raw -o FILE)
# and its report afterwards, and each with --blocking. Per variant: events
# kept and lost (the summary's counts), the wall time of the traced run, the
# target's ns per call; for the record file, the time of 'uprobe report' to
# /dev/null. Medians of interleaved rounds. Ends with "summary: key=value ...".
# Options: -r ROUNDS, -n CALLS.
. "$(dirname "$0")/lib.sh"
tgt="$top/build/tests/cli/cli_target"
rounds=$(bench_pick 3 1)
bench_opts "n:" "[-n calls]" "$@"
calls=${opt_n:-$(bench_pick 2000000 500000)}
probe="p:b/work $tgt:cli_work a=%di b=%si"

run_text() { "$up" trace -o /dev/null "$probe" -- "$tgt" bench "$calls"; }
run_record() { "$up" trace -f raw -o "$tmp/r.rec" "$probe" -- "$tgt" bench "$calls"; }
run_block_text() { "$up" trace --blocking -o /dev/null "$probe" -- "$tgt" bench "$calls"; }
run_block_record() { "$up" trace --blocking -f raw -o "$tmp/r.rec" "$probe" -- "$tgt" bench "$calls"; }
variants="text record block_text block_record"

for r in $(seq 1 "$rounds"); do
	for v in $variants; do
		t0=$(bench_now_ns)
		"run_$v" >"$tmp/$v.out" 2>"$tmp/$v.err" || echo "bench_record: $v failed" >&2
		t1=$(bench_now_ns)
		echo $(((t1 - t0) / 1000000)) >>"$tmp/$v.ms"
		sed -n 's/.*b\/work: \([0-9]*\) events.*/\1/p' "$tmp/$v.err" >>"$tmp/$v.kept"
		sed -n 's/.*lost events (rings full): \([0-9]*\).*/\1/p' "$tmp/$v.err" >>"$tmp/$v.lost"
		sed -n 's/^ns_per_call \([0-9.]*\).*/\1/p' "$tmp/$v.out" >>"$tmp/$v.ns"
		case $v in
		*record)
			t0=$(bench_now_ns)
			"$up" report -q "$tmp/r.rec" >/dev/null || echo "bench_record: report failed" >&2
			t1=$(bench_now_ns)
			echo $(((t1 - t0) / 1000000)) >>"$tmp/$v.rep"
			wc -c <"$tmp/r.rec" >>"$tmp/$v.bytes"
			;;
		esac
	done
done

printf '%-14s %10s %10s %10s %10s %10s %12s\n' "variant" kept lost "wall ms" "ns/call" \
	"report ms" "file MB"
for v in $variants; do
	kept=$(bench_median "$tmp/$v.kept")
	lost=$(bench_median "$tmp/$v.lost")
	ms=$(bench_median "$tmp/$v.ms")
	ns=$(bench_median "$tmp/$v.ns")
	rep=- mb=-
	if [ -f "$tmp/$v.rep" ]; then
		rep=$(bench_median "$tmp/$v.rep")
		mb=$(bench_calc %.1f "$(bench_median "$tmp/$v.bytes") / 1e6")
		bench_sum "${v}_report_ms" "$rep"
	fi
	printf '%-14s %10s %10s %10s %10s %10s %12s\n' "$v" "$kept" "$lost" "$ms" "$ns" "$rep" "$mb"
	bench_sum "${v}_kept" "$kept"
	bench_sum "${v}_lost" "$lost"
	bench_sum "${v}_ms" "$ms"
done
echo "calls: $calls per run, $rounds round(s)"
bench_sum_print
