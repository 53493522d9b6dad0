#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe list: the expected names, addresses and their order come from nm;
# both cli_target functions are plain C entries, so both must be optimized.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli_list
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" list "$@"; }
tgt=$(readlink -f "$top/build/tests/cli/cli_target")
tmp=$(mktemp -d)
pid=
trap 'rm -rf "$tmp"; [ -n "$pid" ] && kill "$pid" 2>/dev/null' EXIT



# "0xADDR NAME optimized" per line, normalised to "ADDR NAME MODE" with ADDR in
# decimal, so padding of the printed address does not matter.
# (mawk has no strtonum: the shell's printf converts.)
norm() { while read -r a n m _; do printf '%d %s %s\n' "$a" "$n" "$m"; done; }

# Expected: the cli_* functions from nm, in address order.
want=$(nm "$tgt" | awk '$2 == "T" && $3 ~ /^cli_/ { print "0x" $1, $3, "optimized" }' |
	sort | norm)
if [ "$(echo "$want" | wc -l)" != 2 ]; then
	echo "  nm found no two cli_* functions in $tgt: '$want'"
	echo "FAIL: cli_list/setup"
	exit 1
fi

# file: exactly the two functions, in address order, optimized; summary on stderr.
up "$tgt" 'cli_*' >"$tmp/file.out" 2>"$tmp/file.err"
st=$?
expect_eq file "$st" 0 "exit status" &&
	expect_eq file "$(norm <"$tmp/file.out")" "$want" "lines (addr name mode)" &&
	expect_eq file "$(cat "$tmp/file.err")" "2 functions: 2 optimized, 0 int3, 0 refused" \
		"stderr summary" &&
	pass file

# names: -q prints only the names, same order.
expect_eq names "$(up -q "$tgt" 'cli_*' 2>/dev/null)" "$(echo "$want" | cut -d' ' -f2)" \
	"names" && pass names

# libc: the short name resolves to libc.so.6; exactly one malloc line, at nm -D's address.
libc=
for f in /lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libc.so.6; do
	[ -f "$f" ] && libc=$f && break
done
if [ -z "$libc" ]; then
	fail libc "no libc.so.6 in /lib/x86_64-linux-gnu or /usr/lib/x86_64-linux-gnu"
else
	maddr=$(nm -D --defined-only "$libc" |
		awk '$3 == "malloc" || $3 ~ /^malloc@/ { print "0x" $1, $3, "x"; exit }' | norm |
		cut -d' ' -f1)
	out=$(up libc 'malloc' 2>"$tmp/libc.err")
	st=$?
	expect_eq libc "$st" 0 "exit status" &&
		expect_eq libc "$(echo "$out" | norm | cut -d' ' -f1,2)" \
			"$maddr malloc" "line (addr name)" &&
		expect_eq libc "$(up -q libc malloc 2>/dev/null)" "malloc" "names" &&
		pass libc
fi

# pid: a running cli_target; its executable's header, then the same two lines.
"$tgt" until "$tmp/stop" >/dev/null &
pid=$!
wait_exec $pid "$tgt"
up "$pid" 'cli_*' >"$tmp/pid.out" 2>"$tmp/pid.err"
st=$?
expect_eq pid "$st" 0 "exit status: $(cat "$tmp/pid.err")" &&
	expect_eq pid "$(head -n 1 "$tmp/pid.out")" "$tgt:" "header" &&
	expect_eq pid "$(tail -n +2 "$tmp/pid.out" | norm)" "$want" "lines (addr name mode)" &&
	pass pid
touch "$tmp/stop"
wait "$pid"
pid=

# expect_err NAME WANT_STATUS WANT_SUBSTRING ARGS...: status and a stderr message.
expect_err() {
	name=$1 want_st=$2 want_msg=$3
	shift 3
	up "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	st=$?
	expect_eq "$name" "$st" "$want_st" "exit status" || return
	if ! grep -qF -- "$want_msg" "$tmp/$name.err"; then
		fail "$name" "stderr '$(cat "$tmp/$name.err")' lacks '$want_msg'"
		return
	fi
	expect_eq "$name" "$(cat "$tmp/$name.out")" "" "stdout" && pass "$name"
}

expect_err nofile 1 "$tmp/no/such/file" "$tmp/no/such/file"
expect_err notelf 1 "/etc/passwd: not an ELF file" /etc/passwd
expect_err nopid 1 "no process 999999999" 999999999
expect_err noargs 2 "usage: uprobe list"
expect_err badopt 2 "bad option" --bogus "$tgt"

up --help >"$tmp/help.out" 2>&1
st=$?
expect_eq help "$st" 0 "exit status" &&
	expect_eq help "$(head -n 1 "$tmp/help.out")" "usage: uprobe list [OPTIONS] BINARY|PID [PATTERN]" \
		"first line" && pass help

exit $failed
