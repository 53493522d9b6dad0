#!/bin/sh
# SPDX-License-Identifier: MIT
# Attaching 10,000 probes to a running process and detaching them (issue 18,
# deliverable 4): uprobe trace -p on build/bench/attach_10k (10,000 functions
# f0000..f9999, two threads calling each of them every millisecond), the agent
# loaded by the same run (cold). The times are the tracer's own (its summary
# line "attach X ms, detach Y ms"), medians over the rounds; every probe must
# have counted events. Ends with "summary: attach_10000_ms=... detach_10000_ms=...".
# Options: -r ROUNDS (2; 1 under BENCH_QUICK).
. "$(dirname "$0")/lib.sh"
tgt="$top/build/bench/attach_10k"
rounds=$(bench_pick 2 1)
bench_opts "" "" "$@"
pid=""
bench_cleanup() { [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; }

# The 10,000 probes, one argument each (a glob would take frame_dummy too).
i=0
while [ $i -lt 10000 ]; do
	printf 'p:%s:f%04d\n' "$tgt" $i
	i=$((i + 1))
done >"$tmp/specs"

r=0
while [ $r -lt "$rounds" ]; do
	"$tgt" &
	pid=$!
	sleep 0.1
	# xargs would split the list over several runs: one run takes them all.
	if ! tr '\n' '\0' <"$tmp/specs" | xargs -0 -s 2000000 -x "$up" trace -d 0.1 --count \
		-o "$tmp/count" -p "$pid" 2>"$tmp/err" >/dev/null; then
		echo "bench_attach_10k: uprobe trace failed: $(tail -n 3 "$tmp/err")" >&2
		exit 1
	fi
	n=$(grep -c '^@events\[f[0-9]*\]: [1-9]' "$tmp/count")
	if [ "$n" != 10000 ]; then
		echo "bench_attach_10k: $n of 10000 probes counted events" >&2
		exit 1
	fi
	sed -n 's/^  attach \([0-9.]*\) ms, detach \([0-9.]*\) ms$/\1 \2/p' "$tmp/err" >>"$tmp/times"
	kill -TERM "$pid"
	wait "$pid"
	pid=""
	r=$((r + 1))
done
a=$(cut -d' ' -f1 "$tmp/times" | bench_median)
d=$(cut -d' ' -f2 "$tmp/times" | bench_median)
printf '%-46s %10s %10s\n' "10,000 probes, $rounds rounds (medians)" "attach ms" "detach ms"
printf '%-46s %10s %10s\n' "uprobe trace -p, agent not yet loaded" "$a" "$d"
bench_sum attach_10000_ms "$a"
bench_sum detach_10000_ms "$d"
bench_sum_print
