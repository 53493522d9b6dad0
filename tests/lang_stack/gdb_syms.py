# SPDX-License-Identifier: MIT
# gdb -batch ... -ex 'source gdb_syms.py': the physical frames of the stopped
# thread, innermost first, as "FRAME NAME+OFFSET" (gdb's `info symbol` of
# each frame's pc: the function's start and the offset from it, as bpftrace
# prints a ustack frame), then "END". gdb's inlined and rebuilt tail-call
# frames are not frames on the stack: left out.
import re

import gdb

frame = gdb.newest_frame()
while frame is not None:
    if frame.type() not in (gdb.INLINE_FRAME, gdb.TAILCALL_FRAME):
        text = gdb.execute("info symbol 0x%x" % frame.pc(), to_string=True)
        m = re.match(r"(\S+)(?: \+ (\d+))? in section", text)
        print("FRAME %s+%s" % (m.group(1), m.group(2) or "0") if m else "FRAME ?")
    frame = frame.older()
print("END")
