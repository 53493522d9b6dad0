#!/bin/sh
# SPDX-License-Identifier: MIT
# Per-hit cost of a traced function through a whole tracer, in one run: the
# uprobe command (probe + record + consumer in another process, --count; a
# program's @ = count() with uprobe -e; the latency idiom, @start[tid] = nsecs
# at the entry and hist(nsecs - @start[tid]) at the return, with uprobe -e and
# bpftrace: on cli_work, whose ret lies under the entry's jump (patched in the
# entry trampoline's copy), and on spread_target's spread_f0 (its ret patched in
# the text), beside that target's unprobed calls) beside bpftrace (count()) and perf
# (perf probe + perf record), on the same function. The target times its own loop (cli_target bench N), so start-up
# and attach times do not count. Rounds are interleaved; medians are kept.
# The uprobe command's runs make -n calls; bpftrace and perf cost microseconds
# a hit, so their calls are sized by a time budget (a first run of 20,000
# calls gives their cost; each run then lasts about 2 s, 0.5 s under
# BENCH_QUICK). Ends with one line "summary: key=value ...".
# Options: -r ROUNDS, -n CALLS.
. "$(dirname "$0")/lib.sh"
tgt="$top/build/tests/cli/cli_target"
rounds=$(bench_pick 5 3)
bench_opts "n:" "[-n calls]" "$@"
calls=${opt_n:-2000000}
budget_ms=$(bench_pick 2000 500) # one run of a baseline

ns_of() { sed -n 's/^ns_per_call \([0-9.]*\).*/\1/p' "$1" | head -n 1; }

# run_VARIANT OUT N: the target's N calls under the variant, its output in OUT.
run_native() { "$tgt" bench "$2" >"$1"; }
run_uprobe() { "$up" trace -q --count -o "$tmp/up.count" "p:b/work $tgt:cli_work a=%di" -- "$tgt" bench "$2" >"$1"; }
# A program's keyless count (issue 16's "@ = count()"): the count stub's path.
run_uprobe_lang() {
	"$up" -e "uprobe:$tgt:cli_work { @ = count(); }" -c "$tgt bench $2" >"$1" 2>/dev/null
	sed -n 's/^@: //p' "$1" >"$tmp/lang.count"
}
# The latency idiom (issue 16's "uretprobe latency idiom"): its own text for both tools.
lat_prog="uprobe:$tgt:cli_work { @start[tid] = nsecs; }
uretprobe:$tgt:cli_work /@start[tid]/ { @ns = hist(nsecs - @start[tid]); delete(@start[tid]); }"
lat_count() { sed -n 's/^\[[^])]*[])] *\([0-9]*\) .*/\1/p' "$1" | awk '{ n += $1 } END { print n + 0 }'; }
run_uprobe_latency() {
	"$up" -e "$lat_prog" -c "$tgt bench $2" >"$1" 2>/dev/null
	lat_count "$1" >"$tmp/lat.count"
}
# The same on a function with a return site: spread_target 1 N calls spread_f0 3 N times.
site="$top/build/bench/spread_target"
run_native_site() { "$site" 1 "$2" >"$1"; }
run_uprobe_latency_site() {
	"$up" -e "$(printf '%s' "$lat_prog" | sed "s|$tgt:cli_work|$site:spread_f0|g")" \
		-c "$site 1 $2" >"$1" 2>/dev/null
	lat_count "$1" >"$tmp/lat_site.count"
}
run_bpftrace_latency() {
	bpftrace -q -e "$(printf '%s' "$lat_prog" | sed 's|/@start|/pid == cpid \&\& @start|')" \
		-c "$tgt bench $2" >"$1" 2>/dev/null
}
run_uprobe_args() { "$up" trace -q -o /dev/null "p:b/work $tgt:cli_work a=%di b=%si" -- "$tgt" bench "$2" >"$1"; }
run_bpftrace() {
	bpftrace -q -e "uprobe:$tgt:cli_work /pid == cpid/ { @n = count(); }" -c "$tgt bench $2" \
		>"$1" 2>/dev/null
}
run_perf() {
	perf record -q -e probe_cli_target:cli_work -o "$tmp/perf.data" -- "$tgt" bench "$2" \
		>"$1" 2>/dev/null
}

variants="native uprobe uprobe_lang uprobe_latency uprobe_args native_site uprobe_latency_site"
why_bpftrace="" why_perf=""
if bench_has bpftrace; then variants="$variants bpftrace bpftrace_latency"
else why_bpftrace="bpftrace not installed"; fi
if bench_has perf && perf probe -q -x "$tgt" cli_work >/dev/null 2>&1; then
	variants="$variants perf"
	bench_cleanup() { perf probe -q -d "probe_cli_target:*" >/dev/null 2>&1; }
else why_perf="perf probe failed (perf missing, or no uprobe support)"; fi

# The calls of each variant: -n for ours, the budget's for the baselines.
for v in $variants; do
	n=$calls
	case $v in
	bpftrace | bpftrace_latency | perf)
		"run_$v" "$tmp/$v.size" 20000 || echo "bench_cli: $v failed sizing its run" >&2
		n=$(bench_fit "$(ns_of "$tmp/$v.size")" "$budget_ms" 1000 "$calls")
		;;
	esac
	eval "n_$v=$n"
done

for r in $(seq 1 "$rounds"); do
	for v in $variants; do
		eval "n=\$n_$v"
		"run_$v" "$tmp/$v.$r" "$n" || echo "bench_cli: $v failed in round $r" >&2
		ns_of "$tmp/$v.$r" >>"$tmp/$v.all"
	done
done

printf '%-20s %10s %12s %12s\n' "variant ($rounds rounds)" calls "ns/call" "ns/hit"
native=$(bench_median "$tmp/native.all")
bench_sum native_ns "$native"
native_site=$(bench_median "$tmp/native_site.all")
for v in $variants; do
	m=$(bench_median "$tmp/$v.all")
	base=$native
	case $v in *_site) base=$native_site ;; esac
	hit=$(bench_calc %.1f "$m - $base")
	[ "$m" = na ] || [ "$base" = na ] && hit=na
	case $v in native*) hit="-" ;; esac
	eval "n=\$n_$v"
	printf '%-20s %10s %12s %12s\n' "$v" "$n" "$m" "$hit"
	case $v in native) ;; native_site) bench_sum native_site_ns "$m" ;;
	*) bench_sum "${v}_ns" "$hit" ;; esac
done
[ -n "$why_bpftrace" ] && echo "bpftrace: na ($why_bpftrace)" && bench_sum bpftrace_ns na &&
	bench_sum bpftrace_latency_ns na
[ -n "$why_perf" ] && echo "perf: na ($why_perf)" && bench_sum perf_ns na
if [ -f "$tmp/up.count" ]; then
	echo "check: uprobe counted $(sed 's/.*: //' "$tmp/up.count") events of $calls calls (last round)"
fi
if [ -f "$tmp/lat_site.count" ]; then
	echo "check: uprobe -e's latency idiom on spread_f0 put $(cat "$tmp/lat_site.count") of $((3 * calls)) calls in @ns (last round)"
fi
if [ -f "$tmp/lat.count" ]; then
	echo "check: uprobe -e's latency idiom put $(cat "$tmp/lat.count") of $calls calls in @ns (last round)"
fi
if [ -f "$tmp/lang.count" ]; then
	echo "check: uprobe -e's @ = count() counted $(cat "$tmp/lang.count") of $calls calls (last round)"
fi
bench_sum_print
