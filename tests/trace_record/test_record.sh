#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace -f raw -o FILE, uprobe report FILE and --blocking, end to end
# on tests/cli's target: counts exact, the report equal to the live output,
# damaged record files refused with the byte offset, a target that outlives
# a SIGKILLed tracer while it waits for space.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=trace_record
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
rep() { "$top/build/uprobe" report "$@"; }
tgt="$top/build/tests/cli/cli_target"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pwork="p:t/work $tgt:cli_work a=%di b=%si:s64"
pname="r:t/name $tgt:cli_name s=+0(\$retval):string"
norand() { setarch "$(uname -m)" -R "$@"; } # the same addresses in every run
# fast_run NAME UPROBE_ARGS... -- cli_target bench N: status 0 and the loop's sum right
# (its time differs from run to run, so the output is not compared).
fast_run() {
	name=$1
	shift
	up "$@" >"$tmp/$name.stdout" 2>"$tmp/$name.stderr"
	st=$?
	expect_eq "$name" "$st $(sed 's/.* sum //' "$tmp/$name.stdout")" "0 2000001000000" \
		"status, the loop's sum ($(head -c 300 "$tmp/$name.stderr"))"
}

# --blocking at 2,000,000 calls of the high-rate loop: every event printed, none lost.
if fast_run blocking --blocking -o "$tmp/blk.out" "$pwork" -- "$tgt" bench 2000000; then
	expect_eq blocking "$(wc -l <"$tmp/blk.out")" 2000000 "lines" &&
		expect_eq blocking "$(sed -n 's/.*lost events (rings full): //p' \
			"$tmp/blocking.stderr")" 0 "lost events" &&
		expect_eq blocking "$(grep -c 't/work: 2000000 events, 0 skipped' \
			"$tmp/blocking.stderr")" 1 "probe's count" &&
		expect_eq blocking "$(sed -n '2000000s/.*: work: (0x[0-9a-f]*) //p' "$tmp/blk.out")" \
			"a=0x1e847f b=1" "last event's args" && pass blocking
fi

# Record at ring speed with --blocking, report: exactly every event, in call order.
if fast_run rawblk --blocking -f raw -o "$tmp/blk.rec" "$pwork" -- "$tgt" bench 2000000; then
	rep -q -f json "$tmp/blk.rec" >"$tmp/blk.json" 2>"$tmp/blk.err"
	expect_eq rawblk "$?" 0 "report status" &&
		expect_eq rawblk "$(python3 -c '
import json, sys
n = bad = 0
for i, l in enumerate(open(sys.argv[1])):
    e = json.loads(l)
    bad += e["args"]["a"] != hex(i) or e["args"]["b"] != 1
    n += 1
print(n, bad)' "$tmp/blk.json")" "2000000 0" "events, wrong ones" && pass rawblk
fi

# A live run and a recorded run of the same program at a low rate (nothing
# lost), addresses fixed: the same text and JSON but for the times and pids.
# The recorded file printed as text and as JSON agree on times to the us.
strip_text() { sed -E 's/^ *cli_target-[0-9]+ +\[[0-9]+\] +[0-9]+\.[0-9]+:/T:/' "$1"; }
strip_json() { python3 -c '
import json, sys
for l in open(sys.argv[1]):
    e = json.loads(l)
    for k in ("ts_ns", "pid", "tid", "cpu", "entry_ts_ns", "latency_ns"):
        e.pop(k, None)
    print(json.dumps(e, sort_keys=True))' "$1"; }
norand "$top/build/uprobe" trace -o "$tmp/live.txt" "$pwork" "$pname" -- "$tgt" 2000 \
	>/dev/null 2>"$tmp/live.err"
norand "$top/build/uprobe" trace -f json -o "$tmp/live.json" "$pwork" "$pname" -- "$tgt" 2000 \
	>/dev/null 2>"$tmp/livej.err"
norand "$top/build/uprobe" trace -f raw -o "$tmp/lowr.rec" "$pwork" "$pname" -- "$tgt" 2000 \
	>/dev/null 2>&1
if same_run raw -f raw -o "$tmp/low.rec" "$pwork" "$pname" -- "$tgt" 2000; then
	rep "$tmp/lowr.rec" >"$tmp/rep.txt" 2>"$tmp/rep.err"
	st=$?
	rep -q -f json "$tmp/lowr.rec" >"$tmp/rep.json"
	rep -q -f perfetto -o "$tmp/rep.pf" "$tmp/lowr.rec"
	expect_eq raw "$st" 0 "report status" &&
		expect_eq raw "$(wc -l <"$tmp/rep.txt")" 2020 "lines (2000 calls, 20 names)" &&
		expect_eq raw "$(grep -c 'lost events (rings full): 0' "$tmp/live.err" \
			"$tmp/rep.err" | tr '\n' ' ')" "$tmp/live.err:1 $tmp/rep.err:1 " \
			"nothing lost, said by both" &&
		expect_eq raw "$(strip_text "$tmp/rep.txt" | cksum)" \
			"$(strip_text "$tmp/live.txt" | cksum)" "text: report = live" &&
		expect_eq raw "$(strip_json "$tmp/rep.json" | cksum)" \
			"$(strip_json "$tmp/live.json" | cksum)" "json: report = live" &&
		expect_eq raw "$(python3 -c '
import json, sys
t = [l.split(": ")[0].split()[-1] for l in open(sys.argv[1])]
j = [json.loads(l)["ts_ns"] for l in open(sys.argv[2])]
print(all("%d.%06d" % divmod((n + 500) // 1000, 1000000) == s for s, n in zip(t, j)), len(t) == len(j))' \
			"$tmp/rep.txt" "$tmp/rep.json")" "True True" "text times = JSON times" &&
		expect_eq raw "$(python3 -c '
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
print(sum(e["ph"] == "B" for e in ev), sum(e["ph"] == "i" for e in ev))' "$tmp/rep.pf")" \
			"20 2000" "perfetto: slices, instants" &&
		expect_grep raw "$tmp/raw.stderr" "t/work: 2000 events, 0 skipped" "live summary" &&
		expect_grep raw "$tmp/rep.err" "t/work: 2000 events, 0 skipped" "report summary" &&
		pass raw
fi

# Lost events stay counted: recorded without --blocking at full rate, the
# report's events plus its lost ones are the calls.
if fast_run rawlost -f raw -o "$tmp/lost.rec" "$pwork" -- "$tgt" bench 2000000; then
	rep "$tmp/lost.rec" >"$tmp/lost.txt" 2>"$tmp/lost.err"
	expect_eq rawlost "$(($(wc -l <"$tmp/lost.txt") + \
		$(sed -n 's/.*lost events (rings full): //p' "$tmp/lost.err")))" 2000000 \
		"events + lost" &&
		expect_eq rawlost "$(sed -n 's/.*lost events (rings full): //p' "$tmp/lost.err")" \
			"$(sed -n 's/.*lost events (rings full): //p' "$tmp/rawlost.stderr")" \
			"lost: report = live" && pass rawlost
fi

# Damaged files: every truncation and every bit flip of a small recording is
# refused with status 1 and "byte N:", its good events printed before; never
# a crash.
up -f raw -o "$tmp/small.rec" "$pwork" "$pname" -- "$tgt" 300 >/dev/null 2>&1
rep -q "$tmp/small.rec" >"$tmp/small.txt"
full=$(wc -l <"$tmp/small.txt")
got=$(python3 -c '
import re, subprocess, sys
rep, path, cut, full = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
good = open(path, "rb").read()
size = len(good)
cases = [("cut at %d" % n, good[:n]) for n in
         sorted(set([0, 1, 7, 8, 39, 40, 41, 47, size - 8, size - 1] +
                    list(range(48, size, size // 40))))]
for k in range(1, 91):  # a bit flip every 7919 bytes around the file
    off, b = (k * 7919) % size, bytearray(good)
    b[off] ^= 1 << (k % 8)
    cases.append(("bit %d of byte %d" % (k % 8, off), bytes(b)))
cases.append(("garbage", bytes(range(7, 250, 13))))
bad = []
for what, data in cases:
    open(cut, "wb").write(data)
    p = subprocess.run([rep, "report", "-q", cut], capture_output=True, text=True,
                       errors="replace")
    ok = (p.returncode == 1 and re.match(r"uprobe: %s: byte [0-9]+: " % re.escape(cut), p.stderr)
          and p.stdout.count("\n") <= full)
    if not ok:
        bad.append("%s: status %d, %s" % (what, p.returncode, p.stderr[:200]))
print(len(cases), len(bad), bad[:3])' "$top/build/uprobe" "$tmp/small.rec" "$tmp/cut.rec" "$full")
if expect_eq damaged "$full" 303 "events of the good file" &&
	expect_eq damaged "${got#* }" "0 []" "damaged files refused right, of ${got%% *}"; then
	pass damaged
fi

# The tracer SIGKILLed while the target waits for ring space (--blocking with
# a text printer far slower than the loop): the target runs to its end with
# the output and status of an untraced run.
"$tgt" 3000000 >"$tmp/plain.out"
echo "$?" >"$tmp/plain.st"
sh -c "exec \"$top/build/uprobe\" trace --blocking -o /dev/null \"$pwork\" -- sh -c '\"$tgt\" 3000000 >\"$tmp/killed.out\"; echo \$? >\"$tmp/killed.st\"'" \
	>/dev/null 2>&1 &
tracer=$!
while [ "$(cat "$tmp/killed.out" 2>/dev/null | wc -l)" -lt 200 ]; do sleep 0.05; done
kill -KILL "$tracer"
wait "$tracer" 2>/dev/null
while [ ! -s "$tmp/killed.st" ]; do sleep 0.1; done
expect_eq killed "$(cat "$tmp/killed.st")" "$(cat "$tmp/plain.st")" "status" &&
	expect_eq killed "$(cksum <"$tmp/killed.out")" "$(cksum <"$tmp/plain.out")" "output" &&
	pass killed

# Usage errors.
up -f raw "$pwork" -- "$tgt" 1 >/dev/null 2>"$tmp/u1.err"
st=$?
rep "$tmp/nonexistent" >/dev/null 2>"$tmp/u2.err"
st="$st $?"
rep -q -o /dev/full "$tmp/small.rec" 2>"$tmp/u3.err"
st="$st $?"
up -q -f raw -o /dev/full "$pwork" -- "$tgt" 1 >/dev/null 2>"$tmp/u4.err"
expect_eq usage "$st $?" "2 1 1 1" "statuses: no -o, no file, report and record to /dev/full" &&
	expect_grep usage "$tmp/u3.err" "No space left on device" "report's write error" &&
	expect_grep usage "$tmp/u4.err" "No space left on device" "record's write error" &&
	expect_grep usage "$tmp/u1.err" "-f raw writes a record file: give it with -o FILE" "no -o" &&
	pass usage

exit "${failed:-0}"
