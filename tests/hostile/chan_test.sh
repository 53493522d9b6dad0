#!/bin/sh
# SPDX-License-Identifier: MIT
# The control channel under attack (issue 15, docs/security.md). A setuid-root
# program that links libuprobes, run by an unprivileged user under uprobe
# trace, under a tracer of the user's own making, and with UPROBE_DEBUG_DIR: no
# data of it reaches the user, and the summary says why. A process of other
# credentials says HELLO to a root tracer: refused. Then traced programs that
# speak the protocol themselves on the control socket they inherit
# (chan_speaker): HELLOs again, forged, malformed, in a flood; fake READYs;
# an exec loop and a fork bomb. For each: the target's output is its untraced
# run's (or, for a program that speaks the protocol, exactly what the tracer
# answered), the event counts are exact, the summary names every refusal,
# and uprobe exits by itself. Needs root (makes a setuid copy and the user
# uprobes-test if missing).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
up="$top/build/uprobe"
b="$top/build/tests/hostile"
spk="$b/chan_speaker"
user=uprobes-test
tmp=$(mktemp -d)
chmod 755 "$tmp"
trap 'rm -rf "$tmp"' EXIT

if [ "$(id -u)" != 0 ]; then
	skip chan "needs root (a setuid copy, another user)"
	exit 0
fi
id -u "$user" >/dev/null 2>&1 ||
	useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$user"
# The programs the user runs: from the checkout when the user reaches it, else from
# copies it can reach (user_copies; a checkout in a 0700 directory).
pub=$(user_copies "$user" "$up" "$b/chan_listen" "$spk") || {
	fail chan "cannot copy the programs for $user"
	exit 1
}
if [ -n "$pub" ]; then
	trap 'rm -rf "$tmp" "$pub"' EXIT
	echo "  the checkout is out of $user's reach: its programs run from $pub"
	uup="$pub/uprobe" uspk="$pub/chan_speaker" ulisten="$pub/chan_listen"
else
	uup=$up uspk=$spk ulisten="$b/chan_listen"
fi
as_user() {
	setpriv --reuid="$user" --regid="$user" --clear-groups env ${pub:+LD_LIBRARY_PATH="$pub"} "$@"
}
# root's runs of a program that becomes the user need the same library path.
as_root() { env ${pub:+LD_LIBRARY_PATH="$pub"} "$@"; }

# summary FILE: the uprobe summary of FILE with PIDs as N.
summary() { sed -n '/^uprobe: [0-9]* process image/,$p' "$1" | sed 's/PID [0-9]*/PID N/g'; }

# ---- a setuid program that links libuprobes, and its caller's environment -----------
printf 'root:SECRET-chan-4711:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n' >"$tmp/secret"
chmod 600 "$tmp/secret"
suid="$tmp/chan_setuid"
cp "$b/chan_setuid" "$suid"
chown root:root "$suid"
chmod 4755 "$suid"
probe="p:chan/check $suid:chan_check s=+0(%di):string"

# The setuid program is the command.
as_user "$suid" "$tmp/secret" >"$tmp/plain" 2>&1
pst=$?
as_user "$uup" trace "$probe" -- "$suid" "$tmp/secret" >"$tmp/d.out" 2>"$tmp/d.err"
st=$?
if expect_eq setuid_command "$st" "$pst" "status (untraced: $pst)" &&
	expect_eq setuid_command "$(cat "$tmp/d.out")" "$(cat "$tmp/plain")" "output" &&
	expect_eq setuid_command "$(grep -c SECRET "$tmp/d.out" "$tmp/d.err" | sed 's/.*://' |
		tr '\n' ' ')" "0 0 " "lines of the secret in uprobe's output and messages" &&
	expect_eq setuid_command "$(sed -n 's/^  chan\/check: //p' "$tmp/d.err")" \
		"never attached: $suid is setuid root: setuid image, not traced" "summary"; then
	pass setuid_command
fi

# The setuid program started by a shell the user traces: the shell is traced, it is not.
as_user "$uup" trace "$probe" -- /bin/sh -c "\"$suid\" \"$tmp/secret\"" >"$tmp/s.out" 2>"$tmp/s.err"
st=$?
if expect_eq setuid_exec "$st" "$pst" "status" &&
	expect_eq setuid_exec "$(cat "$tmp/s.out")" "$(cat "$tmp/plain")" "output" &&
	expect_eq setuid_exec "$(grep -c SECRET "$tmp/s.out" "$tmp/s.err" | sed 's/.*://' |
		tr '\n' ' ')" "0 0 " "lines of the secret in uprobe's output and messages" &&
	expect_eq setuid_exec "$(summary "$tmp/s.err")" "uprobe: 1 process image(s) traced
  chan/check: never attached: 1 setuid image(s) not traced; elsewhere: '$suid' is not mapped \
(executable) in this process
  1 setuid image(s) not traced (first: PID N)
  lost events (rings full): 0" "summary"; then
	pass setuid_exec
fi

# A tracer of the user's own: the agent in the setuid image only says it is not traced.
as_user "$ulisten" "$suid" "$tmp/secret" >"$tmp/l.out" 2>&1
st=$?
if expect_eq setuid_own_tracer "$st" "$pst" "status" &&
	expect_eq setuid_own_tracer "$(grep HELLO "$tmp/l.out")" "HELLO_SECURE pid CHILD fds 0" \
		"what the agent said"; then
	pass setuid_own_tracer
fi

# UPROBE_DEBUG_DIR is the caller's: a setuid image does not read debug files from there.
stripped="$tmp/chan_setuid_stripped"
cp "$b/chan_setuid" "$stripped"
strip "$stripped"
chown root:root "$stripped"
chmod 4755 "$stripped"
bid=$(readelf -n "$b/chan_setuid" | sed -n 's/.*Build ID: //p')
mkdir -p "$tmp/debug/.build-id/$(echo "$bid" | cut -c1-2)"
cp "$b/chan_setuid" "$tmp/debug/.build-id/$(echo "$bid" | cut -c1-2)/$(echo "$bid" | cut -c3-).debug"
chmod -R a+rX "$tmp/debug"
root_saw=$(UPROBE_DEBUG_DIR="$tmp/debug" "$stripped" x debugdir)
user_saw=$(as_user env UPROBE_DEBUG_DIR="$tmp/debug" "$stripped" x debugdir)
if expect_eq setuid_debug_dir "$root_saw" "chan_hidden found" "root, not in secure mode" &&
	expect_eq setuid_debug_dir "$user_saw" "chan_hidden not found" "the user, setuid root"; then
	pass setuid_debug_dir
fi

# ---- root traces a program that becomes another user: its HELLO is refused ----------
as_user "$uspk" work 5 >"$tmp/plain" 2>&1
as_root "$up" trace --count -o "$tmp/c.count" "p:$uspk:chan_work" -- "$uspk" become \
	"$(id -u "$user")" "$(id -g "$user")" work 5 >"$tmp/c.out" 2>"$tmp/c.err"
st=$?
if expect_eq other_creds "$st" 0 "status" &&
	expect_eq other_creds "$(cat "$tmp/c.out")" "$(cat "$tmp/plain")" "output" &&
	expect_eq other_creds "$(cat "$tmp/c.count")" "" "events" &&
	expect_eq other_creds "$(summary "$tmp/c.err" | grep refused)" \
		"  1 HELLO refused: 1 from a process of other credentials (first: PID N)" \
		"summary"; then
	pass other_creds
fi

# ---- programs that speak the protocol on the control socket ---------------------------
# speak NAME WANT_OUTPUT WANT_EVENTS WANT_REFUSED ARGS...: chan_speaker ARGS under
# uprobe trace --count: exit 0, its output, chan_work's events and the summary's
# refusal lines (PIDs as N) exactly; then PASS, unless speak_only was called.
speak_only() {
	name=$1 want_out=$2 want_ev=$3 want_ref=$4
	shift 4
	"$up" trace --count -o "$tmp/$name.count" "p:$spk:chan_work" -- "$spk" "$@" \
		>"$tmp/$name.out" 2>"$tmp/$name.err"
	st=$?
	expect_eq "$name" "$st" 0 "status ($(tail -c 300 "$tmp/$name.err"))" &&
		expect_eq "$name" "$(cat "$tmp/$name.out")" "$want_out" "output" &&
		expect_eq "$name" "$(cat "$tmp/$name.count")" "@events[chan_work]: $want_ev" \
			"events" &&
		expect_eq "$name" "$(summary "$tmp/$name.err" | grep -E 'refused|not traced')" \
			"$want_ref" "refusals in the summary"
}
speak() { speak_only "$@" && pass "$1"; }

speak rehello "rehello: served 0, refused 300" 10 \
	"  300 HELLOs refused: 300 a second HELLO of one image (first: PID N)" rehello 300

speak forge "forge: r---rr
worked 10" 10 "  8 HELLOs refused: 1 with a pid not the sender's (first: PID N), 4 without a \
private socket of the sender's (first: PID N), 3 malformed (first: PID N)" forge

for v in mode err msg msgwrap msgnul msglong unknown count unsealed pipe; do
	speak "ready_$v" "ready $v: refused" 3 \
		"  1 HELLO refused: 1 a malformed READY (first: PID N)" ready "$v"
done
speak ready_good "ready good: go" 3 "" ready good
# The statuses' messages: offsets and lengths checked against the memfd (the target's).
for vw in "msg:message beyond the end of the memfd" "msgwrap:message beyond the end of the memfd" \
	"msgnul:message with a NUL in it" "msglong:message longer than UPROBE_AGENT_MSG_MAX"; do
	v=${vw%%:*} w=${vw#*:}
	expect_eq "ready_${v}_why" \
		"$(sed -n 's/.*: HELLO refused (a malformed READY): //p' "$tmp/ready_$v.err")" \
		"status 1: $w; not served (refusals are counted in the summary)" "the refusal" &&
		pass "ready_${v}_why"
done

speak flood "flood: served 511, refused 89
worked 10" 10 "  89 image(s) not traced: more than 512 at once or 1048576 in all (first: PID N)" \
	flood 600

# ---- many images, many processes: every call counted, the tracer bounded --------------
# (Images past the 256th used to run untraced without a word.)
"$spk" execloop 260 >"$tmp/plain" 2>&1
speak_only execloop "$(cat "$tmp/plain")" 260 "" execloop 260 &&
	expect_eq execloop "$(summary "$tmp/execloop.err" | head -1)" \
		"uprobe: 260 process image(s) traced" "images" && pass execloop
"$spk" forkbomb 300 >"$tmp/plain" 2>&1
speak forkbomb "$(cat "$tmp/plain")" 300 "" forkbomb 300

# ---- an image that starts once tracing has stopped (-d): untraced, and nothing waits ----
# (Its HELLO used to wait for an answer that never came, and uprobe for the command.)
mkfifo "$tmp/go"
"$up" trace -d 0.2 --count -o "$tmp/late.count" "p:$spk:chan_work" -- /bin/sh -c \
	"read x <'$tmp/go'; exec '$spk' work 5" >"$tmp/late.out" 2>"$tmp/late.err" &
upid=$!
while ! grep -q 'process image(s) traced' "$tmp/late.err" && kill -0 "$upid" 2>/dev/null; do
	sleep 0.05 # until the summary is out: tracing has stopped
done
echo go >"$tmp/go"
wait "$upid"
st=$?
if expect_eq after_stop "$st" 0 "status" &&
	expect_eq after_stop "$(cat "$tmp/late.out")" "worked 5" "output" &&
	expect_eq after_stop "$(cat "$tmp/late.count")" "" "events"; then
	pass after_stop
fi

# ---- rings the program could still shrink: refused by trace_consumer_new() ----------
if "$b/chan_speaker" consumer-check 2>/dev/null; then
	speak rings "ready rings: refused" 3 "  1 HELLO refused: 1 rings refused (first: PID N)" rings
else
	skip rings "trace_consumer_new() maps memfds without seals (its check is on branch i15-ring)"
fi
exit $failed
