#!/bin/sh
# SPDX-License-Identifier: MIT
# Events lost when a ring is full are counted per probe and shown in uprobe's
# summary as "N lost". The tracer's output is a pipe nobody reads until the
# traced program is done (lost_target.c): it stops draining the rings once the
# pipe is full, so lost_b's 1500 records are all lost, and lost_a's that do
# not fit too. Exact: each probe's events + lost = its calls.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=trace_ring
. "$top/tests/lib.sh"
tgt="$top/build/tests/trace_ring/lost_target"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

mkfifo "$tmp/done"
{
	"$top/build/uprobe" trace "p:l/a $tgt:lost_a s=+0(%di):string" \
		"p:l/b $tgt:lost_b s=+0(%di):string" -- "$tgt" "$tmp/done" 3000 2>"$tmp/err"
	echo $? >"$tmp/status"
} | {
	read -r line <"$tmp/done"
	cat >"$tmp/out"
}
# "EVENTS LOST" of probe $1 in the summary (LOST 0 when not shown)
counts() {
	sed -n "s/^  l\/$1: \([0-9]*\) events\(, \([0-9]*\) lost\)\{0,1\}, 0 skipped .*/\1 \3/p" \
		"$tmp/err" | awk '{ print $1, $2 + 0 }'
}
set -- $(counts a) $(counts b)
a_ev=${1:-x} a_lost=${2:-x} b_ev=${3:-x} b_lost=${4:-x}
total=$(sed -n 's/^  lost events (rings full): \([0-9]*\)$/\1/p' "$tmp/err")
expect_eq lost_per_probe "$(cat "$tmp/status")" 0 "exit status: $(cat "$tmp/err")" &&
	expect_eq lost_per_probe "$b_ev $b_lost" "0 1500" "l/b: events, lost" &&
	expect_eq lost_per_probe "$((a_ev + a_lost))" 3000 "l/a: events + lost" &&
	expect_eq lost_per_probe "$([ "$a_lost" -gt 0 ] && echo some)" some "l/a lost ($a_lost)" &&
	expect_eq lost_per_probe "${total:-x}" "$((a_lost + b_lost))" "the total" &&
	expect_eq lost_per_probe "$(wc -l <"$tmp/out")" "$a_ev" "lines printed" &&
	pass lost_per_probe
echo "  l/a: $a_ev events, $a_lost lost; l/b: $b_ev events, $b_lost lost"
exit $failed
