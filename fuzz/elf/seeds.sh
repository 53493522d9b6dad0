#!/bin/sh
# SPDX-License-Identifier: MIT
# Build the seed corpus of fuzz_elf into DIR (default fuzz/corpus/elf/): small
# real ELF files, each for one of the sym layer's paths. Fixed build-ids, so
# that a rebuild with the same compiler gives the same files:
#   prog            .symtab, .dynsym (-rdynamic), PLT, SDT notes (.note.stapsdt,
#                   a semaphore in .probes), build-id 5eed...
#   prog_debug      the same with DWARF (-g)
#   prog.debug      its separate debug file (objcopy --only-keep-debug); fuzz_elf
#                   installs it as real.debug beside its input
#   prog_stripped   strip --strip-all: functions from .eh_frame only
#   prog_link_NAME  stripped, .gnu_debuglink to NAME.debug: real (the debug file),
#                   fifo, zero (/dev/zero), big (3 GiB sparse), dir (a directory),
#                   as fuzz_elf lays them out
#   prog_buildid    stripped, build-id b1d0..., whose ROOT/.build-id path fuzz_elf
#                   makes a FIFO
#   prog_mini       stripped, MiniDebugInfo (.gnu_debugdata: xz of a .symtab)
#   lib.so          a shared library with symbol versions (lib_len@SEED_1,
#                   lib_len@@SEED_2) and .gnu.version_d
#   cxx             C++: mangled names, a landing pad (.gcc_except_table)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../corpus/elf}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$out"
# One page less per segment: smaller inputs fuzz faster.
cc="${CC:-cc} -O2 -Wl,-z,noseparate-code"
id=0x5eed5eed5eed5eed5eed5eed5eed5eed5eed5eed

$cc -rdynamic -Wl,--build-id=$id -o "$out/prog" "$here/seed.c"
$cc -g -rdynamic -Wl,--build-id=$id -o "$out/prog_debug" "$here/seed.c"
objcopy --only-keep-debug "$out/prog_debug" "$out/prog.debug"
strip --strip-all -o "$out/prog_stripped" "$out/prog"
for name in real fifo zero big dir; do
	cp "$out/prog.debug" "$tmp/$name.debug"
	strip --strip-all -o "$out/prog_link_$name" "$out/prog"
	objcopy --add-gnu-debuglink="$tmp/$name.debug" "$out/prog_link_$name"
done
$cc -rdynamic -Wl,--build-id=0xb1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0b1d0 -o "$tmp/bid" "$here/seed.c"
strip --strip-all -o "$out/prog_buildid" "$tmp/bid"

# MiniDebugInfo as Fedora makes it: the .symtab of what .dynsym does not name.
nm -D "$out/prog" --format=posix --defined-only | awk '{ print $1 }' | sort >"$tmp/dyn"
nm "$out/prog" --format=posix --defined-only | awk '$2 == "T" || $2 == "t" { print $1 }' |
	sort >"$tmp/all"
comm -13 "$tmp/dyn" "$tmp/all" >"$tmp/keep"
objcopy -S --remove-section .comment --keep-symbols="$tmp/keep" "$out/prog.debug" "$tmp/mini"
xz -f "$tmp/mini"
strip --strip-all -R .comment -o "$out/prog_mini" "$out/prog"
objcopy --add-section .gnu_debugdata="$tmp/mini.xz" "$out/prog_mini"

$cc -shared -fPIC -Wl,--version-script="$here/seed_lib.map" -Wl,--build-id=$id \
	-o "$out/lib.so" "$here/seed_lib.c"
${CXX:-c++} -O2 -Wl,-z,noseparate-code -Wl,--build-id=$id -o "$out/cxx" "$here/seed_cxx.cpp"
