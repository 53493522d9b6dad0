#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe -e's ustack keys (issue 17) on a target built -O2
# -fomit-frame-pointer (lstack_target.c): lstack_leaf is reached by three
# roads from several threads. Checked: exactly three stacks with exact counts
# whose sum is the plain count() of the same probe; each stack's frames equal
# gdb's bt at lstack_leaf's first instruction on that road (gdb walks the CFI
# as we do; bpftrace's ustack, frame pointers only, would drop the direct
# caller at the entry and stop at the first frame without rbp: we match
# bpftrace's format, not its frames); ustack(3) keeps the first three frames;
# ustack(perf) and -f json in bpftrace 0.17's shapes; the frames are named
# after the target exited (the tracer prints at the end); a full stack table
# counts the stacks it refused and shows them under an empty ustack; frames in
# a library loaded after the probes went in (dlopen) and closed before the
# exit are named all the same (late_library); a forked child's stacks are
# named from its own mappings after it exited, and so are those of a child
# that exec'd another program, never from the image before it (fork, exec);
# print(ustack), print(ustack(N)), printf("%s", ustack) and ustack(perf) in
# printf print what bpftrace 0.17 prints on the same target (print, with
# bpftrace: print_bpftrace), also in a forked child (print_fork).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=lang_stack
. "$top/tests/lib.sh"
tgt="$top/build/tests/lang_stack/lstack_target"
tmp=$(mktemp -d)
trap '[ -n "${KEEP:-}" ] || rm -rf "$tmp"' EXIT
export UPROBE_CACHE_DIR="$tmp/cache"
threads=4 iters=1000
prog="uprobe:$tgt:lstack_leaf { @[ustack] = count(); @n = count(); @t[ustack(3)] = count();
	@p[tid, ustack(perf, 2)] = count(); }"

# stacks FILE MAP: each key of MAP as "COUNT|frame|frame|...", sorted by count, highest first.
stacks() {
	python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
out = []
for m in re.finditer(r"^%s\[(.*?)\]: (\d+)$" % re.escape(sys.argv[2]), text, re.M | re.S):
    frames = [l.strip() for l in m.group(1).split("\n") if l.strip()]
    out.append((int(m.group(2)), frames))
for n, f in sorted(out, key=lambda x: -x[0]):
    print("|".join([str(n)] + f))
PY
}

if ! "$top/build/uprobe" -e "$prog" -- "$tgt" $threads $iters >"$tmp/out" 2>"$tmp/err"; then
	fail run "uprobe -e failed: $(head -5 "$tmp/err")"
	exit 1
fi
stacks "$tmp/out" @ >"$tmp/full"
a=$((threads * iters)) b=$((threads * ((iters + 1) / 2))) q=$threads
expect_eq counts "$(cut -d'|' -f1 "$tmp/full" | tr '\n' ' ')" "$a $b $q " \
	"the three roads' counts" && pass counts
n=$(sed -n 's/^@n: //p' "$tmp/out")
expect_eq sum "$(cut -d'|' -f1 "$tmp/full" | paste -sd+ | bc)" "$n" "sum over stacks vs count()" &&
	expect_eq total "$n" $((a + b + q)) "count()" && pass sum

# gdb at lstack_leaf's first instruction, one thread, one iteration: roads a, b, qsort.
if command -v gdb >/dev/null; then
	gdb -nx -batch -ex 'set debuginfod enabled off' -ex 'set backtrace past-main on' \
		-ex 'set backtrace past-entry on' -ex 'break main' -ex 'run 1 1 >/dev/null' \
		-ex 'break *lstack_leaf' -ex continue -ex "source $top/tests/lang_stack/gdb_syms.py" \
		-ex continue -ex "source $top/tests/lang_stack/gdb_syms.py" \
		-ex continue -ex "source $top/tests/lang_stack/gdb_syms.py" "$tgt" 2>&1 |
		sed -n 's/^FRAME //p; s/^END$/END/p' >"$tmp/gdb"
	i=0
	for road in a b qsort; do
		i=$((i + 1))
		want=$(awk -v k=$i '/^END$/ { n++; next } n == k - 1' "$tmp/gdb" | tr '\n' '|')
		got=$(sed -n "${i}p" "$tmp/full" | cut -d'|' -f2- | tr -d '\n')
		# Names where they cannot be aliases (the target's own); offsets everywhere.
		if python3 - "$want" "$got" <<'PY'; then pass "gdb_$road"; else fail "gdb_$road" "gdb: $want ours: $got"; fi
import sys
g = [f for f in sys.argv[1].split("|") if f]
u = [f for f in sys.argv[2].split("|") if f]
own = ("lstack_leaf", "mid_a", "road_a", "road_b", "leaf_cmp", "thread_main")
ok = len(g) >= 4 and len(g) == len(u)
for x, y in zip(g, u):
    ok = ok and x.rsplit("+", 1)[1] == y.rsplit("+", 1)[1]
    ok = ok and (x.rsplit("+", 1)[0] not in own or x == y)
sys.exit(0 if ok else 1)
PY
	done
	expect_grep gdb_outermost "$tmp/full" "clone3+" "the threads' stacks end in clone3" &&
		pass gdb_outermost
else
	skip gdb "gdb is not installed (scripts/deps.sh)"
fi

# ustack(3): the first three frames of each full stack, the same counts.
stacks "$tmp/out" @t >"$tmp/three"
cut -d'|' -f1-4 "$tmp/full" >"$tmp/three.want"
if cmp -s "$tmp/three" "$tmp/three.want"; then
	pass depth3
else
	fail depth3 "$(diff "$tmp/three.want" "$tmp/three" | head -8 | tr '\n' ' ')"
fi

# ustack(perf, 2) beside tid: "TID, " then "\tADDR func+off (module)" lines.
if grep -Eq "^@p\[[0-9]+, $" "$tmp/out" &&
	grep -Eq "^	[0-9a-f]+ lstack_leaf\+0 \(.*/lstack_target\)$" "$tmp/out" &&
	[ "$(stacks "$tmp/out" @p | awk -F'|' '{ s += $1; if (NF != 4) bad = 1 } END { print s + 0, bad + 0 }')" = "$n 0" ]; then
	pass perf
else
	fail perf "$(grep -A3 '^@p' "$tmp/out" | head -4 | tr '\n' ' ')"
fi

# -f json: bpftrace's key, the stack's text with its newlines.
"$top/build/uprobe" -f json -e "uprobe:$tgt:lstack_leaf { @[ustack(2)] = count(); }" \
	-- "$tgt" 1 3 >"$tmp/json" 2>"$tmp/err"
expect_grep json "$tmp/json" '"\n    lstack_leaf+0\n    mid_a+' "the JSON key of road a" &&
	pass json

# A table of 2 stacks, one thread (the roads come in order: a, b, then qsort):
# the qsort road's one hit is refused, counted and shown under an empty ustack.
UPROBE_USTACK_MAX=2 "$top/build/uprobe" -e \
	"uprobe:$tgt:lstack_leaf { @[ustack] = count(); @n = count(); }" -- "$tgt" 1 $iters \
	>"$tmp/full2" 2>"$tmp/err2"
stacks "$tmp/full2" @ >"$tmp/two"
empty=$(awk -F'|' 'NF == 1 { print $1 }' "$tmp/two")
n2=$(sed -n 's/^@n: //p' "$tmp/full2")
said=$(sed -n 's/^uprobe: \([0-9]*\) hits.*stack table (2 stacks) was full.*/\1/p' "$tmp/err2")
expect_eq full_keys "$(awk -F'|' 'NF > 1' "$tmp/two" | wc -l)" 2 "stacks interned" &&
	expect_eq full_sum "$(cut -d'|' -f1 "$tmp/two" | paste -sd+ | bc)" "$n2" "sum vs count()" &&
	expect_eq full_empty "$empty" 1 "hits under the empty ustack" &&
	expect_eq full_said "$said" 1 "refused hits said on stderr" &&
	expect_eq full_total "$n2" $((iters + (iters + 1) / 2 + 1)) "count()" && pass full_table
# late_library: main loads liblate.so after the probes went in, reaches
# lstack_leaf(1003) through its late_mid, closes it and exits; the tracer
# names the frames after the exit, from the stack table's mappings area,
# which the target writes again after each dlopen and dlclose.
lib="$top/build/tests/stack/liblate.so"
if "$top/build/uprobe" -e "uprobe:$tgt:lstack_leaf /arg0 == 1003/ { @[ustack] = count(); }" \
	-- "$tgt" 1 1 "$lib" >"$tmp/late" 2>"$tmp/err3"; then
	got=$(stacks "$tmp/late" @ | cut -d'|' -f1-4)
	expect_eq late_library "$(echo "$got" | sed 's/+[0-9]*//g')" "1|lstack_leaf|late_mid|main" \
		"the late library's frame named after the exit ($got)" && pass late_library
else
	fail late_library "uprobe -e failed: $(head -5 "$tmp/err3")"
fi

# fork: lstack_fork hits fork_leaf(1) three times, then its child fork_leaf(2)
# five times and exits; both gone when the tracer names the frames.
fk="$top/build/tests/lang_stack/lstack_fork"
fkprog="uprobe:$fk:fork_leaf { @[arg0, pid, ustack] = count(); }"
# keys FILE MAP: each key as "COUNT|arg|frame|...", the pid left out, sorted.
keys() {
	python3 - "$1" "$2" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
out = []
for m in re.finditer(r"^%s\[(\d+), (\d+), (.*?)\]: (\d+)$" % re.escape(sys.argv[2]), text, re.M | re.S):
    frames = [l.strip() for l in m.group(3).split("\n") if l.strip()]
    out.append("|".join([m.group(4), m.group(1)] + frames))
print("\n".join(sorted(out)))
PY
}
want="3|1|fork_leaf|fork_mid|main|__libc_start_call_main|__libc_start_main|_start 5|2|fork_leaf|fork_mid|main|__libc_start_call_main|__libc_start_main|_start "
if "$top/build/uprobe" -e "$fkprog" -- "$fk" >"$tmp/fork" 2>"$tmp/err4"; then
	got=$(keys "$tmp/fork" @ | sed 's/+[0-9]*//g' | tr '\n' ' ')
	expect_eq fork "$got" "$want" "the parent's and the child's keys, offsets left out" &&
		expect_eq fork_pids "$(grep -c '^@\[[12], [0-9]*, $' "$tmp/fork")" 2 "two keys" &&
		expect_eq fork_entry "$(grep -c '^    fork_leaf+0$' "$tmp/fork")" 2 "at fork_leaf+0" &&
		pass fork
else
	fail fork "uprobe -e failed: $(head -5 "$tmp/err4")"
fi

# exec: the child then execs lstack_target (one thread, one iteration): its
# frames from its own mappings (lstack_leaf's three roads), the child's before
# the exec from the forked image's (fork_leaf), under the same pid.
if "$top/build/uprobe" -e "$fkprog uprobe:$tgt:lstack_leaf { @l[pid, ustack(3)] = count(); }" \
	-- "$fk" "$tgt" 1 1 >"$tmp/exec" 2>"$tmp/err5"; then
	got=$(keys "$tmp/exec" @ | sed 's/+[0-9]*//g' | tr '\n' ' ')
	lgot=$(stacks "$tmp/exec" @l | sed 's/^1|[0-9]*,|/1|/; s/+[0-9]*//g' | sort | tr '\n' ' ')
	cpid=$(sed -n 's/^@\[2, \([0-9]*\), $/\1/p' "$tmp/exec")
	lpids=$(sed -n 's/^@l\[\([0-9]*\), $/\1/p' "$tmp/exec" | sort -u)
	expect_eq exec_fork "$got" "$want" "lstack_fork's keys (the child's before its exec)" &&
		expect_eq exec_pid "$lpids" "$cpid" "the exec'd image is the child" &&
		expect_eq exec_image "$lgot" \
			"1|lstack_leaf|leaf_cmp|msort_with_tmp.part.0 1|lstack_leaf|mid_a|road_a 1|lstack_leaf|road_b|thread_main " \
			"lstack_target's frames after the exec" && pass exec
else
	fail exec "uprobe -e failed: $(head -5 "$tmp/err5")"
fi

# print: lstack_print (frame pointers, so bpftrace's walk sees what ours does)
# hits print_leaf twice; each hit prints its stack three ways.
lp="$top/build/tests/lang_stack/lstack_print"
pprog="uprobe:$lp:print_leaf { print(ustack(4)); printf(\"%s|\\n\", ustack(perf, 3));
	printf(\"<%-12s>\\n\", ustack(1)); }"
# the addresses of perf mode left out (ASLR)
norm() { sed -E 's/^\t[0-9a-f]+ /\tADDR /' "$1"; }
hit() {
	printf '\n        print_leaf+0\n        print_mid+21\n        main+41\n'
	printf '        __libc_start_call_main+122\n\n\n'
	printf '\tADDR %s (%s)\n' print_leaf+0 "$lp" print_mid+21 "$lp" main+41 "$lp"
	printf '|\n<\n        print_leaf+0\n>\n'
}
want_print=$(echo "Attaching 1 probe..."; hit; hit)
if "$top/build/uprobe" -e "$pprog" -- "$lp" >"$tmp/print" 2>"$tmp/err6"; then
	expect_eq print "$(norm "$tmp/print")" "$want_print" "print(ustack) and printf's %s" &&
		pass print
else
	fail print "uprobe -e failed: $(head -5 "$tmp/err6")"
fi
# -f json: bpftrace's "value" and "printf" lines, the text with its newlines.
if "$top/build/uprobe" -f json -e "uprobe:$lp:print_leaf { print(ustack(2)); }" -- "$lp" 1 \
	>"$tmp/pjson" 2>"$tmp/err9"; then
	expect_eq print_json "$(sed -n 2p "$tmp/pjson")" \
		'{"type": "value", "data": "\n        print_leaf+0\n        print_mid+21\n"}' \
		"print(ustack(2)) in JSON" && pass print_json
else
	fail print_json "uprobe -f json failed: $(head -5 "$tmp/err9")"
fi
if ! command -v bpftrace >/dev/null || [ "$(id -u)" != 0 ]; then
	skip print_bpftrace "bpftrace (as root) is not here"
elif ! timeout 60 bpftrace -e "$pprog" -c "$lp" >"$tmp/print.bt" 2>"$tmp/err7" ||
	! grep -q '^Attaching' "$tmp/print.bt"; then
	skip print_bpftrace "bpftrace did not run: $(grep -v RLIMIT "$tmp/err7" | head -2)"
elif grep -Eq '^        0x[0-9a-f]+$' "$tmp/print.bt"; then
	skip print_bpftrace "bpftrace named no frames (it looks them up while the target lives)"
else
	expect_eq print_bpftrace "$(norm "$tmp/print")" "$(norm "$tmp/print.bt")" \
		"ours vs bpftrace 0.17's on the same target" && pass print_bpftrace
fi

# print_fork: printf("%s", ustack) in lstack_fork's child, printed while it runs.
if "$top/build/uprobe" -e "uprobe:$fk:fork_leaf /arg0 == 2/ { printf(\"%s\", ustack(3)); }" \
	-- "$fk" >"$tmp/pfork" 2>"$tmp/err8"; then
	expect_eq print_fork "$(grep -c '^        fork_mid+[0-9]*$' "$tmp/pfork"):$(grep -c unknown "$tmp/pfork")" \
		"5:0" "the child's five stacks named" && pass print_fork
else
	fail print_fork "uprobe -e failed: $(head -5 "$tmp/err8")"
fi
exit $failed
