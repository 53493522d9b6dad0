#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace -p with return probes in a running C++ process (libstdc++
# mapped): the agent, loaded with dlopen, cannot interpose the unwinders, so
# return probes take the return sites only (the return addresses stay what
# the unwinder expects) and C++ exceptions thrown through the probed frames
# still unwind; a probe whose function would need the return-address hijack
# (tail_f: a tail jump out) is refused by name, the others trace, with exact
# counts (the unwound frames reported too), and the program prints what it
# prints untraced. Target: build/tests/cli_attach/cxx_target (cxx_target.cc).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli_attach
. "$top/tests/lib.sh"
up="$top/build/uprobe"
tgt="$top/build/tests/cli_attach/cxx_target"
. "$top/tests/cli_attach/traced.sh"
tmp=$(mktemp -d)
bg=""
trap 'for p in $bg; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
count_of() { sed -n "s/^@events\[$2\]: //p" "$1"; }
n=300

# The reference: untraced.
"$tgt" $n >"$tmp/ref.out" &
p=$!
wait_lines "$tmp/ref.out" '^ready$' 1 $p
kill -USR1 $p
wait $p
expect_eq cxx_untraced "$?" 0 "untraced status" && pass cxx_untraced

# Counts: every call's return, thrown through or not.
start_traced "$tmp/count.target" $n
trace_traced "$tmp/count.out" "$tmp/count.err" --count -p $pid "r:$tgt:work" "r:$tgt:thrower" \
	"r:$tgt:passthru" "r:$tgt:tail_f" "p:$tgt:leaf"
wait $pid
tst=$?
expect_eq cxx_count "$st" 0 "tracer status" &&
	expect_eq cxx_count "$tst" 0 "target status" &&
	expect_eq cxx_count "$(cat "$tmp/count.target")" "$(cat "$tmp/ref.out")" "target output" &&
	expect_eq cxx_count "$(count_of "$tmp/count.out" work__return)" $n "work returns" &&
	expect_eq cxx_count "$(count_of "$tmp/count.out" thrower__return)" $((2 * n)) \
		"thrower returns (a third of them thrown through)" &&
	expect_eq cxx_count "$(count_of "$tmp/count.out" passthru__return)" $n "passthru returns" &&
	expect_eq cxx_count "$(count_of "$tmp/count.out" leaf)" $n "leaf entries" &&
	expect_eq cxx_count "$(grep -c 'returns by site' "$tmp/count.err")" 3 "site probes" &&
	expect_grep cxx_count "$tmp/count.err" "warning: not attached: uprobes/tail_f__return ($tgt:tail_f)" \
		"the refusal, by name" &&
	expect_grep cxx_count "$tmp/count.err" "libstdc++ mapped: no return address may be swapped): 1 tail jump out" \
		"its reason" &&
	pass cxx_count

# Records: the thrown-through frames are reported unwound, the others with their value.
start_traced "$tmp/rec.target" $n
trace_traced "$tmp/rec.out" "$tmp/rec.err" -p $pid "r:$tgt:thrower r=\$retval"
wait $pid
tst=$?
all=$(grep -c 'thrower__return' "$tmp/rec.out")
unw=$(grep -c 'thrower__return.*unwound' "$tmp/rec.out")
expect_eq cxx_records "$st" 0 "tracer status" &&
	expect_eq cxx_records "$tst" 0 "target status" &&
	expect_eq cxx_records "$(cat "$tmp/rec.target")" "$(cat "$tmp/ref.out")" "target output" &&
	expect_eq cxx_records "$all" $((2 * n)) "return records" &&
	expect_eq cxx_records "$unw" $((2 * n / 3)) "unwound records (i % 3 == 0, twice a round)" &&
	expect_eq cxx_records "$(grep -c 'thrower__return.* r=0x4$' "$tmp/rec.out")" 2 "thrower(2)'s value, twice" &&
	pass cxx_records

# Only a probe that needs the hijack: nothing to trace, said; the program runs on untouched.
start_traced "$tmp/none.target" $n
"$up" trace --count -p $pid "r:$tgt:tail_f" >"$tmp/none.out" 2>"$tmp/none.err"
st=$?
kill -USR1 $pid
wait $pid
tst=$?
expect_eq cxx_none "$st" 1 "tracer status" &&
	expect_eq cxx_none "$tst" 0 "target status" &&
	expect_eq cxx_none "$(cat "$tmp/none.target")" "$(cat "$tmp/ref.out")" "target output" &&
	expect_grep cxx_none "$tmp/none.err" "no probe attached" "the error" &&
	pass cxx_none

exit $failed
