#!/bin/bash
# SPDX-License-Identifier: MIT
# Every function of Debian's bash probed (tests/real/real.sh) while it runs
# tests/real/work/workload.bash, whose subshells and command substitutions
# fork hundreds of children, traced as well.
prog=bash
. "$(dirname "$0")/real.sh"
files=/usr/bin/bash
cmd=(/usr/bin/bash --norc --noprofile "$here/work/workload.bash")
want_status=3
must_call="$files:reader_loop $files:yyparse $files:execute_command $files:expand_words
	$files:make_child $files:parse_and_execute"
must_enter="$files:main"
real_main
