# SPDX-License-Identifier: MIT
# Sourced by the attach tests: waiting on what processes say, never on the
# clock. Needs $up, $tgt, $bg from the test.

# Until file $1 has $3 lines (default 1) matching $2; 1 if process $4 ended first.
# (A file not there yet, as one a background command is about to open, has none.)
lines_() { n_=$(grep -c -- "$2" "$1" 2>/dev/null); echo "${n_:-0}"; }
wait_lines() { # file pattern [n [pid]]
	while [ "$(lines_ "$1" "$2")" -lt "${3:-1}" ]; do
		if [ -n "${4:-}" ] && ! kill -0 "$4" 2>/dev/null; then
			[ "$(lines_ "$1" "$2")" -ge "${3:-1}" ]
			return
		fi
		sleep 0.01
	done
}

# "$tgt" traced ARGS... in the background with its output in file $1; sets
# $pid once it waits for SIGUSR1.
start_traced() { # out args...
	out_=$1
	shift
	"$tgt" traced "$@" >"$out_" &
	pid=$!
	bg="$bg $pid"
	wait_lines "$out_" '^ready$' 1 $pid
}

# uprobe trace ARGS... on $pid, started by start_traced: the target is let go
# once the tracer says it traces (every probe records and the rings are the
# tracer's), then the tracer runs to its end; sets $st. Without -q: that line
# is what is waited for.
trace_traced() { # out err args...
	o_=$1 e_=$2
	shift 2
	"$up" trace "$@" >"$o_" 2>"$e_" &
	tracer=$!
	wait_lines "$e_" '^uprobe: tracing PID' 1 $tracer && kill -USR1 $pid
	wait $tracer
	st=$?
}
