#!/bin/sh
# SPDX-License-Identifier: MIT
# Debug files that are not what they claim. A stripped elf_target whose
# .gnu_debuglink (or build-id path) leads to something odd: uprobe list shows
# exactly what it shows when there is no debug file at all and says once, on
# stderr, which file it refused and why; uprobe trace runs the program with its
# untraced output, and a probe on a function only the debug file names fails
# with that reason. Each odd file sits on another of the lookup's paths
# (ROOT is $UPROBE_DEBUG_DIR, DIR the program's directory):
#  real         control: the real debug file (DIR/NAME): elf_hidden listed
#  fifo         DIR/.debug/NAME is a FIFO (hung the program before main)
#  device       DIR/NAME is a symlink to /dev/zero (opened as root)
#  sparse       ROOT/DIR/NAME is a 4 GiB sparse file (its CRC took 32 s)
#  buildid      ROOT/.build-id/xx/yyyy.debug is a FIFO
#  other_build  DIR/NAME is another build's debug file: its build-id differs
#  noid_real    control, no build-id: the CRC of .gnu_debuglink accepts it
#  noid_crc     no build-id, another build's debug file: CRC mismatch
#  relative     uprobe list prog: DIR is the current directory (it was /),
#               and one warning though the SDT markers read it as an absolute path
#  wildcard     uprobe trace 'p:PROG:elf_*' (expanded by the tracer) says why
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=hostile
. "$top/tests/lib.sh"
up="$top/build/uprobe"
bin="$top/build/tests/hostile"
# Short paths: the messages compared hold the path twice (the library's room: 511 bytes).
tmp=$(mktemp -d /tmp/eXXXX)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
export UPROBE_DEBUG_DIR="$tmp/root"
want_run="elf_target: sum 45"

# mk DIR PROG: DIR/prog is PROG stripped, with a .gnu_debuglink to prog.debug
# (the CRC of PROG's own debug file, left in DIR/real.debug).
mk() {
	mkdir -p "$1" "$tmp/root"
	objcopy --only-keep-debug "$2" "$1/prog.debug" &&
		strip --strip-all -o "$1/prog" "$2" &&
		objcopy --add-gnu-debuglink="$1/prog.debug" "$1/prog" &&
		mv "$1/prog.debug" "$1/real.debug"
}

# The listing with no debug file at all: what every refusal must leave.
mk "$tmp/none" "$bin/elf_target" || { fail setup "objcopy/strip failed"; exit 1; }
"$up" list "$tmp/none/prog" >"$tmp/none.out" 2>"$tmp/none.err"
if [ $? != 0 ] || grep -q ' elf_hidden ' "$tmp/none.out" ||
	! grep -q ' elf_work ' "$tmp/none.out"; then
	fail setup "uprobe list of a stripped elf_target: $(cat "$tmp/none.out" "$tmp/none.err")"
	exit 1
fi
sed 's|/none/|/D/|' "$tmp/none.out" >"$tmp/none.norm"

# list_refused NAME DIR FILE WHY: DIR/prog listed as with no debug file, one
# warning naming FILE and WHY.
list_refused() {
	"$up" list "$2/prog" >"$tmp/$1.out" 2>"$tmp/$1.err"
	st=$?
	expect_eq "$1" "$st" 0 "exit status of uprobe list" &&
		expect_eq "$1" "$(sed "s|$2/|$tmp/D/|" "$tmp/$1.out")" "$(cat "$tmp/none.norm")" \
			"listing (as with no debug file)" &&
		expect_eq "$1" "$(grep '^uprobe: warning:' "$tmp/$1.err")" \
			"uprobe: warning: $2/prog: debug file $3 refused: $4" "warning" &&
		expect_eq "$1" "$(grep -v '^uprobe: warning:' "$tmp/$1.err")" \
			"$(cat "$tmp/none.err")" "the rest of stderr"
}

# trace_refused NAME DIR FILE WHY: the program runs as untraced with a probe
# on elf_work (in .dynsym); one on elf_hidden is refused with the reason.
trace_refused() {
	"$up" trace -q --count "p:$2/prog:elf_work" -- "$2/prog" >"$tmp/$1.tr" 2>"$tmp/$1.tre"
	st=$?
	expect_eq "$1" "$st" 0 "exit status of uprobe trace (elf_work)" &&
		expect_eq "$1" "$(cat "$tmp/$1.tr")" "$want_run
@events[elf_work]: 5" "stdout of uprobe trace (elf_work)" &&
		expect_eq "$1" "$(cat "$tmp/$1.tre")" "" "stderr of uprobe trace -q (elf_work)" ||
		return 1
	"$up" trace -q --count "p:$2/prog:elf_hidden" -- "$2/prog" >"$tmp/$1.tr" 2>"$tmp/$1.tre"
	st=$?
	expect_eq "$1" "$st" 1 "exit status of uprobe trace (elf_hidden)" &&
		expect_eq "$1" "$(cat "$tmp/$1.tre")" "uprobe: cannot attach uprobes/elf_hidden \
($2/prog:elf_hidden): symbol 'elf_hidden' not found in $2/prog (debug file $3 refused: $4)" \
			"stderr of uprobe trace (elf_hidden)"
}

# ---- control: the real debug file ----------------------------------------------------------
d="$tmp/real"
mk "$d" "$bin/elf_target" && mv "$d/real.debug" "$d/prog.debug"
"$up" list "$d/prog" >"$tmp/real.out" 2>"$tmp/real.err"
st=$?
expect_eq real "$st" 0 "exit status" &&
	expect_eq real "$(grep -c ' elf_hidden ' "$tmp/real.out")" 1 "elf_hidden listed" &&
	expect_eq real "$(grep -c '^uprobe: warning' "$tmp/real.err")" 0 "warnings" &&
	pass real

# ---- a FIFO at DIR/.debug/NAME ---------------------------------------------------------------
d="$tmp/fifo"
mk "$d" "$bin/elf_target" && mkdir "$d/.debug" && mkfifo "$d/.debug/prog.debug"
why="a FIFO, not a regular file"
list_refused fifo "$d" "$d/.debug/prog.debug" "$why" &&
	trace_refused fifo "$d" "$d/.debug/prog.debug" "$why" && pass fifo

(cd "$d" && "$up" list prog >"$tmp/rel.out" 2>"$tmp/rel.err")
expect_eq relative "$(grep '^uprobe: warning:' "$tmp/rel.err")" \
	"uprobe: warning: prog: debug file $d/.debug/prog.debug refused: $why" "warnings" &&
	pass relative

# ---- /dev/zero at DIR/NAME -------------------------------------------------------------------
d="$tmp/device"
mk "$d" "$bin/elf_target" && ln -s /dev/zero "$d/prog.debug"
why="a character device, not a regular file"
list_refused device "$d" "$d/prog.debug" "$why" &&
	trace_refused device "$d" "$d/prog.debug" "$why" && pass device

# ---- a 4 GiB sparse file at ROOT/DIR/NAME ------------------------------------------------------
d="$tmp/sparse"
mk "$d" "$bin/elf_target" && mkdir -p "$tmp/root$d" && truncate -s 4G "$tmp/root$d/prog.debug"
why="4294967296 bytes, over the 2 GiB limit"
list_refused sparse "$d" "$tmp/root$d/prog.debug" "$why" &&
	trace_refused sparse "$d" "$tmp/root$d/prog.debug" "$why" && pass sparse

# ---- a FIFO at the build-id path ---------------------------------------------------------------
d="$tmp/buildid"
mk "$d" "$bin/elf_target"
bid=$(readelf -n "$d/prog" | sed -n 's/.*Build ID: \([0-9a-f]*\).*/\1/p')
f="$tmp/root/.build-id/$(echo "$bid" | cut -c1-2)/$(echo "$bid" | cut -c3-).debug"
mkdir -p "$(dirname "$f")" && mkfifo "$f"
list_refused buildid "$d" "$f" "a FIFO, not a regular file" && pass buildid
rm -f "$f" # every copy of elf_target has that build-id

# ---- another build's debug file ------------------------------------------------------------------
d="$tmp/other"
mk "$d" "$bin/elf_target" && mk "$d/o" "$bin/elf_target_other" && mv "$d/o/real.debug" "$d/prog.debug"
list_refused other_build "$d" "$d/prog.debug" "its build-id is not the one of $d/prog" &&
	pass other_build

# ---- no build-id: the CRC decides ----------------------------------------------------------------
d="$tmp/noid"
mk "$d" "$bin/elf_target_noid" && mv "$d/real.debug" "$d/prog.debug"
"$up" list "$d/prog" >"$tmp/noid.out" 2>"$tmp/noid.err"
st=$?
expect_eq noid_real "$st" 0 "exit status" &&
	expect_eq noid_real "$(grep -c ' elf_hidden ' "$tmp/noid.out")" 1 "elf_hidden listed" &&
	expect_eq noid_real "$(grep -c '^uprobe: warning' "$tmp/noid.err")" 0 "warnings" &&
	pass noid_real

d="$tmp/noidcrc"
mk "$d" "$bin/elf_target_noid" && mk "$d/o" "$bin/elf_target_noid_other" &&
	mv "$d/o/real.debug" "$d/prog.debug"
# The CRC32 of the file there, and the one .gnu_debuglink holds: its own debug file's.
crcs=$(python3 -c 'import sys, zlib
print(" ".join("0x%08x" % zlib.crc32(open(f, "rb").read()) for f in sys.argv[1:]))' \
	"$d/prog.debug" "$d/real.debug")
list_refused noid_crc "$d" "$d/prog.debug" \
	"its CRC32 is ${crcs% *}, .gnu_debuglink asks for ${crcs#* }" && pass noid_crc

# ---- a wildcard, expanded by the tracer: the tracer says why -------------------------------------
d="$tmp/fifo"
"$up" trace --count "p:$d/prog:elf_*" -- "$d/prog" >"$tmp/wild.out" 2>"$tmp/wild.err"
st=$?
expect_eq wildcard "$st" 0 "exit status" &&
	expect_eq wildcard "$(cat "$tmp/wild.out")" "$want_run
@events[elf_work]: 5" "stdout" &&
	expect_eq wildcard "$(grep '^uprobe: warning:' "$tmp/wild.err")" \
		"uprobe: warning: $d/prog: debug file $d/.debug/prog.debug refused: a FIFO, not a regular file" \
		"warning" && pass wildcard
exit "$failed"
