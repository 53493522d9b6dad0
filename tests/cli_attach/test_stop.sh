#!/bin/sh
# SPDX-License-Identifier: MIT
# Stopping uprobe trace while a hot probe keeps the rings busier than it can
# read them (busy_target: two threads calling one probed function flat out):
# -d, SIGINT, SIGTERM, SIGHUP and SIGQUIT end tracing, in launch and in attach
# mode, counting or writing text to a file. Verdicts by events, never by time:
# busy_target gives up by itself once a thread made CAP calls under the probe,
# so tracing must be over (the summary printed, the probe out by the target's
# own check) while it still runs; the text output has one line per event counted.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli_attach
. "$top/tests/lib.sh"
up="$top/build/uprobe"
busy="$top/build/tests/cli_attach/busy_target"
probe="p:$busy:busy_hot a=%di"
# Calls under the probe: 10 s or more of tracing, where -d 1 takes one.
cap=1000000000
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

# The verdict of one case: the target's check once tracing was over (text
# clean, or patched in a forked child, which keeps its probes), the statuses,
# the target's end, the summary, one text line per event counted.
verdict() { # name tracer_status target_status count|text clean|patched
	n=$(sed -n 's/^  uprobes\/busy_hot: \([0-9]*\) events.*/\1/p' "$tmp/$1.err")
	expect_eq "$1" "$(grep '^text \|^capped' "$tmp/$1.target")" "text $5" \
		"the target's check once tracing was over" &&
		expect_eq "$1" "$2" 0 "tracer status ($(head -c 300 "$tmp/$1.err"))" &&
		expect_eq "$1" "$3" 0 "target status" &&
		expect_eq "$1" "$(sed -n 's/^\(done\|capped\): .*/\1/p' "$tmp/$1.target")" done \
			"the target's end" &&
		expect_eq "$1" "$([ "${n:-0}" -gt 0 ] && echo yes)" yes "events in the summary" ||
		return
	if [ "$4" = text ]; then
		wait $lines
		expect_eq "$1" "$(cat "$tmp/$1.lines")" "$n" "text lines, as many as events counted" ||
			return
	fi
	pass "$1"
}

# Options for d|SIG and count|text of case $3: -d 1, and --count, or text into
# a pipe whose lines are counted (a second of text is some 100 MB).
options() {
	opts=""
	[ "$1" = d ] && opts="-d 1"
	if [ "$2" = count ]; then
		opts="$opts --count -o $tmp/$3.out"
		return
	fi
	mkfifo "$tmp/$3.out"
	grep -c ' busy_hot: (0x[0-9a-f]*) a=0x[0-9a-f]*$' <"$tmp/$3.out" >"$tmp/$3.lines" 3>&- &
	lines=$!
	opts="$opts -o $tmp/$3.out"
}

# Launch mode: the command runs on once tracing stops, and uprobe waits for it.
launch_case() { # name d|SIG count|text [fork]
	name=$1
	mkfifo "$tmp/$name.in"
	exec 3<>"$tmp/$name.in"
	options "$2" "$3" "$name"
	# shellcheck disable=SC2086
	"$up" trace $opts "$probe" -- "$busy" 2 $cap ${4:-} <"$tmp/$name.in" \
		>"$tmp/$name.target" 2>"$tmp/$name.err" 3>&- &
	tracer=$!
	bg="$bg $tracer"
	# The agent attaches before main: once started, the probe is in.
	wait_line "$tmp/$name.target" "^started" $tracer
	[ "$2" != d ] && kill -"$2" $tracer
	# Over: the summary (or the tracer's death, or the target's end).
	while ! grep -q "process image(s) traced" "$tmp/$name.err" && running $tracer &&
		! grep -q "^\(done\|capped\):" "$tmp/$name.target"; do
		sleep 0.02
	done
	echo check >&3
	wait_line "$tmp/$name.target" "^text " $tracer
	exec 3>&-
	wait $tracer
	verdict "$name" $? 0 "$3" "$([ -n "${4:-}" ] && echo patched || echo clean)"
}

# Attach mode: uprobe exits once tracing stops; the process runs on.
attach_case() { # name d|SIG count|text
	name=$1
	mkfifo "$tmp/$name.in"
	exec 3<>"$tmp/$name.in"
	"$busy" 2 $cap <"$tmp/$name.in" >"$tmp/$name.target" 2>&1 3>&- &
	pid=$!
	bg="$bg $pid"
	wait_line "$tmp/$name.target" "^started" $pid
	options "$2" "$3" "$name"
	# shellcheck disable=SC2086
	"$up" trace $opts -p $pid "$probe" 2>"$tmp/$name.err" 3>&- &
	tracer=$!
	if [ "$2" != d ] && wait_line "$tmp/$name.err" "^uprobe: tracing PID" $tracer; then
		kill -"$2" $tracer
	fi
	wait $tracer
	st=$?
	echo check >&3
	wait_line "$tmp/$name.target" "^text " $pid
	exec 3>&-
	wait $pid
	verdict "$name" $st $? "$3" clean
}

# A forked child keeps its probes once tracing stops (docs/limitations.md) and
# goes on filling the rings: what still arrives is counted, not read for ever.
launch_case launch_fork d text fork
grep "still arriving" "$tmp/launch_fork.err"

for mode in launch attach; do
	for out in count text; do
		${mode}_case ${mode}_d_$out d $out
	done
	for sig in INT TERM HUP QUIT; do
		${mode}_case ${mode}_sig$(echo $sig | tr A-Z a-z) $sig text
	done
done

# ---- dispositions ---------------------------------------------------------------

# The command ignores the signals uprobe was started with ignored, no more
# (uprobe's own SIGPIPE is not passed on). Signals 32 and 33 are glibc's own
# (SIGCANCEL, SIGSETXID): glibc installs its handler for 33 when a process
# makes its first thread, as the agent does, whatever it inherited: left out.
sig_ign() { # the SigIgn mask of /proc/self/status from stdin, without 32 and 33
	printf '0x%x\n' $((0x$(sed -n 's/^SigIgn:\t//p') & ~(3 << 31)))
}
grep '^SigIgn' /proc/self/status | sig_ign >"$tmp/disp.plain"
"$up" trace -q "$probe" -- grep '^SigIgn' /proc/self/status 2>&1 | sig_ign >"$tmp/disp.traced"
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
