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
# bpftrace costs microseconds a hit: on the -n workload (about 1.5 s plain,
# ~150 million hits) one bpftrace run would take 8 to 9 minutes. So the three
# tools also run on a small script (-s rows), which bpftrace finishes in
# seconds, and bpftrace's time on the big one is estimated from its cost per
# hit there. A third row set runs "SELECT 1;" to show start-up alone.
# Ends with one line "summary: key=value ...".
# Options: -r ROUNDS, -n ROWS (big), -s ROWS (small), -c ROWS (selection).
set -u
here=$(cd "$(dirname "$0")" && pwd)
case $here in
*/build/bench) top=${here%/build/bench} ;;
*) top=${here%/bench} ;;
esac
up="$top/build/uprobe"
sq=/usr/bin/sqlite3
rounds=5
rows=250000
small=5000
crows=20000
while getopts r:n:s:c:t: o; do
	case $o in
	r) rounds=$OPTARG ;;
	n) rows=$OPTARG ;;
	s) small=$OPTARG ;;
	c) crows=$OPTARG ;;
	t) ;; # bench/run.sh passes -t to every bench; sizes here are -n/-s
	*) echo "usage: bench_workload [-r rounds] [-n rows] [-s rows] [-c rows]" >&2; exit 2 ;;
	esac
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 143' INT TERM
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
gen_sql "$small" >"$tmp/small.sql"
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
prog=$(awk -v l="$lib" '{ printf "%suprobe:%s:%s", (NR > 1 ? "," : ""), l, $2 }
	END { print " { @[probe] = count(); }" }' "$tmp/hot")

# ---- the runs ------------------------------------------------------------------------------

# same_output OUT WANT CONFIG: OUT is WANT; bpftrace adds blank lines of its
# own at exit, even with -o.
same_output() {
	n=$(wc -c <"$2")
	[ "$3" = bpftrace ] || [ "$(wc -c <"$1")" = "$n" ] || return 1
	head -c "$n" "$1" | cmp -s - "$2" && [ -z "$(tail -c +$((n + 1)) "$1" | tr -d '\n')" ]
}

# run CONFIG SIZE ROUND: the SIZE script once under CONFIG; appends the wall
# time to $tmp/SIZE.CONFIG.s and its probe hits (counted + lost) to .hits.
# Its output must be the plain run's.
run() {
	cfg=$1 size=$2 out="$tmp/out"
	rm -f "$db" "$db-journal"
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	case $cfg in
	plain) "$sq" -init /dev/null "$db" ;;
	uprobe) "$up" trace --count -o "$tmp/hits" $probes -- "$sq" -init /dev/null "$db" ;;
	bpftrace) bpftrace -q -o "$tmp/hits" -e "$prog" -c "$sq -init /dev/null $db" ;;
	esac <"$tmp/$size.sql" >"$out" 2>"$tmp/err"
	st=$?
	t1=$(date +%s%N)
	echo $((t1 - t0)) | awk '{ printf "%.4f\n", $1 / 1e9 }' >>"$tmp/$size.$cfg.s"
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

bad=0
configs="plain uprobe"
if ! command -v bpftrace >/dev/null 2>&1; then
	echo "bpftrace: not installed"
elif ! bpftrace -q -o /dev/null -e "$prog" -c "$sq -init /dev/null :memory:" \
	</dev/null >/dev/null 2>"$tmp/err"; then
	echo "bpftrace: n/a (it failed: $(grep -v RLIMIT_MEMLOCK "$tmp/err" | head -n 1))"
else
	configs="$configs bpftrace"
fi
for r in $(seq 1 "$rounds"); do
	for size in start small big; do
		for cfg in $configs; do
			[ "$size/$cfg" = big/bpftrace ] && continue
			run "$cfg" "$size" "$r"
		done
	done
done

# ---- the table ------------------------------------------------------------------------------

median() { sort -n "$1" | awk '{ a[NR] = $1 } END { print NR ? a[int((NR + 1) / 2)] : "na" }'; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; } # calc FORMAT EXPR
last() { if [ -s "$1" ]; then tail -n 1 "$1"; else echo 0; fi; }

# Start-up and teardown of each tool ("SELECT 1;" minus plain): taken out of
# the cost per hit below.
boot() { calc %.4f "$(median "$tmp/start.$1.s") - $(median "$tmp/start.plain.s")"; }

# row SIZE CFG ROWS KEY: one line of the table; adds to $summary. Sets m,
# hits, ns (the nanoseconds a hit adds, start-up excluded).
row() {
	m=$(median "$tmp/$1.$2.s")
	plain=$(median "$tmp/$1.plain.s")
	hits=$(last "$tmp/$1.$2.hits")
	lost=$(last "$tmp/$1.$2.lost")
	slow=$(calc %.2f "$m / $plain")
	ns=$(calc %.1f "$hits ? ($m - $plain - $(boot "$2")) * 1e9 / $hits : 0")
	[ "$2" = uprobe ] || lost=-
	[ "$2" = plain ] && hits=- && ns=-
	[ "$1" = start ] && ns=-
	# shellcheck disable=SC2059
	printf "$fmt" "$2" "$3" "$m" "$slow" "$hits" "$lost" "$ns"
	summary="$summary ${4}_${2}_s=$m"
	[ "$2" = plain ] && return
	summary="$summary ${4}_${2}_slowdown=$slow"
	[ "$1" = start ] && return
	summary="$summary ${4}_${2}_hits=$hits ${4}_${2}_ns_per_hit=$ns"
	[ "$2" = uprobe ] && summary="$summary ${4}_uprobe_lost=$lost"
}

echo "sqlite3 workload; probes on its 20 most called libsqlite3 functions"
echo "($method at $crows rows; calls there):"
awk '{ printf "  %-34s %10d\n", $2, $1 }' "$tmp/hot"
echo
fmt='%-26s %9s %9s %9s %12s %9s %8s\n'
# shellcheck disable=SC2059
printf "$fmt" "config ($rounds rounds)" rows "median s" slowdown "probe hits" lost ns/hit
summary="summary: workload_rows=$rows small_rows=$small"
for cfg in plain uprobe; do row big "$cfg" "$rows" workload; done
big_plain=$(median "$tmp/big.plain.s")
big_hits=$hits
for cfg in $configs; do row small "$cfg" "$small" small; done
[ "$cfg" = bpftrace ] && bpf_ns=$ns bpf_hits=$hits
for cfg in $configs; do row start "$cfg" "SELECT 1" startup; done
up_hits=$(last "$tmp/small.uprobe.hits")

# bpftrace on the big script, estimated: plain time + its start-up + the
# uprobe run's hits (lost ones included) at its cost per hit on the small.
if [ -n "${bpf_ns:-}" ]; then
	est=$(calc %.1f "$big_plain + $(boot bpftrace) + $big_hits * $bpf_ns / 1e9")
	slow=$(calc %.0f "$est / $big_plain")
	# shellcheck disable=SC2059
	printf "$fmt" "bpftrace (estimated)" "$rows" "~$est" "~$slow" "$big_hits" - "$bpf_ns"
	summary="$summary workload_bpftrace_est_s=$est workload_bpftrace_est_slowdown=$slow"
	if [ "$up_hits" = "$bpf_hits" ]; then
		echo "check: $small rows: uprobe's events + lost = bpftrace's count = $bpf_hits"
	else
		echo "check: $small rows: uprobe's events + lost = $up_hits, bpftrace's count" \
			"$bpf_hits: they differ"
		bad=1
	fi
else
	summary="$summary workload_bpftrace_est_slowdown=na small_bpftrace_slowdown=na"
fi
echo "$summary"
exit $bad
