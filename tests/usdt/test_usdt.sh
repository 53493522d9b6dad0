#!/bin/sh
# SPDX-License-Identifier: MIT
# SDT markers end to end: uprobe list against readelf -n, the markers of
# build/tests/usdt/usdt_target traced (their args against what the program
# prints it passed), semaphores (non-zero only while traced, launched and
# attached to), python3.11's own markers against its own books, and the
# refusals.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=usdt
. "$top/tests/lib.sh"
up="$top/build/uprobe"
tgt="$top/build/tests/usdt/usdt_target"
py=/usr/bin/python3.11
tmp=$(mktemp -d)
bg=""
trap 'for p in $bg; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

check_eq() { # name got want what
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "$4: got '$2', want '$3'"; fi
}
check_same() { # name got-file want-file
	if cmp -s "$2" "$3"; then pass "$1"; else fail "$1" "differs: $(diff "$2" "$3" | head -8)"; fi
}
check_grep() { # name file pattern
	if grep -q -- "$3" "$2"; then pass "$1"; else fail "$1" "'$3' not in: $(head -c 400 "$2")"; fi
}
# Event lines as "EVENT ARGS", the form the target prints its markers' values in.
events_as_lines() { sed -n 's/^ *[^ ]* *\[[0-9]*\] *[0-9.]*: \([a-z_]*\): ([^)]*) /\1 /p' "$1"; }

# ---- uprobe list: the markers, as readelf -n shows them ----------------------------

"$up" list "$tgt" 'utest:*' >"$tmp/list.out" 2>"$tmp/list.err"
python3 - "$tgt" "$tmp/list.out" >"$tmp/list.chk" <<'PY'
import re, subprocess, sys
exe, listing = sys.argv[1], open(sys.argv[2]).read().splitlines()
notes = subprocess.run(["readelf", "-nW", exe], capture_output=True, text=True).stdout
secs = subprocess.run(["readelf", "-SW", exe], capture_output=True, text=True).stdout
probes = re.search(r"\.probes\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)", secs)
want = []
for prov, name, loc, sem, args in re.findall(
        r"Provider: (\S+)\s+Name: (\S+)\s+Location: (0x[0-9a-f]+), Base: \S+, "
        r"Semaphore: (0x[0-9a-f]+)\s+Arguments: ?([^\n]*)", notes):
    sem = int(sem, 16)
    semoff = "none" if not sem else hex(sem - int(probes.group(1), 16) + int(probes.group(2), 16))
    want.append((int(loc, 16), f"sdt:{prov}:{name}", semoff, args.strip()))
got = []
for l in listing:
    m = re.match(r"0x([0-9a-f]+)\s+(\S+)\s+sdt\s+offset 0x[0-9a-f]+\s+semaphore (\S+)\s+args: (.*?)(  arg\d+ '.*)?$", l)
    if m:
        got.append((int(m.group(1), 16), m.group(2), m.group(3), m.group(4)))
print("ok" if got == want and len(want) == 9 else f"got {got}\nwant {want}")
PY
check_eq list_vs_readelf "$(cat "$tmp/list.chk")" ok "uprobe list vs readelf -n"
check_grep list_summary "$tmp/list.err" '^9 SDT markers$'
check_grep list_refusal_named "$tmp/list.out" "sdt:utest:indexed .*arg2 '8@(%rax,%rbx,4)': index registers are not supported"
"$up" list -q "$tgt" 'guard*' >"$tmp/listq.out" 2>/dev/null
check_eq list_pattern "$(cat "$tmp/listq.out")" "sdt:utest:guarded" "list -q 'guard*'"

# ---- launch mode: every marker's args, exactly as the program passed them --------

"$up" trace -o "$tmp/ev.txt" sdt:utest:ints sdt:utest:globals \
	'sdt:utest:str name=+0($arg1):string $arg2' sdt:utest:stack sdt:utest:twice \
	sdt:utest:guarded -- "$tgt" run 5 >"$tmp/run.out" 2>"$tmp/run.err"
check_eq launch_exit "$?" 0 "exit status"
events_as_lines "$tmp/ev.txt" >"$tmp/ev.lines"
grep -v -e '^round' -e '^semaphore' "$tmp/run.out" >"$tmp/want.lines"
check_same launch_args_exact "$tmp/ev.lines" "$tmp/want.lines"
check_eq launch_event_count "$(wc -l <"$tmp/ev.lines")" 35 "events of 5 rounds (7 each)"
check_eq launch_twice_two_places "$(grep -c 'sdt:utest:twice: p:utest/twice ' "$tmp/run.err")" 2 \
	"places of the inlined marker"
check_grep launch_rip_relative "$tmp/run.err" 'p:utest/globals .* arg1=+0x[0-9a-f]*(%ip):s32 arg2=+0x[0-9a-f]*(%ip):s64'
check_eq launch_semaphore_on "$(grep -c 'enabled=1 semaphore=1$' "$tmp/run.out")" 5 "rounds with the semaphore 1"

# Untraced, and traced without the guarded marker: its semaphore stays 0.
"$tgt" run 3 >"$tmp/plain.out"
check_eq untraced_semaphore_off "$(grep -c 'enabled=0 semaphore=0$' "$tmp/plain.out")" 3 "untraced rounds"
"$up" trace -q -o "$tmp/ev2.txt" sdt:utest:ints -- "$tgt" run 3 >"$tmp/other.out"
check_eq other_marker_semaphore_off "$(grep -c 'enabled=0 semaphore=0$' "$tmp/other.out")" 3 \
	"rounds traced at utest:ints only"
check_eq other_marker_events "$(grep -c ' ints: ' "$tmp/ev2.txt")" 3 "utest:ints events"

# ---- attach mode: the semaphore is 1 while traced, 0 before and after -------------

"$tgt" serve >"$tmp/serve.out" &
pid=$!
bg="$bg $pid"
wait_until $pid grep -q '^ready' "$tmp/serve.out"
round() { # wait for "done N"
	kill -USR1 $pid
	wait_until $pid grep -q "^done $1\$" "$tmp/serve.out"
}
round 1
"$up" trace -p $pid -o "$tmp/evp.txt" 'sdt:utest:guarded' 'usdt:usdt_target:utest:ints' 2>"$tmp/p.err" &
tracer=$!
wait_until $tracer grep -q 'tracing PID' "$tmp/p.err"
round 2
kill -INT $tracer
wait $tracer
check_eq attach_exit "$?" 0 "uprobe trace -p exit status"
round 3
kill -TERM $pid
wait $pid
check_eq attach_semaphore_before "$(sed -n 's/^round 0 //p' "$tmp/serve.out")" "enabled=0 semaphore=0" "round before tracing"
check_eq attach_semaphore_during "$(sed -n 's/^round 1 //p' "$tmp/serve.out")" "enabled=1 semaphore=1" "round while traced"
check_eq attach_semaphore_after "$(sed -n 's/^round 2 //p' "$tmp/serve.out")" "enabled=0 semaphore=0" "round after detach"
events_as_lines "$tmp/evp.txt" >"$tmp/evp.lines"
sed -n '/^done 1$/,/^done 2$/p' "$tmp/serve.out" | grep -e '^ints' -e '^guarded' >"$tmp/wantp.lines"
check_same attach_events_exact "$tmp/evp.lines" "$tmp/wantp.lines"

# ---- python3.11's own markers --------------------------------------------------------

if [ -x "$py" ]; then
	"$up" trace -q -o "$tmp/evpy.txt" sdt:python:gc__start \
		'usdt:python3.11:python:import__find__load__start mod=+0($arg1):string' \
		-- "$py" -S -E "$top/tests/usdt/py_markers.py" >"$tmp/py.out"
	python3 - "$tmp/evpy.txt" "$tmp/py.out" >"$tmp/py.chk" <<'PY'
import re, sys
ev, out = open(sys.argv[1]).read().splitlines(), open(sys.argv[2]).read().splitlines()
before = {l.split()[1] for l in out if l.startswith("before ")}
new = [l.split()[1] for l in out if l.startswith("new ")]
mods = [m.group(1) for l in ev for m in [re.search(r' import__find__load__start: \([^)]*\) mod="([^"]*)"$', l)] if m]
got = sorted(m for m in mods if m not in before)
gens = {}
for l in ev:
    m = re.search(r" gc__start: \([^)]*\) arg1=(\d+)$", l)
    if m:
        gens[m.group(1)] = gens.get(m.group(1), 0) + 1
want_gens = {l.split()[1]: int(l.split()[2]) for l in out if l.startswith("gen ")}
print("imports", "ok" if got == new and len(new) >= 30 else f"got {got} want {new}")
print("gc", "ok" if gens == want_gens and want_gens["1"] >= 4 and want_gens["2"] >= 2
      else f"got {gens} want {want_gens}")
PY
	check_eq python_imports "$(sed -n 's/^imports //p' "$tmp/py.chk")" ok "module names"
	check_eq python_gc_generations "$(sed -n 's/^gc //p' "$tmp/py.chk")" ok "collections per generation"
else
	echo "SKIP: usdt/python ($py missing)"
fi

# ---- refusals ------------------------------------------------------------------------

"$up" trace sdt:utest:nosuch -- "$tgt" run 1 >/dev/null 2>"$tmp/e1"
check_eq unknown_marker_exit "$?" 1 "exit status"
check_grep unknown_marker_named "$tmp/e1" "no SDT marker utest:nosuch in '.*usdt_target' (.*usdt_target) and the [0-9]* libraries it needs"
"$up" trace sdt:nosuchprov:ints -- "$tgt" run 1 >/dev/null 2>"$tmp/e2"
check_grep unknown_provider_named "$tmp/e2" "no SDT marker nosuchprov:ints in"
"$up" trace sdt:utest:highbyte -- "$tgt" run 1 >/dev/null 2>"$tmp/e3"
check_grep unsupported_arg_named "$tmp/e3" "utest:highbyte .*arg1 '1@%ah': high-byte register %ah is not supported"
"$up" trace 'sdt:utest:ints x=$arg6' -- "$tgt" run 1 >/dev/null 2>"$tmp/e4"
check_grep missing_arg_named "$tmp/e4" "fetch-arg 'x': \$arg6: marker utest:ints has no argument 6"
"$up" trace usdt:libnosuch:utest:ints -- "$tgt" run 1 >/dev/null 2>"$tmp/e5"
check_grep unknown_file_named "$tmp/e5" "'libnosuch': no file of that name in"
"$up" trace 'r:sdt:utest:ints' -- "$tgt" run 1 >/dev/null 2>"$tmp/e6"
check_eq retprobe_exit "$?" 2 "exit status"
check_grep retprobe_refused "$tmp/e6" "An SDT marker has no return probe"
"$tgt" serve >"$tmp/serve2.out" &
pid=$!
bg="$bg $pid"
wait_until $pid grep -q '^ready' "$tmp/serve2.out"
"$up" trace -p $pid "usdt:$py:python:gc__start" >/dev/null 2>"$tmp/e7"
check_eq not_loaded_exit "$?" 1 "exit status"
check_grep not_loaded_named "$tmp/e7" "'$py' is not loaded (not in the files PID $pid maps)"
kill -TERM $pid
wait $pid

exit $failed
