#!/bin/sh
# SPDX-License-Identifier: MIT
# What a user feels first: the start-up of a traced process. Each run timed
# whole (fork, exec, the agent's attach, the program, the tracer's end), in
# interleaved pairs (untraced, traced; the order alternates from round to
# round, so that a drift of the machine's load falls on both alike), and the
# median of the pairs' differences (ratios) kept: on a shared, loaded machine
# the medians of each side apart drift by more than the start-up itself.
#   startup_ms         `uprobe trace -q 'p:libc:malloc' --count -o /dev/null
#                      -- /bin/true` minus /bin/true alone (one probe, libc):
#                      the median of the rounds' differences
#   fork_script_ratio  a script running `python3.11 -c pass` 40 times under
#                      `uprobe trace 'p:libc:malloc' --count`, over the same
#                      script untraced (each of its 41 images attaches): the
#                      median of the rounds' ratios
#   fork_script_cpu_ratio  the same of the CPU time (user + system) of all the
#                      script's processes, tracer included
# The spread (lowest, highest) of the differences and ratios is printed too.
# A first traced run, not counted, fills the cache of per-file facts
# (util/cache.h) as any first use on a machine does. Ends with one line
# "summary: key=value ...". Options: -r ROUNDS; -B UPROBE: A/B in one run, the
# same runs with another uprobe command (another build: "before") interleaved
# with this one's, its figures under *_b keys.
. "$(dirname "$0")/lib.sh"
rounds=$(bench_pick 21 7)
opt_B=
bench_opts "B:" "[-B other-uprobe]" "$@"
if [ -n "$opt_B" ] && [ ! -x "$opt_B" ]; then
	echo "bench_startup: -B $opt_B: not an executable" >&2
	exit 2
fi
# Debian's python3.11 itself, not a shim on PATH that is a script (pyenv's
# runs some 40 processes for each python).
py=
for p in /usr/bin/python3.11 /usr/bin/python3; do [ -x "$p" ] && py=$p && break; done

# The CPU time of this shell's children waited for so far, in clock ticks
# (cutime + cstime of /proc/$$/stat; a subshell keeps $$).
tck=$(getconf CLK_TCK 2>/dev/null || echo 100)
child_ticks() {
	read -r st </proc/$$/stat
	set -- $st
	shift 15
	echo $(($1 + $2))
}

# ms_of CMD...: the wall time of one run of CMD, in ms (3 decimals); its CPU
# time (user + system, all its processes; in ms, clock-tick resolution) is
# appended to $cpu_out when that is set.
cpu_out=
ms_of() {
	c0=$(child_ticks)
	t0=$(bench_now_ns)
	"$@" >/dev/null 2>&1 || echo "bench_startup: '$*' failed" >&2
	t1=$(bench_now_ns)
	c1=$(child_ticks)
	[ -z "$cpu_out" ] || echo $((($c1 - $c0) * 1000 / $tck)) >>"$cpu_out"
	bench_calc "%.3f\n" "($t1 - $t0) / 1e6"
}
traced() { "$up" trace -q 'p:libc:malloc' --count -o /dev/null -- "$@"; }
# B's cache apart from A's: the formats may differ, and each would replace the other's files.
traced_b() {
	UPROBE_CACHE_DIR="$tmp/cache_b" "$opt_B" trace -q 'p:libc:malloc' --count -o /dev/null -- "$@"
}

printf 'i=0\nwhile [ $i -lt 40 ]; do %s -c pass; i=$((i + 1)); done\n' "$py" >"$tmp/script.sh"
traced /bin/true
[ -z "$opt_B" ] || traced_b /bin/true
# pair NAME r CMD...: one round of CMD untraced (file NAME), traced
# (NAME_traced) and traced by B (NAME_traced_b), in an order reversed every
# other round (untraced, traced, B; then B, traced, untraced).
pair() {
	name=$1 r=$2
	shift 2
	if [ $((r % 2)) -eq 1 ]; then
		cpu_out=$tmp/$name.cpu ms_of "$@" >>"$tmp/$name.all"
		cpu_out=$tmp/${name}_traced.cpu ms_of traced "$@" >>"$tmp/${name}_traced.all"
		[ -z "$opt_B" ] || cpu_out=$tmp/${name}_traced_b.cpu \
			ms_of traced_b "$@" >>"$tmp/${name}_traced_b.all"
	else
		[ -z "$opt_B" ] || cpu_out=$tmp/${name}_traced_b.cpu \
			ms_of traced_b "$@" >>"$tmp/${name}_traced_b.all"
		cpu_out=$tmp/${name}_traced.cpu ms_of traced "$@" >>"$tmp/${name}_traced.all"
		cpu_out=$tmp/$name.cpu ms_of "$@" >>"$tmp/$name.all"
	fi
}
for r in $(seq 1 "$rounds"); do
	pair true "$r" /bin/true
done
script_rounds=$(bench_pick 5 3)
if [ -n "$py" ]; then
	traced sh "$tmp/script.sh"
	for r in $(seq 1 "$script_rounds"); do
		pair script "$r" sh "$tmp/script.sh"
	done
fi

# per_pair OP A B [EXT]: the rounds' A - B (OP "-") or A / B (OP "/"), one a
# line, from the wall times (the .all files) or EXT's (.cpu: CPU times).
per_pair() {
	paste "$tmp/$2.${4:-all}" "$tmp/$3.${4:-all}" |
		awk -v op="$1" '{ print op == "-" ? $1 - $2 : ($2 > 0 ? $1 / $2 : 0) }'
}
# spread FILE: "lowest..highest" of its numbers (format FMT).
spread() { sort -n "$2" | awk -v f="$1" 'NR == 1 { lo = $1 } { hi = $1 } END { printf f ".." f, lo, hi }'; }

printf '%-44s %10s\n' "run (medians, $rounds / $script_rounds rounds)" ms
for v in true true_traced true_traced_b script script_traced script_traced_b; do
	[ -f "$tmp/$v.all" ] || continue
	eval "m_$v=$(bench_median "$tmp/$v.all")"
	eval "printf '%-44s %10s\n' \"$v\" \"\$m_$v\""
done
per_pair - true_traced true >"$tmp/startup.all"
startup=$(bench_calc %.1f "$(bench_median "$tmp/startup.all")")
echo "startup (traced /bin/true - /bin/true, median of $rounds pairs): $startup ms" \
	"(spread $(spread %.1f "$tmp/startup.all"); target <= 5)"
bench_sum startup_ms "$startup"
if [ -n "$py" ]; then
	per_pair / script_traced script >"$tmp/ratio.all"
	ratio=$(bench_calc %.2f "$(bench_median "$tmp/ratio.all")")
	echo "fork script ratio ($py -c pass, 40 times; median of $script_rounds pairs): $ratio" \
		"(spread $(spread %.2f "$tmp/ratio.all"); target <= 1.3)"
	bench_sum fork_script_ratio "$ratio"
	# CPU time, less bent by a loaded machine than wall time (the pythons wait
	# for a CPU, not for the tracer): a second reading of the same ratio.
	per_pair / script_traced script cpu >"$tmp/cpu_ratio.all"
	cpu_ratio=$(bench_calc %.2f "$(bench_median "$tmp/cpu_ratio.all")")
	echo "fork script CPU ratio (user + system of all its processes, median of pairs):" \
		"$cpu_ratio (spread $(spread %.2f "$tmp/cpu_ratio.all"))"
	bench_sum fork_script_cpu_ratio "$cpu_ratio"
else
	echo "fork script: na (no python3)"
	bench_sum fork_script_ratio na
fi
if [ -n "$opt_B" ]; then
	per_pair - true_traced_b true >"$tmp/startup_b.all"
	per_pair / true_traced true_traced_b >"$tmp/ab_true.all"
	startup_b=$(bench_calc %.1f "$(bench_median "$tmp/startup_b.all")")
	echo "B ($opt_B): startup $startup_b ms (spread $(spread %.1f "$tmp/startup_b.all"));" \
		"A/B of traced /bin/true: $(bench_calc %.2f "$(bench_median "$tmp/ab_true.all")")" \
		"(spread $(spread %.2f "$tmp/ab_true.all"))"
	bench_sum startup_ms_b "$startup_b"
	if [ -n "$py" ]; then
		per_pair / script_traced_b script >"$tmp/ratio_b.all"
		per_pair / script_traced script_traced_b >"$tmp/ab_script.all"
		ratio_b=$(bench_calc %.2f "$(bench_median "$tmp/ratio_b.all")")
		echo "B: fork script ratio $ratio_b (spread $(spread %.2f "$tmp/ratio_b.all"));" \
			"A/B of the traced script: $(bench_calc %.2f "$(bench_median "$tmp/ab_script.all")")"
		bench_sum fork_script_ratio_b "$ratio_b"
		per_pair / script_traced_b script cpu >"$tmp/cpu_ratio_b.all"
		bench_sum fork_script_cpu_ratio_b \
			"$(bench_calc %.2f "$(bench_median "$tmp/cpu_ratio_b.all")")"
	fi
fi
bench_sum_print
