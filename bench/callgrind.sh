#!/bin/sh
# SPDX-License-Identifier: MIT
# Instructions per hit of each probe path, counted by callgrind: a figure
# without timing noise, and where in the path they go. Runs "bench_probe -c
# CALLS" and "bench_ret -c CALLS" under valgrind; each dumps callgrind's counts
# after each row's loop of calls (bench_probe: native, optimized with an empty
# handler, with the two-argument handler, with xsavec; bench_ret: native,
# entry only, entry + return, entry + return with two arguments), so each dump
# holds exactly one row. No int3 row: valgrind's SIGTRAP for an int3 does not
# carry the trapping context the kernel gives, so the library cannot tell its
# breakpoints there and the default action ends the program.
# Usage: sh bench/callgrind.sh [bench_probe [bench_ret]] (CALLS=100000).
. "$(dirname "$0")/lib.sh"
probe_bin=${1:-$top/build/bench/bench_probe}
ret_bin=${2:-$top/build/bench/bench_ret}
calls=${CALLS:-100000}
if ! bench_has valgrind; then
	echo "callgrind: valgrind is not installed"
	exit 0
fi

# count BIN OUT: run BIN -c under callgrind into OUT.*, print its table.
count() {
	bin=$1
	out=$2
	# --smc-check=all: the library rewrites the text through /proc/self/mem,
	# which valgrind's cached translations would not otherwise notice.
	if ! valgrind --tool=callgrind --smc-check=all --callgrind-out-file="$out" \
		"$bin" -c "$calls" >"$out.log" 2>&1; then
		cat "$out.log"
		echo "callgrind: $(basename "$bin") failed under valgrind"
		return 1
	fi
	grep -v '^==' "$out.log"
	echo
	printf '%-32s %12s %12s\n' row insns/call insns/hit
	base=
	i=1
	while [ -f "$out.$i" ]; do
		f=$out.$i
		i=$((i + 1))
		key=$(sed -n 's/^desc: Trigger: Client Request: //p' "$f")
		total=$(sed -n 's/^summary: *//p' "$f")
		if [ -z "$key" ] || [ -z "$total" ]; then
			continue
		fi
		[ -z "$base" ] && base=$total
		percall=$(bench_calc %.1f "$total / $calls")
		perhit=$(bench_calc %.1f "($total - $base) / $calls")
		printf '%-32s %12s %12s\n' "$key" "$percall" "$perhit"
		[ "$total" = "$base" ] || line="$line ${key%_ns}_insns=$perhit"
		# Where a hit's instructions go (self counts per call; the
		# trampoline and its relocated copy are anonymous code: "???:0x...").
		case $key in native_ns) continue ;; esac
		# Lines without an object are code inlined from a header
		# (srcu.h, retpatch.h): "file:caller", shown as such.
		callgrind_annotate --auto=no --threshold=100 "$f" 2>/dev/null |
			awk -v n="$calls" '/ \[\?\?\?\]$|libuprobes\.so\]$|:bench_(ret_)?(target|[a-z_0-9]+_handler) |\) +src\/[^ ]+\.h:[a-z_0-9]+$/ {
				gsub(",", "", $1)
				fn = $(NF - 1)
				sub(/^.*:/, "", fn)
				if ($NF == "[???]")
					fn = "trampoline and relocated copy (anonymous code)"
				else if ($NF ~ /^src\//) {
					fn = $NF
					sub(/^.*\//, "", fn)
					split(fn, part, ":")
					fn = part[2] " (inlined from " part[1] ")"
				}
				if ($1 / n >= 0.5)
					printf "    %8.1f  %s\n", $1 / n, fn
			}'
	done
	echo
}

line=
st=0
count "$probe_bin" "$tmp/probe" || st=1
[ -x "$ret_bin" ] && { count "$ret_bin" "$tmp/ret" || st=1; }
echo "insns:$line"
exit $st
