#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe -e with probes in a traced process: the plan runs in the agent, on maps
# in the target (issue 16). Exact counts per key from 4 threads (and `@ = count()`,
# a count-only event, through fork, an early thread exit and SIGKILL); the one-liners of
# oneliners.txt print bpftrace 0.17's map text (expected/, maps compared as sets,
# hist lines exactly; LANG_CONF_LIVE=1 also runs bpftrace now); the latency idiom
# counts every call; launch (-c, --) and attach (-p) modes; the target's output and
# status are the untraced run's; printf, print, exit() and interval probes beside probes in
# the target (emit_oneliners.txt). No timing is asserted.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
dir="$top/tests/lang_target"
suite=lang_target
. "$top/tests/lib.sh"
uprobe="$top/build/uprobe"
tgt="$top/build/tests/map_exact/map_target"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Runs of map lines ("@x[k]: v", v a number or a string) sorted: bpftrace orders equal
# values by its hash.
maps_as_sets() {
	awk '/^@[A-Za-z0-9_]*(\[.*\])?: [^ ]/ && !/: $/ { print | "sort"; next }
		{ close("sort"); print }' "$1"
}

# What the target printed: the lines after "Attaching N probes...", up to the maps.
target_part() {
	awk 'NR == 1 { next } /^$/ { exit } { print }' "$1"
}

# The check of issue 16: 5,000,000 calls in each of 4 threads, N / 5 per key and thread:
# 4,000,000 per key, exactly.
n=5000000
"$uprobe" -e "uprobe:$tgt:map_f { @[arg0] = count(); @c = count(); @s = sum(arg1); }" \
	-c "$tgt -s $n 4" >"$tmp/exact.out" 2>"$tmp/exact.err"
st=$?
want=$(printf 'Attaching 1 probe...\n'; "$tgt" -s $n 4; printf '\n\n'
	for k in 0 1 2 3 4; do echo "@[$k]: $((4 * n / 5))"; done
	echo "@c: $((4 * n))"; echo "@s: $((4 * n * (n - 1) / 2))"; echo)
got=$(maps_as_sets "$tmp/exact.out")
expect_eq exact "$st" 3 "the target's status" &&
	expect_eq exact "$got" "$want" "output" && expect_eq exact "$(cat "$tmp/exact.err")" "" \
		"stderr" && pass exact

# ++ and a keyless value map from 4 threads: exact (bpftrace 0.17's ++ is a read, then a
# write, and loses updates between CPUs).
"$uprobe" -e "uprobe:$tgt:map_f { @inc[arg0]++; @c++; @v = 7; } END { printf(\"c=%d\\n\", @c); }" \
	-c "$tgt 10000 4" >"$tmp/inc.out" 2>"$tmp/inc.err"
want=$(echo "c=40000"; echo; echo; echo "@c: 40000"; for k in 0 1 2 3 4; do echo "@inc[$k]: 8000"
	done; echo "@v: 7")
expect_eq increment "$(grep -v -e '^thread' -e '^total' -e '^Attaching' "$tmp/inc.out" |
	maps_as_sets /dev/stdin)" "$want" "output" && pass increment

# Maps of strings (the ssllatency idiom): 4 threads each set their own string at entry
# (@s[tid]) and read it there and at the return, exactly; all of them set one shared key
# to one of two 60-byte strings and read it back: always one of them whole, never ""
# (a reader never waits for a writer), and nothing dropped.
odd=$(printf 'odd%.0s' $(seq 20)) even=$(printf 'even%.0s' $(seq 15))
"$uprobe" -e "uprobe:$tgt:map_f { @s[tid] = arg1 % 2 ? \"odd\" : \"even\"; @n[@s[tid], arg1 % 2] = count();
@all = arg1 % 2 ? \"$odd\" : \"$even\"; @w[@all] = count(); }
uretprobe:$tgt:map_f { @r[@s[tid]] = count(); delete(@s[tid]); } END { clear(@all); }" \
	-c "$tgt 100000 4" >"$tmp/str.out" 2>"$tmp/str.err"
want=$(printf '@n[even, 0]: 200000\n@n[odd, 1]: 200000\n@r[even]: 200000\n@r[odd]: 200000')
expect_eq str_threads "$(grep -e '^@n' -e '^@r' "$tmp/str.out" | sort)" "$want" "own strings" &&
	expect_eq str_threads "$(sed -n 's/^@w\[\(.*\)\]: .*/\1/p' "$tmp/str.out" | sort |
		tr '\n' ' ')" "$even $odd " "the shared key's values" &&
	expect_eq str_threads "$(awk '/^@w\[/ { s += $2 } END { print s + 0 }' "$tmp/str.out")" \
		400000 "reads of the shared key" &&
	expect_eq str_threads "$(grep -c -e '^@s' -e '^@all' "$tmp/str.out")" 0 "maps left" &&
	expect_eq str_threads "$(grep -v '^thread\|^total' "$tmp/str.err")" "" "stderr" &&
	pass str_threads

# The same under "-- CMD ARGS"; the target's own output is the untraced run's.
"$uprobe" -e "uprobe:$tgt:map_f { @ = count(); }" -- "$tgt" -s 1000 4 >"$tmp/dash.out" 2>&1
st=$?
expect_eq dash_launch "$st" 3 "status" &&
	expect_eq dash_launch "$(target_part "$tmp/dash.out")" "$("$tgt" -s 1000 4)" "target output" &&
	expect_eq dash_launch "$(grep '^@' "$tmp/dash.out")" "@: 4000" "count" && pass dash_launch

# `@ = count()` at an entry is a count-only event (fetch_count_handler, no lang_hit_run):
# exact with 4 threads, a thread that exits early (-e: N / 10 more) and a forked child
# (-f: N more); with SIGKILL at the end (-k: what was counted is printed).
n=100000
"$uprobe" -e "uprobe:$tgt:map_f { @ = count(); }" -c "$tgt -f -e $n 4" >"$tmp/cf.out" 2>&1
expect_eq count_fork "$(grep '^@' "$tmp/cf.out")" "@: $((5 * n + n / 10))" "count" &&
	pass count_fork
"$uprobe" -e "uprobe:$tgt:map_f { @ = count(); }" -c "$tgt -k $n 4" >"$tmp/ck.out" 2>&1
expect_eq count_kill "$(grep '^@' "$tmp/ck.out")" "@: $((4 * n))" "count" && pass count_kill

# The same by key (`@[arg0] = count()`, a keyed map updated by the handler, not the
# stub): keys 0-4 get N / 5 from each of the 4 threads and from the forked child, the
# early thread's key 7 its N / 10; after SIGKILL, N / 5 per key from each thread.
"$uprobe" -e "uprobe:$tgt:map_f { @[arg0] = count(); }" -c "$tgt -f -e $n 4" \
	>"$tmp/kf.out" 2>&1
expect_eq keyed_fork "$(grep '^@' "$tmp/kf.out" | sort)" \
	"$(for k in 0 1 2 3 4; do echo "@[$k]: $n"; done; echo "@[7]: $((n / 10))")" \
	"per key" && pass keyed_fork
"$uprobe" -e "uprobe:$tgt:map_f { @[arg0] = count(); }" -c "$tgt -k $n 4" >"$tmp/kk.out" 2>&1
expect_eq keyed_kill "$(grep '^@' "$tmp/kk.out" | sort)" \
	"$(for k in 0 1 2 3 4; do echo "@[$k]: $((4 * n / 5))"; done)" "per key" &&
	pass keyed_kill

# The count stub (docs/maps.md): a keyless count() map only written by `= count()` in
# probes of the process, never clear()ed, zero()ed nor delete()d, is counted by the
# trampoline itself (-d: "map @: count stub"); at entries only (the uretprobe's hits take
# the handler, into the same map: the two summed at read). Exact with 4 threads x N
# beside the handler's path, both at once in one map, and UPROBE_COUNT_STUB=off, the
# same; a program that clear()s its map (the stub's words cannot be) counts without it,
# exactly; zero(), delete(), a write in BEGIN, a key: no stub either.
stub_bad=0
stub_d() {
	"$uprobe" -d -e "$1" | grep '^map .*: count stub$' | tr '\n' ' '
}
sp="uprobe:$tgt:map_f { @ = count(); } uretprobe:$tgt:map_f { @r = count(); }"
expect_eq count_stub "$(stub_d "$sp")" "map @: count stub map @r: count stub " "-d" ||
	stub_bad=1
for env in on off; do
	UPROBE_COUNT_STUB=$env "$uprobe" -e "$sp
uprobe:$tgt:map_f /arg0 == 2/ { @ = count(); @p = count(); } END { print(@); }" \
		-c "$tgt $n 4" >"$tmp/cs.out" 2>"$tmp/cs.err"
	expect_eq count_stub "$(grep '^@' "$tmp/cs.out" | sort | tr '\n' ' ')" \
		"@: $((4 * n + 4 * n / 5)) @: $((4 * n + 4 * n / 5)) @p: $((4 * n / 5)) @r: $((4 * n)) " \
		"UPROBE_COUNT_STUB=$env: counts" &&
		expect_eq count_stub "$(grep -v '^thread\|^total' "$tmp/cs.err")" "" "$env: stderr" ||
		stub_bad=1
done
for prog in "uprobe:$tgt:map_f { @ = count(); } END { clear(@); }" \
	"uprobe:$tgt:map_f { @ = count(); } END { zero(@); }" \
	"uprobe:$tgt:map_f { @ = count(); } END { delete(@); }" \
	"uprobe:$tgt:map_f { @ = count(); } BEGIN { @ = count(); }" \
	"uprobe:$tgt:map_f { @[arg0] = count(); }"; do
	expect_eq count_stub "$(stub_d "$prog")" "" "-d: no stub: $prog" || stub_bad=1
done
# clear() (in END, after print()): no stub, and exact.
"$uprobe" -e "uprobe:$tgt:map_f { @ = count(); } uretprobe:$tgt:map_f { @ = count(); }
END { print(@); clear(@); }" -c "$tgt $n 4" >"$tmp/csc.out" 2>&1
expect_eq count_stub "$(grep '^@' "$tmp/csc.out" | tr '\n' ' ')" "@: $((8 * n)) @: 0 " \
	"clear() in END: no stub, exact" || stub_bad=1
# That the stub counts: stub_target samples its calling thread (its CPU-time timer): on
# the stub no sample of the 50,000,000 calls is in libuprobes' code; through the handler
# (UPROBE_COUNT_STUB=off) it calls until 20 are. Both counted exactly.
stt="$top/build/tests/lang_target/stub_target"
"$uprobe" -e "uprobe:$stt:stub_f { @ = count(); }" -c "$stt $tmp/st.on 50000000" \
	>"$tmp/st.out" 2>&1
read -r calls samples inlib <"$tmp/st.on" || calls=x
expect_eq count_stub "$(grep '^@' "$tmp/st.out")" "@: 50001000" "stub_target: count" &&
	expect_eq count_stub "$calls.$inlib.$((samples >= 5))" "50001000.0.1" \
		"stub_target: calls, samples in libuprobes, >= 5 samples ($samples)" || stub_bad=1
UPROBE_COUNT_STUB=off "$uprobe" -e "uprobe:$stt:stub_f { @ = count(); }" \
	-c "$stt $tmp/st.off 0" >"$tmp/st.out" 2>&1
read -r calls samples inlib <"$tmp/st.off" || calls=x
expect_eq count_stub "$(grep '^@' "$tmp/st.out").$inlib" "@: $calls.20" \
	"UPROBE_COUNT_STUB=off: count, samples in libuprobes" || stub_bad=1
[ $stub_bad = 0 ] && pass count_stub

# The latency idiom: every call's duration lands in the histogram.
"$uprobe" -e "uprobe:$tgt:map_f { @start[tid] = nsecs; }
uretprobe:$tgt:map_f /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }" \
	-c "$tgt 20000 4" >"$tmp/lat.out" 2>"$tmp/lat.err"
total=$(awk '/^\[/ { sub(/^\[[^])]*[])] */, ""); s += $1 } END { print s + 0 }' "$tmp/lat.out")
expect_eq latency "$total" 80000 "calls in @lat" && pass latency

# The fast paths (the shapes -d names: agg, set, latency) print what the interpreter
# prints (UPROBE_LANG_PLAN=general), from 4 threads: maps as sets, hist lines exactly;
# the latency idiom's histogram depends on timing: its total only, and no @start left.
pg_bad=0
for prog in "@ = count();" "@[arg0] = count();" "@h = hist(arg1);" "@s[arg0] = sum(arg1);" \
	"@l = lhist(arg1, 0, 1000, 100);" "@v[arg0] = arg0 * 0 + arg0;" "@v[arg0] = arg0;"; do
	p="uprobe:$tgt:map_f { $prog }"
	"$uprobe" -e "$p" -c "$tgt -s 1000 4" 2>&1 | maps_as_sets /dev/stdin >"$tmp/fast.out"
	UPROBE_LANG_PLAN=general "$uprobe" -e "$p" -c "$tgt -s 1000 4" 2>&1 |
		maps_as_sets /dev/stdin >"$tmp/general.out"
	path=$("$uprobe" -d -e "$p" | sed -n 's/^probe 0: .*, \([a-z]*\) path$/\1/p')
	gpath=$(UPROBE_LANG_PLAN=general "$uprobe" -d -e "$p" |
		sed -n 's/^probe 0: .*, \([a-z]*\) path$/\1/p')
	case "$prog" in
	*"* 0"*) want=general ;;
	*" = arg0;"*) want=set ;;
	*) want=agg ;;
	esac
	expect_eq "plan_general" "$path.$gpath" "$want.general" "$prog: paths" &&
		expect_eq "plan_general" "$(cat "$tmp/fast.out")" "$(cat "$tmp/general.out")" \
			"$prog: output" || { pg_bad=1; continue; }
	grep -q '^@' "$tmp/fast.out" || { pg_bad=1; fail plan_general "$prog: no map printed"; }
done
lat="uprobe:$tgt:map_f { @start[tid] = nsecs; }
uretprobe:$tgt:map_f /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }"
expect_eq plan_general "$("$uprobe" -d -e "$lat" | grep -c ', latency path\(, tid-owned\)\?$')" 1 \
	"latency path" || pg_bad=1
for how in fast general; do
	UPROBE_LANG_PLAN=$how "$uprobe" -e "$lat" -c "$tgt 20000 4" >"$tmp/lat_$how.out" 2>&1
	expect_eq plan_general "$(awk '/^\[/ { sub(/^\[[^])]*[])] */, ""); s += $1 }
		END { print s + 0 }' "$tmp/lat_$how.out").$(grep -c '^@start' "$tmp/lat_$how.out")" \
		80000.0 "$how: calls in @lat, @start left" || pg_bad=1
done
[ $pg_bad = 0 ] && pass plan_general

# The latency idiom's own path (plan_fast.tidns: @start tid-owned, the owner's remembered
# slot), exact, and the same with UPROBE_LANG_PLAN=general: recursion (rec_f 3 deep, 10000
# times: only the innermost return finds @start, as bpftrace's), 4 threads beside a thread
# that exits early and a fork child (102000 calls), and an entry still in flight when the
# process ends (stay_f never returns): @start printed with that thread's tid, nothing in @lat.
lt_bad=0
lt_total() {
	awk '/^\[/ { sub(/^\[[^])]*[])] */, ""); s += $1 } END { print s + 0 }' "$1"
}
for how in fast general; do
	for run in "rec_f:-r 3 10000 1:10000" "map_f:-e -f 20000 4:102000"; do
		fn=${run%%:*} args=${run#*:} want=${run##*:}
		args=${args%:*}
		UPROBE_LANG_PLAN=$how "$uprobe" -e "uprobe:$tgt:$fn { @start[tid] = nsecs; }
uretprobe:$tgt:$fn /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }" \
			-c "$tgt $args" >"$tmp/lt.out" 2>"$tmp/lt.err"
		expect_eq latency_tidns "$(lt_total "$tmp/lt.out").$(grep -c '^@start' "$tmp/lt.out")" \
			"$want.0" "$how, $fn $args: calls in @lat, @start left" &&
			expect_eq latency_tidns "$(cat "$tmp/lt.err")" "" "$how, $fn: stderr" ||
			lt_bad=1
	done
	UPROBE_LANG_PLAN=$how "$uprobe" -e "uprobe:$tgt:stay_f { @start[tid] = nsecs; }
uretprobe:$tgt:stay_f /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }" \
		-c "$tgt -x 10 1" >"$tmp/lt.out" 2>"$tmp/lt.err"
	x=$(sed -n 's/^x tid //p' "$tmp/lt.out")
	expect_eq latency_tidns "$(grep '^@start' "$tmp/lt.out" | sed 's/: [1-9][0-9]*$/: NS/')" \
		"@start[$x]: NS" "$how: the entry in flight at the end" &&
		expect_eq latency_tidns "$(lt_total "$tmp/lt.out")" 0 "$how: calls in @lat" || lt_bad=1
done
expect_eq latency_tidns "$("$uprobe" -d -e "uprobe:$tgt:map_f { @start[tid] = nsecs; }
uretprobe:$tgt:map_f /@start[tid]/ { @lat = hist(nsecs - @start[tid]); delete(@start[tid]); }" |
	grep -c 'path, tid-owned$')" 2 "-d: both probes on the owner's path" || lt_bad=1
[ $lt_bad = 0 ] && pass latency_tidns

# usdt: the marker's arguments (not the registers), str() of one of them.
usdt="$top/build/tests/usdt/usdt_target"
"$uprobe" -e "usdt:$usdt:utest:str { @s[str(arg0), arg1] = count(); }" -c "$usdt run 3" \
	>"$tmp/usdt.out" 2>"$tmp/usdt.err"
expect_eq usdt "$(grep '^@' "$tmp/usdt.out")" "$(printf '@s[item-%d, 6]: 1\n' 0 1 2)" "maps" &&
	pass usdt

# probe of a usdt probe: "usdt:PATH:PROVIDER:NAME" as bpftrace 0.17 names it (the probe line
# the agent gets is the marker's address), in a key and in printf.
"$uprobe" -e "usdt:$usdt:utest:ints { @[probe] = count(); printf(\"<%s>\\n\", probe); }" \
	-c "$usdt run 3" >"$tmp/usdtp.out" 2>"$tmp/usdtp.err"
expect_eq usdt_probe "$(grep -e '^@' -e '^<' "$tmp/usdtp.out")" \
	"$(printf '<usdt:%s:utest:ints>\n' "$usdt" "$usdt" "$usdt"; echo "@[usdt:$usdt:utest:ints]: 3")" \
	"output" && pass usdt_probe

# lang_err NAME STATUS STDERR STDOUT UPROBE_ARGS...: a run whose status and outputs are exact.
lang_err() { # name want_status want_stderr want_stdout uprobe_args...
	name=$1 want=$2 text=$3 out=$4
	shift 4
	"$uprobe" "$@" >"$tmp/$name.out" 2>"$tmp/$name.err" </dev/null
	st=$?
	expect_eq "$name" "$st" "$want" "status" &&
		expect_eq "$name" "$(cat "$tmp/$name.err")" "$text" "stderr" &&
		expect_eq "$name" "$(cat "$tmp/$name.out")" "$out" "stdout" && pass "$name"
}

# usdt:PATH:NAME, as bpftrace takes it: the marker of that name in any provider (probe
# names the one found), refused when two providers have it (bpftrace 0.17: "Insufficiently
# specified probe"); uprobe trace's usdt:PATH:*:NAME is the same.
two="$top/build/tests/lang_target/usdt_two"
"$uprobe" -e "usdt:$usdt:ints { @[probe] = count(); }" -c "$usdt run 3" >"$tmp/usdta.out" \
	2>"$tmp/usdta.err"
expect_eq usdt_any "$(grep '^@' "$tmp/usdta.out")" "@[usdt:$usdt:utest:ints]: 3" "maps" &&
	expect_eq usdt_any "$(cat "$tmp/usdta.err")" "" "stderr" && pass usdt_any
"$uprobe" -e "usdt:$two:only { @[probe] = count(); } usdt:$two:beta:tick { @[probe] = count(); }" \
	-c "$two" >"$tmp/usdt2.out" 2>"$tmp/usdt2.err"
expect_eq usdt_any_one "$(grep '^@' "$tmp/usdt2.out")" "@[usdt:$two:alpha:only]: 1
@[usdt:$two:beta:tick]: 1" "maps" && pass usdt_any_one
p="usdt:$two:tick { @ = count(); }"
lang_err usdt_any_two 1 "$(lang_diag ERROR "$p" "${p%% *}" "SDT marker tick is in 2 providers \
of $two (alpha, beta): name one, usdt:PATH:PROVIDER:tick")" "" -e "$p" -c "$two"
"$uprobe" trace -q --count "usdt:$two:*:tick" -- "$two" >"$tmp/usdtt.out" 2>"$tmp/usdtt.err"
expect_eq usdt_any_trace "$?:$(cat "$tmp/usdtt.err")" "1:uprobe: probe 'usdt:$two:*:tick': SDT \
marker tick is in 2 providers of $two (alpha, beta): name one, usdt:PATH:PROVIDER:tick" \
	"status:stderr" && pass usdt_any_trace

# A uretprobe runs at a return, where retval is (bpftrace's): the calls a C++ exception
# leaves (thrower throws for every third i, through passer) do not run it; stderr says how
# many. On the hijack (forced: thrower's throw is a part elsewhere, passer's ret a site)
# the frames thrown through are seen: 2 of every 3 calls return, and retval is theirs.
th="$top/build/tests/lang_target/throw_target"
UPROBE_RET_PATH=hijack "$uprobe" -e "uprobe:$th:passer { @e = count(); }
uretprobe:$th:passer { @r = count(); } uretprobe:$th:thrower { @t = count(); @v = sum(retval); }" \
	-c "$th 3000" >"$tmp/throw.out" 2>"$tmp/throw.err"
st=$?
want_v=$(python3 -c 'print(sum(2 * i for i in range(3000) if i % 3))')
expect_eq unwound "$st" 0 "status" &&
	expect_eq unwound "$(grep -v -e '^@' -e '^Attaching' -e '^$' "$tmp/throw.out")" \
		"$("$th" 3000)" "the program's output, as untraced" &&
	expect_eq unwound "$(grep '^@' "$tmp/throw.out")" "@e: 3000
@r: 2000
@t: 2000
@v: $want_v" "maps: returns only" &&
	expect_eq unwound "$(cat "$tmp/throw.err")" "uprobe: 2000 calls left by an exception or \
longjmp (unwound): their uretprobe did not run" "stderr" && pass unwound

# printf, print and exit() in probes of the traced process, on emit_target (one thread,
# in order): stdout exactly bpftrace 0.17's (expected/emit_*.out, LANG_TARGET_REBASE=1
# writes them from bpftrace). NAME<TAB>FORMAT<TAB>ARGS<TAB>PROGRAM (TARGET: its path).
emit="$top/build/tests/lang_target/emit_target"
grep -v '^#' "$dir/emit_oneliners.txt" | while IFS='	' read -r name fmt args prog; do
	[ -n "$name" ] || continue
	prog=$(printf "%s" "$prog" | sed "s|TARGET|$emit|g")
	exp="$dir/expected/emit_$name.out"
	if [ "${LANG_TARGET_REBASE:-0}" = 1 ]; then
		bpftrace -f "$fmt" -e "$prog" -c "$emit $args" 2>/dev/null </dev/null >"$exp"
	fi
	"$uprobe" -f "$fmt" -e "$prog" -c "$emit $args" >"$tmp/emit_$name.out" \
		2>"$tmp/emit_$name.err" </dev/null
	st=$?
	if ! cmp -s "$tmp/emit_$name.out" "$exp"; then
		fail "emit_$name" "differs from bpftrace's: $(diff "$exp" "$tmp/emit_$name.out" |
			head -8)
$(head -3 "$tmp/emit_$name.err")"
		continue
	fi
	# exit() ends the command (killed in its sleep: no "done"), status 0 as bpftrace's;
	# otherwise the command's own status (3) and its "done" line. "exit(": the target's
	# path may hold "exit" (a worktree named retexit).
	case "$prog" in
	*"exit("*) want_st=0 want_err="" ;;
	*) want_st=3 want_err="done" ;;
	esac
	expect_eq "emit_$name" "$st" "$want_st" "status" &&
		expect_eq "emit_$name" "$(grep -o '^done' "$tmp/emit_$name.err")" "$want_err" \
			"the command's end" && pass "emit_$name"
done

# print, clear and zero at a hit take effect there (the thread waits until the tracer has
# performed them): 100000 calls at full speed, every 10000th prints the count then clears
# it and zeroes a sum: each print shows exactly 10000 (when the tracer performed them
# later, the hits made meanwhile were printed and cleared too), the end 0s.
"$uprobe" -e "uprobe:$emit:emit_f { @c = count(); @s = sum(arg0); if (arg0 % 10000 == 9999) { print(@c); clear(@c); zero(@s); } }" \
	-c "$emit 100000" >"$tmp/hit_sync.out" 2>"$tmp/hit_sync.err"
want=$(printf 'Attaching 1 probe...\n'; for i in 1 2 3 4 5 6 7 8 9 10; do echo "@c: 10000"; done
	printf '\n\n@c: 0\n@s: 0\n')
expect_eq hit_sync "$(cat "$tmp/hit_sync.out")" "$want" "output" && pass hit_sync

# printf from 4 threads (4 rings): the lines of bpftrace 0.17 as a set, the target's own
# output among them (expected/emit_threads.out: bpftrace's, sorted).
prog="uprobe:$tgt:map_f /arg1 < 3/ { printf(\"%d %d %d %s\\n\", arg0, arg1, tid > 0, comm); }"
if [ "${LANG_TARGET_REBASE:-0}" = 1 ]; then
	bpftrace -e "$prog" -c "$tgt -s 1000 4" 2>/dev/null </dev/null | sort >"$dir/expected/emit_threads.out"
fi
"$uprobe" -e "$prog" -c "$tgt -s 1000 4" 2>"$tmp/threads.err" </dev/null | sort >"$tmp/threads.out"
expect_eq emit_threads "$(cat "$tmp/threads.out")" "$(cat "$dir/expected/emit_threads.out")" \
	"lines" && pass emit_threads

# printf at full rate: what is not printed is said lost ("Lost N events", as bpftrace says
# it), and the total again on stderr: printed + lost = hits, however many are lost.
n=300000
"$uprobe" -e "uprobe:$emit:emit_f { printf(\"%d\\n\", arg0); }" -c "$emit $n" >"$tmp/rate.out" \
	2>"$tmp/rate.err"
said=$(awk '/^Lost [0-9]+ events$/ { s += $2 } END { print s + 0 }' "$tmp/rate.out")
printed=$(grep -c '^[0-9][0-9]*$' "$tmp/rate.out")
total=$(sed -n 's/^uprobe: lost events (rings full): //p' "$tmp/rate.err")
expect_eq printf_rate "$((printed + said))" "$n" "printed + said lost" &&
	expect_eq printf_rate "${total:-0}" "$said" "the total on stderr" && pass printf_rate

# str() of bad pointers in the target: "" as bpftrace's, and counted on stderr.
expect_grep str_faults "$tmp/emit_str_fault.err" \
	'uprobe: str() read 3 bad pointers in the traced process (each gave "")' "summary" &&
	pass str_faults

# Interval probes beside probes in the target, on the maps merged at each tick. What a
# tick sees depends on timing; these hold whatever it is: every hit counted once over the
# printed intervals and the end (clear, zero), and print alone never goes down.
# emit_target 200 1000: 200 calls a millisecond apart, about 4 ticks of 50 ms.
"$uprobe" -e "uprobe:$emit:emit_f { @c = count(); } interval:ms:50 { print(@c); clear(@c); }" \
	-c "$emit 200 1000" >"$tmp/iclear.out" 2>"$tmp/iclear.err"
ticks=$(grep -c '^@c: ' "$tmp/iclear.out")
expect_eq interval_clear "$(awk '/^@c: / { s += $2 } END { print s + 0 }' "$tmp/iclear.out")" \
	200 "hits over the ticks and the end" &&
	expect_eq interval_clear "$(head -1 "$tmp/iclear.out")" "Attaching 2 probes..." "first line" &&
	expect_eq interval_clear "$([ "$ticks" -ge 2 ] && echo yes)" yes "@c printed twice at least" &&
	pass interval_clear

"$uprobe" -e "uprobe:$emit:emit_f { @k[arg0 % 3] = count(); }
interval:ms:50 { print(@k); zero(@k); }" -c "$emit 200 1000" >"$tmp/izero.out" 2>"$tmp/izero.err"
expect_eq interval_zero "$(awk -F': ' '/^@k\[/ { s[$1] += $2 } END { for (k in s) print k, s[k] }' \
	"$tmp/izero.out" | sort)" "$(printf '@k[0] 67\n@k[1] 67\n@k[2] 66')" "hits per key" &&
	pass interval_zero

"$uprobe" -e "uprobe:$emit:emit_f { @c = count(); } interval:ms:50 { print(@c); }" \
	-c "$emit 200 1000" >"$tmp/iprint.out" 2>"$tmp/iprint.err"
expect_eq interval_print "$(awk '/^@c: / { if ($2 < last) bad = 1; last = $2 }
	END { print bad ? "down" : last }' "$tmp/iprint.out")" 200 "values (never down), the last" &&
	pass interval_print

# Ticks under stress (issue 16: aggregates exact at any hit rate): 4 threads call map_f at
# full speed (n calls each: arg0 = i % 5, arg1 = i), a tick every 10 ms prints every map
# and clears or zeroes it. Every hit is printed once over the ticks and the end: summed,
# the counts, buckets, stats and sums are the calls', exactly. avg(7) and stats(7) are
# 7 at every tick (0 when zeroed and not hit since): count and sum are read together (a
# shard's sequence word, map_shm.h); a copy taken between the writer's two stores had
# shown 6 or 8.
tick_sums() { # FILE: the printed values summed per map, key and bucket
	awk '/^@c: / { c += $2 } /^@x: / { x += $2 } /^@k\[/ { k[$1] += $2 }
	/^@a: / { a = a ($2 == 7 || $2 == 0 ? "" : " " $2) }
	/^@t: count/ { gsub(/,/, ""); if (($5 != 7 || $7 != 7 * $3) && $3 != 0) t = t " " $3 "/" $5 "/" $7 }
	/^@s: count/ { gsub(/,/, ""); sc += $3; st += $7 }
	/^\[/ { n = $0; sub(/^.*[])] +/, "", n); l = $0; sub(/[])] .*/, "", l); h[l] += n }
	END { print "@c", c; print "@x", x; print "@s", sc, st; for (i in k) print i, k[i]
		for (i in h) print "@h " i, h[i]; print "@a" a; print "@t" t }' "$1" | sort
}
n=400000
for verb in clear zero; do
	"$uprobe" -e "uprobe:$tgt:map_f { @c = count(); @k[arg0] = count(); @h = hist(arg1 % 8);
@s = stats(arg1 % 8); @x = sum(arg1 % 8); @a = avg(7); @t = stats(7); }
interval:ms:10 { print(@c); print(@k); print(@h); print(@s); print(@x); print(@a); print(@t);
$verb(@c); $verb(@k); $verb(@h); $verb(@s); $verb(@x); $verb(@a); $verb(@t); }" \
		-c "$tgt $n 4" >"$tmp/tick_$verb.out" 2>"$tmp/tick_$verb.err"
	want=$( (echo "@c $((4 * n))"; echo "@x $((14 * n))"; echo "@s $((4 * n)) $((14 * n))"
		for k in 0 1 2 3 4; do echo "@k[$k]: $((4 * n / 5))"; done
		echo "@h [0 $((n / 2))"; echo "@h [1 $((n / 2))"; echo "@h [2, 4 $n"
		echo "@h [4, 8 $((2 * n))"; echo "@a"; echo "@t") | sort)
	got=$(tick_sums "$tmp/tick_$verb.out")
	expect_eq "tick_$verb" "$got" "$want" "sums over the ticks and the end" &&
		expect_eq "tick_$verb" "$([ "$(grep -c '^@c: ' "$tmp/tick_$verb.out")" -ge 2 ] &&
			echo yes)" yes "@c printed twice at least" &&
		expect_eq "tick_$verb" "$(cat "$tmp/tick_$verb.err")" "" "stderr" && pass "tick_$verb"
done

# min() printed then cleared at 1 ms ticks while one thread calls emit_f(i) for i = 0 ..
# 2M-1 at full speed: the ticks (and the end) split the calls into consecutive runs, each
# printed as @r[0] its first i and @r[1] 2000000 - its last i, so each run starts 1 after
# the last one ended (2 when a tick fell between a hit's two updates), the first at 0, the
# last ends at 1999999. A hit between a tick's print and its clear used to be lost (runs
# of hundreds); the region's periods (map_read_period) make it exact.
"$uprobe" -e "uprobe:$emit:emit_f { @r[0] = min(arg0); @r[1] = min(2000000 - arg0); }
interval:ms:1 { printf(\"tick\\n\"); print(@r); clear(@r); }" -c "$emit 2000000" \
	>"$tmp/minmax.out" 2>"$tmp/minmax.err"
# per print (a block up to the next tick or empty line): s its first i, e its last; a run
# may lack one (a thread preempted between a hit's two updates for two ticks)
got=$(awk 'function block() { if (hs) { d = s - last; if (d < 1 || d > 2) print "gap", last, s }
		if (hs || he) { last = he ? e : s; n++ }; hs = he = 0 }
	BEGIN { last = -1 } /^@r\[0\]: / { s = $2; hs = 1 } /^@r\[1\]: / { e = 2000000 - $2; he = 1 }
	/^$|^tick$/ { block() } END { block(); if (last != 1999999) print "last", last
		if (n < 3) print "runs", n; print "ok" }' "$tmp/minmax.out")
expect_eq minmax_ticks "$got" ok "runs of calls chained" && pass minmax_ticks

# A key cleared goes until it is hit again (zeroed: printed as 0 meanwhile). emit_target
# 400 1000: calls 1 ms apart; @k[7] is hit by the first 10 and the last 10, hundreds of
# milliseconds apart, 20 ms ticks. A sum hit with 0s only after a clear() stays hidden
# (unlike bpftrace, which shows it as 0: docs/language.md).
for verb in clear zero; do
	"$uprobe" -e "uprobe:$emit:emit_f /arg0 < 10 || arg0 >= 390/ { @k[7] = count();
@s[7] = sum(arg0 - arg0); } interval:ms:20 { printf(\"tick\\n\"); print(@k); print(@s);
$verb(@k); $verb(@s); } END { printf(\"tick\\n\"); }" -c "$emit 400 1000" \
		>"$tmp/again_$verb.out" 2>"$tmp/again_$verb.err"
	# per tick: k (@k[7] printed not 0), 0 (printed as 0) or - (not printed), repeats squeezed
	seen=$(awk '/^tick$/ { if (NR > 1) printf "%s", t; t = "-" } /^@k\[7\]: / { t = $2 ? "k" : 0 }
		END { print t }' "$tmp/again_$verb.out" | tr -s 'k0-')
	case $verb in clear) want_seen="k-k" want_s=1 ;; *) want_seen="k0k" want_s=0 ;; esac
	expect_eq "again_$verb" "$(case $seen in *"$want_seen"*) echo "$want_seen" ;;
		*) echo "$seen" ;; esac)" "$want_seen" "per tick: @k[7] printed (k), as 0 (0), not (-)" &&
		expect_eq "again_$verb" "$(awk '/^@k\[7\]: / { s += $2 } END { print s }' \
			"$tmp/again_$verb.out")" 20 "hits over the ticks" &&
		expect_eq "again_$verb" "$(grep -c '^@s\[7\]: 0$' "$tmp/again_$verb.out" |
			awk -v c="$want_s" '{ print (c ? $1 == 1 : $1 > 1) ? "ok" : $1 }')" ok \
			"@s[7]: 0 lines" && pass "again_$verb"
done

# delete() in the target of a key cleared before: it starts again from zero there; never
# printed below zero, the other key's hits all printed.
"$uprobe" -e "uprobe:$emit:emit_f { @k[arg0 % 2] = count(); if (arg0 == 300) { delete(@k[0]); } }
interval:ms:20 { print(@k); clear(@k); }" -c "$emit 400 1000" >"$tmp/del.out" 2>"$tmp/del.err"
expect_eq delete_cleared "$(awk '/^@k\[/ && $2 < 0 { print }' "$tmp/del.out")" "" \
	"values below 0" &&
	expect_eq delete_cleared "$(awk '/^@k\[1\]: / { s += $2 } END { print s }' "$tmp/del.out")" \
		200 "@k[1] over the ticks" &&
	expect_eq delete_cleared "$(awk '/^@k\[0\]: / { s += $2 } END { print (s >= 49 && s <= 200) }' \
		"$tmp/del.out")" 1 "@k[0] over the ticks: its 49 hits after the delete at least" &&
	pass delete_cleared

# Attach mode: the target waits on its FIFO ($tmp/NAME.fifo) until uprobe -p says it
# is tracing, makes its calls and writes "done". attached NAME TARGET-OPTIONS... returns
# then, with tpid and upid set; uprobe's output in $tmp/NAME.out and .err.
attached() {
	fifo="$tmp/$1.fifo"
	out="$tmp/$1.out" err="$tmp/$1.err"
	shift
	mkfifo "$fifo"
	"$tgt" -w "$fifo" "$@" &
	tpid=$!
	wait_exec $tpid "$tgt"
	prog=${aprog:-}
	[ -n "$prog" ] || prog="uprobe:$tgt:map_f { @[arg0] = count(); }"
	"$uprobe" -e "$prog" -p $tpid >"$out" 2>"$err" &
	upid=$!
	wait_until $upid grep -q "tracing PID $tpid" "$err"
	echo go >"$fifo"
	cat "$fifo" >/dev/null
}

keys() { # per-key count: the maps uprobe prints
	printf 'Attaching 1 probe...\n\n\n'
	for k in 0 1 2 3 4; do echo "@[$k]: $1"; done
	echo
}

attached attach_pid 100000 4
wait $tpid
wait $upid
expect_eq attach_pid "$(maps_as_sets "$out")" "$(keys 80000)" "output" && pass attach_pid

# The agent's own calls are not the program's: map_target calls pthread_create once a
# thread and none of the others, which the agent calls (its READY and GO, its watcher
# thread's poll and recv, its constructors' clock_gettime and pthread_atfork, its
# thread's masks). A glob on a short name ("libc:pthread_creat?") reads the functions of
# the file the command would map (-c) or the process maps (-p); func is the function's
# name, not its ELF name's @@VERSION. bpftrace 0.17 counts the same (4, nothing else).
own_prog='uprobe:libc:pthread_creat? { @[func] = count(); }
uprobe:libc:poll,uprobe:libc:recv,uprobe:libc:sendmsg,uprobe:libc:clock_gettime,
uprobe:libc:pthread_sigmask,uprobe:libc:__register_atfork { @[func] = count(); }'
# counted NAME PROGRAM COUNTS [STDERR]: uprobe -e PROGRAM -c "map_target -s 1000 4": its
# status (3) and output the untraced run's, its map lines (sorted) COUNTS, its stderr
# STDERR (default: nothing).
counted() {
	"$uprobe" -e "$2" -c "$tgt -s 1000 4" >"$tmp/$1.out" 2>"$tmp/$1.err"
	st=$?
	expect_eq "$1" "$st" 3 "status" &&
		expect_eq "$1" "$(target_part "$tmp/$1.out")" "$("$tgt" -s 1000 4)" \
			"target output" &&
		expect_eq "$1" "$(grep '^@' "$tmp/$1.out" | LC_ALL=C sort)" "$3" "counts" &&
		expect_eq "$1" "$(cat "$tmp/$1.err")" "${4:-}" "stderr" && pass "$1"
}
counted agent_calls_c "$own_prog" "@[pthread_create]: 4"
aprog=$own_prog attached agent_calls_p 1000 4 # the threads start after the FIFO's line
wait $tpid
wait $upid
expect_eq agent_calls_p "$(grep '^@' "$out")" "@[pthread_create]: 4" "counts" &&
	pass agent_calls_p

# Detach (SIGTERM: a background job ignores SIGINT) while the process runs on: what was
# counted until then is printed; the calls it makes afterwards (-a) are not probed.
# detached NAME: attached NAME -a 100000 2, detached, the process let go; the statuses
# checked, 0 when both are 0.
detached() {
	attached "$1" -a 100000 2
	kill -TERM $upid
	wait $upid
	ust=$?
	echo again >"$fifo"
	wait $tpid
	expect_eq "$1" "$ust.$?" "0.0" "statuses"
}
detached detach &&
	expect_eq detach "$(maps_as_sets "$out")" "$(keys 40000)" "output" && pass detach

# The same with the count stub (`@ = count()`): its stubs off at the detach, the words
# read after; the calls after it not counted; and attached (-p) for a whole run of 4
# threads: their calls exactly.
aprog="uprobe:$tgt:map_f { @ = count(); }"
detached detach_stub &&
	expect_eq detach_stub "$(grep '^@' "$out")" "@: 200000" "output" && pass detach_stub
attached attach_stub 100000 4
wait $tpid
wait $upid
expect_eq attach_stub "$(grep '^@' "$out")" "@: 400000" "output" && pass attach_stub
aprog=

# exit() with -p: uprobe ends by itself (the process waits on its FIFO meanwhile), prints
# what came before exit(), and leaves the process running, its probes out.
mkfifo "$tmp/exitp.fifo"
"$tgt" -w "$tmp/exitp.fifo" -a 1000 1 &
tpid=$!
wait_exec $tpid "$tgt"
"$uprobe" -e "uprobe:$tgt:map_f { @n++; if (@n <= 3) { printf(\"%d %d\\n\", arg0, arg1); }
if (@n == 500) { exit(); } } END { clear(@n); }" -p $tpid >"$tmp/exitp.out" 2>"$tmp/exitp.err" &
upid=$!
wait_until $upid grep -q "tracing PID $tpid" "$tmp/exitp.err"
echo go >"$tmp/exitp.fifo"
cat "$tmp/exitp.fifo" >/dev/null
wait $upid
ust=$?
echo again >"$tmp/exitp.fifo"
wait $tpid
tst=$?
want=$(printf 'Attaching 2 probes...\n0 0\n1 1\n2 2\n\n\n')
expect_eq exit_pid "$ust.$tst" "0.0" "statuses" &&
	expect_eq exit_pid "$(cat "$tmp/exitp.out")" "$want" "output" && pass exit_pid

# probe as a map key, in printf("%s") and print() (issue 16): the target's path is past 64
# bytes, so the names of map_f's and main's probes share their first 63; each is its own
# key, named in full, as bpftrace 0.17 prints them (text and json; json's maps by value, ties
# by name here, by its hash in bpftrace); BEGIN's too.
long="$tmp/a_directory_whose_name_is_long_enough_that_probe_names_pass_64_bytes"
mkdir -p "$long" && cp "$tgt" "$long/map_target"
lt="$long/map_target"
prog="uprobe:$lt:map_f, uprobe:$lt:main { @[probe] = count(); @k[probe, 1] = count(); }
uprobe:$lt:main { printf(\"%s|%-10s|\\n\", probe, probe); print(probe); } BEGIN { @[probe] = count(); }"
"$uprobe" -e "$prog" -c "$lt -s 1000 4" >"$tmp/probe.out" 2>"$tmp/probe.err" </dev/null
want=$(printf '%s\n' "uprobe:$lt:main|uprobe:$lt:main|" "uprobe:$lt:main" "@[BEGIN]: 1" \
	"@[uprobe:$lt:main]: 1" "@[uprobe:$lt:map_f]: 4000" "@k[uprobe:$lt:main, 1]: 1" \
	"@k[uprobe:$lt:map_f, 1]: 4000" | LC_ALL=C sort)
expect_eq probe_key_long "$(grep -e '^@' -e '^uprobe:' "$tmp/probe.out" | LC_ALL=C sort)" "$want" \
	"output" && expect_eq probe_key_long "$(cat "$tmp/probe.err")" "" "stderr" &&
	pass probe_key_long
"$uprobe" -f json -e "$prog" -c "$lt -s 1000 4" >"$tmp/probej.out" 2>"$tmp/probej.err" </dev/null
m="uprobe:$lt:main" f="uprobe:$lt:map_f"
want=$(printf '%s\n' "{\"type\": \"printf\", \"data\": \"$m|$m|\\n\"}" \
	"{\"type\": \"value\", \"data\": \"$m\"}" \
	"{\"type\": \"map\", \"data\": {\"@\": {\"BEGIN\": 1, \"$m\": 1, \"$f\": 4000}}}" \
	"{\"type\": \"map\", \"data\": {\"@k\": {\"$m,1\": 1, \"$f,1\": 4000}}}")
expect_eq probe_key_json "$(grep '^{"type": "[pvm]' "$tmp/probej.out")" "$want" "output" &&
	pass probe_key_json

# Files that are nowhere: refused before anything runs (bpftrace 0.17: "uprobe target file
# '...' does not exist or is not executable", exit 1), in each mode; a file that exists
# but the command never maps: the run goes on, and stderr says the probe never attached.
# Each said at its attach point in the program, as bpftrace says an error (lang_diag), never
# by the probe line the program became ("p:lang/p0_a0 ..."); a refusal prints no map.
p='uprobe:/nonexistent-uprobe/x:f { @ = count(); }'
lang_err missing_path_c 1 "$(lang_diag ERROR "$p" "${p%% *}" \
	"'/nonexistent-uprobe/x': No such file or directory")" "" -e "$p" -c "touch $tmp/ran"
expect_eq missing_path_c "$(ls "$tmp/ran" 2>/dev/null)" "" "the command not started"
p='uprobe:libuprobes_nosuch:f { @ = count(); }'
lang_err missing_short_dash 1 "$(lang_diag ERROR "$p" "${p%% *}" "'libuprobes_nosuch': no \
file of that name: not the command, not in its library path (RUNPATH, LD_LIBRARY_PATH, the \
loader's directories) nor on PATH (a library loaded from elsewhere: name it by its path)")" "" \
	-e "$p" -- "$tgt" 10 1
p='uprobe:/nonexistent-uprobe*/x:f { @ = count(); }'
lang_err missing_glob_path_c 1 "$(lang_diag ERROR "$p" "${p%% *}" \
	"'/nonexistent-uprobe*/x': No such file or directory")" "" -e "$p" -c "$tgt 10 1"
p="uprobe:$tgt:nosuchprefix* { @ = count(); }"
lang_err wildcard_no_match_c 1 "$(lang_diag ERROR "$p" "${p%% *}" "no function of $tgt matches \
'nosuchprefix*'")" "" -e "$p" -c "$tgt 10 1"
# Refused by the agent (no such symbol): the command ends before its main (touch creates
# nothing), no map is printed (bpftrace prints none when it cannot attach); the second
# attach point of a probe is the one shown (from the end of the comma, as bison places it).
libc=$(readlink -f "$(ldd "$tgt" | sed -n 's/.*libc.so.6 => \([^ ]*\) .*/\1/p')")
p='uprobe:libc:malloc, uprobe:libc:no_such_fn { @ = count(); }'
lang_err refused_symbol_c 1 "$(lang_diag ERROR "$p" " uprobe:libc:no_such_fn" "symbol \
'no_such_fn' not found in $libc")" "Attaching 2 probes..." -e "$p" -c "touch $tmp/ran2"
expect_eq refused_symbol_c "$(ls "$tmp/ran2" 2>/dev/null)" "" "the command not run"
# A glob on a short name: the functions of the libc the command would map, func without
# the ELF name's @@VERSION (pthread_join@@GLIBC_2.34); map_target joins its 4 threads.
counted glob_short_c 'uprobe:libc:pthread_joi? { @[func] = count(); }' "@[pthread_join]: 4"
# A glob of uprobe -e matches what bpftrace's does: no PLT stub unless it names one
# (map_target's pthread_* are all stubs); any glob skips, with a note, what nothing
# bounds (gcc's crt code: no symbol size, no FDE), which the attach would refuse (bpftrace
# 0.17 refuses the whole program: "Offset outside the function bounds ('register_tm_clones'
# size is 0)"): every other function of the file counted.
counted glob_all_c "uprobe:$tgt:* { @[func] = count(); }" "@[_start]: 1
@[caller]: 4
@[main]: 1
@[map_f]: 4000" "$(lang_diag WARNING "uprobe:$tgt:* { @[func] = count(); }" "uprobe:$tgt:*" \
	"skipped 6 functions that nothing bounds (no symbol size, no .eh_frame FDE: their start \
cannot be proved an instruction boundary): _init, deregister_tm_clones, register_tm_clones, \
__do_global_dtors_aux, frame_dummy, _fini")"
counted glob_plt_c "uprobe:$tgt:pthread_c*@plt,uprobe:$tgt:pthread_j*@plt { @[func] = count(); }" \
	"@[pthread_create@plt]: 4
@[pthread_join@plt]: 4"
p="uprobe:$tgt:pthread_* { @ = count(); }"
lang_err glob_no_plt_c 1 "$(lang_diag ERROR "$p" "${p%% *}" "no function of $tgt matches \
'pthread_*' but PLT stubs or functions without a symbol, which a glob matches when it names \
them ('*@plt', 'fn_*')")" "" -e "$p" -c "$tgt 10 1"
p='uprobe:libc:nosuchprefix* { @ = count(); }'
lang_err glob_short_none_c 1 "$(lang_diag ERROR "$p" "${p%% *}" "no function of $libc matches \
'nosuchprefix*'")" "" -e "$p" -c "$tgt 10 1"
p='uprobe:libuprobes_nosuch:f* { @ = count(); }'
lang_err glob_short_missing_c 1 "$(lang_diag ERROR "$p" "${p%% *}" "no ELF file named \
'libuprobes_nosuch' that the command could map (the command, its library path, the loader's \
directories, PATH); a glob reads the functions of one file: name it by its path")" "" \
	-e "$p" -c "$tgt 10 1"
"$tgt" -s 100000000 1 >/dev/null &
spid=$!
wait_exec $spid "$tgt" # the name in the message is the program's, not the forked shell's
p='uprobe:/nonexistent-uprobe/x:f { @ = count(); }'
lang_err missing_path_p 1 "$(lang_diag ERROR "$p" "${p%% *}" \
	"'/nonexistent-uprobe/x': No such file or directory")" "Attaching 1 probe..." -e "$p" -p $spid
expect_eq missing_path_p "$(alive $spid && echo alive)" alive "the process after the refusal"
p='uprobe:libuprobes_nosuch:f* { @ = count(); }'
lang_err glob_short_missing_p 1 "$(lang_diag ERROR "$p" "${p%% *}" "no ELF file named \
'libuprobes_nosuch' that the process maps; a glob reads the functions of one file: name it \
by its path")" "" -e "$p" -p $spid
kill $spid
wait $spid 2>/dev/null
cp -L "$(ldd "$tgt" | sed -n 's/.*libc.so.6 => \([^ ]*\) .*/\1/p')" "$tmp/libwaited.so.6"
expect_eq waited_c "$("$tgt" 10 1)" "" "the untraced run's output" &&
p="uprobe:$tmp/libwaited.so.6:getpid { @ = count(); }"
lang_err waited_c 0 "$(lang_diag WARNING "$p" "${p%% *}" "never attached: \
'$tmp/libwaited.so.6' is not mapped (executable) in this process")" "Attaching 1 probe...


@: 0" -e "$p" -c "$tgt 10 1"

# bpftrace's text: the one-liners on "map_target -s 1000 4".
grep -v '^#' "$dir/oneliners.txt" | while IFS='	' read -r name prog; do
	[ -n "$name" ] || continue
	prog=$(printf "%s" "$prog" | sed "s|TARGET|$tgt|g")
	exp="$dir/expected/$name.out"
	if [ "${LANG_TARGET_REBASE:-0}" = 1 ]; then
		bpftrace -e "$prog" -c "$tgt -s 1000 4" 2>/dev/null </dev/null | maps_as_sets /dev/stdin >"$exp"
	fi
	"$uprobe" -e "$prog" -c "$tgt -s 1000 4" 2>"$tmp/$name.err" </dev/null | maps_as_sets /dev/stdin \
		>"$tmp/$name.out"
	if ! grep -q '^@' "$exp"; then
		fail "$name" "expected/$name.out has no map (bpftrace refused it?)"
		continue
	fi
	if ! cmp -s "$tmp/$name.out" "$exp"; then
		fail "$name" "differs from bpftrace's: $(diff "$exp" "$tmp/$name.out" | head -8)
$(head -3 "$tmp/$name.err")"
		continue
	fi
	if [ "${LANG_CONF_LIVE:-0}" = 1 ] && command -v bpftrace >/dev/null; then
		bpftrace -e "$prog" -c "$tgt -s 1000 4" 2>/dev/null </dev/null | maps_as_sets /dev/stdin \
			>"$tmp/$name.live"
		if ! cmp -s "$tmp/$name.out" "$tmp/$name.live"; then
			fail "$name" "bpftrace now prints otherwise"
			continue
		fi
	fi
	pass "$name"
done
