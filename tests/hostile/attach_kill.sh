#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace -p killed while it attaches (issue 15): the traced program must
# live, and compute what it computes untraced. attach_kill runs uprobe under
# ptrace and sends SIGKILL or SIGHUP as uprobe enters the Nth of the system
# calls it makes on the process's behalf (ptrace, wait4, process_vm_*,
# pidfd_*, sendmsg, recvmsg), from its first ptrace(2) on, N spread over the
# whole attach as a full attach counts them (at the latest when it says it
# is attached).
# attach_victim keeps its whole workload in registers (general, flags, SSE/AVX,
# AVX-512, MXCSR), so that one not put back changes its checksum; each victim
# takes a SIGKILL on a fresh process (libuprobes loaded by dlopen), then a
# SIGHUP (libuprobes there already, unless the first kill came too early), and
# must then be traced once more as if nothing had happened (no agent of a
# killed uprobe left behind), and print what a reference run of as many
# rounds prints.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
up="$top/build/uprobe"
victim="$top/build/tests/hostile/attach_victim"
kill_at="$top/build/tests/hostile/attach_kill"
same="$top/tests/cli_attach/text_same.py"
# victim_tick is a lone ret: its probe takes the int3 path, which make check's
# forced pass refuses (UPROBE_ENTRY_PATH=lean-strict; attach_guard.sh checks
# that); there victim_step, called as often, its entry jump-optimized, is probed.
fn=victim_tick
forced_entry_path && fn=victim_step
probe="p:$victim:$fn r=%di"
kills=${ATTACH_KILLS:-100}
tmp=$(mktemp -d)
bg=""
trap 'for p in $bg; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT

running() { [ -e "/proc/$1" ] && [ "$(cut -d' ' -f3 "/proc/$1/stat")" != Z ]; }
threads_of() { sed -n 's/^Threads:\t//p' "/proc/$1/status"; }
naps_of() { sed -n 's/^voluntary_ctxt_switches:\t//p' "/proc/$1/task/$1/status"; }

# A victim on a pipe that ends its run when closed: sets pid.
start_victim() {
	rm -f "$tmp/in"
	mkfifo "$tmp/in"
	exec 3<>"$tmp/in"
	"$victim" run <"$tmp/in" >"$tmp/victim.out" 2>"$tmp/victim.err" 3>&- &
	pid=$!
	bg="$bg $pid"
	while ! grep -q "running" "$tmp/victim.err" && running $pid; do
		sleep 0.01
	done
}

"$victim" ref 1 >/dev/null 2>&1
if [ $? = 77 ]; then
	skip attach_kill "no AVX2"
	exit 0
fi

# How many system calls a whole attach takes, on a fresh process.
start_victim
"$kill_at" count -- "$up" trace -p $pid --count "$probe" >"$tmp/count.out" 2>"$tmp/count.err" 3>&-
total=$(sed -n 's/^syscalls //p' "$tmp/count.out")
exec 3>&-
wait $pid
if [ -z "$total" ]; then
	fail attach_kill "the attach that counts did not attach: $(cat "$tmp/count.err")"
	exit 1
fi
echo "  (a whole attach: $total system calls from the first ptrace)"

# Kill point i of $kills: 1 .. total.
point() { echo $((1 + ($1 - 1) * total / kills)); }

i=1
bad=0
victims=0
while [ $i -le $kills ]; do
	start_victim
	victims=$((victims + 1))
	what=""
	for sig in 9 1; do
		n=$(point $i)
		"$kill_at" $sig $n -- "$up" trace -p $pid --count "$probe" >"$tmp/kill.out" \
			2>"$tmp/kill.err" 3>&-
		st=$?
		what="$what; kill $i: $(head -1 "$tmp/kill.out"), uprobe status $st"
		i=$((i + 1))
		if ! running $pid; then
			what="$what: the victim died"
			break
		fi
		if [ $sig = 1 ] && [ $st -ge 128 ]; then
			what="$what: uprobe died of SIGHUP: $(tail -3 "$tmp/kill.err")"
			break
		fi
		# The agent takes its probe out once its tracer is gone, and ends.
		while running $pid && { ! "$same" $pid "$victim" >/dev/null 2>&1 ||
			[ "$(threads_of $pid)" != 2 ]; }; do
			sleep 0.02
		done
	done
	if [ -z "$what" ]; then
		# Stopped once the main thread has slept 9 more times (4 naps a
		# round): a whole round, so a victim_tick() (victim_step()), ran traced.
		rm -f "$tmp/again.err" # the last round's "tracing" line is not this one's
		"$up" trace --count -p $pid "$probe" >"$tmp/again.out" 2>"$tmp/again.err" 3>&- &
		tracer=$!
		while ! grep -q '^uprobe: tracing PID' "$tmp/again.err" 2>/dev/null &&
			kill -0 $tracer 2>/dev/null; do
			sleep 0.02
		done
		naps=$(naps_of $pid)
		while [ $(($(naps_of $pid) - naps)) -lt 9 ] && kill -0 $tracer 2>/dev/null; do
			sleep 0.02
		done
		kill -INT $tracer 2>/dev/null
		wait $tracer
		st=$?
		n=$(sed -n "s/^@events\[$fn\]: //p" "$tmp/again.out")
		if [ $st != 0 ] || [ "${n:-0}" -le 0 ]; then
			what="$what; traced again: status $st, ${n:-no} events: $(cat "$tmp/again.err")"
		fi
	fi
	exec 3>&-
	wait $pid
	vst=$?
	rounds=$(sed -n 's/^rounds //p' "$tmp/victim.out")
	"$victim" ref "${rounds:-0}" >"$tmp/ref.out"
	case $what in
	*died*) what="$what (status $vst: $(tail -2 "$tmp/victim.err" | tr '\n' ' '))" ;;
	*again*) ;;
	*) if [ $vst != 0 ]; then
		what="$what: the victim's status $vst"
	elif ! cmp -s "$tmp/victim.out" "$tmp/ref.out"; then
		what="$what: the victim's output differs from a reference run: $(diff "$tmp/victim.out" \
			"$tmp/ref.out" | tr '\n' ' ')"
	else
		what=""
	fi ;;
	esac
	if [ -n "$what" ]; then
		bad=$((bad + 1))
		case $what in
		# A known defect (tests/known_defects): one name for every such death.
		*"the victim died (status 139"*) fail attach_kill_victim_died "${what#; }" ;;
		*) fail "attach_kill_$((i - 2))" "${what#; }" ;;
		esac
	fi
	# A line now and then: tests/run.sh stops a program silent for TEST_TIMEOUT
	# seconds, and ATTACH_KILLS=300 on a loaded machine is long.
	[ $((victims % 25)) = 0 ] && echo "  ($((i - 1)) of $kills kill points, $victims victims)"
done
if [ $bad = 0 ]; then
	pass attach_kill
else
	echo "  $bad of $victims victims harmed"
fi
exit $failed
