#!/bin/sh
# SPDX-License-Identifier: MIT
# Always on, everywhere (issue 18): Debian's redis-server under redis-benchmark,
# with every function of its executable probed count-only through
# `uprobe trace -p PID 'p:/usr/bin/redis-server:*' --count` (3,538 on Debian 12:
# the counts are kept in the target, docs/maps.md), against the same server
# untraced. Rounds interleave an untraced and a traced benchmark run on one
# server; each traced run attaches before its benchmark and detaches after it.
#   redis_all_ratio    median over rounds of traced / untraced requests per
#                      second (SET and GET, 50 clients, a unix socket)
#   redis_probes       functions attached (none may be refused)
#   redis_cpu_ratio    median over rounds of redis-server's CPU time (user +
#                      system, /proc/PID/stat) per request traced / untraced:
#                      what the probes cost the server, less sensitive than the
#                      throughput to the client sharing the machine's cores
#   redis_attach_ms    the tracer's attach time (its summary), median
# It also says whether the count of processCommand equals the commands redis
# itself counted in the traced run (INFO commandstats): exact, or by how much not.
# Options: -r ROUNDS, -n REQUESTS per test of a benchmark run.
. "$(dirname "$0")/lib.sh"
rounds=$(bench_pick 5 3)
opt_n=$(bench_pick 100000 20000)
bench_opts "n:" "[-n requests]" "$@"
rs=/usr/bin/redis-server
cli=/usr/bin/redis-cli
rb=/usr/bin/redis-benchmark
for f in "$rs" "$cli" "$rb"; do
	if [ ! -x "$f" ]; then
		echo "bench_redis: $f not installed (sh scripts/deps.sh installs redis-server, redis-tools)"
		bench_sum redis_all_ratio na
		bench_sum_print
		exit 0
	fi
done
sock=$tmp/redis.sock
rpid=""
tpid=""
bench_cleanup() { for p in $tpid $rpid; do kill -9 "$p" 2>/dev/null; done; }

rcli() { "$cli" -s "$sock" "$@"; }
# The calls of every command so far (INFO commandstats).
commands() {
	rcli info commandstats | tr -d '\r' |
		awk -F'[=,]' '/^cmdstat_/ { n += $2 } END { print n + 0 }'
}
# redis-server's CPU time so far, in clock ticks.
cpu() { awk '{ print $14 + $15 }' "/proc/$rpid/stat"; }
# One benchmark run: its mean requests per second over SET and GET.
rps() {
	"$rb" -s "$sock" -n "$opt_n" -c 50 -t set,get --csv 2>/dev/null |
		awk -F'"' '$2 == "SET" || $2 == "GET" { s += $4; n++ }
			   END { if (n == 2) printf "%.1f\n", s / n; else print "na" }'
}

"$rs" --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no \
	--dir "$tmp" --logfile "$tmp/redis.log" &
rpid=$!
until [ "$(rcli ping 2>/dev/null)" = PONG ]; do
	if ! kill -0 $rpid 2>/dev/null; then
		echo "bench_redis: redis-server did not start: $(tail -n 3 "$tmp/redis.log")" >&2
		exit 1
	fi
	sleep 0.02
done

# Attach to every function; 0 once uprobe says it is tracing (tpid set).
attach() {
	rm -f "$tmp/err" # not the last run's "tracing" line
	"$up" trace -p "$rpid" --count "p:$rs:*" >"$tmp/counts" 2>"$tmp/err" &
	tpid=$!
	while ! grep -qs '^uprobe: tracing PID' "$tmp/err" && kill -0 "$tpid" 2>/dev/null; do
		sleep 0.02
	done
	grep -qs '^uprobe: tracing PID' "$tmp/err"
}
detach() {
	kill -INT "$tpid"
	wait "$tpid"
	st=$?
	tpid=""
	return $st
}

rps >/dev/null # a first run: the server's tables grown, the clients' pages in
exact=""
for r in $(seq 1 "$rounds"); do
	a=$(cpu)
	u=$(rps)
	cu=$(($(cpu) - a))
	if ! attach; then
		kill -INT "$tpid" 2>/dev/null
		wait "$tpid"
		echo "bench_redis: uprobe trace -p did not attach (status $?):" >&2
		tail -n 5 "$tmp/err" >&2
		exit 1
	fi
	c0=$(commands)
	a=$(cpu)
	t=$(rps)
	ct=$(($(cpu) - a))
	c1=$(commands)
	if ! detach; then
		echo "bench_redis: uprobe trace failed:" >&2
		tail -n 5 "$tmp/err" >&2
		exit 1
	fi
	echo "round $r: untraced $u, traced $t requests/s; server CPU $cu, $ct ticks"
	[ "$cu" -gt 0 ] && bench_calc "%.3f\n" "$ct / $cu" >>"$tmp/cpu.all"
	echo "$u" >>"$tmp/u.all"
	echo "$t" >>"$tmp/t.all"
	bench_calc "%.3f\n" "$t / $u" >>"$tmp/ratio.all"
	sed -n 's/^  attach \([0-9.]*\) ms.*/\1/p' "$tmp/err" >>"$tmp/attach.all"
	probes=$(grep -c '^  uprobes/.*mode ' "$tmp/err")
	refused=$(grep -c '^  uprobes/.*refused' "$tmp/err")
	# the benchmark's commands and the commandstats of c1 itself: processCommand ran for all
	pc=$(sed -n 's/^@events\[processCommand\]: //p' "$tmp/counts")
	want=$((c1 - c0 + 1))
	[ "${pc:-0}" = "$want" ] || exact="$exact round $r: processCommand ${pc:-0}, commands $want;"
done

printf '%-40s %12s\n' "run (medians of $rounds rounds)" "requests/s"
printf '%-40s %12s\n' untraced "$(bench_median "$tmp/u.all")"
printf '%-40s %12s\n' "every function probed, --count" "$(bench_median "$tmp/t.all")"
ratio=$(bench_median "$tmp/ratio.all")
attach_ms=$(bench_median "$tmp/attach.all")
cpu_ratio=$(bench_median "$tmp/cpu.all")
echo "ratio traced / untraced: $ratio (target >= 0.95); $probes functions probed," \
	"$refused refused; attach $attach_ms ms"
echo "server CPU per request traced / untraced: $cpu_ratio"
if [ -z "$exact" ]; then
	echo "processCommand counted exactly once for each command redis counted, every round"
else
	echo "processCommand count NOT exact:$exact"
fi
bench_sum redis_all_ratio "$ratio"
bench_sum redis_probes "$probes"
bench_sum redis_cpu_ratio "$cpu_ratio"
bench_sum redis_attach_ms "$attach_ms"
bench_sum_print
