#!/bin/sh
# SPDX-License-Identifier: MIT
# A real workload's slowdown with probes on its 20 hottest functions: Debian's
# /usr/bin/sqlite3 runs a generated SQL script (inserts in transactions, two
# indexes, joins, aggregates, a self-join, LIKE, update, delete) plain, under
# "uprobe trace --count" and under bpftrace's count(), rounds interleaved,
# medians kept. Wall time of the whole command, tracer start-up included.
#
# The 20 functions: the exported (.dynsym) functions of libsqlite3 called
# most often by the script at -c rows, counted exactly by callgrind (call
# counts summed over all callers); without valgrind, by uprobe trace --count
# on every function in chunks (the ring may lose events: an approximation).
#
# bpftrace costs microseconds a hit (10 to 20 on a loaded VM): on the -n
# workload (~150 million hits) one bpftrace run would take most of an hour.
# So the three tools also run on a small script, which bpftrace finishes in
# seconds, and bpftrace's time on the big one is estimated from its cost per
# hit there. The small script's rows are sized by a time budget for one
# bpftrace run (8 s; 200 to 5,000 rows), from its cost on a 100-row script;
# under BENCH_QUICK they are 100, without bpftrace 5,000, and -s fixes them.
# A third row set runs "SELECT 1;" to show start-up alone.
#
# Time budgets keep the whole run bounded on a loaded machine: the big
# script runs in as many of the rounds as fit in 60 s (12 s under
# BENCH_QUICK, which also makes it 50,000 rows and the selection's 2,000),
# bpftrace in as many as fit in 40 s (10 s); each at least once. Ends with one line "summary: key=value
# ...". Options: -r ROUNDS, -n ROWS (big), -s ROWS (small), -c ROWS (selection).
. "$(dirname "$0")/lib.sh"
sq=/usr/bin/sqlite3
rounds=$(bench_pick 5 3)
bench_opts "n:s:c:" "[-n rows] [-s rows] [-c rows]" "$@"
rows=${opt_n:-$(bench_pick 250000 50000)}
small=${opt_s:-}
crows=${opt_c:-$(bench_pick 20000 2000)}
big_budget_ms=$(bench_pick 60000 12000)
bpf_budget_ms=$(bench_pick 40000 10000)
db="$tmp/w.db"

if [ ! -x "$sq" ] || [ ! -x "$up" ]; then
	echo "bench_workload: needs $sq and $up" >&2
	exit 1
fi
lib=$(ldd "$sq" | sed -n 's/.*libsqlite3\.so[^ ]* => \([^ ]*\) .*/\1/p')
lib=$(readlink -f "$lib")

# gen_sql ROWS: the workload, deterministic (a fixed LCG).
gen_sql() {
	awk -v n="$1" 'BEGIN {
	nd = 50; batch = 10000; x = 1
	print "CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT NOT NULL);"
	print "CREATE TABLE emp(id INTEGER PRIMARY KEY, dept INTEGER, name TEXT, " \
		"salary INTEGER, hired TEXT);"
	print "BEGIN;"
	for (d = 1; d <= nd; d++)
		printf "INSERT INTO dept VALUES(%d, '\''dept%02d'\'');\n", d, d
	print "COMMIT;"
	for (i = 1; i <= n; i++) {
		if (i % batch == 1)
			print "BEGIN;"
		x = (x * 69069 + 1) % 4294967296
		r = int(x / 65536)
		printf "INSERT INTO emp VALUES(%d, %d, '\''emp%06d'\'', %d, " \
			"'\''2026-%02d-%02d'\'');\n",
			i, r % nd + 1, i, 30000 + r * 7919 % 70001, int(r / 16) % 12 + 1,
			int(r / 192) % 28 + 1
		if (i % batch == 0 || i == n)
			print "COMMIT;"
	}
	print "CREATE INDEX emp_dept_salary ON emp(dept, salary);"
	print "CREATE INDEX emp_name ON emp(name);"
	print "SELECT d.name, count(*), sum(e.salary), max(e.salary) FROM emp e " \
		"JOIN dept d ON d.id = e.dept GROUP BY d.id ORDER BY d.id;"
	print "UPDATE emp SET salary = salary + 1000 WHERE dept % 3 = 0;"
	print "DELETE FROM emp WHERE id % 7 = 0;"
	print "SELECT count(*), sum(salary), min(hired), max(hired) FROM emp;"
	print "SELECT substr(hired, 1, 7) AS m, count(*), avg(salary) FROM emp " \
		"GROUP BY m ORDER BY m;"
	print "SELECT d.name, count(*) FROM emp a JOIN emp b ON a.dept = b.dept " \
		"AND a.salary = b.salary AND a.id < b.id JOIN dept d ON d.id = a.dept " \
		"GROUP BY d.id ORDER BY 2 DESC, 1 LIMIT 5;"
	print "SELECT count(*) FROM emp WHERE name LIKE '\''emp%7%'\'';"
	print "SELECT dept, count(*) FROM (SELECT * FROM emp ORDER BY salary DESC LIMIT 5000) " \
		"GROUP BY dept ORDER BY 2 DESC, 1 LIMIT 5;"
}'
}
gen_sql "$rows" >"$tmp/big.sql"
gen_sql "$crows" >"$tmp/count.sql"
echo 'SELECT 1;' >"$tmp/start.sql"

# ---- the 20 hottest functions ------------------------------------------------------------

# hot_callgrind: "CALLS NAME" for every function of libsqlite3 that the
# script at -c rows calls: callgrind's "calls=" lines summed per callee.
hot_callgrind() {
	rm -f "$db" "$db-journal"
	valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.out" \
		"$sq" -init /dev/null "$db" <"$tmp/count.sql" >/dev/null 2>"$tmp/cg.log" || return 1
	awk -v lib="${lib##*/}" '
	# "(id) name" defines id, "(id)" refers to it (callgrind name compression).
	function ref(kind, s,   id) {
		id = kind substr(s, 2, index(s, ")") - 2)
		if (index(s, ") ")) name[id] = substr(s, index(s, ") ") + 2)
		return name[id]
	}
	/^ob=/ { ob = ref("o", substr($0, 4)); cob = "" }
	/^fn=/ { ref("f", substr($0, 4)); cob = "" }
	/^cob=/ { cob = ref("o", substr($0, 5)) }
	/^cfn=/ { cfn = ref("f", substr($0, 5)) }
	/^calls=/ {
		o = cob != "" ? cob : ob
		split(substr($0, 7), a, " ")
		if (substr(o, length(o) - length(lib) + 1) == lib) n[cfn] += a[1]
		cob = ""
	}
	END { for (f in n) print n[f], f }' "$tmp/cg.out"
}

# hot_uprobe: the same from uprobe trace --count on every function, 400 at
# a time. Events lost to full rings are not counted: an approximation.
hot_uprobe() {
	split -l 400 "$tmp/funcs" "$tmp/chunk."
	for c in "$tmp"/chunk.*; do
		rm -f "$db" "$db-journal"
		# shellcheck disable=SC2046
		"$up" trace -q --count -o "$c.count" $(sed 's/^/p:libsqlite3:/' "$c") -- \
			"$sq" -init /dev/null "$db" <"$tmp/count.sql" >/dev/null 2>&1 || return 1
		sed 's/^@events\[\(.*\)\]: \(.*\)/\2 \1/' "$c.count"
	done
}

"$up" list -q libsqlite3 >"$tmp/funcs" 2>/dev/null
if command -v valgrind >/dev/null 2>&1 && hot_callgrind >"$tmp/calls"; then
	method="callgrind call counts"
elif hot_uprobe >"$tmp/calls"; then
	method="uprobe trace --count on all functions in chunks (no valgrind)"
else
	echo "bench_workload: could not count calls" >&2
	exit 1
fi
# Only functions the uprobe command can probe by name (uprobe list).
sort -k1,1nr -k2,2 "$tmp/calls" | awk 'NR == FNR { ok[$1] = 1; next } ok[$2]' \
	"$tmp/funcs" - | head -n 20 >"$tmp/hot"
if [ "$(wc -l <"$tmp/hot")" != 20 ]; then
	echo "bench_workload: fewer than 20 functions to probe" >&2
	exit 1
fi
probes=$(awk '{ printf "p:libsqlite3:%s ", $2 }' "$tmp/hot")
# bpftrace's uprobes are on the library, in every process: count sqlite3's
# only (another one may run on the machine meanwhile).
prog=$(awk -v l="$lib" '{ printf "%suprobe:%s:%s", (NR > 1 ? "," : ""), l, $2 }
	END { print " /pid == cpid/ { @[probe] = count(); }" }' "$tmp/hot")

# ---- the runs ------------------------------------------------------------------------------

# same_output OUT WANT CONFIG: OUT is WANT; bpftrace adds blank lines of its
# own at exit, even with -o.
same_output() {
	n=$(wc -c <"$2")
	[ "$3" = bpftrace ] || [ "$(wc -c <"$1")" = "$n" ] || return 1
	head -c "$n" "$1" | cmp -s - "$2" && [ -z "$(tail -c +$((n + 1)) "$1" | tr -d '\n')" ]
}

# run CONFIG SIZE ROUND: the SIZE script once under CONFIG; appends the wall
# time to $tmp/SIZE.CONFIG.s (and sets took, in ns) and its probe hits
# (counted + lost) to .hits. Its output must be the plain run's.
run() {
	cfg=$1 size=$2 out="$tmp/out"
	rm -f "$db" "$db-journal"
	t0=$(bench_now_ns)
	# shellcheck disable=SC2086
	case $cfg in
	plain) "$sq" -init /dev/null "$db" ;;
	uprobe) "$up" trace --count -o "$tmp/hits" $probes -- "$sq" -init /dev/null "$db" ;;
	bpftrace) bpftrace -q -o "$tmp/hits" -e "$prog" -c "$sq -init /dev/null $db" ;;
	esac <"$tmp/$size.sql" >"$out" 2>"$tmp/err"
	st=$?
	took=$(($(bench_now_ns) - t0))
	bench_calc "%.4f\n" "$took / 1e9" >>"$tmp/$size.$cfg.s"
	[ "$cfg" = plain ] && [ ! -f "$tmp/$size.want" ] && cp "$out" "$tmp/$size.want"
	# Hits: every count printed, plus (uprobe) the events lost to full rings.
	hits=0
	[ "$cfg" != plain ] && hits=$(sed -n 's/^@.*\]: //p; s/^  lost events (rings full): //p' \
		"$tmp/hits" "$tmp/err" | awk '{ s += $1 } END { print s + 0 }')
	echo "$hits" >>"$tmp/$size.$cfg.hits"
	sed -n 's/^  lost events (rings full): //p' "$tmp/err" >>"$tmp/$size.$cfg.lost"
	if [ "$st" != 0 ] || ! same_output "$out" "$tmp/$size.want" "$cfg"; then
		echo "bench_workload: $cfg, $size script, round $3: status $st or output" \
			"unlike plain's:" >&2
		head -c 300 "$tmp/err" >&2
		bad=1
	fi
}

# The small script's rows: as many as one bpftrace run does in 8 s at its
# cost on a 100-row script (start-up taken out; the script's fixed part,
# about a third of those hits, errs on the side of fewer rows).
size_small() {
	size_rows=100
	gen_sql "$size_rows" >"$tmp/size.sql"
	for sz in start size; do
		rm -f "$db" "$db-journal"
		t0=$(bench_now_ns)
		bpftrace -q -o "$tmp/hits" -e "$prog" -c "$sq -init /dev/null $db" \
			<"$tmp/$sz.sql" >/dev/null 2>&1
		echo $(($(bench_now_ns) - t0)) >"$tmp/$sz.bpf_ns"
	done
	h=$(sed -n 's/^@.*\]: //p' "$tmp/hits" | awk '{ s += $1 } END { print s + 0 }')
	per_row=$(bench_calc %.0f "($(cat "$tmp/size.bpf_ns") - $(cat "$tmp/start.bpf_ns")) / $size_rows")
	[ "$h" -gt 0 ] || per_row=0 # it failed: the fewest rows
	small=$(bench_fit "$per_row" 8000 200 5000)
	echo "bpftrace: $h hits on $size_rows rows in" \
		"$(bench_calc %.2f "$(cat "$tmp/size.bpf_ns") / 1e9") s: the small script has $small rows"
}

bad=0
configs="plain uprobe"
if ! bench_has bpftrace; then
	echo "bpftrace: not installed"
elif ! bpftrace -q -o /dev/null -e "$prog" -c "$sq -init /dev/null :memory:" \
	</dev/null >/dev/null 2>"$tmp/err"; then
	echo "bpftrace: n/a (it failed: $(grep -v RLIMIT_MEMLOCK "$tmp/err" | head -n 1))"
else
	configs="$configs bpftrace"
fi
# -s, or the smallest script for a quick bpftrace run (no sizing runs), or sized.
case ${small:-x}:$configs:$quick in
x:*bpftrace:1) small=100 ;;
x:*bpftrace:) size_small ;;
x:*) small=5000 ;;
esac
gen_sql "$small" >"$tmp/small.sql"

# The big script, and bpftrace, only in the rounds their budgets allow (at
# least the first): one more round must fit, at their cost per round so far.
spent_big=0 spent_bpf=0 n_big=0 n_bpf=0
for r in $(seq 1 "$rounds"); do
	do_big=1 do_bpf=1
	[ $n_big = 0 ] || bench_within $spent_big $((spent_big / n_big)) "$big_budget_ms" || do_big=
	[ $n_bpf = 0 ] || bench_within $spent_bpf $((spent_bpf / n_bpf)) "$bpf_budget_ms" || do_bpf=
	for size in start small big; do
		[ "$size" = big ] && [ -z "$do_big" ] && continue
		for cfg in $configs; do
			[ "$cfg" = bpftrace ] && { [ "$size" = big ] || [ -z "$do_bpf" ]; } && continue
			run "$cfg" "$size" "$r"
			[ "$size" = big ] && spent_big=$((spent_big + took))
			[ "$cfg" = bpftrace ] && spent_bpf=$((spent_bpf + took))
		done
	done
	[ -z "$do_big" ] || n_big=$((n_big + 1))
	[ -z "$do_bpf" ] || [ "${configs%bpftrace}" = "$configs" ] || n_bpf=$((n_bpf + 1))
done

# ---- the table ------------------------------------------------------------------------------

last() { if [ -s "$1" ]; then tail -n 1 "$1"; else echo 0; fi; }

# Start-up and teardown of each tool ("SELECT 1;" minus plain): taken out of
# the cost per hit below.
boot() { bench_calc %.4f "$(bench_median "$tmp/start.$1.s") - $(bench_median "$tmp/start.plain.s")"; }

# row SIZE CFG ROWS KEY: one line of the table; adds to $summary. Sets m,
# hits, ns (the nanoseconds a hit adds, start-up excluded).
row() {
	m=$(bench_median "$tmp/$1.$2.s")
	plain=$(bench_median "$tmp/$1.plain.s")
	hits=$(last "$tmp/$1.$2.hits")
	lost=$(last "$tmp/$1.$2.lost")
	slow=$(bench_calc %.2f "$m / $plain")
	ns=0 # (gawk folds a division by a constant 0 even where it is not taken)
	[ "$hits" -gt 0 ] && ns=$(bench_calc %.1f "($m - $plain - $(boot "$2")) * 1e9 / $hits")
	[ "$2" = uprobe ] || lost=-
	[ "$2" = plain ] && hits=- && ns=-
	[ "$1" = start ] && ns=-
	# shellcheck disable=SC2059
	printf "$fmt" "$2" "$3" "$(wc -l <"$tmp/$1.$2.s")" "$m" "$slow" "$hits" "$lost" "$ns"
	bench_sum "${4}_${2}_s" "$m"
	[ "$2" = plain ] && return
	bench_sum "${4}_${2}_slowdown" "$slow"
	[ "$1" = start ] && return
	bench_sum "${4}_${2}_hits" "$hits"
	bench_sum "${4}_${2}_ns_per_hit" "$ns"
	[ "$2" = uprobe ] && bench_sum "${4}_uprobe_lost" "$lost"
}

echo "sqlite3 workload; probes on its 20 most called libsqlite3 functions"
echo "($method at $crows rows; calls there):"
awk '{ printf "  %-34s %10d\n", $2, $1 }' "$tmp/hot"
echo
fmt='%-26s %9s %5s %9s %9s %12s %9s %8s\n'
# shellcheck disable=SC2059
printf "$fmt" "config (up to $rounds rounds)" rows runs "median s" slowdown "probe hits" lost \
	ns/hit
bench_sum workload_rows "$rows"
bench_sum small_rows "$small"
for cfg in plain uprobe; do row big "$cfg" "$rows" workload; done
big_plain=$(bench_median "$tmp/big.plain.s")
big_hits=$hits
for cfg in $configs; do row small "$cfg" "$small" small; done
[ "$cfg" = bpftrace ] && bpf_ns=$ns bpf_hits=$hits
for cfg in $configs; do row start "$cfg" "SELECT 1" startup; done
up_hits=$(last "$tmp/small.uprobe.hits")

# bpftrace on the big script, estimated: plain time + its start-up + the
# uprobe run's hits (lost ones included) at its cost per hit on the small.
if [ -n "${bpf_ns:-}" ]; then
	est=$(bench_calc %.1f "$big_plain + $(boot bpftrace) + $big_hits * $bpf_ns / 1e9")
	slow=$(bench_calc %.0f "$est / $big_plain")
	# shellcheck disable=SC2059
	printf "$fmt" "bpftrace (estimated)" "$rows" - "~$est" "~$slow" "$big_hits" - "$bpf_ns"
	bench_sum workload_bpftrace_est_s "$est"
	bench_sum workload_bpftrace_est_slowdown "$slow"
	if [ "$up_hits" = "$bpf_hits" ]; then
		echo "check: $small rows: uprobe's events + lost = bpftrace's count = $bpf_hits"
	else
		echo "check: $small rows: uprobe's events + lost = $up_hits, bpftrace's count" \
			"$bpf_hits: they differ"
		bad=1
	fi
else
	bench_sum workload_bpftrace_est_slowdown na
	bench_sum small_bpftrace_slowdown na
fi
bench_sum_print
exit $bad
