#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace at the limits of one run (issue 14): a static command is not
# traced and the summary says why; 10,000 probes (every function of a
# generated program with 5,000, entry and return) count every call; hits
# skipped as recursive (from a signal handler) are reported in launch mode,
# exactly: events + skipped + lost = calls.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# A static command: no agent can be preloaded; the summary says so.
static="$top/build/tests/cli/cli_target_static"
if same_run static "p:t/work $static:cli_work" -- "$static" 10 &&
	expect_eq static "$(sed -n 's/^  t\/work: //p' "$tmp/static.stderr")" "never attached: \
$static is statically linked (no PT_INTERP): nothing can be preloaded into it" "summary"; then
	pass static
fi

# 5,000 functions, each probed at entry and at return: 10,000 probes (once refused:
# "more than 1024 probes"). Each function is called twice: 4 events per name.
python3 - "$tmp/many.c" <<'PY'
import sys
n = 5000
with open(sys.argv[1], "w") as f:
    f.write("#include <stdio.h>\n#include <stdlib.h>\n")
    for i in range(n):
        f.write(f"__attribute__((noinline)) long f_{i:05d}(long x) "
                f"{{ __asm__ volatile(\"\" ::: \"memory\"); return x + {i}; }}\n")
    f.write("static long (*const fns[])(long) = {\n")
    f.write(",\n".join(f"f_{i:05d}" for i in range(n)))
    f.write("};\nint main(int argc, char **argv)\n{\n\tlong s = 0, r = atol(argv[1]);\n"
            "\tfor (long k = 0; k < r; k++)\n"
            "\t\tfor (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)\n"
            "\t\t\ts += fns[i](k);\n\tprintf(\"sum %ld\\n\", s);\n\treturn 0;\n}\n")
PY
many="$tmp/many"
cc -O0 -o "$many" "$tmp/many.c"
if same_run many_probes --count -o "$tmp/many.count" "p:$many:f_*" "r:$many:f_*" -- "$many" 2 &&
	expect_eq many_probes "$(sed 's/.*: //' "$tmp/many.count" | sort | uniq -c |
		sed 's/^ *//')" "5000 4" "events per function (entry and return, 2 calls)" &&
	expect_eq many_probes "$(grep -c '^  uprobes/f_[0-9]*: 2 events, 0 skipped' \
		"$tmp/many_probes.stderr")" 10000 "probes in the summary, 2 events each"; then
	pass many_probes
fi

# Hits skipped because they came from a signal handler that interrupted the
# probe's handler: reported when the command exits on its own, exactly.
sig="$top/build/tests/cli/cli_signal"
"$sig" "$tmp/calls.plain" >"$tmp/plain"
# The handler's path (UPROBE_COUNT_STUB=off): the count stub runs no handler, so a
# signal cannot land in one, and the loop (until 20 signals landed in libuprobes) would
# not end (the stub's own counts: tests/optimize, tests/map_exact).
UPROBE_COUNT_STUB=off up --count -o "$tmp/sig.count" "p:t/tick $sig:cli_tick" -- "$sig" "$tmp/calls" \
	>"$tmp/sig.out" 2>"$tmp/sig.err"
st=$?
ev=$(sed -n 's/^  t\/tick: \([0-9]*\) events, .*/\1/p' "$tmp/sig.err")
# "t/tick: N events[, L lost], K skipped (recursive), mode M"
sk=$(sed -n 's/^  t\/tick: .* events\(, [0-9]* lost\)\{0,1\}, \([0-9]*\) skipped.*/\2/p' "$tmp/sig.err")
lost=$(sed -n 's/.*lost events (rings full): //p' "$tmp/sig.err")
if expect_eq skipped "$st" 0 "status" &&
	expect_eq skipped "$(cat "$tmp/sig.out")" "$(cat "$tmp/plain")" "output" &&
	expect_eq skipped "$(cat "$tmp/sig.count")" "@events[tick]: $ev" "--count" &&
	expect_eq skipped "$((ev + sk + lost))" "$(cat "$tmp/calls")" \
		"events $ev + skipped $sk + lost $lost, against the calls made" &&
	expect_eq skipped "$([ "$sk" -gt 0 ] && echo yes)" yes "hits skipped ($sk)"; then
	pass skipped
fi
exit $failed
