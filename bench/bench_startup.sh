#!/bin/sh
# SPDX-License-Identifier: MIT
# What a user feels first: the start-up of a traced process. Interleaved runs,
# medians kept, each run timed whole (fork, exec, the agent's attach, the
# program, the tracer's end):
#   startup_ms         `uprobe trace -q 'p:libc:malloc' --count -o /dev/null
#                      -- /bin/true` minus /bin/true alone (one probe, libc)
#   fork_script_ratio  a script running `python3.11 -c pass` 40 times under
#                      `uprobe trace 'p:libc:malloc' --count`, over the same
#                      script untraced (each of its 41 images attaches)
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

# ms_of CMD...: the wall time of one run of CMD, in ms (3 decimals).
ms_of() {
	t0=$(bench_now_ns)
	"$@" >/dev/null 2>&1 || echo "bench_startup: '$*' failed" >&2
	t1=$(bench_now_ns)
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
for r in $(seq 1 "$rounds"); do
	ms_of /bin/true >>"$tmp/true.all"
	ms_of traced /bin/true >>"$tmp/true_traced.all"
	[ -z "$opt_B" ] || ms_of traced_b /bin/true >>"$tmp/true_traced_b.all"
done
script_rounds=$(bench_pick 5 3)
if [ -n "$py" ]; then
	traced sh "$tmp/script.sh"
	for r in $(seq 1 "$script_rounds"); do
		ms_of sh "$tmp/script.sh" >>"$tmp/script.all"
		ms_of traced sh "$tmp/script.sh" >>"$tmp/script_traced.all"
		[ -z "$opt_B" ] || ms_of traced_b sh "$tmp/script.sh" >>"$tmp/script_traced_b.all"
	done
fi

printf '%-44s %10s\n' "run (medians, $rounds / $script_rounds rounds)" ms
for v in true true_traced true_traced_b script script_traced script_traced_b; do
	[ -f "$tmp/$v.all" ] || continue
	eval "m_$v=$(bench_median "$tmp/$v.all")"
	eval "printf '%-44s %10s\n' \"$v\" \"\$m_$v\""
done
startup=$(bench_calc %.1f "$m_true_traced - $m_true")
echo "startup (traced /bin/true - /bin/true): $startup ms (target <= 5)"
bench_sum startup_ms "$startup"
if [ -n "$py" ]; then
	ratio=$(bench_calc %.2f "$m_script_traced / $m_script")
	echo "fork script ratio ($py -c pass, 40 times): $ratio (target <= 1.3)"
	bench_sum fork_script_ratio "$ratio"
else
	echo "fork script: na (no python3)"
	bench_sum fork_script_ratio na
fi
if [ -n "$opt_B" ]; then
	startup_b=$(bench_calc %.1f "$m_true_traced_b - $m_true")
	echo "B ($opt_B): startup $startup_b ms; A/B of traced /bin/true:" \
		"$(bench_calc %.2f "$m_true_traced / $m_true_traced_b")"
	bench_sum startup_ms_b "$startup_b"
	if [ -n "$py" ]; then
		ratio_b=$(bench_calc %.2f "$m_script_traced_b / $m_script")
		echo "B: fork script ratio $ratio_b; A/B of the traced script:" \
			"$(bench_calc %.2f "$m_script_traced / $m_script_traced_b")"
		bench_sum fork_script_ratio_b "$ratio_b"
	fi
fi
bench_sum_print
