#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe -e / uprobe FILE.bt: exit statuses, where the messages go, -d, a
# program from a file (its name in messages), what is refused for now.
dir=$(cd "$(dirname "$0")" && pwd)
uprobe=${UPROBE:-$dir/../../build/uprobe}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
check() { # NAME CONDITION...
	name=$1
	shift
	if "$@"; then echo "PASS: lang_cli/$name"; else echo "FAIL: lang_cli/$name"; fail=1; fi
}

"$uprobe" -e 'BEGIN { @x = foo(); }' >"$tmp/out" 2>"$tmp/err"
check error_status [ $? = 1 ]
check error_on_stderr grep -q '^stdin:1:14-17: ERROR: Unknown function: foo$' "$tmp/err"
check error_no_output [ ! -s "$tmp/out" ]

printf 'BEGIN {\n\t@x = 1 @y = 2\n}\n' >"$tmp/prog.bt"
"$uprobe" "$tmp/prog.bt" >"$tmp/out" 2>"$tmp/err"
check file_status [ $? = 1 ]
check file_name_in_message grep -q "^$tmp/prog.bt:2:9-11: ERROR: syntax error, unexpected map, expecting }$" "$tmp/err"

printf 'BEGIN { @n = 3; exit(); }\n' >"$tmp/ok.bt"
"$uprobe" "$tmp/ok.bt" >"$tmp/out" 2>"$tmp/err"
check file_runs [ $? = 0 ]
printf 'Attaching 1 probe...\n\n\n@n: 3\n' >"$tmp/want"
check file_output cmp -s "$tmp/out" "$tmp/want"

"$uprobe" -d -e 'BEGIN { @ = count(); }' >"$tmp/out" 2>"$tmp/err"
check dump_status [ $? = 0 ]
check dump_ast grep -q '^   call: count$' "$tmp/out"
check dump_plan grep -q 'map_agg' "$tmp/out"

# Without -c/-p/-- a program is the kernel's (tests/kernel); the agent needs a process.
"$uprobe" --backend agent -e 'uprobe:/bin/true:main { @ = count(); }' >"$tmp/out" 2>"$tmp/err"
check target_needs_process [ $? = 2 ]
check target_says_why grep -q "backend agent needs -c 'CMD', -p PID or -- CMD ARGS" "$tmp/err"

"$uprobe" -e 'kprobe:do_sys_open { @ = count(); }' >"$tmp/out" 2>"$tmp/err"
check kprobe_refused [ $? = 1 ]
check kprobe_says_why grep -q 'kprobe probes are not supported: they trace kernel functions' "$tmp/err"

"$uprobe" -e --help >"$tmp/out" 2>&1
check help [ $? = 0 ]
check help_text grep -q "^usage: uprobe -e 'PROGRAM'" "$tmp/out"

"$uprobe" -e 'BEGIN { exit(); }' -f yaml >"$tmp/out" 2>"$tmp/err"
check format_refused [ $? = 2 ]
check format_says_why grep -q -- '-f yaml: text or json' "$tmp/err"
"$uprobe" -f json -e 'BEGIN { @x = 1; exit(); }' >"$tmp/out" 2>"$tmp/err"
check json_runs [ $? = 0 ]
check json_map grep -qx '{"type": "map", "data": {"@x": 1}}' "$tmp/out"
# No exit(): BEGIN, then waiting until Ctrl-C (SIGINT), then END and the maps,
# as bpftrace does. The signal is sent once the run has started (its first line).
"$uprobe" -e 'BEGIN { @x = 7; } END { printf("end\n"); }' >"$tmp/out" 2>"$tmp/err" &
pid=$!
while ! grep -q '^Attaching 2 probes' "$tmp/out" 2>/dev/null && kill -0 $pid 2>/dev/null; do
	sleep 0.05
done
kill -INT $pid
wait $pid
check interrupt_status [ $? = 0 ]
printf 'Attaching 2 probes...\nend\n\n\n@x: 7\n' >"$tmp/want"
check interrupt_runs_end cmp -s "$tmp/out" "$tmp/want"

# BEGIN, END and interval only, with -c / -- / -p (issue 16): as bpftrace 0.17 runs them
# (its output, checked against bpftrace -c on these commands): BEGIN, then the command
# (not run at all after exit() in BEGIN), interval probes until it ends, END, the maps.
"$uprobe" -e 'BEGIN { printf("hi\n"); } END { printf("end\n"); }' -c 'echo cmd' >"$tmp/out" 2>"$tmp/err"
check local_cmd_status [ $? = 0 ]
printf 'Attaching 2 probes...\nhi\ncmd\nend\n\n\n' >"$tmp/want"
check local_cmd_output cmp -s "$tmp/out" "$tmp/want"
"$uprobe" -e 'BEGIN { printf("hi\n"); exit(); }' -c 'echo cmd' >"$tmp/out" 2>"$tmp/err"
check local_cmd_exit_status [ $? = 0 ]
printf 'Attaching 1 probe...\nhi\n\n\n' >"$tmp/want"
check local_cmd_exit_output cmp -s "$tmp/out" "$tmp/want"
"$uprobe" -e 'BEGIN { @a = 1; }' -- echo cmd >"$tmp/out" 2>"$tmp/err"
printf 'Attaching 1 probe...\ncmd\n\n\n@a: 1\n' >"$tmp/want"
check local_dashdash_maps cmp -s "$tmp/out" "$tmp/want"
# Ticks at 0.5 and 1 s, the command ends at 1.25 s: a quarter second either side.
"$uprobe" -e 'interval:ms:500 { printf("tick\n"); }' -c 'sleep 1.25' >"$tmp/out" 2>"$tmp/err"
check local_interval_status [ $? = 0 ]
printf 'Attaching 1 probe...\ntick\ntick\n\n\n' >"$tmp/want"
check local_interval_until_cmd_ends cmp -s "$tmp/out" "$tmp/want"
"$uprobe" -e 'BEGIN { printf("hi\n"); }' -c "$tmp/no-such-command" >"$tmp/out" 2>"$tmp/err"
check local_cmd_missing_status [ $? = 1 ]
check local_cmd_missing grep -q "no-such-command: no such command" "$tmp/err"
sleep 0.6 &
spid=$!
"$uprobe" -e 'END { printf("gone\n"); }' -p $spid >"$tmp/out" 2>"$tmp/err"
check local_pid_status [ $? = 0 ]
printf 'Attaching 1 probe...\ngone\n\n\n' >"$tmp/want"
check local_pid_until_it_ends cmp -s "$tmp/out" "$tmp/want"
wait $spid
"$uprobe" -e 'END { printf("gone\n"); }' -p 999999999 >"$tmp/out" 2>"$tmp/err"
check local_pid_missing [ $? = 1 ]
exit $fail
