#!/bin/sh
# SPDX-License-Identifier: MIT
# A traced program attacks uprobe through its trace buffer (ring_target.c):
# records rewritten while they are read, poisoned positions, a flood of
# thread ids, random bytes over the whole file, forged counters, a thread
# name with terminal escapes. Each time uprobe must not crash, stay bounded,
# exit by itself (or at SIGTERM with -p) with a summary, and say what it found
# by name, with exit status 1 where the traced program wrote what no probe
# writes. Counts are exact: what the calls wrote, against what was printed,
# lost and refused.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
tgt="$top/build/tests/hostile/ring_target"
probe="p:h/hit $tgt:ring_hit s=+0(%di):string i=%si:s64"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
up() { "$top/build/uprobe" trace "$@"; }

# The rings a session has here (trace_session_new's default).
cpus=$(getconf _NPROCESSORS_ONLN)
if [ "$cpus" -gt 3 ]; then rings=$((2 * cpus + 1)); else rings=8; fi

# $1's summary line of probe h/hit: "EVENTS LOST" (LOST 0 when not shown).
hit_counts() {
	sed -n 's/^  h\/hit: \([0-9]*\) events\(, \([0-9]*\) lost\)\{0,1\}, .*/\1 \3/p' "$1" |
		awk '{ print $1, $2 + 0 }'
}
# Records that fit no probe, from $1 (0 when not said).
malformed() {
	sed -n 's/^uprobe: \([0-9]*\) records fit no probe .*/\1/p' "$1" | awk '{ n += $1 } END { print n + 0 }'
}
# Lines of $1 matching the extended regex $2.
count() { grep -Ec -- "$2" "$1"; }

# flip: every record rewritten in a loop while uprobe reads it (the string's
# descriptor out of the record, its fault bit toggled). Each call's record is
# printed (as written, or "(fault)" if its bit was set when copied), refused
# as fitting no probe, or lost; nothing else, and no crash.
n=30000
up -o "$tmp/flip.out" "$probe" -- "$tgt" flip $n 2>"$tmp/flip.err"
st=$?
set -- $(hit_counts "$tmp/flip.err")
ev=${1:-x} lost=${2:-x} bad=$(malformed "$tmp/flip.err")
line='^ *ring_target-[0-9]+ +\[[0-9]+\] +[0-9]+\.[0-9]{6}: hit: \(0x[0-9a-f]+\) s=("hello"|\(fault\)) i=-?[0-9]+$'
if [ "$bad" -gt 0 ]; then want=1; else want=0; fi
expect_eq flip "$st" "$want" "exit status ($bad records refused): $(tail -3 "$tmp/flip.err")" &&
	expect_eq flip "$((ev + lost + bad))" $n "events + lost + refused" &&
	expect_eq flip "$(wc -l <"$tmp/flip.out")" "$ev" "lines printed" &&
	expect_eq flip "$(count "$tmp/flip.out" "$line")" "$ev" "well-formed lines" &&
	expect_eq flip "$(count "$tmp/flip.err" corrupted)" 0 "rings corrupted" &&
	pass flip
echo "  flip: $ev printed, $bad refused, $lost lost"

# poison: before it exits, every len word busy and producer_pos 2^62 in
# every ring. The events before are all there; counting what is left is a
# bounded check that finds each ring corrupted.
up -o "$tmp/poison.out" "$probe" -- "$tgt" poison 1000 2>"$tmp/poison.err"
st=$?
expect_eq poison "$st" 1 "exit status: $(tail -3 "$tmp/poison.err")" &&
	expect_eq poison "$(hit_counts "$tmp/poison.err")" "1000 0" "events, lost" &&
	expect_eq poison "$(wc -l <"$tmp/poison.out")" 1000 "lines printed" &&
	expect_eq poison "$(count "$tmp/poison.err" '^uprobe: PID [0-9]+: ring 0 corrupted at 0 \(producer position 4611686018427387904\); stopped reading it$')" \
		1 "the first corruption, by name" &&
	expect_eq poison "$(count "$tmp/poison.err" "^uprobe: PID [0-9]+: $rings rings corrupted in all\$")" \
		1 "every ring" &&
	pass poison

# poison, attached with -p: SIGTERM ends uprobe with the same report.
"$tgt" poison-wait 0 >"$tmp/pw.out" &
tpid=$!
wait_exec $tpid "$tgt"
"$top/build/uprobe" trace -p $tpid "$probe" >/dev/null 2>"$tmp/pw.err" &
upid=$!
while ! grep -q poisoned "$tmp/pw.out" && kill -0 $upid 2>/dev/null; do sleep 0.05; done
t0=$(date +%s%N)
kill -TERM $upid
wait $upid
st=$?
t1=$(date +%s%N)
alive $tpid && tst=running || tst=gone
kill $tpid
wait $tpid 2>/dev/null
# On failure: whether the target got as far as the poisoning and still ran,
# and uprobe's own lines (not its summary's).
why="target $tst, poisoned $(grep -c poisoned "$tmp/pw.out"); uprobe said: $(grep -v '^  \|^$' "$tmp/pw.err" | head -4 | tr '\n' '|')"
# (Which ring is found first, and where, depends on what the tracer had read:
# ring 0, shared, may hold records of a thread that found no ring of its own.)
expect_eq poison_attached "$st" 1 "exit status ($why)" &&
	expect_eq poison_attached "$(count "$tmp/pw.err" '^uprobe: PID [0-9]+: ring [0-9]+ corrupted at [0-9]+ \(producer position 4611686018427387904\); stopped reading it$' | awk '{ print ($1 >= 1) }')" \
		1 "a corruption, by name ($why)" &&
	pass poison_attached
echo "  poison_attached: uprobe exited $(((t1 - t0) / 1000000)) ms after SIGTERM"

# tids: 4,000,000 records, each of a thread never seen before. All counted;
# the tracer's peak memory stays far below what a table of every thread
# would take (400 MB).
m=4000000
up --count "$probe" -- "$tgt" tids 1 $m >"$tmp/tids.out" 2>"$tmp/tids.err"
st=$?
hwm=$(sed -n 's/^tracer VmHWM \([0-9]*\) kB$/\1/p' "$tmp/tids.out")
expect_eq tids "$st" 0 "exit status: $(tail -3 "$tmp/tids.err")" &&
	expect_eq tids "$(grep '^@events' "$tmp/tids.out")" "@events[hit]: $((m + 1))" "events" &&
	expect_eq tids "$([ "${hwm:-999999}" -lt 65536 ] && echo bounded)" bounded \
		"tracer peak RSS ${hwm:-?} kB, want < 64 MiB" &&
	pass tids
echo "  tids: tracer peak RSS ${hwm:-?} kB"

# random: the whole file overwritten with random bytes after 1000 calls.
# Every ring has a consumer position uprobe did not set: all corrupted, and
# the lost counters are garbage, so "lost" is unknown rather than a number.
up -o "$tmp/random.out" "$probe" -- "$tgt" random 1000 >"$tmp/random.stdout" 2>"$tmp/random.err"
st=$?
moved=$(sed -n 's/^ring 0 consumer_pos 0 -> \([0-9]*\)$/\1/p' "$tmp/random.stdout")
expect_eq random "$st" 1 "exit status: $(tail -3 "$tmp/random.err")" &&
	expect_eq random "$(wc -l <"$tmp/random.out")" 1000 "lines printed" &&
	expect_eq random "$(count "$tmp/random.err" "^uprobe: PID [0-9]+: ring 0 corrupted at 0 \\(its consumer position was moved to ${moved:-x}\\); stopped reading it\$")" \
		1 "the first corruption, by name" &&
	expect_eq random "$(count "$tmp/random.err" "^uprobe: PID [0-9]+: $rings rings corrupted in all\$")" \
		1 "every ring" &&
	expect_eq random "$(count "$tmp/random.err" '^  lost events \(rings full\): unknown \(the traced program overwrote the counters\)$')" \
		1 "lost events" &&
	pass random

# lost: its ring's lost counter overwritten: unknown, not a number, and status 1.
up -o "$tmp/lost.out" "$probe" -- "$tgt" lost 1000 2>"$tmp/lost.err"
st=$?
expect_eq lost "$st" 1 "exit status: $(tail -3 "$tmp/lost.err")" &&
	expect_eq lost "$(hit_counts "$tmp/lost.err")" "1000 0" "events, lost" &&
	expect_eq lost "$(count "$tmp/lost.err" '^  lost events \(rings full\): unknown \(the traced program overwrote the counters\)$')" \
		1 "lost events" &&
	expect_eq lost "$(count "$tmp/lost.err" corrupted)" 0 "rings corrupted" &&
	pass lost

# comm: a thread named to set the terminal's title and start a line of its
# own: escaped in text (one line per event, no escape byte), a JSON string
# in JSON and Perfetto that reads back as the name.
up -o "$tmp/comm.out" "$probe" -- "$tgt" comm 1000 2>"$tmp/comm.err"
st=$?
esc=$(printf '\033')
expect_eq comm "$st" 0 "exit status: $(tail -3 "$tmp/comm.err")" &&
	expect_eq comm "$(wc -l <"$tmp/comm.out")" 1000 "lines" &&
	expect_eq comm "$(grep -c '^\\x1b\]0;pwn\\x07\\nfake-[0-9]* ' "$tmp/comm.out")" 1000 \
		"lines starting with the escaped name" &&
	expect_eq comm "$(grep -c "$esc" "$tmp/comm.out")" 0 "lines with an escape byte" &&
	pass comm
for f in json perfetto; do
	up -f $f -o "$tmp/comm.$f" "$probe" -- "$tgt" comm 1000 2>"$tmp/comm.$f.err"
	st=$?
	got=$(python3 -c '
import json, sys
name = "\x1b]0;pwn\x07\nfake"
if sys.argv[2] == "json":
    ev = [json.loads(l) for l in open(sys.argv[1])]
    print(len(ev), all(e["comm"] == name for e in ev))
else:
    ev = json.load(open(sys.argv[1]))["traceEvents"]
    t = [e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"]
    print(len([e for e in ev if e["ph"] == "i"]), t == [name])' "$tmp/comm.$f" $f)
	expect_eq comm_$f "$st $got" "0 1000 True" "status, events, names" && pass comm_$f
done

exit $failed
