#!/bin/sh
# SPDX-License-Identifier: MIT
# Conformance with bpftrace 0.17 on probes in a traced process (issue 16, check 2). Each
# one-liner of oneliners.txt (bpftrace's reference guide, one-liner tutorial and tools,
# adapted to uconf_target's functions) and of unseen.txt (bpftrace's man page, adapted but
# not tuned to pass) runs as `uprobe -e PROG -c uconf_target`; with bpftrace 0.17
# installed and root (LANG_UCONF_LIVE=0 to skip it), bpftrace runs it the same way now,
# else expected/NAME.out is what it printed (LANG_UCONF_REBASE=1 rewrites those). Outputs
# are compared after normalizing what must differ: the target's path is TARGET, its pid
# PID (one space either side: pids differ in width) where the program reads pid or tid
# (only there: a value equal to the pid, as 373 on a fresh machine, would become PID too),
# no "Attaching" line, no message about this machine's setup; runs of map lines are
# compared as sets (bpftrace orders equal values by its hash); hist, lhist and stats lines
# exactly. Where bpftrace 0.17 is wrong,
# truth/NAME.out is the right output (its first lines, "#", say why) and uprobe must print
# it. LANG_UCONF_KEEP=DIR leaves the normalized outputs in DIR (NAME.uprobe,
# NAME.bpftrace); LANG_UCONF_ONLY=PATTERN runs the one-liners whose name matches that
# shell pattern only.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
dir="$top/tests/lang_uconf"
suite=lang_uconf
. "$top/tests/lib.sh"
uprobe="$top/build/uprobe"
# A fixed-length path: bpftrace cuts long probe names and strings at fixed lengths.
tmp=$(mktemp -d /tmp/uconf.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
tgt="$tmp/uconf_target"
cp "$top/build/tests/lang_uconf/uconf_target" "$tgt" || exit 1

live=${LANG_UCONF_LIVE:-1}
if [ "$live" = 1 ] && { [ "$(id -u)" != 0 ] || ! bpftrace --version 2>/dev/null |
	grep -q 'v0\.17'; }; then
	live=0
fi
rebase=${LANG_UCONF_REBASE:-0}
keep=${LANG_UCONF_KEEP:-}	# a directory: the normalized outputs are left there

# Runs of map lines ("@x[k]: v", "@x: v") sorted; everything else in place.
maps_as_sets() {
	awk '/^@[A-Za-z0-9_]*(\[.*\])?: [^ ]/ && !/: $/ { print | "sort"; next }
		{ close("sort"); print }'
}

# run TOOL NAME PROG: its stdout then stderr, normalized, to $tmp/NAME.TOOL
run() {
	rm -f "$tmp/pid"
	UCONF_PID_FILE="$tmp/pid" "$1" -e "$3" -c "$tgt" >"$tmp/out" 2>"$tmp/err" </dev/null
	pid=$(cat "$tmp/pid" 2>/dev/null || echo NOPID)
	case $3 in *pid*|*tid*) ;; *) pid=NOPID ;; esac
	cat "$tmp/out" "$tmp/err" |
		grep -v -e '^Attaching [0-9]* probes*\.\.\.$' -e RLIMIT_MEMLOCK \
			-e 'traceable functions' -e 'uprobe_events' -e 'failed to detach probe' |
		sed -e "s|$tgt|TARGET|g" -e "s/\\b$pid\\b/PID/g" -e 's/ *\bPID\b */ PID /g' |
		maps_as_sets >"$tmp/$2.$(basename "$1")"
}

check() { # file
	grep -v '^#' "$1" | while IFS='	' read -r name prog; do
		[ -n "$name" ] || continue
		case $name in ${LANG_UCONF_ONLY:-*}) ;; *) continue ;; esac
		prog=$(printf '%s' "$prog" | sed "s|TARGET|$tgt|g")
		run "$uprobe" "$name" "$prog"
		got="$tmp/$name.uprobe"
		if [ "$live" = 1 ]; then
			run bpftrace "$name" "$prog"
			[ "$rebase" = 1 ] && cp "$tmp/$name.bpftrace" "$dir/expected/$name.out"
			bpf="$tmp/$name.bpftrace"
		else
			bpf="$dir/expected/$name.out"
		fi
		[ -n "$keep" ] && cp "$tmp/$name".* "$keep/"
		if [ -f "$dir/truth/$name.out" ]; then
			grep -v '^#' "$dir/truth/$name.out" >"$tmp/$name.want"
		else
			cp "$bpf" "$tmp/$name.want"
		fi
		if ! cmp -s "$tmp/$name.want" "$got"; then
			echo "  $prog"
			diff "$tmp/$name.want" "$got" | head -20 | sed 's/^/  /'
			echo "FAIL: $suite/$name"
			: >"$tmp/failed"
			continue
		fi
		pass "$name"
	done
}

check "$dir/oneliners.txt"
check "$dir/unseen.txt"
[ ! -e "$tmp/failed" ]
