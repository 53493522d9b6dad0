#!/bin/bash
# SPDX-License-Identifier: MIT
# Every function of Debian's python3.11 probed (tests/real/real.sh) while it
# runs tests/real/work/workload.py (isolated mode, no bytecode written; its
# extension modules are loaded, not probed; one thread and asyncio).
prog=python
. "$(dirname "$0")/real.sh"
files=/usr/bin/python3.11
cmd=(/usr/bin/python3.11 -I -B "$here/work/workload.py")
want_status=3
must_call="$files:Py_InitializeFromConfig $files:Py_FinalizeEx $files:PyEval_EvalCode
	$files:_PyEval_EvalFrameDefault
	$files:PyObject_Malloc $files:PyThread_start_new_thread"
# SystemExit ends the program with exit() inside Py_RunMain.
must_enter="$files:Py_BytesMain $files:Py_RunMain"
real_main
