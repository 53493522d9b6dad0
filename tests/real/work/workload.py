# SPDX-License-Identifier: MIT
# tests/real: a deterministic Python 3.11 workload (json, re, struct,
# collections, itertools, functools, decimal, fractions, dataclasses,
# generators, exceptions, hashlib, zlib, unicodedata, big integers, a thread,
# asyncio); one line to stderr; exits 3.
import asyncio
import collections
import dataclasses
import decimal
import fractions
import functools
import hashlib
import itertools
import json
import math
import re
import struct
import sys
import threading
import unicodedata
import zlib

words = "the quick brown fox jumps over the lazy dog".split() * 11
c = collections.Counter(words)
print(sorted(c.items()), c.most_common(1))
print(json.dumps({"b": [1, 2.5, None, True], "a": {"x": "y\u00e9"}}, sort_keys=True))
print(json.loads('{"k": [1, 2, {"z": -3.25e2}]}'))
m = re.findall(r"(\w+)=(\d+)", "alpha=1; beta=22; gamma=333")
print(m, re.sub(r"\d+", lambda g: str(int(g.group()) * 2), "a1 b22 c333"))
print(re.match(r"(?P<y>\d{4})-(?P<m>\d\d)", "2026-04-19").groupdict())
packed = struct.pack("<IhQd4s", 0xDEADBEEF, -2, 2**40, 2.5, b"abcd")
print(len(packed), struct.unpack("<IhQd4s", packed))
print(list(itertools.islice(itertools.permutations("abcd", 2), 7)))
print(list(itertools.accumulate(range(10), lambda a, b: a * 2 + b)))
print(functools.reduce(lambda a, b: a * b, range(1, 25)))


@functools.lru_cache(maxsize=None)
def fib(n):
    return n if n < 2 else fib(n - 1) + fib(n - 2)


print(fib(150), pow(3, 1000, 10**9 + 7), 2**200 // 3**50, math.isqrt(10**40 + 12345))
decimal.getcontext().prec = 40
print(decimal.Decimal(1) / decimal.Decimal(7), fractions.Fraction(3, 7) + fractions.Fraction(1, 3))
print(f"{math.pi:.12f} {math.e:10.4e} {1e300 * 1e10} {math.fsum([0.1] * 10)} {-7 // 2} {-7 % 3}")


@dataclasses.dataclass(order=True)
class Point:
    x: int
    y: int = 0

    def norm2(self):
        return self.x * self.x + self.y * self.y


pts = sorted(Point(i * 7 % 11, i * 3 % 5) for i in range(12))
print(pts[:3], max(p.norm2() for p in pts), dataclasses.asdict(pts[-1]))


class Tree:
    __slots__ = ("v", "kids")

    def __init__(self, v, kids=()):
        self.v, self.kids = v, list(kids)

    def walk(self):
        yield self.v
        for k in self.kids:
            yield from k.walk()


t = Tree(1, [Tree(2, [Tree(4)]), Tree(3, [Tree(5), Tree(6, [Tree(7)])])])
print(list(t.walk()), sum(t.walk()))
try:
    {}["missing"]
except KeyError as e:
    print("KeyError", e)
try:
    raise ValueError("inner") from ZeroDivisionError("cause")
except ValueError as e:
    print("chained", e, repr(e.__cause__))
print(hashlib.sha256(b"uprobes" * 100).hexdigest(), hashlib.md5(b"x").hexdigest())
data = b"".join(struct.pack("<I", (i * 2654435761) % 2**32) for i in range(2000))
z = zlib.compress(data, 9)
print(len(data), len(z), zlib.crc32(z), zlib.decompress(z) == data)
s = "Cr\u00e8me Br\u00fbl\u00e9e \u00c5ngstr\u00f6m \ufb01"
print(unicodedata.normalize("NFKD", s).encode("ascii", "ignore"), s.upper(), s.casefold())
print(unicodedata.name("\u00e9"), [unicodedata.category(ch) for ch in "a1 ."])

result = []


def worker(n):
    result.append(sum(i * i for i in range(n)))


th = threading.Thread(target=worker, args=(100000,))
th.start()
th.join()
print("thread", result)


async def produce(q, n):
    for i in range(n):
        await q.put(i * i)
    await q.put(None)


async def consume(q):
    total = 0
    while (v := await q.get()) is not None:
        total += v
    return total


async def main():
    q = asyncio.Queue(maxsize=3)
    _, total = await asyncio.gather(produce(q, 50), consume(q))
    return total


print("asyncio", asyncio.run(main()))
print("bytes", bytes(range(10)).hex(), bytearray(b"abc") * 2, memoryview(b"xyz")[1:].tobytes())
print("sorted", sorted(["pear", "fig", "apple", "kiwi"], key=lambda w: (len(w), w)))
sys.stderr.write("python workload: a line on stderr\n")
print("END")
sys.exit(3)
