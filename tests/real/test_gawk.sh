#!/bin/bash
# SPDX-License-Identifier: MIT
# Every function of Debian's gawk probed (tests/real/real.sh) while it runs
# tests/real/work/workload.awk over work/input.txt. Debian's gawk has few
# symbols of its own (getopt, the regex engine, the PLT); they are all probed.
prog=gawk
. "$(dirname "$0")/real.sh"
files=/usr/bin/gawk
cmd=(/usr/bin/gawk -f "$here/work/workload.awk" "$here/work/input.txt")
want_status=3
must_call="$files:getopt_long $files:re_compile_pattern $files:re_search $files:re_compile_fastmap
	$files:malloc@plt"
real_main
