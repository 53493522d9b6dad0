#!/bin/bash
# SPDX-License-Identifier: MIT
# Every function of Debian's zstd probed (tests/real/real.sh) while sh runs
# tests/real/work/zstd.sh: thirteen zstd processes (levels 1, 3 and 19, two
# worker threads, a trained dictionary, decompression, test, list). zstd is
# stripped: its functions are the fn_<hex> of .eh_frame and the PLT.
prog=zstd
. "$(dirname "$0")/real.sh"
files=/usr/bin/zstd
cmd=(/bin/sh "$here/work/zstd.sh" "$tmp/zstd")
real_prepare() { rm -rf "$tmp/zstd" && mkdir "$tmp/zstd"; }
want_status=3
must_call="$files:malloc@plt $files:free@plt $files:fread@plt $files:fwrite@plt
	$files:pthread_create@plt $files:pthread_join@plt"
entry=$(readelf -h "$files" 2>/dev/null | sed -n 's/.*Entry point address: *0x//p')
must_enter="$files:fn_$entry"
real_main
