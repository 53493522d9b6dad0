#!/bin/sh
# SPDX-License-Identifier: MIT
# bpftrace programs on the kernel backend (uprobe -e without -c/-p/--,
# docs/kernel-backend.md): every process that maps the file, the plan run in
# the tracer per kernel event. Needs root and tracefs (mounted when missing).
# The programs and libktarget.so are copied into a directory of this test's
# own: only its processes map that copy. No timing is asserted: waits are for
# output (the tracer's "Ctrl-C to stop", BEGIN's "ready").
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=kernel_lang
. "$top/tests/lib.sh"
uprobe="$top/build/uprobe"
tmp=$(mktemp -d); [ -n "${KEEP:-}" ] && echo "tmp: $tmp"
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
cp "$top/build/tests/kernel/ktarget" "$top/build/tests/kernel/ktarget_other" \
	"$top/build/tests/kernel/libktarget.so" "$top/build/tests/lang_target/usdt_two" "$tmp/"
lib="$tmp/libktarget.so"
ev=/sys/kernel/tracing/dynamic_events

if [ "$(id -u)" != 0 ]; then
	skip all "needs root"
	exit 0
fi
tracefs_mount
if [ ! -w "$ev" ]; then
	skip all "no tracefs dynamic_events here"
	exit 0
fi

# wait_for FILE TEXT [N]: until FILE holds N (default 1) lines with TEXT, at most 60 s.
# A FILE not there yet (the background job has not opened it) holds none: grep -c
# prints nothing then, and "[ '' -lt 1 ]" failing once ended the wait at once (the
# target ran, and SIGTERM came, before the tracer was ready: sigterm/sigkill failed).
wait_for() {
	i=0
	while n=$(grep -c "$2" "$1" 2>/dev/null); [ "${n:-0}" -lt "${3:-1}" ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && return 1
		sleep 0.1
	done
}

# The lines of the tracer's group left in dynamic_events.
left() {
	grep -c "uprobes_$1/" "$ev"
}

# norm FILE: the output with printf lines and plain map lines sorted (bpftrace
# orders equal values by its hash table), histograms as printed.
norm() {
	python3 -c '
import sys
lines = open(sys.argv[1]).read().split("\n")
plain, blocks, i = [], [], 0
while i < len(lines):
    l = lines[i]
    if l.startswith("@") and l.endswith(": ") and i + 1 < len(lines) and lines[i + 1].startswith("["):
        j = i + 1
        while j < len(lines) and lines[j].startswith("["):
            j += 1
        blocks.append("\n".join(lines[i:j]))
        i = j
        continue
    if l and not l.startswith("Attaching"):
        plain.append(l)
    i += 1
print("\n".join(sorted(plain)))
print("\n".join(blocks))' "$1"
}

prog="BEGIN { printf(\"ready\\n\"); }
uprobe:$lib:kt_work { @[pid] = count(); @c[comm] = count(); @h = hist(arg0);
	printf(\"hit %s %d %s\\n\", comm, arg0, str(arg1)); @start[tid] = nsecs; }
uretprobe:$lib:kt_work /@start[tid]/ { @ret[retval] = count(); @lat = count();
	@neg = stats(retval); delete(@start[tid]); }
END { printf(\"end\\n\"); }"

# run_workload TRACER_PID OUT: a process of ktarget started before the tracer
# said it was ready (blocked on a FIFO), one started after, and ktarget_other
# (the same library): 5, 7 and 11 calls. Sets p1 p2 p3.
run_workload() {
	rm -f "$tmp/f1" "$tmp/f2" "$tmp/f3"
	mkfifo "$tmp/f1" "$tmp/f2" "$tmp/f3"
	"$tmp/ktarget" 5 "$tmp/f1" >/dev/null &
	p1=$!
	wait_for "$2" '^ready' || return 1
	"$tmp/ktarget" 7 "$tmp/f2" >/dev/null &
	p2=$!
	"$tmp/ktarget_other" 11 "$tmp/f3" >/dev/null &
	p3=$!
	echo x >"$tmp/f1"
	echo x >"$tmp/f2"
	echo x >"$tmp/f3"
	wait $p1 $p2 $p3
}

# 1. The program system-wide: three processes, two binaries, one library.
"$uprobe" -e "$prog" >"$tmp/sys.out" 2>"$tmp/sys.err" &
tr=$!
if wait_for "$tmp/sys.err" "Ctrl-C to stop" && run_workload $tr "$tmp/sys.out"; then
	kill -INT $tr
	wait $tr
	st=$?
	expect_eq system_wide "$st" 0 "status ($(cat "$tmp/sys.err"))" &&
		expect_eq system_wide "$(grep -E "^@\[($p1|$p2|$p3)\]" "$tmp/sys.out" | sort)" \
			"$(printf '@[%s]: 5\n@[%s]: 7\n@[%s]: 11' $p1 $p2 $p3 | sort)" \
			"@[pid] = count()" &&
		expect_eq system_wide "$(grep '^@c\[' "$tmp/sys.out" | sort)" \
			"$(printf '@c[ktarget]: 12\n@c[ktarget_other]: 11')" "@[comm] = count()" &&
		expect_eq system_wide "$(grep -c '^hit ' "$tmp/sys.out")" 23 "printf lines" &&
		expect_eq system_wide "$(grep -c '^hit ktarget_other 8 alpha$' "$tmp/sys.out")" \
			1 "printf with str(arg1)" &&
		expect_eq system_wide "$(grep -c '^hit ktarget 4 $' "$tmp/sys.out")" 2 \
			"str(arg1) of \"\" (ktarget: i = 4, twice)" &&
		expect_eq system_wide "$(grep '^@lat' "$tmp/sys.out")" "@lat: 23" \
			"the latency idiom: returns paired by tid" &&
		expect_eq system_wide "$(grep '^@neg' "$tmp/sys.out")" \
			"@neg: count 23, average -88, total -2042" "stats(retval)" &&
		expect_eq system_wide "$(sed -n '/^@h: $/,/^$/p' "$tmp/sys.out")" \
			"@h: 
[0]                    3 |@@@@@@@@@@@@@@@@@@@                                 |
[1]                    3 |@@@@@@@@@@@@@@@@@@@                                 |
[2, 4)                 6 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@             |
[4, 8)                 8 |@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@|
[8, 16)                3 |@@@@@@@@@@@@@@@@@@@                                 |" "hist(arg0)" &&
		expect_eq system_wide "$(left $tr)" 0 "lines left in dynamic_events" &&
		pass system_wide
else
	kill -KILL $tr 2>/dev/null
	fail system_wide "the tracer never became ready: $(cat "$tmp/sys.err")"
fi

# 2. bpftrace 0.17 on the same workload, the same program: the same output but
# for the pids (maps compared as sets, histograms line for line).
if command -v bpftrace >/dev/null && [ -s "$tmp/sys.out" ]; then
	bpftrace -e "$prog" >"$tmp/bt.out" 2>"$tmp/bt.err" &
	bt=$!
	if run_workload $bt "$tmp/bt.out" && wait_for "$tmp/bt.out" '^hit ' 23; then
		kill -INT $bt
		wait $bt
		for f in sys bt; do
			grep -v '^@\[' "$tmp/$f.out" >"$tmp/$f.nopid"
			norm "$tmp/$f.nopid" >"$tmp/$f.norm"
		done
		expect_eq bpftrace "$(cat "$tmp/sys.norm")" "$(cat "$tmp/bt.norm")" \
			"uprobe vs bpftrace" && pass bpftrace
	else
		kill -KILL $bt 2>/dev/null
		skip bpftrace "bpftrace did not run here: $(head -c 300 "$tmp/bt.err")"
	fi
fi

# 3. exit() in a probe ends the run by itself: END, the maps, no probe left.
"$uprobe" -e "BEGIN { printf(\"ready\\n\"); }
uprobe:$lib:kt_work /arg0 == 2/ { printf(\"two %s\\n\", comm); @n = count(); exit(); }
END { printf(\"end\\n\"); }" >"$tmp/exit.out" 2>"$tmp/exit.err" &
tr=$!
if wait_for "$tmp/exit.out" '^ready'; then
	"$tmp/ktarget" 6 >/dev/null
	wait $tr
	st=$?
	expect_eq exit "$st" 0 "status ($(cat "$tmp/exit.err"))" &&
		expect_eq exit "$(cat "$tmp/exit.out")" "Attaching 3 probes...
ready
two ktarget
end


@n: 1" "output" && expect_eq exit "$(left $tr)" 0 "lines left in dynamic_events" &&
		pass exit
else
	kill -KILL $tr 2>/dev/null
	fail exit "the tracer never became ready: $(cat "$tmp/exit.err")"
fi

# 4. SIGTERM ends it as Ctrl-C does (END, maps); -f json; an interval probe
# beside the kernel's (its count is not asserted: it is time).
"$uprobe" -f json -e "BEGIN { printf(\"ready\\n\"); }
ur:$lib:kt_work { @r[retval] = count(); } interval:ms:50 { @t = count(); }" \
	>"$tmp/json.out" 2>"$tmp/json.err" &
tr=$!
if wait_for "$tmp/json.out" 'ready'; then
	"$tmp/ktarget_other" 3 >/dev/null
	kill -TERM $tr
	wait $tr
	st=$?
	expect_eq sigterm "$st" 0 "status ($(cat "$tmp/json.err"))" &&
		expect_eq sigterm "$(grep '"@r"' "$tmp/json.out")" \
			'{"type": "map", "data": {"@r": {"-100": 1, "-97": 1, "-94": 1}}}' \
			"@r in JSON" &&
		expect_eq sigterm "$(grep -c '"@t"' "$tmp/json.out")" 1 "the interval's map" &&
		expect_eq sigterm "$(left $tr)" 0 "lines left in dynamic_events" && pass sigterm
else
	kill -KILL $tr 2>/dev/null
	fail sigterm "the tracer never became ready: $(cat "$tmp/json.err")"
fi

# 5. The tracer SIGKILLed: its guard removes the group (the time is shown, not asserted).
"$uprobe" -e "BEGIN { printf(\"ready\\n\"); } u:$lib:kt_work { @ = count(); }
ur:$lib:kt_work { @r = count(); }" >"$tmp/kill.out" 2>"$tmp/kill.err" &
tr=$!
if wait_for "$tmp/kill.out" '^ready'; then
	n=$(left $tr)
	kill -KILL $tr
	wait $tr 2>/dev/null
	i=0
	while [ "$(left $tr)" != 0 ] && [ $i -lt 300 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	echo "  group removed within $((i * 50)) ms of SIGKILL"
	expect_eq sigkill "$n" 2 "lines of the tracer" &&
		expect_eq sigkill "$(left $tr)" 0 "lines left after SIGKILL" && pass sigkill
else
	kill -KILL $tr 2>/dev/null
	fail sigkill "the tracer never became ready: $(cat "$tmp/kill.err")"
fi

# 7. A probe on what the tracer calls for each record it reads (libc's malloc, every
# process's): its own thread is filtered out in the kernel (common_pid), else each
# record read would hit the probe again and the rings never empty; Ctrl-C disables the
# probes before the last drain, which then ends. A tracer still there 10 s after
# SIGINT fails the case (before the fix: 100% CPU, @[uprobe] counted, no end).
"$uprobe" -e "BEGIN { printf(\"ready\\n\"); } uprobe:libc:malloc { @[comm] = count(); }" \
	>"$tmp/self.out" 2>"$tmp/self.err" &
tr=$!
if wait_for "$tmp/self.out" '^ready'; then
	"$tmp/ktarget" 3 >/dev/null
	if ! ends_on_signal $tr INT 10; then
		kill -KILL $tr
		wait $tr 2>/dev/null
		fail self_feed "still running 10 s after SIGINT: $(grep -c . "$tmp/self.out") lines"
	else
		wait $tr
		st=$?
		expect_eq self_feed "$st" 0 "status ($(cat "$tmp/self.err"))" &&
			expect_eq self_feed "$(grep -c '^@\[uprobe\]' "$tmp/self.out")" 0 \
				"the tracer's own mallocs" &&
			expect_eq self_feed "$(grep -c '^@\[ktarget\]: [1-9]' "$tmp/self.out")" 1 \
				"the target's mallocs" &&
			expect_eq self_feed "$(left $tr)" 0 "lines left in dynamic_events" &&
			pass self_feed
	fi
else
	kill -KILL $tr 2>/dev/null
	fail self_feed "the tracer never became ready: $(cat "$tmp/self.err")"
fi

# 6. What no kernel event carries is refused by name, before any probe is made.
refused() { # NAME PROGRAM TEXT
	out=$("$uprobe" -e "$2" 2>&1)
	st=$?
	expect_eq "$1" "$st" 1 "status ($out)" &&
		expect_eq "$1" "$(echo "$out" | grep -c "$3")" 1 "the message ($out)" && pass "$1"
}
refused refuse_uid "u:$lib:kt_work { @[uid] = count(); }" \
	"kt_work: uid: the kernel's uprobe events do not carry the user id"
refused refuse_str "u:$lib:kt_work { @[str(arg1 + 1)] = count(); }" \
	"kt_work: str() of an expression: on the kernel backend str() reads arg0..arg5 or retval"

# 7. --backend kernel with a command: its events only, the command's status.
"$uprobe" --backend kernel -e "u:$lib:kt_work { @[comm, arg0] = count(); }" \
	-c "$tmp/ktarget 3" >"$tmp/cmd.out" 2>"$tmp/cmd.err"
st=$?
expect_eq command "$st" 0 "status ($(cat "$tmp/cmd.err"))" &&
	expect_eq command "$(grep '^@' "$tmp/cmd.out" | sort)" "@[ktarget, 0]: 1
@[ktarget, 1]: 1
@[ktarget, 2]: 1" "maps" && pass command

# 8. --backend kernel -p: that process's events only, though another runs the same
# code; the tracer ends with the process.
rm -f "$tmp/f4" "$tmp/f5"
mkfifo "$tmp/f4" "$tmp/f5"
"$tmp/ktarget" 9 "$tmp/f4" >/dev/null &
p4=$!
"$tmp/ktarget" 4 "$tmp/f5" >/dev/null &
p5=$!
"$uprobe" --backend kernel -e "u:$lib:kt_* { @[pid, func] = count(); }" -p $p4 \
	>"$tmp/pid.out" 2>"$tmp/pid.err" &
tr=$!
if wait_for "$tmp/pid.err" "Ctrl-C to stop"; then
	echo x >"$tmp/f4"
	echo x >"$tmp/f5"
	wait $p4 $p5
	wait $tr
	st=$?
	expect_eq pid "$st" 0 "status ($(cat "$tmp/pid.err"))" &&
		expect_eq pid "$(grep '^@' "$tmp/pid.out")" "@[$p4, kt_work]: 9" "maps" &&
		expect_eq pid "$(left $tr)" 0 "lines left in dynamic_events" && pass pid
else
	kill -KILL $tr $p4 $p5 2>/dev/null
	fail pid "the tracer never said it was tracing: $(cat "$tmp/pid.err")"
fi

# 9. usdt:PATH:NAME (no provider, as bpftrace takes it): the marker of that name in any
# provider, probe naming the one found, as on the agent (lang_target usdt_any_one).
"$uprobe" --backend kernel -e "usdt:$tmp/usdt_two:only { @[probe] = count(); }
usdt:$tmp/usdt_two:beta:tick { @[probe] = count(); }" -c "$tmp/usdt_two" >"$tmp/usdt.out" \
	2>"$tmp/usdt.err"
expect_eq usdt_any "$?" 0 "status ($(cat "$tmp/usdt.err"))" &&
	expect_eq usdt_any "$(grep '^@' "$tmp/usdt.out")" "@[usdt:$tmp/usdt_two:alpha:only]: 1
@[usdt:$tmp/usdt_two:beta:tick]: 1" "maps" && pass usdt_any

# Files that are nowhere, a symbol a file does not have: refused by name before anything
# is attached (exit 1, nothing left in dynamic_events), as bpftrace does.
kerr() { # name want_stderr program
	"$uprobe" -e "$3" >"$tmp/$1.out" 2>"$tmp/$1.err" </dev/null
	st=$?
	expect_eq "$1" "$st" 1 "status" && expect_eq "$1" "$(cat "$tmp/$1.err")" "$2" "stderr" &&
		expect_eq "$1" "$(cat "$tmp/$1.out")" "" "stdout" &&
		expect_eq "$1" "$(grep -c 'p0_a0' "$ev")" 0 "lines left in dynamic_events" && pass "$1"
}
# Each said at its attach point in the program, as bpftrace says an error (lang_diag).
p='uprobe:/nonexistent-uprobe/x:f { @ = count(); }'
kerr missing_path "$(lang_diag ERROR "$p" "${p%% *}" "'/nonexistent-uprobe/x': No such file or \
directory")" "$p"
p='uprobe:libuprobes_nosuch:f { @ = count(); }'
kerr missing_short "$(lang_diag ERROR "$p" "${p%% *}" "'libuprobes_nosuch': no library of that \
name is loaded here or in /lib/x86_64-linux-gnu:/usr/lib/x86_64-linux-gnu:/lib64:/usr/lib64:\
/lib:/usr/lib, and no program of that name is on PATH")" "$p"
p="uprobe:$lib:nosuch { @ = count(); }"
kerr missing_symbol "$(lang_diag ERROR "$p" "${p%% *}" "symbol 'nosuch' not found in $lib")" \
	"$p"
p="uprobe:$lib:nosuchprefix* { @ = count(); }"
kerr wildcard_no_match "$(lang_diag ERROR "$p" "${p%% *}" "no function of $lib matches \
'nosuchprefix*'")" "$p"

exit $failed
