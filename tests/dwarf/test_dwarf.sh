#!/bin/sh
# SPDX-License-Identifier: MIT
# DWARF fetch-args by name (uprobe trace 'p:PROG:FUNC req->hdr.len'), end to
# end. dwarf_target prints, before each call, the values it passes as a JSON
# object keyed by the fetch-arg names used here; every traced event's args
# must equal that object exactly. The same source is built with -g -O2
# (arguments in registers at entry, the 7th and 8th on the stack) and -g -O0
# (arguments stored in the frame by the prologue).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
suite=dwarf
. "$top/tests/lib.sh"
up() { "$top/build/uprobe" trace "$@"; }
o2="$top/build/tests/dwarf/dwarf_target"
o0="$top/build/tests/dwarf/dwarf_target_O0"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT


# compare NAME EVENT...: the events (json lines in $tmp/NAME.ev) of each
# EVENT equal, in order, the objects the program printed ($tmp/NAME.out).
compare() {
	name=$1
	shift
	python3 - "$tmp/$name.out" "$tmp/$name.ev" "$@" <<'PY'
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
for ev in sys.argv[3:]:
    w = [{k: v for k, v in o.items() if k != "event"} for o in want if o["event"] == ev]
    g = [e["args"] for e in got if e["event"] == ev]
    if len(w) != len(g) or not w:
        print(f"{ev}: {len(g)} events, want {len(w)}")
        sys.exit(1)
    for i, (a, b) in enumerate(zip(g, w)):
        if a != b:
            print(f"{ev} call {i}: got {a}, want {b}")
            sys.exit(1)
print("ok")
PY
}

# run NAME BINARY CALLS PROBE...: trace BINARY CALLS, events as JSON lines.
run() {
	name=$1 bin=$2 calls=$3
	shift 3
	up -q -f json -o "$tmp/$name.ev" "$@" -- "$bin" "$calls" >"$tmp/$name.out" \
		2>"$tmp/$name.err"
}

REQ='req->id kind=req->hdr.kind len=req->hdr.len n path req_path=req->path
next_id=req->next->id flags=req->flags prio=req->prio small=req->small tag=req->tag
big=req->big'
SCALARS='a b c d e f g h'
WALK='t->mid->leaf->val pad=t->mid->pad'

# Every argument at function entry: registers (-O2 keeps all of them there),
# two on the stack, a pointer chain, nested structs, bitfields, strings.
for opt in O2 O0; do
	bin=$o2
	[ $opt = O0 ] && bin=$o0
	# shellcheck disable=SC2086 # the fetch-args are words
	if run entry_$opt "$bin" 5 "p:$bin:parse_request $(echo $REQ | sed 's/req->id/id=req->id/')" \
		"p:$bin:scalars $SCALARS" "p:$bin:walk $WALK"; then
		got=$(compare entry_$opt parse_request scalars walk)
		[ "$got" = ok ] && pass entry_$opt || fail entry_$opt "$got"
	else
		fail entry_$opt "status $?: $(cat "$tmp/entry_$opt.err")"
	fi
done

# Default names: the expression with -> and . turned into _.
if run names "$o2" 1 "p:$o2:parse_request req->hdr.len n" "p:$o2:walk t->mid->leaf->val"; then
	got=$(python3 -c '
import json, sys
print(" ".join(sorted(k for l in open(sys.argv[1]) for k in json.loads(l)["args"])))' \
		"$tmp/names.ev")
	[ "$got" = "n req_hdr_len t_mid_leaf_val" ] && pass names ||
		fail names "arg names: $got"
else
	fail names "status $?: $(cat "$tmp/names.err")"
fi

# :TYPE overrides the variable's type: the low byte of req->id, 4 bytes of tag.
if run types "$o2" 2 "p:$o2:parse_request lo=req->id:u8 t=req->tag:u8[2] p=path:string"; then
	got=$(python3 -c '
import json, sys
print(" ".join(str(json.loads(l)["args"]) for l in open(sys.argv[1])))' "$tmp/types.ev")
	want="{'lo': 232, 't': [116, 48], 'p': '/srv/item0'} {'lo': 233, 't': [116, 49], 'p': '/srv/item1'}"
	[ "$got" = "$want" ] && pass types || fail types "got $got, want $want"
else
	fail types "status $?: $(cat "$tmp/types.err")"
fi

# -O0, inside the function after its prologue (the second row of the line
# table): the variables are read from the frame through the CFA.
start=$(nm "$o0" | awk '$3 == "parse_request" { print $1 }')
body=$(readelf --debug-dump=decodedline "$o0" | awk '$3 ~ /^0x/ { print $3 }' |
	python3 -c '
import sys
s = int(sys.argv[1], 16)
print(hex(min(a for a in (int(l, 16) for l in sys.stdin) if a > s) - s))' "$start")
if run body_O0 "$o0" 4 "p:$o0:parse_request+$body id=req->id len=req->hdr.len n path"; then
	got=$(python3 - "$tmp/body_O0.out" "$tmp/body_O0.ev" <<'PY'
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
want = [{k: o[k] for k in ("id", "len", "n", "path")} for o in want if o["event"] == "parse_request"]
got = [json.loads(l)["args"] for l in open(sys.argv[2])]
print("ok" if got == want and got else f"got {got}, want {want}")
PY
)
	[ "$got" = ok ] && pass body_O0 || fail body_O0 "at +$body: $got"
else
	fail body_O0 "status $?: $(cat "$tmp/body_O0.err")"
fi

# -O0, inside the prologue: the frame slot is not written yet, so refused.
up "p:$o0:parse_request+1 n" -- "$o0" 1 >/dev/null 2>"$tmp/pro.err"
st=$?
if [ $st = 2 ] && grep -q "fetch-arg 'n' (n) at parse_request+0x1: 'n' is not stored yet in the prologue" "$tmp/pro.err"; then
	pass prologue_O0
else
	fail prologue_O0 "status $st: $(cat "$tmp/pro.err")"
fi

# -O2, right after the call to strlen: req and n live on in callee-saved
# registers (their values still match); path's register was reused, and
# only its entry value is described, so it is refused.
call=$(objdump -d --no-show-raw-insn "$o2" | awk '
	/<parse_request>:/ { on = 1; next }
	on && /^$/ { exit }
	on && f == 0 && /call/ { f = 1; next }
	on && f == 1 { sub(":", "", $1); print $1; exit }')
after=$(printf '0x%x' $((0x$call - 0x$(nm "$o2" | awk '$3 == "parse_request" { print $1 }'))))
if run mid_O2 "$o2" 3 "p:$o2:parse_request+$after id=req->id n"; then
	got=$(python3 - "$tmp/mid_O2.out" "$tmp/mid_O2.ev" <<'PY'
import json, sys
want = [json.loads(l) for l in open(sys.argv[1])]
want = [{k: o[k] for k in ("id", "n")} for o in want if o["event"] == "parse_request"]
got = [json.loads(l)["args"] for l in open(sys.argv[2])]
print("ok" if got == want and got else f"got {got}, want {want}")
PY
)
	[ "$got" = ok ] && pass mid_O2 || fail mid_O2 "at +$after: $got"
else
	fail mid_O2 "status $?: $(cat "$tmp/mid_O2.err")"
fi
up "p:$o2:parse_request+$after path" -- "$o2" 1 >/dev/null 2>"$tmp/midp.err"
st=$?
if [ $st = 2 ] && grep -Eq "fetch-arg 'path' \(path\) at parse_request\+$after: (only its value at the function's entry is known here|'path' is optimized out at this address)" "$tmp/midp.err"; then
	pass mid_O2_refused
else
	fail mid_O2_refused "status $st: $(cat "$tmp/midp.err")"
fi

# refused NAME PROBE MESSAGE: exit status 2, the message on stderr.
refused() {
	up "$2" -- "$o2" 1 >/dev/null 2>"$tmp/$1.err"
	st=$?
	if [ $st = 2 ] && grep -qF -- "$3" "$tmp/$1.err"; then
		pass "$1"
	else
		fail "$1" "status $st: $(cat "$tmp/$1.err")"
	fi
}

refused unknown "p:$o2:parse_request nope" \
	"fetch-arg 'nope' (nope) at parse_request: no variable 'nope' here; in scope: req, n, path, sink"
refused no_member "p:$o2:parse_request req->hdr.nope" \
	"fetch-arg 'req_hdr_nope' (req->hdr.nope) at parse_request: struct hdr has no member 'nope'; members: kind, len"
refused not_pointer "p:$o2:parse_request n->x" \
	"fetch-arg 'n_x' (n->x) at parse_request: 'n' is not a pointer (it is int); use '.' for a member"
refused dot_on_pointer "p:$o2:parse_request req.id" \
	"'req' is a pointer; use '->' for a member"
refused struct_whole "p:$o2:parse_request req->hdr" \
	"'req->hdr' is struct hdr: name a member with -> or ., or give a :TYPE"
refused retprobe "r:$o2:parse_request n" \
	"DWARF variables are not available on a return probe"
refused bad_expr "p:$o2:parse_request req->" \
	"Invalid DWARF expression (NAME, NAME->MEMBER, NAME.MEMBER)"
refused no_debug "p:/bin/true:0x1000 x" \
	"/bin/true has no debug info"
refused short_name "p:libc:malloc bytes" \
	"DWARF fetch-args need the file's path ('libc' is not a file here)"

exit $failed
