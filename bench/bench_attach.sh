#!/bin/sh
# SPDX-License-Identifier: MIT
# Attaching 1,000 probes to a running process and detaching them: uprobe
# trace -p on build/bench/attach_many (1,000 functions, two threads calling
# each of them every millisecond). Every round takes a fresh process (cold:
# the agent is loaded first) and then attaches to it again (warm: the agent is
# there). The times are the tracer's own (its summary line "attach X ms,
# detach Y ms"): from its start to every probe recording, and from STOP to
# every probe gone. Medians over the rounds.
#
# Beside them, bpftrace attaching the same functions and exiting at once: its
# whole run, last. It costs about 0.1 s a function (1,000 took a minute and a
# half on an idle machine), so it is sized by a time budget (45 s, 15 s under
# BENCH_QUICK): 10 functions, then 4 times as many while the next run fits,
# up to the 1,000; short of them, the 1,000 figure is extrapolated from the
# last two runs (start-up plus a cost per function). Ends with one line
# "summary: key=value ...". Options: -r ROUNDS.
. "$(dirname "$0")/lib.sh"
tgt="$top/build/bench/attach_many"
rounds=$(bench_pick 7 3)
bench_opts "" "" "$@"
bpf_budget_ms=$(bench_pick 45000 15000)
pid=""
bench_cleanup() { [ -z "$pid" ] || kill -9 "$pid" 2>/dev/null; }

set -- # from here on: the 1,000 probes
i=0
while [ $i -lt 1000 ]; do
	set -- "$@" "p:$tgt:f$(printf %03d $i)"
	i=$((i + 1))
done

start_target() {
	"$tgt" &
	pid=$!
	sleep 0.1
}

stop_target() {
	kill -TERM "$pid"
	wait "$pid"
	pid=""
}

# One attach and detach; "attach detach" (ms) appended to $tmp/KIND. A
# refusal that says "try again" (on a loaded machine no thread of the target
# came to a point where it holds none of libc's locks in time) is tried
# again, twice at most.
once() { # pid kind probes...
	p=$1 kind=$2 tries=3
	shift 2
	while ! "$up" trace -d 0.1 --count -o "$tmp/count" -p "$p" "$@" 2>"$tmp/err" >/dev/null; do
		tries=$((tries - 1))
		if [ $tries = 0 ] || ! grep -q 'try again' "$tmp/err"; then
			echo "bench_attach: uprobe trace failed: $(cat "$tmp/err")" >&2
			exit 1
		fi
		echo "bench_attach: uprobe trace -p: $(grep 'try again' "$tmp/err" | head -n 1)"
	done
	n=$(grep -c '^@events\[f[0-9]*\]: [1-9]' "$tmp/count")
	if [ "$n" != 1000 ]; then
		echo "bench_attach: $n of 1000 probes counted events" >&2
		exit 1
	fi
	sed -n 's/^  attach \([0-9.]*\) ms, detach \([0-9.]*\) ms$/\1 \2/p' "$tmp/err" >>"$tmp/$kind"
}

r=0
while [ $r -lt "$rounds" ]; do
	start_target
	once $pid cold "$@"
	once $pid warm "$@"
	stop_target
	r=$((r + 1))
done

# bpftrace_run N: bpftrace attaches f000..f(N-1) (by name: f* would take
# frame_dummy too), then exits; "N ms" of its whole run appended to $tmp/bpf.
bpftrace_run() {
	prog=$(i=0; while [ $i -lt "$1" ]; do printf 'uprobe:%s:f%03d,' "$tgt" $i; i=$((i + 1)); done)
	prog="${prog%,} { @n = count(); } interval:ms:1 { exit(); }"
	start_target
	t0=$(bench_now_ns)
	if BPFTRACE_MAX_PROBES=1100 timeout 200 bpftrace -q -e "$prog" -p "$pid" \
		>/dev/null 2>"$tmp/bpf.err"; then
		echo "$1 $((($(bench_now_ns) - t0) / 1000000))" >>"$tmp/bpf"
	else
		bpf="bpftrace failed on $1 functions: $(head -c 200 "$tmp/bpf.err")"
	fi
	stop_target
}

# bpftrace last, on processes of its own: the kernel's uprobes live on the
# file (every process that maps it gets them) until bpftrace has removed them all.
bpf=""
bench_has bpftrace || bpf="bpftrace: not installed"
n=10 spent=0 next=0
while [ -z "$bpf" ] && [ "$n" -le 1000 ] && bench_within "$spent" "$next" "$bpf_budget_ms"; do
	t0=$(bench_now_ns)
	bpftrace_run "$n"
	last=$(($(bench_now_ns) - t0))
	spent=$((spent + last))
	[ "$n" = 1000 ] && break
	next=$((last * 4)) n=$((n * 4))
	[ "$n" -gt 1000 ] && next=$((last * 1000 / (n / 4))) n=1000
done

ca=$(cut -d' ' -f1 "$tmp/cold" | bench_median)
cd_=$(cut -d' ' -f2 "$tmp/cold" | bench_median)
wa=$(cut -d' ' -f1 "$tmp/warm" | bench_median)
wd=$(cut -d' ' -f2 "$tmp/warm" | bench_median)
printf '%-46s %10s %10s\n' "1,000 probes, $rounds rounds (medians)" "attach ms" "detach ms"
printf '%-46s %10s %10s\n' "uprobe trace -p, agent not yet loaded" "$ca" "$cd_"
printf '%-46s %10s %10s\n' "uprobe trace -p, agent already there" "$wa" "$wd"
bench_sum attach_1000_ms "$ca"
bench_sum detach_1000_ms "$cd_"
bench_sum attach_1000_warm_ms "$wa"
bench_sum detach_1000_warm_ms "$wd"
if [ -s "$tmp/bpf" ]; then
	# The last two runs: start-up + N * per function, taken to 1,000.
	set -- $(tail -n 2 "$tmp/bpf" | tr '\n' ' ')
	if [ "$1" = 1000 ] || [ $# -lt 4 ]; then
		b=$2 bn=$1 bt=$2
		[ "$1" = 1000 ] || b=na
	else
		b=$(bench_calc %.0f "$4 + ($4 - $2) / ($3 - $1) * (1000 - $3)")
		bn=$3 bt=$4
	fi
	while read -r k ms; do
		printf '%-46s %21s\n' "bpftrace, $k functions: attach + exit, 1 run" "$ms ms"
	done <"$tmp/bpf"
	[ "$bn" = 1000 ] || [ "$b" = na ] ||
		printf '%-46s %21s\n' "bpftrace, 1,000 functions (extrapolated)" "~$b ms"
else
	b=na bn=na bt=na
	echo "${bpf:-bpftrace: no run fitted in its budget}"
fi
bench_sum bpftrace_attach_exit_1000_ms "$b"
bench_sum bpftrace_attach_exit_functions "$bn"
bench_sum bpftrace_attach_exit_ms "$bt"
bench_sum_print
