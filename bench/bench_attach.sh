#!/bin/sh
# SPDX-License-Identifier: MIT
# Attaching 1,000 probes to a running process and detaching them: uprobe
# trace -p on build/bench/attach_many (1,000 functions, two threads calling
# each of them every millisecond). Every round takes a fresh process (cold:
# the agent is loaded first) and then attaches to it again (warm: the agent is
# there). The times are the tracer's own (its summary line "attach X ms,
# detach Y ms"): from its start to every probe recording, and from STOP to
# every probe gone. Beside them, bpftrace attaching the same 1,000 functions
# and exiting at once: its whole run, once, last (it takes a minute or two). Medians
# over the rounds; ends with one line "summary: key=value ...". Options:
# -r ROUNDS.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
up="$top/build/uprobe"
tgt="$top/build/bench/attach_many"
rounds=7
while getopts r:t: o; do
	case $o in
	r) rounds=$OPTARG ;;
	t) ;; # bench/run.sh passes -t to every bench
	*) echo "usage: bench_attach [-r rounds]" >&2; exit 2 ;;
	esac
done
set -- # from here on: the 1,000 probes
tmp=$(mktemp -d)
pid=""
trap 'kill -9 $pid 2>/dev/null; rm -rf "$tmp"' EXIT

i=0
while [ $i -lt 1000 ]; do
	set -- "$@" "p:$tgt:f$(printf %03d $i)"
	i=$((i + 1))
done

median() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "nan" }'; }

# One attach and detach; "attach detach" (ms) appended to $tmp/KIND.
once() { # pid kind probes...
	p=$1 kind=$2
	shift 2
	if ! "$up" trace -d 0.1 --count -o "$tmp/count" -p "$p" "$@" 2>"$tmp/err" >/dev/null; then
		echo "bench_attach: uprobe trace failed: $(cat "$tmp/err")" >&2
		exit 1
	fi
	n=$(grep -c '^@events\[f[0-9]*\]: [1-9]' "$tmp/count")
	if [ "$n" != 1000 ]; then
		echo "bench_attach: $n of 1000 probes counted events" >&2
		exit 1
	fi
	sed -n 's/^  attach \([0-9.]*\) ms, detach \([0-9.]*\) ms$/\1 \2/p' "$tmp/err" >>"$tmp/$kind"
}

# The same 1,000 functions by name (f* would take frame_dummy too).
bprog=$(i=0; while [ $i -lt 1000 ]; do printf 'uprobe:%s:f%03d,' "$tgt" $i; i=$((i + 1)); done)
bprog="${bprog%,} { @n = count(); } interval:ms:1 { exit(); }"
bpf=""
command -v bpftrace >/dev/null 2>&1 || bpf="bpftrace: not installed"
r=0
while [ $r -lt "$rounds" ]; do
	"$tgt" &
	pid=$!
	sleep 0.1
	once $pid cold "$@"
	once $pid warm "$@"
	kill -TERM $pid
	wait $pid
	pid=""
	r=$((r + 1))
done

# bpftrace last, on a process of its own: the kernel's uprobes live on the file
# (every process that maps it gets them) until bpftrace has removed them all.
if [ -z "$bpf" ]; then
	"$tgt" &
	pid=$!
	sleep 0.1
	t0=$(date +%s%N)
	if BPFTRACE_MAX_PROBES=1100 timeout 200 bpftrace -q -e "$bprog" \
		-p $pid >/dev/null 2>"$tmp/bpf.err"; then
		echo $((($(date +%s%N) - t0) / 1000000)) >"$tmp/bpf"
	else
		bpf="bpftrace failed: $(head -c 200 "$tmp/bpf.err")"
	fi
	kill -TERM $pid
	wait $pid
	pid=""
fi

ca=$(cut -d' ' -f1 "$tmp/cold" | median)
cd_=$(cut -d' ' -f2 "$tmp/cold" | median)
wa=$(cut -d' ' -f1 "$tmp/warm" | median)
wd=$(cut -d' ' -f2 "$tmp/warm" | median)
printf '%-46s %10s %10s\n' "1,000 probes, $rounds rounds (medians)" "attach ms" "detach ms"
printf '%-46s %10s %10s\n' "uprobe trace -p, agent not yet loaded" "$ca" "$cd_"
printf '%-46s %10s %10s\n' "uprobe trace -p, agent already there" "$wa" "$wd"
if [ -z "$bpf" ]; then
	b=$(median <"$tmp/bpf")
	printf '%-46s %21s\n' "bpftrace, the same 1,000: attach + exit, 1 run" "$b ms"
else
	b=nan
	echo "$bpf"
fi
echo "summary: attach_1000_ms=$ca detach_1000_ms=$cd_ attach_1000_warm_ms=$wa" \
	"detach_1000_warm_ms=$wd bpftrace_attach_exit_1000_ms=$b"
