#!/bin/sh
# SPDX-License-Identifier: MIT
# Stacks at a probe equal gdb's backtrace at the same point. The target is
# built -O2 -fomit-frame-pointer: bpftrace's ustack, which only follows rbp,
# gets these wrong (it drops the caller at a function's entry and stops at the
# first frame without a frame pointer, libc's included); gdb unwinds with the
# CFI, as we do, and is the reference. For each road to the probed function
# (stack_target.cc says which), gdb stops at the same first instruction and
# prints its physical frames (gdb_frames.py); uprobe trace --stack -f json
# prints ours. Both sides as (module, file offset) pairs, equal frame for
# frame, down to _start or clone3; the names are compared too where no alias
# can differ (the target's own files; C++ names without their parameters).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=stack
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
dir="$top/build/tests/stack"
tgt="$dir/stack_target"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
export UPROBE_CACHE_DIR="$tmp/cache"

if ! command -v gdb >/dev/null; then
	skip gdb "gdb is not installed (scripts/deps.sh)"
	exit 0
fi

# gdb_frames SCENARIO FUNC: gdb's frames at FUNC's first instruction.
gdb_frames() {
	gdb -nx -batch -ex 'set debuginfod enabled off' -ex 'set backtrace past-main on' \
		-ex 'set backtrace past-entry on' -ex 'handle SIGUSR1 nostop noprint pass' \
		-ex 'break main' -ex "run $1 >/dev/null" -ex "break *$2" -ex continue \
		-ex "source $top/tests/stack/gdb_frames.py" "$tgt" 2>&1 | sed -n 's/^FRAME //p'
}

# uprobe_frames SCENARIO FUNC: ours, the first event's.
uprobe_frames() {
	python3 -c '
import json, os, sys
ev = json.loads(open(sys.argv[1]).readline())
for f in ev["args"]["ustack"]:
    print("%s 0x%x %s" % (os.path.basename(f["module"]) or "?", f["module_off"], f["func"] or "?"))
' "$tmp/$1.json"
}

# same_frames NAME GDB OURS: equal modules and offsets; names where they cannot be aliases.
same_frames() {
	python3 -c '
import sys
g = [l.split(None, 2) for l in open(sys.argv[1]).read().splitlines()]
u = [l.split(None, 2) for l in open(sys.argv[2]).read().splitlines()]
own = ("stack_target", "libfp.so", "libdebugf.so")
if len(g) < 3:
    sys.exit("gdb gave %d frames" % len(g))
for i in range(max(len(g), len(u))):
    if i >= len(g) or i >= len(u):
        sys.exit("frame %d: gdb %s, ours %s" % (i, g[i] if i < len(g) else "none",
                                                u[i] if i < len(u) else "none"))
    if g[i][:2] != u[i][:2]:
        sys.exit("frame %d: gdb %s, ours %s" % (i, " ".join(g[i]), " ".join(u[i])))
    if g[i][0] in own and g[i][2] != u[i][2].split("(")[0]:
        sys.exit("frame %d: gdb names it %s, we %s" % (i, g[i][2], u[i][2]))
' "$2" "$3"
}

# check NAME FILE FUNC OUTERMOST [PROBE...]: the stack at FUNC of FILE on the road
# NAME (up to a '+': rec+ret is the rec road) equals gdb's there, down to the
# function OUTERMOST; more probes may be traced beside it (gdb runs without them).
check() {
	name=$1 road=${1%%+*} file=$2 func=$3 outer=$4
	shift 4
	if ! same_run "$name" -q -f json -o "$tmp/$name.json" --stack "p:$file:$func" "$@" \
		-- "$tgt" "$road"; then
		return
	fi
	gdb_frames "$road" "$func" >"$tmp/$name.gdb"
	uprobe_frames "$name" >"$tmp/$name.ours"
	if ! why=$(same_frames "$name" "$tmp/$name.gdb" "$tmp/$name.ours" 2>&1); then
		fail "$name" "$why; gdb: $(tr '\n' '|' <"$tmp/$name.gdb") ours: $(tr '\n' '|' \
			<"$tmp/$name.ours")"
		return
	fi
	expect_eq "$name" "$(tail -1 "$tmp/$name.ours" | cut -d' ' -f3)" "$outer" "outermost frame" &&
		pass "$name"
}

check rec "$tgt" stack_leaf _start
check qsort "$tgt" stack_leaf _start
check signal "$tgt" stack_leaf _start
check member "$tgt" stack_leaf _start
check debugf "$tgt" stack_leaf _start
check fp "$tgt" stack_leaf _start
check fpleaf "$dir/libfp.so" fp_leaf _start
check gapfp "$tgt" stack_leaf _start
check dlopen "$tgt" stack_leaf _start
# Return probes on the callers: their return addresses are the trampoline's
# while the leaf runs; the walk puts the real ones back.
check rec+ret "$tgt" stack_leaf _start "r:$tgt:_ZL8rec_downi"
check thread "$tgt" stack_leaf clone3
exit $failed
