# SPDX-License-Identifier: MIT
# For tests/usdt/test_usdt.sh, under python3.11 traced at its own SDT markers
# (import__find__load__start, gc__start): reports what the markers must have
# seen, from the interpreter's own books.
#   before NAME   a module loaded before this script's imports (sys.modules)
#   new NAME      a module its imports loaded (sys.modules diff), sorted
#   gen G N       collections of generation G since startup (gc.get_stats())
# and leaves with os._exit(), so that no collection follows the counts.
import gc
import os
import sys

before = set(sys.modules)
import json, csv, fractions, colorsys, textwrap, difflib, graphlib, shlex  # noqa: E401,F401

new = sorted(set(sys.modules) - before)
gc.disable()
for _ in range(3):
    gc.collect(0)
for _ in range(4):
    gc.collect(1)
for _ in range(2):
    gc.collect(2)
out = [f"before {m}" for m in sorted(before)] + [f"new {m}" for m in new]
stats = gc.get_stats()
out += [f"gen {g} {stats[g]['collections']}" for g in range(3)]
sys.stdout.write("\n".join(out) + "\n")
sys.stdout.flush()
os._exit(0)
