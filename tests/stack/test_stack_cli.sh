#!/bin/sh
# SPDX-License-Identifier: MIT
# uprobe trace --stack end to end (stack_cli_target.c says what each scenario
# does). Every traced run's output and status equal the untraced run's; counts
# are exact, derived from the command's arguments.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=stack_cli
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
tgt="$top/build/tests/stack/stack_cli_target"
src="$top/tests/stack/stack_cli_target.c"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export UPROBE_CACHE_DIR="$tmp/cache"

# Identical stacks from 4 threads: one folded line, one bpftrace key, counted
# as the plain count of the same probe counts.
if same_run threads_folded -q -f folded -o "$tmp/threads.folded" "p:$tgt:cli_hot" \
	-- "$tgt" threads 4 2500 &&
	same_run threads_count -q --count -o "$tmp/threads.count" "p:$tgt:cli_hot" \
		-- "$tgt" threads 4 2500 &&
	same_run threads_stacks -q --stack --count -o "$tmp/threads.stacks" "p:$tgt:cli_hot" \
		-- "$tgt" threads 4 2500; then
	expect_eq threads "$(cat "$tmp/threads.folded")" \
		"clone3;start_thread;cli_thread;cli_work;cli_hot 10000" "folded stacks" &&
		expect_eq threads "$(cat "$tmp/threads.count")" "@events[cli_hot]: 10000" "count" &&
		expect_eq threads "$(grep -c '^@\[$' "$tmp/threads.stacks")" 1 "distinct stacks" &&
		expect_eq threads "$(sed -n 's/^\]: //p' "$tmp/threads.stacks")" 10000 "stack count" &&
		expect_eq threads "$(sed -n '/^@\[$/,/^\]/p' "$tmp/threads.stacks" | sed 's/+[0-9]*$//' |
			tr '\n' ' ')" "@[     cli_hot     cli_work     cli_thread     start_thread     clone3 ]: 10000 " \
			"the stack, as bpftrace prints a ustack key" &&
		pass threads
fi

# A corrupt stack: the walk stops at the frame that lies, the program runs on.
if same_run corrupt -q -f json --stack -o "$tmp/corrupt.json" "p:$tgt:cli_leaf" \
	-- "$tgt" corrupt; then
	got=$(python3 -c '
import json, sys
for l in open(sys.argv[1]):
    print(" ".join(f["func"] or "?" for f in json.loads(l)["args"]["ustack"]))' "$tmp/corrupt.json")
	expect_eq corrupt "$got" "cli_leaf corrupt_nocfi
cli_leaf corrupt_cfi" "stacks cut short" && pass corrupt
fi

# Perfetto: the stack in the event's args, each frame's bpftrace text.
if same_run perfetto -q -f perfetto --stack -o "$tmp/corrupt.pf" "p:$tgt:cli_leaf" \
	-- "$tgt" corrupt; then
	got=$(python3 -c '
import json, sys
ev = [e for e in json.load(open(sys.argv[1]))["traceEvents"] if e["ph"] == "i"]
print("|".join(" ".join(f.split("+")[0] for f in e["args"]["ustack"]) for e in ev))' "$tmp/corrupt.pf")
	expect_eq perfetto "$got" "cli_leaf corrupt_nocfi|cli_leaf corrupt_cfi" "stacks in args" &&
		pass perfetto
fi

# A stripped copy: its functions are named fn_<hex> by their FDE, as uprobe list names them.
strip -s -o "$tmp/stripped" "$tgt"
fn() { printf 'fn_%x' "0x$(nm "$tgt" | sed -n "s/^\([0-9a-f]*\) [tT] $1\$/\1/p")"; }
if same_run stripped -q -f folded -o "$tmp/stripped.folded" "p:$tmp/stripped:$(fn cli_hot)" \
	-- "$tmp/stripped" threads 2 20; then
	expect_eq stripped "$(cat "$tmp/stripped.folded")" \
		"clone3;start_thread;$(fn cli_thread);$(fn cli_work);$(fn cli_hot) 40" "folded stacks" &&
		pass stripped
fi

# -v: source lines, and the call inlined between cli_leaf and cli_outer.
call=$(grep -n 'int r = cli_leaf(x \* 5);' "$src" | cut -d: -f1)
outer=$(grep -n 'int r = cli_inlined(x) + 1;' "$src" | cut -d: -f1)
if same_run inline -q -v --stack --count -o "$tmp/inline.out" "p:$tgt:cli_leaf" \
	-- "$tgt" inline; then
	expect_eq inline "$(sed -n '/^@\[$/,/main+/p' "$tmp/inline.out" |
		sed 's|(.*/stack_cli_target.c:|(|; s/^ *//; s/^cli_outer[^+]*+[0-9]*/cli_outer/' |
		grep -v '^main\|^@')" "cli_leaf+0 ($(grep -n '^__attribute__((noinline)) int cli_leaf' "$src" |
		cut -d: -f1 | xargs expr 2 +))
cli_inlined ($call) [inlined]
cli_outer ($outer)" "frames with lines" && pass inline
fi

# Folded stacks feed flamegraph.pl unchanged: "name;name;... COUNT", no empty
# name; two probes, stacks sharing a prefix. Then the SVG drawn from them.
if same_run folded -q -f folded -o "$tmp/two.folded" "p:$tgt:cli_hot" "p:$tgt:cli_work" \
	-- "$tgt" threads 4 100 &&
	same_run flamegraph -q -f flamegraph -o "$tmp/two.svg" "p:$tgt:cli_hot" "p:$tgt:cli_work" \
		-- "$tgt" threads 4 100; then
	got=$(python3 -c '
import re, sys
total = 0
for line in open(sys.argv[1]).read().split("\n")[:-1]:
    m = re.fullmatch(r"(.*) (\d+)", line)   # flamegraph.pl: /^(.*)\s+?(\d+(?:\.\d*)?)$/
    if not m or any(not n or n != n.strip() or ";" in n for n in m.group(1).split(";")):
        sys.exit("bad line: %r" % line)
    total += int(m.group(2))
print(total)' "$tmp/two.folded")
	expect_eq folded "$got" 404 "samples in all" &&
		expect_eq folded "$(cut -d' ' -f1 "$tmp/two.folded" | tr '\n' ' ')" \
			"clone3;start_thread;cli_thread;cli_work clone3;start_thread;cli_thread;cli_work;cli_hot " \
			"stacks" && pass folded
	if ! command -v xmllint >/dev/null; then
		skip svg_xml "xmllint is not installed (libxml2-utils)"
	elif xmllint --noout "$tmp/two.svg" 2>"$tmp/xmllint.err"; then
		pass svg_xml
	else
		fail svg_xml "xmllint: $(head -3 "$tmp/xmllint.err")"
	fi
	# Widths: count * scale; children within their parent; counts as folded.
	got=$(python3 -c '
import sys, xml.etree.ElementTree as ET
ns = "{http://www.w3.org/2000/svg}"
svg = ET.parse(sys.argv[1]).getroot()
total, xpad, width = int(svg.get("data-total")), float(svg.get("data-xpad")), float(svg.get("data-width"))
scale = (width - 2 * xpad) / total
fr = []
for g in svg.iter(ns + "g"):
    if g.get("class") != "f":
        continue
    r = g.find(ns + "rect")
    s, n, d = int(g.get("data-s")), int(g.get("data-n")), int(g.get("data-d"))
    if abs(float(r.get("width")) - n * scale) > 0.01 or abs(float(r.get("x")) - (xpad + s * scale)) > 0.01:
        sys.exit("frame %s: x %s width %s for s=%d n=%d" % (g.find(ns + "title").text, r.get("x"), r.get("width"), s, n))
    fr.append((s, n, d, g.find(ns + "title").text.split(" (")[0]))
for s, n, d, name in fr:
    kids = sum(k[1] for k in fr if k[2] == d + 1 and s <= k[0] and k[0] + k[1] <= s + n)
    if kids > n:
        sys.exit("%s: children %d > %d" % (name, kids, n))
print(total, " ".join("%s:%d" % (f[3], f[1]) for f in fr))' "$tmp/two.svg")
	expect_eq svg_widths "$got" \
		"404 all:404 clone3:404 start_thread:404 cli_thread:404 cli_work:404 cli_hot:400" \
		"frames" && pass svg_widths
fi

# The SVG in a real browser: frames drawn, its search and zoom scripts run
# without an error. Skipped without chromium (Debian's; scripts/deps.sh installs it).
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
	skip svg_browser "chromium is not installed"
elif [ -f "$tmp/two.svg" ]; then
	b() { "$browser" --headless=new --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$tmp/chromium" --enable-logging=stderr --v=0 "$@"; }
	b --window-size=1200,300 --screenshot="$tmp/two.png" "file://$tmp/two.svg" \
		>/dev/null 2>"$tmp/shot.err"
	b --dump-dom "file://$tmp/two.svg#search=cli_hot&zoom=4" >"$tmp/dom.xml" 2>"$tmp/dom.err"
	# Warm pixels (the frames' colours): a drawn graph has thousands.
	warm=$(python3 -c '
import struct, sys, zlib
data = open(sys.argv[1], "rb").read()
if data[:8] != b"\x89PNG\r\n\x1a\n":
    sys.exit("no PNG")
pos, idat, hdr = 8, b"", None
while pos < len(data):
    n, kind = struct.unpack(">I4s", data[pos:pos + 8])
    body = data[pos + 8:pos + 8 + n]
    if kind == b"IHDR": hdr = struct.unpack(">IIBBBBB", body)
    if kind == b"IDAT": idat += body
    pos += 12 + n
w, h, depth, ctype = hdr[0], hdr[1], hdr[2], hdr[3]
bpp = {2: 3, 6: 4}[ctype]
raw, stride, prev, warm = zlib.decompress(idat), w * bpp, bytearray(w * bpp), 0
for y in range(h):
    f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
    for i in range(stride):
        a = line[i - bpp] if i >= bpp else 0
        b, c = prev[i], prev[i - bpp] if i >= bpp else 0
        if f == 1: line[i] = (line[i] + a) & 255
        elif f == 2: line[i] = (line[i] + b) & 255
        elif f == 3: line[i] = (line[i] + (a + b) // 2) & 255
        elif f == 4:
            p = a + b - c; pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
    prev = line
    for x in range(w):
        r, g, bl = line[x * bpp:x * bpp + 3]
        warm += r >= 200 and bl <= 60 and g <= 235
print("many" if warm > 2000 else warm)' "$tmp/two.png" 2>&1)
	expect_eq svg_browser "$warm" many "warm pixels in the screenshot" &&
		expect_grep svg_browser "$tmp/dom.xml" 'data-matched="1:99.0"' "search result" &&
		expect_grep svg_browser "$tmp/dom.xml" 'data-zoomed="cli_work"' "zoom" &&
		if grep -i 'uncaught\|:ERROR:CONSOLE' "$tmp/dom.err" "$tmp/shot.err"; then
			fail svg_browser "the page's script raised an error"
		else
			pass svg_browser
		fi
fi

# JIT code: a frame in an anonymous executable mapping is "[unknown] 0x..."
# with the mapping's name, and the walk goes on through its frame pointer.
mkfifo "$tmp/in" "$tmp/out"
"$tgt" jit <"$tmp/in" >"$tmp/out" &
pid=$!
exec 3>"$tmp/in"
read -r _ jit <"$tmp/out"
# Kernels without CONFIG_ANON_VMA_NAME leave the mapping nameless.
named=$(grep -c '\[anon:jit\]' "/proc/$pid/maps")
# A busy machine can keep the attach from finding the thread at a point free of
# libc's locks within its 5 s: uprobe refuses then ("try again"), and so do we, thrice.
for try in 1 2 3; do
	up -q -p "$pid" -d 1 --stack=4 --count -o "$tmp/jit.out" "p:$tgt:cli_leaf" 2>"$tmp/jit.err" &&
		break
	grep -q 'try again$' "$tmp/jit.err" || break
done
exec 3>&-
wait "$pid"
want="[unknown] ADDR ([anon:jit])"
[ "$named" = 1 ] || want="[unknown] ADDR"
expect_eq jit "$(sed -n '/^@\[$/,/^\]/p' "$tmp/jit.out" | sed -n 3p | sed 's/^ *//; s/ 0x[0-9a-f]*/ ADDR/')" \
	"$want" "the JIT frame" &&
	expect_eq jit "$(sed -n '/^@\[$/,/^\]/p' "$tmp/jit.out" | sed -n '3s/.*\(0x[0-9a-f]*\).*/\1/p' |
		xargs -I{} python3 -c 'print(0 < {} - '"$jit"' < 32)')" True "its address, in the JIT code" &&
	expect_eq jit "$(sed -n '/^@\[$/,/^\]/p' "$tmp/jit.out" | sed -n 4p | sed 's/^ *//; s/+.*//')" \
		main "the frame below it" && pass jit

# Bad --stack values and $ustack forms: refused, naming the token.
for v in 0 128 x; do
	up --stack=$v "p:$tgt:cli_leaf" -- "$tgt" inline >/dev/null 2>"$tmp/err"
	st=$?
	expect_eq "bad_stack_$v" "$st $(cat "$tmp/err")" \
		"2 uprobe: --stack=$v: expected 1 to 127 frames" "status and message" && pass "bad_stack_$v"
done
up "p:$tgt:cli_leaf s=\$ustack:u64" -- "$tgt" inline >/dev/null 2>"$tmp/err"
expect_eq ustack_type "$? $(head -1 "$tmp/err")" "2 uprobe: bad probe: \$ustack has no type" \
	"status and message" && pass ustack_type
up "p:$tgt:cli_leaf \$ustack0" -- "$tgt" inline >/dev/null 2>"$tmp/err"
expect_eq ustack_num "$? $(head -1 "$tmp/err")" "2 uprobe: bad probe: \$ustackN takes 1 to 127 frames" \
	"status and message" && pass ustack_num
exit $failed
