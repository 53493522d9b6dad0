#!/bin/sh
# SPDX-License-Identifier: MIT
# Return probes where no return can be followed, on Debian's programs, by the
# CLI: one such probe is refused before the program runs (exit 1, the reason
# named); a glob skips those functions with a note on stderr, and the program
# prints and exits as when not traced.
#  entry_zstd       r: on fn_<ELF entry> of the stripped zstd (it asserted)
#  entry_python     r: at python3.11's entry, by file offset (it crashed)
#  entry_bash       r: at bash's entry, by file offset (it ran nothing, exit 0)
#  glob_zstd        r: on the fn_ functions around zstd's entry: the entry and
#                   the .cold parts skipped; zstd's output the same
#  setjmp_libc      r:libc:_setjmp, r:libc:__sigsetjmp: refused by name
#  glob_bash_plt    r: on every PLT stub of bash: __sigsetjmp@plt skipped;
#                   an error that longjmps (SIGILL at the longjmp before)
#  glob_none_left   r:libc:*etjmp: every match skipped: exit 1, the note, why
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=retprobe_cli
. "$top/tests/lib.sh"
up="$top/build/uprobe"
libc=$(readlink -f /lib/x86_64-linux-gnu/libc.so.6)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

entry() { readelf -hW "$1" | sed -n 's/^ *Entry point address: *0x0*\([0-9a-f]*\)$/\1/p'; }
# The note a glob prints for what it skipped.
note() { # probe count what names
	if [ "$2" = 1 ]; then
		echo "uprobe: $1: skipped 1 function that $3: $4"
	else
		echo "uprobe: $1: skipped $2 functions that $3: $4"
	fi
}
noret="no call enters (no return address to swap)"

# ---- one probe at an entry point: refused before the program runs ------------------------------
# check_entry NAME PROBE EVENT WHO PROGRAM ARGS...: exit 1, the message, nothing run.
check_entry() {
	name=$1 probe=$2 ev=$3 who=$4
	shift 4
	"$up" trace "$probe" -- "$@" >"$tmp/$name.out" 2>"$tmp/$name.err"
	st=$?
	if expect_eq "$name" "$st" 1 "exit status" &&
		expect_eq "$name" "$(cat "$tmp/$name.out")" "" "the program's output (it must not run)" &&
		expect_grep "$name" "$tmp/$name.err" "uprobe: cannot attach uprobes/$ev (${probe#r:}): no return probe on $who: the ELF entry point: argc, not a return address, is on top of the stack" \
			"message"; then
		pass "$name"
	fi
}

z=/usr/bin/zstd
if [ ! -x "$z" ]; then
	skip entry_zstd "no $z (apt-get install zstd)"
	skip glob_zstd "no $z"
else
	ze=$(entry "$z")
	check_entry entry_zstd "r:$z:fn_$ze" "fn_${ze}__return" "fn_$ze" "$z" -q -c /dev/null

	# Every fn_ of the entry's first two hex digits: the entry, maybe .cold parts.
	g="r:$z:fn_$(echo "$ze" | cut -c1-2)*"
	"$up" list "$z" "${g#r:$z:}" >"$tmp/zl" 2>/dev/null
	skipped=$(grep -c '; no r: (no call enters it)$' "$tmp/zl")
	names=$(sed -n 's/^0x[0-9a-f]*  \(fn_[0-9a-f]*\) .*; no r: (no call enters it)$/\1/p' "$tmp/zl" |
		paste -sd, | sed 's/,/, /g')
	head -c 300000 /usr/bin/python3.11 >"$tmp/in"
	"$z" -q -3 -c "$tmp/in" >"$tmp/want.zst"
	st0=$?
	"$up" trace -q --count "$g" -- "$z" -q -3 -f -o "$tmp/got.zst" "$tmp/in" >"$tmp/gz.out" \
		2>"$tmp/gz.err"
	st=$?
	if expect_grep glob_zstd "$tmp/zl" "fn_$ze " "the entry point listed" &&
		expect_eq glob_zstd "$st $st0" "0 0" "exit status traced, untraced" &&
		expect_eq glob_zstd "$(cmp "$tmp/got.zst" "$tmp/want.zst" 2>&1)" "" "zstd's output" &&
		expect_eq glob_zstd "$(cat "$tmp/gz.err")" "$(note "$g" "$skipped" "$noret" "$names")" \
			"the note (names from uprobe list)" &&
		expect_grep glob_zstd "$tmp/gz.err" "fn_$ze" "the entry point among them"; then
		pass glob_zstd
	fi
fi

py=/usr/bin/python3.11
check_entry entry_python "r:$py:$(vaddr_off "$py" "$(entry "$py")")" \
	"p_python3_$(vaddr_off "$py" "$(entry "$py")")" _start "$py" -c 'print(6 * 7)'
bash=/usr/bin/bash
check_entry entry_bash "r:$bash:$(vaddr_off "$bash" "$(entry "$bash")")" \
	"p_bash_$(vaddr_off "$bash" "$(entry "$bash")")" _start "$bash" -c 'echo ran'

# ---- returns twice ------------------------------------------------------------------------------
"$up" trace 'r:libc:_setjmp' 'r:libc:__sigsetjmp' -- "$py" -c 'print(6 * 7)' >"$tmp/sj.out" \
	2>"$tmp/sj.err"
st=$?
twice="it returns twice, like setjmp: its second return would find no return address"
if expect_eq setjmp_libc "$st" 1 "exit status" &&
	expect_grep setjmp_libc "$tmp/sj.err" "uprobe: cannot attach uprobes/_setjmp__return (libc:_setjmp): no return probe on _setjmp: $twice" "_setjmp" &&
	expect_grep setjmp_libc "$tmp/sj.err" "uprobe: cannot attach uprobes/__sigsetjmp__return (libc:__sigsetjmp): no return probe on __sigsetjmp: $twice" "__sigsetjmp"; then
	pass setjmp_libc
fi

# bash longjmps to its top level on an error: through __sigsetjmp@plt's return trampoline.
script='for i in 1 2 3; do echo $i; done; x=$((1/0)); echo after'
"$bash" -c "$script" >"$tmp/b0.out" 2>"$tmp/b0.err"
st0=$?
"$up" trace -q --count -o "$tmp/b.count" "r:$bash:*@plt" -- "$bash" -c "$script" \
	>"$tmp/b.out" 2>"$tmp/b.err"
st=$?
if forced_ret_path; then
	# make check-forced: every lazy stub ends in a jump to PLT0 (no symbol: taken
	# for a cold part), every .plt.got stub is one jump through the GOT inside
	# the entry's jump: no stub's exits can be patched, each refused by name,
	# after the glob's note, and bash does not run. (The agent's status record
	# holds 171 bytes of a reason: the cold part's is cut after "no symbol".)
	sp="its exits cannot be patched (UPROBE_RET_PATH=site-strict)"
	expect_eq glob_bash_plt "$st" 1 "exit status" &&
		expect_eq glob_bash_plt "$(cat "$tmp/b.out")" "" "bash's stdout (it must not run)" &&
		expect_eq glob_bash_plt "$(head -1 "$tmp/b.err")" \
			"$(note "r:$bash:*@plt" 1 "returns twice" "__sigsetjmp@plt")" "the note" &&
		expect_grep glob_bash_plt "$tmp/b.err" \
			"uprobe: cannot attach uprobes/malloc_plt ($bash:malloc@plt): $sp: 'jmp 0x" \
			"malloc@plt refused" &&
		expect_eq glob_bash_plt "$(sed 1d "$tmp/b.err" | grep -cv \
			"^uprobe: cannot attach uprobes/[^ ]*_plt ($bash:[^ ]*@plt): $sp: \\('jmp 0x[0-9A-F]*' at +0xb jumps to fn_[0-9a-f]* (no symbol; .*\\|the tail jump through the GOT at +0x0: its window overlaps the entry's jump\\)$")" \
			0 "lines other than the note and stubs refused" &&
		pass glob_bash_plt
elif expect_eq glob_bash_plt "$st $st0" "1 1" "exit status traced, untraced" &&
	expect_eq glob_bash_plt "$(cat "$tmp/b.out")" "$(cat "$tmp/b0.out")" "bash's stdout" &&
	expect_eq glob_bash_plt "$(cat "$tmp/b.err")" \
		"$(note "r:$bash:*@plt" 1 "returns twice" "__sigsetjmp@plt")
$(cat "$tmp/b0.err")" "stderr: the note, then bash's" &&
	expect_grep glob_bash_plt "$tmp/b.count" "@events[malloc_plt]: " "malloc@plt traced"; then
	pass glob_bash_plt
fi

"$up" trace -q "r:$libc:*etjmp" -- "$bash" -c 'echo ran' >"$tmp/n.out" 2>"$tmp/n.err"
st=$?
if expect_eq glob_none_left "$st" 1 "exit status" &&
	expect_eq glob_none_left "$(cat "$tmp/n.out")" "" "the program's output (it must not run)" &&
	expect_eq glob_none_left "$(cat "$tmp/n.err")" \
		"$(note "r:$libc:*etjmp" 3 "return twice" "__sigsetjmp, setjmp, _setjmp")
uprobe: probe 'r:$libc:*etjmp': no function of $libc matches '*etjmp' that a return probe can follow" \
		"stderr"; then
	pass glob_none_left
fi

exit $failed
