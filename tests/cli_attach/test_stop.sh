#!/bin/sh
# SPDX-License-Identifier: MIT
# Stopping uprobe trace: which signals stop it, and what the command inherits.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli_attach
. "$top/tests/lib.sh"
up="$top/build/uprobe"
busy="$top/build/tests/cli_attach/busy_target"
probe="p:$busy:busy_hot a=%di"
# busy_target gives up after that many calls under the probe.
cap=100000000
tmp=$(mktemp -d)
bg=""
trap 'for p in $bg; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
ulimit -c 0 # SIGQUIT, if it kills, dumps no core here

running() { [ -e "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }

# Until file $1 has a line matching $2 or process $3 has ended; then whether it has.
wait_line() {
	while ! grep -q -- "$2" "$1" 2>/dev/null && running "$3"; do
		sleep 0.02
	done
	grep -q -- "$2" "$1" 2>/dev/null
}

# ---- dispositions ---------------------------------------------------------------

# The command ignores the signals uprobe was started with ignored, no more
# (uprobe's own SIGPIPE is not passed on).
grep '^SigIgn' /proc/self/status >"$tmp/disp.plain"
"$up" trace -q "$probe" -- grep '^SigIgn' /proc/self/status >"$tmp/disp.traced" 2>&1
expect_eq dispositions "$(cat "$tmp/disp.traced")" "$(cat "$tmp/disp.plain")" \
	"the command's ignored signals" && pass dispositions

# Whether signal $2 is in mask $1 (SigIgn:/SigCgt: of /proc/PID/status) of PID $3.
has_sig() { [ $(((0x$(sed -n "s/^$1:\t//p" "/proc/$3/status") >> ($2 - 1)) & 1)) = 1 ]; }

# SIGINT, SIGTERM, SIGHUP and SIGQUIT stop tracing; SIGHUP stays ignored when
# uprobe was started so (nohup).
for how in plain nohup; do
	name=disp_$how
	mkfifo "$tmp/$name.in"
	exec 3<>"$tmp/$name.in"
	"$busy" 1 $cap <"$tmp/$name.in" >"$tmp/$name.target" 3>&- &
	pid=$!
	bg="$bg $pid"
	wait_line "$tmp/$name.target" "^started" $pid
	if [ $how = nohup ]; then
		(trap '' HUP && exec "$up" trace -p $pid --count "$probe" >/dev/null 2>"$tmp/$name.err" 3>&-) &
	else
		"$up" trace -p $pid --count "$probe" >/dev/null 2>"$tmp/$name.err" 3>&- &
	fi
	tracer=$!
	wait_line "$tmp/$name.err" "^uprobe: tracing PID" $tracer
	caught=""
	for sig in 1 2 3 15; do has_sig SigCgt $sig $tracer && caught="$caught $sig"; done
	ignored=$(has_sig SigIgn 1 $tracer && echo SIGHUP)
	kill -TERM $tracer
	wait $tracer
	st=$?
	exec 3>&-
	wait $pid
	if [ $how = nohup ]; then want=" 2 3 15" wign=SIGHUP; else want=" 1 2 3 15" wign=""; fi
	expect_eq $name "$caught" "$want" "signals caught by uprobe" &&
		expect_eq $name "$ignored" "$wign" "SIGHUP ignored" &&
		expect_eq $name "$st" 0 "tracer status" && pass $name
done

exit $failed
