#!/bin/sh
# SPDX-License-Identifier: MIT
# More than 1,024 probes into a running process (issue 18: "redis-server with
# all 3,538 functions probed count-only through uprobe trace -p: more than
# 1,024 probes are refused"): a generated program with 3,000 functions, every
# one probed through one glob with --count in -p mode, then each called
# exactly twice once the tracer says it traces. Every count must be exact, and
# the program must run to its end (its sum) as it does untraced.
# memo_bounded: 200 functions named one by one, launched three times on one
# cache: the name and analysis memos (sym/symcache.c nm-*, core/jump_memo.c
# an-*) the first runs stored are opened at most 64 times each in the third
# (the symbols and the decoder answer the rest; each memo was looked up twice
# per probe, at 8 system calls, making a bulk attach 1.7x as long).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=cli_attach
. "$top/tests/lib.sh"
up="$top/build/uprobe"
tmp=$(mktemp -d)
bg=""
trap 'for p in $bg; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
tgt="$tmp/many"
. "$top/tests/cli_attach/traced.sh"

# f_00000 .. f_02999; main says "ready", waits for SIGUSR1 (blocked until
# sigsuspend: none is lost), calls each function argv[1] times and exits.
python3 - "$tmp/many.c" <<'PY'
import sys
n = 3000
with open(sys.argv[1], "w") as f:
    f.write("#include <signal.h>\n#include <stdio.h>\n#include <stdlib.h>\n")
    for i in range(n):
        f.write(f"__attribute__((noinline)) long f_{i:05d}(long x) "
                f"{{ __asm__ volatile(\"\" ::: \"memory\"); return x + {i}; }}\n")
    f.write("static long (*const fns[])(long) = {\n")
    f.write(",\n".join(f"f_{i:05d}" for i in range(n)))
    f.write("};\nstatic volatile sig_atomic_t go;\n"
            "static void on_usr1(int sig) { (void)sig; go = 1; }\n"
            "int main(int argc, char **argv)\n{\n"
            "\tlong s = 0, r = argc > 1 ? atol(argv[1]) : 1;\n"
            "\tsigset_t usr1, old;\n"
            "\tsigemptyset(&usr1);\n\tsigaddset(&usr1, SIGUSR1);\n"
            "\tsigprocmask(SIG_BLOCK, &usr1, &old);\n"
            "\tsignal(SIGUSR1, on_usr1);\n"
            "\tif (argc > 2)\n\t\tgo = 1; /* launched: no wait */\n"
            "\tprintf(\"ready\\n\");\n\tfflush(stdout);\n"
            "\twhile (!go)\n\t\tsigsuspend(&old);\n"
            "\tfor (long k = 0; k < r; k++)\n"
            "\t\tfor (unsigned i = 0; i < sizeof(fns) / sizeof(fns[0]); i++)\n"
            "\t\t\ts += fns[i](k);\n\tprintf(\"sum %ld\\n\", s);\n\treturn 0;\n}\n")
PY
cc -O0 -o "$tgt" "$tmp/many.c"

# The untraced run's sum, for the traced run's to equal.
"$tgt" 2 >"$tmp/plain.out" &
plain=$!
wait_lines "$tmp/plain.out" '^ready$' 1 $plain
kill -USR1 $plain
wait $plain

"$tgt" 2 >"$tmp/many.stdout" &
pid=$!
bg="$bg $pid"
wait_lines "$tmp/many.stdout" '^ready$' 1 $pid
trace_traced "$tmp/many.count" "$tmp/many.err" --count -p $pid "p:$tgt:f_*"
wait $pid
tst=$?
expect_eq many_attach "$st" 0 "tracer status ($(grep -v ' events, ' "$tmp/many.err" | head -c 400))" &&
	expect_eq many_attach "$tst" 0 "target status" &&
	expect_eq many_attach "$(cat "$tmp/many.stdout")" "ready
$(sed -n 's/^sum/sum/p' "$tmp/plain.out")" "the program's output, as untraced" &&
	expect_eq many_attach "$(grep -c '^@events\[f_[0-9]*\]: ' "$tmp/many.count")" 3000 \
		"functions counted" &&
	expect_eq many_attach "$(sed -n 's/^@events\[f_[0-9]*\]: //p' "$tmp/many.count" | sort |
		uniq -c | sed 's/^ *//')" "3000 2" "calls per function (2 each)" &&
	expect_eq many_attach "$(grep -c '^  uprobes/f_[0-9]*: 2 events, 0 skipped' \
		"$tmp/many.err")" 3000 "probes in the summary, 2 events each" &&
	expect_grep many_attach "$tmp/many.err" "exited with status 0" "summary" &&
	pass many_attach

# memo_bounded (see the top).
i=0
while [ $i -lt 200 ]; do
	printf 'p:%s:f_%05d\n' "$tgt" $i
	i=$((i + 1))
done >"$tmp/names"
if command -v strace >/dev/null 2>&1; then
	for r in 1 2 3; do
		# shellcheck disable=SC2046 # one argument per line
		UPROBE_CACHE_DIR=$tmp/cache strace -f -qq -e trace=openat -o "$tmp/memo$r.strace" \
			"$up" trace --count -q -o "$tmp/memo$r.count" $(cat "$tmp/names") \
			-- "$tgt" 1 now >"$tmp/memo$r.out" 2>"$tmp/memo$r.err"
		mst=$?
	done
	nm=$(grep -c '/nm-[^"]*\.unm"' "$tmp/memo3.strace")
	an=$(grep -c '/an-[^"]*\.uan"' "$tmp/memo3.strace")
	stored=$(ls "$tmp/cache" | grep -c '^nm-')
	expect_eq memo_bounded "$mst" 0 "tracer status ($(head -c 300 "$tmp/memo3.err"))" &&
		expect_eq memo_bounded "$(cat "$tmp/memo3.out")" "$("$tgt" 1 now)" \
			"the program's output, as untraced" &&
		expect_eq memo_bounded "$(sed -n 's/^@events\[f_[0-9]*\]: //p' "$tmp/memo3.count" |
			sort | uniq -c | sed 's/^ *//')" "200 1" "calls per function (1 each)" &&
		expect_eq memo_bounded "$([ "$stored" -gt 64 ] && echo more)" more \
			"name memos stored by the first two runs ($stored)" &&
		expect_eq memo_bounded "$([ "$nm" -ge 1 ] && [ "$nm" -le 64 ] && echo bounded)" \
			bounded "name memos opened in the third run ($nm)" &&
		expect_eq memo_bounded "$([ "$an" -ge 1 ] && [ "$an" -le 64 ] && echo bounded)" \
			bounded "analysis memos opened in the third run ($an)" &&
		pass memo_bounded
else
	skip memo_bounded "no strace"
fi
