#!/bin/sh
# SPDX-License-Identifier: MIT
# A probe's analysis kept in the cache (src/core/jump_memo.c, an-*.uan): the
# first image decodes memo_f and stores what the decoder said; the next one
# uses it and never loads the decoder; an image whose mapped bytes are not the
# memo's refuses it and decodes them: a copy of the target rewritten in place
# (its build-id kept, so the memo's name is the same) where the window that was
# one instruction is two, and memos damaged or of another function. Likewise
# the name memo (nm-*.unm, sym/symcache.c): memo_f found without loading the
# target's symbols, and the symbols loaded when the memo is the old file's,
# damaged or another name's. Each run: exact counts, mode optimized, the
# program's output as untraced.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
calls=1000
cp "$top/build/tests/hostile/memo_target" "$tmp/t"
cache=$tmp/cache

# The cache files the traced image opened, when strace is there to say (else "-"):
# sym (its symbols), br (a branch index), an, nm (memos), in that order.
have_strace=0
command -v strace >/dev/null 2>&1 && have_strace=1

# run NAME WANT_SUM WANT_ZYDIS WANT_OPENED [CACHE]: memo_f counted in a traced run of $tmp/t.
run() {
	tr=
	[ $have_strace = 1 ] && tr="strace -f -qq -e trace=openat -o $tmp/$1.strace"
	UPROBE_CACHE_DIR=${5-$cache} $tr "$top/build/uprobe" trace --count -o "$tmp/$1.counts" \
		"p:m/f $tmp/t:memo_f" -- "$tmp/t" "$calls" >"$tmp/$1.out" 2>"$tmp/$1.err"
	st=$?
	got="$st $(cat "$tmp/$1.out") $(cat "$tmp/$1.counts")"
	got="$got $(grep -o 'm/f: .* mode [a-z]*' "$tmp/$1.err" | sed 's/.* mode //')"
	want="0 sum $2 zydis $3 @events[f]: $calls optimized"
	if [ $have_strace = 1 ]; then
		opened=
		for k in sym br an nm; do
			grep -q "/$k-[^\"]*\.u[a-z]*\", O_RDONLY.* = [0-9]" "$tmp/$1.strace" &&
				opened="$opened $k"
		done
		got="$got opened:${opened:- none}"
		want="$want opened: $4"
	fi
	expect_eq "$1" "$got" "$want" "status, output, count, mode, cache files opened" &&
		pass "$1"
}
memos() { ls "$cache" 2>/dev/null | grep -c "^$1-.*\.u$1\$"; }

orig=$(printf '0x%x' $((0x11223344 * calls)))
# The first run opens no memo: it stores the name's, but its second lookup of
# the name asks the symbols, loaded by then.
run memo_first "$orig" 1 none
expect_eq memo_stored "$(memos an) $(memos nm)" "1 1" "analysis and name memos in the cache" &&
	pass memo_stored
run memo_used "$orig" 0 "an nm"
run memo_uncached "$orig" 1 none ""

# The file rewritten in place: mov $0x11223344,%eax (5 bytes, the window) becomes
# xor %eax,%eax; add $7,%eax. The memo (same build-id, same name) holds the old bytes.
at=$(LC_ALL=C grep -obUaP '\xb8\x44\x33\x22\x11\xc3' "$tmp/t" | cut -d: -f1)
if [ -z "$at" ]; then
	fail memo_rewritten "memo_f's bytes not found in $tmp/t"
	exit 1
fi
printf '\061\300\203\300\007' | dd of="$tmp/t" bs=1 seek="$at" conv=notrunc 2>/dev/null
new=$(printf '0x%x' $((7 * calls)))
expect_eq memo_rewritten_plain "$("$tmp/t" "$calls")" "sum $new zydis 0" "untraced output" &&
	pass memo_rewritten_plain
run memo_rewritten "$new" 1 "sym br an nm"
expect_eq memo_replaced "$(memos an) $(memos nm)" "1 1" "analysis and name memos in the cache" &&
	pass memo_replaced
run memo_rewritten_used "$new" 0 "an nm"

# Damaged memos: a byte of the analysis changed (the checksum), the whole file
# cut, and another function's memo (a valid file of libc's malloc) in its place.
m=$(ls "$cache" | grep '^an-')
for how in poke cut other; do
	d=$tmp/c.$how
	rm -rf "$d"
	cp -a "$cache" "$d"
	case $how in
	poke) printf '\245' | dd of="$d/$m" bs=1 seek=100 conv=notrunc 2>/dev/null ;;
	cut) truncate -s 200 "$d/$m" ;;
	other)
		UPROBE_CACHE_DIR=$d "$top/build/uprobe" trace -q --count -o /dev/null \
			'p:libc:malloc' -- /bin/true >/dev/null 2>&1
		o=$(ls "$d" | grep '^an-' | grep -v "^$m\$" | head -1)
		if [ -z "$o" ]; then
			skip memo_other "no memo of libc's malloc (not optimized here)"
			continue
		fi
		cp "$d/$o" "$d/$m"
		;;
	esac
	run "memo_$how" "$new" 1 "br an nm" "$d"
done

# Name memos: another name's (libc's malloc, a valid file) in memo_f's place, one
# byte changed, cut; the name is found in the symbols instead.
m=$(ls "$cache" | grep '^nm-')
o=$(ls "$tmp/c.other" 2>/dev/null | grep '^nm-' | grep -v "^$m\$" | head -1)
for how in poke cut other; do
	d=$tmp/n.$how
	rm -rf "$d"
	cp -a "$cache" "$d"
	case $how in
	poke) printf '\245' | dd of="$d/$m" bs=1 seek=300 conv=notrunc 2>/dev/null ;;
	cut) truncate -s 200 "$d/$m" ;;
	other)
		if [ -z "$o" ]; then
			skip name_memo_other "no name memo of libc's malloc"
			continue
		fi
		cp "$tmp/c.other/$o" "$d/$m"
		;;
	esac
	run "name_memo_$how" "$new" 0 "sym an nm" "$d"
done
exit $failed
