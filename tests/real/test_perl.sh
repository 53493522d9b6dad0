#!/bin/bash
# SPDX-License-Identifier: MIT
# Every function of Debian's perl probed (tests/real/real.sh) while it runs
# tests/real/work/workload.pl (with List::Util, Data::Dumper and POSIX: their
# XS libraries are loaded, not probed).
prog=perl
. "$(dirname "$0")/real.sh"
files=/usr/bin/perl
cmd=(/usr/bin/perl "$here/work/workload.pl")
want_status=3
must_call="$files:perl_construct $files:perl_parse $files:perl_run $files:perl_destruct
	$files:Perl_pp_print $files:Perl_runops_standard"
must_enter="$files:main"
real_main
