# SPDX-License-Identifier: MIT
# tests/real: a deterministic zstd workload, run by sh: zstd (and the files it
# writes) in directory $1. Compresses input.txt numbered four ways and the
# workloads of tests/real/work (about 200 KiB) at levels 1, 3 and 19, with two worker threads and long-distance matching,
# trains a dictionary and compresses with it, decompresses, tests and lists;
# prints checksums; zstd's own messages go to stderr; exits 3.
set -e
z=/usr/bin/zstd
work=$(cd "$(dirname "$0")" && pwd)
in=$work/input.txt
cd "$1"
for i in 1 2 3 4; do
	nl -ba -v $((i * 1000)) "$in"
	cat "$work"/workload.*
done >data
awk '{ print > ("sample." int((NR - 1) / 10)) }' "$in"
$z -q -1 -c data >l1.zst
$z -q -3 -T2 -c data >l3.zst
$z -q -19 --long=20 -c data >l19.zst
$z -q --train sample.* -o dict --maxdict=1024
$z -q -D dict -c sample.7 >s7.zst
for f in l1 l3 l19; do
	echo "$f $(wc -c <$f.zst) $($z -q -d -c $f.zst | cksum)"
done
echo "dict $(cksum <dict) $($z -q -D dict -d -c s7.zst | cksum)"
$z -q -t l1.zst l3.zst l19.zst && echo "test ok"
$z -l l19.zst | tail -n 1
$z -q -d -c l3.zst | cmp - data && echo "round trip ok"
$z -q -d no-such-file.zst 2>&1 >/dev/null | sed "s|$PWD|DIR|" >&2 || true
echo END
exit 3
