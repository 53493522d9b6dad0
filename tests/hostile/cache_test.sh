#!/bin/sh
# SPDX-License-Identifier: MIT
# The cache of per-file facts (src/util/cache.h: symbols sym-*.usym, branch
# indexes br-*.ubr, probe analyses an-*.uan, name memos nm-*.unm) damaged
# every way a disk, an editor or a user can: bytes changed in the header, the
# middle and the end, cut in half, cut to a header,
# emptied, replaced by another file's entry (another build-id), garbage, a
# symlink, a file or a directory of another user, a directory that is a file.
# Each traced run equals the run without a cache: the same counts, the same
# attach modes, the same status; never a crash, never a wrong address.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
tgt="$top/build/tests/hostile/hostile_target"
tmp=$(mktemp -d)
trap 'chmod -R u+rwx "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT

# hostile_xol (lea; ret: 4 bytes) is there for the int3 path, which make check's
# forced pass turns off at an entry (UPROBE_ENTRY_PATH=lean-strict, refused by name:
# tests/hostile/test_hostile.sh checks that): the runs probe the two others then.
xol="p:h/xol $tgt:hostile_xol"
ref_probe=h/xol
if forced_entry_path; then
	xol=""
	ref_probe=h/jmp
fi

# run NAME CACHE_DIR: a traced run of the target with that cache; its counts
# and modes in $tmp/NAME.out, its status in $tmp/NAME.st.
run() {
	UPROBE_CACHE_DIR=$2 "$top/build/uprobe" trace --count -o "$tmp/$1.counts" \
		${xol:+"$xol"} "p:h/jmp $tgt:hostile_jmp" 'p:c/malloc libc:malloc' \
		-- "$tgt" threads 2 500 >"$tmp/$1.stdout" 2>"$tmp/$1.stderr"
	echo $? >"$tmp/$1.st"
	{
		sort "$tmp/$1.counts"
		grep -o '[a-z]*/[a-z]*: [0-9]* events.*mode [a-z]*' "$tmp/$1.stderr" |
			sed 's/: [0-9]* events.*mode/ mode/' | sort
		cat "$tmp/$1.stdout"
	} >"$tmp/$1.out"
}

# same NAME: run NAME equals the run without a cache.
same() {
	if [ "$(cat "$tmp/$1.st")" != "$(cat "$tmp/ref.st")" ]; then
		fail "$1" "status $(cat "$tmp/$1.st"), without a cache $(cat "$tmp/ref.st"):" \
			"$(head -3 "$tmp/$1.stderr")"
		return 1
	fi
	if ! cmp -s "$tmp/$1.out" "$tmp/ref.out"; then
		fail "$1" "differs from the run without a cache: $(diff "$tmp/ref.out" "$tmp/$1.out" |
			head -6 | tr '\n' ' ')"
		return 1
	fi
	return 0
}

# poke FILE OFFSET: four bytes there changed (0xa5 each).
poke() { printf '\245\245\245\245' | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null; }
size() { wc -c <"$1" | tr -d ' '; }

run ref ""
if [ "$(cat "$tmp/ref.st")" != 0 ] || ! grep -q "$ref_probe mode" "$tmp/ref.out"; then
	fail cache_reference "the run without a cache: status $(cat "$tmp/ref.st"):" \
		"$(head -3 "$tmp/ref.stderr")"
	exit 1
fi
run fill "$tmp/good"
run warm "$tmp/good"
if same fill && same warm; then
	n_sym=$(ls "$tmp/good" | grep -c '^sym-.*\.usym$')
	n_br=$(ls "$tmp/good" | grep -c '^br-.*\.ubr$')
	expect_eq cache_filled "$n_sym $n_br" "2 2" "sym-/br- files (the target's, libc's)" &&
		pass cache_filled
fi

# Every entry, every damage: a fresh copy of the good cache each time.
i=0
for f in $(ls "$tmp/good"); do
	i=$((i + 1))
	case $f in
	sym-*) other=$(ls "$tmp/good" | grep '^sym-' | grep -v "^$f\$" | head -1) ;;
	an-* | nm-*) other=$(ls "$tmp/good" | grep -v "^$f\$" | head -1) ;;
	*) other=$(ls "$tmp/good" | grep '^br-' | grep -v "^$f\$" | head -1) ;;
	esac
	kind=${f%%-*}$i
	ok=1
	for how in header middle end half cut_to_header empty other_file garbage symlink \
		not_ours group_writable; do
		d="$tmp/c.$kind.$how"
		rm -rf "$d"
		cp -a "$tmp/good" "$d"
		p="$d/$f"
		sz=$(size "$p")
		case $how in
		header) poke "$p" 8; poke "$p" 40 ;;
		middle) poke "$p" $((sz / 2)) ;;
		end) poke "$p" $((sz - 30)) ;;
		half) truncate -s $((sz / 2)) "$p" ;;
		cut_to_header) truncate -s 64 "$p" ;;
		empty) : >"$p" ;;
		other_file) cp "$d/$other" "$p" ;;
		garbage) head -c "$sz" /dev/urandom >"$p" ;;
		symlink) mv "$p" "$d/real" && ln -s real "$p" ;;
		not_ours) chown 65534 "$p" 2>/dev/null || { rm -rf "$d"; continue; } ;;
		group_writable) chmod g+w "$p" ;;
		esac
		run "$kind.$how" "$d"
		same "$kind.$how" || ok=0
	done
	[ $ok = 1 ] && pass "cache_damaged_$kind"
done

# The directory: group-writable, another user's, a file, under a file, read-only.
ok=1
for how in dir_group_writable dir_not_ours dir_is_file dir_under_file dir_read_only; do
	d="$tmp/d.$how"
	rm -rf "$d"
	cp -a "$tmp/good" "$d"
	case $how in
	dir_group_writable) chmod 0770 "$d" ;;
	dir_not_ours) chown 65534 "$d" 2>/dev/null || { rm -rf "$d"; continue; } ;;
	dir_is_file) rm -rf "$d" && echo x >"$d" ;;
	dir_under_file) rm -rf "$d" && echo x >"$d" && d="$d/cache" ;;
	dir_read_only) rm -f "$d"/* && chmod 0500 "$d" ;;
	esac
	run "$how" "$d"
	same "$how" || ok=0
done
[ $ok = 1 ] && pass cache_dir_unusable
exit $failed
