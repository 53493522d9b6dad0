#!/bin/sh
# SPDX-License-Identifier: MIT
# Failures uprobe trace must not keep quiet about (issue 15): output that
# cannot be written (-o /dev/full, a full standard output), in launch and
# attach mode; and a process that ptrace refuses to an unprivileged user,
# with the property that refuses it (not dumpable, capabilities it has that
# the user has not).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli_attach
. "$top/tests/lib.sh"
up="$top/build/uprobe"
tgt="$top/build/tests/cli_attach/attach_target"
cli="$top/build/tests/cli/cli_target" # 1000 calls of cli_work, 10 lines, exit status 3
tmp=$(mktemp -d)
bg=""
trap 'for p in $bg; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

# Until file $1 has a line matching $2 (or process $3 ended).
wait_line() {
	while ! grep -q -- "$2" "$1" 2>/dev/null && kill -0 "$3" 2>/dev/null; do
		sleep 0.02
	done
}

# check NAME STATUS WANT_STATUS FILE WANT_LINE: the status and the exact message.
check() {
	expect_eq "$1" "$2" "$3" "status ($(head -c 300 "$4"))" &&
		expect_eq "$1" "$(grep '^uprobe: .*: \(No space\|ptrace\)' "$4")" "$5" "message ($(cat "$4"))" &&
		pass "$1"
}

# ---- output that cannot be written ------------------------------------------------

# Text, counts: nothing written, said so, exit 1 (not the command's 3); the
# command runs to its end as it would untraced.
"$cli" 1000 >"$tmp/plain.cmd"
"$up" trace -q -o /dev/full "p:$cli:cli_work a=%di" -- "$cli" 1000 >"$tmp/full.cmd" \
	2>"$tmp/full.err"
st=$?
expect_eq full_text "$(cat "$tmp/full.cmd")" "$(cat "$tmp/plain.cmd")" "the command's output" &&
	check full_text $st 1 "$tmp/full.err" "uprobe: -o /dev/full: No space left on device"
"$up" trace -q --count -o /dev/full "p:$cli:cli_work" -- "$cli" 1000 >/dev/null \
	2>"$tmp/fullc.err"
check full_count $? 1 "$tmp/fullc.err" "uprobe: -o /dev/full: No space left on device"
"$up" trace -q --count "p:$cli:cli_work" -- "$cli" 1000 >/dev/full 2>"$tmp/stdout.err"
check full_stdout $? 1 "$tmp/stdout.err" "uprobe: standard output: No space left on device"

# Attach mode.
"$tgt" traced 100 >"$tmp/fullp.target" &
pid=$!
bg="$bg $pid"
wait_line "$tmp/fullp.target" '^ready$' $pid
# The target calls once the tracer says it traces (tests/cli_attach/attach_target.c).
"$up" trace -o /dev/full -p $pid "p:$tgt:at_work a=%di" 2>"$tmp/fullp.err" &
tracer=$!
wait_line "$tmp/fullp.err" '^uprobe: tracing PID' $tracer
kill -USR1 $pid
wait $tracer
st=$?
wait $pid
check full_attach $st 1 "$tmp/fullp.err" "uprobe: -o /dev/full: No space left on device"

# The command does not inherit the output file (it could write into it).
"$up" trace -q -o "$tmp/events.out" "p:$cli:cli_work" -- \
	sh -c 'for f in /proc/$$/fd/*; do readlink "$f"; done' >"$tmp/fds.cmd" 2>&1
expect_eq output_private "$(grep -c -x -F "$tmp/events.out" "$tmp/fds.cmd")" 0 \
	"descriptors of the output file in the command ($(tr '\n' ' ' <"$tmp/fds.cmd"))" &&
	pass output_private

# ---- no ptrace at all (qemu-user: ENOSYS) -----------------------------------------------

# Refused before anything is tried, naming the reason and the way that works.
"$tgt" nodump >"$tmp/noptrace.target" &
pid=$!
bg="$bg $pid"
wait_line "$tmp/noptrace.target" "^nodump" $pid
"$top/build/tests/cli_attach/no_ptrace" "$up" trace -p $pid "p:$tgt:at_work" \
	>"$tmp/noptrace.out" 2>&1
st=$?
kill -TERM $pid
wait $pid 2>/dev/null
expect_eq no_ptrace "$st" 1 "status ($(head -c 300 "$tmp/noptrace.out"))" &&
	expect_eq no_ptrace "$(grep '^uprobe: ' "$tmp/noptrace.out")" "uprobe: -p $pid \
(attach_target): attaching needs ptrace, which this system does not provide (qemu-user does \
not emulate it); launch the program instead: 'uprobe trace PROBE... -- COMMAND'" \
		"message ($(cat "$tmp/noptrace.out"))" && pass no_ptrace

# ---- ptrace refused to an unprivileged user -------------------------------------------

pub=$(mktemp -d /tmp/uprobe-errors.XXXXXX)
chmod 755 "$pub"
cp "$up" "$top"/build/libuprobes.so* "$tgt" "$pub/"
nobody="setpriv --reuid=nobody --regid=nogroup --clear-groups"
as_nobody() { $nobody env LD_LIBRARY_PATH="$pub" "$@"; }

# refused NAME WANT: nobody's uprobe -p on $pid fails with that message.
refused() {
	wait_line "$tmp/$1.target" "^nodump" $pid
	as_nobody "$pub/uprobe" trace -p $pid "p:$pub/${2}:at_work" >"$tmp/$1.out" 2>&1
	st=$?
	kill -TERM $pid
	wait $pid
	check "$1" $st 1 "$tmp/$1.out" "$3"
}

$nobody "$pub/attach_target" nodump >"$tmp/nodump.target" &
pid=$!
bg="$bg $pid"
refused nodump attach_target "uprobe: -p $pid (attach_target): ptrace: Operation not permitted: \
the process is not dumpable (PR_SET_DUMPABLE 0, or it gained privileges when it was \
started); only root, or a holder of CAP_SYS_PTRACE, may attach"

cp "$tgt" "$pub/attach_cap"
if setcap cap_net_raw+ep "$pub/attach_cap" 2>"$tmp/setcap.err"; then
	$nobody "$pub/attach_cap" nodump >"$tmp/caps.target" &
	pid=$!
	bg="$bg $pid"
	refused caps attach_cap "uprobe: -p $pid (attach_cap): ptrace: Operation not permitted: \
the process has capabilities that you have not (cap_net_raw); only root, or a holder of \
CAP_SYS_PTRACE, may attach"
else
	skip caps "setcap: $(cat "$tmp/setcap.err")"
fi
rm -rf "$pub"

exit $failed
