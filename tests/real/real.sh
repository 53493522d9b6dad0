# SPDX-License-Identifier: MIT
# tests/real/: every function of a Debian program probed, at entry, then at
# return, while the program runs a deterministic workload; what it prints and
# how it exits must not change. Sourced by tests/real/test_*.sh, which set:
#   prog         short name: the cases are real/$prog/...
#   files        the ELF files whose every function (uprobe list) is probed
#   cmd          array: the workload command (may be a shell script running
#                several commands: their images are probed too)
#   cmd_stdin    the command's standard input (default /dev/null)
#   want_status  the untraced workload's exit status
#   must_call    "FILE:NAME ..." that the workload calls and that return:
#                each must count events, at entry and at return
#   must_enter   (optional) more that it calls but that never return (main
#                when it ends with exit()): each must count events at entry
#   real_prepare (optional function) run before each run: fresh state
# then call real_main. The workload's last line of output must be "END".
#
# Environment:
#   REAL_BATCH   probes per traced run (default 1000: the tracer takes at most
#                1,024 probes in one run today; the batches go when it takes all)
#   REAL_QUICK   1: one batch per kind (entry, return), the one with the most
#                must_call functions: the subset that make check runs
#   REAL_BISECT  at most this many extra runs (default 40) to name the function
#                whose probe changes the output of a failing batch; 0: none
#
# Per batch the cases are: output (status, stdout, stderr as untraced),
# accounted (each probe attached, with its events in the summary equal to its
# --count, or refused by the tool with a reason: a note) and modes (each
# probe runs as uprobe list said: nothing fell back silently). Per kind:
# called (each must_call function counted events).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=real
. "$top/tests/lib.sh"
up="$top/build/uprobe"
here="$top/tests/real"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
REAL_BATCH=${REAL_BATCH:-1000}
REAL_QUICK=${REAL_QUICK:-0}
REAL_BISECT=${REAL_BISECT:-40}
cmd_stdin=${cmd_stdin:-/dev/null}
note() { echo "  note: $*"; }
elapsed() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }

# Every function of every file: fn_file[i], fn_name[i], fn_verdict[i]
# (optimized, int3 or refused) and fn_why[i], in uprobe list's order.
fn_file=()
fn_name=()
fn_verdict=()
fn_why=()
list_functions() {
	local f addr name verdict why
	for f in $files; do
		if ! "$up" list "$f" >"$tmp/list" 2>"$tmp/list.err"; then
			fail "$prog/list" "uprobe list $f: $(cat "$tmp/list.err")"
			return 1
		fi
		while read -r addr name verdict why; do
			[ "$verdict" = sdt ] && continue
			fn_file+=("$f")
			fn_name+=("$name")
			fn_verdict+=("$verdict")
			fn_why+=("$why")
		done <"$tmp/list"
		note "$prog: $f: $(paste -s -d ';' "$tmp/list.err")"
	done
}

# Run the workload, traced with the probes given (none: untraced), into
# directory $1: out, err (the command's stderr, the tracer's summary cut off),
# summary, count, status.
run_workload() { # dir probe...
	local d=$1
	shift
	rm -rf "$d"
	mkdir -p "$d"
	if declare -F real_prepare >/dev/null; then real_prepare; fi
	if [ $# = 0 ]; then
		"${cmd[@]}" <"$cmd_stdin" >"$d/out" 2>"$d/err"
		echo $? >"$d/status"
		return
	fi
	"$up" trace --count -o "$d/count" "$@" -- "${cmd[@]}" <"$cmd_stdin" >"$d/out" 2>"$d/all"
	echo $? >"$d/status"
	split_summary "$d"
}

# The tracer's stderr in $1/all: its summary (its last words: a blank line,
# "uprobe: N process image(s) traced", indented lines) into $1/summary, its
# other lines ("uprobe: ...") into $1/tool, the rest (the command's stderr)
# into $1/err.
split_summary() {
	awk -v s="$1/summary" -v e="$1/err" -v t="$1/tool" '
		/^uprobe: [0-9]+ process image/ { insum = 1 }
		insum { print > s; next }
		/^uprobe: / { print > t; next }
		{ if (held) print prev > e; prev = $0; held = 1 }
		END { if (held && prev != "") print prev > e; close(e); close(s); close(t) }
	' "$1/all"
	touch "$1/err" "$1/summary" "$1/count" "$1/tool"
}

# The probe texts of functions i... for kind p or r, in array "probes";
# what_of names function i for a person.
probes_of() { # kind index...
	local k=$1 i
	shift
	probes=()
	for i; do probes+=("$k:real/f$i ${fn_file[$i]}:${fn_name[$i]}"); done
}
what_of() { echo "$1:${fn_file[$2]}:${fn_name[$2]}"; }

# 0 when run directory $1 printed and exited as the reference did; else
# sets "why" to what differs.
same_as_ref() {
	why=""
	if [ "$(cat "$1/status")" != "$(cat "$tmp/ref/status")" ]; then
		why="exit status $(cat "$1/status"), untraced $(cat "$tmp/ref/status")"
	elif ! cmp -s "$1/out" "$tmp/ref/out"; then
		why="stdout differs: $(diff "$tmp/ref/out" "$1/out" 2>&1 | head -4 | tr '\n' '|' | cut -c1-300)"
	elif [ "$err_same" = 1 ] && ! cmp -s "$1/err" "$tmp/ref/err"; then
		why="stderr differs: $(diff "$tmp/ref/err" "$1/err" | head -4 | tr '\n' '|' | cut -c1-300)"
	fi
	if [ -n "$why" ]; then
		why="$why; its stderr ends: $(tail -n 2 "$1/err" | tr '\n' '|' | cut -c1-200)"
		[ -s "$1/tool" ] && why="$why; uprobe: $(head -n 2 "$1/tool" | tr '\n' '|' | cut -c1-300)"
		return 1
	fi
	return 0
}

# The untraced workload: its status as expected, its output complete
# (ends with END) and the same twice (stderr compared only if it is).
reference() {
	run_workload "$tmp/ref"
	run_workload "$tmp/ref2"
	err_same=0
	cmp -s "$tmp/ref/err" "$tmp/ref2/err" && err_same=1
	[ "$err_same" = 1 ] || note "$prog: stderr differs between untraced runs: not compared"
	expect_eq workload "$(cat "$tmp/ref/status")" "$want_status" "untraced exit status" || return 1
	expect_eq workload "$(tail -n 1 "$tmp/ref/out")" END "untraced output's last line" || return 1
	if ! cmp -s "$tmp/ref/out" "$tmp/ref2/out"; then
		fail "$prog/workload" "two untraced runs print different output"
		return 1
	fi
	pass "$prog/workload"
}

# Indices of functions in batch b (1-based) of kind $1: every function the
# list does not refuse, REAL_BATCH at a time.
refused_by_list=()
batches() {
	local i
	probed=()
	for ((i = 0; i < ${#fn_name[@]}; i++)); do
		if [ "${fn_verdict[$i]}" = refused ]; then
			refused_by_list+=("${fn_file[$i]}:${fn_name[$i]}: ${fn_why[$i]}")
			continue
		fi
		probed+=("$i")
	done
	n_batches=$(((${#probed[@]} + REAL_BATCH - 1) / REAL_BATCH))
}
batch_members() { echo "${probed[@]:$((($1 - 1) * REAL_BATCH)):$REAL_BATCH}"; }

# The f-numbers of the probes the tracer refused with a reason, from run
# directory $1: a fatal "cannot attach real/fN (...): WHY" or a bad probe
# "probe 'p:real/fN ...': WHY", or "real/fN: never attached: WHY" in the
# summary (but not "no image mapped its file": every file here is mapped).
refusals_of() {
	{
		grep -E "^uprobe: (cannot attach real/f[0-9]+ |probe '[pr]:real/f[0-9]+ ).*: " "$1/all" |
			sed -E "s/^[^/]*real\/f([0-9]+)[ ']/\1 /"
		grep -E '^  real/f[0-9]+: never attached: ' "$1/summary" |
			grep -v 'no image mapped its file' |
			sed -E 's/^  real\/f([0-9]+): never attached: /\1 /'
	} | sort -n -u -k1,1
}

# Run one batch of kind $1 (p or r) until no probe is refused; leaves the
# run in $tmp/run and the refused functions' notes in "refused".
run_batch() { # kind index...
	local k=$1 i f rest again
	shift
	members=("$@")
	while :; do
		probes_of "$k" "${members[@]}"
		run_workload "$tmp/run" "${probes[@]}"
		refusals_of "$tmp/run" >"$tmp/refusals"
		again=0
		while read -r f rest; do
			[ -n "$f" ] || continue
			refused+=("$(what_of "$k" "$f"): $rest")
			members=($(printf '%s\n' "${members[@]}" | grep -v -x "$f"))
			again=1
		done <"$tmp/refusals"
		# A fatal refusal stopped the run: again without those probes.
		# One the tracer only noted leaves the run valid.
		if [ $again = 1 ] && grep -q '^uprobe: cannot attach\|^uprobe: probe ' "$tmp/run/all"; then
			[ ${#members[@]} -gt 0 ] && continue
		fi
		return
	done
}

# The output of a failing batch: halve it until single probes are found
# that change it alone, within REAL_BISECT extra runs. Prints culprits.
bisect_budget=0
bisect_fails() { # kind index...: 0 when these probes alone change the output
	local k=$1
	shift
	probes_of "$k" "$@"
	bisect_budget=$((bisect_budget - 1))
	run_workload "$tmp/bisect" "${probes[@]}"
	! same_as_ref "$tmp/bisect"
}
bisect() { # kind index...: 1 when out of runs
	local k=$1 found=0 half part
	shift
	local all=("$@")
	if [ $# = 1 ]; then
		what_of "$k" "$1"
		return 0
	fi
	half=$(($# / 2))
	for part in "0 $half" "$half $(($# - half))"; do
		set -- $part
		if [ $bisect_budget -le 0 ]; then
			echo "(out of runs (REAL_BISECT) among ${#all[@]} from $(what_of "$k" "${all[0]}"))"
			return 1
		fi
		if bisect_fails "$k" "${all[@]:$1:$2}"; then
			found=1
			bisect "$k" "${all[@]:$1:$2}" || return 1
		fi
	done
	[ $found = 1 ] || echo "(only together: ${#all[@]} from $(what_of "$k" "${all[0]}"))"
}

# Per probe of run directory $1 (default the batch's): "index events mode".
summary_table() {
	sed -nE 's/^  real\/f([0-9]+): ([0-9]+) events.*mode ([^ ,]+).*/\1 \2 \3/p' "${1:-$tmp/run}/summary"
}
lost_of() { sed -nE 's/^  lost events[^:]*: ([0-9]+).*/\1/p' "$1/summary"; }

check_batch() { # kind case-name index...
	local w
	if same_as_ref "$tmp/run"; then
		pass "$2/output"
	else
		w=$why
		bisect_budget=$REAL_BISECT
		fail "$2/output" "$w; probes that change it: $(bisect "$1" "${@:3}" | tr '\n' ' ')"
	fi
	check_summary "$@"
}

# The run in $tmp/run of probes index... of kind $1: every probe in the
# summary with the events --count printed, in the mode uprobe list said.
check_summary() { # kind case-name index...
	local k=$1 name=$2 i ev mode cnt missing="" wrong="" fell="" modes
	shift 2
	summary_table >"$tmp/table"
	declare -A got_ev=() got_mode=() counted=()
	while read -r i ev mode; do
		got_ev[$i]=$ev
		got_mode[$i]=$mode
	done <"$tmp/table"
	while read -r i cnt; do counted[$i]=$cnt; done < <(
		sed -nE 's/^@events\[f([0-9]+)(__return)?\]: ([0-9]+)$/\1 \3/p' "$tmp/run/count")
	for i; do
		if [ -z "${got_ev[$i]:-}" ]; then
			missing="$missing $(what_of "$k" "$i")"
			continue
		fi
		events[$i]=${got_ev[$i]}
		cnt=${counted[$i]:-0}
		[ "$cnt" = "${got_ev[$i]}" ] ||
			wrong="$wrong $(what_of "$k" "$i") (--count $cnt, summary ${got_ev[$i]})"
		mode=${got_mode[$i]}
		if [ "${fn_verdict[$i]}" = optimized ] && [ "$mode" != optimized ]; then
			fell="$fell $(what_of "$k" "$i") ($mode)"
		elif [ "${fn_verdict[$i]}" = int3 ] && [ "$mode" = optimized ]; then
			fell="$fell $(what_of "$k" "$i") (optimized, listed int3)"
		fi
	done
	if [ -z "$missing$wrong" ]; then
		pass "$name/accounted"
	else
		fail "$name/accounted" "not in the summary:$(echo "$missing" | cut -c1-400); count differs:$(echo "$wrong" | cut -c1-400)"
	fi
	if [ -z "$fell" ]; then
		pass "$name/modes"
	else
		fail "$name/modes" "not as uprobe list says:$(echo "$fell" | cut -c1-600)"
	fi
	modes=$(awk '{print $3}' "$tmp/table" | sort | uniq -c | awk '{printf "%s%s %s", (NR > 1 ? ", " : ""), $1, $2}')
	note "$name: $# probes: $modes; $(lost_of "$tmp/run") events lost (rings full)"
}

# The batch quick mode runs: the one with the most must_call functions.
quick_batch() {
	local b best=1 most=-1 n i m
	for ((b = 1; b <= n_batches; b++)); do
		n=0
		for i in $(batch_members $b); do
			for m in $must_call ${must_enter:-}; do
				[ "$m" = "${fn_file[$i]}:${fn_name[$i]}" ] && n=$((n + 1))
			done
		done
		[ $n -gt $most ] && most=$n && best=$b
	done
	echo $best
}

run_kind() { # p|r
	local k=$1 kind b first=1 last=$n_batches r t0
	[ "$k" = p ] && kind=entry || kind=return
	refused=()
	events=()
	if [ "$REAL_QUICK" = 1 ]; then
		first=$(quick_batch)
		last=$first
	fi
	for ((b = first; b <= last; b++)); do
		t0=$EPOCHREALTIME
		run_batch "$k" $(batch_members $b)
		check_batch "$k" "$prog/$kind/$b-of-$n_batches" "${members[@]}"
		note "$prog/$kind/$b-of-$n_batches: $(elapsed "$t0") s (not a verdict)"
	done
	for r in "${refused[@]}"; do note "$prog: refused: $r"; done
	called "$k" "$prog/$kind/called"
}

# Each must_call function in the batches run counted events. The tracer
# counts the records that reached it: when a batch lost some (rings full:
# a consumer slower than the program, as under load), a function without
# events is run again with the other must_call functions only.
called() { # kind case-name
	local k=$1 m i ev mode zero=() bad="" lost want=$must_call
	[ "$k" = p ] && want="$want ${must_enter:-}"
	for m in $want; do
		for ((i = 0; i < ${#fn_name[@]}; i++)); do
			[ "$m" = "${fn_file[$i]}:${fn_name[$i]}" ] || continue
			[ -n "${events[$i]:-}" ] || continue # refused, or not in a batch run
			[ "${events[$i]}" -gt 0 ] || zero+=("$i")
		done
	done
	if [ ${#zero[@]} -gt 0 ]; then
		probes_of "$k" "${zero[@]}"
		note "$2: again on their own (no events in their batch): ${probes[*]}"
		run_workload "$tmp/called" "${probes[@]}"
		lost=$(lost_of "$tmp/called")
		declare -A again=()
		while read -r i ev mode; do again[$i]=$ev; done < <(summary_table "$tmp/called")
		for i in "${zero[@]}"; do
			[ "${again[$i]:-0}" -gt 0 ] && continue
			if [ "${lost:-0}" -gt 0 ]; then
				note "$2: $(what_of "$k" "$i"): no events, $lost lost: not known"
			else
				bad="$bad $(what_of "$k" "$i")"
			fi
		done
	fi
	if [ -z "$bad" ]; then
		pass "$2"
	else
		fail "$2" "no events for functions the workload calls:$bad"
	fi
}

real_main() {
	local f
	for f in $files "${cmd[0]}"; do
		if [ ! -e "$f" ]; then
			skip "$prog" "$f not installed (sh scripts/deps.sh)"
			exit 0
		fi
	done
	reference || exit 1
	list_functions || exit 1
	batches
	for r in "${refused_by_list[@]}"; do note "$prog: refused by uprobe list: $r"; done
	note "$prog: ${#probed[@]} functions probed in $n_batches batch(es) of at most $REAL_BATCH"
	run_kind p
	run_kind r
	exit $failed
}
