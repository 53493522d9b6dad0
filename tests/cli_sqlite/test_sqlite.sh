#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace on a real program: Debian's /usr/bin/sqlite3 runs a generated
# SQL script (tables, 4000 inserts in transactions, an index, joins and
# aggregates, updates, deletes) with entry and return probes on libsqlite3.
# Every traced run prints what the untraced run prints and exits as it does.
# The reference for every count and value is the kernel: the same probes, on
# the same file offsets, defined in tracefs uprobe_events under a group of
# this test's own, run over the same script without our tool (never both at
# once). Their hit counts come from uprobe_profile and their records from a
# tracefs instance of this test's own, so nobody else's tracing is touched.
# Return values are also derived from the script and its output alone.
# Without tracefs or kernel uprobes the kernel comparisons print SKIP.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli_sqlite
. "$top/tests/lib.sh"
up="$top/build/uprobe"
py=/usr/bin/python3
sq=/usr/bin/sqlite3
T=/sys/kernel/tracing
tag=k$$
grp=uptsql$$
tmp=$(mktemp -d)
db="$tmp/w.db"


# The kernel probes and the instance go away however the script ends.
trap 'tracefs_clean "$grp"; rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM
# Kernel probes count every process that runs libsqlite3, so two copies of
# this test (two "make check" at once) take turns.
if command -v flock >/dev/null 2>&1; then
	exec 9>>/tmp/uprobes-test-cli_sqlite.lock
	flock 9
fi

lib=$(ldd "$sq" 2>/dev/null | sed -n 's/.*libsqlite3\.so[^ ]* => \([^ ]*\) .*/\1/p')
lib=$(readlink -f "${lib:-/nonexistent}")
all="workload same_output kernel_ref counts_vs_kernel text_vs_kernel json retval_vs_kernel"
all="$all retval_derived sql_strings filter hist"
for need in "$sq" "$py" "$lib" "$(command -v readelf || echo readelf)"; do
	if [ ! -f "$need" ]; then
		for t in $all; do skip "$t" "$need not installed"; done
		exit 0
	fi
done

# The probes, once for our tool and once for the kernel: KIND NAME SYMBOL ARGS.
cat >"$tmp/probes" <<'EOF'
p prep sqlite3_prepare_v2 sql=+0(%si):string caller=$stack0
p step sqlite3_step
r step_ret sqlite3_step ret=$retval:u32
p exec sqlite3VdbeExec
r fin sqlite3_finalize ret=$retval:s32
p ins sqlite3BtreeInsert flags=%dx:u32
EOF

# The workload, one statement per line. A fixed LCG stands in for randomness.
# expect: "count|sum(salary)|min(hired)|max(hired)" after the update and the
# deletes, computed here without SQLite.
awk -v expect="$tmp/expect" 'BEGIN {
	nd = 16; ne = 4000; batch = 500; x = 12345
	print "CREATE TABLE dept(id INTEGER PRIMARY KEY, name TEXT NOT NULL, budget INTEGER);"
	print "CREATE TABLE emp(id INTEGER PRIMARY KEY, dept INTEGER REFERENCES dept(id), " \
		"name TEXT, salary INTEGER, hired TEXT);"
	print "BEGIN;"
	for (d = 1; d <= nd; d++)
		printf "INSERT INTO dept VALUES(%d, '\''dept%02d'\'', %d);\n",
			d, d, d * 12345 % 100000
	print "COMMIT;"
	for (i = 1; i <= ne; i++) {
		if (i % batch == 1)
			print "BEGIN;"
		x = (x * 69069 + 1) % 4294967296
		r = int(x / 65536)
		dep[i] = r % nd + 1
		sal[i] = 30000 + r * 7919 % 70001
		hired[i] = sprintf("2026-%02d-%02d", int(r / 16) % 12 + 1, int(r / 192) % 28 + 1)
		printf "INSERT INTO emp VALUES(%d, %d, '\''emp%05d'\'', %d, '\''%s'\'');\n",
			i, dep[i], i, sal[i], hired[i]
		if (i % batch == 0 || i == ne)
			print "COMMIT;"
	}
	print "CREATE INDEX emp_dept_salary ON emp(dept, salary);"
	print "SELECT d.name, count(*), sum(e.salary), max(e.salary) FROM emp e " \
		"JOIN dept d ON d.id = e.dept GROUP BY d.id ORDER BY d.id;"
	print "UPDATE emp SET salary = salary + 1000 WHERE dept % 3 = 0;"
	print "DELETE FROM emp WHERE id % 7 = 0;"
	print "SELECT count(*), sum(salary), min(hired), max(hired) FROM emp;"
	print "SELECT e.id, e.name, d.name, e.salary FROM emp e JOIN dept d ON d.id = e.dept " \
		"WHERE e.salary > 99000 ORDER BY e.salary DESC, e.id;"
	print "SELECT dept, substr(hired, 6, 2) AS m, count(*), avg(salary) FROM emp " \
		"WHERE dept <= 4 GROUP BY dept, m ORDER BY dept, m;"
	print "DELETE FROM emp WHERE dept = 5;"
	print "SELECT d.name, count(e.id) FROM dept d LEFT JOIN emp e ON e.dept = d.id " \
		"GROUP BY d.id HAVING count(e.id) < 240 ORDER BY 2, 1;"
	n = 0; s = 0; lo = "9999"; hi = ""
	for (i = 1; i <= ne; i++) {
		if (i % 7 == 0)
			continue
		n++
		s += sal[i] + (dep[i] % 3 == 0 ? 1000 : 0)
		if (hired[i] < lo) lo = hired[i]
		if (hired[i] > hi) hi = hired[i]
	}
	printf "%d|%d|%s|%s\n", n, s, lo, hi > expect
}' >"$tmp/w.sql"

# sql OUT CMD...: CMD reads the script on a fresh database; OUT gets its
# stdout, OUT.err its stderr, OUT.st its exit status.
sql() {
	out=$1
	shift
	rm -f "$db" "$db-journal"
	"$@" <"$tmp/w.sql" >"$out" 2>"$out.err"
	echo $? >"$out.st"
}
sql "$tmp/plain" "$sq" -init /dev/null "$db"

# traced NAME PROBES UPROBE_OPTS...: uprobe trace on the workload with the
# probes listed in file PROBES. Its stdout and status must be the untraced
# run's; fails NAME otherwise.
traced() {
	name=$1 pf=$2
	shift 2
	while read -r kind ev sym args; do
		set -- "$@" "$kind:sq/$ev libsqlite3:$sym${args:+ $args}"
	done <"$pf"
	sql "$tmp/$name" "$up" trace "$@" -- "$sq" -init /dev/null "$db"
	if [ "$(cat "$tmp/$name.st")" != "$(cat "$tmp/plain.st")" ]; then
		fail "$name" "status $(cat "$tmp/$name.st"), untraced $(cat "$tmp/plain.st"): \
$(head -c 400 "$tmp/$name.err")"
		return 1
	fi
	if ! cmp -s "$tmp/$name" "$tmp/plain"; then
		fail "$name" "stdout differs from the untraced run's"
		return 1
	fi
	return 0
}

# ---- ELF: symbol values and file offsets of libsqlite3 ---------------------------------

sym_value() {
	readelf -W --dyn-syms "$lib" |
		awk -v s="$1" '$4 == "FUNC" && $7 != "UND" && $8 == s { print "0x" $2; exit }'
}

# file_off SYMBOL: the symbol's file offset, through the PT_LOAD that holds it.
file_off() {
	v=$(sym_value "$1")
	[ -n "$v" ] || return 1
	readelf -lW "$lib" | awk '$1 == "LOAD" { print $2, $3, $5 }' |
		while read -r off va fsz; do
			if [ $((v)) -ge $((va)) ] && [ $((v)) -lt $((va + fsz)) ]; then
				printf '0x%x\n' $((v - va + off))
				break
			fi
		done
}

# The span of the library's mapping: a call site below base + span is inside it.
span=$(readelf -lW "$lib" | awk '$1 == "LOAD" { print $3, $6 }' | {
	m=0
	while read -r va msz; do [ $((va + msz)) -gt "$m" ] && m=$((va + msz)); done
	echo "$m"
})
# syms: EVENT KIND SYMBOL_VALUE ARG_NAMES..., for the analysis below.
while read -r kind ev sym args; do
	echo "$ev $kind $(sym_value "$sym") $(echo "$args" | sed 's/=[^ ]*//g')"
done <"$tmp/probes" >"$tmp/syms"
# Another build of libsqlite3 may not export the internal functions.
missing=$(awk 'NF < 3 || $3 !~ /^0x/ { print $1 }' "$tmp/syms" | tr '\n' ' ')
if [ -n "$missing" ]; then
	for t in $all; do skip "$t" "$lib does not export the symbols of ${missing% }"; done
	exit 0
fi

# ---- the analysis, in python ------------------------------------------------------------

cat >"$tmp/an.py" <<'EOF'
import collections, json, re, sys

syms = {}
for l in open(sys.argv[1]):
    f = l.split()
    syms[f[0]] = (f[1], int(f[2], 16), f[3:])
span = int(sys.argv[2])
cmd = sys.argv[3]
LINE = re.compile(r"^\s*(.*)-(\d+)\s+\[(\d{3})\]\s+(?:\S+\s+)?(\d+\.\d{6}): (\w+): (.*)$")
ADDR = re.compile(r"0x[0-9a-f]+")

def text_events(path, pid, tag):
    """(event, rest) of each trace line of pid (any pid if None), tag removed."""
    out = []
    for l in open(path):
        if l.startswith("#"):
            continue
        m = LINE.match(l.rstrip("\n"))
        if not m:
            sys.exit("unparsed line: " + l)
        if pid is None or m.group(2) == pid:
            ev = m.group(5)
            if tag and ev.endswith("_" + tag):
                ev = ev[: -len(tag) - 1]
            out.append((ev, m.group(6)))
    return out

def lib_base(ev, addr):
    return addr - syms[ev][1]

def where(a, base):
    return "L+%#x" % (a - base) if base <= a < base + span else "X"

def norm(path, pid, tag, unescape):
    """Trace lines with library addresses made relative and others made X."""
    evs = text_events(path, pid, tag)
    base = None
    for ev, rest in evs:
        a = ADDR.findall(rest)
        base = lib_base(ev, int(a[-1] if syms[ev][0] == "r" else a[0], 16))
        break
    for ev, rest in evs:
        if unescape:
            rest = rest.replace('\\"', '"').replace("\\\\", "\\")
        print(ev + ": " + ADDR.sub(lambda m: where(int(m.group(0), 16), base), rest))

def kernel_values(path, pid, tag):
    """ret/flags values of the kernel's records: Counter of (event, name, value)."""
    c = collections.Counter()
    for ev, rest in text_events(path, pid, tag):
        for name, val in re.findall(r"\b(ret|flags)=(-?\d+)", rest):
            c[(ev, name, int(val))] += 1
    return c

def fmt_values(c):
    return " ".join("%s:%s=%d:%d" % (k[0], k[1], k[2], n) for k, n in sorted(c.items()))

def json_check(path):
    """Per-event counts, the first field that is wrong (or ok), ret/flags values."""
    ev = [json.loads(l) for l in open(path)]
    count = collections.Counter(e["event"] for e in ev)
    vals = collections.Counter()
    first = ev[0]
    base = lib_base(first["event"], int(first["func" if "func" in first else "ip"], 16))
    bad, last_ts = "ok", 0
    keys = ["ts_ns", "pid", "tid", "cpu", "comm", "group", "event", "type", "ip"]
    for i, e in enumerate(ev):
        kind, value, names = syms[e["event"]]
        want = keys + (["func", "entry_ts_ns", "latency_ns"] if kind == "r" else []) + ["args"]
        fn = int(e["func" if kind == "r" else "ip"], 16)
        problem = (
            list(e) != want and "keys %s" % list(e)
            or list(e["args"]) != names and "args %s" % e["args"]
            or (e["pid"], e["tid"], e["comm"], e["group"])
            != (first["pid"], first["pid"], "sqlite3", "sq") and "pid/tid/comm/group"
            or e["type"] != ("return" if kind == "r" else "entry") and "type"
            or fn != base + value and "function address"
            or e["ts_ns"] < last_ts and "ts_ns decreasing"
            or kind == "r" and e["latency_ns"] != e["ts_ns"] - e["entry_ts_ns"] and "latency_ns"
            or kind == "r" and e["latency_ns"] < 0 and "negative latency"
        )
        if problem and bad == "ok":
            bad = "event %d: %s: %s" % (i, problem, json.dumps(e))
        last_ts = e["ts_ns"]
        for name in ("ret", "flags"):
            if name in e["args"]:
                vals[(e["event"], name, e["args"][name])] += 1
    return ev, base, count, bad, vals

if cmd == "norm":
    norm(sys.argv[4], sys.argv[5] or None, sys.argv[6], sys.argv[7] == "unescape")
elif cmd == "kvalues":
    print(fmt_values(kernel_values(sys.argv[4], sys.argv[5], sys.argv[6])))
elif cmd == "json":
    # Line 1: the first wrong event or "ok"; line 2: the values; the counts
    # go to file argv[5] as --count prints them.
    ev, base, count, bad, vals = json_check(sys.argv[4])
    with open(sys.argv[5], "w") as f:
        for k, n in sorted(count.items(), key=lambda kn: (kn[1], kn[0].encode())):
            print("@events[%s]: %d" % (k, n), file=f)
    print(bad)
    print(fmt_values(vals))
elif cmd == "derived":
    # sqlite3_step's results by call site: the shell's own calls, and the
    # calls SQLite makes through sqlite3_exec() to read its schema.
    ev, base, count, bad, vals = json_check(sys.argv[4])
    c = collections.Counter()
    with open(sys.argv[5], "w") as sql:
        for e in ev:
            if e["event"] == "step_ret":
                c[(where(int(e["ip"], 16), base) != "X", e["args"]["ret"])] += 1
            if e["event"] == "prep":
                inside = where(int(e["args"]["caller"], 16), base) != "X"
                c[(inside, "prep")] += 1
                if not inside:
                    print(e["args"]["sql"], file=sql)
    print("shell ROW=%d DONE=%d, SQLite ROW=%d DONE=%d prepares=%d" % (
        c[(False, 100)], c[(False, 101)], c[(True, 100)], c[(True, 101)], c[(True, "prep")]))
elif cmd == "hist":
    # The kernel's values as a bpftrace log2 histogram: "[0]  N", "[1]  N",
    # "[2, 4)  N", ..., lowest to highest non-empty bucket, one row per line.
    b = collections.Counter()
    for (ev, name, v), n in kernel_values(sys.argv[4], sys.argv[5], sys.argv[6]).items():
        if name == sys.argv[7]:
            b[v.bit_length() + 1 if v >= 0 else 0] += n
    def bound(n):
        k = 0
        while n >= 1024 and n % 1024 == 0:
            n, k = n // 1024, k + 1
        return "%d%s" % (n, " KMGTPE"[k].strip())
    for i in range(min(b), max(b) + 1):
        if i < 3:
            r = ["(..., 0)", "[0]", "[1]"][i]
        else:
            r = "[%s, %s)" % (bound(1 << (i - 2)), bound(1 << (i - 1)))
        print("%s %d" % (r, b[i]))
EOF
an() { "$py" "$tmp/an.py" "$tmp/syms" "$span" "$@"; }

# ---- the reference: the kernel's uprobes on the same offsets ---------------------------

# kernel_run: defines the probes in group $grp, records them in instance $grp
# while the workload runs untraced by us, then removes everything. Sets kwhy
# and fails when tracefs or kernel uprobes are missing.
kernel_run() {
	mountpoint -q "$T" || mount -t tracefs nodev "$T" 2>/dev/null
	if [ ! -w "$T/uprobe_events" ]; then
		kwhy="cannot write $T/uprobe_events (not root, no tracefs, no CONFIG_UPROBE_EVENTS)"
		return 1
	fi
	if ! mkdir "$T/instances/$grp" 2>/dev/null; then
		kwhy="cannot create the tracefs instance $grp"
		return 1
	fi
	echo 8192 >"$T/instances/$grp/buffer_size_kb"
	while read -r kind ev sym args; do
		def="$kind:$grp/${ev}_$tag $lib:$(file_off "$sym")${args:+ $args}"
		if ! echo "$def" >>"$T/uprobe_events" 2>/dev/null; then
			kwhy="the kernel refused '$def': $(tail -n 2 "$T/error_log" 2>/dev/null)"
			return 1
		fi
	done <"$tmp/probes"
	echo 1 >"$T/instances/$grp/events/$grp/enable"
	# shellcheck disable=SC2016
	sql "$tmp/kernel" sh -c 'echo $$ >"$0"; exec "$@"' "$tmp/kernel.pid" \
		"$sq" -init /dev/null "$db"
	echo 0 >"$T/instances/$grp/events/$grp/enable"
	cat "$T/uprobe_profile" >"$tmp/kernel.profile"
	cat "$T/instances/$grp/trace" >"$tmp/kernel.trace"
	cat "$T/instances/$grp"/per_cpu/cpu*/stats >"$tmp/kernel.stats"
	tracefs_clean "$grp"
}
# kernel_counts: kcount, "EVENT HITS" (uprobe_profile) in the order of
# $tmp/probes, and krec, "EVENT=RECORDS ..." of the workload's pid.
kernel_counts() {
	while read -r kind ev rest; do
		n=$(awk -v f="$lib" -v e="${ev}_$tag" '$1 == f && $2 == e { print $3 }' \
			"$tmp/kernel.profile")
		echo "$ev ${n:-none}"
	done <"$tmp/probes" >"$tmp/kcount"
	an norm "$tmp/kernel.trace" "$kpid" "$tag" keep >"$tmp/kernel.norm"
	krec=$(while read -r ev n; do
		printf '%s=%s ' "$ev" "$(grep -c "^$ev: " "$tmp/kernel.norm")"
	done <"$tmp/kcount")
	khits=$(while read -r ev n; do printf '%s=%s ' "$ev" "$n"; done <"$tmp/kcount")
}
# Another process running libsqlite3 meanwhile (this test run twice at once)
# adds hits to the profile but not records of our pid: try again then.
kpid=""
tracefs_clean "$grp" # what a run killed with this pid may have left
for try in 1 2 3; do
	kpid=""
	kernel_run || break
	kpid=$(cat "$tmp/kernel.pid")
	kernel_counts
	[ "$krec" = "$khits" ] && break
	sleep 1
done
[ -z "$kpid" ] && tracefs_clean "$grp"
kernel_skip() { # name: true (after a SKIP line) when there is no kernel reference
	[ -n "$kpid" ] && return 1
	skip "$1" "$kwhy"
	return 0
}

# ---- the checks -------------------------------------------------------------------------

# workload: the script did what the generator says it does.
st=$(cat "$tmp/plain.st")
if expect_eq workload "$st" 0 "sqlite3's status ($(head -c 300 "$tmp/plain.err"))" &&
	expect_eq workload "$(grep -cxF "$(cat "$tmp/expect")" "$tmp/plain")" 1 \
		"lines '$(cat "$tmp/expect")' (count, sum, dates after update and deletes)"; then
	pass workload
fi

# kernel_ref: the reference is whole: each probe's hits (uprobe_profile) are
# the records of the workload's pid, nothing was dropped, output unchanged.
if ! kernel_skip kernel_ref; then
	if expect_eq kernel_ref "$krec" "$khits" \
		"records of pid $kpid in $try tries (other processes using $lib?)" &&
		expect_eq kernel_ref "$(grep -E '^(overrun|dropped events):' "$tmp/kernel.stats" |
			grep -vc ': 0$')" 0 "per-cpu stats with overruns or drops" &&
		expect_eq kernel_ref "$(cat "$tmp/kernel.st")" "$(cat "$tmp/plain.st")" "status" &&
		expect_eq kernel_ref "$(cmp -s "$tmp/kernel" "$tmp/plain" && echo same)" same \
			"stdout under kernel probes"; then
		pass kernel_ref
	fi
fi

# same_output, counts_vs_kernel: --count on all six probes; the counts and the
# summary's are the kernel's hits, nothing lost.
traced same_output "$tmp/probes" --count -o "$tmp/count.out" && pass same_output
if [ -s "$tmp/count.out" ] && ! kernel_skip counts_vs_kernel; then
	want=$(LC_ALL=C sort -k2,2n -k1,1 "$tmp/kcount" | awk '{ print "@events[" $1 "]: " $2 }')
	sum=$(while read -r ev n; do
		printf '%s ' "sq/$ev: $n events, 0 skipped"
	done <"$tmp/kcount")
	got=$(while read -r ev n; do
		sed -n "s|^  \(sq/$ev: [0-9]* events, [0-9]* skipped\) (recursive), mode .*|\1|p" \
			"$tmp/same_output.err"
	done <"$tmp/kcount" | tr '\n' ' ')
	expect_eq counts_vs_kernel "$(cat "$tmp/count.out")" "$want" "counts" &&
		expect_eq counts_vs_kernel "$got" "$sum" "summary" &&
		expect_eq counts_vs_kernel "$(grep -c '^  lost events (rings full): 0$' \
			"$tmp/same_output.err")" 1 "lost events line" &&
		pass counts_vs_kernel
fi

# text_vs_kernel: one line per event; the lines, once library addresses are
# made relative to its base and others replaced by X, are the kernel's, in
# order. Ours escapes '"' inside strings (docs/trace-events.md); the kernel
# does not, so that is undone first.
if traced text_vs_kernel "$tmp/probes" -o "$tmp/text.out" && ! kernel_skip text_vs_kernel; then
	an norm "$tmp/text.out" "" "" unescape >"$tmp/text.norm"
	expect_eq text_vs_kernel "$(wc -l <"$tmp/text.out")" \
		"$(awk '{ s += $2 } END { print s }' "$tmp/kcount")" "lines (kernel: hits)" &&
		expect_eq text_vs_kernel "$(diff "$tmp/kernel.norm" "$tmp/text.norm" | head -n 3)" \
			"" "first difference (< kernel, > ours)" &&
		pass text_vs_kernel
fi

# json: every event has exactly the documented keys and args, comm, pid,
# type, the function's address, ordered timestamps, latency = ts - entry;
# counts per event as --count counted them.
if traced json "$tmp/probes" -f json -o "$tmp/json.out"; then
	an json "$tmp/json.out" "$tmp/json.count" >"$tmp/json.an"
	expect_eq json "$(sed -n 1p "$tmp/json.an")" ok "fields" &&
		expect_eq json "$(cat "$tmp/json.count")" "$(cat "$tmp/count.out")" \
			"events per probe (from --count)" &&
		pass json
fi

# retval_vs_kernel: how often sqlite3_step returned SQLITE_ROW (100) and
# SQLITE_DONE (101), sqlite3_finalize each result, sqlite3BtreeInsert got
# each flags value: the kernel's numbers.
if [ -s "$tmp/json.an" ] && ! kernel_skip retval_vs_kernel; then
	expect_eq retval_vs_kernel "$(sed -n 2p "$tmp/json.an")" \
		"$(an kvalues "$tmp/kernel.trace" "$kpid" "$tag")" "EVENT:ARG=VALUE:COUNT" &&
		pass retval_vs_kernel
fi

# retval_derived: the same results from the script and its output alone. The
# shell steps each statement to SQLITE_DONE once, and gets SQLITE_ROW once
# per line it prints. SQLite itself (sqlite3_exec, called from inside the
# library) reads its schema: once at the first statement (empty database: no
# row), then once per CREATE, whose one new schema row it reads back.
# sql_strings: the shell prepares exactly the script's statements, in order.
if [ -s "$tmp/json.an" ]; then
	got=$(an derived "$tmp/json.out" "$tmp/prepared.sql")
	creates=$(grep -c '^CREATE' "$tmp/w.sql")
	expect_eq retval_derived "$got" "shell ROW=$(wc -l <"$tmp/plain") \
DONE=$(wc -l <"$tmp/w.sql"), SQLite ROW=$creates DONE=$((creates + 1)) \
prepares=$((creates + 1))" "sqlite3_step results by caller" && pass retval_derived
	expect_eq sql_strings "$(cmp "$tmp/prepared.sql" "$tmp/w.sql" 2>&1)" "" \
		"sql= of the shell's sqlite3_prepare_v2 calls against the script" &&
		pass sql_strings
fi

# filter, hist: one run counts the SQLITE_ROW returns only (other events of
# sqlite3_step are filtered out; sqlite3BtreeInsert has no "ret" and is all
# kept) and makes a histogram of sqlite3BtreeInsert's flags.
cat >"$tmp/agg.probes" <<'EOF'
r step_ret sqlite3_step ret=$retval:u32
p ins sqlite3BtreeInsert flags=%dx:u32
EOF
if traced filter "$tmp/agg.probes" --count --hist flags --filter 'ret == 100' -o "$tmp/agg.out" &&
	! kernel_skip filter; then
	an kvalues "$tmp/kernel.trace" "$kpid" "$tag" | tr ' ' '\n' >"$tmp/kvalues"
	row=$(sed -n 's/^step_ret:ret=100://p' "$tmp/kvalues")
	done_=$(sed -n 's/^step_ret:ret=101://p' "$tmp/kvalues")
	ins=$(awk '$1 == "ins" { print $2 }' "$tmp/kcount")
	want=$(printf '@events[step_ret]: %s\n@events[ins]: %s\n' "$row" "$ins" |
		LC_ALL=C sort -t: -k2,2n)
	expect_eq filter "$(grep '^@events' "$tmp/agg.out")" "$want" \
		"counts (kernel: ROW, inserts)" &&
		expect_eq filter "$(sed -n 's/^  filtered out: //p' "$tmp/filter.err")" "$done_" \
			"filtered out (kernel: DONE)" &&
		pass filter
	expect_eq hist "$(grep '^\[' "$tmp/agg.out" | sed 's/ *|.*//' | tr -s ' ')" \
		"$(an hist "$tmp/kernel.trace" "$kpid" "$tag" flags)" "@flags rows" &&
		pass hist
elif [ -z "$kpid" ]; then
	skip hist "$kwhy"
fi
exit $failed
