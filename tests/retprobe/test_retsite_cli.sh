#!/bin/sh
# SPDX-License-Identifier: MIT
# Return sites by the CLI (docs/architecture.md "Return sites"):
#  list_sites      uprobe list -r on test_retsite's hand-written functions: the
#                  eligible ones with their exits, the refused ones with why
#  trace_summary   uprobe trace's summary says how each return probe's returns
#                  are caught, as uprobe list -r says for the same function;
#                  an entry probe says nothing of returns
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=retsite_cli
. "$top/tests/lib.sh"
up="$top/build/uprobe"
bin="$top/build/tests/retprobe/test_retsite"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
trap 'exit 130' INT TERM

"$up" list -r "$bin" 'rs_*' >"$tmp/list" 2>"$tmp/list.err"
st=$?
if expect_eq list_sites "$st" 0 "exit status" &&
	expect_grep list_sites "$tmp/list" "[r: sites: 3 return sites: 2 ret, 1 tail jump]" "rs_multi" &&
	expect_grep list_sites "$tmp/list" "[r: sites: 1 return site: 1 ret; 1 no-return call]" \
		"rs_noreturn" &&
	expect_grep list_sites "$tmp/list" \
		"[r: hijack: the ret at +0xa has 1 of the 5 bytes a jump needs (no padding, no plain code before it)]" \
		"rs_short" &&
	expect_grep list_sites "$tmp/list" "[r: sites: 2 return sites: 2 ret (1 under the entry's jump)]" \
		"rs_in_entry2" &&
	expect_grep list_sites "$tmp/list" "[r: hijack: the ret at +0x2 lies under the entry's jump, \
and the entry is not jump-optimized (the function ends 3 bytes after the probe, before the 5-byte \
jump would, and its padding is not nops)]" "rs_tiny" &&
	expect_grep list_sites "$tmp/list" "rs_tiny_nop      optimized  jump-optimized: " "rs_tiny_nop" &&
	expect_grep list_sites "$tmp/list.err" "return probes: 15 by return sites, 18 by hijack (45.5% sites)" \
		"the totals"; then
	pass list_sites
fi

# The verdicts for qsort and getenv as uprobe list -r gives them.
verdict() { sed -n "s/^0x[0-9a-f]*  $1 .*\[r: \(.*\)\]\$/\1/p" "$tmp/libc"; }
"$up" list -r libc 'qsort' >"$tmp/libc" 2>/dev/null
"$up" list -r libc 'getenv' >>"$tmp/libc" 2>/dev/null
q=$(verdict qsort) g=$(verdict getenv)
words() { # "sites: X" -> "site: X" (its exits patched), "hijack: Y" as is
	case $1 in
	sites:*) echo "site:${1#sites:}" ;;
	*) echo "$1" ;;
	esac
}
"$up" trace 'r:libc:qsort' 'r:libc:getenv' 'p:libc:malloc' --count -o /dev/null -- /bin/true \
	>/dev/null 2>"$tmp/trace.err"
st=$?
if forced_ret_path && [ "${q#hijack: }" != "$q" ]; then
	# make check-forced: qsort's returns need the hijack, refused for the reason
	# list -r gives; getenv's summary line as ever without it.
	"$up" trace 'r:libc:getenv' 'p:libc:malloc' --count -o /dev/null -- /bin/true \
		>/dev/null 2>"$tmp/trace2.err"
	st2=$?
	expect_eq trace_summary "$st $st2" "1 0" "exit status with qsort, without" &&
		expect_eq trace_summary "$(cat "$tmp/trace.err")" "uprobe: cannot attach \
uprobes/qsort__return (libc:qsort): its exits cannot be patched \
(UPROBE_RET_PATH=site-strict): ${q#hijack: }" "qsort refused" &&
		expect_grep trace_summary "$tmp/trace2.err" ", returns by $(words "$g")" \
			"getenv's returns" &&
		expect_eq trace_summary "$(grep -c 'malloc: .*returns by' "$tmp/trace2.err")" 0 \
			"an entry probe's line" &&
		pass trace_summary
elif expect_eq trace_summary "$st" 0 "exit status" &&
	expect_eq trace_summary "$([ -n "$q" ] && [ -n "$g" ] && echo yes)" yes "list -r verdicts ($q; $g)" &&
	expect_grep trace_summary "$tmp/trace.err" "uprobes/qsort__return: " "qsort's line" &&
	expect_grep trace_summary "$tmp/trace.err" ", returns by $(words "$q")" "qsort's returns" &&
	expect_grep trace_summary "$tmp/trace.err" ", returns by $(words "$g")" "getenv's returns" &&
	expect_eq trace_summary "$(grep -c 'malloc: .*returns by' "$tmp/trace.err")" 0 \
		"an entry probe's line"; then
	pass trace_summary
fi

# The hijack forced (UPROBE_RET_PATH=hijack, inherited by the traced program's agent).
UPROBE_RET_PATH=hijack "$up" trace 'r:libc:getenv' --count -o /dev/null -- /bin/true \
	>/dev/null 2>"$tmp/hijack.err"
st=$?
if expect_eq trace_hijack "$st" 0 "exit status" &&
	expect_grep trace_hijack "$tmp/hijack.err" \
		", returns by hijack; return sites possible:${g#sites:}" "getenv's returns"; then
	pass trace_hijack
fi
exit $failed
