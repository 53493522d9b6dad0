#!/bin/bash
# SPDX-License-Identifier: MIT
# Debian's redis-server, started by this test on a unix socket of its own (no
# TCP port, no persistence; never the system's service), under
# redis-benchmark while `uprobe trace -p` attaches and detaches 50 times,
# count-only, each time with a batch of its functions (tests/real/real.sh):
# all of them in turn, at entry, then at return. A cycle:
#   1. redis-benchmark A starts; once redis counts its commands, uprobe
#      attaches (A may still be running, or not);
#   2. benchmark A ends; benchmark B starts while the probes are in; once
#      redis counts B's commands, SIGTERM: uprobe detaches under load;
#   3. uprobe exits 0; the text of redis-server's executable mapping is the
#      file's again (tests/cli_attach/text_same.py), while B may still run;
#   4. every answer is right: the INCR counter and the list length are
#      exactly the requests made so far, the benchmark's key holds its 3
#      bytes, and a key set by redis-cli in each cycle reads back, all of
#      them at the end.
# In a running process that maps libstdc++ (as redis-server does;
# docs/limitations.md) return probes take the return sites only: those whose
# functions would need the return-address hijack are refused with a warning
# (noted here, not accounted) and the others trace. If uprobe refuses every
# return probe with a reason, the cycles go on with entry probes only.
# Each attach's summary is checked as in tests/real/real.sh (accounted,
# modes), and its events for the request path (called).
# REAL_REDIS_CYCLES: the number of cycles (default 50; REAL_QUICK=1: one per
# batch and kind).
prog=redis
. "$(dirname "$0")/real.sh"
rs=/usr/bin/redis-server
cli=/usr/bin/redis-cli
bench=/usr/bin/redis-benchmark
same="$top/tests/cli_attach/text_same.py"
files=$(readlink -f "$rs") # the file its mapping names (redis-check-rdb)
sock=$tmp/redis.sock
n=1000 # requests per test of one benchmark run
rpid=""
tpid=""
bpid=""
trap 'for p in $tpid $bpid $rpid; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
must_call="$files:processCommand $files:call $files:setCommand $files:readQueryFromClient
	$files:processInputBuffer"

for f in "$rs" "$cli" "$bench" /usr/bin/python3; do
	if [ ! -x "$f" ]; then
		skip "$prog" "$f not installed (sh scripts/deps.sh)"
		exit 0
	fi
done

rcli() { "$cli" -s "$sock" "$@"; }
# The calls of one command so far, from INFO commandstats (0 before any).
calls_of() {
	rcli info commandstats | tr -d '\r' | sed -n "s/^cmdstat_$1:calls=\([0-9]*\),.*/\1/p" |
		grep . || echo 0
}
# Wait until redis has counted a SET more than $1, or benchmark $2 ended.
wait_progress() {
	while [ "$(calls_of set)" -le "$1" ] && kill -0 "$2" 2>/dev/null; do sleep 0.02; done
}
runs=0 # benchmark runs: each makes n INCRs and n LPUSHes
run_bench() { # output file: sets bpid
	runs=$((runs + 1))
	"$bench" -s "$sock" -n $n -c 2 -q -t set,get,incr,lpush >"$1" 2>&1 &
	bpid=$!
}

"$rs" --port 0 --unixsocket "$sock" --unixsocketperm 700 --save '' --appendonly no \
	--dir "$tmp" --logfile "$tmp/redis.log" &
rpid=$!
until [ "$(rcli ping 2>/dev/null)" = PONG ]; do
	if ! kill -0 $rpid 2>/dev/null; then
		fail "$prog/start" "redis-server did not start: $(tail -n 3 "$tmp/redis.log")"
		exit 1
	fi
	sleep 0.02
done
pass "$prog/start"

list_functions || exit 1
batches
for r in "${refused_by_list[@]}"; do note "$prog: refused by uprobe list: $r"; done
cycles=${REAL_REDIS_CYCLES:-50}
[ "$REAL_QUICK" = 1 ] && cycles=$((2 * n_batches))
note "$prog: ${#probed[@]} functions in $n_batches batch(es) of at most $REAL_BATCH;" \
	"$cycles cycles"

# Attach with the probes of kind $1 (array members) until none is refused;
# 0 once uprobe said it is tracing, with its pid in tpid.
attach() {
	local k=$1 f rest again
	while :; do
		probes_of "$k" "${members[@]}"
		rm -rf "$tmp/run"
		mkdir "$tmp/run"
		"$up" trace -p $rpid --count -o "$tmp/run/count" "${probes[@]}" \
			>"$tmp/run/out" 2>"$tmp/run/all" &
		tpid=$!
		while ! grep -qs '^uprobe: tracing PID' "$tmp/run/all" && kill -0 $tpid 2>/dev/null; do
			sleep 0.02
		done
		if grep -q '^uprobe: tracing PID' "$tmp/run/all"; then
			# Return probes the agent took on the return sites only
			# refused (their functions need the hijack): noted, and
			# not among this batch's accounted members.
			while read -r f rest; do
				case $f in '' | *[!0-9]*) continue ;; esac
				refused+=("$(what_of "$k" "$f"): $rest")
				members=($(printf '%s\n' "${members[@]}" | grep -v -x "$f"))
			done < <(grep -E '^uprobe: warning: not attached: real/f[0-9]+ ' "$tmp/run/all" |
				sed -E 's/^uprobe: warning: not attached: real\/f([0-9]+) .* in PID [0-9]+ \([^)]*\): /\1 /')
			return 0
		fi
		wait $tpid
		tpid=""
		split_summary "$tmp/run"
		refusals_of "$tmp/run" >"$tmp/refusals"
		again=0
		while read -r f rest; do
			[ -n "$f" ] || continue
			refused+=("$(what_of "$k" "$f"): $rest")
			members=($(printf '%s\n' "${members[@]}" | grep -v -x "$f"))
			again=1
		done <"$tmp/refusals"
		[ $again = 1 ] && [ ${#members[@]} -gt 0 ] && continue
		return 1
	done
}

# The functions of must_call in this cycle's batch counted events: redis
# counted B's first SET while they were in (unless the rings lost some).
called_in_cycle() { # case-name
	local m i zero="" lost
	lost=$(lost_of "$tmp/run")
	for m in $must_call; do
		for i in "${members[@]}"; do
			[ "$m" = "${fn_file[$i]}:${fn_name[$i]}" ] || continue
			[ "${events[$i]:-0}" -gt 0 ] && continue
			if [ "${lost:-0}" -gt 0 ]; then
				note "$1: $m: no events, $lost lost: not known"
			else
				zero="$zero $m"
			fi
		done
	done
	expect_eq "$1/called" "$zero" "" "functions on every request without events" &&
		pass "$1/called"
}

refused=()
ret_refused=""
for ((c = 1; c <= cycles; c++)); do
	b=$(((c - 1) % n_batches + 1))
	k=p
	[ $((((c - 1) / n_batches) % 2)) = 1 ] && [ -z "$ret_refused" ] && k=r
	[ $k = p ] && kind=entry || kind=return
	members=($(batch_members $b))
	events=()
	name="$prog/cycle-$c/$kind-$b-of-$n_batches"

	base=$(calls_of set)
	run_bench "$tmp/bench.a"
	wait_progress "$base" $bpid
	if ! attach $k; then
		wait $bpid
		bpid=""
		# Refused for every return probe, with a reason: entry probes only.
		if [ $k = r ] && grep -q '^uprobe: .*return probes' "$tmp/run/all"; then
			ret_refused=$(grep '^uprobe: .*return probes' "$tmp/run/all" | head -n 1)
			note "$prog: refused: $ret_refused"
			c=$((c - 1))
			continue
		fi
		fail "$name/attach" "uprobe exited: $(head -n 3 "$tmp/run/all" | tr '\n' '|')"
		break
	fi
	wait $bpid
	st_a=$?
	base=$(calls_of set)
	run_bench "$tmp/bench.b"
	wait_progress "$base" $bpid
	kill -TERM $tpid
	wait $tpid
	st_t=$?
	tpid=""
	split_summary "$tmp/run"
	"$same" $rpid "$files" >"$tmp/text" 2>&1
	st_text=$?
	wait $bpid
	st_b=$?
	bpid=""

	rcli set "real:$c" "value of cycle $c" >/dev/null
	got="$st_t $st_text $st_a $st_b $(rcli get counter:__rand_int__) $(rcli llen mylist)"
	got="$got $(rcli strlen key:__rand_int__) $(rcli get "real:$c")"
	want="0 0 0 0 $((n * runs)) $((n * runs)) 3 value of cycle $c"
	if [ "$got" != "$want" ]; then
		fail "$name/answers" "uprobe, text, benchmarks' status, counter, list, values: got '$got', want '$want'; text: $(head -c 300 "$tmp/text"); uprobe: $(grep -v '^  ' "$tmp/run/all" | head -n 3 | tr '\n' '|')"
		break
	fi
	pass "$name/answers"
	check_summary $k "$name" "${members[@]}"
	called_in_cycle "$name"
done
for r in "${refused[@]}"; do note "$prog: refused: $r"; done

keys=""
for ((i = 1; i < c; i++)); do
	[ "$(rcli get "real:$i")" = "value of cycle $i" ] || keys="$keys real:$i"
done
expect_eq "$prog/keys" "$keys" "" "keys that do not read back" && pass "$prog/keys"
rcli shutdown nosave >/dev/null 2>&1
wait $rpid
expect_eq "$prog/shutdown" "$?" 0 "redis-server's exit status" && pass "$prog/shutdown"
rpid=""
exit $failed
