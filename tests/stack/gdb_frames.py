# SPDX-License-Identifier: MIT
# gdb -batch ... -ex 'source gdb_frames.py': the physical frames of the stopped
# thread, innermost first, one line each: "MODULE FILE_OFFSET NAME" (MODULE the
# mapped file's base name). gdb's inlined frames and the tail-call frames it
# rebuilds from DWARF call sites are not frames on the stack: left out.
import gdb


def mappings():
    out = gdb.execute("info proc mappings", to_string=True)
    maps = []
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 5 and f[0].startswith("0x"):
            try:
                maps.append((int(f[0], 16), int(f[1], 16), int(f[3], 16),
                             f[5] if len(f) > 5 else "?"))
            except ValueError:
                pass
    return maps


def where(maps, pc):
    for start, end, off, path in maps:
        if start <= pc < end:
            return path.split("/")[-1], pc - start + off
    return "?", pc


maps = mappings()
frame = gdb.newest_frame()
while frame is not None:
    if frame.type() not in (gdb.INLINE_FRAME, gdb.TAILCALL_FRAME):
        module, off = where(maps, frame.pc())
        print("FRAME %s 0x%x %s" % (module, off, frame.name() or "?"))
    frame = frame.older()
