#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace (launch mode) end to end. Every traced run is compared with an
# untraced run of the same command: same output, same exit status; event
# counts are exact, derived from the command's arguments.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
tgt="$top/build/tests/cli/cli_target"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# 1000 calls, then a forked child makes 100 more: counts exact, both processes.
if same_run count --count -o "$tmp/count.out" \
	"p:t/work $tgt:cli_work a=%di b=%si" "r:t/name $tgt:cli_name s=+0(\$retval):string" \
	-- "$tgt" 1000 fork; then
	expect_eq count "$(cat "$tmp/count.out")" "@events[name]: 11
@events[work]: 1100" "counts" &&
		expect_eq count "$(grep -c 'mode optimized' "$tmp/count.stderr")" 2 "modes in the summary" &&
		pass count
fi

# text: one trace_pipe line per call, values in call order.
if same_run text -o "$tmp/text.out" "p:t/work $tgt:cli_work a=%di b=%si:u64" -- "$tgt" 500; then
	expect_eq text "$(wc -l <"$tmp/text.out")" 500 "lines" &&
		expect_eq text "$(sed -n '500s/.*: work: (0x[0-9a-f]*) //p' "$tmp/text.out")" \
			"a=0x1f3 b=1497" "last line's args" &&
		expect_eq text "$(awk '{ n = $NF; sub("b=", "", n); s += n } END { print s }' \
			"$tmp/text.out")" 374250 "sum of b over all lines" &&
		pass text
fi

# json: every line parses; a and b of every call, in order.
if same_run json -f json -o "$tmp/json.out" "p:t/work $tgt:cli_work a=%di:u32 b=%si:s64" \
	-- "$tgt" 300; then
	got=$(python3 -c '
import json, sys
ev = [json.loads(l) for l in open(sys.argv[1])]
ok = all(e["args"] == {"a": i, "b": 3 * i} and e["type"] == "entry" and e["event"] == "work"
         for i, e in enumerate(ev))
print(len(ev), ok)' "$tmp/json.out")
	expect_eq json "$got" "300 True" "events, all args right" && pass json
fi

# perfetto: return probes become B/E slices, matched.
if same_run perfetto -f perfetto -o "$tmp/pf.json" "r:t/name $tgt:cli_name s=+0(\$retval):string" \
	-- "$tgt" 700; then
	got=$(python3 -c '
import json, sys
ev = json.load(open(sys.argv[1]))["traceEvents"]
b = [e for e in ev if e["ph"] == "B"]
e = [x for x in ev if x["ph"] == "E"]
names = [x["args"]["s"] for x in b]
print(len(b), len(e), names == ["alpha", "beta", "gamma"] * 2 + ["alpha"])' "$tmp/pf.json")
	expect_eq perfetto "$got" "7 7 True" "B, E, names" && pass perfetto
fi

# --filter keeps a >= 995 of 1000 calls; --hist of a return value.
if same_run filter --filter 'a >= 995' -o "$tmp/filter.out" "p:t/work $tgt:cli_work a=%di:s64" \
	-- "$tgt" 1000; then
	expect_eq filter "$(sed 's/.* a=//' "$tmp/filter.out" | tr '\n' ' ')" \
		"995 996 997 998 999 " "filtered values" &&
		expect_eq filter "$(grep -c 'filtered out: 995' "$tmp/filter.stderr")" 1 "summary" &&
		pass filter
fi
# cli_work is lea; ret: the ret lies under the entry's jump, patched in the
# entry trampoline's copy (the site path, also with the hijack forced off).
if same_run hist --hist r -o "$tmp/hist.out" "r:t/work $tgt:cli_work r=\$retval:s64" \
	-- "$tgt" 64; then
	# cli_work(i, 3i) = 4i for i < 64: 0, then 4..252 in powers of two.
	expect_eq hist "$(grep -E '^\[' "$tmp/hist.out" | sed 's/ *|.*//; s/ //g' | tr '\n' ' ')" \
		"[0]1 [1]0 [2,4)0 [4,8)1 [8,16)2 [16,32)4 [32,64)8 [64,128)16 [128,256)32 " \
		"histogram rows" && pass hist
fi

# 8 threads x 20000 calls, printed as JSON: every call is an event or counted
# lost (the JSON printer is slower than 8 producers), each thread's events in
# call order.
if same_run threads -f json -o "$tmp/thr.out" "p:t/work $tgt:cli_work a=%di:u64" \
	-- "$tgt" threads 8 20000; then
	lost=$(sed -n 's/.*lost events (rings full): //p' "$tmp/threads.stderr")
	got=$(python3 -c '
import json, sys
last, n, bad = {}, 0, 0
for l in open(sys.argv[1]):
    e = json.loads(l)
    a, tid = e["args"]["a"], e["tid"]
    if tid in last and a <= last[tid]:
        bad += 1
    last[tid] = a
    n += 1
print(n + int(sys.argv[2]), bad, 1 <= len(last) <= 8)' "$tmp/thr.out" "$lost")
	expect_eq threads "$got" "160000 0 True" "events + lost, out-of-order events, threads seen" &&
		pass threads
fi

# exec: bash runs the target; the probe attaches in the image that maps it.
if same_run exec --count -o "$tmp/exec.out" "p:t/work $tgt:cli_work" \
	-- /usr/bin/bash -c "$tgt 200; $tgt 30"; then
	expect_eq exec "$(cat "$tmp/exec.out")" "@events[work]: 230" "count over two execs" &&
		pass exec
fi

# python3: 50 os.getppid() calls are 50 getppid() calls in libc.
if same_run python --count -o "$tmp/py.out" "p:libc:getppid" \
	-- /usr/bin/python3 -c 'import os
for _ in range(50): os.getppid()
print("done")'; then
	expect_eq python "$(cat "$tmp/py.out")" "@events[getppid]: 50" "count" && pass python
fi

# The command dies of a signal mid-trace: its events are drained, the status is 128+N.
if same_run crash --count -o "$tmp/crash.out" "p:libc:getppid" \
	-- /usr/bin/python3 -c 'import os, signal
for _ in range(7): os.getppid()
os.kill(os.getpid(), signal.SIGSEGV)'; then
	expect_eq crash "$(cat "$tmp/crash.out")" "@events[getppid]: 7" "count" &&
		expect_eq crash "$st" 139 "status (SIGSEGV)" &&
		pass crash
fi

# probe_state PID: "restored" when cli_work's first bytes in PID equal the file's.
probe_state() {
	python3 -c '
import subprocess, sys
pid, exe = sys.argv[1], sys.argv[2]
nm = subprocess.run(["nm", exe], capture_output=True, text=True).stdout
sym = int([l.split()[0] for l in nm.splitlines() if l.endswith(" cli_work")][0], 16)
base = None
for l in open(f"/proc/{pid}/maps"):
    f = l.split()
    if len(f) >= 6 and f[5] == exe and int(f[2], 16) == 0:
        base = int(f[0].split("-")[0], 16)
        break
mem = open(f"/proc/{pid}/mem", "rb")
mem.seek(base + sym)
live = mem.read(8)
data = open(exe, "rb").read()
print("restored" if live == data[sym:sym + 8] else "patched")' "$1" "$tgt" 2>&1
}

# bg_trace OUT UPROBE_ARGS...: uprobe trace in the background on "cli_target
# until $tmp/OUT.stop"; sets upid (uprobe) and tpid (the target) once the
# probe is in cli_work.
target_of() { # the uprobe's child, once it runs cli_target
	tpid=$(cat "/proc/$upid/task/$upid/children" 2>/dev/null)
	tpid=${tpid% }
	[ -n "$tpid" ] && [ "$(readlink "/proc/$tpid/exe")" = "$tgt" ]
}
is_patched() { [ "$(probe_state "$tpid")" = patched ]; }
is_restored() { [ "$(probe_state "$tpid")" = restored ]; }
bg_trace() {
	out=$1
	shift
	"$top/build/uprobe" trace "$@" -- "$tgt" until "$out.stop" >"$out" 2>"$out.err" &
	upid=$!
	wait_until $upid target_of
	# (Or tracing is already over: a -d shorter than a loaded machine's
	# polls here must not leave this waiting for ever.)
	wait_until $tpid patched_or_over "$out.err"
}
patched_or_over() { is_patched || grep -q '^uprobe: 1 process image' "$1"; }
# The target's output: its calls and their sum, which must be N (N + 1) / 2.
looped_right() { # file
	awk '$1 == "looped" && $2 > 0 && $4 == $2 * ($2 + 1) / 2 { print "right" }' "$1"
}

# The tracer SIGKILLed: the target runs on, its probe gone (once the agent
# saw its channel close), then ends when told to.
bg_trace "$tmp/kill.stdout" -q -o /dev/null "p:t/work $tgt:cli_work a=%di"
before=$(probe_state "$tpid")
kill -9 "$upid"
wait_until $tpid is_restored
got=$(probe_state "$tpid")
wait "$upid" 2>/dev/null
touch "$tmp/kill.stdout.stop"
wait_until 0 eval '! kill -0 "$tpid" 2>/dev/null'
if expect_eq tracer_killed "$before" patched "cli_work's bytes while traced" &&
	expect_eq tracer_killed "$got" restored "cli_work's bytes after the tracer died" &&
	expect_eq tracer_killed "$(looped_right "$tmp/kill.stdout")" right \
		"the target's output ($(cat "$tmp/kill.stdout"))"; then
	pass tracer_killed
fi

# -d: tracing stops (probe removed, summary printed) while the command runs on;
# uprobe then waits for it and exits with its status. (The one time here: the
# command must reach its first call within the 2 s of -d.)
bg_trace "$tmp/dur.stdout" -d 2 --count -o "$tmp/dur.out" "p:t/work $tgt:cli_work a=%di"
wait_until $upid grep -q '^uprobe: 1 process image' "$tmp/dur.stdout.err"
got=$(probe_state "$tpid")
touch "$tmp/dur.stdout.stop"
wait "$upid"
st=$?
n=$(sed 's/.*: //' "$tmp/dur.out")
calls=$(awk '{ print $2 + 0 }' "$tmp/dur.stdout")
if expect_eq duration "$got" restored "cli_work's bytes once the summary is out" &&
	expect_eq duration "$st" 3 "uprobe's status (the command's)" &&
	expect_eq duration "$(looped_right "$tmp/dur.stdout")" right \
		"output ($(cat "$tmp/dur.stdout"))" &&
	expect_eq duration "$([ "${n:-0}" -gt 0 ] && [ "$n" -le "${calls:-0}" ] && echo in-range)" \
		in-range "events while traced ($n of $calls calls)"; then
	pass duration
fi

# A stop signal: tracing stops (summary printed) while the command runs on;
# a second one is passed on to the command, and uprobe exits with its status
# (128 + SIGTERM). Before, uprobe went on waiting: only SIGKILL ended it.
bg_trace "$tmp/sig.stdout" --count -o "$tmp/sig.out" "p:t/work $tgt:cli_work a=%di"
kill -TERM "$upid"
wait_until $upid grep -q '^uprobe: 1 process image' "$tmp/sig.stdout.err"
running=$(kill -0 "$tpid" 2>/dev/null && echo running)
got=$(probe_state "$tpid")
kill -TERM "$upid"
wait "$upid"
st=$?
if expect_eq stop_signal "$running" running "the command after the first SIGTERM" &&
	expect_eq stop_signal "$got" restored "cli_work's bytes once the summary is out" &&
	expect_eq stop_signal "$st" 143 "uprobe's status after the second SIGTERM" &&
	expect_eq stop_signal "$(kill -0 "$tpid" 2>/dev/null || echo gone)" gone \
		"the command after the second SIGTERM"; then
	pass stop_signal
fi

# errors: message and exit status.
err() { # name want_status want_text uprobe_args...
	name=$1 want=$2 text=$3
	shift 3
	up "$@" >"$tmp/err.out" 2>&1
	st=$?
	if [ "$st" = "$want" ] && grep -qF -- "$text" "$tmp/err.out"; then
		pass "$name"
	else
		fail "$name" "status $st (want $want), output: $(head -c 300 "$tmp/err.out")"
	fi
}
col=$(printf '%s' "p:t/x $tgt:cli_work +0(" | wc -c)
err bad_spec 2 "^ column $col: %eax" "p:t/x $tgt:cli_work +0(%eax):u8" -- "$tgt" 10
err unknown_symbol 1 "symbol 'nosuch' not found" "p:t/x $tgt:nosuch" -- "$tgt" 10
err mid_instruction 1 "is inside the instruction" "p:t/x $tgt:cli_work+1" -- "$tgt" 10
err no_command 2 "no command given" "p:t/x $tgt:cli_work" --
err no_probe 2 "no probe given" -- "$tgt" 10
err bad_command 127 "cannot run '/nonexistent'" "p:t/x $tgt:cli_work" -- /nonexistent
err bad_filter 2 "expected == != < <= > or >= at column 2" --filter 'a ~ 3' "p:t/x $tgt:cli_work a=%di" -- "$tgt" 1
err unknown_hist 2 "--hist 'zz': no probe has a fetch-arg of that name" --hist zz "p:t/x $tgt:cli_work a=%di" -- "$tgt" 1
err bad_format 2 "--format 'xml'" -f xml "p:t/x $tgt:cli_work" -- "$tgt" 1
err attach_and_command 2 "trace one or the other" -p 1 "p:t/x $tgt:cli_work" -- "$tgt" 1

# A file that is nowhere: refused before the command starts (bpftrace: "uprobe target file
# '...' does not exist"), by name, exactly; a file that exists, or a short name the command
# could load, is waited for (a program it execs may map it: "never attached" then).
err_exact() { # name want_status want_output uprobe_args...
	name=$1 want=$2 text=$3
	shift 3
	rm -f "$tmp/ran"
	up "$@" >"$tmp/err.out" 2>&1
	st=$?
	expect_eq "$name" "$st" "$want" "status" &&
		expect_eq "$name" "$(cat "$tmp/err.out")" "$text" "output" &&
		expect_eq "$name" "$(ls "$tmp/ran" 2>&1 >/dev/null | sed 's/.*: //')" \
			"No such file or directory" "the command not started" && pass "$name"
}
ran="touch $tmp/ran"
err_exact missing_path 1 "uprobe: cannot attach t/x (/nonexistent-uprobe/x:f): \
'/nonexistent-uprobe/x': No such file or directory" "p:t/x /nonexistent-uprobe/x:f" -- sh -c "$ran"
err_exact missing_relative 1 "uprobe: cannot attach t/x (./no-such-prog:f+0x4): \
'./no-such-prog': No such file or directory" "p:t/x ./no-such-prog:f+4" -- sh -c "$ran"
err_exact missing_not_dir 1 "uprobe: cannot attach t/x ($tgt/x:0x10): '$tgt/x': Not a directory" \
	"p:t/x $tgt/x:0x10" -- sh -c "$ran"
err_exact missing_glob_path 1 "uprobe: cannot attach t/x (/nonexistent-uprobe*/x:f): \
'/nonexistent-uprobe*/x': No such file or directory" "p:t/x /nonexistent-uprobe*/x:f" -- sh -c "$ran"
err_exact missing_short_name 1 "uprobe: cannot attach t/x (libuprobes_nosuch:f): \
'libuprobes_nosuch': no file of that name: not the command, not in its library path (RUNPATH, \
LD_LIBRARY_PATH, the loader's directories) nor on PATH (a library loaded from elsewhere: name \
it by its path)" "p:t/x libuprobes_nosuch:f" -- sh -c "$ran"
err_exact missing_sdt_file 1 "uprobe: probe 'usdt:/nonexistent-uprobe/x:p:n': \
'/nonexistent-uprobe/x': No such file or directory" "usdt:/nonexistent-uprobe/x:p:n" -- sh -c "$ran"
# A glob on a short name reads the functions of the file the command would map: here
# the libc this process maps (sh's).
libc=$(readlink -f "$(ldd /bin/sh | sed -n 's/.*libc.so.6 => \([^ ]*\) .*/\1/p')")
err_exact wildcard_short_name 1 "uprobe: probe 'p:t/x libc:nosuchprefix*': no function of \
$libc matches 'nosuchprefix*'" "p:t/x libc:nosuchprefix*" -- sh -c "$ran"
err_exact wildcard_no_match 1 "uprobe: probe 'p:t/x $tgt:nosuchprefix*': no function of $tgt \
matches 'nosuchprefix*'" "p:t/x $tgt:nosuchprefix*" -- sh -c "$ran"
# A symbol the file does not have: the agent's refusal; the command ends before its main.
up "p:t/x $tgt:nosuch" -- "$tgt" 10 >"$tmp/err.out" 2>&1
st=$?
expect_eq missing_symbol "$st" 1 "status" && expect_eq missing_symbol "$(cat "$tmp/err.out")" \
	"uprobe: cannot attach t/x ($tgt:nosuch): symbol 'nosuch' not found in $tgt" "output" &&
	pass missing_symbol
# Waited for: a path that exists, and a short name found in LD_LIBRARY_PATH; neither is
# mapped by the command, which runs as untraced; the summary (and -q) says why.
cp -L "$(ldd "$tgt" | sed -n 's/.*libc.so.6 => \([^ ]*\) .*/\1/p')" "$tmp/libwaited.so.6"
want_out=$("$tgt" 100)
LD_LIBRARY_PATH="$tmp" up "p:t/x $tmp/libwaited.so.6:getpid" "p:t/y libwaited:getppid" \
	-- "$tgt" 100 >"$tmp/wait.out" 2>"$tmp/wait.err"
st=$?
expect_eq waited "$st" 3 "status" && expect_eq waited "$(cat "$tmp/wait.out")" "$want_out" \
	"output" && expect_eq waited "$(grep 'never attached' "$tmp/wait.err")" \
	"  t/x: never attached: '$tmp/libwaited.so.6' is not mapped (executable) in this process
  t/y: never attached: 'libwaited': no loaded executable or library of that name" "summary" &&
	pass waited
LD_LIBRARY_PATH="$tmp" up -q "p:t/x $tmp/libwaited.so.6:getpid" -- "$tgt" 100 \
	>"$tmp/wait.out" 2>"$tmp/wait.err"
st=$?
expect_eq waited_quiet "$st" 3 "status" && expect_eq waited_quiet "$(cat "$tmp/wait.err")" \
	"uprobe: t/x ($tmp/libwaited.so.6:getpid): never attached: '$tmp/libwaited.so.6' is not \
mapped (executable) in this process" "stderr (-q)" && pass waited_quiet
# Reasons longer than the 171 bytes the agent's statuses used to hold, whole: a refusal
# (fatal) and a wait (the summary), each naming a 200-byte path (the library's own
# messages hold 511).
long="$tmp/$(printf 'd%.0s' $(seq 60))/$(printf 'e%.0s' $(seq 60))/$(printf 'f%.0s' $(seq 60))"
mkdir -p "$long"
cp "$tgt" "$long/cli_target"
cp "$tmp/libwaited.so.6" "$long/"
up "p:t/x $long/cli_target:nosuch" -- "$long/cli_target" 10 >"$tmp/err.out" 2>&1
st=$?
expect_eq long_reason "$st" 1 "status" && expect_eq long_reason "$(cat "$tmp/err.out")" \
	"uprobe: cannot attach t/x ($long/cli_target:nosuch): symbol 'nosuch' not found in \
$long/cli_target" "output" && pass long_reason
up "p:t/x $long/libwaited.so.6:getpid" -- "$tgt" 100 >/dev/null 2>"$tmp/wait.err"
st=$?
expect_eq long_reason_summary "$st" 3 "status" &&
	expect_eq long_reason_summary "$(grep 'never attached' "$tmp/wait.err")" \
		"  t/x: never attached: '$long/libwaited.so.6' is not mapped (executable) in this \
process" "summary" && pass long_reason_summary
# -a (the kernel's uprobes): every file resolved before anything is attached.
# tracefs_mount: a fresh machine, CI's, runs this case too instead of skipping it.
tracefs_mount
if [ "$(id -u)" = 0 ] && [ -w /sys/kernel/tracing/uprobe_events ] ||
	[ -w /sys/kernel/debug/tracing/uprobe_events ]; then
	up -a -d 1 "p:t/x /nonexistent-uprobe/x:f" >"$tmp/err.out" 2>&1
	st=$?
	expect_eq missing_path_all "$st" 1 "status" && expect_eq missing_path_all \
		"$(cat "$tmp/err.out")" "uprobe: probe t/x (kernel backend): '/nonexistent-uprobe/x': \
No such file or directory" "output" && pass missing_path_all
else
	skip missing_path_all "no writable uprobe_events"
fi
exit $failed
