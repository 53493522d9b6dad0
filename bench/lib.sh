# SPDX-License-Identifier: MIT
# The harness of the shell benches, the counterpart of harness.h: sourced as
#   . "$(dirname "$0")/lib.sh"
# from bench/ or build/bench/ (where the benches are installed beside it).
# It sets top (the source tree), up (the uprobe command), tmp (a directory
# removed at exit, after bench_cleanup, which a bench may redefine) and quick
# (1 under BENCH_QUICK), makes unset variables an error, and gives the
# options, medians, arithmetic, sizing by a time budget and the summary line.
set -u

bench_name=$(basename "$0" .sh)
bench_dir=$(cd "$(dirname "$0")" && pwd)
case $bench_dir in
*/build/bench) top=${bench_dir%/build/bench} ;;
*) top=${bench_dir%/bench} ;;
esac
up="$top/build/uprobe"
quick=
case ${BENCH_QUICK:-0} in
0 | "") ;;
*) quick=1 ;;
esac
tmp=$(mktemp -d)
bench_cleanup() { :; }
trap 'bench_cleanup; rm -rf "$tmp"' EXIT
trap 'exit 143' INT TERM

# bench_pick FULL QUICK: the value for this pass.
bench_pick() { if [ -n "$quick" ]; then echo "$2"; else echo "$1"; fi; }

# bench_opts OWN USAGE "$@": -r ROUNDS sets rounds; -t MS and -b N are
# accepted and ignored (bench/run.sh passes BENCH_ARGS, e.g. "-r 3 -t 50",
# to every bench; the sizes here are budgets and counts); the letters of OWN
# (getopts style, e.g. "n:s:") set opt_<letter>. USAGE tells the own options.
bench_opts() {
	own=$1 usage=$2
	shift 2
	OPTIND=1
	while getopts "r:t:b:$own" o; do
		case $o in
		r) rounds=$OPTARG ;;
		t | b) ;;
		\?) echo "usage: $bench_name [-r rounds] $usage" >&2; exit 2 ;;
		*) eval "opt_$o=\$OPTARG" ;;
		esac
	done
	case ${rounds:-x} in
	'' | *[!0-9]* | 0) echo "$bench_name: -r takes a number of rounds >= 1" >&2; exit 2 ;;
	esac
	[ -n "$quick" ] && echo "BENCH_QUICK: a quick pass, smaller and fewer runs"
	return 0
}

# bench_has CMD: CMD is on PATH.
bench_has() { command -v "$1" >/dev/null 2>&1; }

# bench_median [FILE]: the median of the numbers, one a line (stdin without
# FILE); na when there is none.
bench_median() {
	sort -n "$@" | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print "na" }'
}

# bench_calc FORMAT EXPR: awk's printf of EXPR.
bench_calc() { awk "BEGIN { printf \"$1\", $2 }"; }

bench_now_ns() { date +%s%N; }

# bench_fit NS_EACH BUDGET_MS MIN MAX: how many of something that costs
# NS_EACH fit in BUDGET_MS, between MIN and MAX (MIN when NS_EACH is not a
# positive number: a run that failed tells nothing).
bench_fit() {
	awk -v e="$1" -v b="$2" -v lo="$3" -v hi="$4" 'BEGIN {
		n = e + 0 > 0 ? int(b * 1e6 / e) : lo
		print (n < lo ? lo : (n > hi ? hi : n)) }'
}

# bench_within SPENT_NS NEXT_NS BUDGET_MS: one more run of about NEXT_NS
# keeps the time spent within the budget.
bench_within() { [ $(($1 + $2)) -le $(($3 * 1000000)) ]; }

# The summary line: bench_sum KEY VALUE..., then bench_sum_print.
bench_summary=
bench_sum() { bench_summary="$bench_summary $1=$2"; }
bench_sum_print() { echo "summary:$bench_summary"; }
