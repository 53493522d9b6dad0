#!/bin/sh
# SPDX-License-Identifier: MIT
# The cache of per-file facts bounded (uprobe_cache_trim, uprobe cache): its
# files counted exactly (names and disk blocks); past the bound the least
# recently used go until 3/4 of it is left, a dead writer's temporary (an
# hour old) goes, a live one's stays, files not the cache's stay whatever
# their name or size; uprobe trace trims once a day (the .trimmed stamp);
# --clear; the errors: a bound that is not a number, no cache directory, a
# directory others may write, two actions at once.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli
. "$top/tests/lib.sh"
up="$top/build/uprobe"
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp"; rm -rf "$tmp"' EXIT
now=$(date +%s)

# blocks DIR: bytes on disk of the cache's own files in DIR (what uprobe cache counts).
blocks() {
	for f in "$1"/sym-*.usym "$1"/br-*.ubr "$1"/cfi-*.ucfi "$1"/nm-*.unm "$1"/an-*.uan; do
		[ -f "$f" ] && [ ! -L "$f" ] && stat -c '%b %B' "$f"
	done | awk '{ s += $1 * $2 } END { print s + 0 }'
}
mib() { awk "BEGIN { printf \"%.1f\", $1 / 1048576 }"; }
# fake DIR NAME MIB AGE_S: a file of MIB MiB last used AGE_S seconds ago.
fake() {
	dd if=/dev/zero of="$1/$2" bs=1048576 count="$3" 2>/dev/null
	touch -d "@$((now - $4))" "$1/$2"
}

# cache_count: a traced run fills the cache; uprobe cache counts what is there.
c=$tmp/c
UPROBE_CACHE_DIR=$c "$up" trace -q 'p:libc:malloc' --count -o /dev/null -- /bin/true
st=$?
n=$(ls "$c" | grep -cE '^(sym|br|cfi|nm|an)-.*\.u(sym|br|cfi|nm|an)$')
got=$(UPROBE_CACHE_DIR=$c "$up" cache)
expect_eq cache_count "$st $([ "$n" -ge 2 ] && echo filled)" "0 filled" \
	"the traced run's status, and its cache files ($n)" &&
	expect_eq cache_count "$got" "cache $c: $n files, $(mib "$(blocks "$c")") MiB (bound 256.0 MiB)" \
		"uprobe cache" &&
	expect_eq cache_count "$([ -f "$c/.trimmed" ] && echo stamped)" stamped \
		"the daily trim's stamp, set by the traced run" &&
	pass cache_count

# cache_trim: ten files of 1 MiB, nm-f0 the least recently used, under a bound of 8 MiB.
t=$tmp/t
mkdir -m 700 "$t"
for i in 0 1 2 3 4 5 6 7 8 9; do
	fake "$t" "nm-f$i.unm" 1 $((1000 - 10 * i))
done
fake "$t" notes.txt 3 5000		# not the cache's: never counted, never removed
: >"$t/an-dead.uan.123.tmp"		# a writer's that died an hour ago
touch -d "@$((now - 3700))" "$t/an-dead.uan.123.tmp"
: >"$t/sym-live.usym.456.tmp"		# one still writing
ln -s notes.txt "$t/br-link.ubr"	# not a regular file
got=$(UPROBE_CACHE_DIR=$t UPROBE_CACHE_MAX_MB=8 "$up" cache --trim)
st=$?
expect_eq cache_trim "$st" 0 "status" &&
	expect_eq cache_trim "$got" "cache $t: 6 files, 6.0 MiB (bound 8.0 MiB)
removed 5 files, 4.0 MiB" "uprobe cache --trim: the 4 least recently used and the dead temporary" &&
	expect_eq cache_trim "$(ls -A "$t" | tr '\n' ' ')" \
		"br-link.ubr nm-f4.unm nm-f5.unm nm-f6.unm nm-f7.unm nm-f8.unm nm-f9.unm notes.txt sym-live.usym.456.tmp " \
		"what is left" &&
	pass cache_trim

# cache_under: under its bound nothing goes.
got=$(UPROBE_CACHE_DIR=$t UPROBE_CACHE_MAX_MB=6 "$up" cache --trim)
expect_eq cache_under "$got" "cache $t: 6 files, 6.0 MiB (bound 6.0 MiB)
removed 0 files, 0.0 MiB" "uprobe cache --trim at the bound" && pass cache_under

# cache_daily: uprobe trace trims only when the stamp is a day old.
d=$tmp/d
mkdir -m 700 "$d"
for i in 0 1 2; do
	fake "$d" "an-old$i.uan" 1 $((100000 + i))
done
touch "$d/.trimmed"
UPROBE_CACHE_DIR=$d UPROBE_CACHE_MAX_MB=2 "$up" trace -q 'p:libc:malloc' --count \
	-o "$tmp/d1.count" -- /bin/true
st1=$?
left1=$(ls "$d" | grep -c '^an-old')
touch -d "@$((now - 90000))" "$d/.trimmed"
UPROBE_CACHE_DIR=$d UPROBE_CACHE_MAX_MB=2 "$up" trace -q 'p:libc:malloc' --count \
	-o "$tmp/d2.count" -- /bin/true
st2=$?
left2=$(ls "$d" | grep -c '^an-old')
stamp=$(( $(date +%s) - $(stat -c %Y "$d/.trimmed") ))
expect_eq cache_daily "$st1 $st2" "0 0" "the traced runs' status" &&
	expect_eq cache_daily "$left1" 3 "old files after a run with a fresh stamp" &&
	expect_eq cache_daily "$left2" 0 "old files after a run with a stamp 25 hours old" &&
	expect_eq cache_daily "$([ "$(blocks "$d")" -le $((3 * 1048576 / 2)) ] && echo under)" under \
		"bytes left ($(blocks "$d")) within 3/4 of 2 MiB" &&
	expect_eq cache_daily "$([ "$stamp" -lt 60 ] && echo now)" now "the stamp, set anew" &&
	pass cache_daily

# cache_clear: every file of the cache goes, live temporaries too; others stay.
got=$(UPROBE_CACHE_DIR=$t "$up" cache --clear)
expect_eq cache_clear "$got" "cache $t: 0 files, 0.0 MiB (bound 256.0 MiB)
removed 7 files, 6.0 MiB" "uprobe cache --clear" &&
	expect_eq cache_clear "$(ls -A "$t" | tr '\n' ' ')" "br-link.ubr notes.txt " "what is left" &&
	pass cache_clear

# cache_errors
fake "$t" nm-kept.unm 1 10
UPROBE_CACHE_DIR=$t UPROBE_CACHE_MAX_MB=12x "$up" cache --trim >"$tmp/e1.out" 2>"$tmp/e1.err"
e1=$?
UPROBE_CACHE_DIR= "$up" cache >"$tmp/e2.out" 2>"$tmp/e2.err"
e2=$?
chmod 777 "$t"
UPROBE_CACHE_DIR=$t UPROBE_CACHE_MAX_MB=0 "$up" cache --trim >"$tmp/e3.out" 2>"$tmp/e3.err"
e3=$?
UPROBE_CACHE_DIR=$t UPROBE_CACHE_MAX_MB=0 "$up" trace -q 'p:libc:malloc' --count \
	-o /dev/null -- /bin/true 2>"$tmp/e4.err"
e4=$?
chmod 700 "$t"
"$up" cache --trim --clear >"$tmp/e5.out" 2>"$tmp/e5.err"
e5=$?
UPROBE_CACHE_DIR=$tmp/none "$up" cache >"$tmp/e6.out" 2>&1
e6=$?
expect_eq cache_errors "$e1 $(cat "$tmp/e1.err")" \
	"1 uprobe: UPROBE_CACHE_MAX_MB='12x' is not a number of MiB (0 .. 2^40)" "a bound not a number" &&
	expect_eq cache_errors "$e2 $(cat "$tmp/e2.err")" \
		"1 uprobe: no cache directory (UPROBE_CACHE_DIR is empty, or no HOME)" "no cache" &&
	expect_eq cache_errors "$e3 $(cat "$tmp/e3.err")" \
		"1 uprobe: cache $t: not this user's alone (owner $(id -u), mode 777): left alone" \
		"a directory others may write" &&
	expect_eq cache_errors "$e4 $(cat "$tmp/e4.err")" "0 " \
		"a trace beside it: its status, nothing said" &&
	expect_eq cache_errors "$(ls "$t" | grep -c '^nm-kept')" 1 "the file in it, kept" &&
	expect_eq cache_errors "$e5 $(cat "$tmp/e5.err")" "2 uprobe: give one of --trim and --clear" \
		"two actions" &&
	expect_eq cache_errors "$e6 $(cat "$tmp/e6.out")" \
		"0 cache $tmp/none: 0 files, 0.0 MiB (bound 256.0 MiB)" "a cache not made yet" &&
	pass cache_errors
exit $failed
