#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Check the JSON outputs of test_trace_format with a real JSON parser.

  check_trace.py jsonl FILE     every line parses and equals the objects below
  check_trace.py perfetto FILE  one trace-event document whose B/E pairs match
                                per thread and nest once sorted by ts

The expected values are written here as Python values, independently of the
golden text in the C test. Exit status 0 when everything holds, else 1 with
the reason on stderr.
"""
import json
import sys

U64_MAX = 2**64 - 1

JSONL = [
    {"ts_ns": 5123456789, "pid": 1000, "tid": 1001, "cpu": 2, "comm": "prog",
     "group": "uprobes", "event": "ints", "type": "entry", "ip": "0x401136",
     "args": {"a": 255, "b": 65535, "c": 2**32 - 1, "d": U64_MAX, "e": -128, "f": -2,
              "g": -2**31, "h": -2**63, "i": "0xab", "j": "0x0", "k": "0xdeadbeef",
              "l": "0xffffffffffffffff", "bf": 5, "ch": "A"}},
    {"ts_ns": 5123456789, "pid": 1000, "tid": 1001, "cpu": 2, "comm": "prog",
     "group": "uprobes", "event": "vals", "type": "entry", "ip": "0x401136",
     "args": {"s": 'say "hi"\n\t\\\x01\x7f\u00e9\u00ff\r', "u": "/tmp/x", "e": "",
              "xs": ["0x1", "0xbeef", "0x0"], "ss": [-1, 0, 127, -128],
              "cs": ["a", "'", "\x00"], "sa": ["ab", ""], "fs": None, "fu": None,
              "fa": None, "big": [0, U64_MAX]},
     "faults": ["fs", "fu", "fa"]},
    {"ts_ns": 5000, "pid": 1000, "tid": 1000, "cpu": 0, "comm": "", "group": "grp",
     "event": "fn__return", "type": "return", "ip": "0x401200", "func": "0x401136",
     "entry_ts_ns": 1200, "latency_ns": 3800, "args": {"ret": -1}},
    {"ts_ns": 999, "pid": 1000, "tid": 1000, "cpu": 0, "comm": "", "group": "grp",
     "event": "fn__return", "type": "return", "ip": "0x401200", "func": "0x401136",
     "unwound": True, "args": {"ret": 0}},
    {"ts_ns": 100, "pid": 1000, "tid": 1000, "cpu": 0, "comm": "", "group": "grp",
     "event": "fn__return", "type": "return", "ip": "0x401200", "func": "0x401136",
     "entry_ts_ns": 200, "args": {"ret": 7}},
]


def fail(msg):
    sys.stderr.write("check_trace.py: %s\n" % msg)
    sys.exit(1)


def check_jsonl(path):
    with open(path, "rb") as f:
        raw = f.read()
    text = raw.decode("utf-8")  # must be valid UTF-8 whatever the payload held
    lines = text.split("\n")
    if lines[-1] != "":
        fail("output does not end with a newline")
    lines = lines[:-1]
    if len(lines) != len(JSONL):
        fail("%d lines, want %d" % (len(lines), len(JSONL)))
    for n, (line, want) in enumerate(zip(lines, JSONL)):
        got = json.loads(line)
        if got != want:
            fail("line %d:\n got  %r\n want %r" % (n, got, want))
        if list(got) != list(want):
            fail("line %d: key order %r, want %r" % (n, list(got), list(want)))


def ts_key(e):
    return e["ts"]


def check_slices(events):
    """B/E matched per thread and properly nested once sorted (stably) by ts."""
    durations = []
    by_tid = {}
    for e in events:
        if e["ph"] in ("B", "E", "i"):
            by_tid.setdefault((e["pid"], e["tid"]), []).append(e)
    for key, evs in by_tid.items():
        stack = []
        for e in sorted(evs, key=ts_key):
            if e["ph"] == "B":
                stack.append(e)
            elif e["ph"] == "E":
                if not stack:
                    fail("E without B on %r at %r" % (key, e["ts"]))
                b = stack.pop()
                if b["name"] != e["name"] or b["cat"] != e["cat"]:
                    fail("E %r closes B %r on %r" % (e["name"], b["name"], key))
                if e["ts"] < b["ts"]:
                    fail("E before its B on %r" % (key,))
                durations.append(round((e["ts"] - b["ts"]) * 1000))
        if stack:
            fail("unclosed B on %r" % (key,))
    return sorted(durations)


def check_perfetto(path):
    with open(path, "rb") as f:
        doc = json.loads(f.read().decode("utf-8"))
    if doc.get("displayTimeUnit") != "ns":
        fail("displayTimeUnit %r" % doc.get("displayTimeUnit"))
    events = doc["traceEvents"]
    phases = {}
    for e in events:
        phases[e["ph"]] = phases.get(e["ph"], 0) + 1
    if len(events) != 15 or phases != {"M": 5, "i": 4, "B": 3, "E": 3}:
        fail("events %d by phase %r, want 15: M 5, i 4, B 3, E 3" % (len(events), phases))
    # recursion: entries at 1.5, 2.0, 3.0 us, returns at 3.5, 4.0, 5.25 us
    if check_slices(events) != [500, 2000, 3750]:
        fail("slice durations %r ns, want [500, 2000, 3750]" % check_slices(events))
    threads, procs = {}, {}
    for e in events:
        if e["ph"] == "M" and e["name"] == "thread_name":
            threads[e["tid"]] = e["args"]["name"]
        if e["ph"] == "M" and e["name"] == "process_name":
            procs.setdefault(e["pid"], []).append(e["args"]["name"])
    if threads != {2000: "main", 2001: "worker2"}:
        fail("thread names %r" % threads)
    if procs != {2000: ["worker", "main"]}:
        fail("process names %r" % procs)
    for e in events:
        if e["ph"] == "i" and e["s"] != "t":
            fail("instant scope %r" % e["s"])
        if e["ph"] in ("i", "B") and not e["args"]:
            fail("no args on %r" % e)
    faulted = [e for e in events if e["ph"] == "i" and e["args"].get("n") == "(fault)"]
    unwound = [e for e in events if e["ph"] == "i" and e["args"].get("__probe_unwound")]
    if len(faulted) != 1 or faulted[0]["tid"] != 2002 or len(unwound) != 1:
        fail("faulted %r unwound %r" % (faulted, unwound))


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("jsonl", "perfetto"):
        fail("usage: check_trace.py jsonl|perfetto FILE")
    try:
        if sys.argv[1] == "jsonl":
            check_jsonl(sys.argv[2])
        else:
            check_perfetto(sys.argv[2])
    except (ValueError, KeyError, TypeError) as e:
        fail("%s: %r" % (type(e).__name__, e))
    return 0


if __name__ == "__main__":
    sys.exit(main())
