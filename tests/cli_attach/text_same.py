#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""text_same.py PID FILE...: exit 0 when every executable mapping of each
FILE in process PID holds exactly the file's bytes (no probe left behind);
otherwise print the first differing address and byte and exit 1."""
import sys


def mappings(pid, path):
    with open(f"/proc/{pid}/maps") as f:
        for line in f:
            parts = line.split(maxsplit=5)
            if len(parts) == 6 and parts[5].strip() == path and "x" in parts[1]:
                start, end = (int(x, 16) for x in parts[0].split("-"))
                yield start, end, int(parts[2], 16)


def main():
    pid, files = int(sys.argv[1]), sys.argv[2:]
    bad = 0
    with open(f"/proc/{pid}/mem", "rb") as mem:
        for path in files:
            with open(path, "rb") as f:
                data = f.read()
            seen = 0
            for start, end, off in mappings(pid, path):
                seen += 1
                n = min(end - start, len(data) - off)
                mem.seek(start)
                live = mem.read(n)
                if live != data[off:off + n]:
                    i = next(k for k in range(n) if live[k] != data[off + k])
                    print(f"{path}: 0x{start + i:x} (file offset 0x{off + i:x}) holds "
                          f"0x{live[i]:02x}, the file 0x{data[off + i]:02x}")
                    bad = 1
            if not seen:
                print(f"{path}: not mapped executable in {pid}")
                bad = 1
    return bad


if __name__ == "__main__":
    sys.exit(main())
